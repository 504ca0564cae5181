"""The wire format, as pure functions both clients share: request bodies, responses, errors, stream events.

Nothing here does I/O. Requests are built with the generated ``CreateImageRequest`` and the generated
operation's method and path; answers are read with the generated models, leniently, because servers
(and proxies in front of them) do not always answer in the documented shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from oai_images_api.api.images import create_image
from oai_images_api.models import (
    CreateImageRequest,
    ErrorResponse,
    ImageGenCompletedEvent,
    ImageGenPartialImageEvent,
    ImagesResponse,
    SvgOptions,
)

from ._errors import APIStatusError, InvalidParameterError, status_error_class

PARTIAL_IMAGE_EVENT = "image_generation.partial_image"
COMPLETED_EVENT = "image_generation.completed"
_REDACTED = "[redacted]"
#: Parts of an images response that are not the images; dropped when they cannot be read.
_OPTIONAL_OBJECTS = frozenset({"usage", "svg_usage"})
_SNIPPET_LENGTH = 200
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def request_fields(arguments: Mapping[str, object], **extra: object) -> dict[str, object]:
    """The request body's fields from a method's arguments: every argument the caller set, nothing else.

    The public methods pass their ``locals()``: their parameters are named after the API's fields, and
    None means "not set", so a field left at None is not sent and no spec default is filled in.
    """
    fields = {name: value for name, value in arguments.items() if name != "self" and value is not None}
    fields.update(extra)
    return fields


@dataclass(frozen=True)
class Operation:
    """One HTTP call to the API, ready for an httpx client: the generated operation's parts."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def create_image_operation(fields: Mapping[str, object]) -> Operation:
    """The ``POST /images/generations`` call carrying exactly ``fields``.

    The method, path, body and content type come from the generated operation's ``_get_kwargs``. Its
    ``sync_detailed``/``asyncio_detailed`` are not used to send: they raise ``ValueError`` for statuses
    outside ``HTTPStatus`` (520), parse every non-200 body as JSON (an HTML 502 raises), buffer server-sent
    events, and bypass base URL and auth on an injected httpx client. The facade sends with its own client.
    """
    values: dict[str, Any] = dict(fields)
    svg = values.pop("svg", None)
    request = CreateImageRequest(**values)
    if isinstance(svg, SvgOptions):
        request.svg = svg
    elif isinstance(svg, Mapping):
        try:
            request.svg = SvgOptions.from_dict(svg)
        except (KeyError, TypeError, ValueError, AttributeError):  # only with validate=False: send as given
            request["svg"] = dict(svg)
    elif svg is not None:  # with validate=False anything goes, as the caller gave it
        request["svg"] = svg
    kwargs = create_image._get_kwargs(body=request)  # the generated operation's request parts
    return Operation(
        method=str(kwargs["method"]).upper(),
        path=str(kwargs["url"]),
        body=kwargs["json"],
        headers={str(name): str(value) for name, value in kwargs["headers"].items()},
    )


def unsendable(fields: Mapping[str, object], exc: Exception) -> InvalidParameterError:
    """The error for a request that cannot be encoded (with validate=False), naming the field at fault."""
    for name, value in fields.items():
        try:
            json.dumps(value, ensure_ascii=False, allow_nan=False, default=_plain).encode()
        except (TypeError, ValueError, UnicodeError) as problem:
            shown = repr(value)[:60]
            message = f"{name} {shown} cannot be sent as JSON: {problem}"
            return InvalidParameterError(name, value, ("a value JSON can carry",), message)
    message = f"the request cannot be sent: {exc}"
    return InvalidParameterError("body", None, ("a body JSON can carry",), message)


def _plain(value: object) -> object:
    """JSON's fallback for the generated models a caller may pass (svg options)."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: Shorter "keys" (a placeholder such as "x" or "EMPTY" for a local server) are no secret, and replacing
#: every occurrence of them would garble the messages they appear in.
_MIN_SECRET_LENGTH = 8


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced, so a server echoing a key cannot leak it.

    Only for text bound for an error: never for image data, where a short secret could occur by chance.
    """
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return text
    return text.replace(secret, _REDACTED)


def request_id(response: httpx.Response) -> str | None:
    """The ``x-request-id`` header, when the server sent one."""
    value: str | None = response.headers.get("x-request-id")
    return value


def parse_images_response(response: httpx.Response, *, secret: str | None = None) -> ImagesResponse:
    """The generated model of a 2xx answer.

    Raises:
        APIStatusError: The body is not an images response (not JSON, or no ``created``).
    """
    try:
        payload = response.json()
        try:
            return ImagesResponse.from_dict(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            # The images were paid for: when only the accounting is off the documented shape (a usage
            # object missing a detail, no `created`), keep the images and drop what cannot be read.
            trimmed = {key: value for key, value in payload.items() if key not in _OPTIONAL_OBJECTS}
            return ImagesResponse.from_dict({"created": 0, **trimmed})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise APIStatusError(
            f"the server answered {response.status_code} with a body that is not an images response",
            status_code=response.status_code,
            request_id=request_id(response),
            body=_snippet(redact(response.text, secret)),
        ) from exc


def status_error(
    response: httpx.Response, *, secret: str | None = None, message: str | None = None
) -> APIStatusError:
    """The typed error for a non-2xx answer whose body has been read, whatever that body is.

    The error envelope is read with the generated ``ErrorResponse`` when it has the documented shape, and
    field by field when it does not; a body that is not JSON (an HTML 502 page, an empty 520) still gives
    the class for its status, a message naming the status, and the request id.

    Args:
        response: The answer, its body already read.
        secret: The API key, redacted from everything the error carries.
        message: A message to use instead of the envelope's (the envelope's is appended).
    """
    text = redact(response.text, secret)
    body: object
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    envelope = _envelope(body)
    server_message = envelope.get("message")
    if server_message is None:
        server_message = _describe(response, text)
    if message is not None:
        server_message = f"{message} (the server said: {server_message})"
    return _typed_error(response, server_message, envelope, body)


def _typed_error(
    response: httpx.Response, message: str, envelope: Mapping[str, str | None], body: object
) -> APIStatusError:
    """The error class for the response's status, carrying the envelope's fields and the request id."""
    return status_error_class(response.status_code)(
        message,
        status_code=response.status_code,
        request_id=request_id(response),
        type=envelope.get("type"),
        code=envelope.get("code"),
        param=envelope.get("param"),
        body=body,
    )


def _envelope(body: object) -> dict[str, str | None]:
    """message/type/code/param of an error body, each a string or None."""
    if not isinstance(body, dict):
        return {}
    try:
        error = ErrorResponse.from_dict(body).error
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    else:
        return {"message": error.message, "type": error.type_, "code": error.code, "param": error.param}
    inner = body.get("error", body)
    if isinstance(inner, str):
        return {"message": inner}
    if not isinstance(inner, dict):
        return {}
    return {key: _text(inner.get(key)) for key in ("message", "type", "code", "param")}


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _describe(response: httpx.Response, text: str) -> str:
    """A message for a body with no envelope: the status, and the page title or the start of the text."""
    status = f"HTTP {response.status_code}"
    if response.reason_phrase:
        status += f" {response.reason_phrase}"
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
    event: str | None, data: str, response: httpx.Response, *, secret: str | None = None
) -> ImageGenPartialImageEvent | ImageGenCompletedEvent | None:
    """The generated model of one server-sent event; None for an event type this version does not know.

    Raises:
        APIStatusError: The server sent an error event, or an image event that cannot be read.
    """
    if data.strip() == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        shown = _snippet(redact(data, secret))
        raise _stream_error(response, f"the server sent an unreadable stream event: {shown}")
    kind = event or payload.get("type")
    if kind == "error" or "error" in payload:
        # Only an error event is redacted: image events carry base64, which must reach the caller as sent.
        redacted = _redacted(payload, secret)
        envelope = _envelope(redacted)
        message = envelope.get("message") or "the server reported an error in the stream"
        raise _typed_error(response, message, envelope, redacted)
    model: type[ImageGenPartialImageEvent | ImageGenCompletedEvent]
    if kind == PARTIAL_IMAGE_EVENT:
        model = ImageGenPartialImageEvent
    elif kind == COMPLETED_EVENT:
        model = ImageGenCompletedEvent
    else:
        return None
    try:
        return model.from_dict({"type": kind, **payload})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _stream_error(response, f"the server sent a {kind} event that cannot be read") from exc


def _redacted(value: object, secret: str | None) -> Any:
    """A parsed JSON value with the secret redacted from every string in it."""
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {key: _redacted(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, secret) for item in value]
    return value


def _stream_error(response: httpx.Response, message: str) -> APIStatusError:
    return APIStatusError(message, status_code=response.status_code, request_id=request_id(response))
