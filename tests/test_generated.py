"""The generated client round-trips the wire format, and the drift check catches stale code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from oai_images_api.models import (
    CreateImageRequest,
    ErrorResponse,
    ImageGenCompletedEvent,
    ImageGenOutputTokensDetails,
    ImageGenPartialImageEvent,
    ImageGenUsage,
    ImagesResponse,
    SvgOptions,
    SvgOptionsReasoning,
)
from oai_images_api.types import UNSET

ROOT = Path(__file__).resolve().parent.parent

USAGE = {
    "total_tokens": 100,
    "input_tokens": 50,
    "output_tokens": 50,
    "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
}


def test_request_sends_only_the_fields_set() -> None:
    """A request with just a prompt serialises to just the prompt: no spec default is filled in."""
    assert CreateImageRequest(prompt="a lighthouse").to_dict() == {"prompt": "a lighthouse"}


def test_request_serialises_every_seed_field() -> None:
    """Get-OAIImageGeneration's parameters serialise under the API's field names, their values unchanged."""
    body = CreateImageRequest(
        prompt="a lighthouse",
        model="dall-e-3",
        n=1,
        quality="hd",
        response_format="b64_json",
        size="1792x1024",
        style="natural",
        user="user-123",
    ).to_dict()
    assert body == {
        "prompt": "a lighthouse",
        "model": "dall-e-3",
        "n": 1,
        "quality": "hd",
        "response_format": "b64_json",
        "size": "1792x1024",
        "style": "natural",
        "user": "user-123",
    }


def test_request_serialises_todays_fields() -> None:
    """The GPT-model and preview fields serialise, nested svg options included."""
    body = CreateImageRequest(
        prompt="an otter",
        model="gpt-image-2",
        size="1536x864",
        background="transparent",
        moderation="low",
        output_format="webp",
        output_compression=80,
        stream=True,
        partial_images=2,
        safety_identifier="hash-1",
        complexity="high",
        frame_count=4,
        frame_duration_ms=120,
        svg=SvgOptions(model="gpt-5", reasoning=SvgOptionsReasoning(effort="low")),
    ).to_dict()
    assert body == {
        "prompt": "an otter",
        "model": "gpt-image-2",
        "size": "1536x864",
        "background": "transparent",
        "moderation": "low",
        "output_format": "webp",
        "output_compression": 80,
        "stream": True,
        "partial_images": 2,
        "safety_identifier": "hash-1",
        "complexity": "high",
        "frame_count": 4,
        "frame_duration_ms": 120,
        "svg": {"model": "gpt-5", "reasoning": {"effort": "low"}},
    }


def test_request_keeps_an_explicit_null() -> None:
    """None is sent as JSON null (nullable fields), unlike UNSET, which leaves the key out."""
    body = CreateImageRequest(prompt="x", n=None, quality=UNSET).to_dict()
    assert body == {"prompt": "x", "n": None}
    assert json.dumps(body) == '{"prompt": "x", "n": null}'


def test_request_round_trips_through_from_dict() -> None:
    """A body parsed back into the model serialises to the same JSON."""
    body: dict[str, Any] = {"prompt": "x", "model": "my-own-model", "size": "2048x1152", "n": 2}
    assert CreateImageRequest.from_dict(body).to_dict() == body


def test_response_with_urls_parses() -> None:
    """A dall-e-3 url response parses into typed images with revised prompts."""
    raw = {
        "created": 1713833628,
        "data": [{"url": "https://example.test/img.png", "revised_prompt": "A tall lighthouse at dusk"}],
    }
    parsed = ImagesResponse.from_dict(raw)
    assert parsed.created == 1713833628
    assert isinstance(parsed.data, list)
    assert parsed.data[0].url == "https://example.test/img.png"
    assert parsed.data[0].revised_prompt == "A tall lighthouse at dusk"
    assert parsed.data[0].b64_json is UNSET
    assert parsed.usage is UNSET
    assert parsed.to_dict() == raw


def test_response_with_b64_and_usage_parses() -> None:
    """A GPT-model response parses b64 data, the echoed fields and usage with its details."""
    raw = {
        "created": 1,
        "data": [{"b64_json": "aGVsbG8="}],
        "background": "opaque",
        "output_format": "png",
        "size": "1024x1024",
        "quality": "high",
        "usage": {**USAGE, "output_tokens_details": {"image_tokens": 45, "text_tokens": 5}},
    }
    parsed = ImagesResponse.from_dict(raw)
    assert isinstance(parsed.data, list)
    assert parsed.data[0].b64_json == "aGVsbG8="
    assert parsed.quality == "high"
    usage = parsed.usage
    assert isinstance(usage, ImageGenUsage)
    assert usage.total_tokens == 100
    assert usage.input_tokens_details.image_tokens == 40
    assert isinstance(usage.output_tokens_details, ImageGenOutputTokensDetails)
    assert usage.output_tokens_details.text_tokens == 5
    assert parsed.to_dict() == raw


def test_response_accepts_values_outside_the_documented_enums() -> None:
    """Echoed fields are open strings: a size or quality the spec's enum lacks still parses."""
    parsed = ImagesResponse.from_dict({"created": 1, "size": "2048x1152", "quality": "auto", "data": []})
    assert parsed.size == "2048x1152"
    assert parsed.quality == "auto"


def test_response_keeps_unknown_fields() -> None:
    """A field the spec does not know is kept in additional_properties and serialised back."""
    raw = {"created": 1, "data": [{"b64_json": "eA==", "seed": 7}], "brand_new": {"a": 1}}
    parsed = ImagesResponse.from_dict(raw)
    assert parsed.additional_properties == {"brand_new": {"a": 1}}
    assert isinstance(parsed.data, list)
    assert parsed.data[0].additional_properties == {"seed": 7}
    assert parsed.to_dict() == raw


def test_error_envelope_parses() -> None:
    """The error envelope parses with its nullable param and code."""
    raw = {
        "error": {
            "message": "Invalid size",
            "type": "invalid_request_error",
            "param": "size",
            "code": "invalid_size",
        }
    }
    parsed = ErrorResponse.from_dict(raw)
    assert parsed.error.message == "Invalid size"
    assert parsed.error.param == "size"
    assert parsed.error.code == "invalid_size"
    nulls = ErrorResponse.from_dict({"error": {"message": "m", "type": "t", "param": None, "code": None}})
    assert nulls.error.param is None
    assert nulls.error.code is None


def test_stream_events_parse() -> None:
    """Both streaming events parse, the completed one with its usage."""
    common = {"b64_json": "eA==", "created_at": 5, "size": "1024x1024", "quality": "low"}
    partial = ImageGenPartialImageEvent.from_dict(
        {
            **common,
            "type": "image_generation.partial_image",
            "background": "auto",
            "output_format": "png",
            "partial_image_index": 1,
        }
    )
    assert partial.partial_image_index == 1
    done = ImageGenCompletedEvent.from_dict(
        {
            **common,
            "type": "image_generation.completed",
            "background": "opaque",
            "output_format": "png",
            "usage": USAGE,
        }
    )
    assert isinstance(done.usage, ImageGenUsage)
    assert done.usage.output_tokens == 50


def _copy_pipeline(tmp_path: Path) -> Path:
    """Copy what the generator reads and writes, so a test can edit the spec outside the repo."""
    root = tmp_path / "repo"
    for folder in ("openapi", "generator", "generated"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "generator" / "regenerate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_drift_check_passes_on_the_committed_tree(tmp_path: Path) -> None:
    """The committed generated/ and stamp are what the spec and config produce."""
    done = _check(_copy_pipeline(tmp_path))
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_drift_check_names_files_after_an_enum_edit(tmp_path: Path) -> None:
    """Editing an enum value makes the check fail and name the generated file that changes."""
    root = _copy_pipeline(tmp_path)
    spec = root / "openapi" / "images.yaml"
    text = spec.read_text()
    spec.write_text(text.replace("        - natural\n", "        - natural\n        - painterly\n"))
    done = _check(root)
    assert done.returncode == 1
    assert "generated/oai_images_api/models/image_style.py (differs)" in done.stderr
    assert "generator/stamp.json" in done.stderr


@pytest.mark.slow
def test_drift_check_catches_an_edit_that_changes_no_generated_line(tmp_path: Path) -> None:
    """A maxLength edit generates the same code; the stamp still flags it."""
    root = _copy_pipeline(tmp_path)
    spec = root / "openapi" / "images.yaml"
    text = spec.read_text()
    edited = text.replace("          example: A cute baby sea otter\n", "          maxLength: 32000\n", 1)
    assert edited != text
    spec.write_text(edited)
    done = _check(root)
    assert done.returncode == 1
    assert "generator/stamp.json (differs" in done.stderr
    assert "models/" not in done.stderr


def test_stream_events_need_only_type_and_data() -> None:
    """A server that leaves the echoed fields out of a stream event still gives a parsed event."""
    partial = ImageGenPartialImageEvent.from_dict(
        {"type": "image_generation.partial_image", "b64_json": "eA=="}
    )
    assert partial.b64_json == "eA=="
    assert partial.size is UNSET
    done = ImageGenCompletedEvent.from_dict({"type": "image_generation.completed", "b64_json": "eA=="})
    assert done.usage is UNSET


def test_generated_operation_parts_have_the_shape_the_facade_relies_on() -> None:
    """The facade builds every request from the operation record our templates write (method, path, content
    type, body model), and nothing else of the generator's: a generator upgrade that changes these must
    fail here, not in users' requests; the client classes and endpoint modules are not generated at all."""  # noqa: D205, D209
    import importlib.util

    from oai_images_api.api.images import CREATE_IMAGE

    assert (CREATE_IMAGE.method, CREATE_IMAGE.path) == ("POST", "/images/generations")
    assert CREATE_IMAGE.content_type == "application/json"
    assert CREATE_IMAGE.body is CreateImageRequest
    assert CreateImageRequest.from_dict({"prompt": "x", "size": "256x256"}).to_dict() == {
        "prompt": "x",
        "size": "256x256",
    }
    for unused in (
        "oai_images_api.client",
        "oai_images_api.errors",
        "oai_images_api.api.images.create_image",
    ):
        assert importlib.util.find_spec(unused) is None


def test_bodiless_operations_are_described_with_their_path_and_query() -> None:
    """GET/DELETE and bodiless POST operations get an Operation too: no body, path placeholders, query."""
    from oai_images_api.api import batch, files
    from oai_images_api.models import Batch, ListBatchesResponse

    assert batch.RETRIEVE_BATCH.body is None
    assert batch.RETRIEVE_BATCH.content_type is None
    assert batch.RETRIEVE_BATCH.path.format(**dict.fromkeys(batch.RETRIEVE_BATCH.path_params, "b1")) == (
        "/batches/b1"
    )
    assert batch.RETRIEVE_BATCH.response is Batch
    assert (batch.CANCEL_BATCH.method, batch.CANCEL_BATCH.path_params) == ("POST", ("batch_id",))
    assert set(batch.LIST_BATCHES.query) == {"after", "limit"}
    assert batch.LIST_BATCHES.params is not None
    assert batch.LIST_BATCHES.response is ListBatchesResponse
    assert files.DOWNLOAD_FILE.path == "/files/{file_id}/content"
    assert files.CREATE_FILE.content_type == "multipart/form-data"
    assert files.CREATE_FILE.required == ("file", "purpose")


def test_batch_reads_the_nulls_the_api_sends() -> None:
    """A batch with null errors, request_counts and usage, and a status newer than the spec, parses."""
    from oai_images_api.models import Batch

    parsed = Batch.from_dict(
        {
            "id": "batch_1",
            "object": "batch",
            "endpoint": "/v1/images/generations",
            "input_file_id": "file-1",
            "completion_window": "24h",
            "status": "paused",
            "created_at": 1,
            "errors": None,
            "request_counts": None,
            "usage": None,
            "output_file_id": None,
        }
    )
    assert parsed.status == "paused"
    assert parsed.errors is None
    assert parsed.request_counts is None
