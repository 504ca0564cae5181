"""Dependencies point one way: generated ← facade ← (cli, emulator, testing), read from the imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "oai_images"
#: The layers above the facade: each may use the facade's public names, never the other way round.
ABOVE = ("cli", "emulator", "testing")


def _modules(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> Iterator[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    # The package a file's relative imports start from: its folder (for __init__.py too).
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _facade_modules() -> list[Path]:
    return [path for path in _modules(PACKAGE) if _layer(path) not in ABOVE]


def _layer(path: Path) -> str:
    """The top-level module or package of the facade that a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", _facade_modules(), ids=lambda path: path.name)
def test_facade_imports_nothing_above_it(path: Path) -> None:
    """No facade module imports the command line, the emulator or the pytest plugin."""
    above = {f"oai_images.{layer}" for layer in ABOVE}
    bad = [name for name in _imports(path) if any(name == a or name.startswith(a + ".") for a in above)]
    assert bad == []


@pytest.mark.parametrize("path", _modules(PACKAGE / "emulator"), ids=lambda path: path.name)
def test_emulator_uses_only_public_facade_names(path: Path) -> None:
    """The emulator imports the facade's public names only (no `oai_images._x` module), and no CLI."""
    private = [
        name
        for name in _imports(path)
        if name.startswith("oai_images.")
        and not name.startswith("oai_images.emulator")
        and (any(part.startswith("_") for part in name.split(".")[1:2]) or name.startswith("oai_images.cli"))
    ]
    assert private == []


def test_no_private_generated_function_is_called() -> None:
    """The facade builds requests from the generated Operation records, never from `_get_kwargs`."""
    users = [path.name for path in _modules(PACKAGE) if "_get_kwargs" in path.read_text()]
    assert users == []
