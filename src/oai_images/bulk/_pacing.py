"""When to send the next request of a bulk run: pure decisions from the server's rate-limit headers.

Like `_retries.RetryBudget`, this module decides and the engine does the I/O. Two mechanisms work together:

- A mirror of the server's request allowance. Each answer says how many requests remain
  (``x-ratelimit-remaining-requests``). The requests still in flight when it arrives may not be counted
  in it yet (the server counts each as it arrives, in an order nobody sees), so the estimate takes them
  off, and the allowance refills at the server's rate from then on:
  ``min(full, remaining - in flight + rate * (now - answered)) - sends since``. The newest answer is the
  estimate's base. A request goes out when the estimate is at least ``_NEEDED``; otherwise the run waits
  for the refill. The run so keeps pace with the refill, at the server's limit, instead of bursting into
  429s. The estimate errs low, by about the requests in flight: that costs no throughput, because the
  allowance still refills, and is used, at the server's rate.
- A concurrency window, additive increase and multiplicative decrease (AIMD): +1/window per answer
  (about +1 per round trip of the whole window), halved on a 429 (once per burst of 429s), never below 1
  nor above the caller's maximum. It is what keeps a server that sends no headers from being flooded.
  Until a first answer says what the limits are, a single request probes them.

A 429 (or an exhausted token or image allowance) pauses every send until the server's ``retry-after`` (or
the allowance's reset) has passed. Every wait a server asks for is capped at the client's 120 s
(`MAX_SERVER_DELAY`): a ``retry-after`` of years, infinity or garbage never stalls a run. A server that
says what remains but not its limit gives no refill rate: its word holds until its reset (or a short
pause) has passed, then one request probes again, so no answer can stop a run for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._limits import RateLimit
from .._retries import MAX_SERVER_DELAY

__all__ = ["Pacer"]

#: The pause after a 429 that says nothing of when to come back.
DEFAULT_PAUSE = 1.0
#: The estimated allowance a send waits for: one request, and one of slack for counts rounded down.
_NEEDED = 2.0


@dataclass
class Pacer:
    """The pacing state of one bulk run; every method takes the current (monotonic) time.

    Args:
        max_concurrency: The most requests in flight at once (the caller's ``concurrency``).
        decrease: The factor the window is multiplied by after a 429.
    """

    max_concurrency: int
    decrease: float = 0.5
    window: float = field(init=False)
    paused_until: float = field(default=0.0, init=False)
    in_flight: int = field(default=0, init=False)
    _level: float | None = field(default=None, init=False)  # the estimate's base, at _observed_at
    _observed_at: float = field(default=0.0, init=False)
    _sends_since: int = field(default=0, init=False)
    _capacity: float | None = field(default=None, init=False)
    _rate: float | None = field(default=None, init=False)
    _cut: bool = field(default=False, init=False)
    _answered: bool = field(default=False, init=False)
    #: Without a refill rate, when the last word on the allowance stops holding (a probe goes out then).
    _stale_at: float = field(default=math.inf, init=False)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be 1 or more")
        self.window = float(self.max_concurrency)

    @property
    def concurrency(self) -> int:
        """How many requests may be in flight now."""
        return max(1, int(self.window))

    @property
    def rate(self) -> float | None:
        """The server's request refill rate (per second), when its headers told it."""
        return self._rate

    def allowance(self, now: float) -> float | None:
        """The estimated requests the server would accept now, or None when it never said."""
        if self._level is None:
            return None
        if self._rate is None and now >= self._stale_at:
            return None  # the server's word has run out and nothing refills it: probe
        level = self._level + (self._rate or 0.0) * max(0.0, now - self._observed_at)
        if self._capacity is not None:  # the allowance never refills beyond full
            level = min(level, self._capacity)
        return level - self._sends_since

    def delay(self, now: float) -> float | None:
        """Seconds to wait before the next send (0: send now), or None: wait for a request to finish."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= (self.concurrency if self._answered else 1):
            return None
        allowance = self.allowance(now)
        if allowance is None or allowance >= _NEEDED - 1e-6:  # (rounding must not make a wait of 1e-16 s)
            return 0.0
        if not self._rate:
            return None if self.in_flight else max(0.0, min(self._stale_at - now, MAX_SERVER_DELAY))
        return min((_NEEDED - allowance) / self._rate, MAX_SERVER_DELAY)

    def sent(self, now: float) -> None:
        """A request went out now."""
        self.in_flight += 1
        self._sends_since += 1

    def answered(self, now: float, limit: RateLimit | None) -> None:
        """A request was answered (not with a 429); ``limit`` is what its headers said."""
        self.in_flight -= 1
        self.window = min(float(self.max_concurrency), self.window + 1 / self.window)
        self._cut = False
        self._observe(now, limit)

    def failed(self, now: float, limit: RateLimit | None = None) -> None:
        """A request got no answer, or an error other than a 429 (the limits it reported still count)."""
        self.in_flight -= 1
        self._observe(now, limit)

    def rate_limited(self, now: float, limit: RateLimit | None) -> float:
        """A request was answered 429; returns how long every send now pauses."""
        self.in_flight -= 1
        if not self._cut:  # the 429s of one burst are one signal: cut the window once
            self.window = max(1.0, self.window * self.decrease)
            self._cut = True
        pause = limit.retry_after if limit is not None else None
        if pause is None and limit is not None and limit.remaining_requests == 0:
            pause = limit.reset_requests if self._rate is None else 1 / self._rate
        pause = _capped(pause)
        self.paused_until = max(self.paused_until, now + pause)
        self._observe(now, limit, remaining=0)
        return pause

    def _observe(self, now: float, limit: RateLimit | None, remaining: int | None = None) -> None:
        self._answered = True
        if limit is None:
            return
        rate = limit.requests_per_second
        if rate is not None:
            self._rate = rate
        if limit.limit_requests is not None:
            self._capacity = float(limit.limit_requests)
        if rate is not None and limit.remaining_requests is not None and limit.reset_requests is not None:
            # The allowance is full again after `reset`: it holds at most what remains plus the refill
            # meanwhile (a server may hold less than a minute's worth at once).
            full = limit.remaining_requests + limit.reset_requests * rate
            self._capacity = full if self._capacity is None else min(self._capacity, full)
        if remaining is None:
            remaining = limit.remaining_requests
        if remaining is not None:
            self._level = float(remaining) - self.in_flight
            self._observed_at = now
            self._sends_since = 0
            self._stale_at = now + _capped(
                limit.reset_requests if limit.retry_after is None else limit.retry_after
            )
        for left, reset in (
            (limit.remaining_tokens, limit.reset_tokens),
            (limit.remaining_images, limit.reset_images),
        ):
            if left is not None and left < 1 and reset is not None:
                self.paused_until = max(self.paused_until, now + _capped(reset))


def _capped(seconds: float | None) -> float:
    """A wait a server asked for, made usable: ``DEFAULT_PAUSE`` when it said none (or nothing readable,
    NaN), and never more than `MAX_SERVER_DELAY`."""  # noqa: D205, D209
    if seconds is None or math.isnan(seconds) or seconds <= 0:
        return DEFAULT_PAUSE
    return min(seconds, MAX_SERVER_DELAY)
