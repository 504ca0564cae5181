"""The `oai-images` command, run for real in subprocesses, and its option parsing through click's runner."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from oai_images import GeneratedImage
from oai_images.cli import main

SECRET = "sk-test-NEVER-PRINT-THIS-0123456789"
EXE = shutil.which("oai-images", path=str(Path(sys.executable).parent)) or "oai-images"


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, with no OpenAI variables unless given."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    clean.update(env or {})
    if stdin is None:  # nothing piped: as from a terminal-less job, whatever this test run's own input is
        return subprocess.run(
            [EXE, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=clean, timeout=120,
            check=False,
        )  # fmt: skip
    return subprocess.run(
        [EXE, *args], input=stdin, capture_output=True, text=True, env=clean, timeout=120, check=False
    )


class Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that records every request and answers with a canned status and body."""

    status = 500
    body = b'{"error": {"message": "boom", "type": "server_error", "param": null, "code": null}}'
    requests: list[tuple[str, str, bytes]]


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.server.requests.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", "req_recorded123")
        self.send_header("content-length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:  # the base class names it so
        """Keep the test output quiet."""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A recording server on an ephemeral 127.0.0.1 port."""
    server = Recorder(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _base_url(server: Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the main job, against the emulator -----------------------------------------------------------


@pytest.mark.slow
def test_generate_emulator_saves_decodable_images_of_the_requested_size(tmp_path: Path) -> None:
    """dall-e-3 at 1792x1024: one path on stdout, a real PNG of that size, the revised prompt on stderr."""
    done = run(
        "generate",
        "a lighthouse at dusk",
        "--emulator",
        "-m",
        "dall-e-3",
        "-s",
        "1792x1024",
        "-o",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    path = Path(lines[0])
    assert path.parent == tmp_path
    assert path.suffix == ".png"
    assert "lighthouse-at-dusk" in path.name
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1792, 1024)
    assert "revised prompt:" in done.stderr


@pytest.mark.slow
def test_generate_n_images_from_stdin_prompt(tmp_path: Path) -> None:
    """PROMPT `-` reads stdin; n=3 with dall-e-2 gives three distinct files, one path per line."""
    done = run(
        "generate",
        "-",
        "--emulator",
        "-m",
        "dall-e-2",
        "-n",
        "3",
        "-s",
        "256x256",
        "-o",
        str(tmp_path),
        stdin="a cute cat\n",
    )
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert len(paths) == 3
    assert len({path.read_bytes() for path in paths}) == 3
    assert all("a-cute-cat" in path.name for path in paths)
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (256, 256)


@pytest.mark.slow
def test_generate_json_document(tmp_path: Path) -> None:
    """--json prints one JSON document with paths, usage, request id and model, and nothing else."""
    done = run(
        "generate",
        "an otter",
        "--emulator",
        "-m",
        "gpt-image-2",
        "-s",
        "1536x864",
        "--output-format",
        "webp",
        "--background",
        "transparent",
        "--json",
        "-o",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"] == "gpt-image-2"
    assert document["request_id"]
    assert document["usage"]["total_tokens"] > 0
    [entry] = document["images"]
    path = Path(entry["path"])
    assert path.suffix == ".webp"
    with Image.open(path) as image:
        assert (image.format, image.size, image.mode) == ("WEBP", (1536, 864), "RGBA")


@pytest.mark.slow
def test_generate_url_response_is_downloaded_at_once(tmp_path: Path) -> None:
    """With response_format url the image is fetched and saved, and the URL is in the JSON."""
    done = run(
        "generate",
        "a fox",
        "--emulator",
        "-m",
        "dall-e-2",
        "-r",
        "url",
        "-s",
        "512x512",
        "--json",
        "-o",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)["images"]
    assert entry["url"].startswith("http")
    with Image.open(entry["path"]) as image:
        assert image.size == (512, 512)


@pytest.mark.slow
def test_generate_against_served_emulator_on_loopback(tmp_path: Path) -> None:
    """`oai-images serve` on 127.0.0.1, then `generate --base-url` against it, as two real processes."""
    port = _free_port()
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        done = run(
            "generate",
            "a red kite",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "-s",
            "512x512",
            "-o",
            str(tmp_path),
            env={"OPENAI_API_KEY": SECRET},
        )
        assert done.returncode == 0, done.stderr
        with Image.open(done.stdout.strip()) as image:
            assert image.size == (512, 512)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_show_opens_each_saved_image_in_the_default_viewer(tmp_path: Path) -> None:
    """--show hands every saved file to the platform opener (a stand-in xdg-open that records its calls)."""
    record = tmp_path / "opened.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$1" >> "{record}"\n')
    opener.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "DISPLAY": ":99"}
    done = run(
        "generate",
        "two foxes",
        "--emulator",
        "-m",
        "dall-e-2",
        "-n",
        "2",
        "-s",
        "256x256",
        "--show",
        "-o",
        str(tmp_path / "out"),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    saved = done.stdout.splitlines()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not record.exists() or len(record.read_text().splitlines()) < 2):
        time.sleep(0.05)
    assert sorted(record.read_text().splitlines()) == sorted(saved)


def test_show_without_a_display_still_saves_and_says_why(tmp_path: Path) -> None:
    """With no display, --show explains on stderr; the image is saved and the exit status is 0."""
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    done = run(
        "generate",
        "a fox",
        "--emulator",
        "-m",
        "dall-e-2",
        "-s",
        "256x256",
        "--show",
        "-o",
        str(tmp_path),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()
    assert "no display" in done.stderr


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_no_partial_file(tmp_path: Path) -> None:
    """SIGINT while waiting for a slow generation: exit 130, one line on stderr, nothing left in --out."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    clean["OAI_IMAGES_EMULATOR_LATENCY_MS"] = "20000"
    out = tmp_path / "out"
    process = subprocess.Popen(
        [EXE, "generate", "a slow fox", "--emulator", "-s", "256x256", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean,
    )
    time.sleep(3)  # well inside the 20 s the emulator takes, and past start-up even on a slow machine
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stdout == ""
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.slow
def test_partial_images_are_saved_as_they_stream(tmp_path: Path) -> None:
    """--partial-images streams: partials saved and named on stderr, final paths alone on stdout."""
    done = run(
        "generate",
        "an otter",
        "--emulator",
        "-m",
        "gpt-image-2",
        "-s",
        "1536x864",
        "-n",
        "2",
        "--partial-images",
        "2",
        "--json",
        "-o",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    finals = [Path(image["path"]) for image in document["images"]]
    partials = [Path(path) for path in document["partial_images"]]
    assert [path.name.rsplit("-", 1)[-1] for path in finals] == ["1.png", "2.png"]
    assert len(partials) == 4
    assert all("-partial" in path.name for path in partials)
    assert done.stderr.count("partial image: ") == 4
    assert document["usage"]["total_tokens"] > 0
    for path in finals + partials:
        with Image.open(path) as image:
            assert image.size == (1536, 864)


def test_svg_options_go_out_nested(recorder: Recorder) -> None:
    """--svg-model and --svg-reasoning-effort become the request's svg object."""
    run(
        "generate",
        "a logo",
        "--base-url",
        _base_url(recorder),
        "-m",
        "gpt-image-2.5-flare",
        "--output-format",
        "svg",
        "--svg-model",
        "gpt-5",
        "--svg-reasoning-effort",
        "low",
        "--max-retries",
        "0",
        env={"OPENAI_API_KEY": SECRET},
    )
    [(_, _, body)] = recorder.requests
    assert json.loads(body)["svg"] == {"model": "gpt-5", "reasoning": {"effort": "low"}}


class _BreakingStream(BaseHTTPRequestHandler):
    """Streams one partial and one completed image, then breaks the connection mid-stream."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        png = base64.b64encode(b"\x89PNG\r\n\x1a\nfinal-image").decode()
        events: list[dict[str, Any]] = [
            {"type": "image_generation.partial_image", "b64_json": png, "partial_image_index": 0},
            {"type": "image_generation.completed", "b64_json": png},
            {"type": "image_generation.partial_image", "b64_json": png, "partial_image_index": 0},
        ]
        body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body) + 10_000))  # promises more than ever comes
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:  # the base class names it so
        """Keep the test output quiet."""


def test_stream_that_breaks_keeps_the_images_already_complete(tmp_path: Path) -> None:
    """A stream cut after the first final image: exit 1, but that image is saved and named on stderr."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BreakingStream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = run(
            "generate",
            "two otters",
            "--base-url",
            f"http://127.0.0.1:{server.server_address[1]}/v1",
            "-m",
            "gpt-image-2",
            "-n",
            "2",
            "--partial-images",
            "1",
            "--max-retries",
            "0",
            "-o",
            str(tmp_path),
            env={"OPENAI_API_KEY": SECRET},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1
    assert done.stdout == ""
    saved = [line.split(": ", 1)[1] for line in done.stderr.splitlines() if line.startswith("saved before")]
    assert len(saved) == 1
    assert Path(saved[0]).read_bytes() == b"\x89PNG\r\n\x1a\nfinal-image"
    assert Path(saved[0]).name.endswith("-two-otters-1.png")


@pytest.mark.slow
def test_streamed_usage_adds_up_the_images(tmp_path: Path) -> None:
    """With n=2 streamed, the reported output tokens are those of both images, as without streaming."""
    common = ["an otter", "--emulator", "-m", "gpt-image-1", "-n", "2", "--json", "-o", str(tmp_path)]
    plain = json.loads(run("generate", *common).stdout)
    streamed = json.loads(run("generate", *common, "--partial-images", "0").stdout)
    assert streamed["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    assert len(streamed["images"]) == 2


def test_streaming_without_a_model_reports_no_single_model(tmp_path: Path) -> None:
    """Streaming without -m is a GPT request, so --json does not claim the dall-e-2 default."""
    done = run("generate", "an otter", "--emulator", "--partial-images", "0", "--json", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] is None


def test_partial_images_with_dall_e_names_the_option(tmp_path: Path) -> None:
    """--partial-images with a dall-e model exits 2 naming the option the user typed."""
    done = run("generate", "an otter", "--emulator", "-m", "dall-e-3", "--partial-images", "1")
    assert done.returncode == 2
    assert "--partial-images" in done.stderr


def test_an_answer_without_images_is_a_failure(recorder: Recorder) -> None:
    """A 200 with no image in it exits 1 saying so, rather than succeeding with nothing saved."""
    recorder.status = 200
    recorder.body = b'{"created": 1, "data": []}'
    done = run("generate", "a cat", "--base-url", _base_url(recorder), env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 1
    assert "without an image" in done.stderr


# --- errors and exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (["-m", "dall-e-2", "-s", "1792x1024"], "size"),
        (["-m", "dall-e-3", "-n", "2"], "n"),
        (["-m", "dall-e-2", "--style", "vivid"], "style"),
        (["-m", "dall-e-2", "-q", "hd"], "quality"),
        (["-m", "gpt-image-1", "-r", "url"], "response_format"),
        (["-m", "gpt-image-1", "--background", "transparent", "--output-format", "jpeg"], "background"),
        (["-m", "gpt-image-1", "--output-compression", "50"], "output_compression"),
        (["-r", "json"], "response_format"),
    ],
)
def test_invalid_parameters_exit_2_and_send_nothing(recorder: Recorder, args: list[str], param: str) -> None:
    """Each invalid combination exits 2 naming the parameter and allowed values, and no request is sent."""
    done = run("generate", "a cat", "--base-url", _base_url(recorder), *args, env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2
    assert param in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert recorder.requests == []


def test_no_validate_sends_what_was_given(recorder: Recorder) -> None:
    """--no-validate skips the checks: the request goes out as given (and the server's error exits 1)."""
    recorder.status = 400
    done = run(
        "generate",
        "a cat",
        "--base-url",
        _base_url(recorder),
        "-m",
        "dall-e-2",
        "-s",
        "1792x1024",
        "--no-validate",
        "--max-retries",
        "0",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1
    [(method, path, body)] = recorder.requests
    assert (method, path) == ("POST", "/v1/images/generations")
    assert json.loads(body) == {"prompt": "a cat", "model": "dall-e-2", "size": "1792x1024"}


def test_api_failure_exits_1_with_status_message_and_request_id(recorder: Recorder) -> None:
    """A 500 exits 1 naming the status, the API's message and the request id, never the key."""
    done = run(
        "generate",
        "a cat",
        "--base-url",
        _base_url(recorder),
        "--max-retries",
        "1",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1
    assert "500" in done.stderr
    assert "boom" in done.stderr
    assert "req_recorded123" in done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert len(recorder.requests) == 2  # the first try and one retry


def test_debug_shows_the_traceback(recorder: Recorder) -> None:
    """--debug adds the traceback to the one-line message."""
    done = run(
        "generate",
        "a cat",
        "--base-url",
        _base_url(recorder),
        "--max-retries",
        "0",
        "--debug",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert SECRET not in done.stderr


def test_network_failure_exits_1() -> None:
    """Nothing listening on the port: exit 1 with a connection error."""
    done = run(
        "generate",
        "a cat",
        "--base-url",
        f"http://127.0.0.1:{_free_port()}/v1",
        "--max-retries",
        "0",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_key_exits_2_with_advice() -> None:
    """No OPENAI_API_KEY and neither --emulator nor --base-url: exit 2, saying how to fix it."""
    done = run("generate", "a cat")
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr
    assert "--emulator" in done.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "env", "needle"),
    [
        (["-", "--emulator"], "caf\udce9 au lait", {}, "not UTF-8"),
        (["a cat", "--base-url", "http://[::1/v1"], None, {"OPENAI_API_KEY": SECRET}, "base_url"),
        (["a cat"], None, {"OPENAI_API_KEY": SECRET + "\u00e9"}, "api_key"),
        (["a cat", "-m", "gpt-image-2.5-flare", "--output-format", "svg"], None, {}, "--emulator"),
    ],
)
def test_unusable_input_exits_2_without_a_traceback(
    args: list[str], stdin: str | None, env: dict[str, str], needle: str
) -> None:
    """Undecodable stdin, a bad base URL, an unsendable key, no key: exit 2, one line, no key shown."""
    encoded = None if stdin is None else stdin.encode("utf-8", "surrogateescape")
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    clean.update(env)
    done = subprocess.run(
        [EXE, "generate", *args], input=encoded, capture_output=True, env=clean, check=False
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert needle in stderr
    assert "Traceback" not in stderr
    assert SECRET not in stderr + done.stdout.decode()


@pytest.mark.slow
def test_emulator_does_not_read_the_real_key(tmp_path: Path) -> None:
    """With --emulator a malformed OPENAI_API_KEY is not even read: the run succeeds offline."""
    done = run(
        "generate",
        "a fox",
        "--emulator",
        "-s",
        "256x256",
        "-o",
        str(tmp_path),
        "--json",
        env={"OPENAI_API_KEY": SECRET + "\u00e9"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == "dall-e-2"  # the API's documented default, reported


def test_openai_base_url_alone_does_not_excuse_a_missing_key() -> None:
    """OPENAI_BASE_URL is often the API's own address: without a key it is still exit 2, nothing sent."""
    done = run("generate", "an otter", env={"OPENAI_BASE_URL": "https://api.openai.com/v1"})
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr


def test_whitespace_prompt_exits_2() -> None:
    """A prompt of only white space is refused before sending, like an empty one."""
    done = run("generate", "   ", "--emulator")
    assert done.returncode == 2
    assert "prompt" in done.stderr


@pytest.mark.slow
def test_stdin_byte_order_mark_is_not_part_of_the_prompt(tmp_path: Path) -> None:
    """A UTF-8 byte order mark before the prompt on stdin is dropped, not sent."""
    done = subprocess.run(
        [EXE, "generate", "-", "--emulator", "-m", "dall-e-3", "-o", str(tmp_path)],
        input="\ufeffan otter\n".encode(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "revised prompt: an otter" in done.stderr.decode()


@pytest.mark.slow
def test_out_expands_the_home_folder(tmp_path: Path) -> None:
    """--out '~/pics' means the home folder; no folder named '~' appears where the command runs."""
    home = tmp_path / "home"
    done = subprocess.run(
        [EXE, "generate", "a fox", "--emulator", "-s", "256x256", "--out", "~/pics"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == home / "pics"
    assert not (tmp_path / "~").exists()


# --- option parsing and help (click's runner) -----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["generate"],
        ["generate", "p", "-n", "two"],
        ["generate", "p", "--timeout", "0"],
        ["generate", "p", "--max-retries", "-1"],
        ["generate", "p", "--output-compression", "high"],
        ["generate", "p", "--no-such-option"],
    ],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    """Malformed arguments are click usage errors: exit 2."""
    assert CliRunner().invoke(main, args).exit_code == 2


def test_generate_help_lists_every_model_and_its_values() -> None:
    """`generate --help` lists each option, each model's values, and Get-OAIImageGeneration's examples."""
    result = CliRunner().invoke(main, ["generate", "--help"], terminal_width=120)
    assert result.exit_code == 0
    text = result.output
    for option in (
        "--model",
        "--n",
        "--quality",
        "--response-format",
        "--size",
        "--style",
        "--user",
        "--show",
        "--background",
        "--moderation",
        "--output-format",
        "--output-compression",
        "--out",
        "--json",
        "--emulator",
        "--base-url",
        "--timeout",
        "--max-retries",
        "--no-validate",
    ):
        assert option in text
    assert "size: 256x256, 512x512, 1024x1024" in text
    assert "size: 1024x1024, 1792x1024, 1024x1792" in text
    assert "style: vivid, natural" in text
    assert "gpt-image-2.5-flare" in text
    assert "Get-OAIImageGeneration's examples (PSAI module)" in text
    assert "Generate a cute cat image" in text


def test_help_does_not_import_heavy_modules() -> None:
    """`oai-images --help` loads neither the server, Pillow, rich, httpx, the facade nor the models."""
    code = (
        "import sys\n"
        "from oai_images.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('starlette', 'uvicorn', 'PIL', 'rich', 'httpx', 'oai_images._client',\n"
        "         'oai_images_api.models', 'oai_images_emulator')\n"
        "print('HEAVY', [name for name in heavy if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout


# --- issue 15: the command line and the first ten minutes -----------------------------------------


def test_serve_help_keeps_its_examples_one_per_line() -> None:
    """`serve --help` prints no literal backslash-b and keeps each example on a line of its own."""
    done = run("serve", "--help")
    assert done.returncode == 0
    assert "\\b" not in done.stdout
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert "Examples:" in lines
    assert "oai-images serve" in lines
    assert "oai-images serve --port 0 --latency-ms 200-800" in lines
    assert "oai-images serve --fault 'rate_limit;times=2;retry_after=1'" in lines


def test_generate_help_leads_with_todays_models() -> None:
    """The first example of `generate --help` names gpt-image-2; no example relies on the default model."""
    done = run("generate", "--help")
    assert done.returncode == 0
    examples = done.stdout.split("Examples:", 1)[1].split("Valid values per model", 1)[0]
    commands = [
        line.strip() for line in examples.splitlines() if line.strip().startswith(("oai-images", "echo"))
    ]
    assert "-m gpt-image-2" in commands[0]
    assert all(" -m " in command for command in commands)
    assert "--output-file" in done.stdout
    assert "--name TEMPLATE" in done.stdout


def test_out_with_a_file_name_exits_2_pointing_at_output_file(tmp_path: Path) -> None:
    """`-o fox.png` no longer makes a folder named fox.png: exit 2, nothing created, --output-file named."""
    done = subprocess.run(
        [EXE, "generate", "a fox", "--emulator", "-o", "fox.png"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert "--output-file fox.png" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_out_naming_an_existing_file_exits_2(tmp_path: Path) -> None:
    """`-o notes.txt` where that is a file: exit 2 before anything is sent, and the file is untouched."""
    (tmp_path / "notes.txt").write_text("mine")
    done = run("generate", "a fox", "--emulator", "-o", str(tmp_path / "notes.txt"))
    assert done.returncode == 2
    assert "is a file" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.slow
def test_output_file_saves_the_one_image_there(tmp_path: Path) -> None:
    """--output-file writes exactly that file, a real image in the asked format, and prints its path."""
    target = tmp_path / "pics" / "fox.webp"
    args = [
        "a fox",
        "--emulator",
        "-m",
        "gpt-image-1.5",
        "--output-format",
        "webp",
        "--output-file",
        str(target),
    ]
    done = run("generate", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    with Image.open(target) as image:
        assert image.format == "WEBP"
    assert os.listdir(target.parent) == ["fox.webp"]
    again = run("generate", *args)
    assert again.returncode == 2
    assert "--overwrite" in again.stderr
    assert run("generate", *args, "--overwrite").returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-m", "dall-e-3", "--output-file", "fox.jpg"], "must end in .png"),  # a model that gives only PNG
        (["--output-format", "jpeg", "--output-file", "fox.png"], "must end in .jpg or .jpeg"),
        (["-n", "2", "--output-file", "fox.png"], "saves one image"),
        (["--output-file", "fox.png", "-o", "out"], "does not go with --out"),
        (["--output-file", "fox.png", "--name", "{slug}"], "does not go with --name"),
        (["--name", "{prompt}"], "not one of {slug}, {index}, {id}, {time}"),
        (["--name", "../{slug}"], "path separator"),
    ],
)
def test_output_options_that_cannot_work_exit_2_and_send_nothing(
    recorder: Recorder, tmp_path: Path, args: list[str], needle: str
) -> None:
    """A wrong extension, -n 2 with one file, clashing options, a bad template: exit 2, no request sent."""
    done = subprocess.run(
        [EXE, "generate", "a fox", "-m", "gpt-image-2", "--base-url", _base_url(recorder), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "OPENAI_API_KEY": SECRET},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr
    assert recorder.requests == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_name_template_names_every_file(tmp_path: Path) -> None:
    """--name applies {slug}, {index:02d} and {id} to each image; two different images, two ids."""
    done = run(
        "generate", "日本の猫", "--emulator", "-m", "gpt-image-1.5", "-n", "2", "-o", str(tmp_path),
        "--name", "{slug}-{index:02d}-{id}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = [Path(line).name for line in done.stdout.splitlines()]
    assert [name[: len("日本の猫-01")] for name in names] == ["日本の猫-01", "日本の猫-02"]
    assert len({name.rsplit("-", 1)[1] for name in names}) == 2


@pytest.mark.slow
def test_non_latin_prompts_get_distinct_readable_names(tmp_path: Path) -> None:
    """Two Japanese prompts: the files carry their own words, not a shared `image`."""
    cat = run("generate", "日本の猫", "--emulator", "-s", "256x256", "-o", str(tmp_path))
    dog = run("generate", "日本の犬", "--emulator", "-s", "256x256", "-o", str(tmp_path))
    assert cat.returncode == dog.returncode == 0, cat.stderr + dog.stderr
    assert Path(cat.stdout.strip()).name.endswith("-日本の猫-1.png")
    assert Path(dog.stdout.strip()).name.endswith("-日本の犬-1.png")


@pytest.mark.slow
def test_cli_and_save_into_a_folder_name_files_alike(tmp_path: Path) -> None:
    """The CLI's file and `image.save(folder)` of the same prompt differ only in their time stamp."""
    done = run("generate", "a red kite", "--emulator", "-s", "256x256", "-o", str(tmp_path / "cli"))
    code = (
        "import sys, oai_images\n"
        "c = oai_images.ImagesClient(emulator=True)\n"
        "print(c.generate('a red kite', size='256x256').images[0].save(sys.argv[1] + '/'))\n"
    )
    saved = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "py")], capture_output=True, text=True, check=True
    )
    cli_name, py_name = Path(done.stdout.strip()).name, Path(saved.stdout.strip()).name
    assert cli_name[len("20261129-130502") :] == py_name[len("20261129-130502") :] == "-a-red-kite-1.png"


@pytest.mark.slow
def test_piped_prompt_is_read_without_an_argument(tmp_path: Path) -> None:
    """`echo "a fox" | oai-images generate`: no PROMPT, stdin not a terminal, so stdin is the prompt."""
    done = run("generate", "--emulator", "-m", "dall-e-3", "-o", str(tmp_path), stdin="a piped fox\n")
    assert done.returncode == 0, done.stderr
    assert "revised prompt: a piped fox" in done.stderr
    assert Path(done.stdout.strip()).name.endswith("-a-piped-fox-1.png")


@pytest.mark.parametrize(
    ("args", "allowed", "refused"),
    [
        (["-m", "dall-e-3", "-s", "1792x1000"], "allowed: 1024x1024, 1792x1024, 1024x1792", "WxH"),
        (["-m", "dall-e-2", "-s", "1"], "allowed: 256x256, 512x512, 1024x1024", "WxH"),
        (["-m", "dall-e-3", "-q", "ultra"], "allowed: standard, hd", "medium"),
        (["-m", "gpt-image-1.5", "-s", "1792x1000"], "allowed: 1024x1024, 1536x1024, 1024x1536, auto", "WxH"),
    ],
)
def test_errors_list_what_that_model_accepts(
    recorder: Recorder, args: list[str], allowed: str, refused: str
) -> None:
    """A size the model does not take is refused; the error lists that model's values only."""
    done = run("generate", "a cat", "--base-url", _base_url(recorder), *args, env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2
    assert allowed in done.stderr
    assert refused not in done.stderr
    assert args[1] in done.stderr
    assert recorder.requests == []


def test_missing_key_exits_2_naming_the_variable_and_sends_nothing(recorder: Recorder) -> None:
    """No key for the public API: exit 2, the message names OPENAI_API_KEY and --emulator, nothing sent."""
    done = run("generate", "a cat", "-m", "gpt-image-2")
    assert done.returncode == 2
    assert done.stderr.startswith("error: no API key: set OPENAI_API_KEY")
    assert "--emulator" in done.stderr
    assert "Traceback" not in done.stderr


_HIDE_EMULATOR = """
import sys

class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "PIL", "uvicorn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Hidden())
"""


@pytest.mark.parametrize("args", [["generate", "a fox", "--emulator"], ["serve", "--port", "0"]])
def test_emulator_without_its_extra_exits_2_saying_what_to_install(tmp_path: Path, args: list[str]) -> None:
    """With starlette and Pillow hidden (as without the extra): exit 2 and the pip command, no traceback."""
    (tmp_path / "sitecustomize.py").write_text(_HIDE_EMULATOR)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    done = run(*args, env={"PYTHONPATH": path})
    assert done.returncode == 2, done.stderr
    assert "pip install 'oai-images[emulator]'" in done.stderr
    assert "emulator=True" not in done.stderr
    assert "Traceback" not in done.stderr


def test_show_without_a_display_leaves_no_temporary_file(tmp_path: Path) -> None:
    """image.show() with no display raises saying so, and writes nothing to the temporary folder."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = (
        "import oai_images\n"
        "image = oai_images.ImagesClient(emulator=True).generate('a fox', size='256x256').images[0]\n"
        "try:\n    image.show()\nexcept oai_images.OAIImagesError as exc:\n    print('ERROR', exc)\n"
        "print('PATH', image.path)\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "TMPDIR": str(temp)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR cannot show the image: there is no display" in done.stdout
    assert "PATH None" in done.stdout
    assert list(temp.iterdir()) == []


@pytest.mark.slow
def test_rate_limit_retry_is_announced_on_stderr(tmp_path: Path) -> None:
    """rate_limit;times=1 in the emulator: stderr says `rate limited, retrying in 1 s (1/2)`; it works."""
    done = run(
        "generate", "a fox", "--emulator", "-s", "256x256", "--max-retries", "2", "-o", str(tmp_path),
        env={"OAI_IMAGES_EMULATOR_FAULT": "rate_limit;times=1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rate limited, retrying in 1 s (1/2)" in done.stderr.splitlines()
    assert Path(done.stdout.strip()).is_file()


def test_models_lists_each_model_with_its_values() -> None:
    """`oai-images models`: every model of the rules table, with sizes, qualities, n and retirement notes."""
    from oai_images.rules import MODEL_RULES

    done = run("models")
    assert done.returncode == 0, done.stderr
    for model in MODEL_RULES:
        assert model in done.stdout
    assert "size: 1024x1024, 1792x1024, 1024x1792" in done.stdout
    assert "quality: standard, hd" in done.stdout
    assert "retired by OpenAI on 2026-05-12" in done.stdout
    assert done.stdout.index("gpt-image-2") < done.stdout.index("dall-e-2")  # today's models first


def test_models_json_is_one_entry_per_model() -> None:
    """`oai-images models --json`: one entry per model, read from the rules table."""
    from oai_images.rules import MODEL_RULES

    done = run("models", "--json")
    assert done.returncode == 0, done.stderr
    entries = {entry["model"]: entry for entry in json.loads(done.stdout)}
    assert set(entries) == set(MODEL_RULES)
    assert entries["dall-e-3"]["sizes"] == ["1024x1024", "1792x1024", "1024x1792"]
    assert entries["dall-e-3"]["qualities"] == ["standard", "hd"]
    assert entries["dall-e-3"]["n"] == {"min": 1, "max": 1}
    assert entries["dall-e-2"]["note"].startswith("retired")
    assert entries["gpt-image-2"]["free_sizes"]
    assert entries["gpt-image-1.5"]["formats"] == ["png", "jpeg", "webp", "gif", "svg"]


def _complete(words: str) -> list[str]:
    """What bash completion offers for the last (possibly empty) word of ``words``."""
    parts = words.split(" ")
    env = {"_OAI_IMAGES_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    done = run(env=env)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("oai-images mo", ["models"]),
        ("oai-images generate --output-f", ["--output-file", "--output-format"]),
        ("oai-images generate -m dall-e-", ["dall-e-2", "dall-e-3"]),
        ("oai-images generate -m dall-e-3 -s ", ["1024x1024", "1792x1024", "1024x1792"]),
        ("oai-images generate -m dall-e-3 -q ", ["standard", "hd"]),
        ("oai-images generate --background ", ["transparent", "opaque", "auto"]),
    ],
)
def test_shell_completion_offers_commands_options_and_values(words: str, expected: list[str]) -> None:
    """Tab completion (bash protocol) completes commands, options, models, and a model's own values."""
    assert sorted(_complete(words)) == sorted(expected)


def test_shell_completion_script_is_documented_and_generated() -> None:
    """`--help` says how to enable completion, and the bash_source script it names is really produced."""
    assert "_OAI_IMAGES_COMPLETE=bash_source oai-images" in run("--help").stdout
    done = run(env={"_OAI_IMAGES_COMPLETE": "bash_source"})
    assert done.returncode == 0
    assert "complete " in done.stdout
    assert "_oai_images_completion" in done.stdout


# --- hardening: rescue fallbacks, interrupts, double billing --------------------------------------------


def _blocked(tmp_path: Path) -> Path:
    """A folder path that cannot be made (a file stands where its parent should be), even for root."""
    (tmp_path / "file").write_bytes(b"")
    return tmp_path / "file" / "folder"


def test_names_save_falls_back_to_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--out and the rescue folder both unusable: the image goes to the user's cache folder."""
    import tempfile

    import platformdirs

    from oai_images.cli import _output

    made: list[Path] = []

    def mkdtemp(prefix: str = "") -> str:
        made.append(_blocked(tmp_path))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / "cache" / name))
    names = _output.Names(_blocked(tmp_path))
    path = names.save(GeneratedImage(b64_json=PNG_B64_CLI, prompt="a fox", index=1))
    assert path.parent == tmp_path / "cache" / "oai-images" / "rescued"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert made


def test_names_save_names_the_image_it_could_not_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fallback unusable: an OSError naming the image and its URL; no empty rescue folder is left."""
    import tempfile

    import platformdirs

    from oai_images.cli import _output

    rescue = tmp_path / "rescue"

    def mkdtemp(prefix: str = "") -> str:
        rescue.mkdir()
        return str(rescue)

    real_save = GeneratedImage.save

    def full_disk(image: GeneratedImage, path_or_dir: Any, **options: Any) -> Path:
        if Path(path_or_dir) == rescue:
            raise OSError(28, "No space left on device")
        return real_save(image, path_or_dir, **options)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(GeneratedImage, "save", full_disk)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(_blocked(tmp_path)))
    monkeypatch.setattr(Path, "cwd", staticmethod(lambda: _blocked(tmp_path)))
    image = GeneratedImage(url="https://images.test/fox.png", download=lambda url: PNG_CLI, index=1)
    with pytest.raises(OSError, match=r"image 1 could not be kept anywhere.*https://images.test/fox.png"):
        _output.Names(_blocked(tmp_path)).save(image)
    assert not rescue.exists()


def test_generate_exits_130_when_interrupted_after_saving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the report is printed (outside the error translation) still exits 130, not 1."""
    generate_module = sys.modules["oai_images.cli.generate"]

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_module, "report", interrupted)
    result = CliRunner().invoke(main, ["generate", "a fox", "--emulator", "--out", str(tmp_path)])
    assert result.exit_code == 130


@pytest.mark.slow
def test_generate_warns_when_a_retry_may_have_billed_twice(tmp_path: Path, hostile: Any) -> None:
    """A 200 that breaks mid-body, then a retry that succeeds: the image is saved and a warning says so."""
    from tests.hostile_server import answer, cut

    body = json.dumps({"created": 1, "data": [{"b64_json": PNG_B64_CLI}]}).encode()
    hostile.script(cut(200, body, after=10), answer(200, body))
    result = run(
        "generate",
        "a fox",
        "--base-url",
        hostile.base_url,
        "--out",
        str(tmp_path),
        env={"OPENAI_API_KEY": "sk-x"},
    )
    assert result.returncode == 0, result.stderr
    assert "2 generations may have been billed" in result.stderr
    assert len(list(tmp_path.iterdir())) == 1


PNG_CLI = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_B64_CLI = base64.b64encode(PNG_CLI).decode()


def test_python_dash_m_runs_the_command_line(tmp_path: Path) -> None:
    """`python -m oai_images` is `oai-images`: its help, and a real generation with the emulator."""
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENAI_")}
    shown = subprocess.run(
        [sys.executable, "-m", "oai_images", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Usage: oai-images")
    done = subprocess.run(
        [sys.executable, "-m", "oai_images", "generate", "a fox", "--emulator", "-o", str(tmp_path)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()


@pytest.mark.parametrize(
    ("words", "cword"),
    [("oai-images edit 'a fox' ", 3), ("oai-images edit 'a fox' in.png --mask ", 5), ("oai-images vary ", 2)],
)
def test_completion_offers_file_names_for_images(words: str, cword: int) -> None:
    """Tab completion completes file names for edit's IMAGE and --mask and for vary's IMAGE."""
    result = CliRunner().invoke(
        main, [], prog_name="oai-images",
        env={"_OAI_IMAGES_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("file,")


def test_near_miss_model_names_are_refused_with_a_suggestion(tmp_path: Path) -> None:
    """`-m gpt-image-1.6`: exit 2, "did you mean gpt-image-1.5?", nothing sent; --no-validate sends it as
    given, and a name far from every known one (a server's own model) goes to the server."""  # noqa: D205, D209
    near = run("generate", "a fox", "--emulator", "-m", "gpt-image-1.6", "-o", str(tmp_path))
    assert near.returncode == 2
    assert "did you mean gpt-image-1.5?" in near.stderr
    assert not list(tmp_path.iterdir())
    sent = run("generate", "a fox", "--emulator", "-m", "gpt-image-1.6", "--no-validate", "-o", str(tmp_path))
    assert sent.returncode == 1  # the emulator, like the API, refuses the name
    assert "the API answered 400" in sent.stderr
    far = run("generate", "a fox", "--emulator", "-m", "cat-v1", "-o", str(tmp_path))
    assert "did you mean" not in far.stderr


def test_piped_text_is_added_to_the_prompt_argument(tmp_path: Path) -> None:
    """`echo … | oai-images generate "a fox"`: the argument, then the piped text (as llm joins them)."""
    done = run("generate", "a fox", "--emulator", "-m", "dall-e-3", "-o", str(tmp_path), "--json",
               stdin="in the style of a woodcut\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    [image] = json.loads(done.stdout)["images"]
    assert "a-fox-in-the-style-of-a-woodcut" in Path(image["path"]).name
    alone = run("generate", "a fox", "--emulator", "-m", "dall-e-3", "-o", str(tmp_path), stdin="")
    assert alone.returncode == 0, alone.stderr
    assert Path(alone.stdout.strip()).name.endswith("-a-fox-1.png")


def test_small_escapes_are_clear_errors(tmp_path: Path) -> None:
    """A NUL in an upload path, a huge format width in --name, a non-UTF-8 --search and a dangling link as
    --output-file: each a clear error (exit 2, nothing sent), never a traceback or a paid image in a rescue
    folder."""  # noqa: D205, D209
    from oai_images import ImagesClient, InvalidParameterError

    with ImagesClient(emulator=True) as client, pytest.raises(InvalidParameterError) as caught:
        client.edit("a hat", image="fox\x00.png", model="gpt-image-1.5")
    assert caught.value.param == "image"
    huge = run(
        "generate", "a fox", "--emulator", "-o", str(tmp_path), "--name", "{index:>9223372036854775807}"
    )
    assert huge.returncode == 2, huge.stderr
    assert "Traceback" not in huge.stderr
    assert "MemoryError" not in huge.stderr
    search = subprocess.run(
        [EXE, "history", "--search", os.fsdecode(b"\xff")],
        capture_output=True, text=True, check=False, env={**os.environ, "OAI_IMAGES_HOME": str(tmp_path)},
    )  # fmt: skip
    assert search.returncode == 2, search.stderr
    assert "UTF-8" in search.stderr
    link = tmp_path / "fox.png"
    link.symlink_to(tmp_path / "missing" / "fox.png")
    dangling = run("generate", "a fox", "--emulator", "--output-file", str(link))
    assert dangling.returncode == 2, dangling.stderr
    assert "link to nothing" in dangling.stderr
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_format_from_the_file_name_and_values_in_any_case(tmp_path: Path) -> None:
    """--output-file fox.webp asks for WebP when no --output-format says otherwise (a model that gives only
    PNG is refused, before sending); --output-format JPEG and -s 1024X1536 are sent as the spec writes
    them."""  # noqa: D205, D209
    webp = run(
        "generate", "a fox", "--emulator", "-m", "gpt-image-1.5", "--output-file", str(tmp_path / "fox.webp")
    )
    assert webp.returncode == 0, webp.stderr
    with Image.open(tmp_path / "fox.webp") as image:
        assert image.format == "WEBP"
    png_only = run(
        "generate", "a fox", "--emulator", "-m", "dall-e-3", "--output-file", str(tmp_path / "x.webp")
    )
    assert png_only.returncode == 2
    cased = run(
        "generate", "a fox", "--emulator", "-m", "gpt-image-1.5", "--output-format", "JPEG",
        "-s", "1024X1536", "-o", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert cased.returncode == 0, cased.stderr
    [image] = json.loads(cased.stdout)["images"]
    with Image.open(image["path"]) as saved:
        assert (saved.format, saved.size) == ("JPEG", (1024, 1536))


def test_default_model_from_the_environment_or_the_config_file(tmp_path: Path) -> None:
    """No -m: OAI_IMAGES_MODEL, else `model` in the config file, is sent; with neither, a warning says the
    API's default is the retired dall-e-2; -m and a batch line's own model win."""  # noqa: D205, D209
    home = tmp_path / "home"
    home.mkdir()
    base = {"OAI_IMAGES_HOME": str(home)}
    bare = run("generate", "a fox", "--emulator", "-o", str(tmp_path / "a"), "--json", env=base)
    assert bare.returncode == 0, bare.stderr
    assert "retired" in bare.stderr
    assert "OAI_IMAGES_MODEL" in bare.stderr
    assert json.loads(bare.stdout)["model"] == "dall-e-2"
    (home / "config.toml").write_text('model = "gpt-image-1.5"\n')
    configured = run("generate", "a fox", "--emulator", "-o", str(tmp_path / "b"), "--json", env=base)
    assert configured.returncode == 0, configured.stderr
    assert "retired" not in configured.stderr
    assert json.loads(configured.stdout)["model"] == "gpt-image-1.5"
    env_wins = run("generate", "a fox", "--emulator", "-o", str(tmp_path / "c"), "--json",
                   env={**base, "OAI_IMAGES_MODEL": "gpt-image-2"})  # fmt: skip
    assert json.loads(env_wins.stdout)["model"] == "gpt-image-2"
    flag_wins = run("generate", "a fox", "--emulator", "-m", "dall-e-3", "-o", str(tmp_path / "d"), "--json",
                    env=base)  # fmt: skip
    assert json.loads(flag_wins.stdout)["model"] == "dall-e-3"
    lines = tmp_path / "lines.jsonl"
    lines.write_text('{"prompt": "a fox"}\n{"prompt": "a cat", "model": "dall-e-3"}\n')
    batch = run("batch", str(lines), "--emulator", "--out", str(tmp_path / "e"), "--json", env=base)
    assert batch.returncode == 0, batch.stderr
    saved = [json.loads(line) for line in batch.stdout.splitlines() if '"saved"' in line]
    assert len(saved) == 2
    recorded = run("history", "--json", "--limit", "2", env=base)
    models = {entry["prompt"]: entry["model"] for entry in map(json.loads, recorded.stdout.splitlines())}
    assert models == {"a fox": "gpt-image-1.5", "a cat": "dall-e-3"}  # the default, and the line's own
    broken = run("generate", "a fox", "--emulator", env={**base, "OAI_IMAGES_MODEL": ""}, stdin="")
    assert broken.returncode == 0
    (home / "config.toml").write_text("model = [1, 2]\n")
    refused = run("generate", "a fox", "--emulator", "-o", str(tmp_path / "f"), env=base)
    assert refused.returncode == 2
    assert "config.toml" in refused.stderr
