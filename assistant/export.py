"""Evidence export: selected search hits + the filter + the conversation, as one ZIP a report can cite.

The archive holds ``hits.csv`` (one row per image: id, camera, local time, score, source, box and
the thumbnail's file name and SHA-256), ``report.json`` (the same rows plus the filter, its
summary, the conversation, who exported it for which case, and when) and ``thumbnails/``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.filters import Filter, summarize
from assistant.registry import Registry

CSV_COLUMNS = (
    "id",
    "camera_id",
    "camera_name",
    "time",
    "score",
    "source",
    "bbox",
    "thumbnail",
    "thumbnail_sha256",
)


class ExportError(RuntimeError):
    """The report cannot be written; the message names the file or input at fault."""


@dataclass(frozen=True)
class ExportedHit:
    """One image of the report, as the store found it."""

    id: str
    camera_id: str
    time: datetime
    score: float
    thumbnail: Path
    source: str = ""
    bbox: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class ReportContext:
    """What the images were found for: filter, conversation, officer, case, language, clock."""

    filter: Filter
    conversation: Sequence[dict[str, str]]
    registry: Registry
    lang: str
    exported_at: datetime
    user: str | None = None
    case_number: str | None = None


def _safe_name(hit_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", hit_id).strip("._") or "hit"


def hit_rows(hits: Sequence[ExportedHit], context: ReportContext) -> list[dict[str, Any]]:
    """One CSV/JSON row per hit; thumbnails are hashed so a report can cite them unambiguously."""
    rows = []
    tz = context.exported_at.tzinfo
    for hit in hits:
        try:
            digest = hashlib.sha256(hit.thumbnail.read_bytes()).hexdigest()
        except OSError as err:
            raise ExportError(f"thumbnail {hit.thumbnail} of hit {hit.id} cannot be read: {err}") from err
        rows.append(
            {
                "id": hit.id,
                "camera_id": hit.camera_id,
                "camera_name": context.registry.camera_name(hit.camera_id, context.lang),
                "time": hit.time.astimezone(tz).isoformat(timespec="seconds"),
                "score": round(hit.score, 4),
                "source": hit.source,
                "bbox": " ".join(str(v) for v in hit.bbox) if hit.bbox else "",
                "thumbnail": f"thumbnails/{_safe_name(hit.id)}{hit.thumbnail.suffix or '.jpg'}",
                "thumbnail_sha256": digest,
            }
        )
    return rows


def report_document(rows: list[dict[str, Any]], context: ReportContext) -> dict[str, Any]:
    """The JSON document of the report."""
    return {
        "exported_at": context.exported_at.isoformat(timespec="seconds"),
        "user": context.user,
        "case_number": context.case_number,
        "language": context.lang,
        "filter": context.filter.to_dict(),
        "filter_summary": summarize(context.filter, context.lang, context.registry, context.exported_at),
        "conversation": [{"role": m["role"], "content": m["content"]} for m in context.conversation],
        "hits": rows,
    }


def write_report(hits: Sequence[ExportedHit], context: ReportContext, out_dir: Path) -> Path:
    """Write ``sightline-report-<time>.zip`` into ``out_dir`` and return its path."""
    if not hits:
        raise ExportError("no hits to export; select at least one result")
    rows = hit_rows(hits, context)
    csv_text = io.StringIO()
    writer = csv.DictWriter(csv_text, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    stamp = context.exported_at.strftime("%Y%m%d-%H%M%S")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"sightline-report-{stamp}.zip"
        counter = 1
        while path.exists():
            counter += 1
            path = out_dir / f"sightline-report-{stamp}-{counter}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("hits.csv", "\ufeff" + csv_text.getvalue())  # BOM: spreadsheets read UTF-8
            archive.writestr("report.json", json.dumps(report_document(rows, context), ensure_ascii=False, indent=2))
            for hit, row in zip(hits, rows, strict=True):
                archive.write(hit.thumbnail, row["thumbnail"])
    except OSError as err:
        raise ExportError(f"cannot write the report into {out_dir}: {err}") from err
    return path
