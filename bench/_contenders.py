"""The three ways to make the same request: oai-images, the official client, and raw httpx (the floor)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

API_KEY = "sk-bench-not-a-real-key"
BASE_URL = "http://bench.invalid/v1"
URL = f"{BASE_URL}/images/generations"
PROMPT = "a lighthouse at dusk"
FIELDS: dict[str, Any] = {"model": "dall-e-2", "size": "256x256", "response_format": "b64_json"}
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

#: Which contenders exist; "official" needs the `openai` package (bench/requirements.txt).
NAMES = ("oai-images", "official", "raw-httpx")

Call = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]
SaveCall = Callable[[Path], Path]


def have_official() -> bool:
    """Whether the official client is installed (it is in `make bench`, not in the test environment)."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return False
    return True


def available() -> list[str]:
    """The contenders this environment can run."""
    return [name for name in NAMES if name != "official" or have_official()]


def transport(body: bytes) -> httpx.MockTransport:
    """An in-memory transport answering every request with `body`, as the API would."""
    headers = {"content-type": "application/json", "x-request-id": "req_bench"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers=headers)

    return httpx.MockTransport(answer)


def sync_call(name: str, http: httpx.Client, **fields: Any) -> Call:
    """One generate call by contender `name`, over `http`."""
    fields = {**FIELDS, **fields}
    if name == "oai-images":
        import oai_images

        client = oai_images.ImagesClient(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return lambda: client.generate(PROMPT, **fields)
    if name == "official":
        import openai

        official = openai.OpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return lambda: official.images.generate(prompt=PROMPT, **fields)
    body = {"prompt": PROMPT, **fields}

    def raw() -> object:
        response = http.post(URL, json=body, headers=HEADERS)
        response.raise_for_status()
        return response.json()

    return raw


def async_call(name: str, http: httpx.AsyncClient, **fields: Any) -> AsyncCall:
    """One awaited generate call by contender `name`, over `http`."""
    fields = {**FIELDS, **fields}
    if name == "oai-images":
        import oai_images

        client = oai_images.AsyncImagesClient(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return lambda: client.generate(PROMPT, **fields)
    if name == "official":
        import openai

        official = openai.AsyncOpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return lambda: official.images.generate(prompt=PROMPT, **fields)
    body = {"prompt": PROMPT, **fields}

    async def raw() -> object:
        response = await http.post(URL, json=body, headers=HEADERS)
        response.raise_for_status()
        return response.json()

    return raw


def generate_and_save(name: str, http: httpx.Client, fields: dict[str, Any]) -> SaveCall:
    """From the response bytes to a saved file: what a user of each contender writes."""
    if name == "oai-images":
        import oai_images

        client = oai_images.ImagesClient(api_key=API_KEY, base_url=BASE_URL, http_client=http)

        def with_oai_images(path: Path) -> Path:
            return client.generate(PROMPT, **fields).images[0].save(path)

        return with_oai_images
    if name == "official":
        import openai

        official = openai.OpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=http)

        def with_official(path: Path) -> Path:
            result = official.images.generate(prompt=PROMPT, **fields)
            assert result.data
            assert result.data[0].b64_json
            path.write_bytes(base64.b64decode(result.data[0].b64_json))
            return path

        return with_official
    body = {"prompt": PROMPT, **fields}

    def floor(path: Path) -> Path:
        # The floor: json.loads + base64.b64decode + write, on the bytes httpx hands over.
        content = http.post(URL, json=body, headers=HEADERS).content
        path.write_bytes(base64.b64decode(json.loads(content)["data"][0]["b64_json"]))
        return path

    return floor
