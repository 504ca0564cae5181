"""The Batch API job killed with SIGKILL while a batch is being created: the rerun pays for nothing twice.

A real loopback server (a stdlib HTTP server that keeps its batches) and real subprocesses: the first run
is killed after the server has created the batch and before it answers; the rerun must find that batch in
the batch list instead of creating another one (which would run, and bill, every line twice).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = """
import sys
from oai_images import ImagesClient
from oai_images.batchapi import BatchJob

with ImagesClient(base_url=sys.argv[1], api_key="sk-test-0123456789", max_retries=0) as client:
    with BatchJob(client, sys.argv[2]) as job:
        print(" ".join(job.submit([("fox", {"prompt": "a fox", "model": "gpt-image-1.5"})])))
"""


class _BatchAPI(ThreadingHTTPServer):
    """Files and batches, kept in memory; a creation can be made to hang after it has been made."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.batches: list[dict[str, Any]] = []
        self.creates = 0
        self.lists = 0
        self.hang_creates = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _BatchAPI

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """Upload a file, or create a batch (and hang, when told to, after creating it)."""
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.endswith("/files"):
            self._answer(
                {
                    "id": "file-in",
                    "object": "file",
                    "bytes": len(body),
                    "created_at": 1,
                    "filename": "in.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                }
            )
            return
        fields = json.loads(body)
        self.server.creates += 1
        batch = {
            "id": f"batch_{self.server.creates}",
            "object": "batch",
            "endpoint": fields["endpoint"],
            "input_file_id": fields["input_file_id"],
            "completion_window": "24h",
            "status": "in_progress",
            "created_at": 1,
            "request_counts": {"total": 1, "completed": 0, "failed": 0},
        }
        self.server.batches.append(batch)
        if self.server.hang_creates.is_set():
            time.sleep(30)  # the client is killed meanwhile
        self._answer(batch)

    def do_GET(self) -> None:
        """List the batches (newest first), or retrieve one."""
        if self.path.split("?")[0].endswith("/batches"):
            self.server.lists += 1
            newest = self.server.batches[::-1]
            self._answer(
                {
                    "object": "list",
                    "data": newest,
                    "has_more": False,
                    "first_id": newest[0]["id"] if newest else None,
                    "last_id": newest[-1]["id"] if newest else None,
                }
            )
            return
        self._answer(self.server.batches[-1])


@pytest.fixture
def batch_api() -> Iterator[_BatchAPI]:
    """The loopback Batch API, served from a thread."""
    server = _BatchAPI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_kill_9_during_batch_creation_then_rerun_creates_no_second_batch(
    batch_api: _BatchAPI, tmp_path: Path
) -> None:
    """SIGKILL after the server created the batch, before its answer: the rerun lists the batches, finds
    the one made from its input file, and creates none."""  # noqa: D205, D209
    base_url = f"http://127.0.0.1:{batch_api.server_address[1]}/v1"
    out = tmp_path / "out"
    batch_api.hang_creates.set()
    first = subprocess.Popen([sys.executable, "-c", _SCRIPT, base_url, str(out)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while batch_api.creates == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert batch_api.creates == 1
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    batch_api.hang_creates.clear()
    rerun = subprocess.run(
        [sys.executable, "-c", _SCRIPT, base_url, str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.split() == ["batch_1"]
    assert batch_api.creates == 1  # the lines run (and are billed) once
    assert batch_api.lists >= 1
