"""Loopback networking helpers: free ports and waiting for a service to answer."""

from __future__ import annotations

import ipaddress
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


def _numeric_addresses(host: str) -> list[str] | None:
    """The address of an IP literal in any form the C library accepts (2130706433, 0x7f000001, 127.1, ::1);
    None when `host` is a name. Never touches the network (AI_NUMERICHOST)."""
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return [str(info[4][0]) for info in infos]


def resolve_host(host: str) -> list[str]:
    """Every address `host` resolves to (IP literals as they are); TargetError when it does not resolve."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not name:
        raise TargetError("an empty host name does not resolve")
    numeric = _numeric_addresses(name)
    if numeric is not None:
        return numeric
    try:
        infos = socket.getaddrinfo(name, None)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise TargetError(f"host {host!r} does not resolve ({exc})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise TargetError(f"host {host!r} does not resolve (no addresses)")
    return addresses


def _is_loopback_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip.is_loopback


def loopback_problem(host: str) -> str:
    """Why `host` is not this machine ('' when it is): decided by the addresses it RESOLVES to, every one of
    which must be loopback (127.0.0.0/8, ::1; IPv4-mapped IPv6 unwrapped). A name that does not resolve is
    not local. The name itself counts for nothing: 127.evil.com is whatever its DNS says."""
    try:
        addresses = resolve_host(host)
    except TargetError as exc:
        return f"{exc}, so it is not known to be this machine"
    remote = sorted({a for a in addresses if not _is_loopback_address(a)})
    if remote and addresses == [host.strip("[]")]:
        return f"host {host!r} is not a loopback address"
    if remote:
        return f"host {host!r} resolves to {', '.join(remote)}, which is not loopback"
    return ""


def is_loopback_host(host: str) -> bool:
    """True when every address `host` resolves to is loopback (see `loopback_problem`)."""
    return not loopback_problem(host)
