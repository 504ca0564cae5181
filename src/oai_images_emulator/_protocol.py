"""What every route of the emulator shares with the API it copies: the error envelope, request ids, the
auth check and the emulator's own paths. Each route module imports it at the top; it imports none of them."""  # noqa: D205, D209

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oai_images import InvalidParameterError
from oai_images.pricing import input_image_tokens, load_prices, output_image_tokens
from oai_images.rules import MODEL_RULES, ImageInfo, effective_fields, field_schemas, parse_size

if TYPE_CHECKING:
    from oai_images_api.api import Operation

    from ._draw import ImageFormat

__all__ = [
    "FILES_PATH",
    "Plan",
    "check_auth",
    "error",
    "invalid",
    "json_fields",
    "make_plan",
    "new_request_id",
    "revise",
    "sse",
    "usage_of",
]

#: Where the emulator serves the images it answered with as URLs.
FILES_PATH = "/v1/emulator/files"


def new_request_id() -> str:
    """A fresh ``x-request-id``, shaped like the API's."""
    return f"req_{secrets.token_hex(16)}"


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",  # shadows the builtin on purpose: the envelope's own field name
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The API's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def check_auth(request: Request) -> Response | None:
    """The API's 401 for a request with no bearer key, else None (any non-empty key is accepted)."""
    header = request.headers.get("authorization")
    if header is None:
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    # Any non-empty key, spaces included (the official client's own tests send "My API Key").
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return error(
            401,
            "Incorrect API key provided. The Authorization header must be 'Bearer YOUR_KEY'.",
            code="invalid_api_key",
        )
    return None


_DEFAULT_SIZE = (1024, 1024)
# What the emulator draws for a gif when the request does not say: the API documents no default.
_DEFAULT_FRAME_COUNT = 4
_DEFAULT_FRAME_DURATION_MS = 100
# Output tokens of a 1024x1024 image per quality, for the models the price table gives no token counts
# (gpt-image-2.5 and later); other sizes scale with their area.
_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 6240, "max": 8320}
#: Output image tokens each partial image of a stream adds (OpenAI's image generation guide).
_PARTIAL_IMAGE_TOKENS = 100


#: The formats an unsupported-file-type error of an upload names.
_FORMAT_NAMES = frozenset({"PNG", "JPEG", "WebP"})


def invalid(exc: InvalidParameterError, operation: Operation[Any, Any]) -> JSONResponse:
    """The envelope of a rule violation, coded as the API codes it (for generations, edits, variations)."""
    known = exc.param in field_schemas(operation) or exc.param in ("image_url", "file_id")
    if not known or not exc.allowed:  # a field the model does not take is unknown to it
        return error(
            400, f"Unknown parameter: '{exc.param}'. {exc.message}", param=exc.param, code="unknown_parameter"
        )
    if exc.param in ("image", "mask", "markup"):
        # A format the model does not take is refused by the API as an unsupported file type.
        unsupported = bool(exc.allowed) and set(exc.allowed) <= _FORMAT_NAMES
        code = "unsupported_file_mimetype" if unsupported else "invalid_image"
        return error(400, exc.message, param=exc.param, code=code)
    code = "invalid_size" if exc.param == "size" else "invalid_value"
    return error(400, exc.message, param=exc.param, code=code)


def json_fields(operation: Operation[Any, Any], decoded: Mapping[str, object]) -> dict[str, object]:
    """The fields of a JSON body as the API reads them: an explicit null is "use the default", and a whole
    number written as a float (``2.0``) is that integer where the schema wants an integer.

    JSON Schema's ``integer`` is any number with no fractional part, so the API takes ``"n": 2.0``; a float
    with a fraction (``2.5``) is left as it is, for the rules to refuse with the field's allowed range.
    """  # noqa: D205 - one sentence over two lines
    schemas = field_schemas(operation)
    fields: dict[str, object] = {}
    for name, value in decoded.items():
        if value is None:
            continue
        schema = schemas.get(name)
        whole = isinstance(value, float) and math.isfinite(value) and value.is_integer()
        wants_int = schema is not None and "int" in schema.kinds and "float" not in schema.kinds
        fields[name] = int(cast(float, value)) if whole and wants_int else value
    return fields


def usage_of(plan: Plan, n: int, inputs: Sequence[ImageInfo] = ()) -> dict[str, Any]:
    """The ``usage`` of an answer of ``n`` images, billed as OpenAI's published figures say.

    The output tokens per image are what `oai_images.pricing` counts for the model, quality and size (the
    built-in table, never the user's overrides: the emulator stands in for the API, whose bill they do not
    change), plus 100 per partial image of a stream; the input images' tokens follow the model's scheme
    there. The prompt's text tokens are one per four characters, as English text roughly tokenizes: below
    pricing's bound, as a real count is.
    """
    prices = load_prices(user=False)
    size = f"{plan.width}x{plan.height}"
    per_image = output_image_tokens(plan.model, plan.quality, size, prices=prices)
    if per_image is None:  # a model the table prices by no tokens
        per_image = math.ceil(
            _IMAGE_TOKENS.get(plan.quality, _IMAGE_TOKENS["high"]) * plan.width * plan.height / 1024**2
        )
    if plan.stream:
        per_image += _PARTIAL_IMAGE_TOKENS * plan.partial_images
    output = per_image * n
    text_tokens = max(1, math.ceil(len(plan.prompt) / 4))
    image_tokens = 0
    for info in inputs:
        counted = input_image_tokens(plan.model, info.width, info.height, prices=prices)
        image_tokens += counted if counted is not None else max(1, info.width * info.height // 4096)
    return {
        "input_tokens": text_tokens + image_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": text_tokens + image_tokens + output,
    }


def revise(prompt: str, style: str) -> str:
    """dall-e-3's ``revised_prompt``: the prompt, embellished."""
    mood = "dramatic, hyper-real" if style == "vivid" else "natural, softly lit"
    return f"{prompt.rstrip('. ')}. A detailed, {mood} rendering with a balanced composition."


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to draw and how to answer, resolved from a valid request."""

    model: str
    gpt: bool
    prompt: str
    n: int
    width: int
    height: int
    output_format: ImageFormat
    transparent: bool
    compression: int | None
    frame_count: int
    frame_duration_ms: int
    quality: str
    background: str
    response_format: str
    style: str
    stream: bool
    partial_images: int


def make_plan(fields: Mapping[str, object], model: str) -> Plan:
    """What to draw, from the request and the API's defaults for what it leaves out (read from the rules
    table, the one home of the defaults)."""  # noqa: D205, D209 - one sentence over two lines
    request: dict[str, Any] = effective_fields(fields)
    gpt = MODEL_RULES[model].family == "gpt-image"
    width, height = parse_size(str(request.get("size", "auto"))) or _DEFAULT_SIZE
    background = str(request.get("background", "auto"))
    quality = str(request.get("quality", "auto"))
    return Plan(
        model=model,
        gpt=gpt,
        prompt=str(request["prompt"]),
        n=int(request.get("n", 1)),
        width=width,
        height=height,
        output_format=cast("ImageFormat", request.get("output_format", "png")) if gpt else "png",
        transparent=background == "transparent",
        # the API's default of 100 is no compression asked for: the encoder's own default then applies
        compression=cast("int | None", fields.get("output_compression")),
        frame_count=int(request.get("frame_count", _DEFAULT_FRAME_COUNT)),
        frame_duration_ms=int(request.get("frame_duration_ms", _DEFAULT_FRAME_DURATION_MS)),
        quality="high" if gpt and quality == "auto" else quality,
        background="transparent" if background == "transparent" else "opaque",
        response_format=str(request.get("response_format", "url")),
        style=str(request.get("style", "vivid")),
        stream=request.get("stream") is True,
        partial_images=int(request.get("partial_images", 0)),
    )


def sse(event: Mapping[str, object]) -> str:
    """One server-sent event of a stream."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
