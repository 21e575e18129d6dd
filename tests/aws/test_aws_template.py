"""The deployment files: the template lints clean and wires what the issue asks; the Dockerfile, the EC2
script and the template reference files and handlers that exist."""

from __future__ import annotations

import importlib
import re
import shlex

import pytest
from aws_testkit import DEPLOY_DIR, TEMPLATE, load_template

from handlers.models.zoo import BUILTIN_MODELS
from labkit.config import REPO_ROOT

BODY_MARKER = "# --- start-server body ---\n"


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
    commands = {}
    for name in ("ApiFunction", "S3Function"):
        props = resources[name]["Properties"]
        assert props["PackageType"] == "Image"
        assert props["Code"] == {"ImageUri": {"Ref": "ImageUri"}}
        assert props["Architectures"] == [{"Ref": "Architecture"}]
        assert props["MemorySize"] == {"Ref": "MemorySize"}
        commands[name] = props["ImageConfig"]["Command"][0]
        assert _handler_exists(commands[name])
    assert commands == {"ApiFunction": "handlers.lambda_api.handler", "S3Function": "handlers.lambda_s3.handler"}
    s3_env = resources["S3Function"]["Properties"]["Environment"]["Variables"]
    assert s3_env["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}


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
    notification = resources["InputBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"][0]
    assert notification == {"Event": "s3:ObjectCreated:*", "Function": {"Fn::GetAtt": ["S3Function", "Arn"]}}
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert {p["Principal"] for p in permissions} == {"s3.amazonaws.com", "apigateway.amazonaws.com"}


def test_log_groups_have_retention_and_match_the_function_names() -> None:
    resources = load_template()["Resources"]
    for group, function in (("ApiFunctionLogGroup", "ApiFunction"), ("S3FunctionLogGroup", "S3Function")):
        props = resources[group]["Properties"]
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        name = resources[function]["Properties"]["FunctionName"]["Fn::Sub"]
        assert props["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{name}"
        assert resources[function]["DependsOn"] == group


def test_sam_metadata_and_dockerfile_reference_existing_files() -> None:
    resources = load_template()["Resources"]
    for name in ("ApiFunction", "S3Function"):
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
    assert re.search(r"^onnx[>=<]", (DEPLOY_DIR / "requirements-build.txt").read_text(), re.M)


def test_ec2_user_data_is_the_start_script_body() -> None:
    script = (DEPLOY_DIR / "ec2" / "start-server.sh").read_text()
    body = script.split(BODY_MARKER, 1)[1]
    instance = load_template()["Resources"]["Ec2Instance"]
    user_data = instance["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    assert user_data.split(BODY_MARKER, 1)[1] == body
    assert "${" not in body  # Fn::Sub would substitute it
    assert "handlers.server:app --workers" in body
    assert instance["Condition"] == "CreateEc2Server"
