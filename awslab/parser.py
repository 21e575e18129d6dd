"""The argument parser of `python -m awslab` (one sub-command per task, each with --help)."""

from __future__ import annotations

import argparse
from pathlib import Path

from awslab import cli
from awslab.params import ARCHITECTURES, DEFAULT_STACK_NAME, MODEL_SOURCES, RUNTIMES, S3_TRIGGERS

DESCRIPTION = """\
Deploy the inference handlers to AWS and run the published experiments against them.

Image first (no Docker engine is needed by this tool; it deploys an image you pushed):
  docker build -f handlers/deploy/Dockerfile -t loadlab-inference .      (repo root as context)
  push it to ECR (README), then:
  python -m awslab deploy --image-uri <account>.dkr.ecr.<region>.amazonaws.com/loadlab:latest --yes
deploy writes .cache/aws-endpoints.json (+ .env); the lambda / ec2 targets of `python -m locustfiles`
and the experiments below read it. Every experiment writes runs/<run-id>/ and, unless --no-collect, then
collects the REPORT lines from CloudWatch and joins them to the records (`collect` does it again later).
Billable actions need --yes. Credentials: AWS_PROFILE or the usual AWS_* variables.
Every experiment also runs offline with --target local: it starts the local cloud's function platform on
loopback (Lambda's API there too, so memory changes and forced cold starts start new environments) and
joins the platform's own REPORT lines instead of CloudWatch's; no AWS, credentials or --yes needed.
"""


def _aws_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("AWS")
    g.add_argument("--region", default="", help="AWS region (default: the endpoints file's, else us-east-1)")
    g.add_argument("--profile", default="", help="AWS profile name (default: AWS_PROFILE / the default chain)")
    g.add_argument("--endpoint-url", default="", help="send every call here (a moto server in tests)")
    g.add_argument(
        "--endpoints",
        type=Path,
        default=None,
        help="endpoints file (default .cache/aws-endpoints.json or $LOADLAB_AWS_ENDPOINTS)",
    )
    g.add_argument("--yes", action="store_true", help="confirm: this creates billable resources / sends traffic")


def _wait_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait-delay-s", type=int, default=10, help="stack waiter poll interval (default 10)")
    p.add_argument("--wait-max-attempts", type=int, default=180, help="stack waiter polls at most (default 180)")


def _deploy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="create or update the stack, write the endpoints file",
        description="Create or update the CloudFormation stack of handlers/deploy/template.yaml "
        "with an already pushed image, wait until done, and write the endpoints file.",
    )
    p.add_argument("--image-uri", required=True, help="the pushed image (built from handlers/deploy/Dockerfile)")
    p.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="lowercase, names buckets (default loadlab)")
    p.add_argument("--memory-mb", type=int, default=1024)
    p.add_argument("--timeout-s", type=int, default=30)
    p.add_argument("--architecture", choices=ARCHITECTURES, default="x86_64", help="must match the image")
    p.add_argument("--model", default="mobilenetv2", help="built-in model name (or a label for s3/efs models)")
    p.add_argument("--model-source", choices=MODEL_SOURCES, default="bundled")
    p.add_argument("--model-uri", default="", help="s3://bucket/key.onnx with --model-source s3")
    p.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="onnxruntime",
        help="engine serving the model in every inference function and the EC2 server (openvino: x86_64 only)",
    )
    p.add_argument(
        "--s3-trigger",
        choices=S3_TRIGGERS,
        default="inference-s3",
        help="function the input bucket's uploads invoke: infer, forward to the EC2 server (needs --ec2), "
        "or chain to a second function",
    )
    p.add_argument("--efs-access-point-arn", default="", help="with --model-source efs")
    p.add_argument("--subnet-ids", default="", help="comma-separated, with --model-source efs")
    p.add_argument("--security-group-ids", default="", help="comma-separated, with --model-source efs")
    p.add_argument("--ec2", action="store_true", help="also create the EC2 server (billed per hour)")
    p.add_argument("--ec2-instance-type", default="c5.large", help="c6g.large etc. for arm64")
    p.add_argument("--ec2-workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--ec2-allowed-cidr", default="0.0.0.0/0", help="who may reach the server (port 80)")
    p.add_argument("--log-retention-days", type=int, default=14)
    p.add_argument("--api", choices=("http", "rest"), default="http", help="which API the lambda target uses")
    _wait_options(p)
    _aws_options(p)
    p.set_defaults(func=cli.cmd_deploy)


def _destroy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("destroy", help="empty the stack's buckets and delete the stack")
    p.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    _wait_options(p)
    _aws_options(p)
    p.set_defaults(func=cli.cmd_destroy)


def _endpoints(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("endpoints", help="show the deployed targets (or --env: export lines for a shell)")
    p.add_argument("--env", action="store_true", help='print `export LOADLAB_*_URL=...` (eval "$(...)")')
    p.add_argument("--endpoints", type=Path, default=None, help="endpoints file (default .cache/aws-endpoints.json)")
    p.set_defaults(func=cli.cmd_endpoints)


def _experiment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        default="lambda",
        help="target of config/targets.yaml (default lambda), or `local`: start the local cloud's function "
        "platform on loopback and run against it (real cold starts; no AWS, no --yes needed)",
    )
    p.add_argument("--local-model", default="", help="with --target local: built-in model (default: localcloud.yaml)")
    p.add_argument("--local-keepalive-s", type=float, default=None, help="with --target local: idle environment expiry")
    p.add_argument("--config-dir", type=Path, default=None, help="config directory (default config/)")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where run dirs are made (default runs)")
    p.add_argument("--images", default="", help="folder of JPEG/PNG payloads (default: a generated image)")
    p.add_argument("--update-delay-s", type=int, default=2, help="function update waiter poll interval")
    p.add_argument("--update-max-attempts", type=int, default=150, help="function update waiter polls at most")
    _collect_options(p)
    p.add_argument("--no-collect", dest="collect", action="store_false", help="do not collect REPORT lines after")
    _aws_options(p)


def _collect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--collect-wait-s", type=float, default=30.0, help="wait for log ingestion first (default 30)")
    p.add_argument("--margin-s", type=float, default=120.0, help="widen the run's time range by this (default 120)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="the functions' log format")


def _experiments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory-sweep", help="per memory setting: cold, warm and (optional) Locust load phases")
    p.add_argument("--memory-mb", default="512,1024,2048,3008", help="comma-separated settings")
    p.add_argument("--cold", type=int, default=3, help="cold requests per setting (default 3)")
    p.add_argument("--warm", type=int, default=20, help="warm requests per setting (default 20)")
    p.add_argument("--load-rate-rps", type=float, default=5.0, help="load phase rate (default 5)")
    p.add_argument("--load-duration-s", type=float, default=0.0, help="load phase length; 0 = no load phase")
    _experiment_options(p)
    p.set_defaults(func=cli.cmd_memory_sweep)
    p = sub.add_parser("cold-starts", help="forced cold starts (a configuration change before each request)")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--warm", type=int, default=2, help="warm requests after each cold one (default 2)")
    _experiment_options(p)
    p.set_defaults(func=cli.cmd_cold_starts)
    p = sub.add_parser("probe", help="periodic cold-start probes: one request after each idle gap")
    p.add_argument("--idle-s", default="60,300,600,900,1200", help="comma-separated idle gaps in seconds")
    p.add_argument("--repeats", type=int, default=1)
    _experiment_options(p)
    p.set_defaults(func=cli.cmd_probe)
    p = sub.add_parser("burst", help="burst concurrency: N simultaneous requests, cold then warm")
    p.add_argument("--sizes", default="1,2,4,8,16,32", help="comma-separated burst sizes")
    p.add_argument("--max-burst", type=int, default=100, help="safety cap on a burst size (default 100)")
    p.add_argument("--no-cold", action="store_true", help="skip the cold bursts")
    p.add_argument("--no-warm", action="store_true", help="skip the warm bursts")
    _experiment_options(p)
    p.set_defaults(func=cli.cmd_burst)


def _collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="REPORT lines + result objects of a run, joined to its records")
    p.add_argument("run_dir", nargs="?", type=Path, help="the run directory")
    p.add_argument("--latest", action="store_true", help="the latest run under --runs")
    p.add_argument("--runs", type=Path, default=Path("runs"))
    _collect_options(p)
    _aws_options(p)
    p.set_defaults(func=cli.cmd_collect, collect_wait_s=0.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m awslab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_deploy, _destroy, _endpoints, _experiments, _collect):
        add(sub)
    return parser
