"""Signed S3 PUTs as raw HTTP/1.1 requests, for the Locust engine (replay.locustengine, locustfiles.uploads).

`SigV4` signs the way botocore's S3SigV4Auth does (AWS Signature Version 4, header-based; the same
Authorization for the same instant: tests/replay/test_replay_locust.py checks it against botocore), but per
request only the date, one canonical request and one HMAC are computed: the signing key is derived once a day,
each image's sha256 (the x-amz-content-sha256 payload hash) once per distinct image. `PutMaker` turns (object
key, image, instant) into the whole request's bytes (head and body: one write on a keep-alive connection), and
`put_record` turns the reply into the `s3-put` record the thread engine writes (replay.uploads.upload).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from labkit.errors import ConfigError
from labkit.records import RequestRecord
from replay.uploads import client_error_kind

ALGORITHM = "AWS4-HMAC-SHA256"
CREDENTIALS_REFRESH_S = 60.0  # temporary credentials (a role, SSO) are re-read this often from the provider
Credentials = tuple[str, str, str]  # access key id, secret key, session token ("" without one)
CredentialsFn = Callable[[], Credentials]
_S3_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
_S3_MESSAGE = re.compile(rb"<Message>([^<]{1,300})</Message>")


@dataclass(frozen=True)
class S3Place:
    """Where a bucket's objects are PUT: the connection's base URL, the Host header, the path before the key."""

    base_url: str  # scheme://host[:port]
    host: str  # the Host header (and signed host): the port only when not the scheme's default
    path_prefix: str  # "/<bucket>" (path style: an S3 endpoint such as moto) or "" (virtual-hosted: AWS)
    region: str

    def canonical_uri(self, key: str) -> str:
        return quote(f"{self.path_prefix}/{key}", safe="/~")


def s3_place(endpoint_url: str, bucket: str, region: str) -> S3Place:
    """An S3 endpoint (path style), or AWS S3 in `region` (virtual-hosted style, https) when `endpoint_url` is ""."""
    if not bucket:
        raise ConfigError("an S3 upload needs a bucket")
    if not endpoint_url:
        if not region:
            raise ConfigError("AWS S3 needs a region (AWS_REGION, or a region in your AWS profile)")
        host = f"{bucket}.s3.{region}.amazonaws.com"
        return S3Place(f"https://{host}", host, "", region)
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"S3 endpoint {endpoint_url!r} is not an http:// or https:// URL with a host")
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.netloc.rpartition("@")[2]
    if parts.port == default_port:
        host = host.rsplit(":", 1)[0]
    return S3Place(f"{parts.scheme}://{parts.netloc}", host, f"/{bucket}", region)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class SigV4:
    """AWS Signature Version 4 for S3 requests with a known payload hash (see the module docstring)."""

    def __init__(self, credentials: CredentialsFn, region: str, service: str = "s3") -> None:
        self._credentials_fn, self.region, self.service = credentials, region, service
        self._credentials: Credentials = credentials()
        self._read_mono_s = time.monotonic()
        self._keys: dict[tuple[str, str], bytes] = {}  # (date, secret) -> signing key

    def credentials(self) -> Credentials:
        if time.monotonic() - self._read_mono_s > CREDENTIALS_REFRESH_S:
            self._credentials, self._read_mono_s = self._credentials_fn(), time.monotonic()
        return self._credentials

    def _signing_key(self, date: str, secret: str) -> bytes:
        key = self._keys.get((date, secret))
        if key is None:
            key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), self.region), self.service), "aws4_request")
            self._keys = {(date, secret): key}  # one day's key at a time
        return key

    def headers(self, method: str, host: str, canonical_uri: str, content_type: str, payload_sha256: str,
                unix_s: float) -> list[tuple[str, str]]:  # fmt: skip
        """The headers to send (Host included), signed at `unix_s`: content-type, host, x-amz-content-sha256,
        x-amz-date (and x-amz-security-token with temporary credentials) are signed."""
        access_key, secret, token = self.credentials()
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(unix_s))
        date = amz_date[:8]
        signed = [("content-type", content_type), ("host", host), ("x-amz-content-sha256", payload_sha256),
                  ("x-amz-date", amz_date)] + ([("x-amz-security-token", token)] if token else [])  # fmt: skip
        names = ";".join(name for name, _ in signed)
        canonical = "\n".join([method, canonical_uri, "", *(f"{n}:{v}" for n, v in signed), "", names, payload_sha256])
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
        signature = hmac.new(self._signing_key(date, secret), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        auth = f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
        return [("Host", host), ("Content-Type", content_type), ("X-Amz-Content-SHA256", payload_sha256),
                ("X-Amz-Date", amz_date)] + ([("X-Amz-Security-Token", token)] if token else []) + [
                ("Authorization", auth)]  # fmt: skip


@dataclass(frozen=True)
class Payload:
    data: bytes
    content_type: str
    sha256: str


class PutMaker:
    """The bytes of one signed PUT of image `image_index` as object `key` (see the module docstring)."""

    def __init__(self, place: S3Place, signer: SigV4, images: list[tuple[bytes, str]]) -> None:
        self.place, self.signer = place, signer
        self.payloads = [Payload(data, ctype, hashlib.sha256(data).hexdigest()) for data, ctype in images]

    def request(self, key: str, image_index: int, unix_s: float) -> bytes:
        payload = self.payloads[image_index]
        uri = self.place.canonical_uri(key)
        headers = self.signer.headers("PUT", self.place.host, uri, payload.content_type, payload.sha256, unix_s)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        return (f"PUT {uri} HTTP/1.1\r\n{head}User-Agent: loadlab-replay\r\nContent-Length: {len(payload.data)}"
                "\r\n\r\n").encode() + payload.data  # fmt: skip


def error_of(status_code: int, body: bytes, transport_error: str) -> tuple[str, str]:
    """(error_kind, error_message) of a reply ("", "" for a 2xx): S3's error code and message when it sent one."""
    if transport_error:
        timed_out = "timed out" in transport_error.lower() or transport_error.startswith("TimeoutError")
        return ("timeout" if timed_out else "connection"), transport_error
    if 200 <= status_code < 300:
        return "", ""
    code, message = _S3_CODE.search(body), _S3_MESSAGE.search(body)
    text = " ".join(m.group(1).decode("utf-8", "replace") for m in (code, message) if m)
    return client_error_kind(status_code), f"HTTP {status_code}" + (f" {text}" if text else "")


def put_record(*, index: int, key: str, request_bytes: int, intended_unix_s: float, actual_unix_s: float,
               completion_unix_s: float, status_code: int, body: bytes, transport_error: str,
               **identity: str) -> RequestRecord:  # fmt: skip
    """The `s3-put` record of one attempt (the fields replay.uploads.upload writes; `identity`: run_id, scenario,
    target, worker)."""
    kind, message = error_of(status_code, body, transport_error)
    return RequestRecord.timed(
        intended_send_unix_s=intended_unix_s,
        actual_send_unix_s=actual_unix_s,
        completion_unix_s=completion_unix_s,
        request_id=f"{identity['run_id']}-{index:08d}",
        source="replay",
        operation="s3-put",
        ok=not kind,
        status_code=status_code or None,
        error_kind=kind,
        error_message=message,
        request_bytes=request_bytes,
        response_bytes=len(body),
        object_key=key,
        **identity,
    )
