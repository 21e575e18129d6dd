"""The deployment files: the template lints clean and wires what the issue asks; the Dockerfile, the EC2
script and the template reference files and handlers that exist."""

from __future__ import annotations

import importlib
import re
import shlex

import pytest
from aws_testkit import DEPLOY_DIR, TEMPLATE, Resolver, load_template

from awslab.params import RUNTIMES, S3_TRIGGERS
from handlers.model_runtimes import PACKAGES
from handlers.model_runtimes import RUNTIMES as HANDLER_RUNTIMES
from handlers.models.zoo import BUILTIN_MODELS
from labkit.config import REPO_ROOT, load_config

BODY_MARKER = "# --- start-server body ---\n"
# logical name -> (ImageConfig.Command, the name after "<stack>-", as in config/localcloud.yaml)
FUNCTIONS = {
    "ApiFunction": ("handlers.lambda_api.handler", "inference"),
    "S3Function": ("handlers.lambda_s3.handler", "inference-s3"),
    "S3ForwardFunction": ("handlers.lambda_s3_forward.handler", "inference-s3-forward"),
    "S3ChainFunction": ("handlers.lambda_s3_chain.handler", "inference-s3-chain"),
    "ChainTargetFunction": ("handlers.lambda_api.handler", "inference-chain-target"),
}
INFERENCE_FUNCTIONS = ("ApiFunction", "S3Function", "ChainTargetFunction")  # they load a model
# S3Trigger value -> the function the input bucket notifies
TRIGGERS = {"inference-s3": "S3Function", "inference-s3-forward": "S3ForwardFunction",
            "inference-s3-chain": "S3ChainFunction"}  # fmt: skip


def test_template_passes_cfn_lint(tmp_path) -> None:
    api = pytest.importorskip("cfnlint.api", reason="cfn-lint is not installed: .venv/bin/pip install cfn-lint")
    assert [str(m) for m in api.lint_file(TEMPLATE)] == []
    broken = tmp_path / "broken.yaml"  # the control: the same linting does flag a bad property
    broken.write_text(
        TEMPLATE.read_text().replace("      PathPart: predict\n", "      PathPart: predict\n      Bogus: 1\n")
    )
    assert any("E3002" in str(m) for m in api.lint_file(broken))


def test_template_parameters_cover_memory_timeout_architecture_and_model() -> None:
    params = load_template()["Parameters"]
    assert params["MemorySize"]["MinValue"] == 128 and params["MemorySize"]["MaxValue"] == 10240
    assert params["Timeout"]["MaxValue"] == 900
    assert params["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert set(params["ModelName"]["AllowedValues"]) == set(BUILTIN_MODELS)
    assert params["ModelSource"]["AllowedValues"] == ["bundled", "s3", "efs"]


def _handler_exists(dotted: str) -> bool:
    module, function = dotted.rsplit(".", 1)
    return callable(getattr(importlib.import_module(module), function, None))


def test_functions_are_images_running_the_real_handlers(smallcnn_model_env: None) -> None:
    resources = load_template()["Resources"]
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions == set(FUNCTIONS)
    for name, (command, suffix) in FUNCTIONS.items():
        props = resources[name]["Properties"]
        assert props["PackageType"] == "Image"
        assert props["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
        assert props["Architectures"] == [{"Ref": "Architecture"}]
        assert props["MemorySize"] == {"Ref": "MemorySize"}
        assert props["Timeout"] == {"Ref": "Timeout"}
        assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        assert props["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
        assert props["ImageConfig"]["Command"] == [command]
        assert _handler_exists(command), command
    for name in ("S3Function", "S3ForwardFunction", "S3ChainFunction"):
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}


def test_the_chained_functions_names_match_the_local_clouds() -> None:
    local = {fn.name: fn.handler for fn in load_config().localcloud.functions}
    for name, (command, suffix) in FUNCTIONS.items():
        if name != "ApiFunction":  # deployed as <stack>-inference; locally inference-api
            assert local[suffix] == command, name
    assert set(S3_TRIGGERS) <= set(local)


def test_every_inference_function_and_the_server_get_the_runtime() -> None:
    template = load_template()
    parameter = template["Parameters"]["ModelRuntime"]
    assert parameter["AllowedValues"] == list(RUNTIMES) == list(HANDLER_RUNTIMES)
    assert parameter["Default"] == "onnxruntime"
    resources = template["Resources"]
    for name in FUNCTIONS:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        if name in INFERENCE_FUNCTIONS:
            assert env["MODEL_RUNTIME"] == {"Ref": "ModelRuntime"}, name
            assert {"MODEL_NAME", "MODEL_SOURCE", "MODEL_CACHE_DIR"} <= set(env), name
        else:
            assert not any(key.startswith("MODEL_") for key in env), name  # they load no model
    user_data = resources["Ec2Instance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert 'MODEL_RUNTIME="${ModelRuntime}"' in user_data.split(BODY_MARKER, 1)[0]
    assert "for name in MODEL_NAME MODEL_SOURCE MODEL_URI MODEL_RUNTIME; do" in user_data
    # the model env of the chain's second function is the API function's, plus the same EFS wiring
    api, target = (resources[n]["Properties"] for n in ("ApiFunction", "ChainTargetFunction"))
    assert api["Environment"] == target["Environment"]
    assert (api["FileSystemConfigs"], api["VpcConfig"]) == (target["FileSystemConfigs"], target["VpcConfig"])


def test_forward_reaches_the_server_and_chain_may_invoke_its_target() -> None:
    template = load_template()
    resources = template["Resources"]
    forward = resources["S3ForwardFunction"]["Properties"]["Environment"]["Variables"]
    ec2_url = template["Outputs"]["Ec2Url"]["Value"]  # the same URL the `ec2` target uses
    assert forward["SERVER_URL"] == {"Fn::If": ["CreateEc2Server", ec2_url, {"Ref": "AWS::NoValue"}]}
    chain = resources["S3ChainFunction"]["Properties"]["Environment"]["Variables"]
    assert chain["CHAIN_FUNCTION"] == {"Ref": "ChainTargetFunction"}
    policies = {p["PolicyName"]: p["PolicyDocument"] for p in resources["FunctionRole"]["Properties"]["Policies"]}
    [statement] = policies["chain"]["Statement"]
    assert statement["Action"] == ["lambda:InvokeFunction"]
    target_name = resources["ChainTargetFunction"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert statement["Resource"]["Fn::Sub"].endswith(f":function:{target_name}")
    assert "Fn::GetAtt" not in str(resources["FunctionRole"])  # no cycle: the role depends on no function


def test_rules_refuse_what_cannot_work() -> None:
    rules = load_template()["Rules"]
    openvino, forward = rules["OpenVinoNeedsX86"], rules["ForwardNeedsEc2"]
    assert openvino["RuleCondition"] == {"Fn::Equals": [{"Ref": "ModelRuntime"}, "openvino"]}
    assert openvino["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "Architecture"}, "x86_64"]}
    assert forward["RuleCondition"] == {"Fn::Equals": [{"Ref": "S3Trigger"}, "inference-s3-forward"]}
    assert forward["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "CreateEc2"}, "true"]}


def test_apis_route_predict_to_the_api_function_and_uploads_trigger_the_s3_function() -> None:
    resources = load_template()["Resources"]
    assert resources["HttpApi"]["Properties"]["ProtocolType"] == "HTTP"
    integration = resources["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["ApiFunction", "Arn"]}
    assert integration["PayloadFormatVersion"] == "2.0"
    routes = {r["Properties"]["RouteKey"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == {"POST /predict", "GET /predict"}
    method = resources["RestApiPredictMethod"]["Properties"]
    assert (
        method["Integration"]["Type"] == "AWS_PROXY" and "${ApiFunction.Arn}" in method["Integration"]["Uri"]["Fn::Sub"]
    )
    assert resources["RestApiPredictResource"]["Properties"]["PathPart"] == "predict"
    notification = Resolver(load_template()).resolve(resources["InputBucket"]["Properties"])
    assert notification["NotificationConfiguration"]["LambdaConfigurations"] == [
        {"Event": "s3:ObjectCreated:*", "Function": {"Fn::GetAtt": ["S3Function", "Arn"]}}
    ]  # by default
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert {p["Principal"] for p in permissions} == {"s3.amazonaws.com", "apigateway.amazonaws.com"}


@pytest.mark.parametrize(("trigger", "function"), sorted(TRIGGERS.items()))
def test_s3_trigger_picks_the_function_the_uploads_invoke(trigger: str, function: str) -> None:
    template = load_template()
    assert template["Parameters"]["S3Trigger"]["AllowedValues"] == list(S3_TRIGGERS) == list(TRIGGERS)
    resolver = Resolver(template, S3Trigger=trigger)
    bucket = template["Resources"]["InputBucket"]
    [notification] = resolver.resolve(bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"])
    assert notification == {"Event": "s3:ObjectCreated:*", "Function": {"Fn::GetAtt": [function, "Arn"]}}
    assert resolver.resolve(template["Outputs"]["S3TriggerFunctionName"]["Value"]) == {"Ref": function}
    # every candidate may be invoked by S3 from the input bucket, and the bucket waits for all of them
    s3_permissions = {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "s3.amazonaws.com"
    }
    assert {p["FunctionName"]["Ref"] for p in s3_permissions.values()} == set(TRIGGERS.values())
    assert set(bucket["DependsOn"]) == set(s3_permissions)
    for props in s3_permissions.values():
        assert props["SourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-input-${AWS::AccountId}"}
        assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_outputs_name_every_function_and_log_group() -> None:
    outputs = load_template()["Outputs"]
    for name in FUNCTIONS:
        assert outputs[f"{name}Name"]["Value"] == {"Ref": name}
        assert outputs[f"{name}LogGroupName"]["Value"] == {"Ref": f"{name}LogGroup"}
    assert outputs["ModelRuntime"]["Value"] == {"Ref": "ModelRuntime"}


def test_log_groups_have_retention_and_match_the_function_names() -> None:
    resources = load_template()["Resources"]
    for function in FUNCTIONS:
        group = f"{function}LogGroup"
        props = resources[group]["Properties"]
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        name = resources[function]["Properties"]["FunctionName"]["Fn::Sub"]
        assert props["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{name}"
        assert resources[function]["DependsOn"] == group


def test_sam_metadata_and_dockerfile_reference_existing_files() -> None:
    resources = load_template()["Resources"]
    for name in FUNCTIONS:
        meta = resources[name]["Metadata"]
        context = (TEMPLATE.parent / meta["DockerContext"]).resolve()
        assert context == REPO_ROOT
        assert (context / meta["Dockerfile"]).is_file()
    dockerfile = (DEPLOY_DIR / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=public\.ecr\.aws/lambda/python:3\.11$", dockerfile, re.M)
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.M):
        for source in shlex.split(line)[:-1]:
            assert (REPO_ROOT / source).exists(), source
    cmd = re.search(r'^CMD \["([^"]+)"\]$', dockerfile, re.M)
    assert cmd and cmd.group(1) == "handlers.lambda_api.handler"
    models = re.search(r'^ARG MODEL_NAMES="([^"]+)"$', dockerfile, re.M)
    assert models and set(models.group(1).split()) <= set(BUILTIN_MODELS)
    assert "python -m handlers.models build ${MODEL_NAMES} --cache-dir /opt/models" in dockerfile
    assert "!handlers/" in (DEPLOY_DIR / "Dockerfile.dockerignore").read_text().splitlines()


def test_requirements_pin_what_the_handlers_import() -> None:
    runtime = (DEPLOY_DIR / "requirements.txt").read_text()
    for package in ("onnxruntime==", "numpy", "pillow", "psutil", "gunicorn"):
        assert re.search(rf"^{re.escape(package)}", runtime, re.M), package
    for package in PACKAGES.values():  # every runtime of the runtime axis, pinned
        assert re.search(rf"^{re.escape(package)}==", runtime, re.M), package
    assert re.search(r"^onnx[>=<]", (DEPLOY_DIR / "requirements-build.txt").read_text(), re.M)


def test_requirements_install_on_the_lambda_base_image() -> None:
    """What pip resolved for python:3.11 on Amazon Linux 2 (glibc 2.26), written down so it stays true."""
    runtime = (DEPLOY_DIR / "requirements.txt").read_text()
    assert re.search(r"^numpy>=1\.26,<2$", runtime, re.M)  # onnxruntime 1.16.3 is built against numpy 1.x
    opencv = re.search(r"^opencv-python-headless==(\d+)\.(\d+)\.", runtime, re.M)
    assert opencv and (int(opencv[1]), int(opencv[2])) <= (4, 11)  # 4.12+ require numpy>=2 on Python 3.9+
    # openvino's aarch64 wheels need glibc 2.31: x86_64 only, and the arm64 deploy refuses the runtime
    assert re.search(r'^openvino==[\d.]+; platform_machine == "x86_64"$', runtime, re.M)


def test_ec2_user_data_is_the_start_script_body() -> None:
    script = (DEPLOY_DIR / "ec2" / "start-server.sh").read_text()
    body = script.split(BODY_MARKER, 1)[1]
    instance = load_template()["Resources"]["Ec2Instance"]
    user_data = instance["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert user_data.split(BODY_MARKER, 1)[1] == body
    assert "${" not in body  # Fn::Sub would substitute it
    assert "handlers.server:app --workers" in body
    assert instance["Condition"] == "CreateEc2Server"
