"""The gallery in a real browser: Debian's Chromium, driven by Playwright, opens the page of a real bulk run.

Playwright's own browser download is never used (`executable_path` is the system's Chromium). Without
Chromium the test is skipped on a developer's machine but fails on CI (``CI`` set), where `.ci/run`
installs it: a browser test that silently skips would prove nothing.

The screenshot is kept beside the test's files; with ``OAI_IMAGES_GALLERY_SCREENSHOT=PATH`` it is also
copied there (``docs/gallery.png`` in the README is made so).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from oai_images_emulator import EmulatorServer, parse_fault
from tests.test_cli import SECRET, run

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_ENV = "OAI_IMAGES_GALLERY_SCREENSHOT"
SCRIPT_PROMPT = "<script>window.__pwned = 1</script> a fox that tries to run code"
ATTRIBUTE_PROMPT = '"><img src=x onerror="window.__pwned = 2"> a heron in the reeds'
LINES = [
    {"prompt": "a lighthouse at dusk, oil painting", "model": "gpt-image-1.5", "size": "1536x1024"},
    {"prompt": SCRIPT_PROMPT, "model": "gpt-image-1", "size": "1024x1024", "quality": "low"},
    {"prompt": "a cute baby sea otter", "model": "gpt-image-1", "size": "1024x1024", "quality": "high"},
    {"prompt": ATTRIBUTE_PROMPT, "model": "dall-e-3", "size": "1024x1792", "quality": "hd"},
    {"prompt": "a bowl of ramen, watercolour", "model": "gpt-image-1.5", "size": "1024x1024"},
    {"prompt": "a red fox in the snow", "model": "dall-e-2", "size": "512x512"},
]


def _browser_or_skip() -> None:
    """Skip without Chromium or Playwright, except on CI, where that is a failure."""
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)


def _bulk_run_with_a_failed_line(tmp_path: Path, server: EmulatorServer) -> Path:
    """A real `oai-images batch` run against the emulator whose first line fails; its output folder."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    out = tmp_path / "run"
    # One request in flight at a time and no retries: the first answer (line 1's) is a 500, the rest images.
    server.state.config.fault = parse_fault("server_error;times=1")
    done = run(
        "batch",
        str(requests),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--concurrency",
        "1",
        "--max-retries",
        "0",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert done.returncode == 1, done.stderr  # one line failed
    return out


def _check_thumbnails(view: Page) -> None:
    """Every thumbnail (lazily loaded: each is scrolled to) decodes in the browser."""
    thumbs = view.locator("article.card img")
    assert thumbs.count() == len(LINES) - 1
    for index in range(thumbs.count()):
        thumbs.nth(index).scroll_into_view_if_needed()
    view.wait_for_function("Array.from(document.images).every((img) => img.complete)", timeout=15_000)
    widths = view.evaluate("Array.from(document.images).map((img) => img.naturalWidth)")
    assert len(widths) == len(LINES) - 1
    assert all(width > 0 for width in widths), widths
    view.evaluate("window.scrollTo(0, 0)")


def _check_filters(view: Page) -> None:
    """Typing in the search box filters the cards; so do the model and state filters."""
    view.fill("#q", "otter")
    visible = view.locator("article.card:visible")
    assert visible.count() == 1
    assert "sea otter" in visible.inner_text()
    assert "showing 1 of 6" in view.inner_text("#shown")
    view.fill("#q", "FOX")
    assert view.locator("article.card:visible").count() == 2
    view.fill("#q", "")
    assert view.locator("article.card:visible").count() == len(LINES)
    view.select_option("#model", "gpt-image-1.5")
    assert view.locator("article.card:visible").count() == 2
    view.select_option("#model", "")
    view.select_option("#state", "failed")
    assert view.locator("article.card:visible").count() == 1
    view.select_option("#state", "")
    # The date filters, bounded by the run's first and last day.
    first, last = view.get_attribute("#from", "min"), view.get_attribute("#to", "max")
    assert first
    assert last
    view.fill("#from", "2999-01-01")
    assert view.locator("article.card:visible").count() == 0
    view.fill("#from", first)
    view.fill("#to", last)
    assert view.locator("article.card:visible").count() == len(LINES)


def _check_full_image_link(view: Page) -> None:
    """The first card's "full image" link opens an image that decodes."""
    link = view.locator("article.card.saved a", has_text="full image").first
    href = link.get_attribute("href")
    assert href
    assert href.startswith("./")
    view.goto(view.evaluate("(href) => new URL(href, document.baseURI).href", href))
    assert view.evaluate("document.images.length === 1 && document.images[0].naturalWidth > 0")


def _screenshot(view: Page, tmp_path: Path) -> None:
    shot = tmp_path / "gallery.png"
    view.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_ENV):
        target = Path(os.environ[SCREENSHOT_ENV])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


@pytest.mark.slow
def test_gallery_of_a_bulk_run_in_chromium(tmp_path: Path, server: EmulatorServer) -> None:
    """Every thumbnail decodes, the search box filters the cards, hostile prompts show as text, not code."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    out = _bulk_run_with_a_failed_line(tmp_path, server)
    built = run("gallery", str(out))
    assert built.returncode == 0, built.stderr
    page = Path(built.stdout.strip())
    assert page == (out / "gallery.html").resolve()
    assert SECRET not in page.read_text()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            view = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            view.on("pageerror", lambda error: errors.append(str(error)))
            view.goto(page.as_uri())
            assert view.locator("article.card").count() == len(LINES)
            _check_thumbnails(view)
            # The hostile prompts are text on the page, and nothing they hold ran.
            assert view.evaluate("window.__pwned") is None
            assert view.get_by_text(SCRIPT_PROMPT, exact=True).count() == 1
            assert view.get_by_text(ATTRIBUTE_PROMPT, exact=True).count() == 1
            # The failed line is a card with its error.
            failed = view.locator("article.card.failed")
            assert failed.count() == 1
            assert "lighthouse" in failed.inner_text()
            assert "500" in failed.inner_text()
            _screenshot(view, tmp_path)
            _check_filters(view)
            assert errors == []
            _check_full_image_link(view)
        finally:
            browser.close()


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), (None, pytest.skip.Exception)])
def test_a_missing_browser_fails_on_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    """Without Chromium the browser test fails when CI is set (it must not pass by skipping), else skips."""
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium"):
        _browser_or_skip()
