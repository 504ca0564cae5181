"""`make update-spec`: upstream extract + overlay give the fragment, the client follows, dead actions fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ("openapi", "generator", "generated")
NEW_FIELD = "watermark"
NEW_MODEL = "gpt-image-3"


def _copy_repo(tmp_path: Path) -> Path:
    """Copy what update-spec reads and writes, so a test can change upstream outside the repository."""
    root = tmp_path / "repo"
    for folder in PIPELINE:
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file update-spec may write, by relative path."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for folder in PIPELINE
        for path in sorted((root / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _update_spec(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "generator" / "update_spec.py"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _upstream(root: Path) -> dict[str, Any]:
    """The pinned upstream extract, parsed: a valid official-style spec holding our operations."""
    document: dict[str, Any] = yaml.safe_load((root / "openapi" / "upstream.yaml").read_text())
    return document


def _write_upstream(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _action_number(root: Path, target: str) -> int:
    """The 1-based number of the first overlay action on `target`, as errors name it."""
    actions = yaml.safe_load((root / "openapi" / "overlay.yaml").read_text())["actions"]
    return next(number for number, action in enumerate(actions, 1) if action["target"] == target)


@pytest.fixture(scope="module")
def new_field_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One update-spec run (with regeneration) on a copy, against upstream plus a field and a model name."""
    tmp_path = tmp_path_factory.mktemp("new-field")
    root = _copy_repo(tmp_path)
    upstream = _upstream(root)
    request = upstream["components"]["schemas"]["CreateImageRequest"]["properties"]
    request[NEW_FIELD] = {
        "type": "boolean",
        "default": False,
        "nullable": True,
        "description": "Add an invisible watermark to the images.",
    }
    next(branch for branch in request["model"]["anyOf"] if "enum" in branch)["enum"].append(NEW_MODEL)
    source = _write_upstream(tmp_path, upstream)
    done = _update_spec(root, "--upstream", str(source), "--commit", "0" * 40, "--date", "2026-12-01")
    return root, done


@pytest.mark.slow
def test_update_spec_against_the_pinned_upstream_changes_nothing(tmp_path: Path) -> None:
    """Re-extracting the pinned upstream and regenerating leaves every file byte for byte as committed."""
    root = _copy_repo(tmp_path)
    before = _snapshot(root)
    source = _write_upstream(tmp_path, _upstream(root))
    done = _update_spec(root, "--upstream", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("createImage: no change") == 2, done.stdout
    assert _snapshot(root) == before


@pytest.mark.slow
def test_update_spec_reports_a_new_field_and_model_name(
    new_field_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The change report names the new request field and the new model, in the fragment and upstream."""
    _, done = new_field_run
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(f"request fields added: {NEW_FIELD}") == 2, done.stdout
    # In the fragment every operation's model takes the shared ImageModel enum (deviation 3); upstream, only
    # createImage's list was changed.
    assert done.stdout.count(f"request model: enum values added: {NEW_MODEL}") == 4, done.stdout
    assert (
        "Upstream: openai/openai-openapi 0000000000000000000000000000000000000000 (2026-12-01)" in done.stdout
    )


@pytest.mark.slow
def test_update_spec_generates_the_new_field_and_model_name(
    new_field_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The regenerated client has the field in CreateImageParams and the model in ImageModel, no hand edit."""
    root, done = new_field_run
    assert done.returncode == 0, done.stderr
    package = root / "generated" / "oai_images_api"
    params = (package / "api" / "images" / "__init__.py").read_text()
    body = params.split("class CreateImageParams(TypedDict, total=False):", 1)[1].split("\nclass ", 1)[0]
    assert f"\n    {NEW_FIELD}: bool | None\n" in body
    assert f'"{NEW_MODEL}"' in (package / "models" / "image_model.py").read_text()
    fragment = yaml.safe_load((root / "openapi" / "images.yaml").read_text())
    field = fragment["components"]["schemas"]["CreateImageRequest"]["properties"][NEW_FIELD]
    assert "default" not in field
    assert "nullable" not in field


@pytest.mark.slow
def test_update_spec_new_field_is_sent_only_when_set(
    new_field_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The generated request model takes the new field and, its upstream default removed, omits it unset."""
    root, _ = new_field_run
    script = (
        "import json; from oai_images_api.models import CreateImageRequest as R; "
        f"print(json.dumps([R(prompt='x').to_dict(), R(prompt='x', {NEW_FIELD}=True).to_dict()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(root / "generated")},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f'[{{"prompt": "x"}}, {{"prompt": "x", "{NEW_FIELD}": true}}]'


def test_update_spec_fails_naming_an_action_whose_target_is_gone(tmp_path: Path) -> None:
    """An upstream without `user` makes the action that edits it fail by number, and nothing is written."""
    root = _copy_repo(tmp_path)
    before = _snapshot(root)
    upstream = _upstream(root)
    del upstream["components"]["schemas"]["CreateImageRequest"]["properties"]["user"]
    source = _write_upstream(tmp_path, upstream)
    done = _update_spec(root, "--upstream", str(source), "--commit", "0" * 40, "--date", "2026-12-01")
    target = "$.components.schemas.CreateImageRequest.properties.user"
    assert done.returncode == 1
    assert f"overlay action {_action_number(root, target)} on {target!r}" in done.stderr
    assert "the target matches nothing in the document" in done.stderr
    assert _snapshot(root) == before


def test_update_spec_asks_where_a_changed_upstream_comes_from(tmp_path: Path) -> None:
    """A changed upstream outside a git checkout needs --commit and --date; else nothing is written."""
    root = _copy_repo(tmp_path)
    before = _snapshot(root)
    upstream = _upstream(root)
    upstream["info"]["version"] = "2.4.0"
    upstream["paths"]["/images/generations"]["post"]["summary"] = "Creates an image."
    done = _update_spec(root, "--upstream", str(_write_upstream(tmp_path, upstream)), "--no-generate")
    assert done.returncode == 2
    assert "--commit SHA" in done.stderr
    assert _snapshot(root) == before


def test_update_spec_reads_commit_and_date_from_a_clean_checkout(tmp_path: Path) -> None:
    """Given a clean git checkout's openapi.yaml, the extract's header records its last commit and date."""
    root = _copy_repo(tmp_path)
    checkout = tmp_path / "openai-openapi"
    checkout.mkdir()
    upstream = _upstream(root)
    upstream["paths"]["/images/generations"]["post"]["summary"] = "Creates an image."
    source = _write_upstream(checkout, upstream)
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "openapi.yaml"], check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "spec"],
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": "2026-12-03T10:00:00Z"},
    )
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    done = _update_spec(root, "--upstream", str(source), "--no-generate")
    assert done.returncode == 0, done.stderr
    header = (root / "openapi" / "upstream.yaml").read_text().split("\nopenapi:", 1)[0]
    assert f"#   commit: {head}\n#   date: 2026-12-03\n" in header


def test_check_passes_on_the_committed_fragment(tmp_path: Path) -> None:
    """The committed openapi/images.yaml is exactly the upstream extract with the overlay applied."""
    done = _update_spec(_copy_repo(tmp_path), "--check")
    assert done.returncode == 0, done.stderr


def test_check_fails_on_a_hand_edit_of_the_fragment(tmp_path: Path) -> None:
    """A hand edit of the fragment fails the check, which points at the overlay and names the change."""
    root = _copy_repo(tmp_path)
    fragment = root / "openapi" / "images.yaml"
    text = fragment.read_text()
    edited = text.replace("        - natural\n", "        - natural\n        - painterly\n")
    assert edited != text
    fragment.write_text(edited)
    done = _update_spec(root, "--check")
    assert done.returncode == 1
    assert "change the overlay and run `make update-spec`" in done.stderr
    assert "request style: enum values removed: painterly" in done.stderr
