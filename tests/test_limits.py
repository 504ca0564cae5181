"""The rate-limit headers, read into `RateLimit` and given on results and on status errors."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from oai_images import RateLimit, RateLimitError
from oai_images._limits import parse_duration, parse_rate_limit
from tests.conftest import Facade

HEADERS = {
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-limit-tokens": "100000",
    "x-ratelimit-remaining-tokens": "98000",
    "x-ratelimit-reset-tokens": "6m0s",
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("1h2m3.5s", 3723.5), ("2.5", 2.5), ("0s", 0.0)],
)
def test_parse_duration_reads_go_durations(text: str, seconds: float) -> None:
    """The API's reset durations are read as seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "s1", "-3", "1s 2m"])
def test_parse_duration_rejects_other_text(text: str) -> None:
    """Text that is no duration gives None, not a guess."""
    assert parse_duration(text) is None


def test_parse_rate_limit_reads_every_header() -> None:
    """Requests, tokens and retry-after are read; images stay None when absent."""
    limit = parse_rate_limit(httpx.Headers({**HEADERS, "retry-after": "2"}))
    assert limit == RateLimit(
        limit_requests=500,
        remaining_requests=499,
        reset_requests=0.12,
        limit_tokens=100000,
        remaining_tokens=98000,
        reset_tokens=360.0,
        retry_after=2.0,
    )
    assert limit is not None
    assert limit.requests_per_second == pytest.approx(500 / 60)


def test_parse_rate_limit_none_without_headers() -> None:
    """An answer without rate-limit headers has no RateLimit; unreadable values are dropped."""
    assert parse_rate_limit(httpx.Headers({"content-type": "application/json"})) is None
    limit = parse_rate_limit({"x-ratelimit-remaining-requests": "many", "x-ratelimit-limit-requests": "7"})
    assert limit == RateLimit(limit_requests=7)


async def test_result_carries_rate_limit(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """ImageResult.rate_limit holds the answer's x-ratelimit headers, for either client."""
    httpx_mock.add_response(json=facade.images_body(), headers=HEADERS)
    result = await facade.generate(model="dall-e-2")
    assert result.rate_limit is not None
    assert result.rate_limit.remaining_requests == 499
    assert result.rate_limit.reset_tokens == 360.0


async def test_rate_limit_error_carries_retry_after(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A 429 raises RateLimitError whose rate_limit says when to come back."""
    body = {
        "error": {"message": "slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    httpx_mock.add_response(status_code=429, json=body, headers={**HEADERS, "retry-after-ms": "1500"})
    with pytest.raises(RateLimitError) as caught:
        await facade.generate(client=facade.client(max_retries=0), model="dall-e-2")
    assert caught.value.rate_limit is not None
    assert caught.value.rate_limit.retry_after == 1.5
    assert caught.value.rate_limit.limit_requests == 500
