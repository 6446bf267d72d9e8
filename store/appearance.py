"""Appearance of a person crop: region colours, plus CLIP zero-shot attributes when real weights are set.

``appearance(crop_bgr)`` is what ingest records for a crop: the upper- and
lower-body colour names of :func:`store.colour.region_colours` and, only when
``SIGHTLINE_CLIP_WEIGHTS`` points at real weights, the attributes CLIP judges
with confidence (``prompts/clip_attributes.toml``). Without weights nothing is
loaded and ``attributes`` is empty: unjudged attributes are left out, never guessed.

Command line, one JSON line per image (each IMAGE a person crop)::

    python -m store.appearance IMAGE...

A file that cannot be read as an image gets a line with an ``error`` field, and
the exit status is 1 when any image failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from assistant.config import get_settings
from store.colour import region_colours
from store.embed import Embedder, EmbeddingError, embedder_from_settings

ATTRIBUTE_MIN_PROBABILITY = 0.6  # an attribute is judged when its most probable value reaches this


def judged_attributes(scores: dict[str, float], min_probability: float = ATTRIBUTE_MIN_PROBABILITY) -> dict[str, Any]:
    """Per attribute, its most probable value when that probability reaches ``min_probability``.

    ``scores`` maps ``"<attribute>=<value>"`` to a probability (as ``Embedder.attribute_scores``
    returns); flag values ``"true"``/``"false"`` become booleans.
    """
    best: dict[str, tuple[float, str]] = {}
    for name, probability in scores.items():
        key, _, value = name.partition("=")
        if key not in best or probability > best[key][0]:
            best[key] = (probability, value)
    judged: dict[str, Any] = {}
    for key, (probability, value) in sorted(best.items()):
        if probability >= min_probability:
            judged[key] = {"true": True, "false": False}.get(value, value)
    return judged


@lru_cache(maxsize=1)
def _configured_embedder() -> Embedder | None:
    """The CLIP embedder of the settings when real weights are configured, else ``None`` (nothing loaded)."""
    settings = get_settings()
    if settings.clip_weights is None:
        return None
    return embedder_from_settings(settings)


def appearance(crop_bgr: np.ndarray, embedder: Embedder | None = None) -> dict[str, Any]:
    """``{"upper": [...], "lower": [...], "attributes": {...}}`` of a person crop (BGR uint8).

    ``embedder`` defaults to the configured one; attributes are added only when it
    judges attributes (real CLIP weights). Raises ``ValueError`` for an unusable crop
    and ``store.embed.EmbeddingError`` for misconfigured weights.
    """
    colours = region_colours(crop_bgr)
    result: dict[str, Any] = {"upper": colours.upper, "lower": colours.lower, "attributes": {}}
    model = embedder if embedder is not None else _configured_embedder()
    if model is not None and model.judges_attributes:
        scores = model.attribute_scores(model.embed_images([crop_bgr]))[0]
        result["attributes"] = judged_attributes(scores)
    return result


def read_image(path: Path) -> np.ndarray:
    """The image at ``path`` as BGR uint8; ``ValueError`` saying why when it cannot be read."""
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"cannot decode {path} as an image (empty, corrupt or not an image format OpenCV reads)")
    return image


def describe_file(path: Path, embedder: Embedder | None = None) -> dict[str, Any]:
    """The JSON record of one image file: its appearance, or an ``error``."""
    try:
        return {"path": str(path), **appearance(read_image(path), embedder)}
    except ValueError as err:
        return {"path": str(path), "error": str(err)}


def main(argv: Sequence[str] | None = None) -> int:
    """Print one JSON line per image; exit status 1 when any image failed."""
    parser = argparse.ArgumentParser(
        prog="python -m store.appearance",
        description="Upper/lower-body colours (and CLIP attributes when SIGHTLINE_CLIP_WEIGHTS is set) "
        "of person crops, one JSON line per image.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="a person crop (PNG, JPEG, …)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.images:
        try:
            record = describe_file(path)
        except EmbeddingError as err:  # misconfigured weights: the message names the setting
            record = {"path": str(path), "error": str(err)}
        failed += "error" in record
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
