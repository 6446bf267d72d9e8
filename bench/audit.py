"""Time concurrent audit appends: N processes × M appends into a fresh log, then verify it.

.venv/bin/python -m bench.audit [--processes 4] [--appends 250]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from assistant.audit import AuditLog


def _writer(path: Path, worker: int, appends: int) -> None:
    log = AuditLog(path)
    for index in range(appends):
        log.append(
            "search",
            user=f"officer{worker}",
            case="2021-QD-000123",
            request=f"woman in a white top near exit 3 ({worker}/{index})",
            search_filter={"cameras": ["M3-GK-E3", "M3-ZX-E3"], "attributes": {"gender": "female"}},
            result_ids=[f"clip{worker}-{index}-{k}" for k in range(10)],
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--appends", type=int, default=250, help="appends per process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        workers = [multiprocessing.Process(target=_writer, args=(path, w, args.appends)) for w in range(args.processes)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        result = AuditLog(path).verify()
        verify_ms = (time.perf_counter() - started) * 1000
        total = args.processes * args.appends
        print(
            f"{args.processes} processes × {args.appends} appends = {total}: {elapsed:.2f} s wall, "
            f"{elapsed / total * 1000:.2f} ms/append, {total / elapsed:.0f} appends/s"
        )
        print(
            f"verify: {'OK' if result.ok else 'FAILED'}, {result.entries} entries, "
            f"{len(result.problems)} problem(s), {verify_ms:.0f} ms; exit codes {[w.exitcode for w in workers]}"
        )


if __name__ == "__main__":
    main()
