"""GunicornServer against a real gunicorn with a tiny WSGI app of our own (tests/localcloud/wsgi_echo.py)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from labkit.errors import ConfigError, TargetError
from localcloud.server import GunicornServer

HERE = Path(__file__).resolve().parent
ECHO_ENV = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}

pytestmark = pytest.mark.timeout(60)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_serves_with_n_workers_and_stops_without_survivors(tmp_path: Path) -> None:
    server = GunicornServer(
        app="wsgi_echo:app", workers=2, env=ECHO_ENV, log_path=tmp_path / "gunicorn.log", boot_timeout_s=30
    )
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        master_pid = server.process.pid
        workers = set(server.worker_pids())
        assert len(workers) == 2

        def predict(_: int) -> int:
            response = requests.get(f"{server.url}/predict", params={"sleep_ms": 300}, timeout=10)
            response.raise_for_status()
            return int(response.json()["pid"])

        with ThreadPoolExecutor(4) as pool:
            seen = set(pool.map(predict, range(4)))
        assert seen == workers
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert _gone(master_pid)
    assert all(_gone(pid) for pid in workers)
    assert server.access_log_path is not None
    assert server.access_log_path.read_text().count("/predict") == 4


def test_bad_app_path_names_the_log(tmp_path: Path) -> None:
    log_path = tmp_path / "bad.log"
    server = GunicornServer(
        app="no_such_module_for_tests:app", workers=1, env=ECHO_ENV, log_path=log_path, boot_timeout_s=30
    )
    with pytest.raises(TargetError) as excinfo:
        server.start()
    message = str(excinfo.value)
    assert str(log_path) in message
    assert "no_such_module_for_tests" in message  # the log tail shows the import error


def test_missing_health_path_times_out_with_log(tmp_path: Path) -> None:
    log_path = tmp_path / "nohealth.log"
    server = GunicornServer(
        app="wsgi_echo:app", workers=1, env=ECHO_ENV, log_path=log_path, boot_timeout_s=3, health_path="/nope"
    )
    with pytest.raises(TargetError, match="did not answer") as excinfo:
        server.start()
    assert str(log_path) in str(excinfo.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"workers": 0}, "workers"), ({"app": "nocolon"}, "module:attribute"), ({"host": "0.0.0.0"}, "loopback")],
)
def test_invalid_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        GunicornServer(**kwargs)  # type: ignore[arg-type]
