"""Parsing benchmark: per-request latency with and without the LLM, model load time, peak memory.

``python -m bench.parse [--queries FILE.jsonl] [--registry cameras.json]`` prints a markdown table
for bench/RESULTS.md ("Parsing"). Runs on the development queries by default.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from assistant.evaluate import Query, make_parse, percentile, query_case, read_cases, run_queries, summarize_outcomes
from assistant.filters import Filter
from assistant.llm import LocalLLM
from assistant.llm_assist import COLOUR_KEYS, assist, open_questions, warm_up
from assistant.registry import load_registry

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval"


class CountingLLM:
    """The real LLM, counting and timing the requests that actually reach it."""

    def __init__(self, llm: LocalLLM) -> None:
        self.llm = llm
        self.calls_ms: list[float] = []

    def complete_json(self, *args: Any, **kwargs: Any) -> dict:
        started = time.perf_counter()
        try:
            return self.llm.complete_json(*args, **kwargs)
        finally:
            self.calls_ms.append((time.perf_counter() - started) * 1000)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def blinded(queries: list[Query], llm: CountingLLM) -> dict[str, Any]:
    """The LLM alone on what the rules would have missed: gold minus every non-colour attribute."""
    right = wrong = left_open = questions = 0
    first = len(llm.calls_ms)
    for q in queries:
        gold = q.expected.attributes.constrained()
        kept = {k: v for k, v in gold.items() if k in COLOUR_KEYS}
        draft = Filter.from_data({**q.expected.model_dump(), "attributes": kept})
        asked = open_questions(q.query, draft)
        if not asked:
            continue
        questions += len(asked)
        answer = assist(q.query, draft, llm)[0].attributes.constrained()  # type: ignore[arg-type]
        for key in asked:
            if key not in answer:
                left_open += key in gold
            elif answer[key] == gold.get(key):
                right += 1
            else:
                wrong += 1
    calls = llm.calls_ms[first:]
    return {
        "calls": len(calls), "questions": questions, "right": right, "wrong": wrong, "open": left_open,
        "p50": percentile(calls, 50), "p95": percentile(calls, 95),
        "per_question": sum(calls) / questions if questions else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--queries", type=Path, default=DEV / "queries_dev.jsonl")
    args.add_argument("--registry", type=Path, default=DEV / "cameras.json")
    options = args.parse_args(argv)
    registry = load_registry(options.registry)
    queries = read_cases(options.queries, query_case, lambda m: print(m, file=sys.stderr))

    rules = summarize_outcomes(run_queries(queries, make_parse(registry, None)), None)
    rss_rules = peak_rss_mb()

    llm = LocalLLM()
    started = time.perf_counter()
    llm.load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    warm_up(llm)
    warm_s = time.perf_counter() - started
    counting = CountingLLM(llm)
    with_llm = summarize_outcomes(run_queries(queries, make_parse(registry, counting)), None)
    rss_llm = peak_rss_mb()

    calls = list(counting.calls_ms)
    blind = blinded(queries, counting)
    print(f"{len(queries)} queries from {options.queries}; model {llm.path}; threads {llm.threads}; "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| | rules only | rules + LLM |\n|---|---|---|")
    print(f"| exact match | {rules['exact_match']:.1%} | {with_llm['exact_match']:.1%} |")
    print(f"| attributes micro-F1 | {rules['attributes_f1']:.3f} | {with_llm['attributes_f1']:.3f} |")
    print(f"| latency p50 (ms) | {rules['latency_ms_p50']:.1f} | {with_llm['latency_ms_p50']:.1f} |")
    print(f"| latency p95 (ms) | {rules['latency_ms_p95']:.1f} | {with_llm['latency_ms_p95']:.1f} |")
    print(f"| peak RSS (MB) | {rss_rules:.0f} | {rss_llm:.0f} |")
    print(f"\nLLM consulted on {len(calls)}/{len(queries)} requests"
          + (f"; per call p50 {percentile(calls, 50):.0f} ms, max {max(calls):.0f} ms" if calls else ""))
    print(f"model load {load_s:.2f} s; warm-up (prompt prefix) {warm_s:.2f} s")
    print(f"\nrules blinded to every non-colour attribute (draft = gold colours only): LLM asked "
          f"{blind['questions']} questions in {blind['calls']} calls; right {blind['right']}, wrong "
          f"{blind['wrong']}, left open {blind['open']}; per call p50 {blind['p50']:.0f} ms, "
          f"p95 {blind['p95']:.0f} ms ({blind['per_question']:.0f} ms per question)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
