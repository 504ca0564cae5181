"""The emulator's rate limiter: a request allowance that refills continuously, with the API's headers.

Like the API, every generation answer carries ``x-ratelimit-limit-requests`` (per minute),
``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests`` (the time until the allowance is full
again, as ``1s``, ``6m0s`` or ``120ms``); a request over the limit is answered 429 with ``retry-after``
(whole seconds, rounded up) and ``retry-after-ms``, and the API's error envelope. The allowance holds
``burst`` requests (by default the whole minute's limit) and refills at ``rpm / 60`` a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Message, Send

__all__ = ["RateLimiter", "RateVerdict", "format_duration"]


def format_duration(seconds: float) -> str:
    """A duration as the API writes it: ``120ms``, ``1s``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


@dataclass(frozen=True)
class RateVerdict:
    """The limiter's answer to one request: let it through or not, and the headers to send either way."""

    allowed: bool
    headers: dict[str, str]

    def with_headers(self, send: Send) -> Callable[[Message], Coroutine[Any, Any, None]]:
        """``send``, adding the rate-limit headers to the response's start."""
        extra = [(name.encode(), value.encode()) for name, value in self.headers.items()]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return sending

    def refusal(self) -> JSONResponse:
        """The 429 of a request over the limit, in the API's error envelope."""
        error = {
            "message": "Rate limit reached for requests per minute (emulated by the oai-images emulator). "
            f"Limit: {self.headers['x-ratelimit-limit-requests']}. Please try again in "
            f"{self.headers['x-ratelimit-reset-requests']}.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
        return JSONResponse({"error": error}, status_code=429)


class RateLimiter:
    """A continuously refilling allowance of requests (a token bucket); thread-safe.

    Args:
        rpm: Requests per minute.
        burst: How many requests the allowance holds when full; ``rpm`` when None.
        clock: Monotonic seconds; injectable for tests.
    """

    def __init__(
        self, rpm: int, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rpm < 1:
            raise ValueError("rpm must be 1 or more")
        self.rpm = rpm
        self.capacity = float(burst if burst is not None else rpm)
        if self.capacity < 1:
            raise ValueError("burst must be 1 or more")
        self.rate = rpm / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> RateVerdict:
        """Count one request, if the allowance has room for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            allowed = self._tokens >= 1
            if allowed:
                self._tokens -= 1
            headers = {
                "x-ratelimit-limit-requests": str(self.rpm),
                "x-ratelimit-remaining-requests": str(int(self._tokens)),
                "x-ratelimit-reset-requests": format_duration((self.capacity - self._tokens) / self.rate),
            }
            if not allowed:
                wait = (1 - self._tokens) / self.rate
                headers["retry-after"] = str(max(1, math.ceil(wait)))
                headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
            return RateVerdict(allowed, headers)


class RateLimits:
    """The limiter of a running emulator, following its (mutable) config's ``rate_limit_*`` settings."""

    def __init__(self) -> None:
        self._limiter: RateLimiter | None = None
        self._lock = threading.Lock()

    def take(self, rpm: int | None, burst: int | None) -> RateVerdict | None:
        """The verdict for one request under these settings; None when there is no limit."""
        if not rpm:
            return None
        with self._lock:
            limiter = self._limiter
            if limiter is None or limiter.rpm != rpm or limiter.capacity != float(burst or rpm):
                limiter = self._limiter = RateLimiter(rpm, burst)
        return limiter.take()

    def reset(self) -> None:
        """Start again with a full allowance."""
        with self._lock:
            self._limiter = None
