"""Shared fixtures: one test body against both clients, and a loopback emulator per test module.

The ``facade`` fixture drives ImagesClient and AsyncImagesClient alike; ``server`` is the emulator on an
ephemeral 127.0.0.1 port. Modules import names from here as ``tests.conftest`` (``tests`` is a package so
that mypy resolves it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from oai_images import (
    AsyncImagesClient,
    CompletedImageEvent,
    GeneratedImage,
    ImageResult,
    ImagesClient,
    PartialImageEvent,
)
from tests.hostile_server import HostileServer

if TYPE_CHECKING:
    from oai_images_emulator import EmulatorConfig, EmulatorServer

API_BASE = "https://api.test/v1"
GENERATIONS_URL = f"{API_BASE}/images/generations"
API_KEY = "sk-test-0123456789abcdef"
# A real 1x1 PNG, so extension sniffing and decoding see genuine bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")

AnyClient = ImagesClient | AsyncImagesClient


def multipart_parts(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, data) of each part of a multipart/form-data body, read by the standard library."""
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    found: list[tuple[str, str | None, bytes]] = []
    for part in message.get_payload():
        assert isinstance(part, Message)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append(
            (str(part.get_param("name", header="content-disposition")), part.get_filename(), payload)
        )
    return found


Event = PartialImageEvent | CompletedImageEvent


class Facade:
    """Drives either client through the same awaitable calls; records the retry sleeps."""

    api_base = API_BASE
    url = GENERATIONS_URL
    api_key = API_KEY
    png = PNG
    png_b64 = PNG_B64

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sleeps: list[float] = []

    def client(self, **options: Any) -> AnyClient:
        """A client for API_BASE with API_KEY, a recording sleep and no jitter, unless options differ."""
        options.setdefault("api_key", API_KEY)
        options.setdefault("base_url", API_BASE)
        options.setdefault("jitter", lambda: 0.0)
        if self.kind == "sync":
            return ImagesClient(sleep=self.sleeps.append, **options)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        return AsyncImagesClient(sleep=sleep, **options)

    async def generate(
        self, prompt: str = "a lighthouse", *, client: AnyClient | None = None, **fields: Any
    ) -> ImageResult:
        """Call generate on ``client`` (or a fresh default one, closed afterwards)."""
        used = client if client is not None else self.client()
        try:
            if isinstance(used, ImagesClient):
                return used.generate(prompt, **fields)
            return await used.generate(prompt, **fields)
        finally:
            if client is None:
                await self.close(used)

    async def stream(
        self, prompt: str = "a lighthouse", *, client: AnyClient | None = None, **fields: Any
    ) -> list[Event]:
        """Collect every event of generate_stream."""
        used = client if client is not None else self.client()
        try:
            if isinstance(used, ImagesClient):
                return list(used.generate_stream(prompt, **fields))
            return [event async for event in used.generate_stream(prompt, **fields)]
        finally:
            if client is None:
                await self.close(used)

    async def edit(
        self, prompt: str = "add a red scarf", *, client: AnyClient | None = None, **fields: Any
    ) -> ImageResult:
        """Call edit on ``client`` (or a fresh default one, closed afterwards); ``image`` etc. in fields."""
        used = client if client is not None else self.client()
        try:
            if isinstance(used, ImagesClient):
                return used.edit(prompt, **fields)
            return await used.edit(prompt, **fields)
        finally:
            if client is None:
                await self.close(used)

    async def edit_stream(
        self, prompt: str = "add a red scarf", *, client: AnyClient | None = None, **fields: Any
    ) -> list[Event]:
        """Collect every event of edit_stream."""
        used = client if client is not None else self.client()
        try:
            if isinstance(used, ImagesClient):
                return list(used.edit_stream(prompt, **fields))
            return [event async for event in used.edit_stream(prompt, **fields)]
        finally:
            if client is None:
                await self.close(used)

    async def vary(self, image: Any, *, client: AnyClient | None = None, **fields: Any) -> ImageResult:
        """Call create_variation on ``client`` (or a fresh default one, closed afterwards)."""
        used = client if client is not None else self.client()
        try:
            if isinstance(used, ImagesClient):
                return used.create_variation(image, **fields)
            return await used.create_variation(image, **fields)
        finally:
            if client is None:
                await self.close(used)

    @staticmethod
    def images_body(**extra: Any) -> dict[str, Any]:
        """A 200 body holding one base64 PNG, plus ``extra`` fields."""
        return {"created": 1764000000, "data": [{"b64_json": PNG_B64}], **extra}

    async def close(self, client: AnyClient) -> None:
        """Close either client."""
        if isinstance(client, ImagesClient):
            client.close()
        else:
            await client.aclose()

    async def read(self, image: GeneratedImage) -> bytes:
        """The image bytes, through read or aread to match the client kind."""
        return image.read() if self.kind == "sync" else await image.aread()

    async def save(self, image: GeneratedImage, destination: str | Path, **options: Any) -> Path:
        """Save through save or asave."""
        if self.kind == "sync":
            return image.save(destination, **options)
        return await image.asave(destination, **options)

    async def show(self, image: GeneratedImage, **options: Any) -> Path:
        """Show through show or ashow."""
        if self.kind == "sync":
            return image.show(**options)
        return await image.ashow(**options)


@pytest.fixture(autouse=True)
def history_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every command it runs) records its history in a folder of its own, never the user's."""
    home = tmp_path_factory.mktemp("oai-images-home")
    monkeypatch.setenv("OAI_IMAGES_HOME", str(home))
    monkeypatch.delenv("OAI_IMAGES_NO_HISTORY", raising=False)
    return home


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OPENAI_* variable of the developer's shell leaks into a test."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(params=["sync", "async"])
def facade(request: pytest.FixtureRequest, clean_env: pytest.MonkeyPatch) -> Facade:
    """The same test body, once with ImagesClient and once with AsyncImagesClient."""
    return Facade(str(request.param))


# --- the emulator on a real loopback port, shared by a test module ------------------------------------


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    """The module's fake clock, which the emulator reads for URL expiry."""
    return FakeClock()


@pytest.fixture(scope="module")
def server_config(clock: FakeClock) -> EmulatorConfig:
    """The module's emulator settings: the fake clock, and a short hang; a module may override it."""
    from oai_images_emulator import EmulatorConfig

    return EmulatorConfig(clock=clock, hang_seconds=5)


@pytest.fixture(scope="module")
def shared_server(server_config: EmulatorConfig) -> Iterator[EmulatorServer]:
    """One emulator on an ephemeral 127.0.0.1 port for the module."""
    from oai_images_emulator import EmulatorServer

    with EmulatorServer(server_config) as running:
        yield running


@pytest.fixture
def server(shared_server: EmulatorServer) -> EmulatorServer:
    """The module's server, with no fault, no latency and no recorded request."""
    from oai_images_emulator import Latency

    shared_server.state.reset()
    shared_server.state.config.fault = None
    shared_server.state.config.latency = Latency()
    return shared_server


# --- a scripted raw-socket server on loopback, for hostile answers -------------------------------------


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A raw-socket server on 127.0.0.1 whose answers a test scripts (see tests/hostile_server.py)."""
    server = HostileServer()
    yield server
    server.close()
