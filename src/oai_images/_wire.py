"""The wire format, as pure functions both clients share: request bodies, answers, errors, stream events.

Nothing here does I/O. Request bodies are built by the generated body model of an operation (its
``from_dict``/``to_dict``); answers are read with the generated models, leniently, because servers (and
proxies in front of them) do not always answer in the documented shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import APIResponseValidationError, APIStatusError, InvalidParameterError, status_error_class
from ._limits import parse_rate_limit
from ._redact import redact, redact_json, without_partial_secret

if TYPE_CHECKING:
    from oai_images_api.models import ImageGenCompletedEvent, ImageGenPartialImageEvent

PARTIAL_IMAGE_EVENT = "image_generation.partial_image"
COMPLETED_EVENT = "image_generation.completed"
# A streamed edit's events carry the same fields under their own names (ImageEdit*Event in the spec).
EDIT_PARTIAL_IMAGE_EVENT = "image_edit.partial_image"
EDIT_COMPLETED_EVENT = "image_edit.completed"
PARTIAL_IMAGE_EVENTS = frozenset({PARTIAL_IMAGE_EVENT, EDIT_PARTIAL_IMAGE_EVENT})
COMPLETED_EVENTS = frozenset({COMPLETED_EVENT, EDIT_COMPLETED_EVENT})
#: Parts of an images response that are not the images; dropped when they cannot be read.
_SNIPPET_LENGTH = 200
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
#: Exceptions a generated model's from_dict raises on a payload off the documented shape.
#: JSON nested deeper than this is no answer of the API (whose deepest object is 4 levels): it is read as
#: text, so that no parse, redaction or repr of it can hit the recursion limit.
MAX_JSON_DEPTH = 64
#: The extension a capped response carries when its body was cut at the cap (see `_send`).
TRUNCATED = "oai_images.truncated"
NOT_JSON = object()


#: The longest text whose brackets are counted before walking its parsed value (see `loads`).
_COUNTED_TEXT = 1 << 16


def loads(text: str | bytes) -> object:
    """Parsed JSON, or `NOT_JSON` for text that is not JSON or is nested deeper than `MAX_JSON_DEPTH`."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON
    # Each level of nesting opens a bracket: text with fewer brackets than the limit cannot pass it, so
    # counting them (in C) spares the walk below for every ordinary answer. Only for short text: the walk
    # costs what the parsed structure holds, the count what the text holds (an image of 30 MB in base64
    # is one string: 40 ms of counting, next to nothing of walking).
    if (
        len(text) <= _COUNTED_TEXT
        and (
            text.count(b"[") + text.count(b"{")
            if isinstance(text, bytes)
            else text.count("[") + text.count("{")
        )
        <= MAX_JSON_DEPTH
    ):
        return value
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return NOT_JSON
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return value


def body_text(response: httpx.Response) -> str:
    """The body of a read response as text, credentials redacted, even from the tail of a capped body."""
    text = response.text
    if response.extensions.get(TRUNCATED):
        text = without_partial_secret(text)
    return redact(text)


def request_body(fields: Mapping[str, object]) -> dict[str, Any]:
    """The JSON body of a request carrying exactly ``fields``, each as JSON writes it.

    Generated models given by the caller (an ``SvgOptions``, say) are written as their ``to_dict()``. The
    operation's generated body model would write the same mapping (its ``from_dict(...).to_dict()`` is the
    identity on it, which ``tests/test_wire.py`` proves for every field of every JSON operation), so the body
    is not sent through it: that round trip was a fifth of the per-call cost. Fields the model cannot read
    (only with ``validate=False``) are sent as given: that is what ``validate=False`` promises.
    """
    return {
        name: value if type(value) in _JSON_SCALARS else _plain_value(value) for name, value in fields.items()
    }


#: The types JSON writes as they are (most fields), spared the look for a ``to_dict``.
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_value(value: object) -> object:
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) and not isinstance(value, type) else value


def unsendable(fields: Mapping[str, object], exc: Exception) -> InvalidParameterError:
    """The error for a request that cannot be encoded (with validate=False), naming the field at fault."""
    for name, value in fields.items():
        try:
            json.dumps(_plain_value(value), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, UnicodeError, RecursionError, OverflowError) as problem:
            message = f"{name} ({type(value).__name__}) cannot be sent as JSON: {_problem(problem)}"
            return InvalidParameterError(name, value, ("a value JSON can carry",), message)
    message = f"the request cannot be sent: {_problem(exc)}"
    return InvalidParameterError("body", None, ("a body JSON can carry",), message)


def _problem(exc: BaseException) -> str:
    """An exception's text for a message, never raising, never long."""
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    try:
        text = str(exc)
    except Exception:
        text = type(exc).__name__
    return _snippet(text)


def request_id(response: httpx.Response) -> str | None:
    """The ``x-request-id`` header, when the server sent one (a server may echo the key there too)."""
    # One pass over the raw headers: httpx's lookup by name decodes every header.
    for name, raw in response.headers.raw:
        if name.lower() == b"x-request-id":
            return _snippet(redact(raw.decode("utf-8", "replace")))
    return None


def parse_images_response(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx images answer: an object whose ``data``, if any, is a list of objects.

    Only that shape is checked here; `ImageResult.from_response` reads each field it copies (dropping one
    of the wrong type), and builds the generated ``ImagesResponse`` only when ``result.response`` is read.

    Raises:
        APIStatusError: The body is not an images response (not JSON, not an object, no list of images).
    """
    payload = loads(response.content)
    if isinstance(payload, dict):
        data = payload.get("data", [])
        if isinstance(data, list) and all(isinstance(item, dict) for item in data):
            return payload
    # Raised outside the except clause: the parse error would carry the whole body (the key, maybe).
    raise APIResponseValidationError(
        f"the server answered {response.status_code} with a body that is not an images response",
        status_code=response.status_code,
        request_id=request_id(response),
        body=_snippet(body_text(response)),
    )


def status_error(response: httpx.Response, *, message: str | None = None) -> APIStatusError:
    """The typed error for a non-2xx answer whose body has been read, whatever that body is.

    The error envelope is read with the generated ``ErrorResponse`` when it has the documented shape, and
    field by field when it does not; a body that is not JSON (an HTML 502 page, an empty 520) still gives
    the class for its status, a message naming the status, and the request id.

    Args:
        response: The answer, its body already read.
        message: A message to use instead of the envelope's (the envelope's is appended).
    """
    # Redacted before decoding and again after: the key may be echoed JSON-escaped (\u0073k-...).
    text = body_text(response)
    parsed = loads(text)
    body: object = text if parsed is NOT_JSON else redact_json(parsed)
    envelope = _envelope(body)
    server_message = envelope.get("message")
    if server_message is None:
        server_message = _describe(response, text)
    if message is not None:
        server_message = f"{message} (the server said: {server_message})"
    error = _typed_error(response, server_message, envelope, body)
    error.rate_limit = parse_rate_limit(response.headers)
    return error


def _typed_error(
    response: httpx.Response,
    message: str,
    envelope: Mapping[str, str | None],
    body: object,
) -> APIStatusError:
    """The error class for the response's status, carrying the envelope's fields and the request id.

    Every text it carries is redacted here, whatever it came from (the reason phrase, a header, the body).
    """

    def clean(value: str | None) -> str | None:
        return None if value is None else redact(value)

    return status_error_class(response.status_code)(
        redact(message),
        status_code=response.status_code,
        request_id=request_id(response),
        type=clean(envelope.get("type")),
        code=clean(envelope.get("code")),
        param=clean(envelope.get("param")),
        body=body,
    )


def _envelope(body: object) -> dict[str, str | None]:
    """message/type/code/param of an error body, each a string or None."""
    if not isinstance(body, dict):
        return {}
    from oai_images_api.models import ErrorResponse  # noqa: PLC0415 - loaded when first needed, as above

    try:
        error = ErrorResponse.from_dict(body).error
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        pass
    else:
        fields = {"message": error.message, "type": error.type_, "code": error.code, "param": error.param}
        return {key: _text(value) for key, value in fields.items()}
    inner = body.get("error", body)
    if isinstance(inner, str):
        return {"message": inner}
    if not isinstance(inner, dict):
        return {}
    return {key: _text(inner.get(key)) for key in ("message", "type", "code", "param")}


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    # Any JSON value that is not a string (a number, an object): shortened, and never raising.
    return _snippet(json.dumps(value)) if isinstance(value, int | float | bool) else _snippet(repr(value))


def _describe(response: httpx.Response, text: str) -> str:
    """A message for a body with no envelope: the status, and the page title or the start of the text."""
    status = f"HTTP {response.status_code}"
    if response.reason_phrase:
        status += f" {_snippet(response.reason_phrase)}"
    title = _HTML_TITLE.search(text)
    detail = title.group(1) if title else ("" if "<html" in text.lower() else text)
    detail = " ".join(detail.split())
    return f"{status}: {_snippet(detail)}" if detail else status


def _snippet(text: str) -> str:
    return text if len(text) <= _SNIPPET_LENGTH else text[:_SNIPPET_LENGTH] + "…"


@dataclass
class ServerSentEvents:
    """A line-by-line decoder of a ``text/event-stream`` body (the parts of the format the API uses)."""

    _event: str | None = None
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> tuple[str | None, str] | None:
        """Take one line (without its line ending); return ``(event, data)`` when a message is complete."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None

    def flush(self) -> tuple[str | None, str] | None:
        """The pending message, if any (also called at the end of the stream)."""
        message = (self._event, "\n".join(self._data)) if self._data else None
        self._event, self._data = None, []
        return message


def parse_stream_event(
    event: str | None, data: str, response: httpx.Response
) -> ImageGenPartialImageEvent | ImageGenCompletedEvent | None:
    """The generated model of one server-sent event; None for an event type this version does not know.

    Raises:
        APIStatusError: The server sent an error event, or an image event that cannot be read.
    """
    if data.strip() == "[DONE]":
        return None
    payload = loads(data)
    if not isinstance(payload, dict):
        shown = _snippet(redact(data))
        raise _stream_error(response, f"the server sent an unreadable stream event: {shown}")
    kind = event or payload.get("type")
    if kind == "error" or "error" in payload:
        # Only an error event is redacted: image events carry base64, which must reach the caller as sent.
        redacted = redact_json(payload)
        envelope = _envelope(redacted)
        message = envelope.get("message") or "the server reported an error in the stream"
        raise _typed_error(response, message, envelope, redacted)
    from oai_images_api.models import (  # noqa: PLC0415 - loaded when first needed, as above
        ImageGenCompletedEvent,
        ImageGenPartialImageEvent,
    )

    model: type[ImageGenPartialImageEvent | ImageGenCompletedEvent]
    if kind in PARTIAL_IMAGE_EVENTS:
        model = ImageGenPartialImageEvent
    elif kind in COMPLETED_EVENTS:
        model = ImageGenCompletedEvent
    else:
        return None
    try:
        return model.from_dict({"type": kind, **payload})
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        pass
    raise _stream_error(response, f"the server sent a {kind} event that cannot be read")


def _stream_error(response: httpx.Response, message: str) -> APIStatusError:
    return APIResponseValidationError(
        message, status_code=response.status_code, request_id=request_id(response)
    )
