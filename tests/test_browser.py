"""The chat app in a real browser: Debian's chromium driven by Playwright against ``python app.py --demo``.

The app runs as a subprocess on a free 127.0.0.1 port with a temporary data directory; ``--demo``
ingests the demo footage (vtest.avi as several cameras) before serving, and ``--now`` fixes the
clock to the morning after the footage. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

import app

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output"
SEED_ZH = "寻找一位9月7号上午出现在地铁3号出口的穿白色上衣、佩戴眼镜和口罩的中长发女士"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_S = 600  # demo ingest + app start on 2 busy cores
ANSWER_MS = 120_000
CASE = "2021-QD-000123"
BUSY = tuple(app.say(lang, "busy") for lang in app.LANGUAGES)

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The app's URL, the demo officer's one-time password (printed once at start) and the data dir."""
    data = tmp_path_factory.mktemp("data")
    port = _free_port()
    env = {**os.environ, "SIGHTLINE_DATA_DIR": str(data), "SIGHTLINE_USE_LLM": "false", "PYTHONUNBUFFERED": "1"}
    log_path = data / "app.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "app.py", "--demo", "--port", str(port)],  # the demo clock: 2021-09-08 10:30
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert server.poll() is None, f"app exited with {server.returncode}:\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"app not up after {STARTUP_S} s:\n{log_path.read_text()}"
            time.sleep(1)
        announced = re.search(r"user name 'demo', one-time password (\S+)", log_path.read_text())
        assert announced, f"no demo password announced:\n{log_path.read_text()}"
        yield url, announced.group(1), data
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def page(app_url: tuple[str, str, Path]) -> Iterator[Page]:
    url, password, _ = app_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
        page = context.new_page()
        page.goto(url)
        expect(page.locator("#request textarea")).to_be_visible(timeout=60_000)
        page.locator("#username :is(input, textarea)").fill("demo")
        page.locator("#password :is(input, textarea)").fill(password)
        page.locator("#case-number :is(input, textarea)").fill(CASE)
        page.locator("#login").click()
        expect(page.locator("#signed-in")).to_contain_text(CASE, timeout=30_000)
        expect(page.locator("#login")).to_be_hidden()
        yield page
        browser.close()


def _send(page: Page, message: str) -> None:
    """Type a message, press Enter, and wait until the busy line has become the answer."""
    rows = page.locator("#chat .message-row")
    before = rows.count()
    box = page.locator("#request textarea")
    box.fill(message)
    box.press("Enter")
    expect(rows).to_have_count(before + 2, timeout=10_000)  # the message and the busy line
    for busy in BUSY:
        expect(rows.last).not_to_contain_text(busy, timeout=ANSWER_MS)


def _thumbnail_widths(page: Page) -> list[int]:
    return page.eval_on_selector_all("#results img", "images => images.map(i => i.naturalWidth)")


def test_chinese_request_shows_thumbnails_and_filter_then_a_follow_up_edits_it(page: Page) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.locator("#language label", has_text="中文").click()
    expect(page.locator("#send")).to_have_text("发送")

    _send(page, SEED_ZH)
    expect(page.locator("#results img").first).to_be_visible(timeout=ANSWER_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert _thumbnail_widths(page) and min(_thumbnail_widths(page)) > 8  # real crops, not broken images
    summary = page.locator("#filter-summary")
    for words in ("女性", "白色上衣", "戴眼镜", "戴口罩", "2个摄像头", "9月7日 06:00–12:00"):
        expect(summary).to_contain_text(words)
    expect(page.locator("#time-start input")).to_have_value("2021-09-07 06:00:00")
    expect(page.locator("#time-end input")).to_have_value("2021-09-07 12:00:00")
    expect(page.locator("#cameras")).to_contain_text("港口路站3号出口")
    expect(page.locator("#cameras")).to_contain_text("中心站3号出口")
    expect(page.locator("#attr-mask input")).to_have_value("戴口罩")
    expect(page.locator("#chat")).to_contain_text("找到")
    page.locator("#results img").first.click()
    expect(page.locator("#detail img")).to_be_visible(timeout=30_000)
    expect(page.locator("#detail-text")).to_contain_text("vtest.avi")
    page.screenshot(path=str(OUTPUT / "app-seed.png"), full_page=True)
    page.locator("#mark").click()
    expect(page.locator("#export-status")).to_contain_text("已加入报告")
    page.locator("#export").click()
    expect(page.locator("#export-file")).to_contain_text("sightline-report-", timeout=30_000)

    _send(page, "只看没戴口罩的")
    expect(page.locator("#attr-mask input")).to_have_value("没戴口罩", timeout=ANSWER_MS)
    expect(summary).to_contain_text("没戴口罩")
    expect(summary).to_contain_text("9月7日 06:00–12:00")
    page.screenshot(path=str(OUTPUT / "app-follow-up.png"), full_page=True)

    _send(page, "只看中心站")
    expect(page.locator("#cameras")).not_to_contain_text("港口路站3号出口", timeout=ANSWER_MS)
    expect(page.locator("#cameras")).to_contain_text("中心站3号出口")

    page.reload()  # the language choice is remembered by this browser; the session (login) is not
    expect(page.locator("#send")).to_have_text("发送", timeout=30_000)
    expect(page.locator("#login")).to_be_visible()


def test_garbage_and_empty_messages_get_a_reply_and_the_page_stays_usable(page: Page) -> None:
    _send(page, "asdf qwer zxcv")
    expect(page.locator("#chat")).to_contain_text("could not find a person, place or time")
    page.locator("#send").click()
    expect(page.locator("#chat .message-row").last).to_contain_text(
        "Please type (or say) what you are looking for", timeout=ANSWER_MS
    )
    _send(page, "woman in a white top at metro exit 3 on the morning of September 7")
    expect(page.locator("#filter-summary")).to_contain_text("Sep 7 06:00–12:00")
    page.locator("#sign-out").click()
    expect(page.locator("#login")).to_be_visible(timeout=30_000)
    expect(page.locator("#results img")).to_have_count(0)


@pytest.mark.model
def test_an_uploaded_voice_request_lands_in_the_text_box_for_checking(page: Page, tmp_path: Path) -> None:
    wav = tmp_path / "request.wav"
    spoken = "man in a red jacket at Nanshan north gate"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "140", "-w", str(wav), spoken], check=True)
    page.locator("#voice button[aria-label='Upload file']").click()  # the microphone is the default source
    page.locator("#voice input[type=file]").set_input_files(str(wav))
    expect(page.locator("#voice-status")).to_contain_text("Heard", timeout=ANSWER_MS)
    typed = page.locator("#request textarea").input_value().lower()
    assert "red jacket" in typed  # Whisper base may mishear the place name: the officer corrects it
    expect(page.locator("#chat .message-row")).to_have_count(0)  # not sent: the officer checks it first


@pytest.mark.parametrize("pattern", ["users.db", "thumbnails/**/*.jpg"])
def test_the_data_directory_is_never_served(app_url: tuple[str, str, Path], pattern: str) -> None:
    url, _, data = app_url
    stored = next(data.glob(pattern))  # password hashes, footage crops: only signed-in sessions see crops
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}gradio_api/file={stored}", timeout=10)
    assert refused.value.code == 403
