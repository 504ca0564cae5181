"""The generated operations the facade sends, typed, loaded at the first request.

``import oai_images`` does not load the generated models (attrs is slow to import); the first request does,
through `operations`. Each entry keeps the generated `Operation`'s types, so the code that sends it and
reads its answer is typed end to end (``operations().retrieve_batch`` reads a ``Batch``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oai_images_api.api import Operation
    from oai_images_api.models import (
        Batch,
        CreateBatchRequest,
        CreateFileRequest,
        CreateImageEditRequest,
        CreateImageRequest,
        CreateImageVariationRequest,
        EditImageBodyJsonParam,
        ImagesResponse,
        ListBatchesResponse,
        OpenAIFile,
    )

__all__ = ["Operations", "operations"]


@dataclass(frozen=True, slots=True)
class Operations:
    """The operations of the spec that the facade, bulk runs and the Batch API send."""

    create_image: Operation[CreateImageRequest, ImagesResponse]
    create_image_edit: Operation[CreateImageEditRequest, ImagesResponse]
    create_image_edit_json: Operation[EditImageBodyJsonParam, ImagesResponse]
    create_image_variation: Operation[CreateImageVariationRequest, ImagesResponse]
    create_file: Operation[CreateFileRequest, OpenAIFile]
    download_file: Operation[None, None]
    create_batch: Operation[CreateBatchRequest, Batch]
    list_batches: Operation[None, ListBatchesResponse]
    retrieve_batch: Operation[None, Batch]
    cancel_batch: Operation[None, Batch]


@functools.cache
def operations() -> Operations:
    """The operations, imported from the generated package at the first call."""
    from oai_images_api.api import batch, files, images  # noqa: PLC0415 - see the module's docstring

    return Operations(
        create_image=images.CREATE_IMAGE,
        create_image_edit=images.CREATE_IMAGE_EDIT,
        create_image_edit_json=images.CREATE_IMAGE_EDIT_JSON,
        create_image_variation=images.CREATE_IMAGE_VARIATION,
        create_file=files.CREATE_FILE,
        download_file=files.DOWNLOAD_FILE,
        create_batch=batch.CREATE_BATCH,
        list_batches=batch.LIST_BATCHES,
        retrieve_batch=batch.RETRIEVE_BATCH,
        cancel_batch=batch.CANCEL_BATCH,
    )
