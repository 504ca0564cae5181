"""Large payloads: a 3840x2160 PNG as b64_json, from response bytes to a saved file, in fresh processes.

    python -m bench.payload CONTENDER PAYLOAD OUT_DIR MODE    # MODE: time or memory; prints JSON

Time and memory are measured in separate processes, because tracing allocations slows the work down.
Peak memory is what the work allocated on top of the response bytes already in memory. Each contender makes
one call before the measured one, so that modules loaded at a first call count as start-up, not here.
"""

from __future__ import annotations

import base64
import io
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import httpx

from ._contenders import available, generate_and_save, transport


def make_payload(path: Path, width: int, height: int) -> int:
    """Write an ImagesResponse holding a noise PNG of that size (noise: it does not compress); return
    the PNG's size in bytes."""
    from PIL import Image

    pixels = random.Random(0).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, format="PNG", compress_level=1)
    png = buffer.getvalue()
    body = {"created": 1713833628, "data": [{"b64_json": base64.b64encode(png).decode()}]}
    path.write_bytes(json.dumps(body).encode())
    return len(png)


def _child(name: str, payload: Path, out: Path, mode: str) -> dict[str, float]:
    body = payload.read_bytes()
    with httpx.Client(transport=transport(body)) as http:
        save = generate_and_save(name, http, {"model": "gpt-image-2", "size": "3840x2160"})
        target = out / f"{name}-{mode}.png"
        # One call first: what a contender loads at its first call (oai-images loads the generated models
        # then, not at import) is start-up, measured on its own row, not payload handling.
        target.unlink(missing_ok=True)
        save(target)
        target.unlink(missing_ok=True)
        if mode == "memory":
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            save(target)
            peak = tracemalloc.get_traced_memory()[1] - before
            tracemalloc.stop()
            return {"peak_bytes": float(peak)}
        start = time.perf_counter()
        save(target)
        return {"seconds": time.perf_counter() - start}


def measure(payload: Path, out: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds and peak bytes per contender, each run in a fresh process."""
    results: dict[str, dict[str, float]] = {}
    for name in available():
        runs: dict[str, list[float]] = {"seconds": [], "peak_bytes": []}
        for _ in range(repeats):
            for mode in ("time", "memory"):
                done = subprocess.run(
                    [sys.executable, "-m", "bench.payload", name, str(payload), str(out), mode],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                for key, value in json.loads(done.stdout).items():
                    runs[key].append(value)
        results[name] = {key: statistics.median(values) for key, values in runs.items()}
    return results


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
