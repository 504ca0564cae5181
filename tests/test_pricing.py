# mypy: disable-error-code="comparison-overlap,operator,union-attr,arg-type"
# ruff: noqa: PT018, E501, SIM117
"""What images cost: the table's arithmetic against hand-worked cases, overrides, estimates, and result.cost
end to end against the emulator (generate, edit, variation, stream, bulk lines, Batch API lines), and
budgets that count the requests the server saw."""  # noqa: D205, D209

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from oai_images import AsyncImagesClient, CompletedImageEvent, ImagesClient, InvalidParameterError, pricing
from oai_images.batchapi import BatchJob
from oai_images.bulk import JOURNAL_NAME, Journal, LineSaved
from oai_images.cli.history import History
from oai_images.pricing import (
    BudgetExceededError,
    Cost,
    PriceTableError,
    cost_of,
    estimate,
    gpt_image_2_tokens,
    input_image_tokens,
    load_prices,
    output_image_tokens,
)
from oai_images_emulator import EmulatorServer
from tests.conftest import Facade

USAGE_1 = {
    "input_tokens": 50,
    "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
    "output_tokens": 4160,
    "total_tokens": 4210,
}


# --- the table ------------------------------------------------------------------------------------------


def test_every_entry_names_its_source_and_date() -> None:
    """Each built-in entry has a source and a checked date; the data file parses with the stdlib."""
    data = json.loads((Path(pricing.__file__).with_name("prices.json")).read_text())
    table = load_prices(user=False)
    assert set(table.entries) == set(data["entries"])
    for entry in table.entries.values():
        assert entry.source.strip()
        assert entry.checked == "2026-12-03"
    assert table.batch_discount == 0.5


def test_every_gpt_model_the_rules_know_is_priced_or_documented_unknown() -> None:
    """The rules table's models have a price entry, or the data file says no public price was found."""
    from oai_images.rules import MODEL_RULES

    table = load_prices(user=False)
    data = json.loads((Path(pricing.__file__).with_name("prices.json")).read_text())
    unpriced = " ".join(data["not_priced"])
    for model in MODEL_RULES:
        assert table.entry_for(model) is not None or model.split("-2026")[0] in unpriced, model


# --- hand-worked costs, per scheme ------------------------------------------------------------------------


def test_cost_of_token_usage_without_input_images() -> None:
    """gpt-image-1: 40 text in at $5, 10 image in at $10, 4160 out at $40 per 1M = $0.1667, exact."""
    cost = cost_of("gpt-image-1", {}, usage=USAGE_1, images=1, prices=load_prices(user=False))
    assert cost.exact is True
    assert cost.usd == pytest.approx(0.0002 + 0.0001 + 0.1664)
    assert cost.breakdown is not None
    assert cost.breakdown.text_in == pytest.approx(0.0002)
    assert cost.breakdown.image_in == pytest.approx(0.0001)
    assert cost.breakdown.image_out == pytest.approx(0.1664)
    assert (cost.entry, cost.checked, cost.batch) == ("gpt-image-1", "2026-12-03", False)
    assert str(cost) == "$0.167"


def test_cost_of_prices_output_text_tokens_at_the_text_rate() -> None:
    """gpt-image-1.5 with output_tokens_details: 4160 image tokens at $32, 439 text tokens at $10."""
    usage = {
        "input_tokens": 169,
        "input_tokens_details": {"text_tokens": 169, "image_tokens": 0},
        "output_tokens": 4599,
        "output_tokens_details": {"text_tokens": 439, "image_tokens": 4160},
    }
    cost = cost_of("gpt-image-1.5", {}, usage=usage, images=1)
    assert cost.usd == pytest.approx(169 * 5e-6 + 4160 * 32e-6 + 439 * 10e-6)
    assert cost.breakdown is not None
    assert cost.breakdown.text_out == pytest.approx(0.00439)


def test_cost_of_with_input_images_and_cached_text() -> None:
    """Image input tokens at the image rate; cached text tokens at the cached rate (gpt-image-2: $1.25)."""
    usage = {
        "input_tokens": 1124,
        "input_tokens_details": {"text_tokens": 100, "image_tokens": 1024, "cached_tokens": 40},
        "output_tokens": 7024,
    }
    cost = cost_of("gpt-image-2", {}, usage=usage, images=1)
    assert cost.usd == pytest.approx(60 * 5e-6 + 40 * 1.25e-6 + 1024 * 8e-6 + 7024 * 30e-6)


def test_cost_of_per_image_dall_e() -> None:
    """dall-e-3 hd 1792x1024 is $0.12 an image; dall-e-2 512x512 is $0.018 (three: $0.054)."""
    three = cost_of("dall-e-2", {"size": "512x512"}, images=3)
    assert (three.usd, three.exact, three.images) == (pytest.approx(0.054), True, 3)
    hd = cost_of("dall-e-3", {"size": "1792x1024", "quality": "hd"}, images=1)
    assert hd.usd == pytest.approx(0.12)
    default = cost_of(None, {}, images=1)  # the API's default model: dall-e-2 at 1024x1024
    assert (default.model, default.usd) == ("dall-e-2", pytest.approx(0.02))


def test_batch_discount_halves_every_part() -> None:
    """The Batch API takes half off, per part and in total."""
    live = cost_of("gpt-image-1", {}, usage=USAGE_1, images=1)
    batch = cost_of("gpt-image-1", {}, usage=USAGE_1, images=1, batch=True)
    assert batch.batch is True
    assert batch.usd == pytest.approx(0.16670 / 2)
    assert batch.breakdown is not None and live.breakdown is not None
    assert batch.breakdown.image_out == pytest.approx(live.breakdown.image_out / 2)
    assert cost_of("dall-e-2", {}, images=2, batch=True).usd == pytest.approx(0.02)


def test_unknown_model_is_unknown_never_a_guess() -> None:
    """A model with no entry: usd None, 'unknown', and the note says why."""
    cost = cost_of("my-own-model", {}, usage=USAGE_1, images=1)
    assert cost.usd is None
    assert cost.breakdown is None
    assert str(cost) == "unknown"
    assert "my-own-model" in cost.note
    assert estimate("generate", "a fox", model="gpt-image-2.5-flare").usd is None


def test_a_rate_the_entry_lacks_makes_the_cost_unknown() -> None:
    """Output text tokens on gpt-image-1, which has no text output rate: unknown, naming the rate."""
    usage = {**USAGE_1, "output_tokens_details": {"text_tokens": 10, "image_tokens": 4150}}
    cost = cost_of("gpt-image-1", {}, usage=usage, images=1)
    assert cost.usd is None
    assert "text_output" in cost.note


def test_cost_round_trips_through_to_dict() -> None:
    """to_dict is JSON-able with usd and exact; from_dict reads it back."""
    cost = cost_of("gpt-image-1", {}, usage=USAGE_1, images=1, batch=True)
    data = json.loads(json.dumps(cost.to_dict()))
    assert {"usd", "exact", "breakdown", "entry", "source", "checked", "batch"} <= set(data)
    assert Cost.from_dict(data) == cost


# --- token counts and estimates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quality", "size", "tokens"),
    [
        ("high", (1024, 1024), 7024),
        ("high", (1536, 1024), 5488),
        ("high", (1792, 1024), 5063),
        ("high", (3584, 2048), 12329),
        ("medium", (1024, 1024), 1756),
        ("low", (1024, 1024), 196),
    ],
)
def test_gpt_image_2_formula_gives_the_published_figures(
    quality: str, size: tuple[int, int], tokens: int
) -> None:
    """The fitted formula reproduces OpenAI's calculator (and $0.006 / $0.053 / $0.211 at $30/1M)."""
    assert gpt_image_2_tokens(quality, *size) == tokens


def test_output_tokens_auto_is_the_most_expensive() -> None:
    """Quality and size auto (or unset) count as the most expensive of the table: an upper bound."""
    assert output_image_tokens("gpt-image-1.5", "low", "1024x1024") == 272
    assert output_image_tokens("gpt-image-1.5", "high", "1536x1024") == 6208
    assert output_image_tokens("gpt-image-1.5", "auto", "auto") == 6240
    assert output_image_tokens("gpt-image-2", None, None) == 7024
    assert output_image_tokens("dall-e-3") is None


def test_input_image_tokens_by_scheme() -> None:
    """tiles-512: 65 + 129 a tile (1 tile 194, 2 tiles 323), +6240 at high fidelity; patches-32 capped."""
    assert input_image_tokens("gpt-image-1", 1024, 1024) == 194
    assert input_image_tokens("gpt-image-1", 2048, 1024) == 323
    assert input_image_tokens("gpt-image-1", 1024, 1024, input_fidelity="high") == 194 + 6240
    assert input_image_tokens("gpt-image-2", 1024, 1024) == 1024
    assert input_image_tokens("gpt-image-2", 512, 512) == 1024  # magnified toward 1024
    large = input_image_tokens("gpt-image-2", 3840, 2160)  # shrunk within the patch budget
    assert large is not None and 1400 < large <= 1536
    assert input_image_tokens("gpt-image-2", None, None) == 1536  # a URL's size: the largest


def test_estimate_token_model_hand_worked() -> None:
    """gpt-image-1.5 high 1536x1024, 'a fox': (5 bytes + 6) x $5 + 6208 x $32 + 512 allowance x $10."""
    cost = estimate("generate", "a fox", model="gpt-image-1.5", quality="high", size="1536x1024")
    assert cost.exact is False
    assert cost.usd == pytest.approx(11 * 5e-6 + 6208 * 32e-6 + 512 * 10e-6)
    assert str(cost).startswith("≈ $0.204")
    two = estimate("generate", "a fox", model="gpt-image-1.5", quality="high", size="1536x1024", n=2)
    assert two.usd == pytest.approx(2 * cost.usd)
    assert two.images == 2


def test_estimate_edit_counts_input_images() -> None:
    """An edit of two inputs at high fidelity: 143 text tokens (9 + 6 + 2 x 64), 12997 image tokens."""
    cost = estimate(
        "edit", "add a hat", model="gpt-image-1", image=[(1024, 1024), (2048, 1024)], input_fidelity="high"
    )
    assert cost.usd == pytest.approx(143 * 5e-6 + (194 + 323 + 2 * 6240) * 10e-6 + 6240 * 40e-6)


def test_estimate_reads_an_edit_input_file(tmp_path: Path) -> None:
    """An input given as a path is read for its size (its first bytes only)."""
    path = tmp_path / "in.png"
    Image.new("RGBA", (2048, 1024)).save(path)
    by_path = estimate("edit", "x", model="gpt-image-1", image=str(path), quality="low", size="1024x1024")
    by_size = estimate("edit", "x", model="gpt-image-1", image=(2048, 1024), quality="low", size="1024x1024")
    assert by_path.usd == by_size.usd


def test_estimate_default_models_per_operation() -> None:
    """No model: dall-e-2 for generations and variations, gpt-image-1.5 for edits (the API's defaults)."""
    assert estimate("generate", "x").model == "dall-e-2"
    assert estimate("variation", size="256x256").usd == pytest.approx(0.016)
    assert estimate("edit", "x", image=(1024, 1024)).model == "gpt-image-1.5"
    with pytest.raises(ValueError, match="operation"):
        estimate("paint", "x")


def test_prompt_bound_counts_bytes() -> None:
    """Non-ASCII text counts by its UTF-8 bytes: an upper bound of any byte-level BPE."""
    assert pricing.prompt_token_bound("abc") == 3 + 6
    assert pricing.prompt_token_bound("日本") == 6 + 6


# --- overrides ------------------------------------------------------------------------------------------------


def test_override_file_in_the_config_folder(history_home: Path) -> None:
    """prices.toml in OAI_IMAGES_HOME: a new entry based_on another, and a changed rate."""
    (history_home / "prices.toml").write_text(
        '[prices.my-deployment]\nbased_on = "gpt-image-1"\nimage_output = 20.0\n'
        'source = "our agreement"\n\n[prices."gpt-image-1"]\ntext_input = 1.0\n'
    )
    table = load_prices()
    deployment = table.entry_for("my-deployment")
    assert deployment is not None
    assert (deployment.image_output, deployment.image_input, deployment.source) == (
        20.0,
        10.0,
        "our agreement",
    )
    changed = table.entry_for("gpt-image-1")
    assert changed is not None
    assert (changed.text_input, changed.image_output) == (1.0, 40.0)
    assert changed.origin == str(history_home / "prices.toml")
    cost = cost_of("my-deployment", {}, usage=USAGE_1, images=1)
    assert cost.usd == pytest.approx(40 * 5e-6 + 10 * 10e-6 + 4160 * 20e-6)


def test_override_file_named_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OAI_IMAGES_PRICES names a JSON file; a prices= argument applies over it; a batch discount too."""
    path = tmp_path / "negotiated.json"
    path.write_text(
        json.dumps(
            {"batch_discount": 0.25, "prices": {"dall-e-2": {"per_image": {"standard": {"1024x1024": 0.01}}}}}
        )
    )
    monkeypatch.setenv("OAI_IMAGES_PRICES", str(path))
    assert cost_of("dall-e-2", {}, images=1).usd == pytest.approx(0.01)
    assert cost_of("dall-e-2", {}, images=1, batch=True).usd == pytest.approx(0.0075)
    argument = {"dall-e-2": {"per_image": {"standard": {"1024x1024": 0.005}}}}
    assert cost_of("dall-e-2", {}, images=1, prices=argument).usd == pytest.approx(0.005)


def test_client_prices_argument_prices_every_result(server: EmulatorServer) -> None:
    """ImagesClient(prices=...) prices a compatible server's model the table does not know."""
    prices = {"dall-e-2": {"per_image": {"standard": {"256x256": 0.5}}}}
    with ImagesClient(base_url=server.base_url, api_key="sk-x", prices=prices) as client:
        result = client.generate("a fox", model="dall-e-2", size="256x256", n=2, response_format="b64_json")
    assert result.cost.usd == pytest.approx(1.0)
    assert result.cost.entry == "dall-e-2"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[prices.x]\nbased_on = "gpt-image-1"\nimage_outptu = 1\n', ["entry 'x'", "field 'image_outptu'"]),
        (
            '[prices.x]\nbased_on = "gpt-image-1"\nimage_output = "cheap"\n',
            ["entry 'x'", "field 'image_output'"],
        ),
        ('[prices.x]\nbased_on = "gpt-image-9"\n', ["entry 'x'", "field 'based_on'", "gpt-image-9"]),
        ("[prices.x]\ntext_input = 1.0\n", ["entry 'x'", "field 'image_output'"]),
        ('[prices.x]\nbased_on = "gpt-image-1"\noutput_tokens = "magic"\n', ["field 'output_tokens'"]),
        ("[prices.x\n", ["is not TOML"]),
        ("batch_discount = 2\n", ["field 'batch_discount'"]),
    ],
)
def test_bad_override_file_names_file_entry_and_field(
    history_home: Path, text: str, words: list[str]
) -> None:
    """A bad override file: PriceTableError (an InvalidParameterError) naming the file, entry and field,
    raised by the client's constructor, before any request."""  # noqa: D205, D209
    path = history_home / "prices.toml"
    path.write_text(text)
    with pytest.raises(PriceTableError) as caught:
        ImagesClient(emulator=True)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message
    assert isinstance(caught.value, InvalidParameterError)


# --- result.cost end to end against the emulator ------------------------------------------------------------


async def test_generate_cost_is_exact_from_usage(facade: Facade, server: EmulatorServer) -> None:
    """gpt-image-1.5 high 1024x1024 'a lighthouse': 3 text tokens + 4160 output at $32/1M, and ≤ estimate."""
    client = facade.client(base_url=server.base_url)
    try:
        result = await facade.generate(
            "a lighthouse", client=client, model="gpt-image-1.5", quality="high", size="1024x1024"
        )
    finally:
        await facade.close(client)
    assert result.usage is not None
    assert result.usage.output_tokens == 4160
    assert result.cost.exact is True
    assert result.cost.usd == pytest.approx(3 * 5e-6 + 4160 * 32e-6)
    bound = estimate("generate", "a lighthouse", model="gpt-image-1.5", quality="high", size="1024x1024")
    assert bound.usd is not None and result.cost.usd <= bound.usd


@pytest.mark.parametrize(
    ("model", "quality", "size"),
    [
        ("gpt-image-1", "low", "1536x1024"),
        ("gpt-image-1-mini", "medium", "1024x1536"),
        ("gpt-image-2", "high", "1536x864"),
        ("gpt-image-2", "auto", "auto"),
        ("chatgpt-image-latest", "low", "1024x1024"),
    ],
)
def test_emulator_usage_follows_the_table_and_stays_under_the_estimate(
    server: EmulatorServer, model: str, quality: str, size: str
) -> None:
    """The emulator bills the table's output tokens; the exact cost never passes the estimate."""
    prompt = "a paper crane on a windowsill, morning light"
    with ImagesClient(base_url=server.base_url, api_key="sk-x") as client:
        result = client.generate(prompt, model=model, quality=quality, size=size)
    assert result.usage is not None
    assert result.usage.output_tokens == output_image_tokens(model, result.quality, result.size)
    bound = estimate("generate", prompt, model=model, quality=quality, size=size)
    assert result.cost.usd is not None and bound.usd is not None
    assert result.cost.usd <= bound.usd


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 20, 30, 255)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_edit_cost_counts_the_input_image(facade: Facade, server: EmulatorServer) -> None:
    """An edit of a 512x512 input: 4 text tokens, 194 image tokens at $8, 272 output tokens at $32."""
    client = facade.client(base_url=server.base_url)
    try:
        result = await facade.edit(
            "add a red scarf",
            client=client,
            image=_png(512, 512),
            model="gpt-image-1.5",
            quality="low",
            size="1024x1024",
        )
    finally:
        await facade.close(client)
    assert result.usage is not None
    assert result.usage.input_tokens_details.image_tokens == 194
    assert result.cost.usd == pytest.approx(4 * 5e-6 + 194 * 8e-6 + 272 * 32e-6)
    bound = estimate(
        "edit", "add a red scarf", image=(512, 512), model="gpt-image-1.5", quality="low", size="1024x1024"
    )
    assert bound.usd is not None and result.cost.usd <= bound.usd


async def test_variation_cost_is_per_image(facade: Facade, server: EmulatorServer) -> None:
    """Two dall-e-2 variations at 512x512: $0.036, exact."""
    client = facade.client(base_url=server.base_url)
    try:
        result = await facade.vary(
            _png(256, 256), client=client, n=2, size="512x512", response_format="b64_json"
        )
    finally:
        await facade.close(client)
    assert (result.cost.usd, result.cost.exact, result.cost.images) == (pytest.approx(0.036), True, 2)


async def test_stream_completion_carries_its_cost(facade: Facade, server: EmulatorServer) -> None:
    """A gpt-image-2 low 1024x1024 stream with one partial image: 196 + 100 output tokens at $30/1M."""
    client = facade.client(base_url=server.base_url)
    try:
        events = await facade.stream(
            "a lighthouse",
            client=client,
            model="gpt-image-2",
            quality="low",
            size="1024x1024",
            partial_images=1,
        )
    finally:
        await facade.close(client)
    completed = [event for event in events if isinstance(event, CompletedImageEvent)]
    assert len(completed) == 1
    assert completed[0].cost.usd == pytest.approx(3 * 5e-6 + 296 * 30e-6)
    bound = estimate(
        "generate", "a lighthouse", model="gpt-image-2", quality="low", size="1024x1024", partial_images=1
    )
    assert bound.usd is not None and completed[0].cost.usd <= bound.usd


LINES = [
    {"prompt": f"fox {index}", "model": "gpt-image-1.5", "quality": "high", "size": "1024x1024"}
    for index in range(5)
]
#: What each of LINES costs on the emulator: 2 text tokens ("fox 0": 5 characters) and 4160 output tokens.
LINE_COST = 2 * 5e-6 + 4160 * 32e-6


def test_bulk_lines_record_their_cost(server: EmulatorServer, tmp_path: Path) -> None:
    """Each saved line's event and journal row have its cost; the summary adds them up."""
    events: list[Any] = []
    with ImagesClient(base_url=server.base_url, api_key="sk-x") as client:
        summary = client.generate_many(LINES[:3], out=tmp_path, on_event=events.append)
    saved = [event for event in events if isinstance(event, LineSaved)]
    assert [event.cost.usd for event in saved] == [pytest.approx(LINE_COST)] * 3
    assert summary.spent == pytest.approx(3 * LINE_COST)
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as db:
        recorded = [json.loads(text) for (text,) in db.execute("SELECT cost FROM lines")]
    assert [cost["usd"] for cost in recorded] == [pytest.approx(LINE_COST)] * 3


async def test_async_bulk_refuses_over_budget(server: EmulatorServer, tmp_path: Path) -> None:
    """AsyncImagesClient.generate_many(max_cost=) refuses too; the server saw nothing."""
    async with AsyncImagesClient(base_url=server.base_url, api_key="sk-x") as client:
        with pytest.raises(BudgetExceededError):
            await client.generate_many(LINES, out=tmp_path, max_cost=0.5)
    assert len(server.state.requests) == 0


def test_batch_api_lines_cost_half(
    server: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Batch API job's done lines carry their cost at half the price, recorded in batchapi_lines."""
    monkeypatch.setattr(server.state.config, "batch_seconds", 0.0)  # done at once (the clock is faked)
    with (
        ImagesClient(base_url=server.base_url, api_key="sk-x", sleep=lambda _: None) as client,
        BatchJob(client, tmp_path) as job,
    ):
        job.submit([(f"fox-{index}", line) for index, line in enumerate(LINES[:2])])
        job.wait(poll_interval=0.05, max_poll_interval=0.05)
        job.collect()
        outcomes = job.lines()
        spent = job.spent()
    assert [line.cost.usd if line.cost else None for line in outcomes] == [pytest.approx(LINE_COST / 2)] * 2
    assert all(line.cost is not None and line.cost.batch for line in outcomes)
    assert spent == (pytest.approx(LINE_COST), 0)


# --- budgets --------------------------------------------------------------------------------------------------


def test_budget_refuses_before_sending(server: EmulatorServer, tmp_path: Path) -> None:
    """An estimate over max_cost: BudgetExceededError naming estimate and budget; no request sent."""
    with ImagesClient(base_url=server.base_url, api_key="sk-x") as client:
        with pytest.raises(BudgetExceededError) as caught:
            client.generate_many(LINES, out=tmp_path, max_cost=0.50)
    assert caught.value.budget == 0.5
    assert caught.value.estimate is not None and caught.value.estimate > 0.5
    assert "$0.500" in str(caught.value)
    assert len(server.state.requests) == 0


def test_budget_refuses_an_unknown_estimate(server: EmulatorServer, tmp_path: Path) -> None:
    """A line whose model has no price cannot be kept within a budget: refused, nothing sent."""
    with ImagesClient(base_url=server.base_url, api_key="sk-x", validate=False) as client:
        with pytest.raises(BudgetExceededError, match="cannot be estimated"):
            client.generate_many(
                [{"prompt": "x", "model": "gpt-image-2.5-flare"}], out=tmp_path, max_cost=100
            )
    assert len(server.state.requests) == 0


#: A table that undercounts gpt-image-1.5's output (1 token): its estimates pass any budget.
UNDERCOUNT = {"gpt-image-1.5": {"output_tokens": {"high": {"1024x1024": 1}}, "text_output_allowance": 0}}


def test_budget_stops_a_live_run_and_a_higher_budget_resumes(server: EmulatorServer, tmp_path: Path) -> None:
    """The estimate passes, but answers cost more: the run stops before spent + the next line passes the
    budget (2 requests seen for $0.30 at $0.133 each), and a rerun with more budget sends the other 3,
    counting what the journal says the first run spent."""  # noqa: D205, D209
    with ImagesClient(base_url=server.base_url, api_key="sk-x", prices=UNDERCOUNT) as client:
        first = client.generate_many(LINES, out=tmp_path, max_cost=0.30, concurrency=1)
        assert first.budget_stopped is True
        assert (first.done, first.unfinished) == (2, 3)
        assert len(server.state.requests) == 2
        assert first.spent == pytest.approx(2 * LINE_COST)
        assert first.spent <= 0.30
        again = client.generate_many(LINES, out=tmp_path, max_cost=0.30, concurrency=1)
        assert (again.done, again.budget_stopped, len(server.state.requests)) == (0, True, 2)
        resumed = client.generate_many(LINES, out=tmp_path, max_cost=1.00, concurrency=1)
    assert (resumed.done, resumed.skipped, resumed.budget_stopped) == (3, 2, False)
    assert len(server.state.requests) == 5
    assert resumed.spent_before == pytest.approx(2 * LINE_COST)
    assert resumed.total_spent == pytest.approx(5 * LINE_COST)


def test_batch_job_budget_refuses_submit(server: EmulatorServer, tmp_path: Path) -> None:
    """BatchJob(max_cost=) refuses a submit over the budget at Batch API prices; nothing is sent or kept."""
    with ImagesClient(base_url=server.base_url, api_key="sk-x") as client:
        with BatchJob(client, tmp_path, max_cost=0.2) as job:
            with pytest.raises(BudgetExceededError):
                job.submit([(f"fox-{index}", line) for index, line in enumerate(LINES)])
            assert job.counts() == {"submitted": 0, "done": 0, "failed": 0}
        with BatchJob(client, tmp_path, max_cost=0.6) as job:  # 5 x ≈ $0.069 at half price fits
            assert len(job.submit([(f"fox-{index}", line) for index, line in enumerate(LINES)])) == 1
    assert [request.path for request in server.state.requests].count("/v1/batches") == 1


# --- journals written before costs -----------------------------------------------------------------------------


def test_older_journals_and_history_gain_a_cost_column(tmp_path: Path) -> None:
    """A bulk journal, a Batch API journal and a history without cost columns get them when opened."""
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as db:
        db.execute(
            "CREATE TABLE lines (key TEXT PRIMARY KEY, line INTEGER NOT NULL, line_id TEXT, fields TEXT NOT NULL, "
            "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, request_id TEXT, revised_prompts TEXT, "
            "usage TEXT, paths TEXT, error TEXT, created REAL NOT NULL, updated REAL NOT NULL)"
        )
        db.execute(
            "CREATE TABLE batchapi_lines (custom_id TEXT PRIMARY KEY, part INTEGER NOT NULL, "
            "state TEXT NOT NULL DEFAULT 'submitted', body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, "
            "files TEXT, status_code INTEGER, error_code TEXT, error_message TEXT)"
        )
        db.execute(
            "CREATE TABLE generations (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, "
            "prompt TEXT NOT NULL, model TEXT, size TEXT, fields TEXT NOT NULL, request_id TEXT, usage TEXT, "
            "paths TEXT NOT NULL, revised_prompts TEXT)"
        )
    Journal(tmp_path).close()
    from oai_images.batchapi._journal import Journal as BatchJournal

    BatchJournal(tmp_path / JOURNAL_NAME).close()
    history_folder = tmp_path / "home"
    history_folder.mkdir()
    (history_folder / "history.sqlite").write_bytes((tmp_path / JOURNAL_NAME).read_bytes())
    History(history_folder).close()
    with sqlite3.connect(tmp_path / JOURNAL_NAME) as db:
        for table in ("lines", "batchapi_lines"):
            assert "cost" in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    with sqlite3.connect(history_folder / "history.sqlite") as db:
        assert "cost" in {row[1] for row in db.execute("PRAGMA table_info(generations)")}
