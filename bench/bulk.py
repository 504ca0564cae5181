"""Bulk generation at the server's rate limit: sustained throughput and 429s against the emulator.

`oai-images serve` runs with a rate limit (``--rate-limit-rpm``, an allowance of ``burst`` requests) and
latency, on loopback, in its own process; `AsyncImagesClient.generate_many` sends every request with a
concurrency well above what the limit allows. The sustained throughput is measured once the initial
allowance is used up: lines saved per second between the ``burst``-th saved line and the last, over the
limit's rate. The targets: at least 0.95 of the limit, with at most 1 % of the answers a 429.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._contenders import API_KEY

FIELDS = {"model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}


@dataclass(frozen=True)
class BulkFigures:
    """What one bulk run measured."""

    requests: int
    rpm: int
    sustained_per_second: float
    rate_limited: int
    answers: int
    seconds: float

    @property
    def fraction(self) -> float:
        """Sustained throughput over the configured limit."""
        return self.sustained_per_second / (self.rpm / 60)

    @property
    def rate_limited_fraction(self) -> float:
        """429s over all answers."""
        return self.rate_limited / self.answers if self.answers else 0.0


@contextmanager
def _emulator(rpm: int, burst: int, latency_ms: int) -> Iterator[str]:
    script = shutil.which("oai-images", path=str(Path(sys.executable).parent)) or "oai-images"
    command = [
        script,
        "serve",
        "--port",
        "0",
        "--latency-ms",
        str(latency_ms),
        "--rate-limit-rpm",
        str(rpm),
        "--rate-limit-burst",
        str(burst),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the emulator did not start: {base_url!r}")
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _run(base_url: str, requests: int, burst: int, concurrency: int, rpm: int) -> BulkFigures:
    import oai_images
    from oai_images.bulk import BulkEvent, LineSaved

    saved: list[float] = []

    def on_event(event: BulkEvent) -> None:
        if isinstance(event, LineSaved):
            saved.append(time.perf_counter())

    lines = [{"prompt": f"bulk bench {index}", **FIELDS} for index in range(requests)]
    async with oai_images.AsyncImagesClient(api_key=API_KEY, base_url=base_url) as client:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = await client.generate_many(lines, out=out, concurrency=concurrency, on_event=on_event)
            seconds = time.perf_counter() - start
    assert summary.done == requests, summary
    steady = saved[burst:]
    sustained = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else 0.0
    return BulkFigures(
        requests, rpm, sustained, summary.rate_limited, requests + summary.rate_limited, seconds
    )


def measure(*, quick: bool) -> BulkFigures:
    """Run the bulk benchmark: 600 requests at 1200 rpm (20/s), a 20-request allowance, 200 ms latency."""
    rpm, burst, latency_ms, requests, concurrency = (600, 5, 20, 30, 8) if quick else (1200, 20, 200, 600, 32)
    with _emulator(rpm, burst, latency_ms) as base_url:
        return asyncio.run(_run(base_url, requests, burst, concurrency, rpm))
