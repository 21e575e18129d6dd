"""The stack's parameters from the deploy options, validated before anything is sent to AWS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from labkit.config import MODEL_NAMES, REPO_ROOT
from labkit.errors import ConfigError

TEMPLATE_PATH = REPO_ROOT / "handlers" / "deploy" / "template.yaml"
DEFAULT_STACK_NAME = "loadlab"
STACK_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,24}$")  # it names buckets: lowercase, short
ARCHITECTURES = ("x86_64", "arm64")
MODEL_SOURCES = ("bundled", "s3", "efs")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)
RUNTIMES = ("onnxruntime", "opencv", "openvino")  # handlers.model_runtimes.RUNTIMES (MODEL_RUNTIME)
# the functions the input bucket may notify: config/localcloud.yaml's names, deployed as <stack>-<name>
S3_TRIGGERS = ("inference-s3", "inference-s3-forward", "inference-s3-chain")


@dataclass(frozen=True)
class DeployOptions:
    image_uri: str
    stack_name: str = DEFAULT_STACK_NAME
    memory_mb: int = 1024
    timeout_s: int = 30
    architecture: str = "x86_64"
    model_name: str = "mobilenetv2"
    model_source: str = "bundled"
    model_uri: str = ""  # s3://bucket/key.onnx with model_source s3
    runtime: str = "onnxruntime"
    s3_trigger: str = "inference-s3"
    efs_access_point_arn: str = ""
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    create_ec2: bool = False
    ec2_instance_type: str = "c5.large"
    ec2_workers: int = 2
    ec2_allowed_cidr: str = "0.0.0.0/0"
    log_retention_days: int = 14
    template_path: Path = TEMPLATE_PATH

    def validate(self) -> None:
        if not STACK_NAME_RE.match(self.stack_name):
            raise ConfigError(
                f"--stack-name {self.stack_name!r}: use 1-25 lowercase letters, digits or '-', "
                "starting with a letter (it names the S3 buckets)"
            )
        if not self.image_uri:
            raise ConfigError("--image-uri is required: build and push handlers/deploy/Dockerfile first (README)")
        if not 128 <= self.memory_mb <= 10240:
            raise ConfigError(f"--memory-mb {self.memory_mb}: Lambda allows 128..10240 MB")
        if not 1 <= self.timeout_s <= 900:
            raise ConfigError(f"--timeout-s {self.timeout_s}: Lambda allows 1..900 s")
        _one_of(self.architecture, ARCHITECTURES, "--architecture")
        _one_of(self.model_source, MODEL_SOURCES, "--model-source")
        if self.model_source == "bundled":
            _one_of(self.model_name, MODEL_NAMES, "--model")
        if self.model_source == "s3":
            s3_bucket_key(self.model_uri)
        if self.model_source == "efs" and not (
            self.efs_access_point_arn and self.subnet_ids and self.security_group_ids
        ):
            raise ConfigError("--model-source efs needs --efs-access-point-arn, --subnet-ids and --security-group-ids")
        self._validate_pipeline()
        if not 1 <= self.ec2_workers <= 64:
            raise ConfigError(f"--ec2-workers {self.ec2_workers}: expected 1..64")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(f"--log-retention-days {self.log_retention_days}: one of {LOG_RETENTION_DAYS}")
        if not self.template_path.is_file():
            raise ConfigError(f"{self.template_path}: template not found")

    def _validate_pipeline(self) -> None:
        """The runtime and the S3 trigger, and what each needs (the template's Rules say the same)."""
        _one_of(self.runtime, RUNTIMES, "--runtime")
        _one_of(self.s3_trigger, S3_TRIGGERS, "--s3-trigger")
        if self.runtime == "openvino" and self.architecture != "x86_64":
            raise ConfigError(
                "--runtime openvino needs --architecture x86_64: OpenVINO has no aarch64 wheels for the "
                "Lambda python:3.11 base image (Amazon Linux 2), so the arm64 image has no OpenVINO"
            )
        if self.s3_trigger == "inference-s3-forward" and not self.create_ec2:
            raise ConfigError(
                "--s3-trigger inference-s3-forward POSTs each upload to the EC2 server: add --ec2 "
                "(and keep --ec2-allowed-cidr open to Lambda's addresses)"
            )

    def parameters(self) -> dict[str, str]:
        """Every template parameter as CloudFormation wants it (strings)."""
        bucket, key = s3_bucket_key(self.model_uri) if self.model_source == "s3" else ("", "")
        return {
            "ImageUri": self.image_uri,
            "MemorySize": str(self.memory_mb),
            "Timeout": str(self.timeout_s),
            "Architecture": self.architecture,
            "ModelName": self.model_name,
            "ModelRuntime": self.runtime,
            "S3Trigger": self.s3_trigger,
            "ModelSource": self.model_source,
            "ModelS3Bucket": bucket,
            "ModelS3Key": key,
            "EfsAccessPointArn": self.efs_access_point_arn,
            "SubnetIds": ",".join(self.subnet_ids),
            "SecurityGroupIds": ",".join(self.security_group_ids),
            "CreateEc2": "true" if self.create_ec2 else "false",
            "Ec2InstanceType": self.ec2_instance_type,
            "Ec2Workers": str(self.ec2_workers),
            "Ec2AllowedCidr": self.ec2_allowed_cidr,
            "LogRetentionDays": str(self.log_retention_days),
        }


def s3_bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ConfigError(f"--model-uri {uri!r}: expected s3://bucket/key.onnx")
    return parsed.netloc, parsed.path.lstrip("/")


def _one_of(value: str, allowed: tuple[str, ...], option: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
