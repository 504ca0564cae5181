"""The built wheel, installed as a user installs it, runs the README's examples.

One fresh virtual environment per test session gets the wheel with only the ``emulator`` extra (and pytest,
for the user's own test file); nothing from this checkout is on its path. Slow: it builds and installs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.slow


def _readme_block(language: str, *needles: str) -> str:
    """The first ``language`` code block of the README that holds every needle."""
    for block in re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL):
        if all(needle in block for needle in needles):
            return str(block)
    raise AssertionError(f"no {language} block in README.md holds {needles}")


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout on the path and without OpenAI settings."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    env = {
        k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("OPENAI_", "OAI_IMAGES"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding the built wheel with its emulator extra; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    [wheel] = dist.glob("oai_images-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[emulator]", "pytest"],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )
    return bin_dir


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run in ``cwd``, with a history of its own there: a test never writes the real user history."""
    env.setdefault("OAI_IMAGES_HOME", str(cwd / "oai-images-home"))
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env=_clean_env(**env), timeout=300, check=False
    )


def test_wheel_runs_the_readme_python_example(installed: Path, tmp_path: Path) -> None:
    """The README's emulator example, run by the installed package, saves a real PNG of the asked size."""
    (tmp_path / "example.py").write_text(_readme_block("python", "emulator=True", ".save("))
    done = _run([str(installed / "python"), "example.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    saved = tmp_path / done.stdout.strip()
    assert saved.parent == tmp_path / "out"
    assert saved.name.endswith("-a-lighthouse-at-dusk-1.png")
    check = "import sys; from PIL import Image; print(Image.open(sys.argv[1]).size)"
    size = _run([str(installed / "python"), "-c", check, str(saved)], tmp_path)
    assert size.stdout.strip() == "(1536, 1024)"
    where = _run([str(installed / "python"), "-c", "import oai_images; print(oai_images.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)


def test_wheel_cli_generates_with_the_emulator(installed: Path, tmp_path: Path) -> None:
    """The installed `oai-images` command generates offline and completes; --help needs nothing more."""
    done = _run(
        [
            str(installed / "oai-images"),
            "generate",
            "a red kite",
            "--emulator",
            "-m",
            "gpt-image-1.5",
            "-o",
            "out",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / done.stdout.strip()).is_file()
    assert (tmp_path / "oai-images-home" / "history.sqlite").is_file()  # never the real user history
    models = _run([str(installed / "oai-images"), "models"], tmp_path)
    assert "gpt-image-2" in models.stdout


def test_wheel_pytest_plugin_runs_a_users_test_file(installed: Path, tmp_path: Path) -> None:
    """A user's test file, the README's fixture examples, passes with the plugin the wheel registers."""
    (tmp_path / "test_user.py").write_text(_readme_block("python", "def test_thumbnail(images_emulator)"))
    done = _run([str(installed / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_wheel_readme_conftest_configures_the_suites_emulator(installed: Path, tmp_path: Path) -> None:
    """The README's `conftest.py`, importing `oai_images_emulator` from the wheel, configures the fixtures."""
    (tmp_path / "conftest.py").write_text(_readme_block("python", "def images_emulator_config()"))
    (tmp_path / "test_suite.py").write_text(
        "def test_the_suites_config(images_emulator):\n"
        "    assert (images_emulator.config.seed, images_emulator.config.url_lifetime) == (7, 60)\n"
        "    result = images_emulator.client.generate('a fox', model='dall-e-2', size='256x256')\n"
        "    assert result.images[0].read().startswith(b'\\x89PNG')\n"
        "    assert images_emulator.sleeps == [1.0]  # the config's first 429, retried\n"
    )
    done = _run([str(installed / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
