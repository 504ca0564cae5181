"""Per-call CPU overhead: many generate calls answered by an in-memory transport with a small response."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx

from ._contenders import async_call, available, sync_call, transport

SMALL = json.dumps({"created": 1713833628, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAAAAE="}]}).encode()


def _sync(name: str, calls: int, repeats: int) -> float:
    with httpx.Client(transport=transport(SMALL)) as http:
        call = sync_call(name, http)
        for _ in range(min(calls, 50)):
            call()
        samples = []
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(calls):
                call()
            samples.append((time.process_time() - start) / calls)
    return statistics.median(samples)


async def _async(name: str, calls: int, repeats: int) -> float:
    async with httpx.AsyncClient(transport=transport(SMALL)) as http:
        call = async_call(name, http)
        for _ in range(min(calls, 50)):
            await call()
        samples = []
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(calls):
                await call()
            samples.append((time.process_time() - start) / calls)
    return statistics.median(samples)


def measure(calls: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU seconds per call, by mode (sync, async) and contender."""
    names = available()
    return {
        "sync": {name: _sync(name, calls, repeats) for name in names},
        "async": {name: asyncio.run(_async(name, calls, repeats)) for name in names},
    }
