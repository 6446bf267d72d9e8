"""Benchmark of the footage store: ingest throughput and filtered search latency/recall.

``.venv/bin/python -m bench.store`` (run from the repository root; ``--help`` for options).

- ingest: vtest.avi (Debian opencv-doc) — detector alone, each embedder alone
  (colour histogram, the tiny test CLIP, and the ViT-B-32 *architecture* randomly
  initialised — same compute as real weights, which are not installable here — on
  PyTorch and on onnxruntime int8, with their vectors' agreement), and end to end
  into a temporary embedded store.
- search: N synthetic 512-d vectors (clustered, L2-normalised) with realistic
  metadata (20 cameras, timestamps over 30 days); queries with a time window +
  camera filter; p50/p95 latency and recall@10 against exact brute force over
  the vectors that pass the same filter; embedded Chroma and a ``chroma run`` server.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import torch

from assistant.config import Settings
from assistant.filters import Filter
from assistant.registry import load_registry
from store.db import Store, connect, indexed_fields, where_from_filter
from store.demo import VTEST
from store.detect import MotionPersonDetector
from store.embed import ClipEmbedder, ColourHistogramEmbedder, Embedder, l2_normalise, register_tiny_model
from store.ingest import Ingestor, Source

TZ = ZoneInfo("Asia/Shanghai")
DAY0 = datetime(2021, 8, 9, tzinfo=TZ)
CAMERAS = 20
DAYS = 30
DIM = 512


class _Fixed:
    """An embedder stand-in that returns precomputed vectors (search benchmark only)."""

    kind, dim, semantic, judges_attributes = "bench-512", DIM, True, False

    def embed_images(self, crops):
        raise NotImplementedError

    def embed_text(self, text):
        raise NotImplementedError

    def attribute_scores(self, vectors):
        return [{} for _ in vectors]


def vtest_crops(seconds: float) -> tuple[list[np.ndarray], float, int]:
    """Crops of the first ``seconds`` of vtest.avi at 1 fps, detection seconds, frames examined."""
    capture = cv2.VideoCapture(str(VTEST))
    fps = capture.get(cv2.CAP_PROP_FPS)
    detector = MotionPersonDetector()
    crops: list[np.ndarray] = []
    spent, frames = 0.0, 0
    for index in range(int(seconds * fps)):
        ok, frame = capture.read()
        if not ok:
            break
        detector.learn(frame)
        if index % round(fps) == 0:
            began = time.perf_counter()
            boxes = [d.box for d in detector.detect(frame)]
            spent += time.perf_counter() - began
            frames += 1
            crops += [frame[y : y + h, x : x + w].copy() for x, y, w, h in boxes]
    return crops, spent, frames


def bench_ingest(seconds: float) -> list[str]:
    """Markdown rows: detector, embedders, end to end."""
    rows = ["| stage | crops | seconds | crops/s |", "|---|---|---|---|"]
    crops, spent, frames = vtest_crops(seconds)
    rows.append(
        f"| detector (MOG2 + HOG, {frames} frames of vtest.avi) | {len(crops)} | {spent:.2f} | "
        f"{len(crops) / spent:.1f} |"
    )
    scratch = Path(tempfile.mkdtemp())
    tiny = register_tiny_model(scratch)
    embedders: list[tuple[str, Embedder]] = [
        ("colour histogram (no weights)", ColourHistogramEmbedder()),
        ("tiny random open_clip (tests)", ClipEmbedder(tiny, None)),
        ("ViT-B-32 architecture, random init (= real-weights compute), torch", ClipEmbedder("ViT-B-32", None)),
        (
            "ViT-B-32 architecture, random init, onnx-int8",
            ClipEmbedder("ViT-B-32", None, backend="onnx-int8", onnx_dir=scratch / "clip-onnx"),
        ),
    ]
    vit_vectors = []
    for label, embedder in embedders:
        torch.manual_seed(0)  # both ViT-B-32 backends get the same random weights
        began = time.perf_counter()
        embedder.embed_images(crops[:2])  # load (and for ONNX export + quantise) outside the timing
        rows.append(f"| load: {label} | | {time.perf_counter() - began:.2f} | |")
        began = time.perf_counter()
        vectors = embedder.embed_images(crops)
        spent = time.perf_counter() - began
        rows.append(f"| embed: {label} | {len(crops)} | {spent:.2f} | {len(crops) / spent:.1f} |")
        if "ViT-B-32" in label:
            vit_vectors.append(vectors)
    torch.manual_seed(0)
    cached = ClipEmbedder("ViT-B-32", None, backend="onnx-int8", onnx_dir=scratch / "clip-onnx")
    began = time.perf_counter()
    cached.embed_images(crops[:2])
    rows.append(f"| load: ViT-B-32 onnx-int8 again, from its cached file | | {time.perf_counter() - began:.2f} | |")
    reference, quantised = vit_vectors
    agreement = np.sum(reference * quantised, axis=1)
    own = np.mean(np.argmax(quantised @ reference.T, axis=1) == np.arange(len(reference)))
    between = reference @ reference.T
    rows.append(
        f"| ViT-B-32 onnx-int8 vs torch: per-crop cosine min {agreement.min():.4f}, median "
        f"{np.median(agreement):.4f}; nearest torch vector is the crop's own for {own:.1%} "
        f"(torch cosine between different crops: median {np.median(between[~np.eye(len(between), dtype=bool)]):.3f}) "
        f"| {len(crops)} | | |"
    )
    settings = Settings()
    registry = load_registry(settings.registry_path)
    for label, embedder in embedders:
        with tempfile.TemporaryDirectory() as folder:
            store = Store(connect(Settings(data_dir=Path(folder))), embedder)
            ingestor = Ingestor(store, registry, Path(folder) / "thumbnails", progress=False, tz=TZ)
            summary = ingestor.run([Source(VTEST, "M3-GK-E3", DAY0, (0.0, seconds))])
            rows.append(
                f"| end to end (decode, detect, dedupe, colour, embed, thumbnails, Chroma): {label} | "
                f"{summary.crops_added} | {summary.seconds:.2f} | {summary.crops_added / summary.seconds:.1f} |"
            )
    return rows


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """Clustered unit vectors and crop-like metadata."""
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.normal(size=(max(8, n // 200), DIM)))
    labels = rng.integers(0, len(centres), n)
    vectors = l2_normalise(centres[labels] + 0.7 * rng.normal(size=(n, DIM)) / np.sqrt(DIM))
    seconds = rng.integers(0, DAYS * 86400, n)
    cameras = rng.integers(0, CAMERAS, n)
    base = int(DAY0.timestamp())
    metadata = [
        {**indexed_fields(f"CAM-{c:02d}", base + int(s)), "time": "", "thumbnail": ""}
        for c, s in zip(cameras, seconds, strict=True)
    ]
    return vectors, metadata


def queries(count: int, rng: np.random.Generator, vectors: np.ndarray, wide: bool) -> list[tuple[np.ndarray, Filter]]:
    """Query vectors near stored ones, each with a time window + cameras filter."""
    out = []
    for _ in range(count):
        vector = l2_normalise((vectors[rng.integers(len(vectors))] + 0.05 * rng.normal(size=DIM))[None])[0]
        day = int(rng.integers(0, DAYS - 7))
        start = DAY0 + timedelta(days=day, hours=0 if wide else int(rng.integers(0, 18)))
        end = start + (timedelta(days=7) if wide else timedelta(hours=6))
        cams = sorted({f"CAM-{c:02d}" for c in rng.choice(CAMERAS, 5 if wide else 2, replace=False)})
        current = Filter.from_data({"time": {"start": start.isoformat(), "end": end.isoformat()}, "cameras": cams})
        out.append((vector, current))
    return out


def exact(
    vectors: np.ndarray, stamps: np.ndarray, cameras: np.ndarray, vector: np.ndarray, current: Filter, k: int
) -> set[int]:
    """Brute-force top-k indices among the vectors that pass the filter."""
    assert current.time is not None
    lo, hi = int(current.time.start.timestamp()), int(current.time.end.timestamp())
    allowed = np.flatnonzero((stamps >= lo) & (stamps < hi) & np.isin(cameras, current.cameras))
    scores = vectors[allowed] @ vector
    return {int(allowed[i]) for i in np.argsort(-scores)[:k]}


def bench_search(client, n: int, count: int, label: str) -> list[str]:
    """Build a collection of n vectors in ``client`` and time filtered queries."""
    vectors, metadata = synthetic(n)
    stamps = np.array([m["ts"] for m in metadata])
    cameras = np.array([m["camera_id"] for m in metadata])
    store = Store(client, _Fixed())
    began = time.perf_counter()
    store.add([str(i) for i in range(n)], vectors, metadata)
    build = time.perf_counter() - began
    rows = []
    rng = np.random.default_rng(1)
    for wide in (False, True):
        latencies, recalls = [], []
        for vector, current in queries(count, rng, vectors, wide):
            truth = exact(vectors, stamps, cameras, vector, current, 10)
            began = time.perf_counter()
            found = store.query(vector, where_from_filter(current), 10)
            latencies.append(1000 * (time.perf_counter() - began))
            if truth:
                recalls.append(len(truth & {int(r.id) for r in found}) / len(truth))
        p50, p95 = np.percentile(latencies, [50, 95])
        scope = "5 cameras × 7 days (≈5.8 %)" if wide else "2 cameras × 6 h (≈0.08 %)"
        rows.append(f"| {label} | {n:,} | {build:.0f} s | {scope} | {p50:.1f} | {p95:.1f} | {np.mean(recalls):.3f} |")
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_client(path: Path) -> tuple[subprocess.Popen, object]:
    """Start ``chroma run`` on a free port and connect to it."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            client = connect(Settings(data_dir=path, chroma_url=f"http://127.0.0.1:{port}"))
            client.heartbeat()
            return process, client
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main() -> None:
    """Run the selected benchmarks and print markdown tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries per filter shape")
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of vtest.avi for the ingest bench")
    parser.add_argument("--skip", choices=["ingest", "embedded", "server"], nargs="*", default=[])
    args = parser.parse_args()
    if "ingest" not in args.skip:
        print("\n".join(bench_ingest(args.seconds)), flush=True)
    header = [
        "| store | vectors | build | filter (share of vectors) | p50 ms | p95 ms | recall@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n" + "\n".join(header), flush=True)
    for n in args.sizes:
        if "embedded" not in args.skip:
            with tempfile.TemporaryDirectory() as folder:
                print(
                    "\n".join(bench_search(connect(Settings(data_dir=Path(folder))), n, args.queries, "embedded")),
                    flush=True,
                )
        if "server" not in args.skip:
            with tempfile.TemporaryDirectory() as folder:
                process, client = server_client(Path(folder))
                try:
                    print("\n".join(bench_search(client, n, args.queries, "server (HTTP)")), flush=True)
                finally:
                    process.terminate()
                    process.wait(timeout=30)


if __name__ == "__main__":
    main()
