"""The bulk pacing decisions, pure: probing, keeping pace with the refill, AIMD, pauses after a 429."""

from __future__ import annotations

import heapq
import math

import pytest

from oai_images import RateLimit
from oai_images._retries import MAX_SERVER_DELAY
from oai_images.bulk import Pacer
from oai_images.bulk._pacing import DEFAULT_PAUSE


def _limit(remaining: int, *, rpm: int = 600, full: int = 600, retry_after: float | None = None) -> RateLimit:
    rate = rpm / 60
    return RateLimit(
        limit_requests=rpm,
        remaining_requests=remaining,
        reset_requests=(full - remaining) / rate,
        retry_after=retry_after,
    )


def test_pacer_probes_with_one_request_first() -> None:
    """Before any answer, one request is in flight; after it, the window opens to the maximum."""
    pacer = Pacer(8)
    assert pacer.delay(0.0) == 0.0
    pacer.sent(0.0)
    assert pacer.delay(0.0) is None
    pacer.answered(0.1, None)
    assert pacer.delay(0.1) == 0.0
    assert pacer.concurrency == 8


def test_pacer_waits_for_the_refill_when_the_allowance_is_used() -> None:
    """With nothing left, the next send waits for the refill at limit / 60 per second."""
    pacer = Pacer(8)
    pacer.sent(0.0)
    pacer.answered(0.2, _limit(0, rpm=600))  # 10 a second
    delay = pacer.delay(0.2)
    assert delay == pytest.approx(0.2)  # two requests' worth: one, and one of slack
    assert pacer.delay(0.4) == 0.0


def test_pacer_counts_requests_in_flight_against_the_allowance() -> None:
    """Requests in flight when an answer lands are taken off what it says remains."""
    pacer = Pacer(16)
    for _ in range(6):
        pacer.sent(0.0)
    pacer.answered(0.1, _limit(6, rpm=60, full=20))  # 5 more in flight: 1 left, less than needed
    assert pacer.allowance(0.1) == pytest.approx(1.0)
    assert pacer.delay(0.1) == pytest.approx(1.0)


def test_pacer_halves_the_window_once_per_burst_of_429s() -> None:
    """AIMD: a 429 halves the window (several in a row count once); answers grow it back by 1/window."""
    pacer = Pacer(16)
    for _ in range(3):
        pacer.sent(0.0)
    pacer.rate_limited(0.1, _limit(0, retry_after=0.5))
    pacer.rate_limited(0.1, _limit(0, retry_after=0.5))
    assert pacer.concurrency == 8
    pacer.answered(0.2, None)
    assert pacer.window == pytest.approx(8 + 1 / 8)


def test_pacer_pauses_every_send_for_retry_after() -> None:
    """After a 429 nothing is sent until retry-after has passed."""
    pacer = Pacer(4)
    pacer.sent(0.0)
    pause = pacer.rate_limited(1.0, _limit(0, retry_after=3.0))
    assert pause == 3.0
    assert pacer.delay(2.0) == pytest.approx(2.0)


def test_pacer_pauses_until_the_token_allowance_resets() -> None:
    """An exhausted token allowance pauses sending until its reset."""
    pacer = Pacer(4)
    pacer.sent(0.0)
    pacer.answered(1.0, RateLimit(remaining_tokens=0, reset_tokens=5.0))
    assert pacer.delay(1.0) == pytest.approx(5.0)


def test_pacer_rejects_a_concurrency_below_one() -> None:
    """A run needs at least one request in flight."""
    with pytest.raises(ValueError, match="max_concurrency"):
        Pacer(0)


def _simulate(rpm: int, burst: int, latency: float, requests: int, concurrency: int) -> tuple[float, int]:
    """A run against a simulated token-bucket server; returns (sustained rate, 429s)."""
    rate = rpm / 60
    pacer = Pacer(concurrency)
    tokens, at = float(burst), 0.0
    now, sent, refused = 0.0, 0, 0
    saved: list[float] = []
    answers: list[tuple[float, int, RateLimit]] = []  # (time, ok, headers)
    order = 0
    while len(saved) < requests:
        delay = pacer.delay(now) if sent < requests + refused else None
        if delay == 0.0:
            tokens = min(burst, tokens + (now - at) * rate)
            at = now
            ok = tokens >= 1
            tokens -= 1 if ok else 0
            retry = None if ok else (1 - tokens) / rate
            headers = RateLimit(rpm, math.floor(tokens), (burst - tokens) / rate, retry_after=retry)
            pacer.sent(now)
            sent += 1
            order += 1
            heapq.heappush(answers, (now + latency + order * 1e-9, int(ok), headers))
            continue
        next_answer = answers[0][0] if answers else math.inf
        wake = now + delay if delay is not None else math.inf
        if next_answer <= wake:
            now, answered_ok, headers = heapq.heappop(answers)
            if answered_ok:
                pacer.answered(now, headers)
                saved.append(now)
            else:
                refused += 1
                pacer.rate_limited(now, headers)
        else:
            now = wake
    steady = saved[burst:]
    return (len(steady) - 1) / (steady[-1] - steady[0]), refused


def test_pacer_keeps_pace_with_a_simulated_rate_limit() -> None:
    """Against a token bucket with latency, the run sustains the limit's rate with no 429."""
    sustained, refused = _simulate(rpm=1200, burst=20, latency=0.3, requests=400, concurrency=64)
    assert sustained >= 0.95 * 20
    assert refused == 0


def test_pacer_probes_again_after_a_429_that_names_no_limit() -> None:
    """A 429 with no limit header (the emulator's own fault): the run pauses, then probes; it never stalls."""
    pacer = Pacer(4)
    pacer.sent(0.0)
    pause = pacer.rate_limited(0.1, RateLimit(retry_after=2.0))
    assert pause == 2.0
    assert pacer.delay(1.0) == pytest.approx(1.1)  # the retry-after
    assert pacer.delay(2.2) == 0.0  # then one request probes
    bare = Pacer(4)
    bare.sent(0.0)
    bare.rate_limited(0.1, None)  # no header at all
    assert bare.delay(0.1 + DEFAULT_PAUSE) == 0.0


def test_pacer_probes_again_after_remaining_zero_with_no_limit() -> None:
    """A 200 saying 0 requests remain, with no limit: its word holds until its reset, then a probe."""
    pacer = Pacer(4)
    pacer.sent(0.0)
    pacer.answered(0.0, RateLimit(remaining_requests=0, reset_requests=3.0))
    waits = pacer.delay(1.0)
    assert waits is not None
    assert waits == pytest.approx(2.0)
    assert pacer.delay(3.0) == 0.0
    silent = Pacer(4)
    silent.sent(0.0)
    silent.answered(0.0, RateLimit(remaining_requests=0))  # not even a reset
    assert silent.delay(DEFAULT_PAUSE) == 0.0


@pytest.mark.parametrize("asked", [99_999_999.0, math.inf, 1e300, math.nan])
def test_pacer_caps_every_wait_a_server_asks_for(asked: float) -> None:
    """retry-after of years, infinity, 1e300 or NaN, and a token reset of years: at most 120 s."""
    pacer = Pacer(4)
    pacer.sent(0.0)
    pause = pacer.rate_limited(0.0, RateLimit(retry_after=asked, remaining_tokens=0, reset_tokens=asked))
    assert 0 < pause <= MAX_SERVER_DELAY
    assert pacer.paused_until <= MAX_SERVER_DELAY
    assert pacer.delay(MAX_SERVER_DELAY) == 0.0
