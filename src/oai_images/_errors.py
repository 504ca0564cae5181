"""Every error oai-images raises. No exception of httpx or of the generated package escapes the facade.

The tree::

    OAIImagesError
    ├── InvalidParameterError (also a ValueError)   raised before any network call
    │   └── MissingAPIKeyError                       no API key was given or found
    ├── APIConnectionError                           the server could not be reached, or the connection broke
    │   └── APITimeoutError
    └── APIStatusError                               the server answered with an error, or an unreadable 2xx
        ├── APIResponseValidationError    2xx whose body is not what the spec says
        ├── BadRequestError               400
        ├── AuthenticationError           401
        ├── PermissionDeniedError         403
        ├── NotFoundError                 404
        ├── ConflictError                 409
        ├── UnprocessableEntityError      422
        ├── RateLimitError                429
        └── InternalServerError           >= 500

No message, repr or attribute of these errors holds an API key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._limits import RateLimit

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OAIImagesError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "safe_repr",
    "status_error_class",
]

_REPR_LIMIT = 60


def safe_repr(value: object, limit: int = _REPR_LIMIT) -> str:
    """``repr(value)``, shortened to ``limit`` characters; never raises.

    A hostile value (an int of thousands of digits, a list nested deeper than the recursion limit, an
    object whose ``__repr__`` raises) is named by its type instead.
    """
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OAIImagesError(Exception):
    """The base of every error oai-images raises."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameterError(OAIImagesError, ValueError):
    """A parameter value the API would reject; raised before any network call.

    Attributes:
        param: The API field name, such as ``"size"``.
        value: The value that was given.
        allowed: The allowed values, or a description of them (``("1 to 10",)``); empty when the
            parameter is not accepted at all in this combination.
        message: A sentence naming the parameter, the value, the model and what is allowed.
    """

    param: str
    value: object
    allowed: tuple[str, ...]

    def __init__(self, param: str, value: object, allowed: Iterable[str], message: str) -> None:
        super().__init__(message)
        self.param = param
        self.value = value
        self.allowed = tuple(allowed)

    def __repr__(self) -> str:
        return (
            f"InvalidParameterError(param={self.param!r}, value={safe_repr(self.value)}, "
            f"allowed={self.allowed!r})"
        )


class MissingAPIKeyError(InvalidParameterError):
    """No API key was given, and none was found in the environment; raised before any network call.

    Its ``param`` is ``"api_key"`` and its ``value`` None: the error never holds a key.
    """

    def __init__(self, message: str) -> None:
        super().__init__("api_key", None, ("an API key from OPENAI_API_KEY", "emulator=True"), message)

    def __repr__(self) -> str:
        return "MissingAPIKeyError(param='api_key')"


class APIConnectionError(OAIImagesError):
    """The request did not get an answer: the server was unreachable or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(OAIImagesError):
    """The server answered with a non-2xx status.

    Attributes:
        status_code: The HTTP status.
        request_id: The ``x-request-id`` header, when the server sent one.
        type: ``error.type`` of the error envelope, when the body had one.
        code: ``error.code`` of the envelope.
        param: ``error.param`` of the envelope: the field the server blamed.
        message: ``error.message`` of the envelope, else a description of the body.
        body: The parsed JSON body, or the text of a body that was not JSON.
        rate_limit: The rate limits the server reported with the answer (``x-ratelimit-*``,
            ``retry-after``), if any: what a 429 says about when to try again.
    """

    status_code: int
    request_id: str | None
    type: str | None
    code: str | None
    param: str | None
    body: object
    rate_limit: RateLimit | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        type: str | None = None,  # shadows the builtin on purpose: the envelope's own field name
        code: str | None = None,
        param: str | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.type = type
        self.code = code
        self.param = param
        self.body = body

    def __str__(self) -> str:
        details = [f"status {self.status_code}"]
        if self.code:
            details.append(f"code {self.code}")
        if self.param:
            details.append(f"param {self.param}")
        if self.request_id:
            details.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(details)})"


class APIResponseValidationError(APIStatusError):
    """A 2xx answer whose body is not what the spec says (not JSON, or not the documented shape)."""


class BadRequestError(APIStatusError):
    """400: the server rejected the request."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed or not valid."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this (or a signed image URL has expired)."""


class NotFoundError(APIStatusError):
    """404: no such resource (or an image URL that no longer exists)."""


class ConflictError(APIStatusError):
    """409: a conflicting request is in progress."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests, or the quota is used up."""


class InternalServerError(APIStatusError):
    """500 and above: the server failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The error class for a non-2xx status: a named subclass, else APIStatusError itself."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)
