"""The types users annotate with, generated from the spec: each enum as a ``Literal``, and each operation's
keyword arguments as a ``TypedDict``.

::

    from oai_images.types import GenerateParams, ImageSize

    def thumbnail_options(size: ImageSize = "1024x1024") -> GenerateParams:
        return {"model": "gpt-image-1.5", "size": size, "quality": "low"}

    client.generate("a fox", **thumbnail_options())

All of them are re-exported from the generated package (``make generate`` writes them from
``openapi/images.yaml``); nothing here is written by hand but the names.
"""  # noqa: D205 - the summary names both kinds of type

from __future__ import annotations

from oai_images_api.api.images import (
    CreateImageBody as GenerateBody,
)
from oai_images_api.api.images import (
    CreateImageEditParams as EditParams,
)
from oai_images_api.api.images import (
    CreateImageParams as GenerateParams,
)
from oai_images_api.api.images import (
    CreateImageVariationParams as VariationParams,
)
from oai_images_api.api.images import (
    ImageRefParamDict,
    SvgOptionsDict,
    SvgOptionsReasoningDict,
)
from oai_images_api.models.image_background import ImageBackground
from oai_images_api.models.image_model import ImageModel
from oai_images_api.models.image_moderation import ImageModeration
from oai_images_api.models.image_output_format import ImageOutputFormat
from oai_images_api.models.image_quality import ImageQuality
from oai_images_api.models.image_response_format import ImageResponseFormat
from oai_images_api.models.image_size import ImageSize
from oai_images_api.models.image_style import ImageStyle
from oai_images_api.models.input_fidelity import InputFidelity

__all__ = [
    "EditParams",
    "GenerateBody",
    "GenerateParams",
    "ImageBackground",
    "ImageModel",
    "ImageModeration",
    "ImageOutputFormat",
    "ImageQuality",
    "ImageRefParamDict",
    "ImageResponseFormat",
    "ImageSize",
    "ImageStyle",
    "InputFidelity",
    "SvgOptionsDict",
    "SvgOptionsReasoningDict",
    "VariationParams",
]
