"""The Batch API's JSON Lines, with no I/O but local files: input lines, parts, and result lines."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "LineResult",
    "LineSplitter",
    "Part",
    "PartWriter",
    "TooLong",
    "custom_id_in",
    "parse_result_line",
    "request_line",
]

#: The API's limits on one batch input file.
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024


def request_line(custom_id: str, body_json: str, url: str) -> bytes:
    """One input line: ``{"custom_id", "method": "POST", "url", "body"}`` and a newline.

    ``body_json`` is the body already written as compact JSON (as the journal keeps it).
    """
    head = json.dumps({"custom_id": custom_id, "method": "POST", "url": url}, separators=(",", ":"))
    return f'{head[:-1]},"body":{body_json}}}\n'.encode()


@dataclasses.dataclass
class Part:
    """One input file being written: its temporary path, and how many lines and bytes it holds."""

    number: int
    path: Path
    lines: int = 0
    bytes: int = 0


class PartWriter:
    """Writes input lines to temporary files, starting a new one before a file would pass the limits.

    Args:
        new_part: Called for each new file; returns its part number (the journal's).
        max_lines: Lines per file at most.
        max_bytes: Bytes per file at most.
        folder: Where the temporary files go; the system's temporary folder when None.
    """

    def __init__(
        self,
        new_part: Any,
        *,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
        folder: str | None = None,
    ) -> None:
        self._new_part = new_part
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._folder = folder
        self.parts: list[Part] = []
        self._file: IO[bytes] | None = None

    @property
    def current(self) -> Part | None:
        """The part being written, if any."""
        return self.parts[-1] if self.parts and self._file is not None else None

    def add(self, line: bytes) -> int:
        """Write a line; the number of the part it went to.

        Raises:
            ValueError: The line alone is larger than a file may be.
        """
        if len(line) > self._max_bytes:
            raise ValueError(f"a request line of {len(line)} bytes is larger than a batch file may be")
        part = self.current
        if part is None or part.lines >= self._max_lines or part.bytes + len(line) > self._max_bytes:
            part = self._start()
        assert self._file is not None  # _start opened it
        self._file.write(line)
        part.lines += 1
        part.bytes += len(line)
        return part.number

    def _start(self) -> Part:
        self._close_file()
        descriptor, name = tempfile.mkstemp(prefix="oai-images-batch-", suffix=".jsonl", dir=self._folder)
        self._file = os.fdopen(descriptor, "wb")
        part = Part(self._new_part(), Path(name))
        self.parts.append(part)
        return part

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> list[Part]:
        """Finish writing; the parts written."""
        self._close_file()
        return self.parts

    def discard(self) -> None:
        """Close and delete every file written."""
        self._close_file()
        for part in self.parts:
            part.path.unlink(missing_ok=True)


class LineSplitter:
    """Cuts a byte stream into text lines, holding at most one line's bytes.

    Written for result files whose lines are whole images in base64 (tens of megabytes each): a line's
    bytes collect in one buffer that is emptied as soon as the line is decoded to text, so a line exists
    at most twice (bytes and text) at once, never as the many pieces and joined copies of
    ``httpx.Response.iter_lines``. The lines come in a list that the reader empties with ``pop(0)``, so
    that no frame keeps a line alive after the reader dropped it.
    """

    def __init__(self, max_line_bytes: int = 2**40) -> None:
        self._buffer = bytearray()
        self._limit = max_line_bytes
        #: Bytes of the current line dropped past the cap (0: the line is within it).
        self._dropped = 0
        self._fed = 0

    @property
    def consumed(self) -> int:
        """Bytes fed so far that belong to whole lines (up to and with the last newline)."""
        return self._fed - len(self._buffer) - self._dropped

    def feed(self, chunk: bytes) -> list[str | TooLong]:
        """The lines that ``chunk`` completes (a line over the cap as a `TooLong`, its head kept)."""
        lines: list[str | TooLong] = []
        self._fed += len(chunk)
        view = memoryview(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            self._add(view[start:end])
            lines.append(self._take())
            start = end + 1
        self._add(view[start:])
        return lines

    def flush(self) -> list[str | TooLong]:
        """The last line, when the stream does not end with a newline."""
        return [self._take()] if self._buffer or self._dropped else []

    def _add(self, piece: memoryview) -> None:
        room = self._limit - len(self._buffer)
        if self._dropped or len(piece) > room:
            # Past the cap the line's bytes are counted, not kept: only its head stays, to name it.
            keep = max(0, min(room, _HEAD_BYTES - len(self._buffer)))
            self._buffer += piece[:keep]
            self._dropped += len(piece) - keep
            if len(self._buffer) > _HEAD_BYTES:
                del self._buffer[_HEAD_BYTES:]
            return
        self._buffer += piece

    def _take(self) -> str | TooLong:
        text = self._buffer.decode("utf-8", errors="replace")
        size = len(self._buffer) + self._dropped
        self._buffer.clear()
        if self._dropped:
            self._dropped = 0
            return TooLong(head=text, size=size)
        return text.removesuffix("\r")


#: How much of a line over the cap is kept: enough to find its custom id.
_HEAD_BYTES = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class TooLong:
    """A result line longer than the cap: its first bytes, and its whole length."""

    head: str
    size: int


_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def custom_id_in(text: str) -> str | None:
    """The custom id a result line names, found in its text even when the line is not whole JSON."""
    match = _CUSTOM_ID.search(text)
    if match is None:
        return None
    try:
        value = json.loads(f'"{match.group(1)}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


@dataclasses.dataclass(frozen=True, slots=True)
class LineResult:
    """One line of an output or error file.

    Attributes:
        custom_id: The request's custom id.
        status_code: The status of the request's answer, or None when it got none.
        body: The answer's JSON body (an images response when ``ok``), or None.
        error_code: The error's code, for a failed request.
        error_message: The error's message, for a failed request.
        request_id: The answer's request id, when the line names it.
    """

    custom_id: str
    status_code: int | None
    body: dict[str, Any] | None
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        """The request succeeded: its body holds the images."""
        return self.status_code is not None and 200 <= self.status_code < 300 and self.body is not None


def parse_result_line(text: str) -> LineResult | None:
    """Read one line of an output or error file; None for a blank line.

    Raises:
        ValueError: The line is not a JSON object with a ``custom_id``.
    """
    if not text.strip():
        return None
    line = json.loads(text)
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        raise ValueError("a result line must be a JSON object with a custom_id")
    response = line.get("response")
    status = body = None
    if isinstance(response, dict):
        raw_status = response.get("status_code")
        status = raw_status if isinstance(raw_status, int) else None
        body = response.get("body") if isinstance(response.get("body"), dict) else None
    rid = response.get("request_id") if isinstance(response, dict) else None
    result = LineResult(line["custom_id"], status, body, request_id=rid if isinstance(rid, str) else None)
    if result.ok:
        return result
    error = line.get("error")
    if not isinstance(error, dict) and body is not None:
        error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    message = error.get("message")
    return dataclasses.replace(
        result,
        error_code=str(code) if code is not None else None,
        error_message=str(message) if message else f"the request failed with status {status}",
    )
