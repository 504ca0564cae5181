"""The one send: an httpx request, with the retry policy, from either colour of client.

Every request the facade makes goes through `send` or `asend`: the API's operations, streamed ones, and
image downloads. What to do after each attempt is decided by `RetryBudget` (pure); these two loops only
send, read and wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from ._retries import OnRetry, RetryBudget

__all__ = ["asend", "send"]


def send(
    http: httpx.Client,
    request: httpx.Request,
    *,
    budget: RetryBudget,
    sleep: Callable[[float], None],
    stream: bool = False,
    follow_redirects: bool = False,
    on_retry: OnRetry | None = None,
) -> httpx.Response:
    """Send with retries; return the final response, its body read unless it is a streamed 2xx.

    ``on_retry`` is told about each retry before its wait.

    Raises:
        APIConnectionError: (or APITimeoutError) no answer after the retries, chained to httpx's error.
    """
    while True:
        try:
            # auth=None: an injected client's own auth must not replace this client's key.
            response = http.send(request, stream=stream, auth=None, follow_redirects=follow_redirects)
            if not response.is_success:
                response.read()
        except httpx.HTTPError as exc:
            delay = budget.after_error(exc)
        else:
            retry = budget.after_response(response)
            if retry is None:
                return response
            delay = retry
            response.close()
        if on_retry is not None:
            on_retry(delay, budget.retries_taken, budget.max_retries, budget.reason)
        sleep(delay)


async def asend(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    budget: RetryBudget,
    sleep: Callable[[float], Awaitable[None]],
    stream: bool = False,
    follow_redirects: bool = False,
    on_retry: OnRetry | None = None,
) -> httpx.Response:
    """The awaited twin of `send`."""
    while True:
        try:
            response = await http.send(request, stream=stream, auth=None, follow_redirects=follow_redirects)
            if not response.is_success:
                await response.aread()
        except httpx.HTTPError as exc:
            delay = budget.after_error(exc)
        else:
            retry = budget.after_response(response)
            if retry is None:
                return response
            delay = retry
            await response.aclose()
        if on_retry is not None:
            on_retry(delay, budget.retries_taken, budget.max_retries, budget.reason)
        await sleep(delay)
