"""oai-images: OpenAI image generation with every documented rule checked before a paid request.

::

    import oai_images

    with oai_images.ImagesClient() as client:
        result = client.generate("a lighthouse at dusk", model="dall-e-3", size="1792x1024")
        print(result.images[0].save("images/"))
"""

from __future__ import annotations

from ._client import AsyncImagesClient, ImagesClient, generate
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
from ._results import CompletedImageEvent, GeneratedImage, ImageResult, PartialImageEvent
from ._version import __version__

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
