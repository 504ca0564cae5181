"""The gallery's page model, thumbnails and page: escaping, safe links, failed cards, cost, cache, CLI.

Journals are written by the real writers (the bulk engine's `Journal`, the Batch API's), the history by
`History`; images are real files that Pillow decodes. The ``cost`` column is added by hand, as the pricing
will add it (JSON such as ``{"usd": 0.042, "exact": true}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from oai_images.batchapi._journal import Journal as BatchApiJournal
from oai_images.bulk import JOURNAL_NAME, Journal
from oai_images.cli import main
from oai_images.cli.history import HISTORY_NAME, History
from oai_images.gallery import THUMB_FOLDER, build_gallery
from oai_images.gallery._model import (
    NO_COST,
    Card,
    Cost,
    cards_from_journal,
    cost_label,
    locate,
    parse_cost,
    relative_url,
)
from oai_images.gallery._page import render_page
from oai_images.gallery._thumbs import make_thumbnails
from tests.test_cli import EXE, run

ODD_NAMES = [
    "a fox.png",
    "fox#1.png",
    "fox?.png",
    "100% fox.png",
    "renard rusé ü 狐.png",
    'it\'s "fox".png',
    "a&b <c>.png",
    "colon:fox.png",
]


def _image(path: Path, size: tuple[int, int] = (64, 48), colour: str = "teal") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path


class _Links(HTMLParser):
    """The href and src attributes of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _target(url: str, page_folder: Path) -> Path:
    """Where a relative URL of the page leads, as a browser reading it from file:// would go."""
    assert url.startswith("./"), url
    assert urllib.parse.urlsplit(url).query == ""
    assert urllib.parse.urlsplit(url).fragment == ""
    return (page_folder / urllib.parse.unquote(url, errors="surrogateescape")).resolve()


def _bulk_run(folder: Path, lines: list[tuple[dict[str, object], str, list[Path] | str]]) -> None:
    """Write a bulk run's journal with the engine's own journal: (fields, state, paths or error) a line."""
    journal = Journal(folder)
    try:
        for number, (fields, state, outcome) in enumerate(lines, start=1):
            key = f"key-{number}"
            journal.sending(key, line=number, line_id=None, fields=json.dumps(fields))
            if state == "saved":
                assert isinstance(outcome, list)
                journal.saved(
                    key,
                    paths=outcome,
                    request_id=f"req_{number}",
                    revised_prompts=[f"revised {number}"] * len(outcome),
                    usage={"total_tokens": 10},
                )
            elif state == "failed":
                assert isinstance(outcome, str)
                journal.failed(key, outcome)
    finally:
        journal.close()


def _add_cost(database: Path, table: str, key: str, costs: dict[object, str]) -> None:
    """Set the pricing's ``cost`` column of a table (added first if this table has none), by key."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        if "cost" not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN cost TEXT")
        for value, cost in costs.items():
            db.execute(f"UPDATE {table} SET cost = ? WHERE {key} = ?", (cost, value))
        db.commit()


# --- escaping ---------------------------------------------------------------------------------------------


def test_page_escapes_every_text_from_the_journal(tmp_path: Path) -> None:
    """Prompts, revised prompts, errors, models and ids are text: none of their tags reaches the page."""
    image = _image(tmp_path / "fox.png")
    hostile = '<script>alert("x")</script>'
    cards = [
        Card(
            prompt=hostile,
            revised_prompt="</p><b onmouseover=alert(1)>bold</b>",
            model='gpt"><img src=x onerror=alert(2)>',
            size="1024x1024",
            quality="<i>high</i>",
            cost=None,
            time=1_800_000_000.0,
            request_id="req_<u>",
            state="saved",
            source="batch",
            label="line 1",
            image=image,
            problem=None,
        ),
        Card(
            prompt="a fox",
            revised_prompt=None,
            model=None,
            size=None,
            quality=None,
            cost=None,
            time=None,
            request_id=None,
            state="failed",
            source="batch",
            label="line 2",
            image=None,
            problem="<img src=x onerror=alert(3)> refused",
        ),
    ]
    page = render_page(cards, title="<title>", page_folder=tmp_path, thumbnails={})
    parsed = _parse(page)
    assert parsed.scripts == 1  # the page's own
    for text in (hostile, "</p><b onmouseover=alert(1)>bold</b>", "<img src=x onerror=alert(3)> refused"):
        assert text not in page
        assert text in "".join(parsed.text)
    assert "onerror=alert(2)>" not in page
    assert 'data-model="gpt&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"' in page
    assert "<title>&lt;title&gt;</title>" in page


def test_page_allows_only_its_own_script() -> None:
    """The Content-Security-Policy names the page's inline script by its hash, and nothing else runs."""
    page = render_page([], title="t", page_folder=Path("/"), thumbnails={})
    policy = page.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert "default-src 'none'" in policy
    assert "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1]


# --- links ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_file_names_link_to_the_file(tmp_path: Path, name: str) -> None:
    """A name with spaces, #, ?, %, quotes, & or non-ASCII gives a relative URL that leads to that file."""
    image = _image(tmp_path / "run" / name)
    url = relative_url(image, tmp_path / "run")
    assert " " not in url
    assert "#" not in url
    assert "?" not in url
    assert _target(url, tmp_path / "run") == image.resolve()
    # From another folder (the page's --out) too.
    assert _target(relative_url(image, tmp_path / "pages"), tmp_path / "pages") == image.resolve()


def test_a_run_page_links_odd_names_and_their_thumbnails(tmp_path: Path) -> None:
    """The page of a run whose files have odd names: every link and thumbnail leads to an existing file."""
    run_folder = tmp_path / "run dir #1"
    images = [_image(run_folder / name) for name in ODD_NAMES]
    _bulk_run(run_folder, [({"prompt": f"p{i}"}, "saved", [image]) for i, image in enumerate(images)])
    report = build_gallery(run_folder)
    page = report.page.read_text()
    urls = _parse(page).urls
    targets = {_target(url, run_folder.resolve()) for url in urls}
    assert {image.resolve() for image in images} <= targets
    assert all(target.exists() for target in targets)
    thumbs = [target for target in targets if target.parent.name == THUMB_FOLDER]
    assert len(thumbs) == len(images)


def test_paths_outside_the_folder_are_not_linked(tmp_path: Path) -> None:
    """A recorded `..` path or a symlink out of the folder gives a card without a link, saying why."""
    run_folder = tmp_path / "run"
    secret = _image(tmp_path / "outside.png")
    inside = _image(run_folder / "inside.png")
    escape = run_folder / "escape.png"
    escape.symlink_to(secret)
    (run_folder / "inner-link.png").symlink_to(inside)
    _bulk_run(
        run_folder,
        [
            ({"prompt": "dots"}, "saved", [run_folder / ".." / "outside.png"]),
            ({"prompt": "symlink"}, "saved", [escape]),
            ({"prompt": "ok"}, "saved", [inside]),
            ({"prompt": "ok link"}, "saved", [run_folder / "inner-link.png"]),
        ],
    )
    # The journal resolves paths when it records them; write the raw ones as a hostile journal would.
    with contextlib.closing(sqlite3.connect(run_folder / JOURNAL_NAME)) as db:
        db.execute(
            "UPDATE lines SET paths = ? WHERE line = 1", (json.dumps([f"{run_folder}/../outside.png"]),)
        )
        db.execute("UPDATE lines SET paths = ? WHERE line = 2", (json.dumps([str(escape)]),))
        db.commit()
    cards = cards_from_journal(run_folder)
    assert [card.image for card in cards] == [None, None, inside.resolve(), inside.resolve()]
    assert cards[0].problem is not None
    assert "outside the folder" in cards[0].problem
    assert cards[1].problem is not None
    assert "outside the folder" in cards[1].problem
    page = build_gallery(run_folder).page.read_text()
    assert all(
        secret.resolve() != _target(url, run_folder.resolve()) for url in _parse(page).urls if url != "./"
    )
    assert "outside.png" not in "".join(_parse(page).urls)


def test_locate_refuses_what_is_not_an_image_file_and_finds_a_moved_folder(tmp_path: Path) -> None:
    """Only image files are linked; a folder moved since the run still finds its files by name."""
    root = tmp_path / "moved"
    _image(root / "fox.png")
    (root / "notes.txt").write_text("not an image")
    assert (
        locate(str(tmp_path / "old-place" / "fox.png"), root.resolve()).path == (root / "fox.png").resolve()
    )
    assert locate("fox.png", root.resolve()).path == (root / "fox.png").resolve()  # relative, as recorded
    refused = locate(str(root / "notes.txt"), root.resolve())
    assert refused.path is None
    assert refused.problem is not None
    assert "not an image" in refused.problem
    gone = locate(str(root / "missing.png"), root.resolve())
    assert gone.path is None
    assert gone.problem is not None
    assert "gone" in gone.problem
    assert locate("", root.resolve()).path is None
    assert locate("a\0b.png", root.resolve()).path is None


# --- cards ------------------------------------------------------------------------------------------------


FOX_FIELDS: dict[str, object] = {
    "prompt": "a fox",
    "model": "gpt-image-1",
    "quality": "high",
    "size": "1024x1024",
}
REFUSED = "the API answered 400: your prompt was refused"


def test_failed_and_unfinished_lines_are_cards_with_their_error(tmp_path: Path) -> None:
    """A failed line shows its error, a line sent with no outcome says it is not finished; one card each."""
    run_folder = tmp_path / "run"
    fox = _image(run_folder / "fox.png")
    otter = _image(run_folder / "otter.png")
    _bulk_run(
        run_folder,
        [
            (FOX_FIELDS, "saved", [fox, otter]),
            ({"prompt": "a whale", "model": "dall-e-3"}, "failed", REFUSED),
            ({"prompt": "a frog"}, "sent", ""),
        ],
    )
    cards = cards_from_journal(run_folder)
    assert [(card.prompt, card.state) for card in cards] == [
        ("a fox", "saved"),
        ("a fox", "saved"),
        ("a whale", "failed"),
        ("a frog", "pending"),
    ]
    first = cards[0]
    assert (first.model, first.size, first.quality, first.request_id) == (
        "gpt-image-1",
        "1024x1024",
        "high",
        "req_1",
    )
    assert first.revised_prompt == "revised 1"
    assert first.time is not None
    assert cards[2].problem == REFUSED
    assert cards[2].image is None
    assert cards[3].problem is not None
    assert "not finished" in cards[3].problem
    page = build_gallery(run_folder).page.read_text()
    assert page.count('<article class="card failed"') == 1
    assert "your prompt was refused" in page
    assert "1 failed" in page


def test_batch_api_lines_become_cards(tmp_path: Path) -> None:
    """A Batch API job's folder: done lines with their files (even recorded relative), failed ones with code
    and message."""  # noqa: D205, D209
    run_folder = tmp_path / "job"
    fox = _image(run_folder / "fox-1.png")
    journal = BatchApiJournal(run_folder / JOURNAL_NAME)
    try:
        part = journal.new_part()
        journal.add_lines(
            part,
            [
                ("fox-1", json.dumps({"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1024"})),
                ("whale-2", json.dumps({"prompt": "a whale", "model": "gpt-image-1"})),
                ("frog-3", json.dumps({"prompt": "a frog"})),
            ],
        )
        journal.update_batch(
            part,
            batch_id="batch_1",
            status="completed",
            total=3,
            completed=1,
            failed=1,
            output_file_id="file-out",
            error_file_id="file-err",
        )
        journal.record_done(
            "fox-1", [Path("job") / "fox-1.png"], request_id="req_fox", usage={"total_tokens": 5}
        )
        journal.record_failed("whale-2", 400, "content_policy_violation", "refused <by policy>")
    finally:
        journal.close()
    cards = cards_from_journal(run_folder)
    assert [(card.label, card.state, card.source) for card in cards] == [
        ("fox-1", "saved", "batch-api"),
        ("whale-2", "failed", "batch-api"),
        ("frog-3", "pending", "batch-api"),
    ]
    assert cards[0].image == fox.resolve()
    assert cards[0].request_id == "req_fox"
    assert cards[0].time is not None
    assert cards[1].problem == "content_policy_violation: refused <by policy>"
    page = build_gallery(run_folder).page.read_text()
    assert "refused &lt;by policy&gt;" in page


# --- cost -------------------------------------------------------------------------------------------------


def test_cost_slot_is_empty_without_a_cost_column(tmp_path: Path) -> None:
    """A journal from before the pricing: every card shows the empty slot, and no total is given."""
    run_folder = tmp_path / "run"
    _bulk_run(run_folder, [({"prompt": "a fox"}, "saved", [_image(run_folder / "fox.png")])])
    cards = cards_from_journal(run_folder)
    assert cards[0].cost is None
    page = build_gallery(run_folder).page.read_text()
    assert f"· cost {NO_COST}</div>" in page
    assert "cost $" not in page


def test_cost_shows_when_the_column_exists(tmp_path: Path) -> None:
    """With the pricing's ``cost`` column: $ for exact, ≈$ for estimated, shared among a line's images;
    a cost that does not parse leaves the slot empty."""  # noqa: D205, D209
    run_folder = tmp_path / "run"
    one, two = _image(run_folder / "a.png"), _image(run_folder / "b.png")
    _bulk_run(
        run_folder,
        [
            ({"prompt": "exact"}, "saved", [one]),
            ({"prompt": "estimated, two images"}, "saved", [one, two]),
            ({"prompt": "garbled"}, "saved", [two]),
        ],
    )
    _add_cost(
        run_folder / JOURNAL_NAME,
        "lines",
        "line",
        {
            1: json.dumps({"usd": 0.042, "exact": True, "breakdown": {}}),
            2: json.dumps({"usd": 0.2, "exact": False}),
            3: "{not json",
        },
    )
    cards = cards_from_journal(run_folder)
    assert [card.cost for card in cards] == [Cost(0.042, True), Cost(0.1, False), Cost(0.1, False), None]
    assert [cost_label(card.cost) for card in cards] == ["$0.042", "≈$0.100", "≈$0.100", NO_COST]
    page = build_gallery(run_folder).page.read_text()
    assert "$0.042" in page
    assert "≈$0.100" in page
    assert "cost ≈$0.242" in page  # the total: estimated, as one part of it is


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"usd": 0.5, "exact": true}', Cost(0.5, True)),
        ('{"usd": 1, "exact": false}', Cost(1.0, False)),
        ('{"usd": 0.5}', Cost(0.5, True)),
        ('{"usd": "0.5"}', None),
        ('{"usd": -1}', None),
        ('{"usd": true}', None),
        ('{"usd": NaN}', None),
        ("[0.5]", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_cost_reads_the_pricing_contract_tolerantly(text: str | None, expected: Cost | None) -> None:
    """``{"usd": …, "exact": …}`` parses; anything else gives no cost, never an error."""
    assert parse_cost(text) == expected


# --- thumbnails -------------------------------------------------------------------------------------------


def test_thumbnails_are_made_once_and_again_when_the_image_changes(tmp_path: Path) -> None:
    """A second build decodes nothing; an image rewritten in place gets a new thumbnail."""
    image = _image(tmp_path / "fox.png", (640, 480), "red")
    cache = tmp_path / "cache"
    first = make_thumbnails([image], cache)
    assert (first.made, first.cached) == (1, 0)
    thumb = first.thumbnails[image]
    with Image.open(thumb) as opened:
        assert opened.format == "WEBP"
        assert max(opened.size) <= 320
        assert opened.size[0] > opened.size[1]
        assert opened.convert("RGB").getpixel((10, 10)) == pytest.approx((255, 0, 0), abs=40)
    made_at = thumb.stat().st_mtime_ns
    second = make_thumbnails([image], cache)
    assert (second.made, second.cached) == (0, 1)
    assert second.thumbnails[image] == thumb
    assert thumb.stat().st_mtime_ns == made_at
    _image(image, (300, 600), "blue")
    os.utime(image, ns=(made_at + 5_000_000_000, made_at + 5_000_000_000))
    third = make_thumbnails([image], cache)
    assert third.made == 1
    new = third.thumbnails[image]
    assert new != thumb
    with Image.open(new) as opened:
        assert opened.size[1] > opened.size[0]
        assert opened.convert("RGB").getpixel((5, 5)) == pytest.approx((0, 0, 255), abs=40)
    assert not list(cache.glob("*.part"))


def test_an_unreadable_image_gets_a_card_without_a_thumbnail(tmp_path: Path) -> None:
    """A file that Pillow cannot decode: the build goes on, its card links it and says why there is no
    thumbnail."""  # noqa: D205, D209
    run_folder = tmp_path / "run"
    broken = run_folder / "broken.png"
    broken.parent.mkdir()
    broken.write_bytes(b"\x89PNG\r\n\x1a\nthis is no image")
    good = _image(run_folder / "good.png")
    _bulk_run(run_folder, [({"prompt": "broken"}, "saved", [broken]), ({"prompt": "good"}, "saved", [good])])
    report = build_gallery(run_folder)
    assert set(report.unreadable) == {broken.resolve()}
    assert (report.thumbnails_made, report.images) == (1, 2)
    page = report.page.read_text()
    assert "no thumbnail:" in page
    assert page.count("<img ") == 1


def test_the_second_build_uses_the_cache(tmp_path: Path) -> None:
    """`build_gallery` twice: the second makes no thumbnail, and writes the same cards."""
    run_folder = tmp_path / "run"
    images = [_image(run_folder / f"{i}.png", (200 + i, 100)) for i in range(5)]
    _bulk_run(run_folder, [({"prompt": f"p{i}"}, "saved", [image]) for i, image in enumerate(images)])
    first = build_gallery(run_folder)
    second = build_gallery(run_folder)
    assert (first.thumbnails_made, first.thumbnails_cached) == (5, 0)
    assert (second.thumbnails_made, second.thumbnails_cached) == (0, 5)
    assert len(list((run_folder / THUMB_FOLDER).iterdir())) == 5


# --- the history ------------------------------------------------------------------------------------------


def test_history_page_newest_first_with_gone_files_and_cost(tmp_path: Path) -> None:
    """The history's page: newest first, --limit, a card saying a deleted file is gone, the cost column."""
    home = tmp_path / "home"
    pictures = tmp_path / "pictures"
    kept = _image(pictures / "kept one.png")
    deleted = _image(pictures / "deleted.png")
    history = History(home)
    try:
        for prompt, path in (("oldest", kept), ("middle", deleted), ("newest", kept)):
            history.record(
                "generate",
                {"prompt": prompt, "model": "gpt-image-1", "quality": "low", "size": "1024x1024"},
                model="gpt-image-1",
                request_id=f"req_{prompt}",
                usage=None,
                paths=[path],
                revised_prompts=[None],
            )
    finally:
        history.close()
    deleted.unlink()
    _add_cost(
        home / HISTORY_NAME, "generations", "prompt", {"newest": json.dumps({"usd": 0.011, "exact": True})}
    )
    report = build_gallery(history_folder=home)
    assert report.page == (home / "gallery.html").resolve()
    page = report.page.read_text()
    assert page.index("newest") < page.index("middle") < page.index("oldest")
    assert "the file is gone" in page
    assert "$0.011" in page
    assert "quality low" in page
    targets = {_target(url, home.resolve()) for url in _parse(page).urls}
    assert kept.resolve() in targets
    assert deleted.resolve() not in targets
    limited = build_gallery(history_folder=home, limit=1, out=tmp_path / "pages" / "latest.html")
    assert limited.cards == 1
    assert (tmp_path / "pages" / THUMB_FOLDER).is_dir()
    text = limited.page.read_text()
    assert "newest" in text
    assert "oldest" not in text
    assert kept.resolve() in {_target(url, limited.page.parent) for url in _parse(text).urls}


# --- the command ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_gallery_of_a_run_folder(tmp_path: Path) -> None:
    """`oai-images gallery DIR` (a real process) after a real bulk run: the page path on stdout, a summary on
    stderr; again, every thumbnail comes from the cache; --out writes elsewhere."""  # noqa: D205, D209
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\na blue whale\n")
    out = tmp_path / "out"
    assert run("batch", str(prompts), "--out", str(out), "--emulator").returncode == 0
    done = run("gallery", str(out))
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip())
    assert page == (out / "gallery.html").resolve()
    assert page.read_text().count("<article ") == 2
    assert "2 images" in done.stderr
    assert "2 made, 0 cached" in done.stderr
    again = run("gallery", str(out), "--out", str(tmp_path / "elsewhere" / "page.html"))
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()) == (tmp_path / "elsewhere" / "page.html").resolve()
    assert "2 made" in again.stderr  # its own cache, beside that page
    third = run("gallery", str(out))
    assert "0 made, 2 cached" in third.stderr


@pytest.mark.slow
def test_cli_gallery_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    """No journal in FOLDER, no history yet, --limit with FOLDER: exit 2 with a message saying so."""
    plain = tmp_path / "plain"
    plain.mkdir()
    no_journal = run("gallery", str(plain))
    assert no_journal.returncode == 2
    assert "has no journal" in no_journal.stderr
    no_history = run("gallery")
    assert no_history.returncode == 2
    assert "no history yet" in no_history.stderr
    both = run("gallery", str(plain), "--limit", "3")
    assert both.returncode == 2
    assert "--limit" in both.stderr
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / JOURNAL_NAME).write_bytes(b"this is not a database" * 100)
    damaged = run("gallery", str(corrupt))
    assert damaged.returncode == 1
    assert "cannot read the journal" in damaged.stderr


# --- hostile bytes, interruptions -------------------------------------------------------------------------


def test_a_lone_surrogate_in_a_journal_does_not_stop_the_page(tmp_path: Path) -> None:
    """A prompt whose JSON holds an unpaired surrogate escape (a damaged journal) still gives a page."""
    run_folder = tmp_path / "run"
    _bulk_run(run_folder, [({"prompt": "a fox"}, "saved", [_image(run_folder / "fox.png")])])
    with contextlib.closing(sqlite3.connect(run_folder / JOURNAL_NAME)) as db:
        db.execute("UPDATE lines SET fields = ?", ('{"prompt": "a fox \\ud800 <b>"}',))
        db.commit()
    page = build_gallery(run_folder).page.read_text(encoding="utf-8")
    assert "a fox ? &lt;b&gt;" in page


@pytest.mark.skipif(sys.platform != "linux", reason="file names of any bytes are a POSIX file system's")
def test_a_file_name_that_is_not_utf8_links_to_its_bytes(tmp_path: Path) -> None:
    """A Latin-1 file name (not UTF-8) is linked by its own bytes, percent-encoded."""
    run_folder = tmp_path / "run"
    image = _image(run_folder / os.fsdecode(b"caf\xe9.png"))
    _bulk_run(run_folder, [({"prompt": "a café"}, "saved", [image])])
    page = build_gallery(run_folder).page.read_text(encoding="utf-8")
    assert 'href="./caf%E9.png"' in page
    assert os.path.exists(run_folder / os.fsdecode(urllib.parse.unquote_to_bytes("caf%E9.png")))


def test_stale_temporary_thumbnails_are_swept(tmp_path: Path) -> None:
    """A temporary file a killed build left (older than a minute) goes; a fresh one (a live build's) stays."""
    cache = tmp_path / "cache"
    cache.mkdir()
    stale, fresh = cache / ".oai-images-0123456789ab.part", cache / ".oai-images-ba9876543210.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    make_thumbnails([_image(tmp_path / "fox.png")], cache)
    assert not stale.exists()
    assert fresh.exists()


def test_cli_gallery_open_launches_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--open hands the written page to the desktop's browser (click.launch)."""
    run_folder = tmp_path / "run"
    _bulk_run(run_folder, [({"prompt": "a fox"}, "saved", [_image(run_folder / "fox.png")])])
    launched: list[str] = []

    def launch(url: str, **options: object) -> int:
        launched.append(url)
        return 0

    monkeypatch.setattr(click, "launch", launch)
    result = CliRunner().invoke(main, ["gallery", str(run_folder), "--open"])
    assert result.exit_code == 0, result.output
    assert launched == [str((run_folder / "gallery.html").resolve())]


@pytest.mark.slow
def test_cli_gallery_interrupted_stops_at_once_and_leaves_no_half_file(tmp_path: Path) -> None:
    """Ctrl-C during the thumbnails: exit 130 within a moment (the queued images are dropped), no
    temporary file left, no page; the next build keeps the thumbnails already made."""  # noqa: D205, D209
    run_folder = tmp_path / "run"
    source = tmp_path / "noise.png"
    Image.effect_noise((1024, 1024), 80).convert("RGB").save(source)
    images = []
    for number in range(400):
        images.append(run_folder / f"{number:03d}.png")
        run_folder.mkdir(exist_ok=True)
        os.link(source, images[-1])
    _bulk_run(run_folder, [({"prompt": f"p{i}"}, "saved", [image]) for i, image in enumerate(images)])
    process = subprocess.Popen(
        [EXE, "gallery", str(run_folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    thumbs = run_folder / THUMB_FOLDER
    deadline = time.monotonic() + 60
    while not (thumbs.is_dir() and any(thumbs.glob("*.webp"))) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the build ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert time.monotonic() - started < 5
    assert not list(thumbs.glob(".oai-images-*.part"))
    assert not (run_folder / "gallery.html").exists()
    made = len(list(thumbs.glob("*.webp")))
    assert 0 < made < len(images)
    again = run("gallery", str(run_folder))
    assert again.returncode == 0, again.stderr
    assert f"{made} cached" in again.stderr


@pytest.mark.slow
def test_cli_gallery_of_the_history(tmp_path: Path, history_home: Path) -> None:
    """`oai-images gallery` after two real `generate` runs: the history's page, newest first, in the
    history's folder; a deleted image gets a card that says it is gone."""  # noqa: D205, D209
    for prompt in ("a quiet harbour", "a loud parade"):
        made = run("generate", prompt, "-m", "gpt-image-1.5", "--emulator", "--out", str(tmp_path / "images"))
        assert made.returncode == 0, made.stderr
    first_image = next((tmp_path / "images").glob("*a-quiet-harbour*"))
    first_image.unlink()
    done = run("gallery", "--limit", "5")
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip())
    assert page == (history_home / "gallery.html").resolve()
    text = page.read_text()
    assert text.index("a loud parade") < text.index("a quiet harbour")
    assert "the file is gone" in text
    assert text.count("<img ") == 1
