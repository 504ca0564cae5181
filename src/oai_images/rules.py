"""What each model accepts, as data, and the check that applies it before a request is sent.

Three layers, all read from data:

1. **The schema** (model-independent), read from the generated code: which fields an operation has,
   their types and enum members (the operation's ``TypedDict``), and their ranges, lengths and patterns
   (the operation's ``FieldInfo``). A field added to the spec is known here after ``make generate``,
   with no edit to this module. These checks apply to every request, also for a model this table does not
   know (a compatible server's own).
2. **The models** (`MODEL_RULES`): which values, fields and sizes each model accepts, its prompt length and
   ``n``, the API's defaults, and the cross-field rules of its family (`Requires`). This is the one place
   per model fact; the emulator, the command line's help and ``oai-images models`` read it too.
3. **The input images** of edits and variations: each model's `InputRules` (formats, bytes, count, square,
   alpha), the mask's rules, and `OPERATION_RULES` (which models may edit or vary, and the default model
   per operation). An input is checked as an `ImageInfo`, which the facade reads from a file's first bytes
   and the emulator from the decoded image.

Sources: ``openapi/images.yaml`` (OpenAI's spec of 2026-08 brought up to the API of November 2026; its
header lists every change and why), and for dall-e-2 and dall-e-3 the ``Get-OAIImageGeneration`` function
of the PSAI PowerShell module, whose rules hold exactly. ``tests/test_rules.py`` proves the table and the
generated enums agree.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from ._errors import InvalidParameterError

if TYPE_CHECKING:
    from oai_images_api.api import FieldInfo, Operation

__all__ = [
    "DEFAULT_GPT_MODEL",
    "DEFAULT_MODEL",
    "GPT_CROSS_FIELD_RULES",
    "MODEL_RULES",
    "OPERATION_RULES",
    "FieldSchema",
    "ImageInfo",
    "InputRules",
    "ModelRules",
    "OperationRules",
    "Requires",
    "effective_fields",
    "field_schemas",
    "gpt_only_fields",
    "known_fields",
    "parse_size",
    "resolve_model",
    "validate",
]

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
class ImageInfo:
    """What the rules need to know of one input image (an edit's image or mask, a variation's image).

    The facade reads it from the file's first bytes (``oai_images`` never needs Pillow for this); the
    emulator from the decoded image.

    Attributes:
        format: The real format, from the bytes' magic numbers: ``png``, ``jpeg``, ``webp``, ``gif``, or
            ``""`` when the bytes are no image format the API knows.
        width: The width in pixels (0 when unknown).
        height: The height in pixels (0 when unknown).
        byte_size: The file's size in bytes.
        has_alpha: Whether the image has an alpha channel (PNG: colour type with alpha or a tRNS chunk).
        name: How messages name the input: its path, or ``<bytes>``, ``<file object>``.
    """

    format: str
    width: int
    height: int
    byte_size: int
    has_alpha: bool = False
    name: str = ""


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


def _operation_rules(operation: Operation | str | None) -> OperationRules:
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


def resolve_model(fields: Mapping[str, object], operation: Operation | str | None = None) -> str | None:
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
        rules = _operation_rules(operation)
        if not gpt_only_fields().isdisjoint(fields):
            return rules.gpt_default_model
        return rules.default_model
    if isinstance(model, str) and model in MODEL_RULES:
        return model
    return None


def effective_fields(
    fields: Mapping[str, object], operation: Operation | str | None = None
) -> dict[str, object]:
    """The request as the API reads it: the fields set, and the API's defaults of its model for the rest.

    A model the table does not know gets no defaults; ``operation`` as for `resolve_model`.
    """
    model = resolve_model(fields, operation)
    defaults = MODEL_RULES[model].defaults if model is not None else {}
    return {**defaults, **fields}


# --- the schema, read from the generated operation ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSchema:
    """One field's model-independent rule: its types (from the TypedDict), and constraints (FieldInfo).

    Attributes:
        name: The field's name in the request body.
        kinds: The JSON kinds it takes, among ``str``, ``int``, ``float``, ``bool``, ``object``, ``enum``
            (only the values listed) and ``any``.
        values: The enum's members; with ``str`` in ``kinds`` they are only the known values.
        nested: The fields of an object, by name.
        models: The generated models accepted for an object (sent as their ``to_dict()``).
        info: What the spec says of the field beyond its type: description, range, length, pattern.
    """

    name: str
    kinds: frozenset[str]  # among "str", "int", "float", "bool", "object", "any"
    values: tuple[str, ...] = ()  # the enum members; with "str" in kinds they are only suggestions
    nested: Mapping[str, FieldSchema] | None = None  # the fields of an object
    models: tuple[type[Any], ...] = ()  # generated models accepted for an object (as their to_dict())
    info: FieldInfo | None = None

    def describe(self) -> str:  # noqa: PLR0911 - one return per kind of field
        """What is allowed, in words, for error messages."""
        info = self.info
        if self.values and "str" not in self.kinds:
            return ", ".join(self.values)
        if "int" in self.kinds:
            low = None if info is None or info.minimum is None else int(info.minimum)
            high = None if info is None or info.maximum is None else int(info.maximum)
            if low is not None and high is not None:
                return f"an integer from {low} to {high}"
            if low is not None:
                return f"an integer from {low} up"
            return "an integer" if high is None else f"an integer up to {high}"
        if "bool" in self.kinds:
            return "true or false"
        if "object" in self.kinds and self.nested is not None:
            return f"an object with the keys {', '.join(self.nested)}"
        if "str" in self.kinds:
            if info is not None and info.pattern and info.pattern != _NOT_BLANK:
                return f"a string matching {info.pattern}"
            if info is not None and (info.min_length or info.pattern):
                return "a string that is not empty or only white space"
            return "a string"
        return "any value"


#: The pattern of a string that must hold a character other than white space (the prompt, a model name).
_NOT_BLANK: Final = "\\S"
_SCALARS: Final[Mapping[object, str]] = {str: "str", int: "int", float: "float", bool: "bool"}


def _schema(name: str, hint: object, info: FieldInfo | None, nested: Mapping[type[Any], Any]) -> FieldSchema:
    """The rule of one field from its type hint: a union of Literals, scalars, models and TypedDicts."""
    kinds: set[str] = set()
    values: list[str] = []
    models: list[type[Any]] = []
    fields: Mapping[str, FieldSchema] | None = None
    for arg in _union_args(hint):
        if arg is type(None):
            continue
        if typing.get_origin(arg) is Literal:
            values.extend(str(value) for value in typing.get_args(arg))
        elif arg in _SCALARS:
            kinds.add(_SCALARS[arg])
        elif typing.is_typeddict(arg):
            kinds.add("object")
            typed = cast("type[Any]", arg)
            fields = _typeddict_schema(typed, nested.get(typed, {}), nested)
        elif isinstance(arg, type) and hasattr(arg, "from_dict"):
            kinds.add("object")
            models.append(arg)
        else:  # a type this module does not read (a list, Any): the server decides
            kinds.add("any")
    if values and not kinds:
        kinds.add("enum")
    return FieldSchema(name, frozenset(kinds), tuple(values), fields, tuple(models), info)


def _union_args(hint: object) -> tuple[object, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _typeddict_schema(
    params: type[Any], infos: Mapping[str, FieldInfo], nested: Mapping[type[Any], Any]
) -> dict[str, FieldSchema]:
    hints = typing.get_type_hints(params)
    return {name: _schema(name, hint, infos.get(name), nested) for name, hint in hints.items()}


@functools.cache
def field_schemas(operation: Operation) -> Mapping[str, FieldSchema]:
    """Every body field of an operation, the required ones first, from the TypedDict of its whole body.

    This is how the command line builds its options and the emulator knows the fields: from the
    generated code, so a field added to the spec needs no edit anywhere else.
    """
    if operation.body_dict is None:  # an operation without a body (GET /batches/{batch_id}, say)
        return {}
    schema = _typeddict_schema(operation.body_dict, operation.fields, operation.nested)
    required = {name: schema[name] for name in operation.required}
    return {**required, **schema}


def known_fields(operation: Operation) -> tuple[str, ...]:
    """The body fields of an operation, required ones first, in the spec's order."""
    return tuple(field_schemas(operation))


# --- validation -----------------------------------------------------------------------------------------


def validate(operation: Operation, fields: Mapping[str, object]) -> None:
    """Check a request against the schema and the rules of its model; raise on the first problem.

    Args:
        operation: The generated description of the operation (e.g. ``CREATE_IMAGE``).
        fields: The request body: field names mapped to the values the caller set. Fields not set must
            be absent (None is treated as a value and rejected).

    Raises:
        InvalidParameterError: Naming the field, the value, the model and what is allowed. Building the
            message never raises, whatever the value.
    """
    schema = field_schemas(operation)
    for name, value in fields.items():
        if name not in schema:
            known = ", ".join(schema)
            raise InvalidParameterError(
                name, value, tuple(schema), f"unknown parameter '{name}'; known: {known}"
            )
    for name in operation.required:
        if name not in fields:
            raise InvalidParameterError(name, None, (schema[name].describe(),), f"{name} is required")
    if "model" in fields:
        _check_field(schema["model"], fields["model"], None, "")
    model = resolve_model(fields, operation)
    rules = MODEL_RULES[model] if model is not None else None
    label = _label(model, fields, operation) if model is not None else ""
    if rules is not None:
        _check_operation(operation, rules, label, fields)
    for name, value in fields.items():
        if name == "model":
            continue
        info = schema[name].info
        if info is not None and info.binary:
            # Without a mask field (variations) no image is edited through its transparency.
            masked = "mask" in fields or "mask" not in schema
            _check_inputs(schema[name], value, rules, label, fields, masked=masked)
        else:
            _check_field(schema[name], value, rules, label)
    if rules is not None:
        _check_model(rules, label, fields)


def _check_field(rule: FieldSchema, value: object, rules: ModelRules | None, label: str) -> None:
    """One field: its type, the model's values for it (when the model restricts them), its constraints."""
    name = rule.name
    if rules is not None and not rules.accepts(name):
        _not_accepted(name, value, label)
    model_values = rules.allowed(name) if rules is not None else ()
    if not _type_ok(rule, value):
        allowed = model_values or _allowed(rule)
        raise InvalidParameterError(
            name, value, allowed, f"{name} {_show(value)} is not valid; allowed: {', '.join(allowed)}"
        )
    if isinstance(value, str):
        _check_unicode(name, value)
    if model_values and value not in model_values:
        if name == "size" and rules is not None and rules.free_sizes and isinstance(value, str):
            _check_free_size(rules, value, label)
        else:
            _reject(name, value, model_values, label)
    elif not model_values and rule.values and "str" not in rule.kinds and value not in rule.values:
        _reject(name, value, rule.values, "")
    most = rule.info.max_items if rule.info is not None else None
    if isinstance(value, list | tuple) and most is not None and len(value) > most:
        message = f"{name}: {len(value)} given; at most {most}"
        raise InvalidParameterError(name, len(value), (f"at most {most}",), message)
    problem = _constraint_problem(rule, value)
    if problem:
        allowed = _allowed(rule)
        raise InvalidParameterError(
            name, value, allowed, f"{name} {_show(value)} is not valid; allowed: {', '.join(allowed)}"
        )
    if rule.nested is not None and not isinstance(value, str):
        _check_object(rule, value)


def _type_ok(rule: FieldSchema, value: object) -> bool:  # noqa: PLR0911 - one return per JSON kind
    kinds = rule.kinds
    if "any" in kinds:
        return True
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds or "float" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds or "enum" in kinds
    if isinstance(value, (Mapping, *rule.models)):
        return "object" in kinds
    return False


def _constraint_problem(rule: FieldSchema, value: object) -> bool:
    """Whether the value breaks the schema's range, length or pattern."""
    info = rule.info
    if info is None:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (info.minimum is not None and value < info.minimum) or (
            info.maximum is not None and value > info.maximum
        )
    if isinstance(value, str):
        return (
            (info.min_length is not None and len(value) < info.min_length)
            or (info.max_length is not None and len(value) > info.max_length)
            or (info.pattern is not None and _pattern(info.pattern).search(value) is None)
        )
    return False


@functools.cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _check_object(rule: FieldSchema, value: object) -> None:
    """A nested object: a mapping (or a generated model) with known keys, each of the right type."""
    assert rule.nested is not None  # only called for objects
    to_dict = getattr(value, "to_dict", None)
    mapping = to_dict() if callable(to_dict) and isinstance(value, rule.models) else value
    problem = _object_problem(rule.nested, mapping)
    if problem is not None:
        allowed = (_allowed(rule)[0],)
        message = f"{rule.name} {_show(value)} is not valid: {problem}; allowed: {allowed[0]}"
        raise InvalidParameterError(rule.name, value, allowed, message)


def _object_problem(nested: Mapping[str, FieldSchema], value: object) -> str | None:
    if not isinstance(value, Mapping):
        return "not an object"
    for key, item in value.items():
        sub = nested.get(key) if isinstance(key, str) else None
        if sub is None:
            return f"unknown key {_show(key)}"
        if not _type_ok(sub, item) or (isinstance(item, str) and not _is_unicode(item)):
            return f"{key} {_show(item)} is not {sub.describe()}"
        if sub.nested is not None:
            inner = _object_problem(sub.nested, item)
            if inner is not None:
                return f"in {key}: {inner}"
    return None


def _allowed(rule: FieldSchema) -> tuple[str, ...]:
    if rule.values and "str" not in rule.kinds:
        return rule.values
    return (rule.describe(),)


def _check_unicode(name: str, value: str) -> None:
    if not _is_unicode(value):
        message = f"{name} is not valid Unicode text (it holds a lone surrogate)"
        raise InvalidParameterError(name, value, ("valid Unicode text",), message)


def _is_unicode(text: str) -> bool:
    """Whether a str can be sent as UTF-8: no lone surrogates (which JSON encoders refuse)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(model: str, fields: Mapping[str, object], operation: Operation | None = None) -> str:
    """How messages name the model: as given, or saying which default applied."""
    if "model" in fields:
        return model
    if model == _operation_rules(operation).default_model:
        return f"{model} (the API's default model when none is given)"
    return "the GPT image models (no model given, but a GPT-only field is set)"


# --- input images (edits and variations) ----------------------------------------------------------------


def _check_operation(
    operation: Operation, rules: ModelRules, label: str, fields: Mapping[str, object]
) -> None:
    """The model can do this operation at all (dall-e-3 cannot edit; only dall-e-2 makes variations)."""
    op_rules = _operation_rules(operation)
    if op_rules.takes(rules):
        return
    models = op_rules.models()
    value = fields.get("model", label)
    message = f"model {_show(value)} cannot {op_rules.label}; allowed: {', '.join(models)}"
    raise InvalidParameterError("model", value, models, message)


def _images(value: object) -> list[ImageInfo] | None:
    """The ImageInfo of each input in a field's value (one input, or a list of them); None if unreadable.

    An input is an `ImageInfo`, or an object with one as its ``info`` attribute (the facade's uploads).
    """
    items = list(value) if isinstance(value, list | tuple) else [value]
    found: list[ImageInfo] = []
    for item in items:
        info = item if isinstance(item, ImageInfo) else getattr(item, "info", None)
        if not isinstance(info, ImageInfo):
            return None
        found.append(info)
    return found


_FORMAT_NAMES: Final[Mapping[str, str]] = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "gif": "GIF"}


def _format_name(fmt: str) -> str:
    return _FORMAT_NAMES.get(fmt, fmt.upper()) if fmt else "not an image in a format the API reads"


def _check_inputs(
    rule: FieldSchema,
    value: object,
    rules: ModelRules | None,
    label: str,
    fields: Mapping[str, object],
    *,
    masked: bool,
) -> None:
    """An uploaded image field (``image``, ``mask``): count, real format, size in bytes, shape, alpha."""
    name = rule.name
    images = _images(value)
    if images is None:  # not read by the facade (validate=False never gets here): nothing to check
        return
    if rules is not None and not rules.accepts(name):
        _not_accepted(name, images[0].name if images else value, label)
    info = rule.info
    limit = info.max_items if info is not None and info.max_items is not None else 1
    if not images:
        raise InvalidParameterError(name, value, ("at least one image",), f"{name} needs at least one image")
    if len(images) > limit:
        raise InvalidParameterError(
            name, len(images), (f"at most {limit}",), f"{name}: {len(images)} images given; at most {limit}"
        )
    inputs = rules.inputs if rules is not None else None
    if inputs is None:
        return
    if name in ("mask", "markup"):
        if name == "markup" and "mask" in fields:
            message = "markup cannot be sent with a mask: give one or the other"
            raise InvalidParameterError("markup", images[0].name, ("no mask",), message)
        first = _images(fields.get("image"))
        _check_overlay(name, images[0], inputs, first[0] if first else None)
        return
    if len(images) > inputs.max_images:
        allowed = (f"at most {inputs.max_images}",)
        message = f"{name}: {len(images)} images given; {label} takes at most {inputs.max_images}"
        raise InvalidParameterError(name, len(images), allowed, message)
    for image in images:
        _check_image(name, image, inputs, label, masked=masked)


def _check_image(name: str, image: ImageInfo, inputs: InputRules, label: str, *, masked: bool) -> None:
    shown = f"'{image.name}'" if image.name else "the image"
    formats = tuple(_FORMAT_NAMES[f] for f in inputs.formats)
    if image.format not in inputs.formats:
        message = (
            f"{name} {shown} is {_article(image.format)}{_format_name(image.format)}"
            f"{' file' if image.format else ''}; {label} accepts {_or(formats)} (read from the file's "
            "bytes, not its name)"
        )
        raise InvalidParameterError(name, image.name, formats, message)
    if image.byte_size >= inputs.max_bytes:
        limit = f"less than {inputs.max_bytes // _MB} MB"
        message = f"{name} {shown} is {image.byte_size / _MB:.1f} MB; {label} accepts {limit}"
        raise InvalidParameterError(name, image.name, (limit,), message)
    if inputs.square and image.width != image.height:
        message = f"{name} {shown} is {image.width}x{image.height}; {label} accepts only square images"
        raise InvalidParameterError(name, image.name, ("a square image",), message)
    if inputs.alpha_without_mask and not masked and not image.has_alpha:
        message = (
            f"{name} {shown} has no alpha channel; without a mask, {label} edits its transparent pixels, "
            "so it needs one (or give a mask)"
        )
        raise InvalidParameterError(name, image.name, ("a PNG with an alpha channel",), message)


def _check_overlay(name: str, mask: ImageInfo, inputs: InputRules, first: ImageInfo | None) -> None:
    """A mask, or an edit's markup: a PNG with an alpha channel and the first image's dimensions.

    A markup has no size limit of its own documented: it is held to the model's limit for an input image.
    """
    shown = f"'{mask.name}'" if mask.name else f"the {name}"
    purpose = "its fully transparent pixels say where to edit"
    if name == "markup":
        purpose = "it is laid over the first image, which shows through its transparent pixels"
    if mask.format != "png":
        found = f"{_article(mask.format)}{_format_name(mask.format)}"
        message = f"{name} {shown} is {found}; a {name} must be a PNG"
        raise InvalidParameterError(name, mask.name, ("PNG",), message)
    most = inputs.mask_max_bytes if name == "mask" else inputs.max_bytes
    if mask.byte_size >= most:
        limit = f"less than {most // _MB} MB"
        message = f"{name} {shown} is {mask.byte_size / _MB:.1f} MB; a {name} must be {limit}"
        raise InvalidParameterError(name, mask.name, (limit,), message)
    if not mask.has_alpha:
        message = f"{name} {shown} has no alpha channel; {purpose}"
        raise InvalidParameterError(name, mask.name, ("a PNG with an alpha channel",), message)
    if first is not None and (mask.width, mask.height) != (first.width, first.height):
        size = f"{first.width}x{first.height}"
        message = (
            f"{name} {shown} is {mask.width}x{mask.height}; it must have the dimensions of the first image "
            f"({first.name or 'image'}: {size})"
        )
        raise InvalidParameterError(name, mask.name, (size,), message)


def _article(fmt: str) -> str:
    return "" if not fmt else "an " if _format_name(fmt)[0] in "AEIOU" else "a "


def _or(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _check_model(rules: ModelRules, label: str, fields: Mapping[str, object]) -> None:
    """The rules of one known model that are not about a single field's values."""
    prompt = fields.get("prompt")
    if isinstance(prompt, str) and len(prompt) > rules.max_prompt_chars:
        raise InvalidParameterError(
            "prompt",
            prompt,
            (f"at most {rules.max_prompt_chars} characters",),
            f"prompt is {len(prompt)} characters long; {label} accepts at most {rules.max_prompt_chars}",
        )
    n = fields.get("n", 1)
    if isinstance(n, int) and n > rules.max_n:
        allowed = ("1",) if rules.max_n == 1 else (f"1 to {rules.max_n}",)
        _reject("n", n, allowed, label)
    for rule in rules.requires:
        _check_requires(rule, rules, fields)


def _check_requires(rule: Requires, rules: ModelRules, fields: Mapping[str, object]) -> None:
    if rule.field not in fields or (rule.values and fields[rule.field] not in rule.values):
        return
    given = rule.other in fields
    other = fields[rule.other] if given else rules.defaults.get(rule.other)
    if other in rule.allowed:
        return
    allowed = " or ".join(_plain(value) for value in rule.allowed)
    shown_other = f"{_plain(other)}{'' if given else ' (the default)'}"
    value = fields[rule.field]
    if rule.blame == "other":
        choices = tuple(_plain(v) for v in rule.allowed)
        message = (
            f"{rule.other} {_plain(other)} is not valid with {rule.field} {_plain(value)}; "
            f"allowed: {', '.join(choices)}"
        )
        raise InvalidParameterError(rule.other, other, choices, message)
    subject = f"{rule.field} {_show(value)}" if rule.values else rule.field
    message = f"{subject} is only accepted with {rule.other} {allowed}; {rule.other} is {shown_other}"
    raise InvalidParameterError(rule.field, value, (f"only with {rule.other} {allowed}",), message)


def _not_accepted(name: str, value: object, label: str) -> None:
    takers = [model for model, rules in MODEL_RULES.items() if _takes(rules, name, value)]
    gpt_models = [model for model, rules in MODEL_RULES.items() if rules.family == "gpt-image"]
    where = "the GPT image models" if takers == gpt_models else ", ".join(takers)
    where = f"; it is for {where}" if takers else ""
    raise InvalidParameterError(name, value, (), f"{name} {_show(value)} is not accepted by {label}{where}")


def _takes(rules: ModelRules, name: str, value: object) -> bool:
    """Whether a model takes this value of this field (for naming the models that do)."""
    if not rules.accepts(name):
        return False
    allowed = rules.allowed(name)
    # Only a string can be one of the values (and comparing a caller's object could run its __eq__).
    return not allowed or (isinstance(value, str) and value in allowed)


def _check_free_size(rules: ModelRules, size: str, label: str) -> None:
    allowed = (*rules.sizes, FREE_SIZE_RULE)
    dimensions = parse_size(size)
    if dimensions is None:
        _reject("size", size, allowed, label)
        return
    width, height = dimensions
    problem = ""
    if width % _FREE_SIZE_STEP or height % _FREE_SIZE_STEP:
        problem = "width and height must be multiples of 16"
    elif max(width, height) > _FREE_SIZE_MAX_RATIO * min(width, height):
        problem = "the aspect ratio must be between 1:3 and 3:1"
    elif max(width, height) > _FREE_SIZE_MAX_EDGE or width * height > _FREE_SIZE_MAX_PIXELS:
        problem = "the largest size is 3840x2160"
    if problem:
        raise InvalidParameterError(
            "size",
            size,
            allowed,
            f"size '{size}' is not valid for {label}: {problem}; allowed: {', '.join(allowed)}",
        )


def _reject(name: str, value: object, allowed: tuple[str, ...], label: str) -> typing.NoReturn:
    where = f" for {label}" if label else ""
    raise InvalidParameterError(
        name, value, allowed, f"{name} {_show(value)} is not valid{where}; allowed: {', '.join(allowed)}"
    )


def _plain(value: object) -> str:
    """A value as rules quote it: JSON's spelling of booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SHOW_LIMIT: Final = 60


def _show(value: object) -> str:
    """A value as messages quote it: strings in quotes, shortened; other values as Python shows them.

    Never raises: a huge int, a value nested too deep or an object whose ``__repr__`` fails is named by
    its type instead.
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = repr(value)
        except Exception:
            text = f"<{type(value).__name__} object>"
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return f"'{text}'" if isinstance(value, str) else text
