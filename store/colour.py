"""Region colour of a person crop: the named colours of the upper and the lower body.

A pure OpenCV/numpy function, about 2 ms of CPU per crop. The crop is scaled to a
fixed height and converted to CIE L*a*b*. Each pixel gets a foreground weight:
the caller's mask when there is one, else (1) a per-crop colour model — colours
frequent in the border strips (left/right, a few rows above and below) and rare
in the centre columns are background, re-estimated twice — times (2) how unlike
the pixel is to the ground beside the person at the same height (the ground
between the legs), times a prior favouring the centre columns. The person's
vertical extent is the longest run of rows with foreground in the centre, split
by body proportions into an upper (shoulders to waist) and a lower (thighs to
shins) region. Each region's weighted pixels are clustered (deterministic
weighted k-means, lightness down-weighted so that the shadowed and lit parts of
one garment join) and each cluster's mean colour is named with the rules of
``colours.toml``: achromatic by chroma (black/gray/white by lightness), else by
hue with lightness and chroma refinements (brown, pink). A region's black clusters
are pooled and the pool is named once more: very dark colours that keep a chroma in
proportion to their lightness at a warm or blue hue are dark brown or navy, not
black (the "dark tints"). A darker, less saturated cluster at the hue of a named
colour is that colour's shade (shadowed red is red, not brown), and black next to
enough dark hued colour (navy jeans, dark brown) counts as that colour's shadow.
Names are returned by share of the region, primary first.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from assistant.filters import COLOURS

COLOURS_FILE = Path(__file__).with_name("colours.toml")

WORK_HEIGHT = 64  # crops are scaled to this height before anything else
UPPER_SPAN = (0.18, 0.48)  # of the person's height, from the top of the head: shoulders to waist
LOWER_SPAN = (0.58, 0.90)  # thighs to shins (feet and ground shadow left out)
BORDER_FRACTION = 0.15  # left/right strips that model the background
TOP_FRACTION = 0.08  # rows above the head (padded crops) that model the background too
BOTTOM_FRACTION = 0.03  # …and rows below the feet
CENTRE_FRACTION = 0.40  # central columns that model the person
COLUMN_SIGMA = 0.30  # width of the centre-column prior, as a fraction of the crop width
REFINEMENTS = 2  # re-estimations of the person/background colour histograms
SHARPEN = (0.30, 0.70)  # person-vs-background ratio mapped linearly to weight 0..1 between these
BANDS = 8  # horizontal bands of the nearby-ground model
NEARBY_DISTANCE = (2.0, 6.0)  # L*a*b* distance (lightness halved) to nearby ground mapped to weight 0..1
ROW_THRESHOLD = 0.20  # rows whose centre foreground is below this share of a typical (80th pct) row: not person
MIN_PERSON_ROWS = 0.6  # a shorter run is a failed background model (dark clothes filling a tight box): use all rows
CLUSTERS = 4
LIGHTNESS_SCALE = 0.5  # lightness counts half in clustering: shadows change lightness, not hue
SHADOW_LIGHTNESS = 20.0  # a hued cluster darker than this is a dark garment (navy, dark brown)…
SHADOW_SHARE = 0.25  # …and if such clusters cover this share of a region, its black is their shadow
SHADE_HUE = 15.0  # a darker, less saturated cluster within this many degrees of hue of a named colour is its shade
ACHROMATIC = frozenset({"black", "gray", "white"})
MIN_SHARE = 0.20  # a colour other than the primary is named when it covers this share of a region
MAX_NAMES = 3


class ColourDataError(ValueError):
    """The colour-name data file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class HueRule:
    """A chromatic colour name over a hue range (degrees, may wrap) and lightness/chroma ranges."""

    name: str
    hue: tuple[float, float]
    lightness: tuple[float, float] = (0.0, 100.0)
    chroma: tuple[float, float] = (0.0, 1000.0)

    def matches(self, lightness: float, chroma: float, hue: float) -> bool:
        """Whether a colour with these L, C, h falls inside the rule."""
        lo, hi = self.hue
        in_hue = lo <= hue < hi if lo <= hi else hue >= lo or hue < hi
        return (
            in_hue
            and self.lightness[0] <= lightness <= self.lightness[1]
            and self.chroma[0] <= chroma <= self.chroma[1]
        )


@dataclass(frozen=True)
class DarkTint:
    """A very dark colour that is not black although under the achromatic limit (dark brown, navy).

    Over a hue and lightness range, a colour takes ``name`` when its chroma reaches
    ``slope`` × L* + ``offset``: a garment's own colour keeps chroma in proportion to its
    lightness, the camera's tint on black does not.
    """

    name: str
    hue: tuple[float, float]
    lightness: tuple[float, float]
    slope: float
    offset: float

    def matches(self, lightness: float, chroma: float, hue: float) -> bool:
        """Whether a colour with these L, C, h is this tint rather than black."""
        rule = HueRule(self.name, self.hue, self.lightness)
        return rule.matches(lightness, chroma, hue) and chroma >= self.slope * lightness + self.offset


@dataclass(frozen=True)
class ColourNames:
    """The naming rules of ``colours.toml``."""

    chroma_by_lightness: tuple[tuple[float, float], ...]
    black_below: float
    white_above: float
    dark_lightness: float
    dark_min_chroma: float
    rules: tuple[HueRule, ...]
    tints: tuple[DarkTint, ...] = ()

    def achromatic_chroma(self, lightness: float) -> float:
        """Chroma below which a colour of this lightness has no hue."""
        points = np.array(self.chroma_by_lightness)
        return float(np.interp(lightness, points[:, 0], points[:, 1]))

    def hueless(self, lightness: float, chroma: float) -> bool:
        """Whether a colour is under the achromatic limit (stricter for very dark colours)."""
        limit = self.achromatic_chroma(lightness)
        if lightness < self.dark_lightness:
            limit = max(limit, self.dark_min_chroma)
        return chroma < limit

    def is_black(self, lab: tuple[float, float, float]) -> bool:
        """Whether a colour is black before dark tints are considered (dark and under the achromatic limit)."""
        lightness, a, b = (float(v) for v in lab)
        return lightness < self.black_below and self.hueless(lightness, float(np.hypot(a, b)))

    def name(self, lab: tuple[float, float, float]) -> str:
        """The colour name of one L*a*b* colour (L 0–100, signed a and b)."""
        lightness, a, b = (float(v) for v in lab)
        chroma = float(np.hypot(a, b))
        hue = float(np.degrees(np.arctan2(b, a))) % 360.0
        if self.hueless(lightness, chroma):
            for tint in self.tints:
                if tint.matches(lightness, chroma, hue):
                    return tint.name
            if lightness < self.black_below:
                return "black"
            return "white" if lightness > self.white_above else "gray"
        for rule in self.rules:
            if rule.matches(lightness, chroma, hue):
                return rule.name
        raise ColourDataError(f"{COLOURS_FILE}: no hue_rule covers hue {hue:.0f}°; the rules must cover 0–360")


@dataclass(frozen=True)
class RegionColours:
    """Colour names of the upper and lower body, primary first, with each name's share of the region.

    ``upper_shares``/``lower_shares`` map every colour found in the region to the
    fraction of its foreground weight (descending; they sum to 1, or are empty
    when the region had no foreground). ``upper``/``lower`` list the primary
    colour and any other colour covering at least ``MIN_SHARE``, at most ``MAX_NAMES``.
    """

    upper: list[str]
    lower: list[str]
    upper_shares: dict[str, float] = field(default_factory=dict)
    lower_shares: dict[str, float] = field(default_factory=dict)


def _pair(entry: dict, key: str, default: tuple[float, float]) -> tuple[float, float]:
    value = entry.get(key, default)
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise ColourDataError(f"{COLOURS_FILE}: {key} of hue_rule {entry.get('name')!r} must be [low, high]")
    return float(value[0]), float(value[1])


def _colour_name(entry: dict, table: str, path: Path | str) -> str:
    """The entry's colour name, which must be one of the filter's 11 colours."""
    name = entry.get("name")
    if name not in COLOURS:
        raise ColourDataError(f"{path}: {table} name {name!r} is not one of {COLOURS}")
    return name


@lru_cache(maxsize=4)
def load_colour_names(path: Path = COLOURS_FILE) -> ColourNames:
    """Parse and check the colour-name rules (cached)."""
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
        achromatic, dark = data["achromatic"], data["dark"]
        rules = []
        for entry in data["hue_rule"]:
            rules.append(
                HueRule(
                    name=_colour_name(entry, "hue_rule", path),
                    hue=_pair(entry, "hue", (0.0, 360.0)),
                    lightness=_pair(entry, "lightness", (0.0, 100.0)),
                    chroma=_pair(entry, "chroma", (0.0, 1000.0)),
                )
            )
        tints = []
        for entry in data.get("dark_tint", []):
            tints.append(
                DarkTint(
                    name=_colour_name(entry, "dark_tint", path),
                    hue=_pair(entry, "hue", (0.0, 360.0)),
                    lightness=_pair(entry, "lightness", (0.0, 100.0)),
                    slope=float(entry["chroma_slope"]),
                    offset=float(entry["chroma_offset"]),
                )
            )
        return ColourNames(
            chroma_by_lightness=tuple((float(p[0]), float(p[1])) for p in achromatic["chroma_by_lightness"]),
            black_below=float(achromatic["black_below"]),
            white_above=float(achromatic["white_above"]),
            dark_lightness=float(dark["lightness_below"]),
            dark_min_chroma=float(dark["min_chroma"]),
            rules=tuple(rules),
            tints=tuple(tints),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as err:
        raise ColourDataError(f"cannot read colour names from {path}: {err!r}; restore store/colours.toml") from err


def _check_inputs(crop_bgr: np.ndarray, mask: np.ndarray | None) -> None:
    if not isinstance(crop_bgr, np.ndarray) or crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3:
        shape = getattr(crop_bgr, "shape", type(crop_bgr).__name__)
        raise ValueError(f"region_colours needs a BGR image of shape (height, width, 3), got {shape}")
    if crop_bgr.dtype != np.uint8:
        raise ValueError(f"region_colours needs an 8-bit BGR image, got dtype {crop_bgr.dtype}")
    if crop_bgr.shape[0] < 8 or crop_bgr.shape[1] < 4:
        raise ValueError(f"person crop of {crop_bgr.shape[1]}×{crop_bgr.shape[0]} px is too small (≥ 4×8)")
    if mask is not None and mask.shape[:2] != crop_bgr.shape[:2]:
        raise ValueError(f"mask shape {mask.shape[:2]} differs from the crop's {crop_bgr.shape[:2]}")


def _background_free(lab8: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Per-pixel weight of not being background, from border vs centre colour histograms.

    A first estimate compares the centre columns with the border strips (and a few
    rows above and below); each refinement re-estimates the person's colours from all
    pixels weighted by the current estimate (the background's from the rest), then
    the ratio is sharpened.
    """
    height, width = lab8.shape[:2]
    bins = (
        (lab8[..., 0].astype(np.int32) >> 5) * 256
        + (lab8[..., 1].astype(np.int32) >> 4) * 16
        + (lab8[..., 2].astype(np.int32) >> 4)
    )
    border = max(1, round(width * BORDER_FRACTION))
    centre_lo = round(width * (1 - CENTRE_FRACTION) / 2)
    top, bottom = round(height * TOP_FRACTION), round(height * BOTTOM_FRACTION)
    outside = [bins[:, :border], bins[:, width - border :], bins[:top, border : width - border]]
    if bottom:
        outside.append(bins[height - bottom :, border : width - border])
    sides = np.bincount(np.concatenate([o.ravel() for o in outside]), minlength=2048).astype(np.float64)
    person = np.bincount(bins[:, centre_lo : width - centre_lo].ravel(), minlength=2048).astype(np.float64)
    eps = 1e-3
    background = sides
    for _ in range(REFINEMENTS):
        p = _ratio(person, background, eps)[bins]
        person = np.bincount(bins.ravel(), weights=(p * prior[None, :]).ravel(), minlength=2048)
        background = sides + np.bincount(bins.ravel(), weights=(1 - p).ravel(), minlength=2048)
    ratio = _ratio(person, background, eps)
    return np.clip((ratio[bins] - SHARPEN[0]) / (SHARPEN[1] - SHARPEN[0]), 0.0, 1.0).astype(np.float32)


def _ratio(person: np.ndarray, background: np.ndarray, eps: float) -> np.ndarray:
    person = person / max(person.sum(), 1e-9)
    background = background / max(background.sum(), 1e-9)
    return (person + eps) / (person + background + 2 * eps)


def _unlike_nearby_ground(lab: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Per-pixel weight 0..1 of differing from the background seen beside it, band by band.

    The ground between the legs matches the ground beside the person at the same
    height better than any crop-wide colour model does. Only border pixels that the
    colour model already calls background serve as reference (so arms touching the
    edge of a tight box do not erase the body).
    """
    height, width = lab.shape[:2]
    border = max(1, round(width * BORDER_FRACTION))
    scaled = lab * np.array([LIGHTNESS_SCALE, 1.0, 1.0], np.float32)
    out = np.ones((height, width), np.float32)
    band = max(1, height // BANDS)
    low, high = NEARBY_DISTANCE
    for top in range(0, height, band):
        near = slice(max(0, top - band // 2), min(height, top + band + band // 2))
        sides = np.concatenate([scaled[near, :border], scaled[near, width - border :]], axis=1).reshape(-1, 3)
        weights = np.concatenate([foreground[near, :border], foreground[near, width - border :]], axis=1).ravel()
        reference = sides[weights < 0.5]
        if len(reference) == 0:
            continue
        rows = slice(top, min(height, top + band))
        pixels = scaled[rows].reshape(-1, 3)
        squared = (pixels**2).sum(axis=1)[:, None] + (reference**2).sum(axis=1)[None, :] - 2 * pixels @ reference.T
        distance = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
        out[rows] = np.clip((distance - low) / (high - low), 0.0, 1.0).reshape(-1, width)
    return out


def _person_rows(foreground: np.ndarray) -> tuple[int, int]:
    """Top and bottom row (exclusive) of the person: the longest run of rows whose centre is foreground."""
    height, width = foreground.shape
    lo = round(width * (1 - CENTRE_FRACTION) / 2)
    profile = np.convolve(foreground[:, lo : width - lo].mean(axis=1), np.ones(3) / 3, mode="same")
    reference = float(np.percentile(profile, 80))
    if reference <= 0:
        return 0, height
    solid = np.concatenate([[False], profile >= ROW_THRESHOLD * reference, [False]])
    edges = np.flatnonzero(np.diff(solid.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    best = int(np.argmax(ends - starts))
    top, bottom = int(starts[best]), int(ends[best])
    if bottom - top < MIN_PERSON_ROWS * height:
        return 0, height
    return top, bottom


def _clusters(points: np.ndarray, weights: np.ndarray, k: int = CLUSTERS) -> list[tuple[np.ndarray, float]]:
    """Deterministic weighted k-means: (mean L*a*b*, total weight) per non-empty cluster."""
    scale = np.array([LIGHTNESS_SCALE, 1.0, 1.0], np.float32)
    scaled = points * scale
    mean = (scaled * weights[:, None]).sum(axis=0) / weights.sum()
    centres = scaled[[int(np.argmin(((scaled - mean) ** 2).sum(axis=1)))]]
    nearest = ((scaled - centres[0]) ** 2).sum(axis=1)
    while len(centres) < k:
        score = weights * nearest
        if score.max() <= 1.0:
            break
        pick = scaled[int(np.argmax(score))]
        centres = np.vstack([centres, pick])
        nearest = np.minimum(nearest, ((scaled - pick) ** 2).sum(axis=1))
    for _ in range(10):
        assign = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        totals = np.bincount(assign, weights=weights, minlength=len(centres))
        sums = np.stack(
            [np.bincount(assign, weights=weights * scaled[:, c], minlength=len(centres)) for c in range(3)], axis=1
        )
        moved = np.where(totals[:, None] > 0, sums / np.maximum(totals, 1e-9)[:, None], centres)
        converged = np.abs(moved - centres).max() < 0.05
        centres = moved
        if converged:
            break
    return [(centres[j] / scale, float(totals[j])) for j in np.flatnonzero(totals > 0)]


def _hue(centre: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(centre[2], centre[1]))) % 360.0


def _shades_joined(named: list[tuple[np.ndarray, float, str]]) -> list[tuple[np.ndarray, float, str]]:
    """Clusters renamed after the brighter, more saturated cluster of the same hue when there is one.

    Shade lowers lightness and chroma but keeps the hue, so a shadowed red or orange that
    the rules call brown is the same garment as the lit red or orange next to it.
    """
    out = []
    for centre, weight, colour in named:
        chroma = float(np.hypot(centre[1], centre[2]))
        for other, _, other_colour in named:
            other_chroma = float(np.hypot(other[1], other[2]))
            if (
                other_colour != colour
                and other_colour not in ACHROMATIC
                and colour not in ACHROMATIC
                and other[0] > centre[0]
                and other_chroma > chroma
                and abs((_hue(other) - _hue(centre) + 180.0) % 360.0 - 180.0) <= SHADE_HUE
            ):
                colour = other_colour
                break
        out.append((centre, weight, colour))
    return out


def _name_region(lab: np.ndarray, weights: np.ndarray, names: ColourNames) -> tuple[list[str], dict[str, float]]:
    points = lab.reshape(-1, 3)
    w = weights.ravel()
    keep = w > 0.05 * w.max() if w.size and w.max() > 0 else np.zeros(w.shape, bool)
    if keep.sum() < 4:
        return [], {}
    clusters = _clusters(points[keep], w[keep])
    blacks = [(centre, weight) for centre, weight in clusters if names.is_black(tuple(centre))]
    black_name = "black"
    if blacks:  # the region's black, all shades pooled, may be a dark tint (dark brown, navy) as a whole
        pooled = sum(centre * weight for centre, weight in blacks) / sum(weight for _, weight in blacks)
        black_name = names.name(tuple(pooled))
    named = [
        (centre, weight, black_name if names.is_black(tuple(centre)) else names.name(tuple(centre)))
        for centre, weight in clusters
    ]
    shares: dict[str, float] = {}
    dark: dict[str, float] = {}
    for centre, weight, colour in _shades_joined(named):
        shares[colour] = shares.get(colour, 0.0) + weight
        if colour not in ACHROMATIC and centre[0] < SHADOW_LIGHTNESS:
            dark[colour] = dark.get(colour, 0.0) + weight
    if "black" in shares and dark and sum(dark.values()) >= SHADOW_SHARE * sum(shares.values()):
        garment = max(dark, key=dark.__getitem__)
        shares[garment] += shares.pop("black")
    total = sum(shares.values())
    ranked = sorted(((round(v / total, 3), k) for k, v in shares.items()), reverse=True)
    shares = {k: v for v, k in ranked}
    listed = [k for i, (v, k) in enumerate(ranked) if i == 0 or v >= MIN_SHARE][:MAX_NAMES]
    return listed, shares


def region_colours(crop_bgr: np.ndarray, mask: np.ndarray | None = None) -> RegionColours:
    """Named colours of the upper and lower body of a person crop (BGR uint8), primary first.

    ``mask`` (same height and width, non-zero = person) replaces the built-in
    background model when the caller has one, e.g. from background subtraction.
    Raises ``ValueError`` for anything that is not an 8-bit BGR crop of at least 4×8 pixels.
    """
    _check_inputs(crop_bgr, mask)
    names = load_colour_names()
    height, width = crop_bgr.shape[:2]
    work_w = max(8, round(width * WORK_HEIGHT / height))
    image = cv2.resize(crop_bgr, (work_w, WORK_HEIGHT), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    columns = np.arange(work_w, dtype=np.float32) - (work_w - 1) / 2
    prior = np.exp(-0.5 * (columns / (COLUMN_SIGMA * work_w)) ** 2)
    if mask is None:
        foreground = _background_free(cv2.cvtColor(image, cv2.COLOR_BGR2Lab), prior)
        foreground = foreground * _unlike_nearby_ground(lab, foreground)
    else:
        small = cv2.resize((mask > 0).astype(np.uint8), (work_w, WORK_HEIGHT), interpolation=cv2.INTER_NEAREST)
        inner = cv2.erode(small, np.ones((1, 3), np.uint8))  # edge pixels mix person and background
        foreground = (inner if inner.any() else small).astype(np.float32)
    weights = foreground * prior[None, :]
    if mask is None:
        top, bottom = _person_rows(foreground)
    else:  # the caller's mask is trusted: its rows are the person
        rows = np.flatnonzero(foreground.any(axis=1))
        top, bottom = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, WORK_HEIGHT)
    span = bottom - top
    regions = []
    for lo, hi in (UPPER_SPAN, LOWER_SPAN):
        rows = slice(top + round(lo * span), max(top + round(hi * span), top + round(lo * span) + 1))
        regions.append(_name_region(lab[rows], weights[rows], names))
    (upper, upper_shares), (lower, lower_shares) = regions
    return RegionColours(upper=upper, lower=lower, upper_shares=upper_shares, lower_shares=lower_shares)
