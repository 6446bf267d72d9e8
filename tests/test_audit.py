"""The audit log: chained entries, tamper detection that says where, concurrent writers."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant import audit
from assistant.audit import GENESIS, AuditError, AuditLog, canonical_json, entry_hash
from assistant.filters import Filter

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def write_log(path: Path, n: int = 10) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append(
            "search",
            user="alice" if i % 2 else "bob",
            case=f"CASE-{i % 3}",
            request=f"request {i}",
            search_filter={"cameras": ["NS-GATE-E"]},
            result_ids=[f"r{i}a", f"r{i}b"],
            now=T0 + timedelta(minutes=i),
        )
    return log


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return write_log(tmp_path / "audit.jsonl")


# ---- entries and the chain ----


def test_entries_are_chained_and_canonical(log: AuditLog) -> None:
    lines = log.path.read_text("utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(1, 11))
    assert entries[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    for line, entry in zip(lines, entries, strict=True):
        assert entry["hash"] == entry_hash(entry)
        assert line == canonical_json(entry)
    assert json.loads(log.anchor_path.read_text("utf-8")) == {"count": 10, "hash": entries[-1]["hash"]}


def test_entry_records_who_what_why_and_results(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    search = Filter.from_data({"cameras": ["NS-GATE-E"], "attributes": {"mask": False}})
    entry = log.append(
        "search",
        user="alice",
        case="2021-QD-1",
        request="没戴口罩的人",
        search_filter=search,
        result_ids=["c1", "c2"],
        notes=["not searched: HOSP-ER, outside your scope"],
        now=T0,
    )
    assert entry["time"] == "2026-11-25T08:00:00.000+00:00"
    assert (entry["user"], entry["case"], entry["action"], entry["request"]) == (
        "alice",
        "2021-QD-1",
        "search",
        "没戴口罩的人",
    )
    assert entry["filter"] == search.to_dict()
    assert (entry["result_ids"], entry["count"]) == (["c1", "c2"], 2)
    assert "没戴口罩的人" in log.path.read_text("utf-8")
    assert log.verify().ok


@pytest.mark.parametrize("action", ["search", "find_similar", "export", "filter_edit"])
def test_search_actions_need_a_case(tmp_path: Path, action: str) -> None:
    with pytest.raises(AuditError, match="case"):
        AuditLog(tmp_path / "a.jsonl").append(action, user="alice")


def test_unknown_action_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="unknown audit action"):
        AuditLog(tmp_path / "a.jsonl").append("delete_everything", user="alice")


def test_an_incomplete_last_line_stops_further_writes(log: AuditLog) -> None:
    with log.path.open("ab") as handle:
        handle.write(b'{"seq":11,"time"')
    with pytest.raises(AuditError, match="incomplete line"):
        log.append("login", user="alice")
    assert any(p.line == 11 for p in log.verify().problems)


# ---- tampering: each is detected, and the report says where ----


def tampered(log: AuditLog, tmp_path: Path, change: Callable[[list[str]], list[str]]) -> AuditLog:
    """A copy of ``log`` (with its anchor) whose lines went through ``change``."""
    copy = AuditLog(tmp_path / "copy" / "audit.jsonl")
    copy.path.parent.mkdir()
    shutil.copy(log.anchor_path, copy.anchor_path)
    lines = log.path.read_text("utf-8").splitlines()
    copy.path.write_text("".join(line + "\n" for line in change(lines)), "utf-8")
    return copy


def edit_field(lines: list[str]) -> list[str]:
    entry = json.loads(lines[4])
    entry["user"] = "someone-else"
    return [*lines[:4], canonical_json(entry), *lines[5:]]


def reformat_line(lines: list[str]) -> list[str]:
    return [*lines[:4], json.dumps(json.loads(lines[4]), indent=1).replace("\n", " "), *lines[5:]]


def delete_middle(lines: list[str]) -> list[str]:
    return lines[:4] + lines[5:]


def swap(lines: list[str]) -> list[str]:
    return [*lines[:3], lines[4], lines[3], *lines[5:]]


def truncate_last(lines: list[str]) -> list[str]:
    return lines[:-1]


def insert_forged(lines: list[str]) -> list[str]:
    """A forger who knows the format: correct seq, prev and hash for position 4."""
    previous = json.loads(lines[2])
    forged = {**json.loads(lines[3]), "seq": 4, "user": "ghost", "prev": previous["hash"]}
    forged["hash"] = entry_hash(forged)
    return [*lines[:3], canonical_json(forged), *lines[3:]]


def append_forged(lines: list[str]) -> list[str]:
    last = json.loads(lines[-1])
    forged = {**last, "seq": last["seq"] + 1, "prev": last["hash"], "request": "forged"}
    forged["hash"] = entry_hash(forged)
    return [*lines, canonical_json(forged)]


def replace_last(lines: list[str]) -> list[str]:
    previous, last = json.loads(lines[-2]), json.loads(lines[-1])
    forged = {**last, "result_ids": [], "count": 0, "prev": previous["hash"]}
    forged["hash"] = entry_hash(forged)
    return [*lines[:-1], canonical_json(forged)]


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (edit_field, 5, "edited"),
        (reformat_line, 5, "canonical"),
        (delete_middle, 5, "entry 5 is missing"),
        (swap, 4, "seq 5 follows seq 3"),
        (truncate_last, 10, "truncated"),
        (insert_forged, 5, "seq 4 follows seq 4"),
        (append_forged, 11, "appended outside"),
        (replace_last, 10, "last line was replaced"),
    ],
)
def test_tampering_is_detected_where_it_happened(
    log: AuditLog, tmp_path: Path, change: Callable[[list[str]], list[str]], line: int, words: str
) -> None:
    result = tampered(log, tmp_path, change).verify()
    assert not result.ok
    first = result.problems[0]
    assert first.line == line
    assert words in first.message


def test_untouched_copy_verifies(log: AuditLog, tmp_path: Path) -> None:
    result = tampered(log, tmp_path, lambda lines: lines).verify()
    assert result.ok
    assert (result.entries, result.head) == (10, json.loads(log.path.read_text().splitlines()[-1])["hash"])


def test_missing_anchor_is_reported(log: AuditLog) -> None:
    log.anchor_path.unlink()
    assert "anchor file is missing" in str(log.verify().problems[0])


# ---- CLI ----


def test_cli_verify_exit_status_and_location(log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit.main(["verify", "--file", str(log.path)]) == 0
    assert "OK: 10 entries" in capsys.readouterr().out
    bad = tampered(log, tmp_path, delete_middle)
    assert audit.main(["verify", "--file", str(bad.path)]) == 1
    out = capsys.readouterr().out
    assert "line 5:" in out and "FAILED" in out


def test_cli_show_filters_by_user_case_and_since(log: AuditLog, capsys: pytest.CaptureFixture[str]) -> None:
    audit.main(["show", "--file", str(log.path), "--user", "alice", "--case", "CASE-1"])
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    # alice: odd i; CASE-1: i % 3 == 1 → i in {1, 7}
    assert [line.split()[0] for line in shown] == ["#2", "#8"]
    audit.main(["show", "--file", str(log.path), "--since", "2026-11-25T08:08:00+00:00"])
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert [line.split()[0] for line in shown] == ["#9", "#10"]


# ---- concurrency ----


def _append_many(path: Path, worker: int, count: int) -> None:
    log = AuditLog(path)
    for index in range(count):
        log.append("search", user=f"w{worker}", case="CASE-1", request=f"{worker}/{index}", result_ids=[str(index)])


def test_concurrent_writers_never_break_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(path, w, 250)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    result = AuditLog(path).verify()
    assert result.ok, [str(p) for p in result.problems]
    assert result.entries == 1000
    requests = sorted(e["request"] for e in AuditLog(path).entries())
    assert requests == sorted(f"{w}/{i}" for w in range(4) for i in range(250))
