"""Peak memory of `BatchJob.collect` on a large output file: `python -m bench.batch_collect [--mb 1024]`.

A loopback Batch API server holds one completed batch whose output file is as large as asked: its lines
(one real, incompressible PNG each, base64) are written to the socket as they are made, never held. Every
upload is read and thrown away; every batch created is already completed. The collect runs in a
subprocess, which reports its peak RSS (its VmHWM, else `resource.getrusage`); tests/test_batchapi.py runs
the same at 200 MB with a 150 MB bound.

Measured (2 cores, Python 3.11, loopback): a 1 GB output file of 6 MB images peaks at 63 MB RSS; of
24 MB images at 144 MB (about 4x an image over the interpreter's ~40 MB); ~10 s each.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image

BATCH_ID = "batch_large"
OUTPUT_FILE_ID = "file-large-output"


def noise_png(raw_bytes: int) -> bytes:
    """A PNG of random pixels (which do not compress) of about ``raw_bytes`` bytes."""
    side = int((raw_bytes / 3) ** 0.5)
    pixels = random.Random(7).randbytes(side * side * 3)  # test data, not cryptography
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=0)
    return out.getvalue()


class LargeOutputServer:
    """The server; `start`, read `base_url` and `output_size`, `stop`.

    Args:
        lines: Output lines, for custom ids ``big-0`` … ``big-<lines-1>``.
        image_bytes: About how large each line's image is, before base64.
    """

    def __init__(self, *, lines: int, image_bytes: int) -> None:
        self.lines = lines
        b64 = base64.b64encode(noise_png(image_bytes)).decode("ascii")
        self._head = (
            '{"id":"batch_req_%d","custom_id":"big-%d","response":{"status_code":200,"request_id":"req",'
        )
        self._tail = ('"body":{"created":1,"data":[{"b64_json":"' + b64 + '"}]}},"error":null}\n').encode()
        self.output_size = sum(len(self._line_head(index)) + len(self._tail) for index in range(lines))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The ``/v1`` base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> None:
        """Serve in a thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _line_head(self, index: int) -> bytes:
        return (self._head % (index, index)).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self
        batch = {
            "id": BATCH_ID,
            "object": "batch",
            "endpoint": "/v1/images/generations",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "status": "completed",
            "output_file_id": OUTPUT_FILE_ID,
            "error_file_id": None,
            "created_at": 1,
            "request_counts": {"total": outer.lines, "completed": outer.lines, "failed": 0},
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # the base class's parameter name
                """Quiet."""

            def _json(self, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                """Uploads (read and dropped) and batch creation (already completed)."""
                remaining = int(self.headers.get("content-length", "0"))
                while remaining > 0:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
                if self.path.endswith("/files"):
                    self._json(
                        {
                            "id": "file-in",
                            "object": "file",
                            "bytes": 1,
                            "created_at": 1,
                            "filename": "in.jsonl",
                            "purpose": "batch",
                            "status": "processed",
                        }
                    )
                else:
                    self._json(batch)

            def do_GET(self) -> None:
                """The batch, and its output file, made line by line as it is sent."""
                if not self.path.endswith("/content"):
                    self._json(batch)
                    return
                self.send_response(200)
                self.send_header("content-type", "application/octet-stream")
                self.send_header("content-length", str(outer.output_size))
                self.end_headers()
                for index in range(outer.lines):
                    self.wfile.write(outer._line_head(index))
                    self.wfile.write(outer._tail)

        return Handler


#: The collecting process: submit the lines, collect, print the report and the peak RSS as JSON.
COLLECT_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from oai_images import ImagesClient
    from oai_images.batchapi import BatchJob

    base_url, out = sys.argv[1], sys.argv[2]
    with ImagesClient(base_url=base_url, api_key="sk-test") as client, BatchJob(client, out) as job:
        count = int(sys.argv[3])
        job.submit([(f"big-{i}", {"prompt": "noise", "model": "gpt-image-1"}) for i in range(count)])
        report = job.collect()
    # VmHWM: the peak of this process's own memory since exec. ru_maxrss is not that on Linux: it keeps the
    # high-water mark of the process that forked us (a large test runner, say) across exec.
    try:
        with open("/proc/self/status") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"lines": report.lines_done, "images": report.images_saved, "peak_mb": peak_kb / 1024}))
    """
)


def measure(server: LargeOutputServer, out: Path) -> dict[str, Any]:
    """Run a collect of the server's batch into ``out`` in a subprocess; its report and peak RSS in MB."""
    root = Path(__file__).resolve().parent.parent
    # A clean environment: what the test process (or a shell) has set must not change what is measured.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "generated")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", COLLECT_SCRIPT, server.base_url, str(out), str(server.lines)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Measure, print one line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=1024, help="size of the output file, in MB")
    parser.add_argument("--image-mb", type=float, default=6.0, help="size of each image before base64")
    args = parser.parse_args()
    line_bytes = args.image_mb * 1024 * 1024 * 4 / 3
    server = LargeOutputServer(
        lines=max(1, round(args.mb * 1024 * 1024 / line_bytes)), image_bytes=int(args.image_mb * 1024 * 1024)
    )
    server.start()
    try:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            result = measure(server, Path(out))
            seconds = time.perf_counter() - started
    finally:
        server.stop()
    print(
        f"collect of a {server.output_size / 1024**2:.0f} MB output file ({result['images']} images of "
        f"{args.image_mb:g} MB): peak RSS {result['peak_mb']:.0f} MB, {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
