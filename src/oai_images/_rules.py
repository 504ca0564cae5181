"""What each model accepts: the one table of documented valid values, and the check that applies it.

Sources, newest first for what the API accepts: the API reference of November 2026
(`current-api-2026-11.md`), the official OpenAPI spec of 2026-08, and, for dall-e-2 and dall-e-3, the seed
`Get-OAIImageGeneration`, whose rules hold exactly. The enum values themselves come from the generated
code; `tests/test_rules.py` proves that this table and the generated enums agree.

`validate_request` runs in two layers:

1. model-independent checks, from the schema: known field names, types, enum members, ranges, the form
   of a size. These apply to every request, including one for a model this table does not know (a
   compatible server's own model);
2. the rules of the model (`MODEL_RULES`), for the models it knows: per-model values, prompt length,
   n, sizes, and the documented cross-field rules (transparent needs png or webp, compression needs jpeg
   or webp, partial images need streaming, …).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

from oai_images_api.models.image_background import ImageBackground
from oai_images_api.models.image_moderation import ImageModeration
from oai_images_api.models.image_output_format import ImageOutputFormat
from oai_images_api.models.image_quality import ImageQuality
from oai_images_api.models.image_response_format import ImageResponseFormat
from oai_images_api.models.image_style import ImageStyle

from ._errors import InvalidParameterError

__all__ = [
    "DEFAULT_MODEL",
    "FIELDS",
    "GPT_ONLY_FIELDS",
    "MODEL_RULES",
    "ModelRules",
    "parse_size",
    "resolve_model",
    "validate_request",
]

Family = Literal["dall-e", "gpt-image"]

#: The model the API uses when the request names none and sets no GPT-only field (spec 2026-08).
DEFAULT_MODEL: Final = "dall-e-2"
#: The model whose rules apply when no model is named but a GPT-only field is set: the spec says the API
#: then picks a GPT image model; the rules below are those all GPT image models share.
DEFAULT_GPT_MODEL: Final = "gpt-image-1"

#: Fields only the GPT image models accept; any of them without a model means a GPT model.
GPT_ONLY_FIELDS: Final = (
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
)

_DALL_E_3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
_GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
_GPT_QUALITIES = ("low", "medium", "high", "auto")
_GPT_BACKGROUNDS = ("transparent", "opaque", "auto")
_GPT_MODERATIONS = ("low", "auto")
_GPT_FORMATS = ("png", "jpeg", "webp", "gif", "svg")

# The free-size rule of gpt-image-2 and later (spec 2026-08, `size`): both sides multiples of 16, aspect
# ratio between 1:3 and 3:1, at most 3840x2160 (read as: long edge at most 3840, pixels at most 3840*2160).
_FREE_SIZE_STEP: Final = 16
_FREE_SIZE_MAX_RATIO: Final = 3
_FREE_SIZE_MAX_EDGE: Final = 3840
_FREE_SIZE_MAX_PIXELS: Final = 3840 * 2160
_FREE_SIZE_RULE: Final = "WxH with W and H multiples of 16, aspect ratio 1:3 to 3:1, at most 3840x2160"

_SIZE_PATTERN: Final = re.compile(r"([1-9][0-9]{0,5})x([1-9][0-9]{0,5})")


@dataclass(frozen=True, slots=True)
class ModelRules:
    """What one model accepts. An empty tuple means the model does not accept the field at all.

    Attributes:
        family: ``"dall-e"`` or ``"gpt-image"``.
        max_prompt_chars: The longest prompt, in characters.
        max_n: The most images one request may ask for (n from 1 to this).
        sizes: The named sizes, in the order the documentation lists them.
        free_sizes: Whether any ``WxH`` within the free-size rule is accepted too.
        qualities: Accepted ``quality`` values.
        response_formats: Accepted ``response_format`` values.
        styles: Accepted ``style`` values.
        backgrounds: Accepted ``background`` values.
        moderations: Accepted ``moderation`` values.
        output_formats: Accepted ``output_format`` values.
        streaming: Whether ``stream`` and ``partial_images`` are accepted.
        note: Anything a user should know, such as a retirement date.
    """

    family: Family
    max_prompt_chars: int
    max_n: int
    sizes: tuple[str, ...]
    free_sizes: bool = False
    qualities: tuple[str, ...] = ()
    response_formats: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    moderations: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    streaming: bool = False
    note: str = ""

    def allowed(self, field: str) -> tuple[str, ...]:
        """The values this model accepts for an enum field (see `_ENUM_FIELDS`); empty if none."""
        values: tuple[str, ...] = getattr(self, _ENUM_FIELDS[field])
        return values


_DALL_E_2 = ModelRules(
    family="dall-e",
    max_prompt_chars=1000,
    max_n=10,
    sizes=("256x256", "512x512", "1024x1024"),
    qualities=("standard",),
    response_formats=("url", "b64_json"),
    note="retired by OpenAI on 2026-05-12; still served by compatible servers",
)
_DALL_E_3 = ModelRules(
    family="dall-e",
    max_prompt_chars=4000,
    max_n=1,
    sizes=_DALL_E_3_SIZES,
    qualities=("standard", "hd"),
    response_formats=("url", "b64_json"),
    styles=("vivid", "natural"),
    note="retired by OpenAI on 2026-05-12; still served by compatible servers",
)
# The GPT image models. gif and svg output are preview formats of the 3.51 client that the reference ties
# to no model (access is granted per account), so every GPT image model may ask for them: the server, not
# a guess here, says no to an account without the preview.
_GPT_IMAGE_1 = ModelRules(
    family="gpt-image",
    max_prompt_chars=32000,
    max_n=10,
    sizes=_GPT_SIZES,
    qualities=_GPT_QUALITIES,
    backgrounds=_GPT_BACKGROUNDS,
    moderations=_GPT_MODERATIONS,
    output_formats=_GPT_FORMATS,
    streaming=True,
)
# gpt-image-2 (and its dated name) adds free WxH sizes.
_GPT_IMAGE_2 = replace(_GPT_IMAGE_1, free_sizes=True)
# gpt-image-2.5-* adds the xhigh and max qualities ("xhigh/max: gpt-image-2.5-* only").
_GPT_IMAGE_2_5 = replace(_GPT_IMAGE_2, qualities=("low", "medium", "high", "xhigh", "max", "auto"))
# gpt-image-2.6-* and chatgpt-image-latest are named by the reference, but their sizes are not described:
# rather than refuse a paid request on a guess, they take free sizes too. xhigh and max stay 2.5-only, as
# the reference says in so many words.
_GPT_UNDESCRIBED = replace(
    _GPT_IMAGE_2, note="sizes not documented: checked as gpt-image-2's, free WxH sizes included"
)

#: The rules of every model the documentation names, by model name.
MODEL_RULES: Final[Mapping[str, ModelRules]] = {
    "dall-e-2": _DALL_E_2,
    "dall-e-3": _DALL_E_3,
    "gpt-image-1": replace(
        _GPT_IMAGE_1, note="shut down by OpenAI on 2026-10-23; still served by compatible servers"
    ),
    "gpt-image-1-mini": _GPT_IMAGE_1,
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

# Enum fields and the ModelRules attribute that holds each one's per-model values.
_ENUM_FIELDS: Final[Mapping[str, str]] = {
    "quality": "qualities",
    "response_format": "response_formats",
    "style": "styles",
    "background": "backgrounds",
    "moderation": "moderations",
    "output_format": "output_formats",
}


@dataclass(frozen=True, slots=True)
class FieldRule:
    """The model-independent rule of one request field, from the schema.

    Attributes:
        kind: What the value must be: text, integer, boolean, an enum member, a size, or an object.
        values: The enum members, for ``kind == "enum"``.
        low: The smallest integer accepted, for ``kind == "int"``.
        high: The largest integer accepted, for ``kind == "int"``; None for no limit.
    """

    kind: Literal["text", "int", "bool", "enum", "size", "object"]
    values: tuple[str, ...] = ()
    low: int = 0
    high: int | None = None

    def describe(self) -> str:
        """What is allowed, in words, for error messages."""
        if self.kind == "int":
            return f"an integer from {self.low}" + (f" to {self.high}" if self.high is not None else " up")
        return {
            "text": "a string",
            "bool": "true or false",
            "enum": ", ".join(self.values),
            "size": "auto or WxH, such as 1024x1024",
            "object": 'an object {"model": "...", "reasoning": {"effort": "..."}}',
        }[self.kind]


#: Every request field, in the order checks run, with its model-independent rule. Enum members come from
#: the generated code; ranges are the schema's minimum/maximum (a test compares them with the spec).
FIELDS: Final[Mapping[str, FieldRule]] = {
    "prompt": FieldRule("text"),
    "model": FieldRule("text"),
    "n": FieldRule("int", low=1, high=10),
    "quality": FieldRule("enum", get_args(ImageQuality)),
    "response_format": FieldRule("enum", get_args(ImageResponseFormat)),
    "size": FieldRule("size"),
    "style": FieldRule("enum", get_args(ImageStyle)),
    "user": FieldRule("text"),
    "safety_identifier": FieldRule("text"),
    "background": FieldRule("enum", get_args(ImageBackground)),
    "moderation": FieldRule("enum", get_args(ImageModeration)),
    "output_format": FieldRule("enum", get_args(ImageOutputFormat)),
    "output_compression": FieldRule("int", low=0, high=100),
    "stream": FieldRule("bool"),
    "partial_images": FieldRule("int", low=0, high=3),
    "complexity": FieldRule("text"),
    "frame_count": FieldRule("int", low=2, high=16),
    "frame_duration_ms": FieldRule("int", low=1),
    "svg": FieldRule("object"),
}

_NOT_EMPTY: Final = ("prompt", "model")
#: The keys of the spec's SvgOptions and of its reasoning (a test compares them with the generated models).
SVG_KEYS: Final = frozenset({"model", "reasoning"})
SVG_REASONING_KEYS: Final = frozenset({"effort"})


def parse_size(text: str) -> tuple[int, int] | None:
    """Width and height of a ``WxH`` size such as ``"1536x864"``; None for ``auto`` or anything else."""
    match = _SIZE_PATTERN.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def resolve_model(fields: Mapping[str, object]) -> str | None:
    """The model whose rules apply to a request, or None for a model the table does not know.

    With no model named the API's documented default applies: dall-e-2, unless a GPT-only field is set,
    in which case the rules all GPT image models share apply.
    """
    model = fields.get("model")
    if model is None:
        if any(name in fields for name in GPT_ONLY_FIELDS):
            return DEFAULT_GPT_MODEL
        return DEFAULT_MODEL
    if isinstance(model, str) and model in MODEL_RULES:
        return model
    return None


def validate_request(fields: Mapping[str, object]) -> None:
    """Check a request against the schema and the rules of its model; raise on the first problem.

    Args:
        fields: The request body: API field names mapped to the values the caller set. Fields not set
            must be absent (None is treated as a value and rejected).

    Raises:
        InvalidParameterError: Naming the field, the value, the model and what is allowed.
    """
    for name, value in fields.items():
        rule = FIELDS.get(name)
        if rule is None:
            raise InvalidParameterError(
                name, value, tuple(FIELDS), f"unknown parameter '{name}'; known: {', '.join(FIELDS)}"
            )
        _check_field(name, value, rule)
    if "prompt" not in fields:
        raise InvalidParameterError("prompt", None, ("a non-empty string",), "prompt is required")
    model = resolve_model(fields)
    if model is not None:
        _check_model(MODEL_RULES[model], _label(model, fields), fields)


def _check_field(name: str, value: object, rule: FieldRule) -> None:
    """The model-independent check of one field."""
    if rule.kind == "int":
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and rule.low <= value
            and (rule.high is None or value <= rule.high)
        )
    elif rule.kind == "bool":
        ok = isinstance(value, bool)
    elif rule.kind == "object":
        ok = _is_svg_options(value)
    elif not isinstance(value, str):
        ok = False
    elif not _is_unicode(value):
        message = f"{name} is not valid Unicode text (it holds a lone surrogate)"
        raise InvalidParameterError(name, value, ("valid Unicode text",), message)
    elif rule.kind == "enum":
        ok = value in rule.values
    elif rule.kind == "size":
        ok = value == "auto" or parse_size(value) is not None
    else:
        ok = bool(value.strip()) or name not in _NOT_EMPTY
    if not ok:
        allowed = rule.values if rule.kind == "enum" else (rule.describe(),)
        if name in _NOT_EMPTY:
            allowed = ("a string that is not empty or only white space",)
        raise InvalidParameterError(
            name, value, allowed, f"{name} {_show(value)} is not valid; allowed: {', '.join(allowed)}"
        )


def _is_unicode(text: str) -> bool:
    """Whether a str can be sent as UTF-8: no lone surrogates (which JSON encoders refuse)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_svg_options(value: object) -> bool:
    """Whether ``value`` has the shape of the spec's SvgOptions: {model: str, reasoning: {effort: str}}."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        value = to_dict()
    if not isinstance(value, Mapping) or not set(value) <= SVG_KEYS:
        return False
    reasoning = value.get("reasoning", {})
    model, effort = (
        value.get("model", ""),
        reasoning.get("effort", "") if isinstance(reasoning, Mapping) else None,
    )
    return (
        isinstance(model, str)
        and _is_unicode(model)
        and isinstance(reasoning, Mapping)
        and set(reasoning) <= SVG_REASONING_KEYS
        and isinstance(effort, str)
        and _is_unicode(effort)
    )


def _label(model: str, fields: Mapping[str, object]) -> str:
    """How messages name the model: as given, or saying which default applied."""
    if "model" in fields:
        return model
    if model == DEFAULT_MODEL:
        return f"{model} (the API's default model when none is given)"
    return "the GPT image models (no model given, but a GPT-only field is set)"


def _check_model(rules: ModelRules, label: str, fields: Mapping[str, object]) -> None:
    """The rules of one known model, including the documented cross-field rules."""
    prompt = fields["prompt"]
    assert isinstance(prompt, str)  # _check_field ran first
    if len(prompt) > rules.max_prompt_chars:
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
    for name in _ENUM_FIELDS:
        if name in fields:
            _check_value(name, fields[name], rules.allowed(name), label)
    if "size" in fields:
        _check_size(rules, str(fields["size"]), label)
    if rules.family == "dall-e":
        for name in GPT_ONLY_FIELDS:
            if name in fields:
                _check_value(name, fields[name], (), label)
        return
    _check_gpt_combinations(fields)


def _check_value(name: str, value: object, allowed: tuple[str, ...], label: str) -> None:
    """Reject a value outside `allowed`; an empty `allowed` means the model takes no such field."""
    if allowed and value in allowed:
        return
    if allowed:
        _reject(name, value, allowed, label)
    takers = [model for model, rules in MODEL_RULES.items() if _accepts(rules, name, value)]
    gpt_models = [model for model, rules in MODEL_RULES.items() if rules.family == "gpt-image"]
    where = "the GPT image models" if takers == gpt_models else ", ".join(takers)
    where = f"; it is for {where}" if takers else ""
    raise InvalidParameterError(name, value, (), f"{name} {_show(value)} is not accepted by {label}{where}")


def _accepts(rules: ModelRules, name: str, value: object) -> bool:
    """Whether a model takes this value of this field (for naming the models that do)."""
    if name in _ENUM_FIELDS:
        return value in rules.allowed(name)
    return rules.family == "gpt-image"


def _check_size(rules: ModelRules, size: str, label: str) -> None:
    if size in rules.sizes:
        return
    allowed = (*rules.sizes, _FREE_SIZE_RULE) if rules.free_sizes else rules.sizes
    dimensions = parse_size(size)
    if not rules.free_sizes or dimensions is None:
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


def _check_gpt_combinations(fields: Mapping[str, object]) -> None:
    """The cross-field rules of the GPT image models."""
    output_format = fields.get("output_format", "png")
    given = "" if "output_format" in fields else " (the default)"
    if "partial_images" in fields and fields.get("stream") is not True:
        raise InvalidParameterError(
            "partial_images",
            fields["partial_images"],
            ("only with stream=true",),
            "partial_images is only accepted when streaming; set stream=true",
        )
    if "output_compression" in fields and output_format not in ("jpeg", "webp"):
        raise InvalidParameterError(
            "output_compression",
            fields["output_compression"],
            ("only with output_format jpeg or webp",),
            f"output_compression is only accepted with output_format jpeg or webp; "
            f"output_format is {output_format}{given}",
        )
    if fields.get("background") == "transparent" and output_format not in ("png", "webp"):
        raise InvalidParameterError(
            "background",
            "transparent",
            ("opaque", "auto"),
            f"background 'transparent' needs output_format png or webp; output_format is {output_format}",
        )
    for name in ("frame_count", "frame_duration_ms"):
        if name in fields and output_format != "gif":
            raise InvalidParameterError(
                name,
                fields[name],
                ("only with output_format gif",),
                f"{name} is only accepted with output_format gif; output_format is {output_format}{given}",
            )
    if "svg" in fields and output_format != "svg":
        raise InvalidParameterError(
            "svg",
            fields["svg"],
            ("only with output_format svg",),
            f"svg options are only accepted with output_format svg; output_format is {output_format}{given}",
        )
    if output_format == "svg" and fields.get("n", 1) != 1:
        raise InvalidParameterError(
            "n", fields["n"], ("1",), f"n {fields['n']} is not valid with output_format svg; allowed: 1"
        )


def _reject(name: str, value: object, allowed: tuple[str, ...], label: str) -> None:
    raise InvalidParameterError(
        name, value, allowed, f"{name} {_show(value)} is not valid for {label}; allowed: {', '.join(allowed)}"
    )


def _show(value: object) -> str:
    """A value as messages quote it: strings in quotes, shortened; other values as Python shows them."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"'{text}'" if isinstance(value, str) else text
