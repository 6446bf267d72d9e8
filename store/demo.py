"""Demo footage: Debian's ``vtest.avi`` cut into segments, each a camera of the registry at a time.

``python -m store.demo`` ingests the segments below into the configured store
(idempotent: a second run skips them). Two segments are metro exit 3 cameras on
the morning of 2021-09-07, so "9月7号上午 地铁3号出口 白色上衣 …" finds real
crops. The video is read where Debian installs it; it is never copied.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from assistant.config import get_settings
from assistant.registry import load_registry
from store.ingest import IngestError, Source, check_cameras, ingest

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DEMO_NOW = "2021-09-08T10:30:00"  # local time the demo app runs at: the morning after most of the footage
# (camera id, local start time, seconds [from, to) of vtest.avi, which lasts 79.5 s)
SEGMENTS: tuple[tuple[str, str, float, float], ...] = (
    ("M3-GK-E3", "2021-09-07T08:12:00", 0.0, 20.0),
    ("M3-ZX-E3", "2021-09-07T09:41:30", 20.0, 40.0),
    ("M3-ZX-E1", "2021-09-07T15:05:00", 40.0, 52.0),
    ("NS-GATE-N", "2021-09-07T20:31:00", 52.0, 64.0),
    ("NS-GATE-E", "2021-09-06T14:20:00", 64.0, 79.5),
    ("TD-PLAZA", "2021-09-08T10:02:00", 0.0, 15.0),
)


def demo_sources(video: Path, tz: ZoneInfo) -> list[Source]:
    """The demo's sources: one per segment."""
    return [
        Source(video, camera, datetime.fromisoformat(start).replace(tzinfo=tz), (begin, end))
        for camera, start, begin, end in SEGMENTS
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Ingest the demo footage; exit 2 with instructions when vtest.avi is missing."""
    parser = argparse.ArgumentParser(prog="python -m store.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=VTEST, help=f"the demo video (default {VTEST})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        print(
            f"error: demo video {args.video} not found; install it with `sudo apt-get install opencv-doc`",
            file=sys.stderr,
        )
        return 2
    settings = get_settings()
    sources = demo_sources(args.video, settings.tz)
    try:
        check_cameras(sources, load_registry(settings.registry_path))
        summary = ingest(sources, settings=settings, progress=not args.no_progress)
    except IngestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary.render())
    for camera, start, begin, end in SEGMENTS:
        print(f"  {camera:<10} {start}  vtest.avi {begin:>4.0f}–{end:<4.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
