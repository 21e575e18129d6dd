import json

from locustfiles.recording import Exchange, exchange_to_record

IDENTITY = {"run_id": "r", "source": "locust", "scenario": "s", "target": "local-faas", "worker": "w"}


def _exchange(status: int, body: bytes, headers: dict[str, str] | None = None, error: str = "") -> Exchange:
    return Exchange("q1", 100.0, 100.01, 100.25, status, body, headers or {}, 1234, error)


def test_success_takes_function_fields_and_platform_headers():
    body = json.dumps(
        {
            "cold_start": True,
            "init_ms": 900.5,
            "inference_ms": 21.0,
            "instance_id": "env-1",
            "model_name": "mobilenetv2",
            "weights": "random",
            "top5": [],
        }
    ).encode()
    rec = exchange_to_record(
        _exchange(200, body, {"X-Loadlab-Duration-Ms": "25.5", "x-loadlab-billed-ms": "26"}), **IDENTITY
    )
    assert rec.ok and rec.error_kind == ""
    assert rec.latency_ms == 250.0 or abs(rec.latency_ms - 250.0) < 1e-6
    assert abs(rec.send_lag_ms - 10.0) < 1e-6
    assert rec.cold_start is True and rec.handler_init_ms == 900.5 and rec.instance_id == "env-1"
    assert rec.duration_ms == 25.5 and rec.billed_ms == 26
    assert rec.request_bytes == 1234 and rec.response_bytes == len(body)


def test_errors_are_data_with_kind_and_message():
    throttled = exchange_to_record(_exchange(429, b'{"message":"Too Many Requests"}'), **IDENTITY)
    assert (throttled.ok, throttled.error_kind, throttled.error_message) == (False, "throttled", "Too Many Requests")
    bad = exchange_to_record(_exchange(400, b'{"error":{"kind":"bad_image","message":"not a JPEG"}}'), **IDENTITY)
    assert bad.error_kind == "http_4xx" and bad.error_message == "bad_image: not a JPEG"
    dead = exchange_to_record(_exchange(0, b"", error="ConnectionRefusedError"), **IDENTITY)
    assert dead.error_kind == "connection" and dead.status_code is None
    garbled = exchange_to_record(_exchange(200, b"<html>"), **IDENTITY)
    assert garbled.error_kind == "bad_response" and not garbled.ok
