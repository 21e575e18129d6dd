"""Loopback networking helpers: free ports and waiting for a service to answer."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from labkit.errors import TargetError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str,
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
    check_alive: Callable[[], None] | None = None,
    hint: str = "",
) -> None:
    """Poll `url` until it answers 2xx, or raise TargetError naming `what` after `timeout_s`.

    `check_alive` is called before each attempt and may raise to stop waiting at once (the server's process
    died); `hint` is appended to the time-out message (e.g. where the server's log is).
    """
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline:
        if check_alive is not None:
            check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if 200 <= response.status < 300:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(interval_s)
    suffix = f"; {hint}" if hint else ""
    raise TargetError(f"{what} did not answer 2xx at {url} within {timeout_s:.0f} s (last: {last_error}){suffix}")


def is_loopback_host(host: str) -> bool:
    """True when `host` names this machine (127.0.0.0/8, ::1, localhost)."""
    if host in ("localhost", "::1", "[::1]"):
        return True
    return host.startswith("127.")
