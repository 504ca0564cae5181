"""The retry policy: which failures are retried, how long each wait is, and how many attempts are made."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from pytest_httpx import HTTPXMock

from oai_images import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ImagesClient,
    InternalServerError,
    InvalidParameterError,
    RateLimitError,
)
from oai_images._retries import is_transient, retry_delay, server_delay, should_retry
from tests.conftest import Facade

NOW = 1_764_000_000.0


def headers(**values: str) -> httpx.Headers:
    """Response headers, underscores in the keyword names written as dashes."""
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("status", "retried"),
    [(400, False), (401, False), (403, False), (404, False), (408, True), (409, True), (422, False),
     (429, True), (500, True), (502, True), (520, True)],
)  # fmt: skip
def test_should_retry_follows_the_status(status: int, retried: bool) -> None:
    """408, 409, 429 and every status from 500 are retried; other errors are not."""
    assert should_retry(httpx.Response(status)) is retried


@pytest.mark.parametrize(("status", "header", "retried"), [(400, "true", True), (503, "false", False)])
def test_should_retry_obeys_x_should_retry(status: int, header: str, retried: bool) -> None:
    """x-should-retry overrides the status either way."""
    assert should_retry(httpx.Response(status, headers={"x-should-retry": header})) is retried


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ({"retry_after_ms": "1500"}, 1.5),
        ({"retry_after_ms": "250", "retry_after": "7"}, 0.25),
        ({"retry_after": "3"}, 3.0),
        ({"retry_after": "0.5"}, 0.5),
        ({"retry_after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry_after": "not a date"}, None),
        ({}, None),
    ],
)
def test_server_delay_reads_retry_headers(values: dict[str, str], seconds: float | None) -> None:
    """retry-after-ms wins, then retry-after as seconds or as an HTTP date."""
    assert server_delay(headers(**values), now=lambda: NOW) == seconds


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ({"retry_after": "120"}, 120.0),
        ({"retry_after": "121"}, 0.5),
        ({"retry_after": "0"}, 0.5),
        ({"retry_after": "-3"}, 0.5),
        ({"retry_after_ms": "nan"}, 0.5),
        ({"retry_after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.5),
    ],
)
def test_retry_delay_falls_back_to_backoff_outside_range(values: dict[str, str], seconds: float) -> None:
    """A server delay is used when 0 < delay <= 120 s; otherwise the first backoff step (0.5 s) applies."""
    assert retry_delay(0, headers(**values), jitter=lambda: 0.0, now=lambda: NOW) == seconds


@pytest.mark.parametrize(
    ("retries_taken", "seconds"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]
)
def test_retry_delay_backs_off_exponentially_up_to_8_seconds(retries_taken: int, seconds: float) -> None:
    """Without a server delay the wait is min(0.5 * 2**n, 8) seconds."""
    assert retry_delay(retries_taken, None, jitter=lambda: 0.0) == seconds


def test_retry_delay_jitter_takes_off_at_most_a_quarter() -> None:
    """Full jitter shortens the wait by 25 %, never more."""
    assert retry_delay(2, None, jitter=lambda: 1.0) == pytest.approx(1.5)
    assert retry_delay(2, None, jitter=lambda: 0.5) == pytest.approx(1.75)


async def test_rate_limit_waits_as_retry_after_ms_says(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A 429 with retry-after-ms is retried after exactly that wait, and the retry's answer is returned."""
    httpx_mock.add_response(status_code=429, headers={"retry-after-ms": "250"})
    httpx_mock.add_response(json=facade.images_body(), headers={"x-request-id": "req_ok"})
    result = await facade.generate()
    assert result.request_id == "req_ok"
    assert facade.sleeps == [0.25]
    assert len(httpx_mock.get_requests()) == 2


async def test_retry_after_seconds_and_date_set_the_wait(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """retry-after in seconds, then as an HTTP date about 20 s ahead, set the two waits."""
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    httpx_mock.add_response(status_code=503, headers={"retry-after": "2"})
    httpx_mock.add_response(status_code=503, headers={"retry-after": when})
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate()
    first, second = facade.sleeps
    assert first == 2.0
    assert 17.0 < second <= 20.0


async def test_retries_stop_after_max_retries(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """With max_retries=2 a failing server gets 3 attempts, backing off 0.5 s then 1 s, then the error."""
    httpx_mock.add_response(status_code=500, json={"error": {"message": "boom"}}, is_reusable=True)
    with pytest.raises(InternalServerError, match="boom"):
        await facade.generate()
    assert len(httpx_mock.get_requests()) == 3
    assert facade.sleeps == [0.5, 1.0]


async def test_max_retries_zero_makes_one_attempt(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """max_retries=0 turns retries off."""
    httpx_mock.add_response(status_code=429, headers={"retry-after": "1"})
    with pytest.raises(RateLimitError):
        await facade.generate(client=facade.client(max_retries=0))
    assert len(httpx_mock.get_requests()) == 1
    assert facade.sleeps == []


async def test_x_should_retry_false_stops_a_retry(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """x-should-retry: false on a 500 means one attempt."""
    httpx_mock.add_response(status_code=500, headers={"x-should-retry": "false"})
    with pytest.raises(InternalServerError):
        await facade.generate()
    assert len(httpx_mock.get_requests()) == 1


async def test_x_should_retry_true_retries_a_client_error(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """x-should-retry: true on a 400 means it is retried."""
    httpx_mock.add_response(status_code=400, headers={"x-should-retry": "true"})
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate()
    assert facade.sleeps == [0.5]


async def test_bad_request_is_not_retried(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A plain 400 is final."""
    httpx_mock.add_response(status_code=400, json={"error": {"message": "no"}})
    with pytest.raises(BadRequestError):
        await facade.generate()
    assert len(httpx_mock.get_requests()) == 1
    assert facade.sleeps == []


async def test_connection_error_is_retried_then_succeeds(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A dropped connection is retried after the backoff."""
    httpx_mock.add_exception(httpx.ConnectError("connection refused"))
    httpx_mock.add_response(json=facade.images_body())
    result = await facade.generate()
    assert len(result.images) == 1
    assert facade.sleeps == [0.5]


async def test_persistent_connection_error_is_wrapped(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """After the last retry a connection error is APIConnectionError, chained to httpx's exception."""
    httpx_mock.add_exception(httpx.ConnectError("connection refused"), is_reusable=True)
    with pytest.raises(APIConnectionError) as caught:
        await facade.generate()
    assert type(caught.value) is APIConnectionError
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(httpx_mock.get_requests()) == 3


async def test_timeout_is_retried_then_wrapped(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """Timeouts are retried too, and the last one raises APITimeoutError."""
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), is_reusable=True)
    with pytest.raises(APITimeoutError) as caught:
        await facade.generate(client=facade.client(max_retries=1))
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(httpx_mock.get_requests()) == 2
    assert facade.sleeps == [0.5]


async def test_base_url_without_scheme_is_refused_when_the_client_is_made(facade: Facade) -> None:
    """A base URL without http(s) is an InvalidParameterError naming base_url, before any request."""
    with pytest.raises(InvalidParameterError) as caught:
        facade.client(base_url="localhost:8000/v1")
    assert caught.value.param == "base_url"
    assert facade.sleeps == []


def test_local_protocol_error_is_final_and_redacted() -> None:
    """An error httpx raises before sending (here naming the key) is not retried, and the key is hidden."""
    key = "sk-SECRET-0123456789"
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {key}'")

    sleeps: list[float] = []
    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with (
        ImagesClient(api_key=key, http_client=http, sleep=sleeps.append) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.generate("a fox")
    assert len(attempts) == 1
    assert sleeps == []
    assert key not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    http.close()


async def test_on_retry_is_told_each_retry_before_its_wait(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """on_retry gets (delay, attempt, max_retries, reason) for a 429, a 503 and a dropped connection."""
    httpx_mock.add_response(status_code=429, headers={"retry-after": "3"})
    httpx_mock.add_response(status_code=503, headers={"retry-after": "2"})
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(json=facade.images_body())
    told: list[tuple[float, int, int, str]] = []

    def on_retry(delay: float, attempt: int, max_retries: int, reason: str) -> None:
        told.append((delay, attempt, max_retries, reason))
        assert len(facade.sleeps) == attempt - 1  # told before the wait, not after

    await facade.generate(client=facade.client(max_retries=3, on_retry=on_retry))
    assert told == [
        (3.0, 1, 3, "rate limited"),
        (2.0, 2, 3, "server error 503"),
        (2.0, 3, 3, "connection failed"),
    ]
    assert facade.sleeps == [3.0, 2.0, 2.0]


async def test_on_retry_is_not_called_without_a_retry(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A final error (400) or a success calls on_retry never."""
    httpx_mock.add_response(status_code=400, json={"error": {"message": "no"}})
    told: list[object] = []
    with pytest.raises(BadRequestError):
        await facade.generate(client=facade.client(on_retry=lambda *args: told.append(args)))
    assert told == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (APIConnectionError("no answer"), True),
        (APITimeoutError("slow"), True),
        (RateLimitError("429", status_code=429), True),
        (APIStatusError("408", status_code=408), True),
        (APIStatusError("409", status_code=409), True),
        (InternalServerError("500", status_code=500), True),
        (InternalServerError("599", status_code=599), True),
        (BadRequestError("400", status_code=400), False),
        (AuthenticationError("401", status_code=401), False),
        (APIResponseValidationError("not images", status_code=200), False),
        (InvalidParameterError("size", "1x1", (), "bad size"), False),
        (ValueError("not ours"), False),
    ],
)
def test_is_transient_is_the_one_retry_decision(error: BaseException, transient: bool) -> None:
    """One decision for every retry loop (client, bulk, Batch API polls): no answer, 408, 409, 429, 5xx."""
    assert is_transient(error) is transient
