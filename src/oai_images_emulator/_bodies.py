"""Request bodies capped by route, before anything reads them whole.

Each route has a cap from the config: small for JSON (generations, batches), larger for multipart edits and
variations, largest for file uploads. A declared ``content-length`` over the cap is answered 413 at once,
without reading a byte; a body that streams past it (chunked, or longer than declared) stops the request
the moment it does, with the same 413, so the emulator never holds more than a cap's worth of it.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope

from ._config import EmulatorConfig
from ._protocol import error

__all__ = ["BodyTooLarge", "body_limit", "capped", "declared_length", "too_large"]

#: Multipart uploads of images: edits (OpenAI's and Azure's) and variations.
_IMAGE_UPLOADS: Final = re.compile(r"(/v1|/openai/v1|/openai/deployments/[^/]+)/images/(edits|variations)")
#: File uploads (OpenAI's and Azure's).
_FILE_UPLOADS: Final = re.compile(r"(/v1|/openai(/v1)?)/files")


class BodyTooLarge(Exception):
    """Raised by a capped ``receive`` when the body passes its route's cap."""

    def __init__(self, limit: int, path: str) -> None:
        super().__init__(f"the body of {path} is larger than {limit} bytes")
        self.limit = limit
        self.path = path


def body_limit(config: EmulatorConfig, path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    if _IMAGE_UPLOADS.fullmatch(path):
        return config.max_edit_body_bytes
    if _FILE_UPLOADS.fullmatch(path):
        return config.max_file_body_bytes
    return config.max_json_body_bytes


def declared_length(scope: Scope) -> int | None:
    """The request's ``content-length``, or None when it has none (or not a number)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def capped(receive: Receive, limit: int, path: str) -> Receive:
    """``receive``, raising `BodyTooLarge` as soon as the body read so far passes ``limit``."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit, path)
        return message

    return receive_capped


def too_large(limit: int, path: str) -> JSONResponse:
    """The 413 of a body over its route's cap, in the API's error envelope."""
    message = (
        f"Request body too large for {path}: the limit is {limit:,} bytes (the emulator's cap for this "
        "route; see oai-images serve --help)."
    )
    return error(413, message, code="request_too_large", headers={"connection": "close"})
