"""The emulator's rate limiter: the API's x-ratelimit headers on every answer, and 429s over the limit."""

from __future__ import annotations

import httpx
import pytest

from oai_images._limits import parse_duration
from oai_images_emulator import EmulatorConfig, EmulatorServer
from oai_images_emulator._ratelimit import RateLimiter, format_duration

BODY = {"prompt": "a fox", "model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


@pytest.mark.parametrize(("seconds", "text"), [(0.12, "120ms"), (1.0, "1s"), (1.5, "1.5s"), (360.0, "6m0s")])
def test_format_duration_writes_the_api_form(seconds: float, text: str) -> None:
    """Durations are written as the API writes them, and read back to the same seconds."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_rate_limiter_refuses_beyond_the_allowance_and_refills() -> None:
    """A full allowance of `burst` goes, the next is refused with retry-after, and it refills at rpm/60."""
    clock = Clock()
    limiter = RateLimiter(60, burst=2, clock=clock)
    first, second, third = limiter.take(), limiter.take(), limiter.take()
    assert first.allowed
    assert second.allowed
    assert not third.allowed
    assert first.headers["x-ratelimit-limit-requests"] == "60"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-reset-requests"] == "2s"
    assert third.headers["retry-after"] == "1"
    assert third.headers["retry-after-ms"] == "1000"
    clock.now += 1.0
    assert limiter.take().allowed


def test_emulator_rate_limit_answers_429_with_headers() -> None:
    """With rate_limit_rpm set, answers carry x-ratelimit-* and a request over the limit gets a 429."""
    config = EmulatorConfig(rate_limit_rpm=60, rate_limit_burst=1)
    with EmulatorServer(config) as server, httpx.Client(base_url=server.base_url) as http:
        headers = {"Authorization": "Bearer sk-test"}
        ok = http.post("/images/generations", json=BODY, headers=headers)
        refused = http.post("/images/generations", json=BODY, headers=headers)
    assert ok.status_code == 200
    assert ok.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["x-request-id"].startswith("req_")


def test_emulator_without_rate_limit_sends_no_headers() -> None:
    """No rate_limit_rpm, no x-ratelimit headers (as before)."""
    with EmulatorServer(EmulatorConfig()) as server, httpx.Client(base_url=server.base_url) as http:
        answer = http.post("/images/generations", json=BODY, headers={"Authorization": "Bearer sk-test"})
    assert answer.status_code == 200
    assert "x-ratelimit-limit-requests" not in answer.headers


def test_emulator_config_reads_rate_limit_from_env() -> None:
    """OAI_IMAGES_EMULATOR_RATE_LIMIT_RPM and _BURST configure the limiter."""
    config = EmulatorConfig.from_env(
        {"OAI_IMAGES_EMULATOR_RATE_LIMIT_RPM": "120", "OAI_IMAGES_EMULATOR_RATE_LIMIT_BURST": "3"}
    )
    assert (config.rate_limit_rpm, config.rate_limit_burst) == (120, 3)
