"""App latency: from pressing Enter to thumbnails, on the demo index, with and without the local LLM.

``python -m bench.app [--browser] [--rounds N]`` ingests the demo footage into ``SIGHTLINE_DATA_DIR``
if needed, then times the callback path the page runs for a message (``ChatApp.echo`` then
``ChatApp.respond``: parse with the current filter, search, reply, gallery) for every development
query and every dialogue turn (turns in order, each on the session the previous one left), with the
clock fixed at the cases' ``now``, signed in (every search is scoped and written to a temporary audit
log, as in the app). The first message of a process also pays for loading the models and
is reported apart. ``--browser`` also times three requests (seed, place-only, English; 4 times each)
in chromium, one page of a fresh ``python app.py``: Enter pressed → the first thumbnails of the answer
loaded (the first 8, two rows). Prints Markdown for bench/RESULTS.md ("App").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import app
from assistant.audit import AuditLog
from assistant.config import Settings, get_settings
from assistant.evaluate import percentile
from assistant.llm import LocalLLM
from assistant.registry import load_registry
from assistant.users import UserStore

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
ROOT = Path(__file__).resolve().parents[1]
CASE = "BENCH-0001"
THUMBNAILS_SHOWN = """() => {
  const images = [...document.querySelectorAll('#results img')].slice(0, 8);
  return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);
}"""  # the first two rows: what the officer sees without scrolling (the rest load lazily)


def messages() -> list[tuple[str, list[str]]]:
    """(now, messages of one conversation): each dev query alone, each dialogue as its turns."""
    cases = []
    for line in (SHARED_EVAL / "queries_dev.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        cases.append((case["now"], [case["query"]]))
    for line in (SHARED_EVAL / "dialogues_dev.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        cases.append((case["now"], [turn["user"] for turn in case["turns"]]))
    return cases


def time_callbacks(settings: Settings, rounds: int) -> tuple[float, list[float], int, list[float]]:
    """(first message s, later messages s, answers with hits, seconds of each LLM generation)."""
    registry = load_registry(settings.registry_path)
    clock = {"now": datetime.now(settings.tz)}
    chat = app.ChatApp(app.Services(settings, registry, clock=lambda: clock["now"]))
    accounts = tempfile.mkdtemp(prefix="bench-app-")
    chat.services.users = UserStore(Path(accounts) / "users.db")
    chat.services.audit = AuditLog(Path(accounts) / "audit.jsonl")  # every search is audited, as in the app
    officer = chat.services.users.add("bench", secrets.token_urlsafe(16), "supervisor", ["*"], registry)
    timings: list[float] = []
    with_hits = 0
    generations: list[float] = []
    complete_json = LocalLLM.complete_json

    def timed(self: LocalLLM, *args: Any, **kwargs: Any) -> dict:
        start = time.perf_counter()
        try:
            return complete_json(self, *args, **kwargs)
        finally:
            generations.append(time.perf_counter() - start)

    LocalLLM.complete_json = timed  # type: ignore[method-assign]  # count what the parser really asks
    for _ in range(rounds):
        for now, conversation in messages():
            clock["now"] = datetime.fromisoformat(now)
            session = app.Session(lang="zh", user=officer, case_number=CASE)
            for message in conversation:
                start = time.perf_counter()
                chat.echo(message, session)
                outputs = chat.respond(message, session)
                timings.append(time.perf_counter() - start)
                session = outputs[0]
                with_hits += bool(outputs[2])
    LocalLLM.complete_json = complete_json  # type: ignore[method-assign]
    return timings[0], timings[1:], with_hits, generations


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_browser(use_llm: bool, cases: list[str], now: str) -> list[float]:
    """Seconds from Enter to the first thumbnails of the answer loaded, in one page (messages in turn)."""
    from playwright.sync_api import expect, sync_playwright

    port = _free_port()
    accounts = Path(tempfile.mkdtemp(prefix="bench-app-"))
    env = {
        **os.environ,
        "SIGHTLINE_USE_LLM": str(use_llm).lower(),
        "SIGHTLINE_USERS_PATH": str(accounts / "users.db"),
        "SIGHTLINE_AUDIT_PATH": str(accounts / "audit.jsonl"),
    }
    command = [sys.executable, "app.py", "--demo", "--port", str(port), "--now", now]
    log = (accounts / "app.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    timings = []
    busy = app.say("en", "busy")
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, server)
        announced = re.search(r"one-time password (\S+)", (accounts / "app.log").read_text())
        if announced is None:
            raise SystemExit(f"the app announced no demo password; see {accounts / 'app.log'}")
        password = announced.group(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            page = browser.new_page()
            page.goto(url)
            box = page.locator("#request textarea")
            rows = page.locator("#chat .message-row")
            expect(box).to_be_visible(timeout=60_000)
            page.locator("#username :is(input, textarea)").fill("demo")
            page.locator("#password :is(input, textarea)").fill(password)
            page.locator("#case-number :is(input, textarea)").fill(CASE)
            page.locator("#login").click()
            expect(page.locator("#signed-in")).to_contain_text(CASE, timeout=30_000)
            for message in cases:
                count = rows.count()
                page.locator("#new-search").click()  # each request on its own, from an empty filter
                expect(rows).to_have_count(count + 1, timeout=30_000)
                expect(page.locator("#results img")).to_have_count(0, timeout=30_000)
                before = rows.count()
                box.fill(message)
                start = time.perf_counter()
                box.press("Enter")
                expect(rows).to_have_count(before + 2, timeout=10_000)
                expect(rows.last).not_to_contain_text(busy, timeout=180_000)
                page.wait_for_function(THUMBNAILS_SHOWN, timeout=60_000)
                timings.append(time.perf_counter() - start)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    return timings


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(240):
        if server.poll() is not None:
            raise SystemExit(f"app exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"app at {url} did not start")


def _row(label: str, first: float, later: list[float], with_hits: str, generations: str) -> str:
    return (
        f"| {label} | {first:.2f} s | {len(later)} | {statistics.median(later) * 1000:.0f} ms "
        f"| {percentile(later, 95) * 1000:.0f} ms | {max(later) * 1000:.0f} ms | {with_hits} | {generations} |"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="passes over the messages (default 1)")
    parser.add_argument("--browser", action="store_true", help="also time Enter → thumbnail in chromium")
    args = parser.parse_args(argv)
    settings = get_settings()
    app.ingest_demo(settings)
    print("| path | first message | later messages | p50 | p95 | max | answers with thumbnails | LLM generations |")
    print("|---|---|---|---|---|---|---|---|")
    runs: list[tuple[str, Callable[[], Settings]]] = [
        ("callbacks, rules + LLM", lambda: settings.model_copy(update={"use_llm": True})),
        ("callbacks, rules only", lambda: settings.model_copy(update={"use_llm": False})),
    ]
    for label, make in runs:
        first, later, with_hits, generations = time_callbacks(make(), args.rounds)
        total = len(later) + 1
        asked = f"{len(generations)} ({sum(generations):.2f} s)" if make().use_llm else "—"
        print(_row(label, first, later, f"{with_hits} of {total}", asked), flush=True)
    if args.browser:
        seed = "寻找一位9月7号上午出现在地铁3号出口的穿白色上衣、佩戴眼镜和口罩的中长发女士"
        exit3 = "9月7号上午地铁3号出口的人"
        english = "man at metro exit 3 on the morning of September 7"
        for use_llm in (True, False):
            timings = time_browser(use_llm, [seed, exit3, english] * 4, "2021-09-08T10:30:00+08:00")
            label = f"chromium, Enter → thumbnails loaded, {'rules + LLM' if use_llm else 'rules only'}"
            print(_row(label, timings[0], timings[1:], "all", "—"), flush=True)


if __name__ == "__main__":
    main()
