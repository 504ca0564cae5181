"""The key hunt: every error path driven with a distinctive key that hostile servers echo back, and every
channel searched for it: messages, reprs, attributes, chained exceptions, tracebacks, log records at
DEBUG, and the command line's output with and without --debug."""  # noqa: D205, D209 - one sentence

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

import oai_images
from oai_images._redact import redact, without_partial_secret
from tests.conftest import Facade
from tests.hostile_server import Handler, HostileServer, answer, head, raw

pytestmark = pytest.mark.slow

KEY = "sk-hunt-5f2a9c7e1b3d4a6f8e0c2b4d6f8a0c1e"
ESCAPED = "".join(f"\\u{ord(character):04x}" for character in KEY)
SSE = [("content-type", "text/event-stream")]
EXE = shutil.which("oai-images", path=str(Path(sys.executable).parent)) or "oai-images"


def _envelope(text: str) -> bytes:
    error = {"message": f"bad key {text}", "type": text, "code": text, "param": text}
    return json.dumps({"error": error}).replace("\\\\", "\\").encode()


CASES: dict[str, Handler] = {
    "json-escaped": answer(400, _envelope(ESCAPED), [("content-type", "application/json")]),
    "plain-in-every-field": answer(401, _envelope(KEY), [("content-type", "application/json")]),
    "request-id": answer(500, b"{}", [("x-request-id", KEY)]),
    "reason-phrase": answer(500, b"{}", reason=f"Bad {KEY}"),
    "malformed-header": raw(f"HTTP/1.1 200 OK\r\nbad header {KEY}\r\n\r\n".encode()),
    "non-json-2xx": answer(200, f"not json {KEY}".encode()),
    "html-502": answer(502, f"<html><title>{KEY}</title></html>".encode(), [("content-type", "text/html")]),
    "capped-mid-key": answer(503, b"x" * 4090 + KEY.encode()),
}
STREAM_CASES: dict[str, Handler] = {
    "stream-error-event": answer(
        200,
        b'data: {"error": {"message": "' + ESCAPED.encode() + b'", "code": "' + KEY.encode() + b'"}}\n\n',
        SSE,
    ),
    "stream-unreadable-event": answer(200, f"data: <{KEY}>\n\n".encode(), SSE),
    "stream-request-id": answer(200, b"", [*SSE, ("x-request-id", KEY)]),
}


def _pieces(text: str) -> list[str]:
    """Every 12-character piece of the key found in ``text`` (a cut key leaks too)."""
    return [KEY[i : i + 12] for i in range(len(KEY) - 11) if KEY[i : i + 12] in text]


def _channels(error: BaseException) -> str:
    """Everything an error shows: str, repr, args, attributes and traceback of it and of its chain."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        parts += [str(link), repr(link), repr(link.args), repr(vars(link))]
        parts.append("".join(traceback.format_tb(link.__traceback__)))
        link = link.__cause__ or link.__context__
    return "\n".join(parts)


async def _hunt(facade: Facade, hostile: HostileServer, handler: Handler, *, stream: bool) -> str:
    hostile.script(handler)
    client = facade.client(api_key=KEY, base_url=hostile.base_url, max_retries=0, max_error_body_bytes=4096)
    call = facade.stream(client=client, model="gpt-image-1") if stream else facade.generate(client=client)
    with pytest.raises(oai_images.OAIImagesError) as caught:
        await call
    return _channels(caught.value)


@pytest.mark.parametrize("case", [*CASES, *STREAM_CASES])
async def test_redact_key_reaches_no_error_channel(
    facade: Facade, hostile: HostileServer, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No str, repr, attribute, chained exception, traceback or DEBUG log record holds a piece of the key."""
    caplog.set_level(logging.DEBUG)
    handler = CASES.get(case) or STREAM_CASES[case]
    shown = await _hunt(facade, hostile, handler, stream=case in STREAM_CASES)
    logs = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert _pieces(shown) == []
    assert _pieces(logs) == []


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("case", ["json-escaped", "reason-phrase", "malformed-header", "capped-mid-key"])
def test_redact_key_reaches_no_cli_output(
    hostile: HostileServer, case: str, debug: bool, tmp_path: Any
) -> None:
    """The command line prints no piece of the key, with or without --debug."""
    hostile.script(CASES[case])
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = KEY
    args = [
        EXE,
        "generate",
        "p",
        "--base-url",
        hostile.base_url,
        "--max-retries",
        "0",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(
        [*args, *(["--debug"] if debug else [])],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert _pieces(result.stdout + result.stderr) == []
    assert list(tmp_path.iterdir()) == []


def test_redact_cut_text_keeps_no_prefix_of_the_key() -> None:
    """A body cut in the middle of an echoed key (raw or escaped) keeps no piece of it."""
    for form in (KEY, ESCAPED):
        text = "x" * 50 + form
        for cut in range(51, len(text)):
            kept = redact(without_partial_secret(text[:cut], (KEY,)), (KEY,))
            assert _pieces(kept.encode().decode("unicode_escape")) == []


def test_redact_logs_of_httpx_are_filtered_once_a_client_exists(caplog: pytest.LogCaptureFixture) -> None:
    """A record of httpx's logger carrying a registered key is redacted before any handler sees it."""
    oai_images.ImagesClient(api_key=KEY, base_url="http://127.0.0.1:9/v1").close()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpcore.http11").debug("headers=%r", [(b"x-echo", KEY.encode())])
    assert caplog.records
    assert _pieces(caplog.text) == []


def test_redact_hostile_server_fixture_sends_what_it_is_told(hostile: HostileServer) -> None:
    """The raw answer reaches the client as scripted (so the cases above test what they say)."""
    import httpx

    hostile.script(answer(418, b"teapot", [("x-request-id", KEY)], reason="I'm a teapot"))
    response = httpx.get(hostile.base_url)
    assert (response.status_code, response.headers["x-request-id"], response.text) == (418, KEY, "teapot")
    assert head(200).startswith(b"HTTP/1.1 200 OK")
