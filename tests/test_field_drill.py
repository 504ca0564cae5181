"""The field drill: a field added to the spec is usable from the facade after `make generate`, no hand edit.

On a temporary copy of the pipeline and the facade, one optional field is added to the spec's
CreateImageRequest; the generator runs; then, with the copy first on the path, the new keyword is sent on
the wire, its documented range is enforced, a misspelling is refused at run time, and mypy --strict accepts
the new keyword in a user's code while still rejecting the misspelling.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

NEW_FIELD = """\
        sparkle_level:
          description: How much sparkle to add, 0 to 5 (a field invented for this test).
          anyOf:
            - type: integer
              minimum: 0
              maximum: 5
            - type: "null"
"""

# Run with the copy's facade and generated package first on the path: sends through a mock transport and
# prints what happened, one JSON document.
USER_PROGRAM = """\
import json

import httpx

import oai_images

sent = []


def handler(request: httpx.Request) -> httpx.Response:
    sent.append(json.loads(request.content))
    return httpx.Response(200, json={"created": 1, "data": [{"b64_json": "iVBORw0KGgo="}]})


http = httpx.Client(transport=httpx.MockTransport(handler))
outcome = {}
with oai_images.ImagesClient(api_key="sk-drill-0123456789", http_client=http) as client:
    client.generate("a fox", model="gpt-image-2", sparkle_level=3)
    outcome["sent"] = sent[-1]
    for name, value in (("sparkle_level", 9), ("sparkle_levle", 3)):
        try:
            client.generate("a fox", model="gpt-image-2", **{name: value})
        except oai_images.InvalidParameterError as error:
            outcome[name] = [error.param, str(error)]
outcome["requests"] = len(sent)
print(json.dumps(outcome))
"""

TYPED_GOOD = """\
import oai_images


def make(client: oai_images.ImagesClient) -> oai_images.ImageResult:
    return client.generate("a fox", model="gpt-image-2", sparkle_level=3)
"""

TYPED_BAD = TYPED_GOOD.replace("sparkle_level=3", "sparkle_levle=3")


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with the new field in the spec, regenerated."""
    root = tmp_path_factory.mktemp("drill") / "repo"
    for folder in ("openapi", "generator", "generated", "src"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    spec = root / "openapi" / "images.yaml"
    text = spec.read_text()
    anchor = "        svg:\n"  # a field of createImage only
    assert text.count(anchor) == 1
    spec.write_text(text.replace(anchor, NEW_FIELD + anchor))
    subprocess.run(
        [sys.executable, str(root / "generator" / "regenerate.py")], check=True, capture_output=True
    )
    return root


def _env(root: Path) -> dict[str, str]:
    path = os.pathsep.join([str(root / "src"), str(root / "generated")])
    return {**os.environ, "PYTHONPATH": path, "MYPYPATH": path}


@pytest.mark.slow
def test_new_spec_field_is_generated_into_the_params(drilled: Path) -> None:
    """The regenerated params TypedDict declares the new field, with the spec's description."""
    glue = (drilled / "generated" / "oai_images_api" / "api" / "images" / "__init__.py").read_text()
    assert "    sparkle_level: int | None\n" in glue
    assert "How much sparkle to add" in glue


@pytest.mark.slow
def test_new_spec_field_is_sent_checked_and_misspellings_refused(drilled: Path) -> None:
    """The facade sends the new keyword, enforces its range, and names a misspelt keyword, sending neither."""
    done = subprocess.run(
        [sys.executable, "-c", USER_PROGRAM], env=_env(drilled), capture_output=True, text=True, check=True
    )
    outcome = json.loads(done.stdout)
    assert outcome["sent"] == {"prompt": "a fox", "model": "gpt-image-2", "sparkle_level": 3}
    assert outcome["sparkle_level"][0] == "sparkle_level"
    assert "0 to 5" in outcome["sparkle_level"][1]
    assert outcome["sparkle_levle"][0] == "sparkle_levle"
    assert outcome["requests"] == 1


@pytest.mark.slow
def test_new_spec_field_type_checks_in_user_code(drilled: Path, tmp_path: Path) -> None:
    """Mypy --strict accepts the new keyword in a user's call and still rejects a misspelt one."""
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(TYPED_GOOD)
    bad.write_text(TYPED_BAD)
    command = [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--config-file", os.devnull]
    command += ["--cache-dir", str(tmp_path / "cache"), "--follow-imports", "silent"]
    env = _env(drilled)
    accepted = subprocess.run([*command, str(good)], env=env, capture_output=True, text=True, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    refused = subprocess.run([*command, str(bad)], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "sparkle_levle" in refused.stdout
