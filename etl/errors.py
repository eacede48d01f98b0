"""Errors the CLI turns into one clear line and exit code 2 instead of a traceback."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


class UserFacingError(Exception):
    """An error whose message is complete on its own: the CLI prints it and exits with code 2."""


class ServiceUnavailable(UserFacingError):
    """A database could not be reached; the message names its URL with the password masked."""


def mask_url(url: str) -> str:
    """Return `url` with any password replaced by `***` (also inside `?password=`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            user, _, password = userinfo.partition(":")
            userinfo = f"{user}:***" if password else f"{user}:"
        netloc = f"{userinfo}@{hostinfo}"
    query = "&".join(
        f"{k}=***" if k.lower() in {"password", "token"} else f"{k}={v}" if sep else k
        for k, sep, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
