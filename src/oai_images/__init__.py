"""oai-images: OpenAI image generation with every documented rule checked before a paid request.

::

    import oai_images

    with oai_images.ImagesClient() as client:
        result = client.generate("a lighthouse at dusk", model="dall-e-3", size="1792x1024")
        print(result.images[0].save("images/"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidParameterError,
    NotFoundError,
    OAIImagesError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncImagesClient, ImagesClient, generate
    from ._results import CompletedImageEvent, GeneratedImage, ImageResult, PartialImageEvent

# The clients and results load httpx and the generated models: imported at first use, so that
# `oai-images --help` (whose module lives in this package) starts fast.
_LAZY = {
    "AsyncImagesClient": "._client",
    "ImagesClient": "._client",
    "generate": "._client",
    "CompletedImageEvent": "._results",
    "GeneratedImage": "._results",
    "ImageResult": "._results",
    "PartialImageEvent": "._results",
}

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncImagesClient",
    "AuthenticationError",
    "BadRequestError",
    "CompletedImageEvent",
    "ConflictError",
    "GeneratedImage",
    "ImageResult",
    "ImagesClient",
    "InternalServerError",
    "InvalidParameterError",
    "NotFoundError",
    "OAIImagesError",
    "PartialImageEvent",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "__version__",
    "generate",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
