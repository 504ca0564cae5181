"""Import and start-up: each contender imported and a client built, in fresh processes."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ._contenders import have_official

SNIPPETS = {
    "oai-images": "import oai_images; oai_images.ImagesClient(api_key='sk')",
    "official": "import openai; openai.OpenAI(api_key='sk')",
    "httpx": "import httpx; httpx.Client()",
    "python": "pass",
}


def _wall(command: list[str], repeats: int) -> float:
    """Median wall time of a command, in seconds, after one warm-up run (disk caches)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(repeats: int) -> dict[str, float]:
    """Median seconds per fresh process: each snippet, and `oai-images --help`."""
    results = {}
    for name, code in SNIPPETS.items():
        if name == "official" and not have_official():
            continue
        results[name] = _wall([sys.executable, "-c", code], repeats)
    script = shutil.which("oai-images", path=str(Path(sys.executable).parent))
    if script:
        results["oai-images --help"] = _wall([script, "--help"], repeats)
    return results
