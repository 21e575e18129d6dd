"""Safety checks before any load is sent: a rate cap, a duration cap and consent for non-loopback hosts."""

from __future__ import annotations

from urllib.parse import urlsplit

from labkit.errors import ConfigError
from labkit.net import loopback_problem


def check_rate(peak_rps: float, max_rate_rps: float) -> None:
    if peak_rps > max_rate_rps:
        raise ConfigError(
            f"the shape peaks at {peak_rps:g} req/s, above the safety cap of {max_rate_rps:g} req/s; "
            "raise the cap with --max-rate-rps if you mean it"
        )


def check_duration(duration_s: float, max_duration_s: float) -> None:
    if duration_s > max_duration_s:
        raise ConfigError(
            f"the schedule lasts {duration_s:g} s, above the cap of {max_duration_s:g} s; "
            "raise it with --max-duration-s if you mean it"
        )


def url_host(url: str) -> str:
    """The host of an http(s) URL (ConfigError for anything else)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in an IPv6 host
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"target URL {url!r} is not an http:// or https:// URL with a host")
    return parts.hostname


def check_host(url: str, yes_remote: bool) -> None:
    """Refuse to send load off this machine unless the caller confirmed it."""
    host = url_host(url)
    if yes_remote:
        return  # consent given: no need to resolve the name
    problem = loopback_problem(host)
    if problem:
        raise ConfigError(
            f"{url} is not on this machine ({problem}); sending load there costs money and may hit "
            "someone else's service: confirm with --yes-remote"
        )
