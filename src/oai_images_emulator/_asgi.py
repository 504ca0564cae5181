"""Small ASGI steps the emulator's layers share."""

from __future__ import annotations

from starlette.types import Receive

__all__ = ["read_body", "read_prefix"]


async def read_body(receive: Receive) -> bytes:
    """The whole body of a request, read from its ``http.request`` messages."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def read_prefix(receive: Receive, size: int) -> tuple[list[bytes], bool]:
    """The start of a request's body: its chunks until more than ``size`` bytes came or the body ended.

    Returns:
        The chunks read (the last may take them past ``size``), and whether more of the body is to come.
    """
    chunks: list[bytes] = []
    total = 0
    while total <= size:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        total += len(chunk)
        if not message.get("more_body", False):
            return chunks, False
    return chunks, True
