"""The model table: what each model and operation accepts, as data (re-exported by `oai_images.rules`).

Per model (`MODEL_RULES`): which values, fields and sizes it accepts, its prompt length and ``n``, the
API's defaults, the cross-field rules of its family (`Requires`) and its input images' rules (`InputRules`);
per operation (`OPERATION_RULES`): which models may do it and the default model. This is the one place per
model fact; validation (`._validate`), the emulator, the command line's help and ``oai-images models`` read
it.

Sources: ``openapi/images.yaml`` (OpenAI's spec of 2026-08 brought up to the API of November 2026; its
header lists every change and why), and for dall-e-2 and dall-e-3 the ``Get-OAIImageGeneration`` function
of the PSAI PowerShell module, whose rules hold exactly. ``tests/test_rules.py`` proves the table and the
generated enums agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from oai_images_api.api import Operation

Family = Literal["dall-e", "gpt-image"]

#: The model the API uses when the request names none and sets no field only the GPT models take.
DEFAULT_MODEL: Final = "dall-e-2"
#: The model whose rules apply when no model is named but a GPT-only field is set: the API then picks a
#: GPT image model; these are the rules all GPT image models share.
DEFAULT_GPT_MODEL: Final = "gpt-image-1"


@dataclass(frozen=True, slots=True)
class Requires:
    """A cross-field rule: when ``field`` is set (to one of ``values``; to anything when ``values`` is
    empty), ``other`` must be one of ``allowed`` (its API default counts when it is not set).

    Attributes:
        field: The field whose value brings the rule into force.
        values: The values of ``field`` that do; empty for any value.
        other: The field the rule constrains.
        allowed: The values ``other`` may then have.
        blame: Which of the two the error names: ``"field"`` (it is not accepted with ``other`` as it is)
            or ``"other"`` (``other`` is not valid with ``field`` as it is).
    """  # noqa: D205 - the summary is one sentence over two lines

    field: str
    values: tuple[object, ...]
    other: str
    allowed: tuple[object, ...]
    blame: Literal["field", "other"] = "field"


#: The documented cross-field rules of the GPT image models.
GPT_CROSS_FIELD_RULES: Final = (
    # The API's own defaults are not refused when sent explicitly (partial_images 0, output_compression 100):
    # the official spec's example of a JSON edit sends output_compression 100 with PNG.
    Requires("partial_images", (1, 2, 3), "stream", (True,)),
    Requires("output_compression", tuple(range(100)), "output_format", ("jpeg", "webp")),
    Requires("background", ("transparent",), "output_format", ("png", "webp")),
    Requires("frame_count", (), "output_format", ("gif",)),
    Requires("frame_duration_ms", (), "output_format", ("gif",)),
    Requires("svg", (), "output_format", ("svg",)),
    Requires("output_format", ("svg",), "n", (1,), blame="other"),
)


@dataclass(frozen=True, slots=True)
class InputRules:
    """What a model accepts as input images (edits and variations).

    Attributes:
        formats: The real formats it takes (``png``, ``jpeg``, ``webp``).
        max_bytes: Each image must be smaller than this.
        max_images: The most images one edit may take.
        square: Whether each image must be square.
        alpha_without_mask: Whether an image edited without a mask must have an alpha channel (its
            transparent pixels are then the mask).
        mask_max_bytes: A mask must be smaller than this (a mask is always a PNG with an alpha channel and
            the dimensions of the first image).
    """

    formats: tuple[str, ...]
    max_bytes: int
    max_images: int
    square: bool = False
    alpha_without_mask: bool = False
    mask_max_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelRules:
    """What one model accepts.

    Attributes:
        family: ``"dall-e"`` or ``"gpt-image"``.
        max_prompt_chars: The longest prompt, in characters.
        max_n: The most images one request may ask for (n from 1 to this).
        values: For the fields whose values depend on the model, the values it accepts, in the order the
            documentation lists them (``size`` holds the named sizes).
        unsupported: Fields the model does not accept at all.
        free_sizes: Whether any ``WxH`` within the free-size rule is accepted besides the named sizes.
        defaults: What the API uses for a field that is not sent.
        requires: The cross-field rules of the model's family.
        note: Anything a user should know, such as a retirement date.
        inputs: What it accepts as input images; None when it cannot edit.
        variations: Whether it makes variations of an image.
    """

    family: Family
    max_prompt_chars: int
    max_n: int
    values: Mapping[str, tuple[str, ...]]
    unsupported: frozenset[str] = frozenset()
    free_sizes: bool = False
    defaults: Mapping[str, object] = field(default_factory=dict)
    requires: tuple[Requires, ...] = ()
    note: str = ""
    inputs: InputRules | None = None
    variations: bool = False

    def allowed(self, name: str) -> tuple[str, ...]:
        """The values this model accepts for ``name``: empty when it takes no such field or any value."""
        if name in self.unsupported:
            return ()
        return self.values.get(name, ())

    @property
    def sizes(self) -> tuple[str, ...]:
        """The named sizes, in documented order."""
        return self.values.get("size", ())

    def accepts(self, name: str) -> bool:
        """Whether the model takes the field at all."""
        return name not in self.unsupported


# The free-size rule of gpt-image-2 and later (spec 2026-08, `size`): both sides multiples of 16, aspect
# ratio between 1:3 and 3:1, at most 3840x2160 (read as: long edge at most 3840, pixels at most 3840*2160).
_FREE_SIZE_STEP: Final = 16
_FREE_SIZE_MAX_RATIO: Final = 3
_FREE_SIZE_MAX_EDGE: Final = 3840
_FREE_SIZE_MAX_PIXELS: Final = 3840 * 2160
FREE_SIZE_RULE: Final = "WxH with W and H multiples of 16, aspect ratio 1:3 to 3:1, at most 3840x2160"

_SIZE_PATTERN: Final = re.compile(r"([1-9][0-9]{0,5})x([1-9][0-9]{0,5})")

_RETIRED_DALL_E = "retired by OpenAI on 2026-05-12; still served by compatible servers"
# Fields only the GPT image models take; the dall-e models refuse them.
_GPT_ONLY = frozenset(
    {
        "background",
        "moderation",
        "output_format",
        "output_compression",
        "stream",
        "partial_images",
        "complexity",
        "frame_count",
        "frame_duration_ms",
        "svg",
        "input_fidelity",
        "markup",
    }
)
_MB: Final = 1024 * 1024
# dall-e-2 edits and variations: one square PNG under 4 MB; edited without a mask, its transparent pixels are
# the mask (spec of 2024-03: "If mask is not provided, image must have transparency").
_DALL_E_2_INPUTS = InputRules(
    formats=("png",), max_bytes=4 * _MB, max_images=1, square=True, alpha_without_mask=True
)
# The GPT image models: up to 16 PNG, WebP or JPEG files, each under 50 MB (spec of 2026-08, the 3.51 client).
_GPT_INPUTS = InputRules(formats=("png", "webp", "jpeg"), max_bytes=50 * _MB, max_images=16)
_DALL_E_DEFAULTS: Mapping[str, object] = {
    "n": 1,
    "quality": "standard",
    "response_format": "url",
    "size": "1024x1024",
}
_DALL_E_2 = ModelRules(
    family="dall-e",
    max_prompt_chars=1000,
    max_n=10,
    values={
        "size": ("256x256", "512x512", "1024x1024"),
        "quality": ("standard",),
        "response_format": ("url", "b64_json"),
    },
    unsupported=_GPT_ONLY | {"style"},
    defaults=_DALL_E_DEFAULTS,
    note=_RETIRED_DALL_E,
    inputs=_DALL_E_2_INPUTS,
    variations=True,
)
_DALL_E_3 = ModelRules(
    family="dall-e",
    max_prompt_chars=4000,
    max_n=1,
    values={
        "size": ("1024x1024", "1792x1024", "1024x1792"),
        "quality": ("standard", "hd"),
        "response_format": ("url", "b64_json"),
        "style": ("vivid", "natural"),
    },
    unsupported=_GPT_ONLY,
    defaults={**_DALL_E_DEFAULTS, "style": "vivid"},
    note=_RETIRED_DALL_E,
)
# The GPT image models. gif and svg output are preview formats that the API ties to no model (access
# is granted per account), so every GPT image model may ask for them: the server, not a guess here, says
# no to an account without the preview.
_GPT_IMAGE_1 = ModelRules(
    family="gpt-image",
    max_prompt_chars=32000,
    max_n=10,
    values={
        "size": ("1024x1024", "1536x1024", "1024x1536", "auto"),
        "quality": ("low", "medium", "high", "auto"),
        "background": ("transparent", "opaque", "auto"),
        "moderation": ("low", "auto"),
        "output_format": ("png", "jpeg", "webp", "gif", "svg"),
        "input_fidelity": ("high", "low"),
    },
    # markup (3.51 client: "Supports GPT Image 2.5") is for gpt-image-2.5 and the models after it.
    unsupported=frozenset({"response_format", "style", "markup"}),
    defaults={
        "n": 1,
        "quality": "auto",
        "size": "auto",
        "background": "auto",
        "moderation": "auto",
        "output_format": "png",
        "output_compression": 100,
        "stream": False,
        "partial_images": 0,
    },
    requires=GPT_CROSS_FIELD_RULES,
    inputs=_GPT_INPUTS,
)
# input_fidelity (3.51 client): gpt-image-1 and -1.5 take high and low, gpt-image-1-mini only low, and
# gpt-image-2 refuses it ("for gpt-image-2, omit this parameter"), so its successors are taken to as well.
_GPT_IMAGE_1_MINI = replace(_GPT_IMAGE_1, values={**_GPT_IMAGE_1.values, "input_fidelity": ("low",)})
# gpt-image-2 (and its dated name) adds free WxH sizes.
_GPT_IMAGE_2 = replace(
    _GPT_IMAGE_1,
    free_sizes=True,
    unsupported=_GPT_IMAGE_1.unsupported | {"input_fidelity"},
)
# gpt-image-2.5-* adds the xhigh and max qualities ("xhigh/max: gpt-image-2.5-* only") and an edit's markup.
_GPT_IMAGE_2_5 = replace(
    _GPT_IMAGE_2,
    values={**_GPT_IMAGE_2.values, "quality": ("low", "medium", "high", "xhigh", "max", "auto")},
    unsupported=_GPT_IMAGE_2.unsupported - {"markup"},
)
# gpt-image-2.6-* and chatgpt-image-latest are named by the API, but their sizes are not documented:
# rather than refuse a paid request on a guess, they take free sizes too. xhigh and max stay 2.5-only, as
# the API documents in so many words.
_GPT_UNDESCRIBED = replace(
    _GPT_IMAGE_2,
    # input_fidelity is not documented for them either: the server decides, not a guess here.
    unsupported=_GPT_IMAGE_1.unsupported - {"markup"},
    note="sizes not documented: checked as gpt-image-2's, free WxH sizes included",
)

#: The rules of every model the documentation names, by model name.
MODEL_RULES: Final[Mapping[str, ModelRules]] = {
    "dall-e-2": _DALL_E_2,
    "dall-e-3": _DALL_E_3,
    "gpt-image-1": replace(
        _GPT_IMAGE_1, note="shut down by OpenAI on 2026-10-23; still served by compatible servers"
    ),
    "gpt-image-1-mini": _GPT_IMAGE_1_MINI,
    "gpt-image-1.5": _GPT_IMAGE_1,
    "gpt-image-2": _GPT_IMAGE_2,
    "gpt-image-2-2026-04-21": _GPT_IMAGE_2,
    "gpt-image-2.5-sunburst": _GPT_IMAGE_2_5,
    "gpt-image-2.5-sunburst-2026-09-08": _GPT_IMAGE_2_5,
    "gpt-image-2.5-flare": _GPT_IMAGE_2_5,
    "gpt-image-2.5-flare-2026-09-08": _GPT_IMAGE_2_5,
    "gpt-image-2.6-sunburst": _GPT_UNDESCRIBED,
    "gpt-image-2.6-flare": _GPT_UNDESCRIBED,
    # An alias that follows the model ChatGPT uses.
    "chatgpt-image-latest": _GPT_UNDESCRIBED,
}


@dataclass(frozen=True, slots=True)
class OperationRules:
    """Which models can do an operation, and which one the API uses when the request names none.

    Attributes:
        default_model: The model the API uses when none is named and no GPT-only field is set.
        gpt_default_model: The model whose rules apply when none is named but a GPT-only field is set.
        can: Which known models take the operation: ``"all"``, ``"inputs"`` (those with input rules),
            ``"gpt-inputs"`` (GPT image models with input rules) or ``"variations"``.
        label: The operation in messages (``edit images``).
    """

    default_model: str
    gpt_default_model: str
    can: Literal["all", "inputs", "gpt-inputs", "variations"]
    label: str

    def takes(self, rules: ModelRules) -> bool:
        """Whether a model with these rules can do the operation."""
        if self.can == "inputs":
            return rules.inputs is not None
        if self.can == "gpt-inputs":
            return rules.inputs is not None and rules.family == "gpt-image"
        if self.can == "variations":
            return rules.variations
        return True

    def models(self) -> tuple[str, ...]:
        """The known models that can do the operation, in table order."""
        return tuple(name for name, rules in MODEL_RULES.items() if self.takes(rules))


#: Per operation (by the generated Operation's name): which models take it and the API's default model.
#: The edits' default is the spec's (2026-08: "Defaults to gpt-image-1.5"); JSON edits are for the GPT image
#: models only ("DALL-E edits require multipart"); variations are dall-e-2's alone.
OPERATION_RULES: Final[Mapping[str, OperationRules]] = {
    "create_image": OperationRules(DEFAULT_MODEL, DEFAULT_GPT_MODEL, "all", "generate images"),
    "create_image_edit": OperationRules("gpt-image-1.5", "gpt-image-1.5", "inputs", "edit images"),
    "create_image_edit_json": OperationRules(
        "gpt-image-1.5", "gpt-image-1.5", "gpt-inputs", "edit images referenced by URL or file id"
    ),
    "create_image_variation": OperationRules("dall-e-2", "dall-e-2", "variations", "make variations"),
}
_GENERATIONS: Final = OPERATION_RULES["create_image"]


def operation_rules(operation: Operation[Any, Any] | str | None) -> OperationRules:
    """The rules of an operation (or its name); generations' for None or an operation the table lacks."""
    name = operation if isinstance(operation, str) or operation is None else operation.name
    return OPERATION_RULES.get(name or "create_image", _GENERATIONS)


def gpt_only_fields() -> frozenset[str]:
    """Fields the API's default model refuses but the GPT image models take: setting one without a model
    makes the API pick a GPT image model."""  # noqa: D205, D209 - one sentence over two lines
    return MODEL_RULES[DEFAULT_MODEL].unsupported - MODEL_RULES[DEFAULT_GPT_MODEL].unsupported


def parse_size(text: str) -> tuple[int, int] | None:
    """Width and height of a ``WxH`` size such as ``"1536x864"``; None for ``auto`` or anything else."""
    match = _SIZE_PATTERN.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def free_size_problem(width: int, height: int) -> str:
    """What breaks `FREE_SIZE_RULE` in a ``WxH`` size, in words, or ``""`` when the size keeps it."""
    if width % _FREE_SIZE_STEP or height % _FREE_SIZE_STEP:
        return "width and height must be multiples of 16"
    if max(width, height) > _FREE_SIZE_MAX_RATIO * min(width, height):
        return "the aspect ratio must be between 1:3 and 3:1"
    if max(width, height) > _FREE_SIZE_MAX_EDGE or width * height > _FREE_SIZE_MAX_PIXELS:
        return "the largest size is 3840x2160"
    return ""


def resolve_model(
    fields: Mapping[str, object], operation: Operation[Any, Any] | str | None = None
) -> str | None:
    """The model whose rules apply to a request, or None for a model the table does not know.

    With no model named the API's documented default applies: for generations dall-e-2, unless a GPT-only
    field is set, in which case the rules all GPT image models share apply; for edits gpt-image-1.5; for
    variations dall-e-2 (`OPERATION_RULES`).

    Args:
        fields: The request's fields.
        operation: The operation (or its name); None for generations.
    """
    model = fields.get("model")
    if model is None:
        rules = operation_rules(operation)
        if not gpt_only_fields().isdisjoint(fields):
            return rules.gpt_default_model
        return rules.default_model
    if isinstance(model, str) and model in MODEL_RULES:
        return model
    return None


def effective_fields(
    fields: Mapping[str, object], operation: Operation[Any, Any] | str | None = None
) -> dict[str, object]:
    """The request as the API reads it: the fields set, and the API's defaults of its model for the rest.

    A model the table does not know gets no defaults; ``operation`` as for `resolve_model`.
    """
    model = resolve_model(fields, operation)
    defaults = MODEL_RULES[model].defaults if model is not None else {}
    return {**defaults, **fields}
