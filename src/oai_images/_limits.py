"""The rate-limit headers of an answer, as one typed value: sans-I/O, so pacing is testable without a socket.

The API sends, with every answer (a 429 too), ``x-ratelimit-limit-requests``,
``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests`` (a duration such as ``1s``,
``6m0s`` or ``120ms``), the same three for ``tokens`` (and for ``images`` where a server counts them),
and ``retry-after`` (``retry-after-ms``) with a 429.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from ._retries import server_delay

__all__ = ["RateLimit", "parse_duration", "parse_rate_limit"]

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")


def parse_duration(text: str) -> float | None:
    """Seconds of a Go-style duration (``1s``, ``6m0s``, ``1h2m3.5s``, ``120ms``; a bare number is seconds).

    Returns:
        The seconds, or None when the text is not a duration.
    """
    text = text.strip().lower()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def _count(headers: Mapping[str, str], name: str) -> int | None:
    text = headers.get(name)
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _duration(headers: Mapping[str, str], name: str) -> float | None:
    text = headers.get(name)
    return None if text is None else parse_duration(text)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the server said of its rate limits in one answer; None where it said nothing readable.

    Attributes:
        limit_requests: Requests allowed per minute.
        remaining_requests: Requests left before the limit is reached.
        reset_requests: Seconds until the request limit is back to full.
        limit_tokens: Tokens allowed per minute.
        remaining_tokens: Tokens left.
        reset_tokens: Seconds until the token limit is back to full.
        limit_images: Images allowed per minute (where a server counts images).
        remaining_images: Images left.
        reset_images: Seconds until the image limit is back to full.
        retry_after: Seconds the server asked to wait before the next request (with a 429).
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None
    limit_images: int | None = None
    remaining_images: int | None = None
    reset_images: float | None = None
    retry_after: float | None = None

    @property
    def requests_per_second(self) -> float | None:
        """The rate at which the request allowance refills: the per-minute limit spread over the minute."""
        limit = self.limit_requests
        return None if limit is None or limit <= 0 else limit / 60.0


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The rate-limit headers of an answer (names in any case), or None when it carries none."""
    if not isinstance(headers, httpx.Headers):
        headers = httpx.Headers(dict(headers))
    # Most answers carry none: one pass over the raw names (httpx's per-name lookups decode every header
    # each time) spares every call the nine lookups below.
    for name, _ in headers.raw:
        if name.lower().startswith(_NAMES):
            break
    else:
        return None
    delay = server_delay(headers)
    limit = RateLimit(
        limit_requests=_count(headers, "x-ratelimit-limit-requests"),
        remaining_requests=_count(headers, "x-ratelimit-remaining-requests"),
        reset_requests=_duration(headers, "x-ratelimit-reset-requests"),
        limit_tokens=_count(headers, "x-ratelimit-limit-tokens"),
        remaining_tokens=_count(headers, "x-ratelimit-remaining-tokens"),
        reset_tokens=_duration(headers, "x-ratelimit-reset-tokens"),
        limit_images=_count(headers, "x-ratelimit-limit-images"),
        remaining_images=_count(headers, "x-ratelimit-remaining-images"),
        reset_images=_duration(headers, "x-ratelimit-reset-images"),
        retry_after=delay if delay is not None and delay >= 0 else None,
    )
    return None if limit == _NOTHING else limit


_NOTHING = RateLimit()
#: The beginnings of the names of the headers read here, as raw bytes.
_NAMES = (b"x-ratelimit-", b"retry-after")
