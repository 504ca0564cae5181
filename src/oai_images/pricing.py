"""What images cost: the price table, the cost of an answer, and an estimate before anything is sent.

**The table** is data (``prices.json`` beside this module): per model, USD per 1M tokens for the GPT image
models (text input, cached text input, image input, cached image input, image output, text output where it
exists), USD per image for dall-e-2 (by size) and dall-e-3 (by size and quality), and the Batch API discount.
Every entry names its source and the date it was checked. A model with no entry costs "unknown"
(``Cost.usd is None``), never a guess.

**Overrides** (negotiated prices, Azure deployments, compatible servers) come, each over the one before, from
the file ``$OAI_IMAGES_PRICES`` names (TOML or JSON), else ``prices.toml`` in the user's config folder
(``$OAI_IMAGES_HOME``, else ``platformdirs.user_config_dir("oai-images")``), then from a ``prices=``
argument. An override entry names its fields as the table does; ``based_on`` copies another entry first::

    [prices.my-azure-deployment]
    based_on = "gpt-image-1.5"
    image_output = 30.0
    source = "our Azure agreement of 2026-11"

**The cost of an answer** (`cost_of`) is exact when it comes from the answer's ``usage`` (GPT image models)
or from the images returned and the per-image price (dall-e). **An estimate** (`estimate`) is an upper
bound, not a midpoint:

- output image tokens come from the model's table (quality x size); ``quality="auto"`` counts as the most
  expensive quality and ``size="auto"`` as the most expensive named size. gpt-image-2 takes any WxH: its
  tokens follow `gpt_image_2_tokens`, a formula fitted to OpenAI's own calculator (it reproduces every
  published figure exactly; it is a reconstruction, not a documented rule);
- input text tokens are bounded by the prompt's UTF-8 bytes (a byte-level BPE token is at least one byte)
  plus the API's 6-token overhead, plus 64 per input image for edits (the API adds text tokens per input
  image: 16 to 45 observed); no tokenizer is downloaded;
- input image tokens come from each input's width and height (see `input_image_tokens`);
- output text (reasoning) tokens, for the models that bill them, get an allowance per image from the table;
- ``n`` images are billed as ``n`` requests (input included), as the API does; a stream's partial images
  add 100 output tokens each.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ._errors import InvalidParameterError

__all__ = [
    "PRICES_ENV",
    "PRICES_NAME",
    "BudgetExceededError",
    "Cost",
    "CostBreakdown",
    "PriceEntry",
    "PriceTable",
    "PriceTableError",
    "PricesArg",
    "check_budget",
    "cost_of",
    "estimate",
    "format_usd",
    "gpt_image_2_tokens",
    "input_image_tokens",
    "load_prices",
    "output_image_tokens",
    "prompt_token_bound",
    "total",
    "user_prices_path",
]

#: The variable that names an override file (TOML or JSON), instead of the config folder's.
PRICES_ENV: Final = "OAI_IMAGES_PRICES"
#: The override file's name in the user's config folder.
PRICES_NAME: Final = "prices.toml"
_DATA = Path(__file__).with_name("prices.json")
_RATES = (
    "text_input",
    "cached_text_input",
    "image_input",
    "cached_image_input",
    "image_output",
    "text_output",
)
_FIELDS = frozenset(
    {
        *_RATES,
        "models",
        "per_image",
        "output_tokens",
        "input_image_tokens",
        "text_output_allowance",
        "source",
        "checked",
        "notes",
        "disagreements",
        "chosen",
        "based_on",
    }
)
_INPUT_SCHEMES = ("tiles-512", "patches-32")
_FORMULAS = ("gpt-image-2",)
#: Text tokens the API adds to every request's prompt (measured on /images/generations).
_PROMPT_OVERHEAD = 6
#: Text tokens an estimate adds per input image of an edit (the API bills 16 to 45 more than the prompt).
_EDIT_TEXT_PER_IMAGE = 64
#: Output image tokens each partial image of a stream adds (OpenAI's image generation guide).
_PARTIAL_IMAGE_TOKENS = 100
#: What an edit's ``input_fidelity="high"`` adds per input image on the tiles models (about $0.062 at $10/1M).
_HIGH_FIDELITY_TOKENS = 6240
_OPERATIONS = {
    "generate": "generate",
    "create_image": "generate",
    "edit": "edit",
    "create_image_edit": "edit",
    "create_image_edit_json": "edit",
    "variation": "variation",
    "vary": "variation",
    "create_variation": "variation",
    "create_image_variation": "variation",
}
_RULES_OPERATION = {
    "generate": "create_image",
    "edit": "create_image_edit",
    "variation": "create_image_variation",
}


class PriceTableError(InvalidParameterError):
    """A price override cannot be used; the message names the file (or argument), the entry and the field.

    Raised when the table is loaded (by a client's constructor, `estimate`, `load_prices`): before any
    request.
    """

    def __init__(self, where: str, entry: str | None, name: str | None, problem: str) -> None:
        parts = [where]
        if entry is not None:
            parts.append(f"entry {entry!r}")
        if name is not None:
            parts.append(f"field {name!r}")
        super().__init__("prices", where, (), f"price override: {', '.join(parts)}: {problem}")


class BudgetExceededError(InvalidParameterError):
    """The estimated cost is over the budget (``max_cost``): nothing was sent.

    Attributes:
        estimate: The estimated cost (USD, an upper bound), or None when some of it is unknown.
        budget: The budget (USD).
        spent: What earlier runs of the same job already spent (from the journal), in USD.
    """

    def __init__(self, message: str, *, estimate: float | None, budget: float, spent: float = 0.0) -> None:
        super().__init__(
            "max_cost", budget, (f"at least {format_usd(estimate)}",) if estimate else (), message
        )
        self.estimate = estimate
        self.budget = budget
        self.spent = spent


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """The prices of one model (or of a dated snapshot, or a deployment), as the table holds them.

    Attributes:
        id: The entry's name.
        models: The model names it prices.
        source: Where the figures come from (a URL or a document).
        checked: When they were checked (``YYYY-MM-DD``).
        text_input: USD per 1M input text tokens.
        cached_text_input: USD per 1M cached input text tokens (None: priced at ``text_input``).
        image_input: USD per 1M input image tokens.
        cached_image_input: USD per 1M cached input image tokens.
        image_output: USD per 1M output image tokens.
        text_output: USD per 1M output text (reasoning) tokens.
        per_image: USD per image, by quality and size (dall-e).
        output_tokens: Output image tokens per image, by quality and size; or a formula's name.
        input_image_tokens: How input images are counted: ``tiles-512`` or ``patches-32``.
        text_output_allowance: Output text tokens an estimate allows per image.
        origin: ``built-in``, an override file's path, or ``argument``.
    """

    id: str
    models: tuple[str, ...]
    source: str
    checked: str | None
    text_input: float | None = None
    cached_text_input: float | None = None
    image_input: float | None = None
    cached_image_input: float | None = None
    image_output: float | None = None
    text_output: float | None = None
    per_image: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    output_tokens: Mapping[str, Mapping[str, int]] | str | None = None
    input_image_tokens: str | None = None
    text_output_allowance: int = 0
    origin: str = "built-in"

    @property
    def per_image_priced(self) -> bool:
        """Whether the model is priced per image (dall-e) rather than per token."""
        return bool(self.per_image)


@dataclass(frozen=True)
class PriceTable:
    """The price entries in force: the built-in table with the overrides applied.

    Attributes:
        entries: The entries, by id.
        batch_discount: The fraction the Batch API takes off (0.5: half the price).
        checked: When the built-in table was checked.
        origins: Where it was read from: ``built-in``, then each override.
    """

    entries: Mapping[str, PriceEntry]
    batch_discount: float
    checked: str
    origins: tuple[str, ...] = ("built-in",)
    _by_model: dict[str, PriceEntry] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for entry in self.entries.values():  # later entries (overrides) win
            for model in entry.models:
                self._by_model[model] = entry
        for entry in self.entries.values():  # an entry named after a model prices it, whatever else does
            self._by_model[entry.id] = entry

    def entry_for(self, model: str | None) -> PriceEntry | None:
        """The entry that prices ``model``, or None when the table has none."""
        return self._by_model.get(model) if model else None

    def merged(self, overrides: Mapping[str, Any], where: str) -> PriceTable:
        """This table with ``overrides`` applied (the form of an override file: ``{"prices": {...}}`` or
        the entries themselves, and an optional ``batch_discount``).

        Raises:
            PriceTableError: An entry or field that cannot be used (the message names ``where``, the entry
                and the field).
        """  # noqa: D205
        entries = dict(self.entries)
        discount = self.batch_discount
        if not isinstance(overrides, Mapping):
            raise PriceTableError(where, None, None, "expected a table of entries (a mapping)")
        body: Any = overrides.get("prices", overrides) if "prices" in overrides else overrides
        if "batch_discount" in overrides:
            discount = _fraction(overrides["batch_discount"], where)
            if body is overrides:
                body = {key: value for key, value in overrides.items() if key != "batch_discount"}
        if not isinstance(body, Mapping):
            raise PriceTableError(where, None, "prices", "expected a table of entries, one per model")
        for name, raw in body.items():
            entries[str(name)] = _entry(str(name), raw, where, entries)
        return PriceTable(entries, discount, self.checked, (*self.origins, where))


def _fraction(value: object, where: str) -> float:
    if isinstance(value, Mapping):
        value = value.get("fraction")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise PriceTableError(
            where, None, "batch_discount", f"{value!r} is not a fraction from 0 to 1 (0.5: half)"
        )
    return float(value)


def _entry(name: str, raw: object, where: str, known: Mapping[str, PriceEntry]) -> PriceEntry:
    """One entry of the table or of an override, checked field by field.

    Raises:
        PriceTableError: A field that is unknown or of the wrong kind.
    """
    if not isinstance(raw, Mapping):
        raise PriceTableError(where, name, None, "an entry is a table of fields (text_input = 5.0, ...)")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        allowed = ", ".join(sorted(_FIELDS))
        raise PriceTableError(where, name, unknown[0], f"is not a field of a price entry; fields: {allowed}")
    values = _start_values(name, raw, where, known)
    for key, value in raw.items():
        if key != "based_on":
            values[key] = _checked_field(key, value, lambda f, p: PriceTableError(where, name, f, p))
    values["models"] = tuple(values.get("models") or (name,))
    if where != "built-in":
        values["origin"] = where
        if "source" not in raw:
            based = f" (based on {raw['based_on']})" if "based_on" in raw else ""
            values["source"] = f"override: {where}{based}"
        if "checked" not in raw:
            values["checked"] = _file_date(where)
    if "source" not in values:
        raise PriceTableError(where, name, "source", "every entry of the built-in table names its source")
    values.setdefault("checked", None)
    if not values.get("per_image") and values.get("image_output") is None:
        problem = "an entry needs image_output (USD per 1M tokens) or per_image (USD per image)"
        raise PriceTableError(where, name, "image_output", problem)
    for text in ("notes", "disagreements", "chosen"):
        values.pop(text, None)  # documentation, kept in the data file only
    return PriceEntry(**values)


def _start_values(
    name: str, raw: Mapping[str, Any], where: str, known: Mapping[str, PriceEntry]
) -> dict[str, Any]:
    """What an entry starts from: the entry it is ``based_on``, the entry of that name it overrides, or
    nothing."""  # noqa: D205, D209
    base_name = raw.get("based_on")
    if base_name is not None:
        base = known.get(str(base_name))
        if base is None:
            problem = f"{base_name!r} is no entry of the table ({', '.join(sorted(known))})"
            raise PriceTableError(where, name, "based_on", problem)
        return {**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, "id": name, "models": ()}
    if name in known:  # an override of an entry: the fields it gives replace the entry's
        return {f.name: getattr(known[name], f.name) for f in dataclasses.fields(known[name])}
    return {"id": name}


def _checked_field(key: str, value: object, bad: Callable[[str, str], PriceTableError]) -> object:  # noqa: PLR0911 - one return per kind of field
    """A field's value once it is of the right kind.

    Raises:
        PriceTableError: (from ``bad``) It is not.
    """
    if key in _RATES:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise bad(key, f"{value!r} is not a price: USD per 1M tokens, a number of 0 or more")
        return None if value is None else float(value)
    if key == "models":
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise bad(key, "expected a list of model names")
        return tuple(value)
    if key == "per_image":
        return _nested(value, float, bad(key, "expected {quality: {size: USD per image}}"))
    if key == "output_tokens":
        if isinstance(value, str) and value not in _FORMULAS:
            raise bad(key, f"{value!r} is no formula; known: {', '.join(_FORMULAS)}")
        problem = bad(key, f"expected {{quality: {{size: tokens}}}} or one of {', '.join(_FORMULAS)}")
        return value if isinstance(value, str) else _nested(value, int, problem)
    if key == "input_image_tokens":
        if value is not None and value not in _INPUT_SCHEMES:
            raise bad(key, f"{value!r} is no scheme; known: {', '.join(_INPUT_SCHEMES)}")
        return value
    if key == "text_output_allowance":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(key, f"{value!r} is not a whole number of tokens")
        return value
    if key in ("source", "checked") and (not isinstance(value, str) or not value.strip()):
        raise bad(key, "expected text")
    return value.strip() if isinstance(value, str) else value


def _nested(
    value: object, kind: type[int] | type[float], problem: PriceTableError
) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise problem
    result: dict[str, dict[str, Any]] = {}
    for quality, sizes in value.items():
        if not isinstance(sizes, Mapping):
            raise problem
        row: dict[str, Any] = {}
        for size, number in sizes.items():
            ok = isinstance(number, int | float) and not isinstance(number, bool) and number >= 0
            if not ok or (kind is int and not isinstance(number, int)):
                raise problem
            row[str(size)] = kind(number)
        result[str(quality)] = row
    return result


def _file_date(where: str) -> str | None:
    try:
        return time.strftime("%Y-%m-%d", time.gmtime(os.stat(where).st_mtime))
    except OSError:
        return None


@functools.cache
def _builtin() -> PriceTable:
    data = json.loads(_DATA.read_text(encoding="utf-8"))
    entries: dict[str, PriceEntry] = {}
    for name, raw in data["entries"].items():
        entries[name] = _entry(name, raw, "built-in", entries)
    return PriceTable(entries, float(data["batch_discount"]["fraction"]), str(data["checked"]))


def user_prices_path() -> Path | None:
    """The override file in force: ``$OAI_IMAGES_PRICES``, else ``prices.toml`` in the user's config folder
    (``$OAI_IMAGES_HOME``, else the platform's); None when there is none."""  # noqa: D205, D209
    named = os.environ.get(PRICES_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    home = os.environ.get("OAI_IMAGES_HOME", "").strip()
    if home:
        folder = Path(home).expanduser()
    else:
        import platformdirs  # noqa: PLC0415 - only when prices are loaded

        folder = Path(platformdirs.user_config_dir("oai-images", appauthor=False))
    path = folder / PRICES_NAME
    return path if path.is_file() else None


def _read_file(path: Path) -> Mapping[str, Any]:
    """An override file's data (TOML, or JSON by its ``.json`` extension).

    Raises:
        PriceTableError: It cannot be read or parsed (the message names it).
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceTableError(where, None, None, f"cannot be read ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PriceTableError(where, None, None, f"is not JSON ({exc})") from None
    else:
        import tomllib  # noqa: PLC0415 - only with an override file

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PriceTableError(where, None, None, f"is not TOML ({exc})") from None
    if not isinstance(data, Mapping):
        raise PriceTableError(where, None, None, "expected a table of entries")
    return data


@functools.lru_cache(maxsize=8)
def _with_file(path: str, mtime: float) -> PriceTable:
    del mtime  # part of the cache key: an edited file is read again
    return _builtin().merged(_read_file(Path(path)), path)


#: What ``prices=`` takes: a table, a path to an override file, or override entries as a mapping.
PricesArg = PriceTable | str | os.PathLike[str] | Mapping[str, Any] | None


def load_prices(prices: PricesArg = None, *, user: bool = True) -> PriceTable:
    """The price table in force: the built-in one, the user's override file, then ``prices``.

    Args:
        prices: A `PriceTable` (taken as it is), a path to an override file, or override entries (as an
            override file holds them: ``{"my-deployment": {"based_on": "gpt-image-1.5", ...}}``).
        user: Apply the user's override file (``$OAI_IMAGES_PRICES`` or ``prices.toml`` in the config folder).

    Raises:
        PriceTableError: An override that cannot be used, naming the file (or ``prices=``), entry and field.
    """
    if isinstance(prices, PriceTable):
        return prices
    table = _builtin()
    path = user_prices_path() if user else None
    if path is not None:
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise PriceTableError(str(path), None, None, f"cannot be read ({exc})") from None
        table = _with_file(str(path), mtime)
    if prices is None:
        return table
    if isinstance(prices, str | os.PathLike):
        path = Path(prices).expanduser()
        return table.merged(_read_file(path), str(path))
    return table.merged(prices, "prices=")


# --- costs -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Where the money goes, in USD (after any Batch API discount).

    Attributes:
        text_in: The prompt's text tokens.
        image_in: The input images' tokens (edits).
        image_out: The generated images (their tokens, or their per-image price).
        text_out: The output text (reasoning) tokens, for the models that bill them.
    """

    text_in: float = 0.0
    image_in: float = 0.0
    image_out: float = 0.0
    text_out: float = 0.0

    @property
    def total(self) -> float:
        """The sum of the parts."""
        return self.text_in + self.image_in + self.image_out + self.text_out


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request cost, or will cost at most: an amount in USD, or "unknown".

    Attributes:
        usd: The amount in USD; None when unknown (no price for the model, or a part unpriced) — never a
            guess.
        exact: From the answer (its ``usage``, or the images returned at a per-image price); False for an
            estimate (an upper bound).
        breakdown: The amount by part (text in, image in, image out, text out); None when unknown.
        model: The model (or deployment) priced.
        entry: The id of the price entry used.
        source: Where that entry's figures come from.
        checked: When they were checked.
        batch: Whether the Batch API discount is applied.
        images: How many images it covers.
        note: Why it is unknown, or what an estimate assumed.
    """

    usd: float | None
    exact: bool
    breakdown: CostBreakdown | None = None
    model: str | None = None
    entry: str | None = None
    source: str | None = None
    checked: str | None = None
    batch: bool = False
    images: int = 0
    note: str = ""

    @property
    def known(self) -> bool:
        """Whether the amount is known."""
        return self.usd is not None

    def __str__(self) -> str:
        """``$0.042`` (exact), ``≈ $0.042`` (estimated) or ``unknown``."""
        if self.usd is None:
            return "unknown"
        return format_usd(self.usd) if self.exact else f"≈ {format_usd(self.usd)}"

    def to_dict(self) -> dict[str, Any]:
        """The cost as JSON-able data (what the journals and the history store)."""
        parts = self.breakdown
        return {
            "usd": self.usd,
            "exact": self.exact,
            "breakdown": None if parts is None else dataclasses.asdict(parts),
            "model": self.model,
            "entry": self.entry,
            "source": self.source,
            "checked": self.checked,
            "batch": self.batch,
            "images": self.images,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: object) -> Cost | None:
        """A cost as `to_dict` wrote it (None for anything else)."""
        if not isinstance(data, Mapping) or "usd" not in data:
            return None
        usd = data.get("usd")
        parts = data.get("breakdown")
        breakdown = None
        if isinstance(parts, Mapping):
            breakdown = CostBreakdown(
                **{k: float(v) for k, v in parts.items() if k in CostBreakdown.__slots__}
            )
        return cls(
            usd=float(usd) if isinstance(usd, int | float) and not isinstance(usd, bool) else None,
            exact=bool(data.get("exact")),
            breakdown=breakdown,
            model=_str(data.get("model")),
            entry=_str(data.get("entry")),
            source=_str(data.get("source")),
            checked=_str(data.get("checked")),
            batch=bool(data.get("batch")),
            images=int(data.get("images") or 0),
            note=str(data.get("note") or ""),
        )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def format_usd(usd: float | None) -> str:
    """An amount as a person reads it: ``$12.50``, ``$0.042``, ``$0.0022``; ``unknown`` for None."""
    if usd is None:
        return "unknown"
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.01 or usd == 0:
        return f"${usd:.3f}"
    return f"${usd:.4f}"


def total(costs: Iterable[Cost | None]) -> tuple[float, int]:
    """The known amounts added up, and how many costs were unknown (None counts as unknown)."""
    amount, unknown = 0.0, 0
    for cost in costs:
        if cost is None or cost.usd is None:
            unknown += 1
        else:
            amount += cost.usd
    return round(amount, 9), unknown


def _unknown(
    model: str | None, note: str, *, exact: bool, images: int, batch: bool, entry: PriceEntry | None = None
) -> Cost:
    return Cost(
        usd=None,
        exact=exact,
        model=model,
        entry=entry.id if entry else None,
        source=entry.source if entry else None,
        checked=entry.checked if entry else None,
        batch=batch,
        images=images,
        note=note,
    )


def _priced(
    entry: PriceEntry,
    model: str | None,
    parts: CostBreakdown,
    *,
    exact: bool,
    images: int,
    batch: bool,
    table: PriceTable,
    note: str = "",
) -> Cost:
    factor = 1 - table.batch_discount if batch else 1.0
    scaled = CostBreakdown(*(round(getattr(parts, name) * factor, 12) for name in CostBreakdown.__slots__))
    return Cost(
        usd=round(scaled.total, 9),
        exact=exact,
        breakdown=scaled,
        model=model,
        entry=entry.id,
        source=entry.source,
        checked=entry.checked,
        batch=batch,
        images=images,
        note=note,
    )


class _Unpriced(Exception):
    """A part of the cost has tokens but the entry has no rate for it."""


def _rate(entry: PriceEntry, name: str, tokens: int, *, fallback: str | None = None) -> float:
    """USD for ``tokens`` at the entry's rate ``name`` (per 1M), else at ``fallback`` (a cached rate's)."""
    if tokens <= 0:
        return 0.0
    rate = getattr(entry, name)
    if rate is None and fallback is not None:
        rate = getattr(entry, fallback)
    if rate is None:
        raise _Unpriced(f"entry {entry.id!r} has no {name} rate for {tokens} tokens")
    return float(rate) * tokens / 1_000_000


def _usage_dict(usage: object) -> Mapping[str, Any] | None:
    to_dict = getattr(usage, "to_dict", None)
    data = to_dict() if callable(to_dict) else usage
    return data if isinstance(data, Mapping) else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _usage_parts(entry: PriceEntry, usage: Mapping[str, Any]) -> CostBreakdown:
    """The cost of a usage report (raises `_Unpriced`)."""
    details = usage.get("input_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    image_in = _count(details.get("image_tokens"))
    text_in = (
        _count(details.get("text_tokens"))
        if "text_tokens" in details
        else max(0, _count(usage.get("input_tokens")) - image_in)
    )
    cached = min(_count(details.get("cached_tokens")), text_in)
    out_details = usage.get("output_tokens_details")
    out_details = out_details if isinstance(out_details, Mapping) else {}
    output = _count(usage.get("output_tokens"))
    text_out = _count(out_details.get("text_tokens"))
    image_out = (
        _count(out_details.get("image_tokens")) if "image_tokens" in out_details else output - text_out
    )
    image_out = max(image_out, output - text_out)  # tokens no detail names are image tokens
    return CostBreakdown(
        text_in=_rate(entry, "text_input", text_in - cached)
        + _rate(entry, "cached_text_input", cached, fallback="text_input"),
        image_in=_rate(entry, "image_input", image_in),
        image_out=_rate(entry, "image_output", image_out),
        text_out=_rate(entry, "text_output", text_out),
    )


def cost_of(
    model: str | None,
    fields: Mapping[str, object],
    *,
    usage: object = None,
    images: int,
    prices: PricesArg = None,
    batch: bool = False,
    fallback_model: str | None = None,
) -> Cost:
    """The cost of an answer: exact from its ``usage`` (GPT image models) or from the images returned at
    the per-image price (dall-e); estimated from the request when a token-priced answer has no usage.

    Args:
        model: The model (or Azure deployment) the request named; None for the API's default.
        fields: The request's fields (size, quality, n, the prompt, the input images).
        usage: The answer's ``usage`` (the generated model or a mapping), if any.
        images: How many images the answer holds.
        prices: Overrides (see `load_prices`).
        batch: Apply the Batch API discount.
        fallback_model: A model to price by when ``model`` has no entry (an Azure deployment's model).
    """  # noqa: D205
    table = load_prices(prices)
    name = model or _default_model(fields, "generate")
    entry = table.entry_for(name)
    if entry is None and fallback_model:
        entry = table.entry_for(fallback_model)
    if entry is None:
        return _unknown(name, f"no price for model {name!r}", exact=True, images=images, batch=batch)
    if entry.per_image_priced:
        return _per_image_cost(entry, name, fields, images=images, exact=True, batch=batch, table=table)
    data = _usage_dict(usage)
    if data is None:
        fields = {**fields, "n": images or fields.get("n") or 1}
        guessed = _estimate_entry(
            entry, name, "generate" if "image" not in fields else "edit", fields, table, batch=batch
        )
        note = "the answer reported no usage: estimated from the request"
        return dataclasses.replace(guessed, note=note) if guessed.usd is not None else guessed
    try:
        parts = _usage_parts(entry, data)
    except _Unpriced as exc:
        return _unknown(name, str(exc), exact=True, images=images, batch=batch, entry=entry)
    return _priced(entry, name, parts, exact=True, images=images, batch=batch, table=table)


def _default_model(fields: Mapping[str, object], operation: str) -> str | None:
    from .rules import resolve_model  # noqa: PLC0415 - loads the rules table: only when a request names no model

    return resolve_model(fields, _RULES_OPERATION[operation])


def _dall_e_choice(fields: Mapping[str, object]) -> tuple[str, str]:
    size = fields.get("size")
    quality = fields.get("quality")
    return (
        size if isinstance(size, str) else "1024x1024",
        quality if isinstance(quality, str) else "standard",
    )


def _per_image_cost(
    entry: PriceEntry,
    model: str | None,
    fields: Mapping[str, object],
    *,
    images: int,
    exact: bool,
    batch: bool,
    table: PriceTable,
) -> Cost:
    """``images`` images at a per-image-priced entry's price (dall-e) for the request's size and quality;
    of unknown cost when the entry has none for them. ``exact``: an answer's cost, not an estimate."""  # noqa: D205, D209
    size, quality = _dall_e_choice(fields)
    row = entry.per_image.get(quality)
    if row is None and len(entry.per_image) == 1:  # dall-e-2 has one quality, whatever is sent
        row = next(iter(entry.per_image.values()))
    price = None if row is None else row.get(size)
    if price is None:
        note = f"no per-image price for {quality} {size}"
        return _unknown(model, note, exact=exact, images=images, batch=batch, entry=entry)
    return _priced(
        entry,
        model,
        CostBreakdown(image_out=price * images),
        exact=exact,
        images=images,
        batch=batch,
        table=table,
    )


# --- token counts -------------------------------------------------------------------------------------------


def prompt_token_bound(prompt: str) -> int:
    """At most how many text tokens a prompt is billed as: its UTF-8 bytes (every token of a byte-level
    BPE is at least one byte) plus the API's overhead of 6 tokens per request."""  # noqa: D205, D209
    return len(prompt.encode("utf-8", "surrogatepass")) + _PROMPT_OVERHEAD


def gpt_image_2_tokens(quality: str, width: int, height: int) -> int | None:
    """Output image tokens of one gpt-image-2 image of ``width`` x ``height`` at ``quality``.

    A formula fitted to OpenAI's calculator and published by a community member
    (https://community.openai.com/t/gpt-image-2-output-pricing-calculator-online-and-in-your-code/1382699):
    a quality factor q (low 16, medium 48, high 96) sets the short side's factor
    ``(2 q short + long) // (2 long)``, and the tokens are ``ceil(q x that x (2,000,000 + width x height) /
    4,000,000)``. It gives OpenAI's published 7024 (1024x1024 high), 5488 (1536x1024 high), 5063 (1792x1024
    high) and 12329 (3584x2048 high) exactly; OpenAI documents no formula, so it is a reconstruction. None
    for a quality it does not cover.
    """
    factor = {"low": 16, "medium": 48, "high": 96}.get(quality)
    if factor is None or width <= 0 or height <= 0:
        return None
    long_edge, short_edge = max(width, height), min(width, height)
    short_factor = (2 * factor * short_edge + long_edge) // (2 * long_edge)
    return -(-(factor * short_factor * (2_000_000 + width * height)) // 4_000_000)


def _size(text: object) -> tuple[int, int] | None:
    from .rules import parse_size  # noqa: PLC0415 - the rules table's one size parser

    return parse_size(text) if isinstance(text, str) else None


def _qualities(entry: PriceEntry, quality: object) -> list[str]:
    """The qualities to take the most expensive of: the one asked for, or every one for ``auto``/unset."""
    known = (
        list(entry.output_tokens) if isinstance(entry.output_tokens, Mapping) else ["low", "medium", "high"]
    )
    if quality is None or quality == "auto":
        return known
    return [str(quality)]


def _sizes(entry: PriceEntry, size: object) -> list[tuple[int, int]] | None:
    """The sizes to take the most expensive of: the one asked for, or the named ones for ``auto``/unset."""
    if size is None or size == "auto":
        named = {"1024x1024", "1024x1536", "1536x1024"}
        if isinstance(entry.output_tokens, Mapping):
            named = {s for row in entry.output_tokens.values() for s in row}
        return [parsed for s in sorted(named) if (parsed := _size(s)) is not None]
    parsed = _size(size)
    return None if parsed is None else [parsed]


def _table_tokens(row: Mapping[str, int], width: int, height: int) -> int | None:
    exact = row.get(f"{width}x{height}")
    if exact is not None:
        return exact
    # A size the table lacks (a compatible server's): the most tokens per pixel of the row, scaled up.
    rates = [tokens / math.prod(parsed) for s, tokens in row.items() if (parsed := _size(s))]
    return math.ceil(max(rates) * width * height) if rates else None


def _tokens_of(entry: PriceEntry, quality: str, width: int, height: int) -> int | None:
    scheme = entry.output_tokens
    if scheme == "gpt-image-2":
        return gpt_image_2_tokens(quality, width, height)
    if isinstance(scheme, Mapping):
        row = scheme.get(quality)
        return None if row is None else _table_tokens(row, width, height)
    return None


def output_image_tokens(
    model: str | None, quality: str | None = None, size: str | None = None, *, prices: PricesArg = None
) -> int | None:
    """Output image tokens of one image, by the table: exact for a quality and size it names, the most
    expensive quality for ``auto`` (or None) and the most expensive named size for ``auto`` (or None).

    None when the model has no token table, or the table does not cover the quality.
    """  # noqa: D205
    entry = load_prices(prices).entry_for(model)
    if entry is None or entry.output_tokens is None:
        return None
    sizes = _sizes(entry, size)
    if not sizes:
        return None
    counts = [_tokens_of(entry, q, w, h) for q in _qualities(entry, quality) for w, h in sizes]
    if any(count is None for count in counts):
        return None
    return max(count for count in counts if count is not None)


def input_image_tokens(
    model: str | None,
    width: int | None,
    height: int | None,
    *,
    input_fidelity: str | None = None,
    prices: PricesArg = None,
) -> int | None:
    """Input image tokens of one input image of an edit, by the model's scheme; None for a model without one.

    - ``tiles-512`` (gpt-image-1, -1-mini, -1.5): the image fitted in 2048x2048, its short side brought
      down to 512, then 65 + 129 per 512-px tile (1 tile = 194, 2 tiles = 323, as billed); with
      ``input_fidelity="high"``, 6240 more (about $0.062 at $10/1M, as measured).
    - ``patches-32`` (gpt-image-2): a small image magnified (at most 2x) toward a 1024-px long side, the
      aspect held within 1:3 and 3:1, then one token per 32-px patch, at most 1536 (as measured; OpenAI
      documents neither scheme).

    An unknown size (an image by URL or file id) counts as the scheme's largest.
    """
    entry = load_prices(prices).entry_for(model)
    if entry is None or entry.input_image_tokens is None:
        return None
    if entry.input_image_tokens == "patches-32":
        return _patches(width, height)
    tokens = _tiles(width, height)
    return tokens + (_HIGH_FIDELITY_TOKENS if input_fidelity == "high" else 0)


def _tiles(width: int | None, height: int | None) -> int:
    if not width or not height:
        return 65 + 129 * 4  # the most tiles an image can take (a 4:1 strip)
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 512:
        scale = 512 / min(w, h)
        w, h = w * scale, h * scale
    return 65 + 129 * math.ceil(math.floor(w) / 512) * math.ceil(math.floor(h) / 512)


def _patches(width: int | None, height: int | None) -> int:
    if not width or not height:
        return 1536
    w, h = float(width), float(height)
    scale = min(2.0, 1024 / max(w, h))
    if scale > 1:
        w, h = w * scale, h * scale
    if max(w, h) > 3 * min(w, h):  # the billed canvas keeps the aspect within 1:3 .. 3:1
        if w > h:
            h = w / 3
        else:
            w = h / 3
    patches = math.ceil(w / 32) * math.ceil(h / 32)
    if patches > 1536:
        shrink = math.sqrt(1536 / patches)
        patches = math.floor(w * shrink / 32) * math.floor(h * shrink / 32)
    return min(patches, 1536)


# --- estimates ----------------------------------------------------------------------------------------------


def _image_sizes(fields: Mapping[str, object]) -> list[tuple[int | None, int | None]]:
    """The (width, height) of an edit's input images: uploads, `ImageInfo`, (w, h) pairs, paths or bytes;
    (None, None) for an image whose size is not known here (a URL, a file id)."""  # noqa: D205, D209
    value = fields.get("image", fields.get("images"))
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) and not _is_pair(value) else [value]
    sizes: list[tuple[int | None, int | None]] = []
    for item in items:
        sizes.append(_one_size(item))
    return sizes


def _is_pair(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)


def _one_size(item: object) -> tuple[int | None, int | None]:
    info = getattr(item, "info", item)  # an Upload holds its ImageInfo
    width, height = getattr(info, "width", None), getattr(info, "height", None)
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    if _is_pair(item):
        pair = item
        assert isinstance(pair, tuple)
        return int(pair[0]), int(pair[1])
    if isinstance(item, str | bytes | bytearray | os.PathLike) or callable(getattr(item, "read", None)):
        from ._uploads import read_upload  # noqa: PLC0415 - only estimates of edits read their inputs

        upload = read_upload(item, "image")
        return upload.info.width or None, upload.info.height or None
    return None, None


def _estimate_entry(
    entry: PriceEntry,
    model: str | None,
    operation: str,
    fields: Mapping[str, object],
    table: PriceTable,
    *,
    batch: bool,
) -> Cost:
    n = fields.get("n")
    images = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    if entry.per_image_priced:
        return _per_image_cost(entry, model, fields, images=images, exact=False, batch=batch, table=table)
    sizes = _sizes(entry, fields.get("size"))
    per_image = None
    if sizes and entry.output_tokens is not None:
        counts = [
            _tokens_of(entry, q, w, h) for q in _qualities(entry, fields.get("quality")) for w, h in sizes
        ]
        per_image = None if any(c is None for c in counts) else max(c for c in counts if c is not None)
    partials = fields.get("partial_images")
    if (
        per_image is not None
        and isinstance(partials, int)
        and not isinstance(partials, bool)
        and partials > 0
    ):
        per_image += _PARTIAL_IMAGE_TOKENS * partials
    if per_image is None:
        note = f"no output token count for quality {fields.get('quality')!r} and size {fields.get('size')!r}"
        return _unknown(model, note, exact=False, images=images, batch=batch, entry=entry)
    prompt = fields.get("prompt")
    inputs = _image_sizes(fields) if operation == "edit" else []
    text_in = prompt_token_bound(prompt if isinstance(prompt, str) else "") + _EDIT_TEXT_PER_IMAGE * len(
        inputs
    )
    fidelity = fields.get("input_fidelity")
    image_in = 0
    for width, height in inputs:
        if entry.input_image_tokens == "patches-32":
            image_in += _patches(width, height)
        elif entry.input_image_tokens == "tiles-512":
            image_in += _tiles(width, height) + (_HIGH_FIDELITY_TOKENS if fidelity == "high" else 0)
    try:
        parts = CostBreakdown(
            text_in=_rate(entry, "text_input", text_in) * images,
            image_in=_rate(entry, "image_input", image_in) * images,
            image_out=_rate(entry, "image_output", per_image * images),
            text_out=_rate(entry, "text_output", entry.text_output_allowance * images)
            if entry.text_output is not None
            else 0.0,
        )
    except _Unpriced as exc:
        return _unknown(model, str(exc), exact=False, images=images, batch=batch, entry=entry)
    note = "an upper bound: the prompt counted by its bytes, auto quality and size at their most expensive"
    return _priced(entry, model, parts, exact=False, images=images, batch=batch, table=table, note=note)


def estimate(
    operation: str,
    prompt: str | None = None,
    *,
    prices: PricesArg = None,
    batch: bool = False,
    fallback_model: str | None = None,
    **params: Any,
) -> Cost:
    """The most a request will cost, before it is sent (an upper bound; see the module's notes).

    Args:
        operation: ``generate``, ``edit`` or ``variation`` (the operations' API names work too).
        prompt: The prompt (none for a variation).
        prices: Overrides (see `load_prices`).
        batch: Price it as a Batch API line (the discount applied).
        fallback_model: A model to price by when ``model`` has no entry (an Azure deployment's model).
        **params: The request's fields: ``model``, ``n``, ``size``, ``quality``, ``input_fidelity``; for an
            edit ``image`` (a path, bytes, an ``ImageInfo``, a ``(width, height)`` pair, or a list of them).

    Returns:
        A `Cost` with ``exact=False``; ``usd`` None when the model has no price.

    Raises:
        ValueError: An operation this does not know.
        PriceTableError: An override that cannot be used.
        InvalidParameterError: An edit's input image that cannot be read.
    """
    kind = _OPERATIONS.get(operation)
    if kind is None:
        raise ValueError(f"operation {operation!r} is not one of generate, edit, variation")
    fields: dict[str, object] = {key: value for key, value in params.items() if value is not None}
    if prompt is not None:
        fields["prompt"] = prompt
    table = load_prices(prices)
    model = fields.get("model")
    name = model if isinstance(model, str) else _default_model(fields, kind)
    entry = table.entry_for(name) or table.entry_for(fallback_model)
    n = fields.get("n")
    images = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    if entry is None:
        return _unknown(name, f"no price for model {name!r}", exact=False, images=images, batch=batch)
    return _estimate_entry(entry, name, kind, fields, table, batch=batch)


def check_budget(
    estimated: Sequence[Cost], budget: float, *, spent: float = 0.0, what: str = "this run"
) -> None:
    """Refuse a run whose estimate (with what earlier runs of it spent) is over ``budget``.

    Raises:
        InvalidParameterError: ``budget`` is not a number of 0 or more.
        BudgetExceededError: The estimate is over the budget, or unknown for some request (no price).
    """
    if (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not budget >= 0
        or math.isinf(budget)
    ):
        raise InvalidParameterError(
            "max_cost",
            budget,
            ("a number of USD, 0 or more",),
            f"max_cost {budget!r} is not a number of USD, 0 or more",
        )
    amount, unknown = total(estimated)
    if unknown:
        first = next(cost for cost in estimated if cost.usd is None)
        raise BudgetExceededError(
            f"the cost of {what} cannot be estimated ({first.note}), so a budget of {format_usd(budget)} "
            "cannot be kept: add a price for the model (see 'What it costs' in the README) or drop max_cost",
            estimate=None,
            budget=float(budget),
            spent=spent,
        )
    if spent + amount > budget + 1e-9:
        already = f" ({format_usd(spent)} already spent by earlier runs)" if spent else ""
        raise BudgetExceededError(
            f"the estimated cost of {what}, up to {format_usd(spent + amount)}{already}, is over the "
            f"budget of {format_usd(budget)} (--max-cost / max_cost); nothing was sent",
            estimate=round(spent + amount, 9),
            budget=float(budget),
            spent=spent,
        )
