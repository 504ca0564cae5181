"""Small ASGI steps the emulator's layers share."""

from __future__ import annotations

from starlette.types import Receive

__all__ = ["read_body"]


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
