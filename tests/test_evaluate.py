"""The evaluation CLI and its scoring, as in query-schema.md "Scoring"."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from assistant.evaluate import (
    Outcome,
    attribute_errors,
    cameras_f1,
    main,
    micro_f1,
    percentile,
    score_case,
    summarize_outcomes,
    time_exact,
    time_iou,
)
from assistant.filters import Filter, TimeWindow

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT.parent / "shared" / "eval"
REPORT_KEYS = {
    "n",
    "exact_match",
    "time_exact",
    "time_iou",
    "cameras_exact",
    "cameras_f1",
    "attributes_f1",
    "per_slot",
    "per_lang",
    "dialogue_turn_exact",
    "latency_ms_p50",
    "latency_ms_p95",
    "failures",
}


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


def make(attributes: dict | None = None, cameras: list[str] | None = None, time: TimeWindow | None = None) -> Filter:
    return Filter.from_data({"attributes": attributes or {}, "cameras": cameras or [], "time": time})


MORNING = window("2021-09-07T06:00:00+08:00", "2021-09-07T12:00:00+08:00")


# ---- time: exact match of both ends (as instants), and IoU ----


def test_time_exact_compares_instants_not_offsets() -> None:
    same_in_utc = window("2021-09-06T22:00:00+00:00", "2021-09-07T04:00:00+00:00")
    assert time_exact(MORNING, same_in_utc)


def test_time_exact_needs_both_ends() -> None:
    later_end = window("2021-09-07T06:00:00+08:00", "2021-09-07T12:00:01+08:00")
    assert not time_exact(MORNING, later_end)


def test_time_missing_on_both_sides_matches_missing_on_one_does_not() -> None:
    assert time_exact(None, None) and time_iou(None, None) == 1.0
    assert not time_exact(MORNING, None) and time_iou(MORNING, None) == 0.0
    assert not time_exact(None, MORNING) and time_iou(None, MORNING) == 0.0


def test_time_iou_of_overlapping_windows() -> None:
    overlapping = window("2021-09-07T09:00:00+08:00", "2021-09-07T15:00:00+08:00")
    assert time_iou(MORNING, overlapping) == pytest.approx(3 / 9)


def test_time_iou_of_disjoint_windows_is_zero() -> None:
    afternoon = window("2021-09-07T12:00:00+08:00", "2021-09-07T18:00:00+08:00")
    assert time_iou(MORNING, afternoon) == 0.0


# ---- cameras: exact set, and set F1 ----


def test_cameras_f1_partial_overlap() -> None:
    assert cameras_f1(["M3-GK-E3", "M3-ZX-E3"], ["M3-ZX-E3"]) == pytest.approx(2 / 3)


def test_cameras_f1_no_constraint_on_both_sides_is_perfect() -> None:
    assert cameras_f1([], []) == 1.0
    assert cameras_f1([], ["NS-GATE-E"]) == 0.0


def test_camera_set_order_does_not_matter() -> None:
    assert score_case(make(cameras=["A", "B"]), make(cameras=["B", "A"])).cameras_exact


# ---- attributes: every key exact; a key absent in gold must be absent in the output ----


def test_hallucinated_attribute_is_an_error() -> None:
    gold = make({"gender": "male"})
    produced = make({"gender": "male", "hat": True})
    score = score_case(gold, produced)
    assert attribute_errors(gold, produced) == ["hat"]
    assert not score.exact
    assert (score.attribute_tp, score.attribute_fp, score.attribute_fn) == (1, 1, 0)


def test_missing_attribute_is_an_error() -> None:
    score = score_case(make({"gender": "male", "mask": False}), make({"gender": "male"}))
    assert score.attribute_errors == ("mask",)
    assert score.attribute_fn == 1


def test_wrong_flag_polarity_is_an_error() -> None:
    assert attribute_errors(make({"mask": False}), make({"mask": True})) == ["mask"]


def test_colour_lists_compare_as_sets() -> None:
    gold = make({"upper_color": ["white", "black"]})
    assert attribute_errors(gold, make({"upper_color": ["black", "white"]})) == []
    assert attribute_errors(gold, make({"upper_color": ["white"]})) == ["upper_color"]


def test_exact_match_needs_time_cameras_and_attributes() -> None:
    gold = make({"gender": "female"}, ["NS-GATE-E"], MORNING)
    assert score_case(gold, make({"gender": "female"}, ["NS-GATE-E"], MORNING)).exact
    assert not score_case(gold, make({"gender": "female"}, ["NS-GATE-E"], None)).exact
    assert not score_case(gold, make({"gender": "female"}, [], MORNING)).exact


def test_micro_f1_from_counts() -> None:
    assert micro_f1(3, 1, 1) == pytest.approx(6 / 8)
    assert micro_f1(0, 0, 0) == 1.0


def test_percentile_interpolates() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
    assert percentile([5.0], 95) == 5.0


def test_report_aggregates_per_language_and_lists_failures() -> None:
    gold = make({"gender": "male"}, ["NS-GATE-E"], MORNING)
    outcomes = [
        Outcome("a", "en", "man at the east gate", gold, gold, 10.0),
        Outcome("b", "zh", "东门的男子", gold, make({"gender": "female"}, ["NS-GATE-E"], MORNING), 30.0),
        Outcome("c", "zh", "东门的男子", gold, None, 20.0, error="ValueError: boom"),
    ]
    report = summarize_outcomes(outcomes, None)
    assert set(report) == REPORT_KEYS
    assert report["n"] == 3
    assert report["exact_match"] == pytest.approx(1 / 3)
    assert report["per_lang"] == {"en": 1.0, "zh": 0.0}
    assert report["per_slot"]["gender"] == pytest.approx(1 / 3)
    assert report["per_slot"]["time"] == pytest.approx(2 / 3)
    assert report["dialogue_turn_exact"] is None
    assert report["latency_ms_p50"] == pytest.approx(20.0)
    assert [f["id"] for f in report["failures"]] == ["b", "c"]
    assert report["failures"][0]["wrong"] == ["gender"]
    assert report["failures"][1]["wrong"] == ["parse error"]


# ---- the command line ----


def _write_queries(path: Path) -> None:
    good = {
        "id": "q1",
        "lang": "en",
        "now": "2021-09-08T10:30:00+08:00",
        "query": "man at the east gate",
        "expected": {"time": None, "cameras": ["NS-GATE-E"], "attributes": {"gender": "male"}},
    }
    other = {
        **good,
        "id": "q2",
        "lang": "zh",
        "query": "东门的女子",
        "expected": {"time": None, "cameras": ["NS-GATE-E"], "attributes": {"gender": "female"}},
    }
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps(other, ensure_ascii=False) + "\n", "utf-8")


def test_cli_skips_a_malformed_line_with_its_number_and_writes_json(tmp_path: Path, capsys) -> None:
    queries = tmp_path / "q.jsonl"
    _write_queries(queries)
    out = tmp_path / "report.json"

    def always_male(message: str, current: Filter | None, now: datetime) -> Filter:
        return make({"gender": "male"}, ["NS-GATE-E"])

    code = main(["--queries", str(queries), "--json", str(out)], parse=always_male)
    captured = capsys.readouterr()
    assert code == 0
    assert f"{queries}:2:" in captured.err
    report = json.loads(out.read_text("utf-8"))
    assert set(report) == REPORT_KEYS
    assert report["n"] == 2
    assert report["exact_match"] == 0.5
    assert "q2" in captured.out and "gender" in captured.out


def test_cli_missing_file_exits_2_with_a_clear_message(tmp_path: Path, capsys) -> None:
    code = main(["--queries", str(tmp_path / "nope.jsonl"), "--no-llm"])
    assert code == 2
    assert "nope.jsonl does not exist" in capsys.readouterr().err


def test_cli_runs_the_real_parser_on_dev_data(tmp_path: Path) -> None:
    out = tmp_path / "dev.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.evaluate",
            "--queries",
            str(EVAL_DIR / "queries_dev.jsonl"),
            "--dialogues",
            str(EVAL_DIR / "dialogues_dev.jsonl"),
            "--registry",
            str(EVAL_DIR / "cameras.json"),
            "--no-llm",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text("utf-8"))
    dev_cases = sum(1 for line in (EVAL_DIR / "queries_dev.jsonl").read_text("utf-8").splitlines() if line.strip())
    assert report["n"] == dev_cases
    assert report["dialogue_turn_exact"] is not None
    assert 0.0 <= report["exact_match"] <= 1.0
    assert "exact match" in result.stdout
