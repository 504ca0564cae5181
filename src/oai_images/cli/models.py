"""``oai-images models``: the rules table at a glance, read from `oai_images.rules`.

For each model the documentation names: its sizes, qualities, formats, ``n`` range, prompt length, and
notes such as a retirement date. Models whose rules are the same are listed together; today's models come
first, the retired ones last. ``--json`` prints one document for scripts, one entry per model.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..rules import ModelRules

__all__ = ["model_blocks", "models"]

#: What a dall-e model's images are: it takes no output_format.
_DALL_E_FORMAT = ("png",)


def _groups() -> list[tuple[list[str], ModelRules]]:
    """The models, grouped by shared rules, in table order; those with a retirement note last."""
    from ..rules import MODEL_RULES  # noqa: PLC0415 -- only when the command runs (or help is shown)

    groups: dict[int, tuple[list[str], ModelRules]] = {}
    for model, rules in MODEL_RULES.items():
        groups.setdefault(id(rules), ([], rules))[0].append(model)
    return sorted(groups.values(), key=lambda group: _retired(group[1]))


def _retired(rules: ModelRules) -> bool:
    return "retired" in rules.note or "shut down" in rules.note


def _sizes(rules: ModelRules) -> str:
    from ..rules import FREE_SIZE_RULE  # noqa: PLC0415 -- see _groups

    sizes = ", ".join(rules.sizes)
    return f"{sizes}, or {FREE_SIZE_RULE}" if rules.free_sizes else sizes


def _formats(rules: ModelRules) -> tuple[str, ...]:
    return rules.allowed("output_format") if rules.accepts("output_format") else _DALL_E_FORMAT


def model_blocks(fields: Collection[str] | None = None) -> list[str]:
    """One text block per group of models: names (and note), then each value they accept.

    Args:
        fields: Only these fields' values (a command's own, in its help); every field when None.
    """
    blocks = []
    for names, rules in _groups():
        lines = [", ".join(names) + (f" ({rules.note})" if rules.note else "")]
        lines.append(f"  size: {_sizes(rules)}")
        lines.append(f"  n: {'1' if rules.max_n == 1 else f'1 to {rules.max_n}'}")
        lines.append(f"  prompt: at most {rules.max_prompt_chars} characters")
        for name, values in rules.values.items():
            if name != "size" and rules.accepts(name) and (fields is None or name in fields):
                lines.append(f"  {name.replace('_', '-')}: {', '.join(values)}")
        if not rules.accepts("output_format"):
            lines.append(f"  format: {', '.join(_DALL_E_FORMAT)} (no --output-format)")
        blocks.append("\n".join(lines))
    return blocks


def _entry(model: str, rules: ModelRules) -> dict[str, Any]:
    from ..rules import FREE_SIZE_RULE  # noqa: PLC0415 -- see _groups

    return {
        "model": model,
        "family": rules.family,
        "sizes": list(rules.sizes),
        "free_sizes": FREE_SIZE_RULE if rules.free_sizes else None,
        "qualities": list(rules.allowed("quality")),
        "formats": list(_formats(rules)),
        "response_formats": list(rules.allowed("response_format")) or ["b64_json"],
        "styles": list(rules.allowed("style")),
        "n": {"min": 1, "max": rules.max_n},
        "max_prompt_chars": rules.max_prompt_chars,
        "unsupported": sorted(rules.unsupported),
        "defaults": dict(rules.defaults),
        "note": rules.note or None,
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document: a list, one entry per model.")
def models(*, as_json: bool) -> None:
    """Show every model the rules know: sizes, qualities, formats, n, and notes such as retirement dates.

    These are the values `oai-images generate` checks before it sends anything. A model not listed is
    still sent (for compatible servers), with only the model-independent checks.
    """
    if as_json:
        entries = [_entry(model, rules) for names, rules in _groups() for model in names]
        click.echo(json.dumps(entries, indent=2))
        return
    click.echo("\n\n".join(model_blocks()))
