"""Dependencies point one way: generated ← facade ← (cli, emulator, testing), read from the imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "oai_images"
#: The layers above the facade: each may use the facade's public names, never the other way round.
ABOVE = ("cli", "emulator", "gallery", "testing", "__main__")


def _modules(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path, *, runtime: bool = False) -> Iterator[str]:
    """The absolute module names a file imports (relative imports resolved against its package); with
    ``runtime``, less the ``if TYPE_CHECKING:`` blocks, whose imports never run."""  # noqa: D205, D209
    tree = ast.parse(path.read_text())
    if runtime:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                node.body = []
    # The package a file's relative imports start from: its folder (for __init__.py too).
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    for node in ast.walk(tree):
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
        and not name.startswith("oai_images_emulator")
        and (any(part.startswith("_") for part in name.split(".")[1:2]) or name.startswith("oai_images.cli"))
    ]
    assert private == []


def test_no_private_generated_function_is_called() -> None:
    """The facade builds requests from the generated Operation records, never from `_get_kwargs`."""
    users = [path.name for path in _modules(PACKAGE) if "_get_kwargs" in path.read_text()]
    assert users == []


#: The packages and modules above the client: they may use its public names only.
CLIENT_USERS = ("bulk", "batchapi", "cli", "emulator", "testing", "gallery")


def _private_reaches(path: Path) -> list[str]:
    """``x._name`` in a file, where ``x`` is not ``self`` or ``cls`` (dunders are Python's, not private)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "path",
    [path for path in _modules(PACKAGE) if _layer(path) in CLIENT_USERS],
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_no_private_reach_across_packages(path: Path) -> None:
    """Bulk, the Batch API, the command line, the emulator and the plugin touch no other object's private
    attribute: they go through the client's public seams (``with_options``, ``request``, ``stream``)."""  # noqa: D205, D209
    assert _private_reaches(path) == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circle_among_the_facade_modules() -> None:
    """No module of src/ imports (at the top or inside a function) one that imports it back: a circle held
    off by an import inside a function is still a circle. Imports for type annotations only
    (``if TYPE_CHECKING:``) never run and are not counted."""  # noqa: D205, D209
    modules = {_module_name(path): path for path in _modules(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, runtime=True):
            # "from . import rules" names a module through its package; "from ._x import y" a module.
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
        graph[name] = targets
    circles: set[tuple[str, ...]] = set()

    def visit(node: str, trail: list[str]) -> None:
        for target in graph[node]:
            if target in trail:
                cycle = trail[trail.index(target) :]
                start = cycle.index(min(cycle))
                circles.add(tuple(cycle[start:] + cycle[:start]))
            elif len(trail) < 12:
                visit(target, [*trail, target])

    for module in graph:
        visit(module, [module])
    assert sorted(circles) == []
