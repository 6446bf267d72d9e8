"""Region colour (store/colour.py) and the appearance CLI (store/appearance.py).

Synthetic crops check the naming rules and robustness (each of the 11 colours,
shadows, background, masks); real crops of Debian's vtest.avi, labelled by eye
in tests/data/vtest_colour_labels.json, measure primary-colour accuracy. Run with
``-s`` to see the figures reported in bench/RESULTS.md "## Region colour".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from assistant.filters import COLOURS
from store.appearance import appearance, judged_attributes
from store.colour import ColourDataError, RegionColours, load_colour_names, region_colours
from store.detect import expand
from store.ingest import CROP_MARGIN

ROOT = Path(__file__).resolve().parents[1]
VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
LABELS = Path(__file__).resolve().parent / "data" / "vtest_colour_labels.json"

# The targets: primary-colour accuracy upper ≥ 0.90 and lower ≥ 0.85, asserted on the tuning
# half, the test half and all labelled crops, both for the labelled boxes and for the boxes
# grown by CROP_MARGIN as ingest crops them (figures: bench/RESULTS.md "## Region colour").
TARGETS = (0.90, 0.85)

# The labelled crops are split by person (the video's cast walks round repeatedly, so a split
# by crop would put the same clothes on both sides). colours.toml was tuned on these people
# only; the others are the test half.
TUNING_PEOPLE = frozenset(
    {
        "man in dark-brown leather jacket and jeans",
        "man with glasses in black coat and black trousers",
        "man in black leather jacket and black trousers",
        "woman in red jacket and jeans",
        "woman in light-blue jacket and white hood",
    }
)

# One clear example of each colour name (BGR).
SWATCHES = {
    "black": (25, 25, 25),
    "white": (235, 235, 235),
    "gray": (128, 128, 128),
    "red": (40, 30, 200),
    "orange": (20, 130, 250),
    "yellow": (40, 220, 235),
    "green": (50, 150, 40),
    "blue": (190, 80, 30),
    "purple": (140, 40, 120),
    "pink": (190, 160, 250),
    "brown": (30, 65, 115),
}
ROAD = (118, 120, 122)
GRASS = (50, 120, 60)


def lab_of(bgr: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIE L*a*b* (L 0–100) of one 8-bit BGR colour."""
    pixel = np.array([[bgr]], np.float32) / 255.0
    lightness, a, b = cv2.cvtColor(pixel, cv2.COLOR_BGR2Lab)[0, 0]
    return float(lightness), float(a), float(b)


def person(
    upper: tuple[int, int, int],
    lower: tuple[int, int, int],
    background: tuple[int, int, int] = ROAD,
    shadow: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A 64×160 crop of a simple standing figure with a margin of background, with pixel noise.

    ``shadow`` darkens the left 40 % of the torso and legs by that factor.
    """
    rng = np.random.default_rng(seed)
    image = np.zeros((160, 64, 3), np.float32)
    image[:] = background
    cv2.ellipse(image, (32, 28), (7, 9), 0, 0, 360, (140, 170, 210), -1)  # head
    image[38:88, 18:46] = upper  # torso
    image[40:84, 13:18] = upper  # arms
    image[40:84, 46:51] = upper
    image[88:140, 20:31] = lower  # legs, ground between them
    image[88:140, 33:44] = lower
    image[140:146, 19:45] = (30, 30, 30)  # shoes
    if shadow is not None:
        image[38:140, 13:30] *= shadow
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


# --- colour names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COLOURS)
def test_each_colour_name_has_a_clear_example(name: str) -> None:
    assert load_colour_names().name(lab_of(SWATCHES[name])) == name


@pytest.mark.parametrize("name", COLOURS)
def test_uniform_block_of_each_colour_is_named_for_both_regions(name: str) -> None:
    block = np.full((128, 48, 3), SWATCHES[name], np.uint8)
    colours = region_colours(block)
    assert colours.upper == [name]
    assert colours.lower == [name]


@pytest.mark.parametrize(
    ("name", "bgr"),
    [
        ("blue", (90, 30, 20)),  # navy
        ("blue", (230, 200, 150)),  # light blue
        ("brown", (140, 200, 220)),  # beige/khaki (query-schema: khaki → brown)
        ("red", (30, 20, 110)),  # maroon
        ("pink", (180, 105, 255)),  # hot pink
        ("gray", (170, 170, 170)),  # light gray
        ("black", (45, 40, 40)),  # charcoal
    ],
)
def test_common_shades_take_the_name_people_use(name: str, bgr: tuple[int, int, int]) -> None:
    assert load_colour_names().name(lab_of(bgr)) == name


def test_every_lab_colour_gets_one_of_the_eleven_names() -> None:
    names = load_colour_names()
    for lightness in np.linspace(0, 100, 11):
        for a in np.linspace(-80, 80, 17):
            for b in np.linspace(-80, 80, 17):
                assert names.name((lightness, a, b)) in COLOURS


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name = "orange"', 'name = "amber"', "amber"),
        ('name = "brown"\nhue = [355.0', 'name = "chestnut"\nhue = [355.0', "chestnut"),
        ("chroma_slope = 0.6", "", "chroma_slope"),
    ],
    ids=["hue rule name", "dark tint name", "dark tint without slope"],
)
def test_malformed_colour_data_names_the_file(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (ROOT / "store" / "colours.toml").read_text()
    assert old in text
    bad = tmp_path / "colours.toml"
    bad.write_text(text.replace(old, new))
    with pytest.raises(ColourDataError, match=message):
        load_colour_names(bad)


# --- regions, background, shadows --------------------------------------------------------------


@pytest.mark.parametrize("name", COLOURS)
def test_upper_and_lower_body_are_told_apart(name: str) -> None:
    lower = "white" if name in ("black", "gray", "blue") else "black"
    background = GRASS if name in ("gray", "white") else ROAD
    colours = region_colours(person(SWATCHES[name], SWATCHES[lower], background))
    assert colours.upper[0] == name
    assert colours.lower[0] == lower


@pytest.mark.parametrize("background", [ROAD, GRASS, (235, 235, 235)], ids=["road", "grass", "white wall"])
def test_background_around_the_person_is_not_named(background: tuple[int, int, int]) -> None:
    colours = region_colours(person(SWATCHES["red"], SWATCHES["blue"], background))
    assert colours.upper == ["red"]
    assert colours.lower == ["blue"]


def test_dark_shadow_over_a_white_shirt_stays_white() -> None:
    colours = region_colours(person(SWATCHES["white"], SWATCHES["black"], GRASS, shadow=0.55))
    assert colours.upper[0] == "white"


@pytest.mark.parametrize("name", ["red", "blue", "green", "yellow"])
def test_shadow_keeps_the_hue(name: str) -> None:
    colours = region_colours(person(SWATCHES[name], SWATCHES["black"], ROAD, shadow=0.5))
    assert colours.upper[0] == name


@pytest.mark.parametrize("name", ["red", "orange", "yellow"])
def test_shaded_part_of_a_warm_garment_is_not_listed_as_brown(name: str) -> None:
    colours = region_colours(person(SWATCHES[name], SWATCHES["black"], ROAD, shadow=0.4))
    assert colours.upper == [name]


@pytest.mark.parametrize(
    ("name", "bgr"),
    [
        ("brown", (14, 18, 28)),  # dark-brown leather: chroma in proportion to its lightness, warm hue
        ("black", (20, 16, 22)),  # black with a camera's magenta cast: as dark, as much chroma, hue below 0°
    ],
)
def test_dark_brown_jacket_is_told_from_black(name: str, bgr: tuple[int, int, int]) -> None:
    assert region_colours(person(bgr, SWATCHES["blue"])).upper == [name]


@pytest.mark.parametrize(
    ("name", "lab"),
    [
        ("brown", (6.0, 5.0, 1.5)),  # very dark, warm, chroma ≈ 0.9 × L*
        ("black", (6.0, 3.0, -1.5)),  # as dark, magenta cast
        ("black", (6.0, 2.0, 1.0)),  # warm but too little chroma for its lightness
        ("black", (1.0, 1.0, 0.2)),  # below L* 1.5: sensor noise, no colour
        ("blue", (6.0, -0.5, -4.0)),  # dark navy
        ("black", (6.0, 0.3, -1.0)),  # bluish black without navy's chroma
        ("black", (18.0, 7.0, -6.0)),  # dark, weakly saturated magenta: the camera's cast on black
        ("purple", (18.0, 20.0, -15.0)),  # dark but saturated: a real purple
    ],
)
def test_very_dark_colours_keep_their_hue_only_with_chroma_for_their_lightness(
    name: str, lab: tuple[float, float, float]
) -> None:
    assert load_colour_names().name(lab) == name


def test_two_coloured_top_lists_both_primary_first() -> None:
    crop = person(SWATCHES["blue"], SWATCHES["black"])
    crop[38:58, 13:51] = SWATCHES["red"]  # red yoke over the upper ~40 % of a blue jacket
    colours = region_colours(crop)
    assert colours.upper[:2] == ["blue", "red"]
    assert list(colours.upper_shares) == colours.upper + [c for c in colours.upper_shares if c not in colours.upper]
    assert sum(colours.upper_shares.values()) == pytest.approx(1.0, abs=0.01)


def test_mask_replaces_the_background_model() -> None:
    crop = person(SWATCHES["blue"], SWATCHES["black"], background=SWATCHES["red"])
    crop[:, :8] = SWATCHES["green"]  # border strips unlike the real background
    crop[:, -8:] = SWATCHES["green"]
    mask = np.zeros(crop.shape[:2], np.uint8)
    mask[38:88, 18:46] = 255
    mask[88:140, 20:31] = 255
    mask[88:140, 33:44] = 255
    colours = region_colours(crop, mask)
    assert colours.upper == ["blue"]
    assert colours.lower == ["black"]


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        (np.zeros((64, 32), np.uint8), "shape"),
        (np.zeros((64, 32, 3), np.float32), "8-bit"),
        (np.zeros((6, 3, 3), np.uint8), "too small"),
    ],
    ids=["grayscale", "float", "tiny"],
)
def test_unusable_crops_are_refused_with_the_reason(crop: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        region_colours(crop)


def test_mask_of_another_size_is_refused() -> None:
    with pytest.raises(ValueError, match="mask shape"):
        region_colours(person(SWATCHES["red"], SWATCHES["blue"]), np.ones((10, 10), np.uint8))


# --- labelled real crops of vtest.avi ------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled() -> list[tuple[dict, np.ndarray]]:
    """(label, frame) pairs, frames decoded from the installed vtest.avi in order."""
    if not VIDEO.is_file():
        pytest.fail(f"{VIDEO} is missing: install the Debian package opencv-doc (the set-up does)")
    crops = json.loads(LABELS.read_text(encoding="utf-8"))["crops"]
    wanted = {c["frame"] for c in crops}
    frames: dict[int, np.ndarray] = {}
    capture = cv2.VideoCapture(str(VIDEO))
    index = 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames[index] = frame
        index += 1
    capture.release()
    missing = wanted - set(frames)
    assert not missing, f"{VIDEO} ended before frames {sorted(missing)}; is it the opencv-doc vtest.avi?"
    return [(c, frames[c["frame"]]) for c in crops]


def crop_of(label: dict, frame: np.ndarray, margin: float) -> np.ndarray:
    x, y, w, h = expand(tuple(label["bbox"]), margin, frame.shape) if margin else label["bbox"]
    return frame[y : y + h, x : x + w]


def test_labels_are_enough_and_use_the_vocabulary(labelled: list[tuple[dict, np.ndarray]]) -> None:
    assert len(labelled) >= 120
    people = Counter(label["person"] for label, _ in labelled)
    assert len(people) >= 10
    assert set(people) > TUNING_PEOPLE
    for half in (True, False):
        assert sum(n for p, n in people.items() if (p in TUNING_PEOPLE) == half) >= 50
    for label, frame in labelled:
        assert label["upper"] and label["lower"]
        assert set(label["upper"]) | set(label["lower"]) <= set(COLOURS)
        x, y, w, h = label["bbox"]
        assert x >= 0 and y >= 0 and x + w <= frame.shape[1] and y + h <= frame.shape[0]


def primary_accuracy(pairs: list[tuple[dict, RegionColours]]) -> tuple[float, float]:
    """Share of crops whose first predicted name is the first labelled name, upper and lower."""
    return tuple(
        sum(getattr(pred, side)[:1] == label[side][:1] for label, pred in pairs) / len(pairs)
        for side in ("upper", "lower")
    )


def halves(pairs: list[tuple[dict, RegionColours]]) -> dict[str, list[tuple[dict, RegionColours]]]:
    return {
        "tuning people": [p for p in pairs if p[0]["person"] in TUNING_PEOPLE],
        "test people": [p for p in pairs if p[0]["person"] not in TUNING_PEOPLE],
        "all": pairs,
    }


@pytest.mark.parametrize("crops", ["box", "ingest"])
def test_primary_colour_accuracy_on_labelled_crops(labelled: list[tuple[dict, np.ndarray]], crops: str) -> None:
    margin = CROP_MARGIN if crops == "ingest" else 0.0
    pairs = [(label, region_colours(crop_of(label, frame, margin))) for label, frame in labelled]
    print(f"\n[{crops} crops, margin {margin}]")
    figures = {}
    for part, chosen in halves(pairs).items():
        labels = [label for label, _ in chosen]
        baseline = tuple(
            Counter(label[side][0] for label in labels).most_common(1)[0][1] / len(labels)
            for side in ("upper", "lower")
        )
        figures[part] = primary_accuracy(chosen)
        people = len({label["person"] for label in labels})
        print(
            f"  {part:14s} n={len(labels):3d} people={people:2d}  upper {figures[part][0]:.3f}  lower "
            f"{figures[part][1]:.3f}  (majority baseline {baseline[0]:.3f} / {baseline[1]:.3f})"
        )
        assert figures[part][0] > baseline[0]
        if part == "all":  # the test people nearly all wear blue jeans: "always blue" scores 0.93 there
            assert figures[part][1] > baseline[1]
    for part, (upper, lower) in figures.items():
        assert upper >= TARGETS[0] and lower >= TARGETS[1], (part, figures)


@pytest.mark.parametrize("crops", ["box", "ingest"])
def test_red_top_query_finds_the_red_tops(labelled: list[tuple[dict, np.ndarray]], crops: str) -> None:
    margin = CROP_MARGIN if crops == "ingest" else 0.0
    pairs = [(label, region_colours(crop_of(label, frame, margin))) for label, frame in labelled]
    for part, chosen in halves(pairs).items():
        relevant = sum("red" in label["upper"] for label, _ in chosen)
        retrieved = sum("red" in pred.upper for _, pred in chosen)
        hits = sum("red" in label["upper"] and "red" in pred.upper for label, pred in chosen)
        recall, precision = hits / max(relevant, 1), hits / max(retrieved, 1)
        print(
            f"\n[{crops}] red top, {part}: {relevant} labelled, {retrieved} found, "
            f"recall {recall:.3f} precision {precision:.3f}"
        )
        if part == "all":
            assert relevant >= 20
            assert recall >= 0.9 and precision >= 0.9


def test_region_colour_is_fast(labelled: list[tuple[dict, np.ndarray]]) -> None:
    """CPU time (not wall time: the test machine is shared), best of three per crop."""
    crops = [crop_of(label, frame, CROP_MARGIN) for label, frame in labelled]
    times = []
    for crop in crops:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            region_colours(crop)
            best = min(best, time.process_time() - start)
        times.append(best)
    median = float(np.median(times)) * 1000
    print(f"\nregion_colours: median {median:.2f} ms CPU per crop (best of 3), max {max(times) * 1000:.2f} ms")
    assert median < 5.0


# --- appearance ----------------------------------------------------------------------------------


class JudgingEmbedder:
    """A stand-in embedding mode that judges attributes with fixed scores (the plumbing, not CLIP)."""

    judges_attributes = True

    def embed_images(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        return np.ones((len(crops_bgr), 4), np.float32)

    def attribute_scores(self, image_vectors: np.ndarray) -> list[dict[str, float]]:
        return [{"gender=male": 0.8, "gender=female": 0.2, "glasses=true": 0.5, "glasses=false": 0.5}] * len(
            image_vectors
        )


def test_only_confident_attributes_are_judged() -> None:
    scores = {"gender=male": 0.8, "gender=female": 0.2, "glasses=true": 0.55, "glasses=false": 0.45}
    scores |= {"hat=true": 0.1, "hat=false": 0.9}
    assert judged_attributes(scores) == {"gender": "male", "hat": False}


def test_appearance_combines_colours_and_judged_attributes() -> None:
    crop = person(SWATCHES["red"], SWATCHES["blue"])
    assert appearance(crop, JudgingEmbedder()) == {
        "upper": ["red"],
        "lower": ["blue"],
        "attributes": {"gender": "male"},
    }


@pytest.mark.model
def test_random_clip_weights_judge_no_attributes(tmp_path: Path) -> None:
    from store.embed import ClipEmbedder, register_tiny_model

    embedder = ClipEmbedder(register_tiny_model(tmp_path), None)
    result = appearance(person(SWATCHES["red"], SWATCHES["blue"]), embedder)
    assert result["attributes"] == {}
    assert result["upper"] == ["red"]


def run_cli(*paths: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGHTLINE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "store.appearance", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_cli_prints_one_json_line_per_image(tmp_path: Path) -> None:
    good = tmp_path / "person.png"
    cv2.imwrite(str(good), person(SWATCHES["yellow"], SWATCHES["black"]))
    result = run_cli(good, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert sorted(record) == ["attributes", "lower", "path", "upper"]
    assert (record["path"], record["upper"][0], record["lower"][0], record["attributes"]) == (
        str(good),
        "yellow",
        "black",
        {},
    )


def test_cli_reports_bad_files_and_fails_at_the_end(tmp_path: Path) -> None:
    good, corrupt, text, tiny = (tmp_path / n for n in ("person.png", "corrupt.png", "notes.txt", "tiny.png"))
    cv2.imwrite(str(good), person(SWATCHES["green"], SWATCHES["white"]))
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    text.write_text("not an image")
    cv2.imwrite(str(tiny), np.zeros((3, 3, 3), np.uint8))
    missing = tmp_path / "missing.jpg"
    result = run_cli(corrupt, good, text, missing, tiny, tmp_path, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in (corrupt, good, text, missing, tiny, tmp_path)]
    assert records[1]["upper"] == ["green"] and "error" not in records[1]
    for record in records[:1] + records[2:]:
        assert record["error"] and "upper" not in record
