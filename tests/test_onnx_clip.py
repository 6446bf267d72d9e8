"""The CLIP image encoder on onnxruntime: agreement with PyTorch, export cache, corrupt cache, settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from store.embed import (
    TINY_MODEL_CONFIG,
    ClipEmbedder,
    ClipImageEncoder,
    ClipModel,
    EmbeddingError,
    embedder_from_settings,
)
from store.onnx_clip import OnnxClipImageEncoder

# Measured with the tiny model (3 seeds, these 6 crops): per-crop cosine to PyTorch int8 ≥ 0.99985, fp32 1.0.
# Its crops are alike (cosine up to 0.995 between different crops), so agreement is also checked by rank.
INT8_MIN_COSINE = 0.999
FP32_MIN_COSINE = 0.99999


def register_multihead_tiny(folder: Path) -> str:
    """The tiny test architecture with two attention heads, as ViT-B-32 has several.

    With more than one head, PyTorch's eval-mode attention takes a fused fast path that
    the ONNX exporter cannot translate; the one-head tiny model would not catch that.
    """
    import open_clip

    config = json.loads(json.dumps(TINY_MODEL_CONFIG))
    config["vision_cfg"]["head_width"] = 32
    path = folder / "sightline-tiny-2heads.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    open_clip.add_model_config(path)
    return path.stem


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A local weights file for the tiny multi-head architecture, as a user would configure it."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny")
    name = register_multihead_tiny(folder)
    torch.manual_seed(0)
    weights = folder / "tiny.pt"
    torch.save(open_clip.create_model(name).state_dict(), weights)
    return name, weights


def crops() -> list[np.ndarray]:
    """Varied BGR crops: two-colour figures on grey, and noise, of different sizes."""
    rng = np.random.default_rng(7)
    out = []
    for top, bottom in [((255, 255, 255), (0, 0, 0)), ((0, 0, 255), (255, 0, 0)), ((0, 200, 0), (40, 40, 40))]:
        crop = np.full((120, 50, 3), 128, np.uint8)
        crop[10:60, 10:40] = top
        crop[60:115, 12:38] = bottom
        out.append(crop)
    out += [
        rng.integers(0, 256, (int(rng.integers(60, 200)), int(rng.integers(30, 90)), 3), np.uint8) for _ in range(3)
    ]
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two sets of unit vectors."""
    return np.sum(a * b, axis=1)


@pytest.mark.parametrize(("quantise", "bound"), [(True, INT8_MIN_COSINE), (False, FP32_MIN_COSINE)])
def test_onnx_vectors_agree_with_torch(
    tiny_weights: tuple[str, Path], tmp_path: Path, quantise: bool, bound: float
) -> None:
    name, weights = tiny_weights
    model = ClipModel(name, weights)
    reference = ClipImageEncoder(model).encode(crops())
    onnx = OnnxClipImageEncoder(model, tmp_path, quantise=quantise)
    vectors = onnx.encode(crops())
    assert vectors.shape == reference.shape and onnx.dim == reference.shape[1]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosines(vectors, reference).min() >= bound
    # each crop stays nearest to its own PyTorch vector, so the agreement is not a constant output
    assert (np.argmax(vectors @ reference.T, axis=1) == np.arange(len(reference))).all()


def test_export_is_cached_and_reused(tiny_weights: tuple[str, Path], tmp_path: Path) -> None:
    name, weights = tiny_weights
    first = OnnxClipImageEncoder(ClipModel(name, weights), tmp_path)
    expected = first.encode(crops())
    assert first.path is not None and first.path.parent == tmp_path and "int8" in first.path.name
    built = first.path.stat().st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary files left
    second = OnnxClipImageEncoder(ClipModel(name, weights), tmp_path)
    assert np.allclose(second.encode(crops()), expected, atol=1e-6)
    assert second.path == first.path and second.path.stat().st_mtime_ns == built


def test_changed_weights_file_gets_a_new_export(tiny_weights: tuple[str, Path], tmp_path: Path) -> None:
    name, weights = tiny_weights
    before = OnnxClipImageEncoder(ClipModel(name, weights), tmp_path).cache_path()
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert OnnxClipImageEncoder(ClipModel(name, weights), tmp_path).cache_path() != before


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_cached_file_is_rebuilt(tiny_weights: tuple[str, Path], tmp_path: Path, damage: str) -> None:
    name, weights = tiny_weights
    model = ClipModel(name, weights)
    built = OnnxClipImageEncoder(model, tmp_path)
    built.encode(crops()[:1])
    path = built.cache_path()
    content = path.read_bytes()
    path.write_bytes(b"not an onnx model" if damage == "garbage" else content[: len(content) // 2])
    encoder = OnnxClipImageEncoder(model, tmp_path)
    vectors = encoder.encode(crops())
    assert path.stat().st_size > 1000
    assert cosines(vectors, ClipImageEncoder(model).encode(crops())).min() >= INT8_MIN_COSINE


def test_random_weights_are_keyed_by_their_parameters(tmp_path: Path) -> None:
    name = register_multihead_tiny(tmp_path)
    one, two = ClipModel(name, None), ClipModel(name, None)  # two random initialisations
    assert OnnxClipImageEncoder(one, tmp_path).cache_path() != OnnxClipImageEncoder(two, tmp_path).cache_path()


def test_empty_batch(tiny_weights: tuple[str, Path], tmp_path: Path) -> None:
    name, weights = tiny_weights
    encoder = OnnxClipImageEncoder(ClipModel(name, weights), tmp_path)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_settings_select_the_onnx_backend(tiny_weights: tuple[str, Path], tmp_path: Path) -> None:
    name, weights = tiny_weights
    onnx = embedder_from_settings(Settings(data_dir=tmp_path, clip_model=name, clip_weights=weights))
    torch_backend = Settings(data_dir=tmp_path, clip_model=name, clip_weights=weights, clip_backend="torch")
    plain = embedder_from_settings(torch_backend)
    assert isinstance(onnx, ClipEmbedder) and isinstance(onnx.images, OnnxClipImageEncoder)
    assert isinstance(plain, ClipEmbedder) and isinstance(plain.images, ClipImageEncoder)
    vectors = onnx.embed_images(crops())
    assert list((tmp_path / "models" / "clip-onnx").glob("*.onnx"))
    assert onnx.kind == plain.kind  # same vector space: one collection, no re-ingest on a switch
    assert cosines(vectors, plain.embed_images(crops())).min() >= INT8_MIN_COSINE


def test_onnx_backend_without_a_cache_directory_is_refused(tiny_weights: tuple[str, Path]) -> None:
    name, weights = tiny_weights
    with pytest.raises(EmbeddingError, match="cache directory"):
        ClipEmbedder(name, weights, backend="onnx-int8")


def test_unwritable_cache_gives_an_error_naming_the_fix(tiny_weights: tuple[str, Path], tmp_path: Path) -> None:
    name, weights = tiny_weights
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    with pytest.raises(EmbeddingError, match="SIGHTLINE_CLIP_BACKEND=torch"):
        OnnxClipImageEncoder(ClipModel(name, weights), blocker / "clip-onnx").encode(crops())
