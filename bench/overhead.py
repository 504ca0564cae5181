"""Per-call CPU overhead: many generate calls answered by an in-memory transport with a small response.

The contenders take turns within each repeat (oai-images, official, raw, oai-images, …), so a slow spell
of the machine falls on all of them alike; each figure is the median over the repeats.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from ._contenders import async_call, available, sync_call, transport

SMALL = json.dumps({"created": 1713833628, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAAAAE="}]}).encode()


def _per_call(call: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls


async def _per_call_async(call: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - start) / calls


def _sync(names: list[str], calls: int, repeats: int) -> dict[str, float]:
    clients = {name: httpx.Client(transport=transport(SMALL)) for name in names}
    try:
        callers = {name: sync_call(name, clients[name]) for name in names}
        for call in callers.values():
            _per_call(call, min(calls, 50))  # warm-up
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(repeats):
            for name, call in callers.items():
                samples[name].append(_per_call(call, calls))
    finally:
        for http in clients.values():
            http.close()
    return {name: statistics.median(values) for name, values in samples.items()}


async def _async(names: list[str], calls: int, repeats: int) -> dict[str, float]:
    clients = {name: httpx.AsyncClient(transport=transport(SMALL)) for name in names}
    try:
        callers = {name: async_call(name, clients[name]) for name in names}
        for call in callers.values():
            await _per_call_async(call, min(calls, 50))  # warm-up
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(repeats):
            for name, call in callers.items():
                samples[name].append(await _per_call_async(call, calls))
    finally:
        for http in clients.values():
            await http.aclose()
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(calls: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU seconds per call, by mode (sync, async) and contender."""
    names = available()
    return {"sync": _sync(names, calls, repeats), "async": asyncio.run(_async(names, calls, repeats))}
