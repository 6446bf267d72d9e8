"""Ingest footage: detect people, crop, colour, embed, and store them in Chroma.

``python -m store.ingest --camera M3-GK-E3 --start 2021-09-07T08:00:00+08:00 clip.mp4 frames/``
or ``python -m store.ingest --manifest footage.csv`` (columns ``path,camera_id,start``
and optionally ``from,to`` in seconds of the video; JSON lines with the same keys
also work). Video is sampled at ``Settings.sample_fps``; a frame's time is the
source's start plus its offset. A still image's time is its EXIF
``DateTimeOriginal`` when present, else the given start.

Ids are derived from the file's content, camera, start and frame, so re-running
skips what is stored; progress per source is recorded after every batch, so an
interrupted run continues where it stopped. Unreadable, empty and non-media files
are reported in the summary and skipped.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
from tqdm import tqdm

from assistant.config import Settings, get_settings
from assistant.registry import Registry, RegistryError, load_registry
from store.colour import region_colours
from store.db import SCHEMA, Store, StoreError, indexed_fields, open_store
from store.detect import Box, HogPeopleDetector, MotionPersonDetector, crop, expand, iou
from store.embed import EmbeddingError, colour_histogram

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".webm", ".flv", ".wmv", ".3gp"}
)
CROP_MARGIN = 0.15
MIN_CROP = (16, 8)  # height, width in pixels: smaller boxes are not usable person crops
WARMUP_FRAMES = 50  # background-model frames decoded before a video span starts
# On resume, the background model re-learns up to this many frames before the resume point
# (from the span start when closer), so the boxes, and hence the ids, match an uninterrupted run.
RESUME_REPLAY_FRAMES = 3000
DUPLICATE_IOU = 0.5
DUPLICATE_APPEARANCE = 0.9
FINGERPRINT_BYTES = 4 << 20


class IngestError(ValueError):
    """Input to ingest is wrong (unknown camera, bad manifest, bad time); the message says how to fix it."""


@dataclass(frozen=True)
class Source:
    """One media file assigned to a camera; ``span`` limits a video to ``[from, to)`` seconds."""

    path: Path
    camera_id: str
    start: datetime | None
    span: tuple[float, float | None] | None = None


@dataclass
class IngestSummary:
    """What an ingest run did."""

    sources: int = 0
    already_done: int = 0
    frames: int = 0
    detections: int = 0
    duplicates: int = 0
    crops_added: int = 0
    crops_existing: int = 0
    seconds: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> str:
        """A few lines for the terminal."""
        rate = self.crops_added / self.seconds if self.seconds else 0.0
        lines = [
            f"sources: {self.sources} ({self.already_done} already complete)",
            f"frames examined: {self.frames}; people detected: {self.detections}; "
            f"near-duplicates skipped: {self.duplicates}",
            f"crops stored: {self.crops_added} new, {self.crops_existing} already present "
            f"({self.seconds:.1f} s, {rate:.1f} crops/s)",
        ]
        if self.problems:
            lines.append(f"skipped {len(self.problems)} file(s):")
            lines += [f"  {path}: {reason}" for path, reason in self.problems]
        return "\n".join(lines)


@dataclass
class _Pending:
    id: str
    image: np.ndarray
    metadata: dict[str, Any]


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 time; without an offset it is read in the configured timezone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise IngestError(f"start time {text!r} is not ISO 8601, e.g. 2021-09-07T08:00:00+08:00") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def read_manifest(path: Path, tz: ZoneInfo) -> list[Source]:
    """Sources of a ``.csv`` (header ``path,camera_id,start[,from,to]``) or ``.jsonl`` manifest."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise IngestError(f"cannot read manifest {path}: {err}") from err
    if Path(path).suffix.lower() in (".jsonl", ".json"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    sources = []
    for number, row in enumerate(rows, start=1):
        if not row.get("path") or not row.get("camera_id"):
            raise IngestError(f"manifest {path} row {number} needs 'path' and 'camera_id' (and 'start')")
        media = Path(row["path"])
        media = media if media.is_absolute() else Path(path).parent / media
        start = parse_time(str(row["start"]), tz) if row.get("start") else None
        span = (float(row.get("from") or 0), float(row["to"]) if row.get("to") else None)
        sources.append(Source(media, str(row["camera_id"]), start, span if span != (0.0, None) else None))
    return sources


def expand_sources(sources: Iterable[Source]) -> Iterator[Source]:
    """Directories replaced by the files under them (sorted)."""
    for source in sources:
        if source.path.is_dir():
            for child in sorted(p for p in source.path.rglob("*") if p.is_file()):
                yield Source(child, source.camera_id, source.start, source.span)
        else:
            yield source


def check_cameras(sources: Sequence[Source], registry: Registry) -> None:
    """Raise :class:`IngestError` naming every unknown camera id."""
    unknown = sorted({s.camera_id for s in sources} - registry.ids)
    if unknown:
        raise IngestError(
            f"unknown camera id(s) {', '.join(unknown)}; known ids: {', '.join(sorted(registry.ids))} "
            "(edit the camera registry, SIGHTLINE_REGISTRY_PATH, to add cameras)"
        )


def fingerprint(path: Path) -> str:
    """Content hash of a file (size + first and last 4 MiB), hex."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
        if size > 2 * FINGERPRINT_BYTES:
            handle.seek(-FINGERPRINT_BYTES, 2)
            digest.update(handle.read())
    return digest.hexdigest()


def stable_id(*parts: object) -> str:
    """Deterministic id from its parts."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def exif_time(path: Path, tz: ZoneInfo) -> datetime | None:
    """``DateTimeOriginal`` (or ``DateTime``) of an image, read in the configured timezone."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:
        return None
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        return None


def crop_metadata(
    camera_id: str,
    area: str,
    when: datetime,
    source: Path,
    frame: int,
    box: Box,
    thumbnail: Path,
) -> dict[str, Any]:
    """The metadata every crop has (colours and attribute scores are added at flush)."""
    return {
        **indexed_fields(camera_id, int(when.timestamp())),
        "area": area,
        "time": when.isoformat(timespec="seconds"),
        "source": str(source),
        "frame": frame,
        "bbox": ",".join(str(v) for v in box),
        "thumbnail": str(thumbnail),
    }


class Ingestor:
    """Runs sources through detection, dedupe, colours, embedding and the store."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        thumbnails_dir: Path,
        sample_fps: float = 1.0,
        batch_frames: int = 16,
        progress: bool = True,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.store = store
        self.tz = tz or ZoneInfo(registry.timezone)
        self.registry = registry
        self.thumbnails_dir = Path(thumbnails_dir)
        self.sample_fps = sample_fps
        self.batch_frames = batch_frames
        self.progress = progress
        self.stills = HogPeopleDetector()

    def run(self, sources: Iterable[Source]) -> IngestSummary:
        """Ingest every source; problems with a file are reported, not raised."""
        summary = IngestSummary()
        began = time.perf_counter()
        todo = list(expand_sources(sources))
        check_cameras(todo, self.registry)
        for source in tqdm(todo, desc="sources", unit="file", disable=not self.progress):
            summary.sources += 1
            problem = self._ingest_one(source, summary)
            if problem:
                summary.problems.append((str(source.path), problem))
        summary.seconds = time.perf_counter() - began
        return summary

    def _ingest_one(self, source: Source, summary: IngestSummary) -> str | None:
        path = source.path
        if not path.exists():
            return "file does not exist"
        suffix = path.suffix.lower()
        if suffix not in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
            return f"not an image or video (extension {suffix or 'none'!r})"
        if path.stat().st_size == 0:
            return "empty file"
        digest = fingerprint(path)
        start = source.start.isoformat() if source.start else ""
        key = stable_id(digest, source.camera_id, start, source.span, SCHEMA, self.store.embedder.kind)
        state = self.store.source_state(key) or {}
        if state.get("status") == "done":
            summary.already_done += 1
            return None
        if suffix in IMAGE_EXTENSIONS:
            return self._ingest_image(source, digest, key, summary)
        return self._ingest_video(source, digest, key, int(state.get("next_frame", 0)), summary)

    def _ingest_image(self, source: Source, digest: str, key: str, summary: IngestSummary) -> str | None:
        image = cv2.imread(str(source.path), cv2.IMREAD_COLOR)
        if image is None:
            return "unreadable image (corrupt or unsupported format)"
        when = exif_time(source.path, self.tz) or source.start
        if when is None:
            return "no timestamp: the image has no EXIF time; pass --start or a manifest 'start'"
        upscale = 2.0 if max(image.shape[:2]) <= 1280 else 1.0
        detections = [d.box for d in self.stills.detect(image, upscale=upscale)]
        summary.frames += 1
        pending = self._crops(source, digest, image, 0, when, detections, [], summary)
        self._flush(pending, summary)
        self._mark(key, source, "done", 1)
        return None

    def _ingest_video(
        self, source: Source, digest: str, key: str, resume_at: int, summary: IngestSummary
    ) -> str | None:
        capture = cv2.VideoCapture(str(source.path))
        try:
            if not capture.isOpened():
                return "unreadable video (corrupt or unsupported codec)"
            fps = capture.get(cv2.CAP_PROP_FPS)
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            if not fps or fps <= 0 or np.isnan(fps):
                return "unreadable video (no frame rate)"
            if source.start is None:
                return "no start time: pass --start or a manifest 'start' for videos"
            first = round(source.span[0] * fps) if source.span else 0
            last = round(source.span[1] * fps) if source.span and source.span[1] is not None else total
            step = max(1, round(fps / self.sample_fps))
            return self._scan(capture, source, digest, key, (first, last, step, fps), resume_at, summary)
        finally:
            capture.release()

    def _scan(
        self,
        capture: cv2.VideoCapture,
        source: Source,
        digest: str,
        key: str,
        frames: tuple[int, int, int, float],
        resume_at: int,
        summary: IngestSummary,
    ) -> str | None:
        first, last, step, fps = frames
        detector = MotionPersonDetector()
        warm = max(0, first - WARMUP_FRAMES, resume_at - RESUME_REPLAY_FRAMES)
        bar = tqdm(
            total=max(0, (last - max(first, resume_at) + step - 1) // step),
            desc=source.path.name,
            unit="frame",
            leave=False,
            disable=not self.progress,
        )
        previous: list[tuple[Box, np.ndarray]] = []
        pending: list[_Pending] = []
        sampled = decoded = 0
        index = 0
        while index < last:
            if index < warm:
                ok = capture.grab()
            else:
                ok, frame = capture.read()
            if not ok:
                break
            decoded += 1
            if index >= warm:
                detector.learn(frame)
            if index >= max(first, resume_at - step) and (index - first) % step == 0:
                assert source.start is not None
                when = source.start + timedelta(seconds=(index - first) / fps)
                boxes = [d.box for d in detector.detect(frame)]
                if index < resume_at:  # done before an interruption: only seeds the dedupe
                    self._crops(source, digest, frame, index, when, boxes, previous, IngestSummary())
                    index += 1
                    continue
                summary.frames += 1
                pending += self._crops(source, digest, frame, index, when, boxes, previous, summary)
                sampled += 1
                bar.update()
                if sampled % self.batch_frames == 0:
                    self._flush(pending, summary)
                    pending = []
                    self._mark(key, source, "partial", index + 1)
            index += 1
        bar.close()
        self._flush(pending, summary)
        if decoded == 0:
            return "unreadable video (no decodable frames)"
        self._mark(key, source, "done", index)
        if index < last - step:
            return f"video ended early: decoded {index} of {last} frames (crops of the decoded part kept)"
        return None

    def _crops(
        self,
        source: Source,
        digest: str,
        frame: np.ndarray,
        index: int,
        when: datetime,
        boxes: list[Box],
        previous: list[tuple[Box, np.ndarray]],
        summary: IngestSummary,
    ) -> list[_Pending]:
        """Crops of one frame, minus near-duplicates of the previous sampled frame; updates ``previous``."""
        camera = self.registry.get(source.camera_id)
        start = source.start.isoformat() if source.start else ""
        current: list[tuple[Box, np.ndarray]] = []
        out: list[_Pending] = []
        for box in boxes:
            padded = expand(box, CROP_MARGIN, frame.shape)
            image = crop(frame, padded)
            if image.shape[0] < MIN_CROP[0] or image.shape[1] < MIN_CROP[1]:
                continue
            summary.detections += 1
            look = colour_histogram(image)
            current.append((box, look))
            if any(
                iou(box, old) >= DUPLICATE_IOU and float(look @ old_look) >= DUPLICATE_APPEARANCE
                for old, old_look in previous
            ):
                summary.duplicates += 1
                continue
            crop_id = stable_id(digest, source.camera_id, start, index, padded)
            thumbnail = self.thumbnails_dir / source.camera_id / f"{crop_id}.jpg"
            meta = crop_metadata(source.camera_id, camera.area, when, source.path, index, padded, thumbnail)
            out.append(_Pending(crop_id, image, meta))
        previous[:] = current
        return out

    def _flush(self, pending: list[_Pending], summary: IngestSummary) -> None:
        """Colours, embeddings, attribute scores, thumbnails, then the store (in that order)."""
        if not pending:
            return
        present = self.store.existing([p.id for p in pending])
        summary.crops_existing += len(present)
        todo = [p for p in pending if p.id not in present]
        if not todo:
            return
        embedder = self.store.embedder
        vectors = embedder.embed_images([p.image for p in todo])
        scores = embedder.attribute_scores(vectors)
        for item, attribute_scores in zip(todo, scores, strict=True):
            judged = []
            colours = region_colours(item.image)
            for side in ("upper", "lower"):
                names = list(getattr(colours, side))
                if names:
                    item.metadata[f"{side}_colours"] = names
                    item.metadata[f"{side}_primary"] = names[0]
            if colours.upper or colours.lower:
                judged.append("colour")
            if attribute_scores:
                judged.append("attributes")
                item.metadata.update({f"p:{name}": value for name, value in attribute_scores.items()})
            if judged:
                item.metadata["judged"] = judged
            thumbnail = Path(item.metadata["thumbnail"])
            thumbnail.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(thumbnail), item.image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
                raise OSError(f"cannot write thumbnail {thumbnail}; check SIGHTLINE_DATA_DIR is writable")
        self.store.add([p.id for p in todo], vectors, [p.metadata for p in todo])
        summary.crops_added += len(todo)

    def _mark(self, key: str, source: Source, status: str, next_frame: int) -> None:
        self.store.set_source_state(
            key,
            {
                "path": str(source.path),
                "camera_id": source.camera_id,
                "start": source.start.isoformat() if source.start else "",
                "status": status,
                "next_frame": next_frame,
            },
        )


def ingest(
    sources: Iterable[Source],
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    progress: bool = True,
) -> IngestSummary:
    """Ingest sources into the store of ``settings`` (or the given store)."""
    settings = settings or get_settings()
    registry = load_registry(settings.registry_path)
    store = store or open_store(settings)
    ingestor = Ingestor(
        store, registry, settings.thumbnails_dir, settings.sample_fps, progress=progress, tz=settings.tz
    )
    return ingestor.run(sources)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m store.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="media files or directories (with --camera)")
    parser.add_argument("--camera", help="camera id from the registry for PATHs")
    parser.add_argument("--start", help="ISO 8601 start time of the PATHs (video offset 0)")
    parser.add_argument("--manifest", type=Path, help="CSV or JSONL with path,camera_id,start[,from,to]")
    parser.add_argument("--sample-fps", type=float, help="override SIGHTLINE_SAMPLE_FPS")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if bool(args.manifest) == bool(args.paths):
        parser.error("give either --manifest FILE or --camera ID [--start TIME] PATH…")
    if args.paths and not args.camera:
        parser.error("--camera ID is required with PATHs")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    args = _arguments(argv)
    settings = get_settings()
    if args.sample_fps:
        settings = settings.model_copy(update={"sample_fps": args.sample_fps})
    try:
        if args.manifest:
            sources = read_manifest(args.manifest, settings.tz)
        else:
            start = parse_time(args.start, settings.tz) if args.start else None
            sources = [Source(p, args.camera, start) for p in args.paths]
        summary = ingest(sources, settings=settings, progress=not args.no_progress)
    except (IngestError, RegistryError, StoreError, EmbeddingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: progress is saved; run the same command again to continue", file=sys.stderr)
        return 130
    print(summary.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
