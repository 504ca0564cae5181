r"""The one redaction of secrets, for every channel an error or a log line can reach.

A server (or a proxy in front of it) may echo what it was sent: the key in an error message, a header, a
reason phrase. It may also echo it *encoded*: JSON-escaped (``\u0073k-...``), percent-encoded, or in
base64 (a Basic auth header, a token). `redact` replaces the secret in all of these forms, even mixed
within one echo, so that no str, repr or log line we produce holds it.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, Final

from ._errors import OAIImagesError

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "clean_chain",
    "redact",
    "redact_json",
    "register_secret",
    "scrub",
    "without_partial_secret",
]

REDACTED: Final = "[redacted]"
#: Shorter "keys" (a placeholder such as "x" or "EMPTY" for a local server) are no secret, and replacing
#: every occurrence of them would garble the messages they appear in.
MIN_SECRET_LENGTH: Final = 8


def redact(text: str, secrets: Iterable[str | None] | None = None) -> str:
    """``text`` with every occurrence of each secret replaced, in any of the encodings named above.

    Only for text bound for a message, a repr or a log: never for image data, where a short secret could
    occur by chance. ``secrets`` defaults to every credential a client of this process has sent
    (`register_secret`): what the layers below a client redact with, wherever they cut a server's text.
    """
    for secret in _registered if secrets is None else secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            text = _pattern(secret).sub(REDACTED, text)
    return text


def without_partial_secret(text: str, secrets: Iterable[str | None] | None = None) -> str:
    """``text`` that was cut short, less the tail that could hold the start of a secret (in any form).

    A body capped at N bytes may end in the middle of an echoed key, which `redact` cannot recognise:
    dropping the last 6 characters per character of the longest secret (its longest escaped form) leaves
    no prefix of it behind.
    """
    known = _registered if secrets is None else secrets
    lengths = [len(secret) for secret in known if secret and len(secret) >= MIN_SECRET_LENGTH]
    longest = max(lengths, default=0)
    return text[: max(0, len(text) - 6 * longest)] if longest else text


def clean_chain(error: BaseException, secrets: Iterable[str | None]) -> None:
    """Replace every foreign exception chained to ``error`` by a stand-in with the secrets redacted.

    A chained httpx exception carries the request (and its ``Authorization`` header) and the server's
    words (a malformed header echoing the key); a ``JSONDecodeError`` carries the whole body. The
    stand-in keeps the type (when it can be built from a message) and the redacted message, so a
    traceback still says what went wrong underneath; it carries no request, body or frames.
    """
    secrets = tuple(secrets)
    node: BaseException = error
    seen = {id(node)}
    while True:
        below = node.__cause__ if node.__cause__ is not None else node.__context__
        if below is None or id(below) in seen:
            node.__cause__ = node.__context__ = None
            return
        seen.add(id(below))
        clean = below if _is_ours(below) else _stand_in(below, secrets)
        node.__cause__ = clean
        node.__context__ = None
        node.__suppress_context__ = True
        node = clean


#: The text attributes of our errors that may quote a server (``APIStatusError``'s envelope fields).
_TEXT_ATTRIBUTES: Final = ("message", "type", "code", "param", "request_id")


def scrub(error: BaseException, secrets: Iterable[str | None]) -> None:
    """Redact ``secrets`` from an error on its way out: its message, its arguments, the text attributes
    and ``body`` of an API error, and every exception chained below it (see `clean_chain`).

    The one place where the credentials a client sent are taken out of what it raises, whatever layer
    made the error and whichever token was current then.
    """  # noqa: D205
    secrets = tuple(secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH)
    if secrets:
        error.args = tuple(redact(arg, secrets) if isinstance(arg, str) else arg for arg in error.args)
        for name in _TEXT_ATTRIBUTES:
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, redact(value, secrets))
        body = getattr(error, "body", None)
        if body is not None:
            error.body = redact_json(body, secrets)  # type: ignore[attr-defined]  # checked by getattr
    clean_chain(error, secrets)


def _is_ours(exc: BaseException) -> bool:
    return isinstance(exc, OAIImagesError)


def _stand_in(exc: BaseException, secrets: tuple[str | None, ...]) -> BaseException:
    try:
        text = str(exc)
    except Exception:
        text = ""
    text = redact(text, secrets)
    if len(text) > 1000:
        text = text[:1000] + "…"
    try:
        clean = type(exc)(text)
    except Exception:
        clean = Exception(f"{type(exc).__module__}.{type(exc).__qualname__}: {text}")
    if str(clean) != text and not str(clean).endswith(text):
        clean = Exception(f"{type(exc).__module__}.{type(exc).__qualname__}: {text}")
    clean.__cause__ = exc.__cause__
    clean.__context__ = exc.__context__
    clean.__suppress_context__ = exc.__suppress_context__
    return clean


# --- log records ------------------------------------------------------------------------------------

#: The loggers of the libraries our calls go through; httpcore logs under one child logger per module,
#: and a logger's filters do not see its children's records, so each one gets the filter.
_LOGGERS: Final = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
#: Every credential registered in this process (a tuple, replaced whole: readers never see it change).
_registered: tuple[str, ...] = ()
_lock = threading.Lock()


class _RedactingFilter(logging.Filter):
    """Redacts the registered secrets from every record of httpx and httpcore (their DEBUG records show
    response headers, where a server may echo the key)."""  # noqa: D205, D209 - one sentence

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _registered
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER: Final = _RedactingFilter()


def register_secret(secret: str | None) -> None:
    """Redact ``secret`` from now on (for this process): from the log records of httpx and httpcore, and
    from whatever server text the layers below a client cut into a message."""  # noqa: D205, D209
    global _registered  # noqa: PLW0603 - one registry per process, like the loggers it guards
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret in _registered:
            return
        _registered = (*_registered, secret)
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


def redact_json(value: object, secrets: Iterable[str | None] | None = None) -> Any:
    """A parsed JSON value with the secrets redacted from every string in it (keys included)."""
    secrets = _registered if secrets is None else tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(key), secrets): redact_json(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item, secrets) for item in value]
    return value


@functools.lru_cache(maxsize=16)
def _pattern(secret: str) -> re.Pattern[str]:
    r"""A pattern matching the secret as it is, escaped character by character (JSON ``\u00XX``, ``\/``,
    percent-encoding, mixed freely), or as the middle of its base64 or base64url encoding at any of the
    three alignments."""  # noqa: D205, D209 - one sentence over three lines
    characters = []
    for character in secret:
        code = ord(character)
        forms = [re.escape(character), rf"\\u{code:04x}", rf"%{code:02x}"]
        if character == "/":
            forms.append(r"\\/")
        characters.append("(?:" + "|".join(forms) + ")")
    alternatives = ["".join(characters)]
    raw = secret.encode("utf-8", "surrogatepass")
    for offset, start in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        core = encoded[start : (offset + len(raw)) * 8 // 6]
        if len(core) >= MIN_SECRET_LENGTH:
            alternatives.append(re.escape(core))
            alternatives.append(re.escape(core.replace("+", "-").replace("/", "_")))
    # IGNORECASE: hex digits of escapes may be either case (the secret itself is matched as given too).
    return re.compile("|".join(dict.fromkeys(alternatives)), re.IGNORECASE)
