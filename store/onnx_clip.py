"""CLIP image tower on onnxruntime: exported once from the local model, int8-quantised, cached.

The open_clip visual tower of a :class:`store.embed.ClipModel` (the user's local weights
file, or a random initialisation) is exported to ONNX with a dynamic batch axis,
dynamically quantised to int8 (``onnxruntime.quantization.quantize_dynamic``) and
cached as ``<cache_dir>/<model>-<fingerprint>-<precision>.onnx``. The fingerprint is
the weights file's resolved path, size and mtime (or, for random weights, a hash of
the tower's parameters), so a changed weights file gets a fresh export. Files are
written to a temporary name and renamed, so a crash never leaves half a model; a
cached file onnxruntime cannot load is rebuilt once. Preprocessing is open_clip's own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from store.embed import ClipModel, EmbeddingError, l2_normalise

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "pixels"
OUTPUT_NAME = "embedding"


def weights_fingerprint(weights: Path) -> str:
    """Short stable key of a weights file: resolved path, size and modification time."""
    stat = weights.stat()
    text = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parameters_fingerprint(module: Any) -> str:
    """Short key of a torch module's parameters and buffers (for random-init models)."""
    digest = hashlib.blake2b(digest_size=8)
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def export_image_tower(model: Any, image_size: int, target: Path) -> None:
    """Write ``model.encode_image`` as an fp32 ONNX graph (input ``pixels`` N×3×S×S) to ``target``."""
    import torch

    class _ImageTower(torch.nn.Module):
        def __init__(self, clip: Any) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(pixels)

    example = torch.zeros(2, 3, image_size, image_size)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused attention op has no ONNX export
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants: expected
        try:
            torch.onnx.export(
                _ImageTower(model).eval(),
                (example,),
                str(target),
                dynamo=False,  # the TorchScript exporter needs no onnxscript
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
            )
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)


def quantise_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of an ONNX graph's weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


class OnnxClipImageEncoder:
    """CLIP image tower on onnxruntime (CPU): BGR crops → L2-normalised vectors, in batches.

    Same ``encode``/``dim`` interface as :class:`store.embed.ClipImageEncoder`; the ONNX
    file is built on first use (export + optional int8 quantisation) and reused after.
    """

    def __init__(
        self,
        model: ClipModel,
        cache_dir: Path,
        *,
        quantise: bool = True,
        threads: int = 2,
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.cache_dir = Path(cache_dir)
        self.quantise = quantise
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._session: Any = None
        self.path: Path | None = None

    @property
    def precision(self) -> str:
        """``int8`` or ``fp32``: part of the cached file's name."""
        return "int8" if self.quantise else "fp32"

    def cache_path(self) -> Path:
        """Where this model's ONNX file is (or will be) cached."""
        if self.model.weights is not None:
            fingerprint = weights_fingerprint(Path(self.model.weights))
        else:
            fingerprint = "random-" + parameters_fingerprint(self.model.load()[0].visual)
        safe_name = self.model.name.replace("/", "_")
        return self.cache_dir / f"{safe_name}-{fingerprint}-{self.precision}.onnx"

    def session(self) -> Any:
        """The onnxruntime session, building or loading the cached ONNX file once (thread-safe)."""
        with self._lock:
            if self._session is None:
                self._session = self._open()
            return self._session

    def _open(self) -> Any:
        self.model.load()  # fails with the setting to fix before anything is written
        path = self.cache_path()
        if path.is_file():
            try:
                return self._load(path)
            except EmbeddingError as err:
                log.warning("%s — rebuilding it now", err)
                path.unlink(missing_ok=True)
        self._build(path)
        return self._load(path)

    def _load(self, path: Path) -> Any:
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf, NoSuchFile

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except (Fail, InvalidGraph, InvalidProtobuf, NoSuchFile) as err:
            raise EmbeddingError(
                f"cached CLIP ONNX file {path} cannot be loaded ({type(err).__name__}: {err}); delete it "
                "to have it rebuilt from SIGHTLINE_CLIP_WEIGHTS"
            ) from err
        width = session.get_outputs()[0].shape[1]
        expected = int(self.model.load()[0].visual.output_dim)
        if width != expected:
            raise EmbeddingError(
                f"cached CLIP ONNX file {path} gives {width}-d vectors but {self.model.name} gives {expected}; "
                "delete it to have it rebuilt"
            )
        self.path = path
        return session

    def _build(self, path: Path) -> None:
        model, _, _ = self.model.load()
        size = _image_size(model)
        log.info("exporting the %s image encoder to ONNX (%s) at %s — once", self.model.name, self.precision, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as work:
                final = Path(work) / "fp32.onnx"
                export_image_tower(model, size, final)
                if self.quantise:
                    quantise_int8(final, Path(work) / "int8.onnx")
                    final = Path(work) / "int8.onnx"
                os.replace(final, path)
        except (RuntimeError, ValueError, OSError, ImportError) as err:
            raise EmbeddingError(
                f"could not export the {self.model.name} image encoder to ONNX in {path.parent}: {err}; "
                "check that directory (SIGHTLINE_DATA_DIR) or set SIGHTLINE_CLIP_BACKEND=torch"
            ) from err

    def encode(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """One row per crop."""
        if not crops_bgr:
            return np.zeros((0, self.dim), np.float32)
        session = self.session()
        _, preprocess, _ = self.model.load()
        from PIL import Image

        rows = []
        for i in range(0, len(crops_bgr), self.batch_size):
            pixels = np.stack(
                [
                    preprocess(Image.fromarray(cv2.cvtColor(c, cv2.COLOR_BGR2RGB))).numpy()
                    for c in crops_bgr[i : i + self.batch_size]
                ]
            )
            rows.append(session.run([OUTPUT_NAME], {INPUT_NAME: pixels.astype(np.float32)})[0])
        return l2_normalise(np.concatenate(rows))

    @property
    def dim(self) -> int:
        """Embedding width of the model."""
        return int(self.session().get_outputs()[0].shape[1])


def _image_size(model: Any) -> int:
    """Square input side of an open_clip visual tower."""
    size = model.visual.image_size
    return int(size[0] if isinstance(size, tuple | list) else size)
