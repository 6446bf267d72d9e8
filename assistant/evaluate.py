"""Evaluate the request parser against gold filters (``query-schema.md``, "Scoring").

``python -m assistant.evaluate --queries FILE.jsonl [--dialogues FILE.jsonl]
[--registry cameras.json] [--no-llm] [--json OUT.json]``

Queries are JSON lines ``{id, lang, now, query, expected}``; dialogues are
``{id, now, turns: [{user, expected}]}`` and are scored on the filter after
each turn, each turn editing the filter the parser produced for the turn
before. The scoring functions are pure and work on :class:`Filter` values.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from assistant.filters import ATTRIBUTE_KEYS, Filter, FilterError, TimeWindow
from assistant.registry import Registry, RegistryError, load_registry

ParseFn = Callable[[str, Filter | None, datetime], Filter]
"""Parse one message against the current filter at a reference instant."""

T = TypeVar("T")

PROGRESS_MIN_CASES = 20
"""Show a progress bar on stderr from this many parse calls on."""


# ---- scoring (pure) ----


def time_exact(gold: TimeWindow | None, produced: TimeWindow | None) -> bool:
    """Both ends equal as instants (offsets may differ); two missing windows agree."""
    if gold is None or produced is None:
        return gold is produced
    return gold.start == produced.start and gold.end == produced.end


def time_iou(gold: TimeWindow | None, produced: TimeWindow | None) -> float:
    """Intersection over union of two windows; 1.0 when both are missing, 0.0 when one is."""
    if gold is None or produced is None:
        return 1.0 if gold is produced else 0.0
    overlap = (min(gold.end, produced.end) - max(gold.start, produced.start)).total_seconds()
    union = (max(gold.end, produced.end) - min(gold.start, produced.start)).total_seconds()
    return max(overlap, 0.0) / union


def cameras_f1(gold: Iterable[str], produced: Iterable[str]) -> float:
    """Set F1 of camera ids; 1.0 when both are empty (no place constraint on either side)."""
    g, p = set(gold), set(produced)
    if not g and not p:
        return 1.0
    return 2 * len(g & p) / (len(g) + len(p))


def _attribute_value(filter_: Filter, key: str) -> Any:
    value = getattr(filter_.attributes, key)
    return frozenset(value) if isinstance(value, list) else value


def attribute_errors(gold: Filter, produced: Filter) -> list[str]:
    """Attribute keys that differ; a key absent in gold must be absent in the output (else an error)."""
    return [k for k in ATTRIBUTE_KEYS if _attribute_value(gold, k) != _attribute_value(produced, k)]


def attribute_items(filter_: Filter) -> set[tuple[str, Any]]:
    """The attribute constraints as ``(key, value)`` items, one per colour of a colour list."""
    items: set[tuple[str, Any]] = set()
    for key, value in filter_.attributes.constrained().items():
        if isinstance(value, list):
            items.update((key, v) for v in value)
        else:
            items.add((key, value))
    return items


@dataclass(frozen=True)
class CaseScore:
    """How one produced filter compares with gold."""

    time_exact: bool
    time_iou: float
    cameras_exact: bool
    cameras_f1: float
    attribute_errors: tuple[str, ...]
    attribute_tp: int
    attribute_fp: int
    attribute_fn: int

    @property
    def exact(self) -> bool:
        """Time, cameras and every attribute match."""
        return self.time_exact and self.cameras_exact and not self.attribute_errors

    def wrong_slots(self) -> list[str]:
        """Names of the slots that do not match: time, cameras, attribute keys."""
        slots = [] if self.time_exact else ["time"]
        slots += [] if self.cameras_exact else ["cameras"]
        return slots + list(self.attribute_errors)


def score_case(gold: Filter, produced: Filter) -> CaseScore:
    """Score one produced filter against gold (see query-schema.md "Scoring")."""
    g_items, p_items = attribute_items(gold), attribute_items(produced)
    return CaseScore(
        time_exact=time_exact(gold.time, produced.time),
        time_iou=time_iou(gold.time, produced.time),
        cameras_exact=set(gold.cameras) == set(produced.cameras),
        cameras_f1=cameras_f1(gold.cameras, produced.cameras),
        attribute_errors=tuple(attribute_errors(gold, produced)),
        attribute_tp=len(g_items & p_items),
        attribute_fp=len(p_items - g_items),
        attribute_fn=len(g_items - p_items),
    )


def micro_f1(tp: int, fp: int, fn: int) -> float:
    """Micro-averaged F1 from summed counts; 1.0 when nothing was expected or produced."""
    if tp + fp + fn == 0:
        return 1.0
    return 2 * tp / (2 * tp + fp + fn)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Outcome:
    """One parsed message: its gold, what came out (``None`` if the parser failed), and timing."""

    id: str
    lang: str
    message: str
    gold: Filter
    produced: Filter | None
    latency_ms: float
    error: str | None = None
    score: CaseScore | None = field(init=False)

    def __post_init__(self) -> None:
        self.score = score_case(self.gold, self.produced) if self.produced is not None else None

    @property
    def exact(self) -> bool:
        """The produced filter matches gold exactly."""
        return self.score is not None and self.score.exact

    def failure(self) -> dict[str, Any]:
        """A JSON-ready record of a non-exact case: gold vs produced and the wrong slots."""
        return {
            "id": self.id,
            "lang": self.lang,
            "query": self.message,
            "wrong": self.score.wrong_slots() if self.score else ["parse error"],
            "error": self.error,
            "expected": _scored_part(self.gold),
            "produced": _scored_part(self.produced) if self.produced is not None else None,
        }


def _scored_part(filter_: Filter) -> dict[str, Any]:
    data = filter_.to_dict()
    return {"time": data["time"], "cameras": data["cameras"], "attributes": data["attributes"]}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize_outcomes(queries: list[Outcome], turns: list[Outcome] | None) -> dict[str, Any]:
    """The report of the spec: accuracies over ``queries``, dialogue turn accuracy, latency, failures."""
    scored = [o.score for o in queries]
    ok = [s for s in scored if s is not None]
    n = len(queries)

    def share(predicate: Callable[[CaseScore], bool]) -> float:
        return sum(1 for s in ok if predicate(s)) / n if n else 0.0

    per_slot = {"time": share(lambda s: s.time_exact), "cameras": share(lambda s: s.cameras_exact)}
    per_slot["attributes"] = share(lambda s: not s.attribute_errors)
    for key in ATTRIBUTE_KEYS:
        used = (key in o.gold.attributes.constrained() or (o.produced and key in o.produced.attributes.constrained())
                for o in queries)
        if any(used):
            per_slot[key] = share(lambda s, key=key: key not in s.attribute_errors)
    per_lang = {}
    for lang in sorted({o.lang for o in queries}):
        cases = [o for o in queries if o.lang == lang]
        per_lang[lang] = sum(o.exact for o in cases) / len(cases)
    everything = queries + (turns or [])
    latencies = [o.latency_ms for o in everything]
    return {
        "n": n,
        "exact_match": share(lambda s: s.exact),
        "time_exact": per_slot["time"],
        "time_iou": sum(s.time_iou for s in ok) / n if n else 0.0,
        "cameras_exact": per_slot["cameras"],
        "cameras_f1": sum(s.cameras_f1 for s in ok) / n if n else 0.0,
        "attributes_f1": micro_f1(
            sum(s.attribute_tp for s in ok), sum(s.attribute_fp for s in ok), sum(s.attribute_fn for s in ok)
        ) if ok else 0.0,
        "per_slot": per_slot,
        "per_lang": per_lang,
        "dialogue_turn_exact": _mean([float(o.exact) for o in turns]) if turns else None,
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p95": percentile(latencies, 95),
        "failures": [o.failure() for o in everything if not o.exact],
    }


# ---- input ----


class EvalInputError(ValueError):
    """An evaluation file is missing or unreadable."""


@dataclass(frozen=True)
class Query:
    """One gold single-turn case."""

    id: str
    lang: str
    now: datetime
    query: str
    expected: Filter


@dataclass(frozen=True)
class Dialogue:
    """One gold multi-turn case: ``(message, expected filter after it)`` per turn."""

    id: str
    now: datetime
    turns: tuple[tuple[str, Filter], ...]


def _now(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"'now' {value!r} has no UTC offset, e.g. 2021-09-08T10:30:00+08:00")
    return moment


def query_case(record: dict[str, Any]) -> Query:
    """A gold single-turn case from one JSON line."""
    return Query(
        id=str(record["id"]),
        lang=str(record.get("lang") or guess_lang(record["query"])),
        now=_now(record["now"]),
        query=str(record["query"]),
        expected=Filter.from_data(record["expected"]),
    )


def dialogue_case(record: dict[str, Any]) -> Dialogue:
    """A gold dialogue from one JSON line."""
    turns = tuple((str(t["user"]), Filter.from_data(t["expected"])) for t in record["turns"])
    if not turns:
        raise ValueError("dialogue has no turns")
    return Dialogue(id=str(record["id"]), now=_now(record["now"]), turns=turns)


def read_cases(path: Path, build: Callable[[dict[str, Any]], T], warn: Callable[[str], None]) -> list[T]:
    """Read JSON lines with ``build``; a malformed line is reported (with its number) and skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as err:
        raise EvalInputError(f"evaluation file {path} does not exist; check the path") from err
    except (OSError, UnicodeDecodeError) as err:
        raise EvalInputError(f"cannot read evaluation file {path}: {err}") from err
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.append(build(json.loads(line)))
        except (ValueError, KeyError, TypeError, FilterError) as err:
            problem = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            warn(f"{path}:{number}: skipped malformed line: {problem}")
    return cases


def guess_lang(text: str) -> str:
    """"zh" when the text contains CJK ideographs, else "en"."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


# ---- running ----


def _timed(
    parse: ParseFn, message: str, current: Filter | None, now: datetime
) -> tuple[Filter | None, float, str | None]:
    started = time.perf_counter()
    try:
        produced, error = parse(message, current, now), None
    except Exception as err:  # one failing case must not stop the evaluation
        produced, error = None, f"{type(err).__name__}: {err}"
    return produced, (time.perf_counter() - started) * 1000, error


def _progress(total: int) -> tqdm:

    return tqdm(total=total, file=sys.stderr, disable=total < PROGRESS_MIN_CASES, leave=False, unit="msg")


def run_queries(queries: list[Query], parse: ParseFn, progress: Any = None) -> list[Outcome]:
    """Parse every query from scratch and time it."""
    outcomes = []
    for q in queries:
        produced, ms, error = _timed(parse, q.query, None, q.now)
        outcomes.append(Outcome(q.id, q.lang, q.query, q.expected, produced, ms, error))
        if progress is not None:
            progress.update()
    return outcomes


def run_dialogues(dialogues: list[Dialogue], parse: ParseFn, progress: Any = None) -> list[Outcome]:
    """Parse each dialogue turn on top of the filter produced for the turn before."""
    outcomes = []
    for d in dialogues:
        current: Filter | None = None
        for index, (message, gold) in enumerate(d.turns, start=1):
            produced, ms, error = _timed(parse, message, current, d.now)
            case_id = f"{d.id}#{index}"
            outcomes.append(Outcome(case_id, guess_lang(message), message, gold, produced, ms, error))
            current = produced if produced is not None else current
            if progress is not None:
                progress.update()
    return outcomes


def make_parse(registry: Registry, llm: object | None) -> ParseFn:
    """The production parser bound to a registry and (optionally) the LLM."""
    from assistant.parser import parse

    def run(message: str, current: Filter | None, now: datetime) -> Filter:
        return parse(message, current, now, registry, llm=llm).filter

    return run


# ---- report ----


def format_report(report: dict[str, Any], header: str, max_failures: int = 40) -> str:
    """The report as a readable plain-text table."""
    pct = "{:6.1%}".format
    lines = [header, "", f"cases: {report['n']}"]
    rows = [
        ("exact match", pct(report["exact_match"])),
        ("time exact", pct(report["time_exact"])),
        ("time mean IoU", f"{report['time_iou']:6.3f}"),
        ("cameras exact", pct(report["cameras_exact"])),
        ("cameras set-F1", f"{report['cameras_f1']:6.3f}"),
        ("attributes micro-F1", f"{report['attributes_f1']:6.3f}"),
    ]
    rows += [(f"lang {lang} exact", pct(v)) for lang, v in report["per_lang"].items()]
    if report["dialogue_turn_exact"] is not None:
        rows.append(("dialogue turn exact", pct(report["dialogue_turn_exact"])))
    rows += [
        ("latency p50 (ms)", f"{report['latency_ms_p50']:8.1f}"),
        ("latency p95 (ms)", f"{report['latency_ms_p95']:8.1f}"),
    ]
    lines += [f"  {name:<22}{value}" for name, value in rows]
    lines += ["", "per slot accuracy:"]
    lines += [f"  {slot:<22}{pct(v)}" for slot, v in report["per_slot"].items()]
    failures = report["failures"]
    lines += ["", f"failing cases: {len(failures)}"]
    for f in failures[:max_failures]:
        lines.append(f"- {f['id']} [{f['lang']}] {f['query']}")
        lines.append(f"    wrong:    {', '.join(f['wrong'])}" + (f"  ({f['error']})" if f["error"] else ""))
        for slot in ("time", "cameras", *ATTRIBUTE_KEYS):
            if slot not in f["wrong"]:
                continue
            gold, produced = _slot(f["expected"], slot), _slot(f["produced"], slot)
            lines.append(f"    {slot}: gold {gold} | produced {produced}")
    if len(failures) > max_failures:
        lines.append(f"... {len(failures) - max_failures} more (all of them in --json)")
    return "\n".join(lines)


def _slot(data: dict[str, Any] | None, slot: str) -> str:
    if data is None:
        return "-"
    value = data[slot] if slot in ("time", "cameras") else data["attributes"].get(slot)
    if isinstance(value, dict):
        return f"{value['start']} → {value['end']}"
    return json.dumps(value, ensure_ascii=False)


# ---- command line ----


def build_argparser() -> argparse.ArgumentParser:
    """Arguments of ``python -m assistant.evaluate``."""
    parser = argparse.ArgumentParser(prog="python -m assistant.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, required=True, help="single-turn gold cases (JSON lines)")
    parser.add_argument("--dialogues", type=Path, help="multi-turn gold dialogues (JSON lines)")
    parser.add_argument("--registry", type=Path, help="camera registry JSON (default: the configured one)")
    parser.add_argument("--no-llm", action="store_true", help="parse with the rules alone")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write the report as JSON here")
    return parser


def _load_llm(disabled: bool) -> tuple[object | None, str]:
    from assistant.config import get_settings

    if disabled or not get_settings().use_llm:
        return None, "llm: off"
    from assistant.llm import LLMUnavailable, LocalLLM
    from assistant.llm_assist import warm_up

    llm = LocalLLM()
    try:
        warm_up(llm)  # loads the model and its prompt prefix, so case latencies exclude start-up
    except LLMUnavailable as err:
        print(f"warning: {err}\nevaluating with the rules alone", file=sys.stderr)
        return None, "llm: unavailable (rules alone)"
    return llm, f"llm: {llm.name}"


def main(argv: list[str] | None = None, parse: ParseFn | None = None) -> int:
    """Run the evaluation; 0 on success (whatever the accuracy), 2 when an input cannot be read."""
    args = build_argparser().parse_args(argv)

    def warn(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        from assistant.config import get_settings

        registry_path = args.registry or get_settings().registry_path
        registry = load_registry(registry_path)
        queries = read_cases(args.queries, query_case, warn)
        dialogues = read_cases(args.dialogues, dialogue_case, warn) if args.dialogues else None
    except (EvalInputError, RegistryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if parse is None:
        llm, llm_label = _load_llm(args.no_llm)
        parse = make_parse(registry, llm)
    else:
        llm_label = "llm: (custom parser)"
    total = len(queries) + sum(len(d.turns) for d in dialogues or [])
    with _progress(total) as progress:
        query_outcomes = run_queries(queries, parse, progress)
        turn_outcomes = run_dialogues(dialogues, parse, progress) if dialogues is not None else None
    report = summarize_outcomes(query_outcomes, turn_outcomes)
    header = f"Sightline parser evaluation · {args.queries} · registry {registry_path} · {llm_label}"
    print(format_report(report, header))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
