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
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OAIImagesError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._version import __version__

if TYPE_CHECKING:
    from . import pricing, rules, types
    from ._azure import AsyncAzureImagesClient, AzureImagesClient
    from ._client import AsyncImagesClient, ImagesClient, generate
    from ._limits import RateLimit
    from ._results import CompletedImageEvent, GeneratedImage, ImageResult, PartialImageEvent
    from ._uploads import FileID, ImageURL

# The clients and results load httpx and the generated models: imported at first use, so that
# `oai-images --help` (whose module lives in this package) starts fast.
_LAZY = {
    "AsyncAzureImagesClient": "._azure",
    "AzureImagesClient": "._azure",
    "AsyncImagesClient": "._client",
    "ImagesClient": "._client",
    "generate": "._client",
    "CompletedImageEvent": "._results",
    "GeneratedImage": "._results",
    "ImageResult": "._results",
    "PartialImageEvent": "._results",
    "FileID": "._uploads",
    "ImageURL": "._uploads",
    "RateLimit": "._limits",
}
# Public modules, loaded at first use too: `oai_images.rules` loads the rules table, `oai_images.types` the
# generated types, `oai_images.pricing` the price table.
_SUBMODULES = frozenset({"pricing", "rules", "types"})

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncAzureImagesClient",
    "AsyncImagesClient",
    "AuthenticationError",
    "AzureImagesClient",
    "BadRequestError",
    "CompletedImageEvent",
    "ConflictError",
    "FileID",
    "GeneratedImage",
    "ImageResult",
    "ImageURL",
    "ImagesClient",
    "InternalServerError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OAIImagesError",
    "PartialImageEvent",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "UnprocessableEntityError",
    "__version__",
    "generate",
    "pricing",
    "rules",
    "types",
]


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # the import system sets the attribute
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
