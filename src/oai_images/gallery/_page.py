"""The HTML of the page: cards as escaped text, a small inline script for search and filters, no framework.

Every value that comes from a journal or the history (prompts, errors, ids, models) goes through
`html.escape`; every link is a percent-encoded relative URL (`relative_url`). A Content-Security-Policy
allows the page's own inline script only (by its hash), so even markup that slipped through could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import string
import time
from collections.abc import Sequence
from pathlib import Path

from ._model import NO_COST, Card, Cost, cost_label, relative_url

__all__ = ["render_page"]

_SCRIPT = """
(() => {
  const q = document.getElementById("q"), model = document.getElementById("model");
  const state = document.getElementById("state"), from = document.getElementById("from");
  const to = document.getElementById("to"), shown = document.getElementById("shown");
  const cards = Array.from(document.querySelectorAll(".card"));
  let texts = null;
  function apply() {
    if (texts === null) texts = cards.map((card) => card.textContent.toLowerCase());
    const words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let count = 0;
    cards.forEach((card, i) => {
      const d = card.dataset, day = d.day || "";
      const ok = words.every((w) => texts[i].includes(w))
        && (!model.value || d.model === model.value)
        && (!state.value || d.state === state.value)
        && (!from.value || (day && day >= from.value))
        && (!to.value || (day && day <= to.value));
      card.hidden = !ok;
      if (ok) count++;
    });
    shown.textContent = count === cards.length ? "" : `showing ${count} of ${cards.length}`;
  }
  for (const el of [q, model, state, from, to]) el.addEventListener("input", apply);
  if (q.value || model.value || state.value || from.value || to.value) apply();
})();
"""

_STYLE = """
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c0392b; --warn: #b7791f; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; }
header { position: sticky; top: 0; z-index: 1; background: Canvas; border-bottom: 1px solid var(--line);
  padding: 10px 16px; }
h1 { font-size: 17px; margin: 0 0 6px; overflow-wrap: anywhere; }
.summary, .meta, .problem, .revised { overflow-wrap: anywhere; }
.summary { color: var(--muted); margin-bottom: 8px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.filters input[type=search] { flex: 1 1 240px; padding: 4px 6px; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px;
  padding: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; display: flex;
  flex-direction: column; content-visibility: auto; contain-intrinsic-size: 200px 340px; }
.card[hidden] { display: none; }
.thumb { display: flex; align-items: center; justify-content: center; aspect-ratio: 1;
  overflow: hidden; background: #8881; }
.thumb img { width: 100%; height: 100%; object-fit: contain; }
.none { padding: 12px; text-align: center; color: var(--muted); }
.failed .thumb { background: #c0392b22; }
.pending .thumb { background: #b7791f22; }
.body { padding: 8px; display: flex; flex-direction: column; gap: 4px; }
.prompt { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 8.4em; overflow: auto; }
.revised { margin: 0; color: var(--muted); font-style: italic; white-space: pre-wrap; max-height: 5.6em;
  overflow: auto; }
.meta { color: var(--muted); font-size: 12px; }
.problem { color: var(--bad); font-size: 12px; white-space: pre-wrap; }
.pending .problem { color: var(--warn); }
.links a { margin-right: 10px; font-size: 12px; }
"""

_PAGE = string.Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="$policy">
<meta name="generator" content="oai-images gallery">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header>
<h1>$title</h1>
<div class="summary">$summary</div>
<div class="filters">
<input type="search" id="q" placeholder="Search prompts, ids, errors…" aria-label="Search">
<select id="model" aria-label="Model"><option value="">every model</option>$models</select>
<select id="state" aria-label="State"><option value="">every state</option>$states</select>
<label>from <input type="date" id="from"$day_bounds></label>
<label>to <input type="date" id="to"$day_bounds></label>
<span id="shown" aria-live="polite"></span>
</div>
</header>
<main>
$cards
</main>
<script>$script</script>
</body>
</html>
"""
)

_STATE_NAMES = {"saved": "images", "failed": "failed", "pending": "not finished"}


def _day(when: float | None) -> str:
    return "" if when is None else time.strftime("%Y-%m-%d", time.localtime(when))


def _card(card: Card, page_folder: Path, thumbnails: dict[Path, Path], failed: dict[Path, str]) -> str:
    escape = html.escape
    parts = [
        f'<article class="card {card.state}" data-state="{card.state}" '
        f'data-model="{escape(card.model or "")}" data-day="{_day(card.time)}">'
    ]
    thumbnail = thumbnails.get(card.image) if card.image is not None else None
    if card.image is not None:
        image_url = escape(relative_url(card.image, page_folder))
        inner = (
            f'<img src="{escape(relative_url(thumbnail, page_folder))}" loading="lazy" decoding="async" '
            f'alt="">'
            if thumbnail is not None
            else f'<div class="none">no thumbnail: {escape(failed.get(card.image, "unreadable"))}</div>'
        )
        parts.append(f'<a class="thumb" href="{image_url}">{inner}</a>')
    else:
        what = {"failed": "failed", "pending": "not finished"}.get(card.state, "no image")
        parts.append(f'<div class="thumb"><div class="none">{what}</div></div>')
    parts.append('<div class="body">')
    parts.append(f'<p class="prompt">{escape(card.prompt)}</p>')
    if card.revised_prompt and card.revised_prompt != card.prompt:
        parts.append(f'<p class="revised" title="revised prompt">{escape(card.revised_prompt)}</p>')
    details = [card.model or "default model", card.size or "default size"]
    if card.quality:
        details.append(f"quality {card.quality}")
    details.append(f"cost {cost_label(card.cost)}")
    parts.append(f'<div class="meta">{escape(" · ".join(details))}</div>')
    when = "" if card.time is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(card.time))
    origin = [item for item in (when, card.source, card.label, card.request_id) if item]
    parts.append(f'<div class="meta">{escape(" · ".join(origin))}</div>')
    if card.problem:
        parts.append(f'<div class="problem">{escape(card.problem)}</div>')
    if card.image is not None:
        folder_url = escape(relative_url(card.image.parent, page_folder, folder=True))
        parts.append(
            f'<div class="links"><a href="{image_url}">full image</a><a href="{folder_url}">folder</a></div>'
        )
    parts.append("</div></article>")
    return "".join(parts)


def _total(cards: Sequence[Card]) -> str:
    costs = [card.cost for card in cards if card.cost is not None]
    if not costs:
        return ""
    total = Cost(sum(cost.usd for cost in costs), all(cost.exact for cost in costs))
    return f", cost {cost_label(total)}" if cost_label(total) != NO_COST else ""


def render_page(
    cards: Sequence[Card],
    *,
    title: str,
    page_folder: Path,
    thumbnails: dict[Path, Path],
    failed: dict[Path, str] | None = None,
) -> str:
    """The page's HTML.

    Args:
        cards: The cards, in the order shown.
        title: The page's title (escaped here).
        page_folder: The folder the page is written to: every link is relative to it.
        thumbnails: The thumbnail of each image that has one.
        failed: Why an image has no thumbnail, by its path.
    """
    failed = failed or {}
    counts = {state: sum(1 for card in cards if card.state == state) for state in _STATE_NAMES}
    summary = f"{counts['saved']} images"
    if counts["failed"]:
        summary += f", {counts['failed']} failed"
    if counts["pending"]:
        summary += f", {counts['pending']} not finished"
    summary += _total(cards)
    summary += f" · made {time.strftime('%Y-%m-%d %H:%M')}"
    models = sorted({card.model for card in cards if card.model})
    days = sorted({_day(card.time) for card in cards if card.time is not None})
    bounds = f' min="{days[0]}" max="{days[-1]}"' if days else ""
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    policy = (
        "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    return _PAGE.substitute(
        policy=policy,
        title=html.escape(title),
        style=_STYLE,
        summary=html.escape(summary),
        models="".join(f'<option value="{html.escape(m)}">{html.escape(m)}</option>' for m in models),
        states="".join(
            f'<option value="{state}">{name}</option>'
            for state, name in _STATE_NAMES.items()
            if counts[state]
        ),
        day_bounds=bounds,
        cards="\n".join(_card(card, page_folder, thumbnails, failed) for card in cards),
        script=_SCRIPT,
    )
