"""boto3 clients for the lab, and AWS errors translated into the lab's errors (with what to do about them).

Clients honour the usual environment: AWS_PROFILE / credentials, AWS_REGION, and AWS_ENDPOINT_URL (a moto
server on loopback in tests). botocore's own retries stay on (standard mode) for control-plane calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from labkit.errors import ConfigError, TargetError

CREDENTIALS_HINT = (
    "configure AWS credentials: set AWS_PROFILE (a profile from `aws configure` / ~/.aws/credentials), "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials)"
)
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class AwsContext:
    """Where the calls go: region, optional profile, optional endpoint (moto server, the local platform) and
    optional fixed credentials (the local platform's dummy ones; otherwise the usual chain)."""

    region: str
    profile: str = ""
    endpoint_url: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""

    def session(self) -> Any:
        keys = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        keys = {k: v for k, v in keys.items() if v}
        try:
            return boto3.session.Session(profile_name=self.profile or None, region_name=self.region, **keys)
        except BotoCoreError as exc:  # ProfileNotFound and friends
            raise ConfigError(f"AWS profile {self.profile!r}: {exc}; {CREDENTIALS_HINT}") from None

    def client(self, service: str, max_attempts: int = 5) -> Any:
        config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        )
        kwargs: dict[str, Any] = {"config": config}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return self.session().client(service, **kwargs)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Translate botocore failures raised while `doing` into TargetError / ConfigError with a hint."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise TargetError(f"{doing}: no usable AWS credentials; {CREDENTIALS_HINT}") from None
    except NoRegionError:
        raise ConfigError(f"{doing}: no AWS region; pass --region or set AWS_REGION") from None
    except EndpointConnectionError as exc:
        raise TargetError(f"{doing}: cannot reach AWS ({exc}); check the network, region and endpoint") from None
    except ClientError as exc:
        code = error_code(exc)
        hint = ""
        if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId"):
            hint = " (check the credentials and the IAM permissions listed in the README)"
        elif code in ("ExpiredToken", "ExpiredTokenException"):
            hint = " (the session token expired: refresh the credentials, e.g. `aws sso login`)"
        raise TargetError(f"{doing}: {code}: {error_message(exc)}{hint}") from None
    except BotoCoreError as exc:
        raise TargetError(f"{doing}: {exc}") from None
