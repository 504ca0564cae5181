r"""The one redaction of secrets, for every channel an error or a log line can reach.

A server (or a proxy in front of it) may echo what it was sent: the key in an error message, a header, a
reason phrase. It may also echo it *encoded*: JSON-escaped (``\u0073k-...``), percent-encoded, or in
base64 (a Basic auth header, a token). `redact` replaces the secret in all of these forms, even mixed
within one echo, so that no str, repr or log line we produce holds it.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "redact", "redact_json"]

REDACTED: Final = "[redacted]"
#: Shorter "keys" (a placeholder such as "x" or "EMPTY" for a local server) are no secret, and replacing
#: every occurrence of them would garble the messages they appear in.
MIN_SECRET_LENGTH: Final = 8


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each secret replaced, in any of the encodings named above.

    Only for text bound for a message, a repr or a log: never for image data, where a short secret could
    occur by chance.
    """
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            text = _pattern(secret).sub(REDACTED, text)
    return text


def redact_json(value: object, secrets: Iterable[str | None]) -> Any:
    """A parsed JSON value with the secrets redacted from every string in it (keys included)."""
    secrets = tuple(secrets)
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
