"""Dependencies point one way: generated ← facade ← (cli, testing, gallery) and facade ← the emulator's own
package, read from the imports."""  # noqa: D205, D209

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "oai_images"
#: The emulator's own import package: it uses the SDK's public names; the SDK finds it only by name.
EMULATOR = PACKAGE.parent / "oai_images_emulator"
#: The layers above the facade: each may use the facade's public names, never the other way round.
ABOVE = ("cli", "gallery", "testing", "__main__")


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
    """No facade module imports the command line, the gallery or the pytest plugin."""
    above = {f"oai_images.{layer}" for layer in ABOVE}
    bad = [name for name in _imports(path) if any(name == a or name.startswith(a + ".") for a in above)]
    assert bad == []


def _absolute_imports(path: Path, *, top_level: bool = False) -> Iterator[tuple[str, str | None]]:
    """``(module, name)`` for each absolute import in a file (``name`` None for ``import module``); with
    ``top_level``, only those that run when the module is imported (outside functions and outside
    ``if TYPE_CHECKING:``)."""  # noqa: D205, D209
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = []
    if top_level:
        pending: list[ast.AST] = list(tree.body)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                pending.extend(node.orelse)
                continue
            nodes.append(node)
            pending.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield from ((node.module, alias.name) for alias in node.names)


#: The SDK's import packages that the emulator builds on.
SDK_PACKAGES = ("oai_images", "oai_images_api")


def _private_sdk_names(path: Path) -> list[str]:
    """What a file imports from the SDK that is not public: a module with a ``_`` part (or the command
    line, or the pytest plugin), or a name outside its module's ``__all__``."""  # noqa: D205, D209
    found = []
    for module, name in _absolute_imports(path):
        if module.split(".")[0] not in SDK_PACKAGES:
            continue
        parts = module.split(".")
        if any(part.startswith("_") for part in parts) or parts[:2] in (
            ["oai_images", "cli"],
            ["oai_images", "testing"],
        ):
            found.append(module)
            continue
        if name is None:
            continue
        exported = getattr(importlib.import_module(module), "__all__", None)
        if name.startswith("_") or (exported is not None and name not in exported):
            found.append(f"{module}.{name}")
    return found


@pytest.mark.parametrize("path", _modules(EMULATOR), ids=lambda path: path.name)
def test_emulator_uses_only_public_sdk_names(path: Path) -> None:
    """The emulator imports the SDK's public names only: no `oai_images._x` module, no name outside a
    module's `__all__`, no command line or pytest plugin."""  # noqa: D205, D209
    assert _private_sdk_names(path) == []


def test_the_public_names_check_can_fail(tmp_path: Path) -> None:
    """The check above finds a private module, a private name, a name outside `__all__` and the CLI."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from oai_images._client import ImagesClient\n"
        "from oai_images.rules import _table\n"
        "from oai_images.rules import check_inputs\n"
        "from oai_images.cli import main\n"
        "import oai_images._wire\n"
        "from oai_images.rules import MODEL_RULES\n"
        "def late():\n    from oai_images.pricing import _tokens\n"
    )
    assert _private_sdk_names(bad) == [
        "oai_images._client",
        "oai_images.rules._table",
        "oai_images.rules.check_inputs",
        "oai_images.cli",
        "oai_images._wire",
        "oai_images.pricing._tokens",
    ]


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_sdk_never_imports_the_emulator_when_loaded(path: Path) -> None:
    """No module of `oai_images` imports `oai_images_emulator` when it is loaded: the client finds it by its
    entry point, `oai-images serve` by its module name, and the pytest plugin imports it inside its
    fixtures only."""  # noqa: D205, D209
    loaded = [module for module, _ in _absolute_imports(path, top_level=True)]
    assert [module for module in loaded if module.split(".")[0] == "oai_images_emulator"] == []
    if path.name != "testing.py":  # the plugin's fixtures import it when first used
        anywhere = [module for module, _ in _absolute_imports(path)]
        assert [module for module in anywhere if module.split(".")[0] == "oai_images_emulator"] == []


def test_the_loaded_imports_are_told_from_the_deferred_ones(tmp_path: Path) -> None:
    """The check above counts imports at the top and in a class, not in a function or for typing only."""
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import oai_images_emulator\n"
        "if TYPE_CHECKING:\n    from oai_images_emulator import EmulatorConfig\n"
        "try:\n    from oai_images_emulator import cli\nexcept ImportError:\n    pass\n"
        "class Fixture:\n    from oai_images_emulator import EmulatorApp\n"
        "    def method(self):\n        import oai_images_emulator._app\n"
        "def later():\n    from oai_images_emulator import parse_fault\n"
    )
    loaded = [name for name, _ in _absolute_imports(module, top_level=True)]
    assert sorted(loaded) == ["oai_images_emulator"] * 3 + ["typing"]
    assert len([name for name, _ in _absolute_imports(module)]) == 7


def test_the_emulator_has_left_the_sdk_package() -> None:
    """The emulator lives in `oai_images_emulator` only: nothing is left (or merged back) at the old path."""
    assert not (PACKAGE / "emulator").exists()
    assert importlib.util.find_spec("oai_images.emulator") is None


def test_no_private_generated_function_is_called() -> None:
    """The facade builds requests from the generated Operation records, never from `_get_kwargs`."""
    users = [path.name for path in _modules(PACKAGE) if "_get_kwargs" in path.read_text()]
    assert users == []


#: The packages and modules above the client: they may use its public names only.
CLIENT_USERS = ("bulk", "batchapi", "cli", "testing", "gallery")


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
    [path for path in _modules(PACKAGE) if _layer(path) in CLIENT_USERS] + _modules(EMULATOR),
    ids=lambda path: str(path.relative_to(PACKAGE.parent)),
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
    modules = {_module_name(path): path for path in _modules(PACKAGE) + _modules(EMULATOR)}
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
