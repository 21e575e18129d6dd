"""Is a target on this machine? Decided by the addresses its host RESOLVES to, never by how the name looks.

No test here sends traffic or asks a DNS server: `socket.getaddrinfo` is replaced by a fake resolver that
answers IP literals itself (the C library with AI_NUMERICHOST, which never touches the network) and names
from a small hosts table; any other name does not resolve.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from labkit.errors import ConfigError
from labkit.net import is_loopback_host, loopback_problem
from locustfiles.safety import check_host
from replay.options import check_s3_endpoint

REAL_GETADDRINFO = socket.getaddrinfo
Resolver = Callable[..., list[Any]]


def fake_resolver(hosts: dict[str, list[str]]) -> Resolver:
    """A getaddrinfo that answers IP literals and the `hosts` table only (like an /etc/hosts file)."""

    def getaddrinfo(host: str, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:
        try:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        if host not in hosts:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in hosts[host]
        ]

    return getaddrinfo


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The fake resolver's table; tests add names to it."""
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver(table))
    return table


@pytest.mark.parametrize("host", ["127.evil.com", "127.0.0.1.nip.io"])
def test_a_127_prefix_does_not_make_a_name_local(hosts: dict[str, list[str]], host: str) -> None:
    assert not is_loopback_host(host)  # does not resolve at all
    assert "does not resolve" in loopback_problem(host)
    hosts[host] = ["203.0.113.7"]  # what its owner's DNS says
    assert not is_loopback_host(host)
    assert "resolves to 203.0.113.7, which is not loopback" in loopback_problem(host)
    with pytest.raises(ConfigError, match="not on this machine.*203.0.113.7.*--yes-remote"):
        check_host(f"http://{host}:8080/", yes_remote=False)


def test_a_name_with_one_remote_address_among_loopback_ones_is_not_local(hosts: dict[str, list[str]]) -> None:
    hosts["mixed.example"] = ["127.0.0.1", "10.0.0.1"]
    assert "10.0.0.1" in loopback_problem("mixed.example")


@pytest.mark.usefixtures("hosts")
@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped IPv6 is unwrapped
        ("[::ffff:127.0.0.1]", True),
        ("::ffff:10.0.0.1", False),
        ("2130706433", True),  # decimal 127.0.0.1: clients connect to 127.0.0.1
        ("0x7f000001", True),  # hex 127.0.0.1
        ("167772161", False),  # decimal 10.0.0.1
        ("0x0a000001", False),  # hex 10.0.0.1
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("localhost", True),
        ("", False),
    ],
)
def test_ip_literals_in_every_form(host: str, local: bool) -> None:
    assert is_loopback_host(host) is local


def test_localhost_with_a_trailing_dot_counts_what_it_resolves_to(hosts: dict[str, list[str]]) -> None:
    assert not is_loopback_host("localhost.")  # many resolvers do not map it: refused, not guessed
    assert "does not resolve" in loopback_problem("localhost.")
    hosts["localhost."] = ["127.0.0.1"]
    assert is_loopback_host("localhost.")


def test_hosts_file_entries_decide(hosts: dict[str, list[str]]) -> None:
    hosts["lab-box"] = ["10.0.0.1"]
    hosts["my-loopback"] = ["127.0.0.1"]
    assert not is_loopback_host("lab-box")
    assert is_loopback_host("my-loopback")
    check_host("http://my-loopback:8080/", yes_remote=False)
    with pytest.raises(ConfigError, match="lab-box.*resolves to 10.0.0.1"):
        check_host("http://lab-box:8080/", yes_remote=False)


def test_a_name_that_does_not_resolve_is_refused_with_a_clear_message(hosts: dict[str, list[str]]) -> None:
    with pytest.raises(ConfigError) as caught:
        check_host("http://no-such-host.invalid:8080/", yes_remote=False)
    assert "'no-such-host.invalid' does not resolve" in str(caught.value)
    assert "--yes-remote" in str(caught.value)


def test_consent_skips_the_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookups(*args: Any, **kwargs: Any) -> list[Any]:
        raise AssertionError("resolved a name although --yes-remote was given")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    check_host("https://abc123.execute-api.us-east-1.amazonaws.com", yes_remote=True)


def test_replay_s3_endpoint_off_this_machine_needs_yes(hosts: dict[str, list[str]]) -> None:
    hosts["127.evil.com"] = ["203.0.113.7"]
    check_s3_endpoint("http://127.0.0.1:9000", yes=False)
    check_s3_endpoint("http://127.evil.com:9000", yes=True)
    with pytest.raises(ConfigError, match="--s3-endpoint .*127.evil.com.*--yes"):
        check_s3_endpoint("http://127.evil.com:9000", yes=False)
    with pytest.raises(ConfigError, match="not an http"):
        check_s3_endpoint("ftp://127.0.0.1", yes=False)


def test_the_local_servers_refuse_to_bind_a_name_that_only_looks_local(hosts: dict[str, list[str]]) -> None:
    from localcloud.server import GunicornServer

    hosts["127.evil.com"] = ["203.0.113.7"]
    with pytest.raises(ConfigError, match="loopback only"):
        GunicornServer("wsgi_echo:app", host="127.evil.com")
