"""The public surface of the facade: the curated names, the error tree, and a light import."""

from __future__ import annotations

import subprocess
import sys

import oai_images

# The public Python API of /work/shared/PRODUCT.md ("Public Python API"), plus what issue 3 adds to it:
# ImageResult and GeneratedImage (results), the two stream events, and __version__; and from PRODUCT's
# wave 2, MissingAPIKeyError, APIResponseValidationError and the public modules rules and types; issue 11
# adds ImageURL and FileID (edit inputs given by reference); issue 23 the public module pricing (PRODUCT's
# wave 3: `oai_images.pricing.estimate`).
# Hard-coded on purpose: a name added to or dropped from __all__ must be a decision, made here and in
# PRODUCT.md.
EXPECTED_ALL = [
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


def test_all_is_the_documented_public_api() -> None:
    """__all__ lists exactly the names PRODUCT.md makes public, sorted."""
    assert oai_images.__all__ == EXPECTED_ALL
    assert sorted(oai_images.__all__) == oai_images.__all__


def test_every_public_name_resolves() -> None:
    """Each name in __all__ is an attribute of the package, and dir() shows them."""
    for name in oai_images.__all__:
        assert getattr(oai_images, name) is not None
    assert set(oai_images.__all__) <= set(dir(oai_images))


def test_unknown_attribute_raises_attribute_error() -> None:
    """The lazy loader does not invent names."""
    assert not hasattr(oai_images, "ImagesManager")


def test_error_tree_matches_product() -> None:
    """Every error is an OAIImagesError; status errors and the timeout sit under their parents."""
    assert issubclass(oai_images.InvalidParameterError, ValueError)
    assert issubclass(oai_images.APITimeoutError, oai_images.APIConnectionError)
    status_errors = (
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "UnprocessableEntityError",
        "RateLimitError",
        "InternalServerError",
    )
    for name in status_errors:
        assert issubclass(getattr(oai_images, name), oai_images.APIStatusError)
    for name in ("InvalidParameterError", "APIConnectionError", "APIStatusError"):
        assert issubclass(getattr(oai_images, name), oai_images.OAIImagesError)


def test_version_is_the_installed_one() -> None:
    """__version__ is the distribution's version, also sent in the User-Agent."""
    from importlib.metadata import version

    assert oai_images.__version__ == version("oai-images")


def test_import_is_light() -> None:
    """Importing the package loads neither httpx nor the emulator's server or Pillow until needed."""
    code = (
        "import sys, oai_images\n"
        "heavy = ('httpx', 'starlette', 'uvicorn', 'PIL', 'oai_images._client', 'oai_images_emulator')\n"
        "print([name for name in heavy if name in sys.modules])\n"
        "oai_images.ImagesClient\n"
        "print([name for name in ('starlette', 'PIL') if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "[]"]
