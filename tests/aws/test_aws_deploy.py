"""Deploy / destroy against moto (in-process and the moto server through the CLI), and the path from the
stack outputs to the `lambda` target the load commands use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from aws_testkit import IMAGE_URI, TEMPLATE
from botocore.stub import Stubber
from moto import mock_aws

from awslab.endpoints import Endpoints, apply_endpoints, read_endpoints, write_endpoints
from awslab.params import DeployOptions
from awslab.parser import build_parser
from awslab.stack import WaitBound, deploy_stack, destroy_stack, stack_outputs
from labkit.config import REPO_ROOT, load_config
from labkit.errors import ConfigError, TargetError
from locustfiles.targets import remote_url

FAST = WaitBound(delay_s=1, max_attempts=30)
FUNCTIONS = ("inference", "inference-s3", "inference-s3-forward", "inference-s3-chain", "inference-chain-target")
MODEL_LESS = ("inference-s3-forward", "inference-s3-chain")  # the pipelines' first hops load no model
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto lacks v2 APIs, Stage


def _deploy(cf, **overrides) -> str:
    options = DeployOptions(image_uri=IMAGE_URI, **overrides)
    options.validate()
    return deploy_stack(cf, options.stack_name, TEMPLATE.read_text(), options.parameters(), FAST, lambda _m: None)


@mock_aws
def test_deploy_creates_functions_buckets_log_groups_and_rest_api(aws_env: None) -> None:
    cf = boto3.client("cloudformation", region_name="us-east-1")
    assert _deploy(cf, memory_mb=2048, model_name="resnet50") == "created"
    lam = boto3.client("lambda", region_name="us-east-1")
    api = lam.get_function_configuration(FunctionName="loadlab-inference")
    assert api["MemorySize"] == 2048 and api["Timeout"] == 30
    assert api["Environment"]["Variables"]["MODEL_NAME"] == "resnet50"
    assert api["Environment"]["Variables"]["MODEL_SOURCE"] == "builtin"
    s3_fn = lam.get_function_configuration(FunctionName="loadlab-inference-s3")
    assert s3_fn["Environment"]["Variables"]["OUTPUT_BUCKET"] == "loadlab-output-123456789012"
    buckets = {b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]}
    assert buckets == {"loadlab-input-123456789012", "loadlab-output-123456789012"}
    groups = boto3.client("logs", region_name="us-east-1").describe_log_groups()["logGroups"]
    assert {(g["logGroupName"], g.get("retentionInDays")) for g in groups} == {
        (f"/aws/lambda/loadlab-{name}", 14) for name in FUNCTIONS
    }
    rest = boto3.client("apigateway", region_name="us-east-1").get_rest_apis()["items"]
    assert [r["name"] for r in rest] == ["loadlab-rest"]
    outputs = stack_outputs(cf, "loadlab")
    assert outputs["RestApiUrl"] == f"https://{rest[0]['id']}.execute-api.us-east-1.amazonaws.com/prod"
    assert outputs["ApiFunctionName"] == "loadlab-inference" and "Ec2Url" not in outputs


@mock_aws
def test_update_unchanged_and_rollback_complete(aws_env: None) -> None:
    cf = boto3.client("cloudformation", region_name="us-east-1")
    _deploy(cf)
    assert _deploy(cf, memory_mb=512) == "updated"
    lam = boto3.client("lambda", region_name="us-east-1")
    assert lam.get_function_configuration(FunctionName="loadlab-inference")["MemorySize"] == 512
    stubbed = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(stubbed) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": "loadlab", "StackStatus": "ROLLBACK_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z"}
                ]
            },
        )
        with pytest.raises(TargetError, match="ROLLBACK_COMPLETE.*destroy"):
            _deploy(stubbed)


def test_deploy_call_sequence_and_parameters(aws_env: None) -> None:
    """The calls moto cannot vouch for (HTTP API resources): exactly what CloudFormation is sent."""
    cf = boto3.client("cloudformation", region_name="us-east-1")
    options = DeployOptions(image_uri=IMAGE_URI, architecture="arm64", create_ec2=True, ec2_workers=4)
    with Stubber(cf) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id loadlab does not exist")
        expected = {
            "StackName": "loadlab",
            "TemplateBody": TEMPLATE.read_text(),
            "OnFailure": "ROLLBACK",
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(options.parameters().items())],
            "Capabilities": ["CAPABILITY_IAM"],
            "Tags": [{"Key": "project", "Value": "inference-loadlab"}],
        }
        stub.add_response(
            "create_stack", {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/loadlab/1"}, expected
        )
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {"StackName": "loadlab", "StackStatus": "CREATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z"}
                ]
            },
        )
        assert deploy_stack(cf, "loadlab", TEMPLATE.read_text(), options.parameters(), FAST, print) == "created"
        stub.assert_no_pending_responses()
    params = options.parameters()
    assert params["Architecture"] == "arm64" and params["CreateEc2"] == "true" and params["Ec2Workers"] == "4"
    assert params["EfsAccessPointArn"] == "" and params["SubnetIds"] == ""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stack_name": "LoadLab"}, "lowercase"),
        ({"memory_mb": 64}, "128..10240"),
        ({"model_source": "s3"}, "s3://"),
        ({"model_source": "efs"}, "efs needs"),
        ({"architecture": "sparc"}, "x86_64, arm64"),
        ({"runtime": "tensorflow"}, "--runtime 'tensorflow': expected one of onnxruntime, opencv, openvino"),
        ({"s3_trigger": "inference-api"}, "--s3-trigger 'inference-api': expected one of inference-s3, "),
        ({"runtime": "openvino", "architecture": "arm64"}, "openvino needs --architecture x86_64"),
        ({"s3_trigger": "inference-s3-forward"}, "inference-s3-forward POSTs each upload to the EC2 server: add --ec2"),
    ],
)
def test_deploy_options_are_checked_before_any_call(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DeployOptions(image_uri=IMAGE_URI, **overrides).validate()


def _function_env(lam, name: str) -> dict[str, str]:
    return lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]


@mock_aws
def test_deploy_creates_the_chained_pipelines(aws_env: None) -> None:
    cf = boto3.client("cloudformation", region_name="us-east-1")
    _deploy(cf, create_ec2=True, s3_trigger="inference-s3-forward", memory_mb=1536, timeout_s=60)
    lam = boto3.client("lambda", region_name="us-east-1")
    configs = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert set(configs) == {f"loadlab-{name}" for name in FUNCTIONS}
    handlers = {  # moto keeps no ImageConfig from CloudFormation: the description names the command
        name: config["Description"].split(",", 1)[0].split(" ", 1)[0] for name, config in configs.items()
    }
    assert handlers["loadlab-inference-s3-forward"] == "handlers.lambda_s3_forward.handler"
    assert handlers["loadlab-inference-s3-chain"] == "handlers.lambda_s3_chain.handler"
    assert handlers["loadlab-inference-chain-target"] == "handlers.lambda_api.handler"
    assert {(c["MemorySize"], c["Timeout"]) for c in configs.values()} == {(1536, 60)}
    outputs = stack_outputs(cf, "loadlab")
    forward = _function_env(lam, "loadlab-inference-s3-forward")
    assert forward["SERVER_URL"] == outputs["Ec2Url"] and forward["SERVER_URL"].startswith("http://ec2-")
    assert forward["OUTPUT_BUCKET"] == "loadlab-output-123456789012"
    chain = _function_env(lam, "loadlab-inference-s3-chain")
    assert chain["CHAIN_FUNCTION"] == "loadlab-inference-chain-target"
    assert chain["OUTPUT_BUCKET"] == "loadlab-output-123456789012"
    target = _function_env(lam, "loadlab-inference-chain-target")
    assert target == _function_env(lam, "loadlab-inference")  # the API function's model env
    assert outputs["S3TriggerFunctionName"] == "loadlab-inference-s3-forward"
    for name in ("inference-s3", *MODEL_LESS):  # S3 may invoke every candidate, from the input bucket only
        [statement] = json.loads(lam.get_policy(FunctionName=f"loadlab-{name}")["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::loadlab-input-123456789012"


@mock_aws
def test_s3_trigger_and_runtime_reach_the_stack_and_the_endpoints_file(aws_env: None, tmp_path: Path) -> None:
    cf = boto3.client("cloudformation", region_name="us-east-1")
    _deploy(cf, s3_trigger="inference-s3-chain", runtime="openvino")
    lam = boto3.client("lambda", region_name="us-east-1")
    for name in FUNCTIONS:
        env = _function_env(lam, f"loadlab-{name}")
        assert env.get("MODEL_RUNTIME") == (None if name in MODEL_LESS else "openvino"), name
    assert "SERVER_URL" not in _function_env(lam, "loadlab-inference-s3-forward")  # no EC2 server
    outputs = stack_outputs(cf, "loadlab")
    # the bucket's notification is the same Fn::If (moto does not apply it; test_aws_template resolves it)
    assert outputs["S3TriggerFunctionName"] == "loadlab-inference-s3-chain"
    endpoints = read_endpoints(write_endpoints(Endpoints.from_outputs("loadlab", "us-east-1", outputs, "http"),
                                               tmp_path / "aws-endpoints.json")).as_dict()  # fmt: skip
    assert endpoints["functions"]["s3_trigger"] == "loadlab-inference-s3-chain"
    assert endpoints["functions"]["s3"] == "loadlab-inference-s3"
    assert endpoints["function_names"] == {
        "inference-api": "loadlab-inference",
        **{name: f"loadlab-{name}" for name in FUNCTIONS if name != "inference"},
    }
    assert endpoints["log_groups"]["chain_target"] == "/aws/lambda/loadlab-inference-chain-target"
    assert endpoints["runtime"] == "openvino"
    _deploy(cf, s3_trigger="inference-s3", runtime="opencv")  # an update switches both in place
    assert stack_outputs(cf, "loadlab")["S3TriggerFunctionName"] == "loadlab-inference-s3"
    assert _function_env(lam, "loadlab-inference-chain-target")["MODEL_RUNTIME"] == "opencv"


def test_endpoints_of_a_stack_from_before_the_pipelines() -> None:
    outputs = {"ApiFunctionName": "old-inference", "S3FunctionName": "old-inference-s3"}
    endpoints = Endpoints.from_outputs("old", "us-east-1", outputs, "http").as_dict()
    assert endpoints["functions"]["s3_trigger"] == "old-inference-s3"
    assert endpoints["function_names"] == {"inference-api": "old-inference", "inference-s3": "old-inference-s3"}
    assert endpoints["functions"]["s3_chain"] == "" and endpoints["runtime"] == ""


def test_cli_runtime_and_s3_trigger_options(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["deploy", "--image-uri", IMAGE_URI]
    args = build_parser().parse_args([*base, "--runtime", "opencv", "--s3-trigger", "inference-s3-chain"])
    assert (args.runtime, args.s3_trigger) == ("opencv", "inference-s3-chain")
    defaults = build_parser().parse_args(base)
    assert (defaults.runtime, defaults.s3_trigger) == ("onnxruntime", "inference-s3")
    for option, value in (("--runtime", "tensorflow"), ("--s3-trigger", "inference-api")):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([*base, option, value])
        assert exit_info.value.code == 2
        assert f"argument {option}: invalid choice: '{value}'" in capsys.readouterr().err


@mock_aws
def test_destroy_empties_the_buckets_then_deletes(aws_env: None) -> None:
    cf, s3 = boto3.client("cloudformation", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    _deploy(cf)
    for i in range(3):
        s3.put_object(Bucket="loadlab-output-123456789012", Key=f"results/{i}.jpg.json", Body=b"{}")
    assert destroy_stack(cf, s3, "loadlab", FAST, lambda _m: None) is True
    assert s3.list_buckets()["Buckets"] == []
    assert destroy_stack(cf, s3, "loadlab", FAST, lambda _m: None) is False


@mock_aws
def test_endpoints_fill_the_lambda_target_of_the_config(aws_env: None, tmp_path: Path) -> None:
    cf = boto3.client("cloudformation", region_name="us-east-1")
    _deploy(cf)
    endpoints = Endpoints.from_outputs("loadlab", "us-east-1", stack_outputs(cf, "loadlab"), "http")
    path = write_endpoints(endpoints, tmp_path / "aws-endpoints.json")
    again = read_endpoints(path)
    assert again.lambda_url == endpoints.rest_api_url != ""  # moto leaves the HTTP API URL unresolved
    assert any("unresolved" in w for w in again.warnings())
    target = apply_endpoints(load_config(), again).target("lambda")
    assert remote_url(target) == endpoints.rest_api_url and target.function_name == "loadlab-inference"
    assert path.with_suffix(".env").read_text().splitlines()[1] == f"export LOADLAB_LAMBDA_URL={endpoints.rest_api_url}"


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awslab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def test_cli_deploy_then_lambda_target_then_destroy(moto_server: str, tmp_path: Path) -> None:
    """`python -m awslab deploy` against the moto server, then the load command's view of the lambda target."""
    endpoints_file = tmp_path / "aws-endpoints.json"
    env = {**os.environ, "LOADLAB_AWS_ENDPOINTS": str(endpoints_file)}
    refused = _cli(["deploy", "--image-uri", IMAGE_URI], env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deploy = ["deploy", "--image-uri", IMAGE_URI, "--endpoint-url", moto_server, "--wait-delay-s", "1", "--ec2"]
    done = _cli([*deploy, "--runtime", "opencv", "--s3-trigger", "inference-s3-forward"], env)
    assert done.returncode == 0, done.stderr
    data = json.loads(endpoints_file.read_text())
    assert data["runtime"] == "opencv" and data["functions"]["s3_trigger"] == "loadlab-inference-s3-forward"
    assert data["targets"]["lambda"]["function_name"] == "loadlab-inference"
    assert data["targets"]["ec2"]["url"].startswith("http://ec2-")
    shown = _cli(["endpoints"], env)
    assert shown.returncode == 0 and f"lambda\t{data['targets']['lambda']['url']}\tloadlab-inference" in shown.stdout
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in _cli(["endpoints", "--env"], env).stdout.splitlines()
    )
    os.environ.update(exports)  # what `source .cache/aws-endpoints.env` does; labkit reads url_env
    try:
        config = load_config()
        assert remote_url(config.target("lambda")) == data["targets"]["lambda"]["url"]
        assert remote_url(config.target("ec2")) == data["targets"]["ec2"]["url"]
    finally:
        for key in exports:
            os.environ.pop(key, None)
    gone = _cli(["destroy", "--endpoint-url", moto_server, "--wait-delay-s", "1"], env)
    assert gone.returncode == 0, gone.stderr
    assert not endpoints_file.exists()
