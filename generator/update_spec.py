"""Rebuild `openapi/images.yaml` from the official spec plus our overlay, regenerate, and report what changed.

    python generator/update_spec.py --upstream openapi.yaml [--commit SHA --date YYYY-MM-DD]
    python generator/update_spec.py              # re-apply the overlay to the checked-in upstream extract
    python generator/update_spec.py --check      # fail, naming the difference, unless the fragment is current

(`make update-spec UPSTREAM=... COMMIT=... DATE=...` and `make check-generated` run these.)

1. Extract: the operations listed in `openapi/upstream-operations.yaml`, with every component they reference
   (transitively), are copied unchanged from the official `openapi.yaml` (plain or .gz) into
   `openapi/upstream.yaml`, under a header recording the upstream commit and date. When the extract changes,
   they must be given, or read from git when the file is unmodified in a checkout of openai/openai-openapi.
2. Overlay: `openapi/overlay.yaml` (Overlay 1.1) holds every deliberate deviation from upstream, each action
   with its reason. An action whose target no longer exists fails the command, naming the action.
3. Write `openapi/images.yaml`, the fragment the generator reads, run `generator/regenerate.py`, and print a
   change report per operation: request and response fields and enum values added or removed, for our
   fragment and for the upstream extract (which shows upstream changes that an overlay action masks).

`--root DIR` runs all of this on another copy of the repository (the tests use a temporary one).
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from openapi_overlay import OverlayError, apply_overlay

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
UPSTREAM_REPOSITORY = "github.com/openai/openai-openapi"

UPSTREAM_HEADER = """\
# The official OpenAI spec, cut down to our operations by `make update-spec`: DO NOT EDIT.
#   repository: {repository} (file openapi.yaml)
#   commit: {commit}
#   date: {date}
# The operations listed in openapi/upstream-operations.yaml, with every component they reference (and the
# components listed there), copied unchanged; only the YAML layout is ours. Our deviations from it are the
# actions of openapi/overlay.yaml; the result is openapi/images.yaml.
"""

FRAGMENT_HEADER = """\
# oai-images: OpenAPI fragment for the images API and its Batch API — the one source of the wire format.
# Written by `make update-spec` from openapi/upstream.yaml + openapi/overlay.yaml: DO NOT EDIT. To change it,
# change openapi/overlay.yaml (or extract a newer upstream spec) and run `make update-spec`.
#
# Follows: openai/openai-openapi `openapi.yaml`, commit {commit} ({date}),
#   cut down to our operations in openapi/upstream.yaml and brought up to today's API by the overlay.
#
# Changed on purpose, and why: each item is carried out by the actions of openapi/overlay.yaml whose
# description starts with its number (the list itself is that overlay's info.description).
{deviations}"""


class Paths:
    """The files of one copy of the repository that this script reads and writes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.operations = root / "openapi" / "upstream-operations.yaml"
        self.upstream = root / "openapi" / "upstream.yaml"
        self.overlay = root / "openapi" / "overlay.yaml"
        self.fragment = root / "openapi" / "images.yaml"
        self.regenerate = root / "generator" / "regenerate.py"


# --- YAML in and out -----------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, gzip-compressed if its name ends in .gz (libyaml's parser when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return yaml.load(f, Loader=loader)  # noqa: S506  # a safe loader, the C one when available
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506  # as above


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, multi-line text as `|` blocks: reviewable diffs."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # PyYAML's signature
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(document: Any) -> str:
    """The document as YAML text, keys in document order."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


# --- Extraction ----------------------------------------------------------------------------------------


def _refs(value: Any) -> Iterator[str]:
    """Every `$ref` string inside a value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _component_key(ref: str) -> tuple[str, str]:
    """('schemas', 'Image') for '#/components/schemas/Image'; refuses references outside the document."""
    match = re.fullmatch(r"#/components/([^/]+)/([^/]+)", ref)
    if not match:
        raise ValueError(f"unsupported reference {ref!r}: only #/components/<kind>/<name> is followed")
    return match.group(1), match.group(2)


def extract(
    full: Mapping[str, Any], operation_ids: Iterable[str], components: Iterable[str] = ()
) -> dict[str, Any]:
    """Cut the official spec down to some operations and the components they reference, transitively.

    Args:
        full: The parsed official `openapi.yaml`.
        operation_ids: The operations to keep, by operationId.
        components: Further components to keep, as `kind/name` (e.g. `schemas/ErrorResponse`).

    Returns:
        A valid OpenAPI document: the source's openapi, info, servers and security, the tags the operations
        use, their paths (other operations of the same path left out) and the components reached, each
        value unchanged and in the source's order.

    Raises:
        ValueError: An operationId or component is not in the source, or a reference cannot be followed.
    """
    wanted = list(operation_ids)
    paths: dict[str, Any] = {}
    found: set[str] = set()
    for path, item in full.get("paths", {}).items():
        keep = {
            m for m in HTTP_METHODS if isinstance(item.get(m), dict) and item[m].get("operationId") in wanted
        }
        if keep:
            found.update(item[m]["operationId"] for m in keep)
            paths[path] = {
                key: value for key, value in item.items() if key not in HTTP_METHODS or key in keep
            }
    missing = [op for op in wanted if op not in found]
    if missing:
        raise ValueError(f"operations not in the upstream spec: {', '.join(missing)}")

    source = full.get("components", {})
    reached: set[tuple[str, str]] = set()
    pending = [*_refs(paths), *(f"#/components/{name}" for name in components)]
    while pending:
        kind, name = _component_key(pending.pop())
        if (kind, name) in reached:
            continue
        if name not in source.get(kind, {}):
            raise ValueError(f"component {kind}/{name} is not in the upstream spec")
        reached.add((kind, name))
        pending.extend(_refs(source[kind][name]))

    operations = [op for item in paths.values() for m, op in item.items() if m in HTTP_METHODS]
    security = [*full.get("security", []), *(s for op in operations for s in op.get("security", []))]
    reached.update(("securitySchemes", name) for requirement in security for name in requirement)
    tag_names = {tag for op in operations for tag in op.get("tags", [])}

    result: dict[str, Any] = {}
    for key in ("openapi", "info", "jsonSchemaDialect", "servers", "security"):
        if key in full:
            result[key] = full[key]
    tags = [tag for tag in full.get("tags", []) if tag.get("name") in tag_names]
    if tags:
        result["tags"] = tags
    result["paths"] = paths
    kept = {
        kind: {name: value for name, value in members.items() if (kind, name) in reached}
        for kind, members in source.items()
    }
    result["components"] = {kind: members for kind, members in kept.items() if members}
    return result


def read_selection(paths: Paths) -> tuple[list[str], list[str]]:
    """The operationIds and extra components listed in openapi/upstream-operations.yaml."""
    selection = load_yaml(paths.operations)
    return list(selection.get("operations", [])), list(selection.get("components") or [])


def read_provenance(path: Path) -> dict[str, str]:
    """The commit and date recorded in an upstream extract's header (empty if there is none)."""
    if not path.is_file():
        return {}
    head = path.read_text(encoding="utf-8").split("\n", 12)[:12]
    found = {}
    for line in head:
        match = re.fullmatch(r"#\s+(commit|date):\s*(\S+)\s*", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def git_provenance(path: Path) -> dict[str, str]:
    """The last commit that changed `path` and its date, if it is an unmodified file of a git checkout."""
    executable = shutil.which("git")

    def git(*args: str) -> str | None:
        if executable is None:
            return None
        done = subprocess.run(
            [executable, "-C", str(path.parent), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else None

    # Untracked or modified files have a status line; outside a checkout git fails (None).
    if git("status", "--porcelain", "--", path.name) != "":
        return {}
    found = git("log", "-1", "--format=%H %cs", "--", path.name)
    if not found:
        return {}
    commit, date = found.split()
    return {"commit": commit, "date": date}


def upstream_text(extracted: Mapping[str, Any], commit: str, date: str) -> str:
    """The text of openapi/upstream.yaml: the provenance header and the extract."""
    header = UPSTREAM_HEADER.format(repository=UPSTREAM_REPOSITORY, commit=commit, date=date)
    return header + dump_yaml(extracted)


def fragment_text(
    upstream: Mapping[str, Any], overlay: Mapping[str, Any], provenance: Mapping[str, str]
) -> str:
    """The text of openapi/images.yaml: the upstream extract with the overlay applied, under its header.

    Raises:
        OverlayError: An overlay action cannot be applied (its target no longer exists, for instance).
    """
    fragment = apply_overlay(upstream, overlay)
    deviations = str((overlay.get("info") or {}).get("description") or "").rstrip("\n").splitlines()
    header = FRAGMENT_HEADER.format(
        commit=provenance.get("commit", "unknown"),
        date=provenance.get("date", "unknown"),
        deviations="".join(f"#  {line}".rstrip() + "\n" for line in deviations),
    )
    return header + dump_yaml(fragment)


# --- The change report ---------------------------------------------------------------------------------


def _resolve(document: Mapping[str, Any], schema: Any, seen: frozenset[str]) -> tuple[Any, frozenset[str]]:
    """Follow a schema's `$ref` chain; `seen` guards against cycles."""
    while isinstance(schema, dict) and "$ref" in schema and schema["$ref"] not in seen:
        seen = seen | {schema["$ref"]}
        kind, name = _component_key(schema["$ref"])
        schema = document.get("components", {}).get(kind, {}).get(name, {})
    return schema, seen


def _fields(
    document: Mapping[str, Any], schema: Any, prefix: str, seen: frozenset[str]
) -> dict[str, set[str]]:
    """Every field under a schema, dotted (`svg.reasoning.effort`), with the enum values it may take."""
    schema, seen = _resolve(document, schema, seen)
    if not isinstance(schema, dict):
        return {}
    found: dict[str, set[str]] = {}

    def add(more: Mapping[str, set[str]]) -> None:
        for name, values in more.items():
            found.setdefault(name, set()).update(values)

    if prefix:
        found[prefix] = {str(value) for value in schema.get("enum", [])}
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            add(_fields(document, branch, prefix, seen))
    if "items" in schema:
        add(_fields(document, schema["items"], f"{prefix}[]" if prefix else "[]", seen))
    for name, sub in (schema.get("properties") or {}).items():
        add(_fields(document, sub, f"{prefix}.{name}" if prefix else name, seen))
    return found


def operation_fields(document: Mapping[str, Any]) -> dict[str, dict[str, dict[str, set[str]]]]:
    """Per operationId: the request fields and the (2xx) response fields, with their enum values."""
    result: dict[str, dict[str, dict[str, set[str]]]] = {}
    for item in (document.get("paths") or {}).values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            request: dict[str, set[str]] = {}
            body, seen = _resolve(document, operation.get("requestBody", {}), frozenset())
            for media in (body.get("content") or {}).values():
                for name, values in _fields(document, media.get("schema"), "", seen).items():
                    request.setdefault(name, set()).update(values)
            response: dict[str, set[str]] = {}
            for status, reference in (operation.get("responses") or {}).items():
                if not str(status).startswith("2"):
                    continue
                answer, seen = _resolve(document, reference, frozenset())
                for media in (answer.get("content") or {}).values():
                    for name, values in _fields(document, media.get("schema"), "", seen).items():
                        response.setdefault(name, set()).update(values)
            result[str(operation.get("operationId", f"{method} {item}"))] = {
                "request": request,
                "response": response,
            }
    return result


def _compare(part: str, old: Mapping[str, set[str]], new: Mapping[str, set[str]]) -> list[str]:
    lines = []
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    if added:
        lines.append(f"    {part} fields added: {', '.join(added)}")
    if removed:
        lines.append(f"    {part} fields removed: {', '.join(removed)}")
    for name in sorted(old.keys() & new.keys()):
        more, fewer = sorted(new[name] - old[name]), sorted(old[name] - new[name])
        if more:
            lines.append(f"    {part} {name}: enum values added: {', '.join(more)}")
        if fewer:
            lines.append(f"    {part} {name}: enum values removed: {', '.join(fewer)}")
    return lines


def change_report(title: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Report lines: per operation, fields and enum values added or removed between two documents."""
    before = operation_fields(old or {})
    after = operation_fields(new)
    lines = [f"{title}:"]
    for operation in sorted(before.keys() | after.keys()):
        if operation not in before:
            lines.append(f"  {operation}: operation added")
            continue
        if operation not in after:
            lines.append(f"  {operation}: operation removed")
            continue
        changes = [
            *_compare("request", before[operation]["request"], after[operation]["request"]),
            *_compare("response", before[operation]["response"], after[operation]["response"]),
        ]
        lines.append(f"  {operation}: {'changed' if changes else 'no change'}")
        lines.extend(changes)
    old_schemas = set(((old or {}).get("components") or {}).get("schemas") or {})
    new_schemas = set((new.get("components") or {}).get("schemas") or {})
    if new_schemas - old_schemas:
        lines.append(f"  schemas added: {', '.join(sorted(new_schemas - old_schemas))}")
    if old_schemas - new_schemas:
        lines.append(f"  schemas removed: {', '.join(sorted(old_schemas - new_schemas))}")
    return lines


# --- The command ---------------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def check(paths: Paths) -> int:
    """Exit code 0 if openapi/images.yaml is exactly upstream + overlay, else 1 with the difference."""
    operations, components = read_selection(paths)
    upstream = load_yaml(paths.upstream)
    problems = []
    if extract(upstream, operations, components) != upstream:
        problems.append(
            f"{paths.upstream.name} does not hold exactly the operations of {paths.operations.name}; "
            "run `make update-spec UPSTREAM=<the official openapi.yaml>`"
        )
    try:
        expected = fragment_text(upstream, load_yaml(paths.overlay), read_provenance(paths.upstream))
    except OverlayError as exc:
        print(f"openapi/overlay.yaml does not apply to openapi/upstream.yaml: {exc}", file=sys.stderr)
        return 1
    actual = _read_text(paths.fragment)
    if actual != expected:
        changes = change_report(
            "  openapi/images.yaml -> upstream + overlay",
            yaml.safe_load(actual or "{}"),
            yaml.safe_load(expected),
        )
        problems.append(
            "openapi/images.yaml is not what openapi/upstream.yaml + openapi/overlay.yaml give "
            "(edited by hand?); change the overlay and run `make update-spec`\n" + "\n".join(changes)
        )
        problems.extend(_first_difference(actual or "", expected))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print("openapi/images.yaml is openapi/upstream.yaml + openapi/overlay.yaml")
    return 0


def _first_difference(actual: str, expected: str) -> list[str]:
    """The first differing line of two texts, for the --check message."""
    for number, (have, want) in enumerate(zip(actual.splitlines(), expected.splitlines(), strict=False), 1):
        if have != want:
            return [f"  first difference, line {number}:", f"    is:        {have}", f"    should be: {want}"]
    return [
        f"  the texts differ in length ({len(actual.splitlines())} vs {len(expected.splitlines())} lines)"
    ]


def update(
    paths: Paths, upstream_path: Path | None, commit: str | None, date: str | None, generate: bool
) -> int:
    """Extract (if given a new upstream), apply the overlay, write, regenerate, report; the exit code."""
    old_upstream = load_yaml(paths.upstream) if paths.upstream.is_file() else None
    old_fragment_text = _read_text(paths.fragment)
    provenance = read_provenance(paths.upstream)
    if upstream_path is None:
        upstream = old_upstream
        if upstream is None:
            print(
                f"{paths.upstream} is missing: pass --upstream (make update-spec UPSTREAM=...)",
                file=sys.stderr,
            )
            return 2
    else:
        operations, components = read_selection(paths)
        try:
            upstream = extract(load_yaml(upstream_path), operations, components)
        except ValueError as exc:
            print(f"cannot extract from {upstream_path}: {exc}", file=sys.stderr)
            return 1
        if upstream != old_upstream and not (commit and date):
            found = git_provenance(upstream_path)
            commit, date = commit or found.get("commit"), date or found.get("date")
        if upstream != old_upstream and not (commit and date):
            print(
                "the upstream operations changed: record where they come from with --commit SHA and "
                "--date YYYY-MM-DD (make update-spec UPSTREAM=... COMMIT=... DATE=...), or pass the "
                "openapi.yaml of a clean openai/openai-openapi checkout",
                file=sys.stderr,
            )
            return 2
        provenance = {
            **provenance,
            **({"commit": commit} if commit else {}),
            **({"date": date} if date else {}),
        }
    try:
        fragment = fragment_text(upstream, load_yaml(paths.overlay), provenance)
    except OverlayError as exc:
        print(
            f"openapi/overlay.yaml no longer applies, so nothing was written: {exc}.\n"
            "Upstream changed what this action edits: adapt or delete the action, then run again.",
            file=sys.stderr,
        )
        return 1

    if upstream_path is not None:
        paths.upstream.write_text(
            upstream_text(upstream, provenance.get("commit", "unknown"), provenance.get("date", "unknown")),
            encoding="utf-8",
        )
    paths.fragment.write_text(fragment, encoding="utf-8")
    print(
        f"wrote {paths.fragment.relative_to(paths.root)}"
        + (" and openapi/upstream.yaml" if upstream_path else "")
    )
    if generate:
        done = subprocess.run([sys.executable, str(paths.regenerate)], cwd=paths.root, check=False)
        if done.returncode != 0:
            return done.returncode

    commit, date = provenance.get("commit", "unknown"), provenance.get("date", "unknown")
    report = [f"Upstream: openai/openai-openapi {commit} ({date})"]
    report += change_report(
        "Changes in openapi/images.yaml (what the generated client sees)",
        yaml.safe_load(old_fragment_text) if old_fragment_text else None,
        yaml.safe_load(fragment),
    )
    if upstream_path is not None:
        report += change_report(
            "Changes upstream (openapi/upstream.yaml, before the overlay)", old_upstream, upstream
        )
    print("\n".join(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--upstream", type=Path, help="the official openapi.yaml (or .yaml.gz) to extract from"
    )
    parser.add_argument("--commit", help="the openai/openai-openapi commit that --upstream comes from")
    parser.add_argument("--date", help="that commit's date, YYYY-MM-DD")
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    parser.add_argument(
        "--no-generate", action="store_true", help="write the spec files but do not regenerate"
    )
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the repository to work on"
    )
    args = parser.parse_args(argv)
    paths = Paths(args.root.resolve())
    if args.check:
        return check(paths)
    upstream = args.upstream.resolve() if args.upstream else None
    return update(paths, upstream, args.commit, args.date, generate=not args.no_generate)


if __name__ == "__main__":
    sys.exit(main())
