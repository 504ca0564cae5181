"""Concurrency: many generations against the emulator on loopback, with simulated latency, at once.

The ideal wall time is (requests / concurrency) x latency: every slot always busy waiting on the server.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ._contenders import API_KEY, PROMPT, available

FIELDS = {"model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}


@contextmanager
def emulator(latency_ms: int) -> Iterator[str]:
    """`oai-images serve` on a free 127.0.0.1 port in its own process; yields its base URL."""
    script = shutil.which("oai-images", path=str(Path(sys.executable).parent)) or "oai-images"
    command = [script, "serve", "--port", "0", "--latency-ms", str(latency_ms), "--log-level", "warning"]
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


async def _run(name: str, base_url: str, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        if name == "oai-images":
            import oai_images

            client = oai_images.AsyncImagesClient(api_key=API_KEY, base_url=base_url, http_client=http)

            async def call() -> object:
                return await client.generate(PROMPT, **FIELDS)
        elif name == "official":
            import openai

            official = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, http_client=http)

            async def call() -> object:
                return await official.images.generate(prompt=PROMPT, **FIELDS)  # type: ignore[arg-type]
        else:

            async def call() -> object:
                response = await http.post(
                    f"{base_url}/images/generations",
                    json={"prompt": PROMPT, **FIELDS},
                    headers={"Authorization": f"Bearer {API_KEY}"},
                )
                response.raise_for_status()
                return response.json()

        gate = asyncio.Semaphore(concurrency)

        async def one() -> object:
            async with gate:
                return await call()

        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm: connections open
        start = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(requests)))
        elapsed = time.perf_counter() - start
    assert len(results) == requests
    return elapsed


def measure(requests: int, concurrency: int, latency_ms: int) -> dict[str, float]:
    """Wall seconds for `requests` generations at `concurrency`, by contender, against one emulator."""
    with emulator(latency_ms) as base_url:
        return {name: asyncio.run(_run(name, base_url, requests, concurrency)) for name in available()}
