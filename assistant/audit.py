"""Append-only, hash-chained audit log of every login and search (JSON lines).

Each line is one entry in *canonical JSON*: UTF-8, keys sorted, no spaces
(``json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``).
Fields: ``seq`` (1, 2, …), ``time`` (ISO 8601 UTC), ``user``, ``case``,
``action``, ``request``, ``filter``, ``result_ids``, ``count``, ``notes``,
``prev`` (the previous entry's ``hash``; 64 zeros for the first) and ``hash``
(SHA-256 hex of the canonical JSON of the entry without ``hash``).

Editing, inserting, deleting or reordering lines breaks the chain. Deleting the
*last* lines leaves a valid chain, so a sidecar anchor (``<log>.anchor``:
entry count and last hash) is rewritten with every append; ``verify`` compares
it with the log. Writers serialise on an exclusive ``flock`` of ``<log>.lock``,
then append one line and fsync, then replace the anchor.

Limit: the chain has no secret. Someone who can write the files can rebuild the
whole chain and anchor; copy the head hash printed by ``verify`` somewhere they
cannot reach (case file, supervisor's notebook) to detect that.

CLI: ``python -m assistant.audit verify [--file F]`` and
``python -m assistant.audit show [--user U] [--case C] [--since ISO]``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.config import get_settings
from assistant.filters import Filter

GENESIS = "0" * 64
ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "logout",
        "search",
        "find_similar",
        "export",
        "filter_edit",
        "user_add",
        "user_disable",
        "user_enable",
        "user_passwd",
    }
)
CASE_ACTIONS = frozenset({"search", "find_similar", "export", "filter_edit"})
FIELDS = ("seq", "time", "user", "case", "action", "request", "filter", "result_ids", "count", "notes", "prev")


class AuditError(RuntimeError):
    """The audit log cannot be written or read; searching must stop until it is fixed."""


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed and written: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`verify_lines`: a 1-based line number (``None`` for the whole log) and what."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(frozen=True)
class Verification:
    """Result of checking a log: entries read, the last entry's hash, and every problem found."""

    entries: int
    head: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when the chain and the anchor are intact."""
        return not self.problems


def verify_lines(lines: Sequence[bytes], anchor: dict[str, Any] | None) -> Verification:
    """Check the hash chain of raw log lines (without newlines) and the anchor; say where it breaks."""
    problems: list[Problem] = []
    prev_hash, prev_seq = GENESIS, 0
    for number, raw in enumerate(lines, start=1):
        try:
            entry = json.loads(raw.decode("utf-8"))
            if not isinstance(entry, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            problems.append(Problem(number, "not a valid JSON entry (edited, or an interrupted write)"))
            prev_hash, prev_seq = "", prev_seq + 1
            continue
        seq, stored = entry.get("seq"), entry.get("hash")
        if stored != entry_hash(entry):
            problems.append(Problem(number, f"entry seq {seq} does not match its hash (the entry was edited)"))
        elif raw.decode("utf-8") != canonical_json(entry):
            problems.append(Problem(number, f"entry seq {seq} is not in canonical form (the line was edited)"))
        if seq != prev_seq + 1:
            problems.append(Problem(number, f"seq {seq} follows seq {prev_seq}: " + _gap(prev_seq, seq)))
        if entry.get("prev") != prev_hash and prev_hash:
            problems.append(
                Problem(
                    number,
                    "prev does not match the hash of the line before: a line was deleted, inserted or moved here",
                )
            )
        prev_hash = stored if isinstance(stored, str) else ""
        prev_seq = seq if isinstance(seq, int) else prev_seq + 1
    head = prev_hash if lines else GENESIS
    problems.extend(_check_anchor(len(lines), head, anchor, chain_ok=not problems))
    return Verification(entries=len(lines), head=head, problems=tuple(problems))


def _gap(prev_seq: int, seq: Any) -> str:
    if isinstance(seq, int) and seq > prev_seq + 1:
        missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}–{seq - 1}"
        return f"entry {missing} is missing here (deleted or moved)"
    return "an entry was inserted or moved here"


def _check_anchor(count: int, head: str, anchor: dict[str, Any] | None, chain_ok: bool) -> list[Problem]:
    """Compare the log's length and last hash with the anchor written by the last append."""
    if anchor is None:
        if count:
            return [Problem(None, "anchor file is missing: cannot tell whether the last lines were deleted")]
        return []
    want_count, want_hash = anchor.get("count"), anchor.get("hash")
    if not isinstance(want_count, int) or not isinstance(want_hash, str):
        return [Problem(None, "anchor file is unreadable (edited?): cannot tell whether the last lines were deleted")]
    if want_count == count and want_hash == head:
        return []
    if want_count != count and not chain_ok:
        return [
            Problem(
                None,
                f"log has {count} entries but the anchor records {want_count}: "
                "lines were deleted or inserted (see the lines above)",
            )
        ]
    if want_count > count:
        return [
            Problem(
                count + 1,
                f"log ends after {count} entries but the anchor records {want_count}: "
                f"the last {want_count - count} line(s) were deleted (truncated)",
            )
        ]
    if want_count < count:
        return [
            Problem(
                want_count + 1,
                f"log has {count} entries but the anchor records {want_count}: lines "
                "were appended outside the audit writer (or a write was interrupted before the anchor)",
            )
        ]
    return [
        Problem(
            count,
            f"last entry's hash {head[:12]}… differs from the anchor's {want_hash[:12]}…: "
            "the last line was replaced or moved",
        )
    ]


class AuditLog:
    """The audit log at ``path`` with its ``.anchor`` and ``.lock`` sidecars."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.anchor_path = self.path.with_name(self.path.name + ".anchor")
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def append(
        self,
        action: str,
        *,
        user: str,
        case: str | None = None,
        request: str | None = None,
        search_filter: Filter | dict[str, Any] | None = None,
        result_ids: Iterable[str] = (),
        count: int | None = None,
        notes: Iterable[str] = (),
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Append one entry atomically (locked, chained, fsynced) and return it.

        ``count`` defaults to the number of ``result_ids``. Raises :class:`AuditError`
        for an unknown action, a search-type action without a case, or a log that
        cannot be written (the caller must then not show results).
        """
        if action not in ACTIONS:
            raise AuditError(f"unknown audit action {action!r}; known: {', '.join(sorted(ACTIONS))}")
        if action in CASE_ACTIONS and not case:
            raise AuditError(f"audit action {action!r} needs a case number")
        ids = list(result_ids)
        body: dict[str, Any] = {
            "time": (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds"),
            "user": user,
            "case": case,
            "action": action,
            "request": request,
            "filter": search_filter.to_dict() if isinstance(search_filter, Filter) else search_filter,
            "result_ids": ids,
            "count": len(ids) if count is None else count,
            "notes": list(notes),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked(fcntl.LOCK_EX):
            try:
                entry = self._append_locked(body)
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise AuditError(
                    f"cannot append to audit log {self.path}: {err}; run "
                    f"`python -m assistant.audit verify --file {self.path}`"
                ) from err
        return entry

    def _append_locked(self, body: dict[str, Any]) -> dict[str, Any]:
        """Chain ``body`` to the last line, write it with fsync, then move the anchor (lock held)."""
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            last = _last_line(fd, self.path)
            previous = json.loads(last) if last else {"seq": 0, "hash": GENESIS}
            entry = {"seq": previous["seq"] + 1, **body, "prev": previous["hash"]}
            entry["hash"] = entry_hash(entry)
            _write_all(fd, (canonical_json(entry) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._write_anchor(entry["seq"], entry["hash"])
        return entry

    def verify(self) -> Verification:
        """Check the whole log and its anchor under a shared lock."""
        with self._locked(fcntl.LOCK_SH):
            lines = self._read_lines()
            anchor_text = self.anchor_path.read_text("utf-8") if self.anchor_path.exists() else None
        try:
            anchor = json.loads(anchor_text) if anchor_text is not None else None
        except ValueError:
            anchor = {"count": None, "hash": None}
        return verify_lines(lines, anchor)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry in order (lines that are not JSON are skipped; ``verify`` reports them)."""
        for raw in self._read_lines():
            try:
                yield json.loads(raw)
            except ValueError:
                continue

    def _read_lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def _write_anchor(self, count: int, head: str) -> None:
        temporary = self.anchor_path.with_name(self.anchor_path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            _write_all(fd, (canonical_json({"count": count, "hash": head}) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.anchor_path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _last_line(fd: int, path: Path) -> bytes:
    """The last complete line of the open log (empty if the log is empty)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return b""
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditError(f"audit log {path} ends with an incomplete line (interrupted write?)")
    end, chunk, block = size - 1, b"", 4096
    while True:
        start = max(0, end - len(chunk) - block)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return chunk[newline + 1 :]
        if start == 0:
            return chunk


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def default_log() -> AuditLog:
    """The audit log of the configured settings (``Settings.audit_file``)."""
    return AuditLog(get_settings().audit_file)


# ---- CLI ----


def _show_line(entry: dict[str, Any]) -> str:
    parts = [f"#{entry.get('seq')}", str(entry.get("time")), str(entry.get("user")), str(entry.get("action"))]
    if entry.get("case"):
        parts.append(f"case {entry['case']}")
    if entry.get("request"):
        parts.append(repr(entry["request"]))
    search = entry.get("filter")
    if isinstance(search, dict) and search.get("cameras"):
        parts.append(f"cameras {','.join(search['cameras'])}")
    if entry.get("action") in CASE_ACTIONS:
        parts.append(f"→ {entry.get('count')} result(s)")
    line = "  ".join(parts)
    for note in entry.get("notes") or ():
        line += f"\n      note: {note}"
    return line


def _matches(entry: dict[str, Any], user: str | None, case: str | None, since: datetime | None) -> bool:
    if user is not None and entry.get("user") != user:
        return False
    if case is not None and entry.get("case") != case:
        return False
    if since is not None:
        try:
            return datetime.fromisoformat(str(entry.get("time"))) >= since
        except ValueError:
            return False
    return True


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--since {text!r} is not an ISO time, e.g. 2026-11-25T08:00") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=get_settings().tz)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m assistant.audit``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m assistant.audit", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", type=Path, help="audit log to read (default: Settings.audit_file)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "verify", parents=[common], help="check the hash chain and anchor; exit 1 and say where if tampered"
    )
    show = commands.add_parser("show", parents=[common], help="list entries readably")
    show.add_argument("--user", help="only this user's entries")
    show.add_argument("--case", help="only entries of this case number")
    show.add_argument(
        "--since",
        type=_since,
        help="only entries at or after this ISO time (without an offset: the configured timezone)",
    )
    args = parser.parse_args(argv)
    log = AuditLog(args.file) if args.file else default_log()
    if args.command == "verify":
        result = log.verify()
        for problem in result.problems:
            print(f"{log.path}: {problem}")
        status = "OK" if result.ok else f"FAILED ({len(result.problems)} problem(s))"
        print(f"{status}: {result.entries} entries, head hash {result.head}")
        return 0 if result.ok else 1
    shown = 0
    for entry in log.entries():
        if _matches(entry, args.user, args.case, args.since):
            print(_show_line(entry))
            shown += 1
    print(f"{shown} entr{'y' if shown == 1 else 'ies'} shown from {log.path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `show | head` closed the pipe: not an error of the log
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
