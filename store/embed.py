"""Embeddings of person crops: CLIP (open_clip, local weights only) or a colour histogram.

Two embedding modes, each stored in its own Chroma collection so vectors never mix:

- ``clip-<model>-<dim>``: open_clip image and text encoders loaded from the local
  file of ``SIGHTLINE_CLIP_WEIGHTS``; text queries work, and zero-shot attribute
  scores (glasses, mask, gender, garments…) are computed from
  ``prompts/clip_attributes.toml``.
- ``hsvhist-512``: without weights, a deterministic HSV colour histogram of the
  crop's upper and lower halves (Hellinger-normalised), so image→image search
  and ranking still work; text queries and attribute scores are unavailable.

Nothing is ever downloaded: ``HF_HUB_OFFLINE`` is set before open_clip loads and
only an existing weights file is passed to it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import cv2
import numpy as np

from assistant.config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from store.onnx_clip import OnnxClipImageEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

PROMPTS_FILE = PROJECT_ROOT / "prompts" / "clip_attributes.toml"
NO_WEIGHTS_NOTICE = (
    "no CLIP weights configured (SIGHTLINE_CLIP_WEIGHTS) — semantic search disabled; "
    "region colours and metadata still work"
)
TINY_MODEL = "sightline-tiny"
TINY_MODEL_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
HIST_BINS = (16, 4, 4)  # hue, saturation, value per half of the crop
ClipBackend = Literal["torch", "onnx-int8"]


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or used; the message names the setting to fix."""


class Embedder(Protocol):
    """What ingest and search need from an embedding mode."""

    kind: str  # collection suffix: one per embedding kind and dimension
    dim: int
    semantic: bool  # text queries are possible
    judges_attributes: bool  # zero-shot attribute scores are meaningful

    def embed_images(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per crop."""
        ...

    def embed_text(self, text: str) -> np.ndarray | None:
        """L2-normalised vector of a description, or ``None`` when the mode has no text encoder."""
        ...

    def attribute_scores(self, image_vectors: np.ndarray) -> list[dict[str, float]]:
        """Per crop, probability of each attribute value (``{}`` when attributes cannot be judged)."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def colour_histogram(crop_bgr: np.ndarray) -> np.ndarray:
    """512-d HSV histogram (upper half ‖ lower half of the crop), Hellinger + L2 normalised."""
    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV)
    middle = max(1, hsv.shape[0] // 2)
    parts = []
    for half in (hsv[:middle], hsv[middle:] if hsv.shape[0] > 1 else hsv):
        hist = cv2.calcHist([half], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
        parts.append(np.sqrt(hist / max(float(hist.sum()), 1.0)))
    return l2_normalise(np.concatenate(parts)[None, :])[0]


class ColourHistogramEmbedder:
    """Deterministic embedding without model weights (image→image search, no text)."""

    kind = "hsvhist-512"
    dim = int(2 * np.prod(HIST_BINS))
    semantic = False
    judges_attributes = False

    def embed_images(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """One histogram per crop."""
        if not crops_bgr:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([colour_histogram(c) for c in crops_bgr])

    def embed_text(self, text: str) -> np.ndarray | None:
        """No text encoder in this mode."""
        return None

    def attribute_scores(self, image_vectors: np.ndarray) -> list[dict[str, float]]:
        """No attributes can be judged from a histogram."""
        return [{} for _ in range(len(image_vectors))]


class ClipModel:
    """An open_clip model + preprocessing + tokenizer, loaded once on first use (thread-safe)."""

    def __init__(self, name: str, weights: Path | None, threads: int | None = None) -> None:
        self.name = name
        self.weights = weights
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any] | None = None

    def load(self) -> tuple[Any, Any, Any]:
        """``(model, preprocess, tokenizer)``; random initialisation when ``weights`` is ``None``."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, Any]:
        if self.name.startswith(("hf-hub:", "local-dir:")):
            raise EmbeddingError(
                f"SIGHTLINE_CLIP_MODEL={self.name!r} would be fetched from a hub; use an architecture name "
                "such as ViT-B-32 and point SIGHTLINE_CLIP_WEIGHTS at a local weights file"
            )
        if self.weights is not None and not Path(self.weights).is_file():
            raise EmbeddingError(
                f"CLIP weights file {self.weights} does not exist; set SIGHTLINE_CLIP_WEIGHTS to a local "
                f"open_clip weights file for {self.name} (nothing is downloaded)"
            )
        import open_clip
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        if self.name not in open_clip.list_models():
            raise EmbeddingError(f"unknown open_clip architecture {self.name!r} (SIGHTLINE_CLIP_MODEL); e.g. ViT-B-32")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                self.name, pretrained=str(self.weights) if self.weights else None
            )
            tokenizer = open_clip.get_tokenizer(self.name)
        except (RuntimeError, OSError, ValueError) as err:  # incl. a hub fetch refused by HF_HUB_OFFLINE
            raise EmbeddingError(
                f"could not load CLIP model {self.name} with weights {self.weights}: {err}; check that "
                "SIGHTLINE_CLIP_WEIGHTS is a local weights file for SIGHTLINE_CLIP_MODEL (nothing is downloaded)"
            ) from err
        model.eval()
        return model, preprocess, tokenizer


class ClipImageEncoder:
    """CLIP image tower: BGR crops → L2-normalised vectors, in batches."""

    def __init__(self, model: ClipModel, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    def encode(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """One row per crop."""
        import torch
        from PIL import Image

        model, preprocess, _ = self.model.load()
        rows = []
        for i in range(0, len(crops_bgr), self.batch_size):
            batch = [
                preprocess(Image.fromarray(cv2.cvtColor(c, cv2.COLOR_BGR2RGB)))
                for c in crops_bgr[i : i + self.batch_size]
            ]
            with torch.inference_mode():
                rows.append(model.encode_image(torch.stack(batch)).float().numpy())
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(np.concatenate(rows))

    @property
    def dim(self) -> int:
        """Embedding width of the loaded model."""
        model, _, _ = self.model.load()
        return int(model.visual.output_dim)


class ClipTextEncoder:
    """CLIP text tower with a cache of encoded strings."""

    def __init__(self, model: ClipModel) -> None:
        self.model = model
        self._cached = lru_cache(maxsize=1024)(self._encode_one)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised row per text (cached)."""
        return np.stack([self._cached(t) for t in texts])

    def _encode_one(self, text: str) -> np.ndarray:
        import torch

        model, _, tokenizer = self.model.load()
        with torch.inference_mode():
            vector = model.encode_text(tokenizer([text])).float().numpy()
        return l2_normalise(vector)[0]


@lru_cache(maxsize=1)
def attribute_prompts(path: Path = PROMPTS_FILE) -> dict[str, dict[str, list[str]]]:
    """``{attribute: {value: [prompts]}}`` from ``prompts/clip_attributes.toml``."""
    with Path(path).open("rb") as handle:
        data = tomllib.load(handle)
    return {key: {str(v): list(p) for v, p in values.items()} for key, values in data["attributes"].items()}


class AttributeScorer:
    """Zero-shot attribute probabilities: softmax over each attribute's value prompts."""

    def __init__(self, text: ClipTextEncoder, prompts: dict[str, dict[str, list[str]]]) -> None:
        self.text = text
        self.prompts = prompts
        self._prototypes: dict[str, tuple[list[str], np.ndarray]] | None = None
        self._lock = threading.Lock()

    def _value_prototypes(self) -> dict[str, tuple[list[str], np.ndarray]]:
        with self._lock:
            if self._prototypes is None:
                self._prototypes = {}
                for key, values in self.prompts.items():
                    names = list(values)
                    means = np.stack([self.text.encode(values[v]).mean(axis=0) for v in names])
                    self._prototypes[key] = (names, l2_normalise(means))
            return self._prototypes

    def score(self, image_vectors: np.ndarray, logit_scale: float = 100.0) -> list[dict[str, float]]:
        """Per crop ``{"<attribute>=<value>": probability}``."""
        scores: list[dict[str, float]] = [{} for _ in range(len(image_vectors))]
        for key, (names, protos) in self._value_prototypes().items():
            logits = logit_scale * image_vectors @ protos.T
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            for row, p in zip(scores, probs, strict=True):
                row.update({f"{key}={name}": round(float(v), 4) for name, v in zip(names, p, strict=True)})
        return scores


class ClipEmbedder:
    """CLIP image + text encoders; attribute scores only with real (configured) weights."""

    semantic = True

    def __init__(
        self,
        name: str,
        weights: Path | None,
        *,
        threads: int | None = None,
        backend: ClipBackend = "torch",
        onnx_dir: Path | None = None,
    ) -> None:
        self.model = ClipModel(name, weights, threads)
        self.images: ClipImageEncoder | OnnxClipImageEncoder
        if backend == "onnx-int8":
            from store.onnx_clip import OnnxClipImageEncoder

            if onnx_dir is None:
                raise EmbeddingError("the onnx-int8 CLIP backend needs a cache directory for its ONNX file")
            self.images = OnnxClipImageEncoder(self.model, onnx_dir, threads=threads or 2)
        else:
            self.images = ClipImageEncoder(self.model)
        self.text = ClipTextEncoder(self.model)
        self.judges_attributes = weights is not None
        self.scorer = AttributeScorer(self.text, attribute_prompts()) if self.judges_attributes else None

    @property
    def dim(self) -> int:
        """Embedding width of the model."""
        return self.images.dim

    @property
    def kind(self) -> str:
        """Collection suffix, e.g. ``clip-ViT-B-32-512`` (random-init models get ``-random``)."""
        suffix = "" if self.judges_attributes else "-random"
        return f"clip-{self.model.name}-{self.dim}{suffix}"

    def embed_images(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """CLIP image vectors."""
        return self.images.encode(crops_bgr)

    def embed_text(self, text: str) -> np.ndarray | None:
        """CLIP text vector (cached)."""
        return self.text.encode([text])[0]

    def attribute_scores(self, image_vectors: np.ndarray) -> list[dict[str, float]]:
        """Zero-shot scores; ``{}`` per crop for random weights (they would be noise)."""
        if self.scorer is None:
            return [{} for _ in range(len(image_vectors))]
        return self.scorer.score(image_vectors)


def embedder_from_settings(settings: Settings) -> Embedder:
    """CLIP when ``clip_weights`` is set (image tower on ``clip_backend``), else the colour histogram + notice."""
    if settings.clip_weights is None:
        log.warning(NO_WEIGHTS_NOTICE)
        return ColourHistogramEmbedder()
    return ClipEmbedder(
        settings.clip_model,
        settings.clip_weights,
        backend=settings.clip_backend,
        onnx_dir=settings.data_dir / "models" / "clip-onnx",
    )


def register_tiny_model(directory: Path) -> str:
    """Register the tiny random-init test architecture with open_clip; returns its name."""
    import open_clip

    path = Path(directory) / f"{TINY_MODEL}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(TINY_MODEL_CONFIG), encoding="utf-8")
    if TINY_MODEL not in open_clip.list_models():
        open_clip.add_model_config(path)
    return TINY_MODEL
