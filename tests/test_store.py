"""The footage store: ingest → Chroma → search, on synthetic video and a tiny random-init open_clip model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from assistant.config import Settings
from assistant.filters import Filter
from assistant.lexicon import note
from assistant.registry import Registry
from store.db import BUCKETS, Store, connect, indexed_fields, open_store, time_buckets, where_from_filter
from store.detect import MotionPersonDetector
from store.embed import (
    NO_WEIGHTS_NOTICE,
    ClipEmbedder,
    ColourHistogramEmbedder,
    EmbeddingError,
    embedder_from_settings,
    register_tiny_model,
)
from store.ingest import IngestError, Ingestor, Source, main, read_manifest
from store.search import search, similar

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2021, 9, 7, 8, 0, tzinfo=TZ)
WHITE_BLACK = ((255, 255, 255), (30, 30, 30))  # BGR upper, lower
RED_BLUE = ((0, 0, 220), (200, 80, 0))
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


# ---- synthetic footage: textured people walking over a fixed background ----


def _person(colours: tuple[tuple[int, int, int], tuple[int, int, int]], h: int = 90, w: int = 34) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 2], image[h // 2 :] = colours
    cv2.circle(image, (w // 2, h // 8), w // 4, (140, 170, 200), -1)
    image[::6] = (image[::6].astype(np.int16) * 7 // 10).astype(np.uint8)
    return image


def write_video(
    path: Path,
    people: list[tuple[tuple[tuple[int, int, int], tuple[int, int, int]], float]],
    seconds: float = 8,
    fps: int = 10,
    enter: float = 3.0,
) -> Path:
    """An MJPG .avi: background only until ``enter``, then each (colours, speed px/s) person walks."""
    size = (320, 240)
    background = cv2.GaussianBlur(np.random.default_rng(0).integers(60, 120, (240, 320, 3)).astype(np.uint8), (5, 5), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(int(seconds * fps)):
        frame = background.copy()
        t = i / fps
        for j, (colours, speed) in enumerate(people if t >= enter else []):
            body = _person(colours)
            x = int(20 + 150 * j + speed * (t - enter)) % (size[0] - body.shape[1])
            y = 100 + 20 * j
            frame[y : y + body.shape[0], x : x + body.shape[1]] = body
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> ClipEmbedder:
    """The tiny random-init open_clip architecture, through the real encoder classes."""
    return ClipEmbedder(register_tiny_model(tmp_path_factory.mktemp("clip")), None)


@pytest.fixture(scope="session")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic videos: a white-top walker, and a white-top + red-top pair."""
    folder = tmp_path_factory.mktemp("footage")
    write_video(folder / "one.avi", [(WHITE_BLACK, 25)])
    write_video(folder / "two.avi", [(WHITE_BLACK, 25), (RED_BLUE, 20)])
    return folder


def make_store(tmp_path: Path, embedder) -> Store:
    return Store(connect(Settings(data_dir=tmp_path)), embedder)


def make_ingestor(store: Store, registry: Registry, tmp_path: Path, batch_frames: int = 16) -> Ingestor:
    return Ingestor(store, registry, tmp_path / "thumbnails", 1.0, batch_frames, progress=False, tz=TZ)


def sources(footage: Path) -> list[Source]:
    return [
        Source(footage / "one.avi", "M3-GK-E3", T0),
        Source(footage / "two.avi", "M3-ZX-E3", T0 + timedelta(hours=1)),
        Source(footage / "two.avi", "NS-GATE-N", T0 + timedelta(days=1)),
    ]


def window(start: datetime, minutes: float) -> dict:
    end = start + timedelta(minutes=minutes)
    return {"start": start.isoformat(), "end": end.isoformat()}


@pytest.fixture
def filled(tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder) -> Store:
    store = make_store(tmp_path, tiny_clip)
    summary = make_ingestor(store, registry, tmp_path).run(sources(footage))
    assert summary.problems == [] and summary.crops_added > 0
    return store


# ---- the Filter → where translation ----


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0, T0 + timedelta(hours=6)),  # a day part
        (T0 - timedelta(hours=8), T0 + timedelta(hours=16)),  # a whole local day
        (T0 + timedelta(minutes=29, seconds=17), T0 + timedelta(days=3, seconds=5)),  # ragged ends
        (T0, T0 + timedelta(seconds=1)),
    ],
)
def test_time_buckets_cover_the_half_open_window_exactly(start: datetime, end: datetime) -> None:
    lo, hi = int(start.timestamp()), int(end.timestamp())
    seconds: list[int] = []
    for name, size in BUCKETS:
        for bucket in time_buckets(lo, hi).get(name, []):
            seconds.extend(range(bucket * size, (bucket + 1) * size))
    assert sorted(seconds) == list(range(lo, hi))


def test_where_matches_a_crop_by_its_indexed_fields() -> None:
    """Evaluate the translated ``where`` on a crop's fields (Chroma's semantics for $and/$or/$in/$contains)."""

    def matches(where: dict, fields: dict) -> bool:
        (key, condition), = where.items()
        if key == "$and":
            return all(matches(w, fields) for w in condition)
        if key == "$or":
            return any(matches(w, fields) for w in condition)
        (op, value), = condition.items()
        have = fields.get(key)
        return {
            "$in": lambda: have in value,
            "$contains": lambda: value in (have or []),
            "$gte": lambda: have >= value,
            "$lt": lambda: have < value,
        }[op]()

    current = Filter.from_data(
        {"time": window(T0, 90), "cameras": ["M3-ZX-E3", "M3-GK-E3"], "attributes": {"upper_color": ["white", "gray"]}}
    )
    where = where_from_filter(current)
    inside = int(T0.timestamp())
    white = {"upper_colours": ["blue", "white"]}
    assert matches(where, {**indexed_fields("M3-GK-E3", inside), **white})
    assert matches(where, {**indexed_fields("M3-ZX-E3", inside + 90 * 60 - 1), **white})
    assert not matches(where, {**indexed_fields("M3-ZX-E3", inside + 90 * 60), **white})  # end is excluded
    assert not matches(where, {**indexed_fields("M3-ZX-E3", inside - 1), **white})
    assert not matches(where, {**indexed_fields("M3-ZX-E1", inside), **white})
    assert not matches(where, {**indexed_fields("M3-GK-E3", inside), "upper_colours": ["red"]})
    assert matches(where_from_filter(current, without=["upper_color", "cameras"]), indexed_fields("X", inside))


def test_where_is_none_without_hard_constraints() -> None:
    assert where_from_filter(Filter.from_data({"attributes": {"glasses": True}})) is None


# ---- ingest + search ----


def test_time_and_camera_filters_return_exactly_the_crops_inside(filled: Store) -> None:
    everything = filled.get()
    start = T0 + timedelta(hours=1)
    current = Filter.from_data({"time": window(start, 0.1), "cameras": ["M3-ZX-E3", "M3-GK-E3"]})
    expected = {
        r.id
        for r in everything
        if r.metadata["camera_id"] in current.cameras and start.timestamp() <= r.metadata["ts"] < start.timestamp() + 6
    }
    result = search(current, k=1000, store=filled)
    assert expected and len(expected) < len(everything)
    assert {h.id for h in result.hits} == expected
    assert all(Path(h.thumbnail).is_file() and h.camera_id == "M3-ZX-E3" for h in result.hits)


def test_text_query_ranks_within_the_filter(filled: Store) -> None:
    current = Filter.from_data({"cameras": ["NS-GATE-N"], "description": "a person in a white top"})
    result = search(current, k=5, store=filled)
    assert 0 < len(result.hits) <= 5 and result.notes == []
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert all(h.camera_id == "NS-GATE-N" and any("similarity" in w for w in h.why) for h in result.hits)


def test_colour_constraint_keeps_crops_with_that_region_colour(filled: Store) -> None:
    result = search(Filter.from_data({"attributes": {"upper_color": ["red"]}}), k=1000, store=filled)
    assert result.hits, result.notes
    assert all("red" in h.metadata["upper_colours"] for h in result.hits)
    assert {h.camera_id for h in result.hits} <= {"M3-ZX-E3", "NS-GATE-N"}  # only two.avi has a red top


def test_reingest_is_idempotent(tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder) -> None:
    store = make_store(tmp_path, tiny_clip)
    first = make_ingestor(store, registry, tmp_path).run(sources(footage))
    ids = {r.id for r in store.get()}
    again = make_ingestor(store, registry, tmp_path).run(sources(footage))
    assert again.crops_added == 0 and again.already_done == 3
    assert {r.id for r in store.get()} == ids and len(ids) == first.crops_added


def test_configuring_clip_later_fills_the_clip_collection_too(
    tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder
) -> None:
    job = [Source(footage / "one.avi", "M3-GK-E3", T0)]
    histogram = make_store(tmp_path, ColourHistogramEmbedder())
    first = make_ingestor(histogram, registry, tmp_path).run(job)
    clip = Store(histogram.client, tiny_clip)
    second = make_ingestor(clip, registry, tmp_path).run(job)
    assert second.already_done == 0 and second.crops_added == first.crops_added == clip.count() > 0
    assert {r.id for r in clip.get()} == {r.id for r in histogram.get()}


def test_mixed_directory_reports_bad_files_and_keeps_good_ones(
    tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(footage / "one.avi", folder / "good.avi")
    cv2.imwrite(str(folder / "street.jpg"), np.full((240, 320, 3), 90, np.uint8))
    (folder / "corrupt.mp4").write_bytes(os.urandom(4096))
    (folder / "empty.avi").write_bytes(b"")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not media")
    store = make_store(tmp_path, tiny_clip)
    summary = make_ingestor(store, registry, tmp_path).run([Source(folder, "TD-PLAZA", T0)])
    reasons = {Path(p).name: r for p, r in summary.problems}
    assert set(reasons) == {"corrupt.mp4", "empty.avi", "broken.jpg", "notes.txt"}
    assert "empty" in reasons["empty.avi"] and "not an image or video" in reasons["notes.txt"]
    assert summary.crops_added > 0 and store.count() == summary.crops_added


class _Interrupting:
    """Wraps an embedder and simulates Ctrl-C on its n-th call."""

    def __init__(self, inner: ClipEmbedder, fail_on_call: int) -> None:
        self.inner, self.fail_on_call, self.calls, self.crops = inner, fail_on_call, 0, 0
        self.kind, self.dim, self.semantic, self.judges_attributes = inner.kind, inner.dim, True, False

    def embed_images(self, crops):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        self.crops += len(crops)
        return self.inner.embed_images(crops)

    def embed_text(self, text):
        return self.inner.embed_text(text)

    def attribute_scores(self, vectors):
        return self.inner.attribute_scores(vectors)


def test_interrupted_ingest_resumes_where_it_stopped(
    tmp_path: Path, registry: Registry, tiny_clip: ClipEmbedder
) -> None:
    # one person stands still across the interruption (dedupe must still hold), one walks
    video = write_video(tmp_path / "mixed.avi", [(WHITE_BLACK, 0), (RED_BLUE, 25)], seconds=20, enter=16.0)
    job = [Source(video, "M3-ZX-E3", T0)]
    reference = make_store(tmp_path / "reference", tiny_clip)
    make_ingestor(reference, registry, tmp_path / "reference", batch_frames=2).run(job)

    interrupted = _Interrupting(tiny_clip, fail_on_call=2)
    store = make_store(tmp_path / "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_ingestor(store, registry, tmp_path / "run", batch_frames=2).run(job)
    partial = store.count()
    assert 0 < partial < reference.count()

    resumed = _Interrupting(tiny_clip, fail_on_call=0)
    store.embedder = resumed
    summary = make_ingestor(store, registry, tmp_path / "run", batch_frames=2).run(job)
    assert resumed.crops == summary.crops_added == reference.count() - partial
    assert {r.id for r in store.get()} == {r.id for r in reference.get()}


def test_standing_person_is_stored_once_per_stay(tmp_path: Path, registry: Registry, tiny_clip: ClipEmbedder) -> None:
    # enters once the background model has settled (after its fast-learning start), then stands still
    video = write_video(tmp_path / "standing.avi", [(WHITE_BLACK, 0)], seconds=20, enter=16.0)
    store = make_store(tmp_path, tiny_clip)
    summary = make_ingestor(store, registry, tmp_path).run([Source(video, "RS-HALL", T0)])
    assert summary.detections >= 2
    assert summary.crops_added == 1 and summary.duplicates == summary.detections - 1


def test_empty_result_names_the_constraint_that_emptied_it(filled: Store) -> None:
    wrong_day = Filter.from_data({"time": window(T0 - timedelta(days=3), 600), "cameras": ["M3-GK-E3"]})
    result = search(wrong_day, store=filled)
    assert result.hits == []
    assert any("without the time window" in n for n in result.notes)
    assert not any("without the cameras" in n for n in result.notes)

    no_footage_there = Filter.from_data({"time": window(T0, 60), "cameras": ["HOSP-ER"]})
    notes = search(no_footage_there, store=filled).notes
    assert any("without the cameras (HOSP-ER)" in n for n in notes)


def test_empty_store_says_so(tmp_path: Path, tiny_clip: ClipEmbedder) -> None:
    result = search(Filter(), store=make_store(tmp_path, tiny_clip))
    assert result.hits == [] and "python -m store.ingest" in result.notes[0]


@pytest.mark.parametrize("kind", ["clip", "histogram"])
def test_similar_ranks_the_same_person_first_within_the_filter(
    kind: str, tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder
) -> None:
    store = make_store(tmp_path, tiny_clip if kind == "clip" else ColourHistogramEmbedder())
    make_ingestor(store, registry, tmp_path).run(
        [Source(footage / "one.avi", "M3-GK-E3", T0), Source(footage / "two.avi", "M3-ZX-E3", T0)]
    )
    red = [r for r in store.get() if (r.metadata.get("upper_colours") or [""])[0] == "red"]
    assert red, "the red-top walker was not detected"
    everywhere = similar(red[0].id, k=3, store=store)
    assert red[0].id not in {h.id for h in everywhere.hits}
    if kind == "histogram":  # colour histograms make "same clothes" the nearest; random CLIP need not
        assert all(h.metadata["upper_primary"] == "red" for h in everywhere.hits)
    within = similar(red[0].id, Filter.from_data({"cameras": ["M3-GK-E3"]}), store=store)
    assert within.hits and {h.camera_id for h in within.hits} == {"M3-GK-E3"}


def test_image_query_returns_the_crop_with_those_pixels_first(
    tmp_path: Path, registry: Registry, footage: Path
) -> None:
    store = make_store(tmp_path, ColourHistogramEmbedder())
    make_ingestor(store, registry, tmp_path).run([Source(footage / "two.avi", "M3-ZX-E3", T0)])
    capture = cv2.VideoCapture(str(footage / "two.avi"))
    for target in store.get():
        capture.set(cv2.CAP_PROP_POS_FRAMES, target.metadata["frame"])
        ok, frame = capture.read()
        x, y, w, h = (int(v) for v in target.metadata["bbox"].split(","))
        best = search(Filter(), image=frame[y : y + h, x : x + w], k=1, store=store).hits[0]
        assert ok and best.id == target.id and best.score == pytest.approx(1.0, abs=1e-4)


# ---- embedding modes and what each can judge ----


def test_no_weights_means_histogram_mode_with_a_notice(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING):
        embedder = embedder_from_settings(Settings(data_dir=tmp_path, clip_weights=None))
    assert isinstance(embedder, ColourHistogramEmbedder) and NO_WEIGHTS_NOTICE in caplog.text


def test_histogram_mode_says_which_constraints_it_could_not_apply(
    tmp_path: Path, registry: Registry, footage: Path
) -> None:
    store = make_store(tmp_path, ColourHistogramEmbedder())
    make_ingestor(store, registry, tmp_path).run([Source(footage / "one.avi", "M3-GK-E3", T0)])
    current = Filter.from_data({"attributes": {"glasses": True, "mask": True}, "description": "woman in white"})
    result = search(current, store=store)
    assert result.hits
    assert any("description" in n and "SIGHTLINE_CLIP_WEIGHTS" in n for n in result.notes)
    assert any(n.startswith("glasses, mask not applied") for n in result.notes)
    assert all(h.metadata["judged"] == ["colour"] for h in result.hits)


def test_configured_weights_record_attribute_scores(
    tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder
) -> None:
    import open_clip
    import torch

    weights = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model(tiny_clip.model.name).state_dict(), weights)
    settings = Settings(data_dir=tmp_path, clip_model=tiny_clip.model.name, clip_weights=weights)
    embedder = embedder_from_settings(settings)
    store = make_store(tmp_path, embedder)
    make_ingestor(store, registry, tmp_path).run([Source(footage / "one.avi", "M3-GK-E3", T0)])
    record = store.get()[0]
    assert record.metadata["judged"] == ["colour", "attributes"]
    assert record.metadata["p:glasses=true"] + record.metadata["p:glasses=false"] == pytest.approx(1, abs=1e-3)
    result = search(Filter.from_data({"attributes": {"glasses": True}}), store=store)
    assert result.hits and result.notes == []


@pytest.mark.parametrize(
    ("model", "weights", "message"),
    [("ViT-B-32", "/nonexistent/clip.bin", "SIGHTLINE_CLIP_WEIGHTS"), ("hf-hub:org/model", None, "hub")],
)
def test_clip_never_downloads(model: str, weights: str | None, message: str) -> None:
    embedder = ClipEmbedder(model, Path(weights) if weights else None)
    with pytest.raises(EmbeddingError, match=message):
        embedder.embed_text("a person")
    assert os.environ["HF_HUB_OFFLINE"] == "1"


# ---- command line and manifest ----


def test_unknown_camera_is_a_clear_error(capsys: pytest.CaptureFixture[str], footage: Path) -> None:
    assert main(["--camera", "NO-SUCH-CAM", "--start", "2021-09-07T08:00:00", str(footage / "one.avi")]) == 2
    assert "unknown camera id(s) NO-SUCH-CAM" in capsys.readouterr().err


def test_cli_ingests_a_video_and_reports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, footage: Path
) -> None:
    from assistant.config import get_settings

    monkeypatch.setenv("SIGHTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SIGHTLINE_CLIP_WEIGHTS", raising=False)
    monkeypatch.delenv("SIGHTLINE_CHROMA_URL", raising=False)
    get_settings.cache_clear()
    try:
        args = ["--camera", "M3-GK-E3", "--start", "2021-09-07T08:00:00", "--no-progress", str(footage / "one.avi")]
        assert main(args) == 0
        first = capsys.readouterr().out
        assert main(args) == 0
        again = capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    stored = int(first.split("crops stored: ")[1].split(" new")[0])
    assert stored > 0 and len(list((tmp_path / "thumbnails" / "M3-GK-E3").glob("*.jpg"))) == stored
    assert "1 already complete" in again and "crops stored: 0 new" in again


def test_demo_without_vtest_says_how_to_install_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from store.demo import main as demo_main

    assert demo_main(["--video", str(tmp_path / "missing.avi"), "--no-progress"]) == 2
    assert "apt-get install opencv-doc" in capsys.readouterr().err


def test_demo_segments_put_metro_exit_3_on_the_seed_morning(registry: Registry) -> None:
    from store.demo import demo_sources

    morning = (datetime(2021, 9, 7, 6, tzinfo=TZ), datetime(2021, 9, 7, 12, tzinfo=TZ))
    chosen = demo_sources(VTEST, TZ)
    assert {s.camera_id for s in chosen} <= registry.ids
    assert {s.camera_id for s in chosen if s.start and morning[0] <= s.start < morning[1]} == {"M3-GK-E3", "M3-ZX-E3"}


def test_manifest_csv_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,camera_id,start,from,to\nclips/a.mp4,TD-PLAZA,2021-09-07T08:00:00,10,20\n")
    row = {"path": "/abs/b.jpg", "camera_id": "RS-HALL", "start": "2021-09-07T09:00:00+00:00"}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    (csv_source,) = read_manifest(tmp_path / "m.csv", TZ)
    assert csv_source == Source(tmp_path / "clips/a.mp4", "TD-PLAZA", T0, (10.0, 20.0))
    (jsonl_source,) = read_manifest(tmp_path / "m.jsonl", TZ)
    assert jsonl_source.start == datetime(2021, 9, 7, 17, tzinfo=TZ) and jsonl_source.span is None
    with pytest.raises(IngestError, match="ISO 8601"):
        (tmp_path / "bad.csv").write_text("path,camera_id,start\na.mp4,RS-HALL,yesterday\n")
        read_manifest(tmp_path / "bad.csv", TZ)


# ---- detector on real footage ----


def test_motion_detector_finds_the_walkers_of_vtest() -> None:
    assert VTEST.exists(), "install Debian's opencv-doc (vtest.avi)"
    capture = cv2.VideoCapture(str(VTEST))
    detector = MotionPersonDetector()
    for _ in range(201):
        ok, frame = capture.read()
        assert ok
        detector.learn(frame)
    found = detector.detect(frame)
    # frame 200: seven people, two of them side by side far away (see bench/RESULTS.md "## Store")
    assert 5 <= len(found) <= 8
    assert all(1.2 <= d.box[3] / d.box[2] <= 5 for d in found)


# ---- a real `chroma run` server ----


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.server
def test_http_client_against_a_chroma_server(
    tmp_path: Path, registry: Registry, footage: Path, tiny_clip: ClipEmbedder
) -> None:
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings = Settings(data_dir=tmp_path, chroma_url=f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                client = connect(settings)
                client.heartbeat()
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, "chroma server did not start"
                time.sleep(0.5)
        store = Store(client, tiny_clip)
        summary = make_ingestor(store, registry, tmp_path).run([Source(footage / "two.avi", "M3-ZX-E3", T0)])
        assert summary.crops_added > 0 and not (tmp_path / "chroma").exists()
        result = search(Filter.from_data({"time": window(T0, 1), "cameras": ["M3-ZX-E3"]}), k=1000, store=store)
        assert len(result.hits) == summary.crops_added
        assert similar(result.hits[0].id, store=store).hits
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_notes_are_in_the_officers_language(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    assert search(Filter(), store=store, lang="zh").notes == [note("zh", "store_empty")]
    assert "检索库中还没有图像" in search(Filter(), store=store, lang="zh").notes[0]
    assert "the store has no crops yet" in search(Filter(), store=store).notes[0]
