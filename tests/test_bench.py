"""The benchmark scripts run end to end with tiny sizes, so they cannot rot. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_run_writes_every_measure(tmp_path: Path) -> None:
    """`python -m bench --quick` measures everything it can here and writes the results table."""
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    for measure in (
        "import + client",
        "CPU per call, sync",
        "CPU per call, async",
        "large payload to file: time",
        "large payload to file: peak memory",
        "requests at concurrency",
        "bulk: ",
        "bulk: answers that were 429",
        "gallery: 40 images, first build",
        "gallery: 40 images, second build",
        "gallery: 40 images, page size",
    ):
        assert measure in text, measure
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 14  # the header and fourteen measures
    assert "machine:" in text
    assert "oai-images" in text
