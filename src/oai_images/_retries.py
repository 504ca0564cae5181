"""The retry policy of the official client, as pure decisions the sync and async clients both drive.

A request is retried, at most ``max_retries`` times, after a connection error or a timeout, and after a
408, 409, 429 or 5xx answer. A server may override that decision with ``x-should-retry: true|false``.
The wait before a retry is what the server asks for in ``retry-after-ms``, else ``retry-after`` (seconds or
an HTTP date), when that is more than 0 and at most 120 seconds; otherwise exponential backoff:
``min(0.5 * 2**n, 8)`` seconds for the n-th retry (from 0), less up to 25 % random jitter.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ._errors import APIConnectionError, APIResponseValidationError, APIStatusError, APITimeoutError
from ._redact import redact

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
#: The longest wait a server may ask for; anything longer (or not positive) falls back to backoff.
MAX_SERVER_DELAY = 120.0
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Transport failures before the request could reach the server.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def is_transient_status(status_code: int) -> bool:
    """Whether an answer with this status may succeed if sent again: 408, 409, 429 and 5xx."""
    return status_code in _RETRYABLE_STATUSES or status_code >= 500


def is_transient(error: BaseException) -> bool:
    """Whether a failed request may succeed if sent again: the one decision every retry loop makes.

    No answer (a connection error or a timeout), or an answer whose status passes (`is_transient_status`);
    anything else (a refused value, a bad key, an answer that is not what the spec says) fails the same
    way every time.
    """
    if isinstance(error, APIResponseValidationError):
        return False
    if isinstance(error, APIStatusError):
        return is_transient_status(error.status_code)
    return isinstance(error, APIConnectionError)


def should_retry(response: httpx.Response) -> bool:
    """Whether a response is worth another attempt: ``x-should-retry`` first, then its status."""
    override = response.headers.get("x-should-retry", "").strip().lower()
    if override == "true":
        return True
    if override == "false":
        return False
    return is_transient_status(response.status_code)


def server_delay(headers: httpx.Headers, *, now: Callable[[], float] = time.time) -> float | None:
    """The wait, in seconds, the server asked for, or None when it asked for none that can be read."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except (ValueError, OverflowError):
            pass
    after = headers.get("retry-after")
    if after is None:
        return None
    try:
        return float(after)
    except ValueError:
        pass
    try:
        # An absurd zone offset ("+99999") overflows the date arithmetic: no usable date, like a bad one.
        return email.utils.parsedate_to_datetime(after).timestamp() - now()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def retry_delay(
    retries_taken: int,
    headers: httpx.Headers | None,
    *,
    jitter: Callable[[], float],
    now: Callable[[], float] = time.time,
) -> float:
    """The seconds to wait before the next attempt.

    Args:
        retries_taken: How many retries were already made (0 before the first retry).
        headers: The headers of the failed response, or None after a connection error.
        jitter: Returns a float in [0, 1); scales the random 0-25 % taken off the backoff.
        now: The current Unix time, to read an HTTP-date ``retry-after``.
    """
    if headers is not None:
        asked = server_delay(headers, now=now)
        if asked is not None and math.isfinite(asked) and 0 < asked <= MAX_SERVER_DELAY:
            return asked
    backoff = min(INITIAL_DELAY * 2.0**retries_taken, MAX_DELAY)
    return backoff * (1 - 0.25 * jitter())


def is_retryable_error(exc: httpx.HTTPError) -> bool:
    """Whether an httpx exception is a transient transport failure (worth retrying).

    A request this side could not even send (an unsupported scheme, a header httpx refuses) fails the
    same way every time, so it is final.
    """
    final = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, final)


def connection_error(exc: httpx.HTTPError) -> APIConnectionError:
    """The oai-images error for an httpx exception, credentials redacted; raise it ``from exc``."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"the request timed out ({type(exc).__name__})")
    detail = redact(str(exc) or type(exc).__name__)
    return APIConnectionError(f"could not get an answer from the server: {detail}")


#: Told before each retry: ``(delay, attempt, max_retries, reason)``: the seconds about to be waited, which
#: retry this is (from 1), how many are allowed, and why in a few words ("rate limited", "server error 503",
#: "timed out", "connection failed").
OnRetry = Callable[[float, int, int, str], None]


def retry_reason(response: httpx.Response | None, exc: httpx.HTTPError | None = None) -> str:
    """Why a retry happens, in a few words for a person: from the response, else the httpx error."""
    if response is not None:
        status = response.status_code
        if status == 429:
            return "rate limited"
        if status >= 500:
            return f"server error {status}"
        return f"status {status}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return "connection failed"


@dataclass(slots=True)
class RetryBudget:
    """The retry state of one logical request: how many retries are left, and how long to wait.

    The clients' loops ask it after every attempt; it returns the wait before the next attempt, or None
    (or raises the wrapped error) when the attempt's outcome is final. Each retry it decides is told to
    ``on_retry`` first, so the one send loop needs no hook of its own.
    """

    max_retries: int
    jitter: Callable[[], float]
    on_retry: OnRetry | None = field(default=None, repr=False)
    retries_taken: int = 0
    #: Why the last retry was decided (see `retry_reason`), for `OnRetry`.
    reason: str = ""
    #: Attempts the server answered (any status) or that broke after the request went out.
    attempts: int = 0
    #: Of those, the ones that may have been billed: a 2xx (even one whose body then broke), or no
    #: answer at all after the request was sent. A 429 or 5xx is not billed.
    possibly_billed: int = 0

    def reached_server(self, response: httpx.Response) -> None:
        """Count an attempt that got an answer."""
        self.attempts += 1
        if response.is_success:
            self.possibly_billed += 1

    def after_response(self, response: httpx.Response) -> float | None:
        """The wait before retrying this response, or None to hand it to the caller as it is."""
        if response.is_success or self.retries_taken >= self.max_retries or not should_retry(response):
            return None
        self.reason = retry_reason(response)
        return self._next(response.headers)

    def after_error(self, exc: httpx.HTTPError, *, answered: bool = False) -> float:
        """The wait before retrying after an httpx exception (``answered``: while reading an answer).

        Raises:
            APIConnectionError: (or APITimeoutError) when the error is final, chained to ``exc``.
        """
        if not answered and not isinstance(exc, _BEFORE_SENDING):
            # No answer, but the request may have reached the server, which may be generating.
            self.attempts += 1
            self.possibly_billed += 1
        if self.retries_taken >= self.max_retries or not is_retryable_error(exc):
            raise connection_error(exc) from exc
        self.reason = retry_reason(None, exc)
        return self._next(None)

    def _next(self, headers: httpx.Headers | None) -> float:
        delay = retry_delay(self.retries_taken, headers, jitter=self.jitter)
        self.retries_taken += 1
        if self.on_retry is not None:
            self.on_retry(delay, self.retries_taken, self.max_retries, self.reason)
        return delay
