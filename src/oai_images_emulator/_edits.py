"""The emulator's ``POST /v1/images/edits`` and ``POST /v1/images/variations``.

Both forms of an edit are read (``multipart/form-data`` uploads with ``image`` or ``image[]``, ``mask`` and
``markup``; ``application/json`` with ``images`` references by data URL, by a URL this emulator served, or by
file id), every input is decoded with Pillow, and the request is validated by the SDK's own rules (the public
`oai_images.rules`, the same `validate` as the facade's, given each input's `ImageInfo`), so the emulator
refuses exactly what the facade refuses, with the API's error envelope.

The answer is a real image of the requested size and format that is visibly the input: the first image,
fitted to the size, blended with a pattern drawn from the prompt (variations: from the image's own bytes).
With a mask (or, for dall-e-2, the image's own transparency) only the pixels where the mask is fully
transparent change; a markup is laid over the first image before it is edited. Everything is a pure function
of the inputs, the prompt, the index and the seed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from oai_images_api.api.images import CREATE_IMAGE_EDIT, CREATE_IMAGE_EDIT_JSON, CREATE_IMAGE_VARIATION
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from oai_images import InvalidParameterError
from oai_images.rules import MODEL_RULES, ImageInfo, field_schemas, resolve_model, validate

from ._azure import azure_model
from ._bodies import BodyTooLarge
from ._draw import draw_image, draw_partial
from ._protocol import FILES_PATH, Plan, check_auth, error, invalid, json_fields, make_plan, sse, usage_of
from ._store import StoredImage

if TYPE_CHECKING:
    from oai_images_api.api import Operation

    from ._app import EmulatorState

__all__ = ["EDITS_PATH", "VARIATIONS_PATH", "edit_routes"]

EDITS_PATH = "/v1/images/edits"
VARIATIONS_PATH = "/v1/images/variations"
# How strongly the drawn pattern shows through the input where the image changes.
_EDIT_STRENGTH = 0.55
_VARIATION_STRENGTH = 0.35
_PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp", "GIF": "gif"}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@dataclass
class _Input:
    """One decoded input: what the rules check, and the bytes to derive the answer from."""

    info: ImageInfo
    data: bytes


class _BadRequest(Exception):
    """A request the emulator answers with a 400 (raised while reading it)."""

    def __init__(self, response: Response) -> None:
        self.response = response


#: The most pixels an input may decode to: a small file may claim 13000x13000 (a 676 MB RGBA image) in its
#: header; the API's largest inputs (50 MB, 3840x2160 outputs) are far below this.
MAX_INPUT_PIXELS = 40_000_000


def _describe(data: bytes, name: str) -> ImageInfo:
    """An input as the rules see it, from Pillow: real format, size, alpha channel; its pixels decoded too.

    Raises:
        _BadRequest: The image claims more than `MAX_INPUT_PIXELS`, or its header is fine but its pixel data
            is broken: the API's 400, never a 500 that a client would retry.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = _PILLOW_FORMATS.get(image.format or "", "")
            alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
            info = ImageInfo(fmt, image.width, image.height, len(data), alpha, name)
            if fmt and image.width * image.height > MAX_INPUT_PIXELS:
                message = (
                    f"Invalid image: {image.width}x{image.height} is more pixels than the emulator decodes "
                    f"({MAX_INPUT_PIXELS:,})."
                )
                raise _BadRequest(error(400, message, param=name, code="invalid_image"))
            if fmt:
                image.load()  # the pixels, not just the header: broken data is the sender's error
            return info
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return ImageInfo("", 0, 0, len(data), False, name)
    except (OSError, ValueError, SyntaxError) as exc:
        message = f"Invalid image: the file's image data cannot be decoded ({type(exc).__name__})."
        raise _BadRequest(error(400, message, param=name, code="invalid_image")) from None


def _typed(operation: Operation[Any, Any], name: str, text: str) -> object:
    """A multipart field's text as the type the schema gives the field (forms carry only text)."""
    schema = field_schemas(operation).get(name)
    if schema is None or "str" in schema.kinds or "enum" in schema.kinds:
        return text
    if "bool" in schema.kinds:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        expected = "a boolean"
    elif "int" in schema.kinds:
        try:
            return int(text)
        except ValueError:
            expected = "an integer"
        try:  # a whole number written as a float ("2.0") is that integer, as in a JSON body
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number) and number.is_integer():
                return int(number)
            expected = "an integer (a number with no fractional part)"
    else:
        return text

    message = f"Invalid type for '{name}': expected {expected}, but got a string instead."
    raise _BadRequest(error(400, message, param=name, code="invalid_type"))


async def _read_form(
    request: Request, operation: Operation[Any, Any]
) -> tuple[dict[str, object], list[_Input], dict[str, _Input]]:
    """The fields and images of a multipart request, and its other uploads (``mask``, ``markup``) by name."""
    try:
        form = await request.form(max_files=64, max_fields=256)
    except BodyTooLarge:
        raise  # the app's 413
    except Exception as exc:  # python-multipart's and Starlette's parse errors have no common base
        raise _BadRequest(
            error(400, f"Could not parse multipart form: {exc}", code="invalid_multipart")
        ) from exc
    fields: dict[str, object] = {}
    images: list[_Input] = []
    others: dict[str, _Input] = {}
    many = False
    try:
        for key, value in form.multi_items():
            name = key[:-2] if key.endswith("[]") else key
            if isinstance(value, UploadFile):
                if value.size is not None and value.size >= _MAX_INPUT_BYTES:  # refused unread
                    message = (
                        f"Invalid image: '{value.filename or name}' is {value.size:,} bytes; an input image "
                        f"must be less than {_MAX_INPUT_BYTES:,}."
                    )
                    raise _BadRequest(error(400, message, param=name, code="invalid_image"))
                data = await value.read()
                item = _Input(await anyio.to_thread.run_sync(_describe, data, value.filename or name), data)
                if name == "image":
                    images.append(item)
                    many = many or key.endswith("[]")
                elif name in ("mask", "markup"):
                    others[name] = item
                else:
                    fields[name] = value.filename or name  # a file where text belongs: validate names it
            else:
                fields[name] = _typed(operation, name, value)
    finally:
        await form.close()  # its spooled temporary files
    if images:
        fields["image"] = [item.info for item in images] if many or len(images) > 1 else images[0].info
    fields.update((name, item.info) for name, item in others.items())
    return fields, images, others


def _data_url(url: str, where: str) -> bytes:

    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        message = f"Invalid data URL in {where}: expected data:image/<format>;base64,<data>."
        raise _BadRequest(error(400, message, param=where, code="invalid_image_url"))
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        message = f"Invalid base64 data in {where}."
        raise _BadRequest(error(400, message, param=where, code="invalid_image_url")) from exc


def _resolve_reference(state: EmulatorState, reference: object, where: str) -> _Input:
    """The bytes of an ImageRefParam: a data URL, a URL this emulator served, or a file uploaded to it."""
    if (
        not isinstance(reference, dict)
        or len(reference) != 1
        or not ({"image_url", "file_id"} & reference.keys())
    ):
        message = f"Invalid {where}: provide exactly one of 'image_url' or 'file_id'."
        raise _BadRequest(error(400, message, param=where, code="invalid_value"))
    if "file_id" in reference:
        data = _uploaded_image(state, reference["file_id"], f"{where}.file_id")
        return _Input(_describe(data, f"{where}.file_id"), data)
    url = reference["image_url"]
    if not isinstance(url, str):
        raise _BadRequest(
            error(400, f"Invalid {where}.image_url.", param=f"{where}.image_url", code="invalid_type")
        )
    if url.startswith("data:"):
        data = _data_url(url, f"{where}.image_url")
        return _Input(_describe(data, f"{where}.image_url"), data)
    marker = FILES_PATH + "/"
    if marker in url:
        entry = state.store.get(url.rsplit(marker, 1)[1])
        if isinstance(entry, StoredImage):
            return _Input(_describe(entry.content, url), entry.content)
    message = (
        f"Could not download the image at {url!r}: the emulator runs offline and reads only data: URLs and "
        "the URLs it served."
    )
    raise _BadRequest(error(400, message, param=f"{where}.image_url", code="invalid_image_url"))


#: The purposes an uploaded file may have to be an edit's input image. The spec says only "the File API ID of
#: an uploaded image"; of the purposes an upload may take, `vision` is the one for images ("images used for
#: vision fine-tuning", and the spec's image inputs elsewhere ask for it) and `user_data` is "flexible file
#: type for any purpose". A batch, fine-tuning, evals or assistants file, or a batch's output, is not an
#: image input: refused, naming the file and its purpose.
IMAGE_FILE_PURPOSES = ("vision", "user_data")
#: A file larger than every model's input limit is refused without being read.
_MAX_INPUT_BYTES = max(rules.inputs.max_bytes for rules in MODEL_RULES.values() if rules.inputs is not None)


def _uploaded_image(state: EmulatorState, file_id: object, where: str) -> bytes:
    """The bytes of a file uploaded to the emulator's ``/v1/files``, for an edit's ``{"file_id": ...}``."""
    if not isinstance(file_id, str):
        message = f"Invalid {where}: expected a string."
        raise _BadRequest(error(400, message, param=where, code="invalid_type"))
    file = state.files.live_file(file_id) if state.files is not None else None
    if file is None:  # never uploaded, deleted, or expired (the API deletes a file when it expires)
        message = f"No such File object: {file_id} (it was never uploaded, was deleted or has expired)."
        raise _BadRequest(error(400, message, param=where, code="file_not_found"))
    if file.purpose not in IMAGE_FILE_PURPOSES:
        allowed = " or ".join(f"'{purpose}'" for purpose in IMAGE_FILE_PURPOSES)
        message = (
            f"File {file_id} has purpose '{file.purpose}'; an input image must be uploaded with purpose "
            f"{allowed}."
        )
        raise _BadRequest(error(400, message, param=where, code="invalid_file_purpose"))
    if file.bytes >= _MAX_INPUT_BYTES:
        limit = f"{_MAX_INPUT_BYTES:,}"
        message = f"File {file_id} is {file.bytes:,} bytes; an input image must be less than {limit}."
        raise _BadRequest(error(400, message, param=where, code="invalid_image"))
    return file.path.read_bytes()


def _read_json(body: bytes) -> dict[str, object]:
    """The fields of a JSON edit, read as for generations (`json_fields`)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        message = "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
        raise _BadRequest(error(400, message, code="invalid_json")) from exc
    if not isinstance(decoded, dict):
        raise _BadRequest(error(400, "The request body must be a JSON object.", code="invalid_type"))
    return json_fields(CREATE_IMAGE_EDIT_JSON, decoded)


def _resolve_references(
    state: EmulatorState, fields: dict[str, object]
) -> tuple[list[_Input], _Input | None]:
    """The images and mask a JSON edit references, read and decoded."""
    references = fields.get("images")
    if not isinstance(references, list) or not references or len(references) > 16:
        got = len(references) if isinstance(references, list) else type(references).__name__
        message = f"Invalid 'images': expected 1 to 16 image references, got {got}."
        raise _BadRequest(error(400, message, param="images", code="invalid_value"))
    images = [_resolve_reference(state, item, f"images[{i}]") for i, item in enumerate(references)]
    mask = _resolve_reference(state, fields["mask"], "mask") if "mask" in fields else None
    return images, mask


def _marked_up(source: bytes, markup: bytes) -> bytes:
    """The first image with the markup laid over it (the rules checked both have the same dimensions)."""
    with Image.open(io.BytesIO(source)) as base, Image.open(io.BytesIO(markup)) as marks:
        combined = Image.alpha_composite(base.convert("RGBA"), marks.convert("RGBA").resize(base.size))
    buffer = io.BytesIO()
    combined.save(buffer, "PNG")
    return buffer.getvalue()


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale and centre-crop to exactly ``width`` x ``height`` (the input fills the output)."""
    scale = max(width / image.width, height / image.height)
    resized = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def derive_image(
    source: bytes,
    mask: bytes | None,
    *,
    prompt: str,
    index: int,
    seed: int,
    width: int,
    height: int,
    output_format: str,
    transparent: bool,
    compression: int | None,
    strength: float,
    use_own_alpha: bool,
    frame_count: int = 2,
    frame_duration_ms: int = 500,
) -> bytes:
    """The edited image: ``source`` fitted to the size, blended with a pattern drawn from the prompt where
    the mask (else, with ``use_own_alpha``, the source itself) is fully transparent; everywhere without a
    mask. Deterministic in all its arguments."""  # noqa: D205, D209 - one sentence over three lines
    digest = hashlib.sha256(source + (mask or b"")).hexdigest()[:16]
    pattern_bytes = draw_image(
        f"{prompt}\x00{digest}", index=index, seed=seed, width=width, height=height, output_format="png"
    )
    with Image.open(io.BytesIO(source)) as opened:
        base = _fit(opened.convert("RGBA"), width, height)
    with Image.open(io.BytesIO(pattern_bytes)) as opened:
        pattern = opened.convert("RGBA")
    edited = Image.blend(base, pattern, strength)
    region: Image.Image | None = None
    if mask is not None:
        with Image.open(io.BytesIO(mask)) as opened:
            region = _fit(opened.convert("RGBA"), width, height).getchannel("A")
    elif use_own_alpha:
        region = base.getchannel("A")
    if region is not None:
        # Only fully transparent pixels (alpha 0) are edited; everything else is kept as it was.
        keep = region.point(lambda alpha: 255 if alpha > 0 else 0)
        edited = Image.composite(base, edited, keep)
    if output_format == "jpeg" or not transparent:
        edited = edited.convert("RGB")
    buffer = io.BytesIO()
    quality = 90 if compression is None else max(1, min(compression, 100))
    if output_format == "jpeg":
        edited.save(buffer, "JPEG", quality=quality)
    elif output_format == "webp":
        edited.save(buffer, "WEBP", quality=quality)
    elif output_format == "gif":  # preview format: the input fading into the edit, frame_count frames
        steps = max(2, frame_count)
        frames = [
            Image.blend(base.convert(edited.mode), edited, step / (steps - 1)).convert("RGB")
            for step in range(steps)
        ]
        frames[-1].save(
            buffer, "GIF", save_all=True, append_images=frames[:-1], duration=frame_duration_ms, loop=0
        )
    elif output_format == "svg":  # preview format: an SVG document of the size holding the edit
        edited.save(buffer, "PNG")
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<image width="{width}" height="{height}" href="data:image/png;base64,{data}"/></svg>\n'
        ).encode()
    else:
        edited.save(buffer, "PNG")
    return buffer.getvalue()


def _auto_size(first: ImageInfo) -> tuple[int, int]:
    """The size ``auto`` gives for an edit: the standard size closest to the input's shape."""
    if first.width >= first.height * 1.25:
        return 1536, 1024
    if first.height >= first.width * 1.25:
        return 1024, 1536
    return 1024, 1024


def edit_routes(state: EmulatorState) -> list[Route]:
    """The routes of edits and variations, over one emulator's state."""
    routes = _EditRoutes(state)
    return [
        Route(EDITS_PATH, routes.edits, methods=["POST"]),
        Route(VARIATIONS_PATH, routes.variations, methods=["POST"]),
    ]


@dataclass(frozen=True)
class _Job:
    """One request to answer: its operation, checked fields, decoded inputs and what to draw."""

    operation: Operation[Any, Any]
    fields: dict[str, object]
    images: list[_Input]
    mask: _Input | None
    markup: _Input | None
    plan: Plan
    strength: float
    own_alpha: bool


class _EditRoutes:
    """The handlers of edits and variations over one emulator's state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def edits(self, request: Request) -> Response:
        """``POST /v1/images/edits``: multipart uploads or JSON references."""
        denied = check_auth(request)
        if denied is not None:
            return denied
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        deployments = self.state.config.azure_deployments
        try:
            if media == "multipart/form-data":
                fields, images, others = await _read_form(request, CREATE_IMAGE_EDIT)
                if (refused := azure_model(request.scope, fields, deployments)) is not None:
                    return refused
                job = self._job(
                    CREATE_IMAGE_EDIT, fields, images, others.get("mask"), markup=others.get("markup")
                )
            elif media == "application/json":
                fields = _read_json(await request.body())
                if (refused := azure_model(request.scope, fields, deployments)) is not None:
                    return refused
                job = self._json_job(fields)
            else:
                return _unsupported_media(media, "multipart/form-data or application/json")
        except _BadRequest as bad:
            return bad.response
        return await self._answer(request, job)

    async def variations(self, request: Request) -> Response:
        """``POST /v1/images/variations``: one multipart upload."""
        denied = check_auth(request)
        if denied is not None:
            return denied
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "multipart/form-data":
            return _unsupported_media(media, "multipart/form-data")
        try:
            fields, images, _ = await _read_form(request, CREATE_IMAGE_VARIATION)
            job = self._job(CREATE_IMAGE_VARIATION, fields, images, None)
        except _BadRequest as bad:
            return bad.response
        return await self._answer(request, job)

    def _json_job(self, fields: dict[str, object]) -> _Job:
        """Check a JSON edit's body, then read its references and check them by the model's input rules,
        as uploads."""  # noqa: D205, D209 - one sentence over two lines
        _validate(CREATE_IMAGE_EDIT_JSON, fields)
        images, mask = _resolve_references(self.state, fields)
        as_uploads: dict[str, object] = {
            name: value
            for name, value in fields.items()
            if name in field_schemas(CREATE_IMAGE_EDIT) and name not in ("image", "mask")
        }
        as_uploads["image"] = [item.info for item in images]
        if mask is not None:
            as_uploads["mask"] = mask.info
        _validate(CREATE_IMAGE_EDIT, as_uploads)
        return self._job(CREATE_IMAGE_EDIT_JSON, fields, images, mask, checked=True)

    def _job(
        self,
        operation: Operation[Any, Any],
        fields: dict[str, object],
        images: list[_Input],
        mask: _Input | None,
        *,
        markup: _Input | None = None,
        checked: bool = False,
    ) -> _Job:
        """Validate (unless done) and plan the answer."""
        if not checked:
            _validate(operation, fields)
        model = resolve_model(fields, operation)
        if model is None:
            known = ", ".join(f"'{name}'" for name in MODEL_RULES)
            message = f"Invalid value for 'model': '{fields['model']}'. Supported values are: {known}."
            raise _BadRequest(error(400, message, param="model", code="invalid_value"))
        if not images:  # only with a model the rules do not know, which is refused above
            raise _BadRequest(error(400, "An input image is required.", param="image", code="invalid_value"))
        plan_fields: dict[str, Any] = {"prompt": "", **fields, "model": model}
        rules = MODEL_RULES[model]
        if str(plan_fields.get("size", "auto")) == "auto" and rules.family == "gpt-image":
            plan_fields["size"] = "{}x{}".format(*_auto_size(images[0].info))
        variation = operation is CREATE_IMAGE_VARIATION
        return _Job(
            operation,
            fields,
            images,
            mask,
            markup,
            make_plan(plan_fields, model),
            _VARIATION_STRENGTH if variation else _EDIT_STRENGTH,
            not variation and rules.inputs is not None and rules.inputs.alpha_without_mask,
        )

    async def _derive(self, job: _Job, index: int) -> bytes:
        plan = job.plan
        fmt = plan.output_format
        mask = job.mask.data if job.mask is not None else None
        markup = job.markup.data if job.markup is not None else None
        return await anyio.to_thread.run_sync(
            lambda: derive_image(
                job.images[0].data if markup is None else _marked_up(job.images[0].data, markup),
                mask,
                prompt=plan.prompt,
                index=index,
                seed=self.state.config.seed,
                width=plan.width,
                height=plan.height,
                output_format=fmt,
                transparent=plan.transparent,
                compression=plan.compression,
                strength=job.strength,
                use_own_alpha=job.own_alpha,
                frame_count=plan.frame_count,
                frame_duration_ms=plan.frame_duration_ms,
            )
        )

    async def _answer(self, request: Request, job: _Job) -> Response:

        plan = job.plan
        if plan.stream:
            return StreamingResponse(
                self._events(job), media_type="text/event-stream", headers={"cache-control": "no-cache"}
            )
        outputs = [await self._derive(job, index) for index in range(plan.n)]
        created = int(time.time())
        if not plan.gpt:
            data = []
            for content in outputs:
                if plan.response_format == "b64_json":
                    data.append({"b64_json": base64.b64encode(content).decode("ascii")})
                    continue
                lifetime = self.state.config.url_lifetime
                name = self.state.store.put(
                    content, media_type="image/png", extension="png", lifetime=lifetime
                )
                data.append({"url": f"{str(request.base_url).rstrip('/')}{FILES_PATH}/{name}"})
            return JSONResponse({"created": created, "data": data})
        usage = usage_of(plan, plan.n, [item.info for item in job.images])
        body: dict[str, Any] = {
            "created": created,
            "data": [{"b64_json": base64.b64encode(content).decode("ascii")} for content in outputs],
            "background": plan.background,
            "output_format": plan.output_format,
            "quality": plan.quality,
            "size": f"{plan.width}x{plan.height}",
            "usage": usage,
        }
        return JSONResponse(body)

    async def _events(self, job: _Job) -> AsyncIterator[str]:

        plan = job.plan
        common = {
            "size": f"{plan.width}x{plan.height}",
            "quality": plan.quality,
            "background": plan.background,
            "output_format": plan.output_format,
        }
        fmt = cast("Any", plan.output_format)  # draw_partial takes every format the plan may hold
        for index in range(plan.n):
            final = await self._derive(job, index)
            for step in range(plan.partial_images):
                partial = await anyio.to_thread.run_sync(draw_partial, final, step, plan.partial_images, fmt)
                event = {
                    "type": "image_edit.partial_image",
                    "b64_json": base64.b64encode(partial).decode("ascii"),
                    "created_at": int(time.time()),
                    **common,
                    "partial_image_index": step,
                }
                yield sse(event)
            usage = usage_of(plan, 1, [item.info for item in job.images])
            completed = {
                "type": "image_edit.completed",
                "b64_json": base64.b64encode(final).decode("ascii"),
                "created_at": int(time.time()),
                **common,
                "usage": usage,
            }
            yield sse(completed)


def _validate(operation: Operation[Any, Any], fields: dict[str, object]) -> None:
    """The SDK's own validation; a violation becomes the API's 400."""
    try:
        validate(operation, fields)
    except InvalidParameterError as exc:
        raise _BadRequest(invalid(exc, operation)) from exc


def _unsupported_media(media: str, expected: str) -> Response:

    message = f"Invalid Content-Type header ({media or 'none'}), expected {expected}."
    return error(400, message, code="invalid_content_type")
