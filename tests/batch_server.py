"""A loopback Batch API server with one completed batch whose output file is large, for memory tests.

The output file is never held anywhere: its lines (one real, incompressible PNG each, base64) are
written to the socket as they are made. Every upload is read and thrown away; every batch created is
already completed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


if __name__ == "__main__":  # pragma: no cover - a manual look: python -m tests.batch_server
    server = LargeOutputServer(lines=2, image_bytes=1024)
    print(server.output_size, os.getpid())
