"""CloudFormation: create or update the lab's stack and wait for it, read its outputs, delete it.

Every wait is a botocore waiter with an explicit bound (delay x attempts); a failed or timed-out wait
reports the stack's latest failure events so the cause is on screen, not only in the console.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from awslab.aws import aws_errors, error_code, error_message
from labkit.errors import ConfigError, TargetError

MAX_TEMPLATE_BODY_BYTES = 51_200  # CloudFormation's TemplateBody limit (bigger needs TemplateURL)
NO_UPDATES = "No updates are to be performed"
CAPABILITIES = ["CAPABILITY_IAM"]
MAX_EMPTY_PAGES = 1000  # emptying a bucket: at most 1000 pages x 1000 versions
Progress = Callable[[str], None]


@dataclass(frozen=True)
class WaitBound:
    """How long a waiter may poll: `delay_s` between polls, at most `max_attempts` polls."""

    delay_s: int = 10
    max_attempts: int = 180  # 30 min at 10 s: a stack with an EC2 instance takes ~5 min

    def config(self) -> dict[str, int]:
        return {"Delay": self.delay_s, "MaxAttempts": self.max_attempts}


def describe_stack(cf: Any, name: str) -> dict[str, Any] | None:
    """The stack's description, or None when there is no such stack."""
    with aws_errors(f"describing stack {name}"):
        try:
            stacks = cf.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
                return None
            raise
    return stacks[0] if stacks else None


def failure_events(cf: Any, name: str, limit: int = 5) -> list[str]:
    """The latest "...FAILED" events of the stack, newest first (best effort: [] if unreadable)."""
    try:
        events = cf.describe_stack_events(StackName=name).get("StackEvents", [])
    except ClientError:
        return []
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("FAILED")]
    return [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatus')}: {e.get('ResourceStatusReason', '')}"
        for e in failed[:limit]
    ]


def _wait(cf: Any, waiter_name: str, name: str, bound: WaitBound, doing: str) -> None:
    try:
        with aws_errors(doing):
            cf.get_waiter(waiter_name).wait(StackName=name, WaiterConfig=bound.config())
    except WaiterError as exc:
        reasons = "\n  ".join(failure_events(cf, name)) or "(no failure events)"
        raise TargetError(f"{doing}: {exc}\n  latest failures:\n  {reasons}") from None


def _call_args(name: str, template_body: str, parameters: dict[str, str]) -> dict[str, Any]:
    if len(template_body.encode("utf-8")) > MAX_TEMPLATE_BODY_BYTES:
        raise ConfigError(f"the template is over {MAX_TEMPLATE_BODY_BYTES} bytes; CloudFormation needs it in S3")
    return {
        "StackName": name,
        "TemplateBody": template_body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": "project", "Value": "inference-loadlab"}],
    }


def deploy_stack(
    cf: Any, name: str, template_body: str, parameters: dict[str, str], bound: WaitBound, progress: Progress
) -> str:
    """Create the stack, or update it if it exists; wait until done. Returns "created" | "updated" | "unchanged"."""
    args = _call_args(name, template_body, parameters)
    existing = describe_stack(cf, name)
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise TargetError(
            f"stack {name} is in ROLLBACK_COMPLETE (its creation failed) and cannot be updated; "
            f"run `python -m awslab destroy --stack-name {name} --yes`, fix the cause, deploy again"
        )
    if existing is None:
        progress(f"creating stack {name} (this takes a few minutes)")
        with aws_errors(f"creating stack {name}"):
            cf.create_stack(**args, OnFailure="ROLLBACK")
        _wait(cf, "stack_create_complete", name, bound, f"creating stack {name}")
        return "created"
    progress(f"updating stack {name} (status {existing['StackStatus']})")
    with aws_errors(f"updating stack {name}"):
        try:
            cf.update_stack(**args)
        except ClientError as exc:
            if NO_UPDATES in error_message(exc):
                return "unchanged"
            raise
    _wait(cf, "stack_update_complete", name, bound, f"updating stack {name}")
    return "updated"


def stack_outputs(cf: Any, name: str) -> dict[str, str]:
    stack = describe_stack(cf, name)
    if stack is None:
        raise TargetError(f"stack {name} does not exist; run `python -m awslab deploy` first")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_buckets(cf: Any, name: str) -> list[str]:
    """Physical names of the stack's S3 buckets (paginated)."""
    buckets: list[str] = []
    with aws_errors(f"listing the resources of stack {name}"):
        for page in cf.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page.get("StackResourceSummaries", []):
                if summary.get("ResourceType") == "AWS::S3::Bucket" and summary.get("PhysicalResourceId"):
                    buckets.append(summary["PhysicalResourceId"])
    return buckets


def empty_bucket(s3: Any, bucket: str, progress: Progress) -> int:
    """Delete every object version and delete marker in `bucket` (bounded); returns how many."""
    deleted = 0
    with aws_errors(f"emptying bucket {bucket}"):
        try:
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
            for count, page in enumerate(pages, start=1):
                items = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                objects = [{"Key": i["Key"], "VersionId": i["VersionId"]} for i in items]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                    deleted += len(objects)
                    progress(f"bucket {bucket}: {deleted} objects deleted")
                if count >= MAX_EMPTY_PAGES:
                    raise TargetError(
                        f"bucket {bucket} holds over {MAX_EMPTY_PAGES * 1000} objects; "
                        "empty it with `aws s3 rm --recursive` or a lifecycle rule, then retry"
                    )
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
    return deleted


def destroy_stack(cf: Any, s3: Any, name: str, bound: WaitBound, progress: Progress) -> bool:
    """Empty the stack's buckets, delete it and wait; False when there was no stack."""
    if describe_stack(cf, name) is None:
        progress(f"stack {name} does not exist: nothing to delete")
        return False
    for bucket in stack_buckets(cf, name):
        empty_bucket(s3, bucket, progress)
    progress(f"deleting stack {name}")
    started_s = time.monotonic()
    with aws_errors(f"deleting stack {name}"):
        cf.delete_stack(StackName=name)
    _wait(cf, "stack_delete_complete", name, bound, f"deleting stack {name}")
    progress(f"stack {name} deleted in {time.monotonic() - started_s:.0f} s")
    return True
