"""Person detection: OpenCV HOG for stills, background subtraction + HOG for fixed cameras.

Stills go through the HOG people detector (upscaled when small, since its
64×128 window misses people shorter than ~120 px). Video from a fixed camera
goes through :class:`MotionPersonDetector`: MOG2 foreground blobs with a
person's shape (upright, large enough) are the detections, and HOG boxes
fill in people the background model has absorbed (standing still); HOG boxes
that overlap a blob are replaced by the tighter blob box.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

GROUP_HOG_HEIGHT = 200  # a wide blob is enlarged to about this height (px) before HOG splits it
HOG_SCALE = 1.05  # pyramid step of the HOG detector (larger is faster, misses more)
Box = tuple[int, int, int, int]  # x, y, width, height in pixels of the full frame


@dataclass(frozen=True)
class Detection:
    """A person box with a confidence-like score and the cue(s) that found it."""

    box: Box
    score: float
    cue: str  # "hog", "motion" or "motion+hog"


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = min(ax2, bx2) - max(a[0], b[0])
    h = min(ay2, by2) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def expand(box: Box, margin: float, shape: tuple[int, ...]) -> Box:
    """The box grown by ``margin`` of its size on every side, clipped to the image."""
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(shape[1], x + w + dx), min(shape[0], y + h + dy)
    return x0, y0, x1 - x0, y1 - y0


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of ``box`` (a copy)."""
    x, y, w, h = box
    return image[y : y + h, x : x + w].copy()


class HogPeopleDetector:
    """OpenCV's HOG + linear SVM people detector (Dalal–Triggs), created lazily per instance."""

    def __init__(self, min_score: float = 0.5, min_height: int = 256) -> None:
        self.min_score = min_score
        self.min_height = min_height  # upscale images shorter than this
        self._hog: cv2.HOGDescriptor | None = None
        self._lock = threading.Lock()

    def _descriptor(self) -> cv2.HOGDescriptor:
        with self._lock:
            if self._hog is None:
                hog = cv2.HOGDescriptor()
                hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
                self._hog = hog
            return self._hog

    def detect(self, image_bgr: np.ndarray, upscale: float = 1.0) -> list[Detection]:
        """Person boxes in full-image pixels, overlapping boxes merged by non-maximum suppression."""
        scale = max(upscale, self.min_height / image_bgr.shape[0])
        work = cv2.resize(image_bgr, None, fx=scale, fy=scale) if scale != 1.0 else image_bgr
        if work.shape[0] < 128 or work.shape[1] < 64:
            return []
        rects, weights = self._descriptor().detectMultiScale(work, winStride=(8, 8), padding=(8, 8), scale=HOG_SCALE)
        found = [
            Detection(_tighten(tuple(round(v / scale) for v in r)), float(s), "hog")
            for r, s in zip(rects, np.ravel(weights), strict=True)
            if s >= self.min_score
        ]
        return suppress(found, 0.4)


def _tighten(box: tuple[int, ...]) -> Box:
    """HOG windows include ~1/8 padding on each side around the person; trim it."""
    x, y, w, h = box
    return x + w // 8, y + h // 16, w - w // 4, h - h // 8


def suppress(detections: list[Detection], threshold: float) -> list[Detection]:
    """Greedy non-maximum suppression by score."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(iou(det.box, k.box) < threshold for k in kept):
            kept.append(det)
    return kept


class MotionPersonDetector:
    """Detector for one fixed camera's stream: MOG2 foreground blobs + HOG.

    Feed every decoded frame to :meth:`learn` (cheap, half resolution) and call
    :meth:`detect` on the sampled ones.
    """

    def __init__(
        self,
        hog: HogPeopleDetector | None = None,
        min_height_fraction: float = 0.08,
        strong_hog: float = 1.0,
    ) -> None:
        self.hog = hog or HogPeopleDetector(min_height=0)
        self.min_height_fraction = min_height_fraction
        self.strong_hog = strong_hog  # HOG score that stands without motion support
        self._mog = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=25, detectShadows=True)
        self._mask: np.ndarray | None = None
        self._kernel_open = np.ones((3, 3), np.uint8)
        self._kernel_close = np.ones((7, 5), np.uint8)

    def learn(self, frame_bgr: np.ndarray) -> None:
        """Update the background model with a frame."""
        small = cv2.resize(frame_bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        self._mask = self._mog.apply(small)

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """People in the frame (which must also have been passed to :meth:`learn`)."""
        if self._mask is None:
            self.learn(frame_bgr)
        blobs, groups = self._blobs(frame_bgr.shape)
        hog = self.hog.detect(frame_bgr)
        found: list[Detection] = []
        for group in groups:
            found += self._split(frame_bgr, group)
        for blob in blobs:
            support = [h for h in hog if _covers(h.box, blob)]
            score = 1.0 + max((h.score for h in support), default=0.0)
            found.append(Detection(blob, score, "motion+hog" if support else "motion"))
        for h in hog:
            if h.score >= self.strong_hog and not any(_covers(h.box, b) for b in blobs):
                found.append(h)
        return suppress(found, 0.5)

    def _split(self, frame_bgr: np.ndarray, group: Box) -> list[Detection]:
        """People inside a blob too wide for one person (walking side by side): HOG on the enlarged region."""
        x, y, w, h = expand(group, 0.25, frame_bgr.shape)
        scale = max(1.0, GROUP_HOG_HEIGHT / group[3])
        people = self.hog.detect(frame_bgr[y : y + h, x : x + w], upscale=scale)
        inside = []
        for person in people:
            px, py, pw, ph = person.box
            cx, cy = x + px + pw // 2, y + py + ph // 2
            if group[0] <= cx < group[0] + group[2] and group[1] <= cy < group[1] + group[3]:
                inside.append(Detection((x + px, y + py, pw, ph), 1.0 + person.score, "motion+hog"))
        return inside

    def _blobs(self, shape: tuple[int, ...]) -> tuple[list[Box], list[Box]]:
        """Foreground blobs shaped like one person, and blobs like people side by side."""
        assert self._mask is not None
        fg = np.where(self._mask == 255, 255, 0).astype(np.uint8)  # 127 = shadow
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel_open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._kernel_close)
        count, _, stats, _ = cv2.connectedComponentsWithStats(fg)
        min_h = self.min_height_fraction * shape[0]
        people: list[Box] = []
        groups: list[Box] = []
        for x, y, w, h, area in stats[1:count]:
            x, y, w, h = 2 * int(x), 2 * int(y), 2 * int(w), 2 * int(h)
            if h < min_h or 4 * area < 0.3 * w * h:
                continue
            box = (x, y, min(w, shape[1] - x), min(h, shape[0] - y))
            if 1.2 <= h / max(w, 1) <= 5.0:
                people.append(box)
            elif 0.5 <= h / max(w, 1) < 1.2:
                groups.append(box)
        return people, groups


def _covers(hog_box: Box, blob: Box) -> bool:
    """True when most of the blob lies inside the HOG window."""
    x = max(0, min(hog_box[0] + hog_box[2], blob[0] + blob[2]) - max(hog_box[0], blob[0]))
    y = max(0, min(hog_box[1] + hog_box[3], blob[1] + blob[3]) - max(hog_box[1], blob[1]))
    return x * y >= 0.6 * blob[2] * blob[3]
