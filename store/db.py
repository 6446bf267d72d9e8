"""The Chroma side of the store: client, collections, records, and THE Filter → ``where`` translation.

Embedded ``PersistentClient`` at ``Settings.chroma_path`` by default; with
``SIGHTLINE_CHROMA_URL`` an ``HttpClient`` to a ``chroma run`` server. Crops live
in one collection per embedding kind (``crops-<kind>``, cosine space) so vectors
of different models or dimensions never mix; ingest progress per source lives in
``ingest-sources``.

Crop metadata (one flat Chroma record per crop):

=================  =========================================================
``schema``         metadata version (``SCHEMA``)
``camera_id``      registry id; ``area`` its area
``ts`` / ``time``  integer epoch seconds (filterable) / ISO 8601 with offset
``t_<b>``          time bucket ``ts // size`` for b in day, hour, min, sec (sec = ts);
``cam_<b>``        the same prefixed by the camera, "M3-GK-E3@18877" (see ``indexed_fields``)
``source``         media file; ``frame`` index in it; ``bbox`` "x,y,w,h"
``thumbnail``      path of the JPEG crop
``upper_colours``  region colours, primary first (list; ``$contains`` filter);
``lower_colours``  ``upper_primary`` / ``lower_primary`` the first of each
``judged``         what could be judged for this crop: ``colour``, ``attributes``
``p:<key>=<val>``  zero-shot probability of an attribute value (CLIP weights only)
=================  =========================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assistant.config import Settings
from assistant.filters import Filter
from store.embed import Embedder

SOURCES_COLLECTION = "ingest-sources"
SCHEMA = 2  # version of the crop metadata; ingest rewrites crops stored under an older one
COLOUR_FIELDS = {"upper_color": "upper_colours", "lower_color": "lower_colours"}
HARD_CONSTRAINTS = ("time", "cameras", "upper_color", "lower_color")
BUCKETS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))  # time buckets of a crop, in seconds
EXACT_LIMIT = 1000  # filtered sets up to this size are ranked exactly (see Store.query)
MAX_BUCKET_TERMS = 20_000  # beyond this many $in values a window falls back to a plain range


class StoreError(RuntimeError):
    """The Chroma store cannot be reached or used; the message says what to check."""


@dataclass(frozen=True)
class Record:
    """One stored crop: id, metadata, and (for queries) cosine distance or (on request) its vector."""

    id: str
    metadata: dict[str, Any]
    distance: float | None = None
    vector: np.ndarray | None = None


def where_from_filter(current: Filter, without: Iterable[str] = ()) -> dict[str, Any] | None:
    """THE translation of a :class:`Filter` into a Chroma ``where`` (``None`` = no constraint).

    Hard constraints: the time window (``ts`` in ``[start, end)``), the cameras
    (``camera_id $in``), and the upper/lower colours (any requested colour among the
    crop's region colours). ``without`` leaves named constraints out (see
    ``HARD_CONSTRAINTS``), used to explain an empty result. Other attributes are
    not filters: they re-rank (see ``store.search``).

    The window is written as an exact cover of aligned day/hour/minute/second
    buckets (``$in`` on indexed equality fields, combined with the camera when
    there is one): Chroma's SQLite evaluates each side of ``ts >= a AND ts < b``
    separately, which costs ~0.3 s at 100k crops, while bucket lookups stay small.
    """
    skip = set(without)
    clauses: list[dict[str, Any]] = []
    window = current.time if "time" not in skip else None
    cameras = list(current.cameras) if "cameras" not in skip else []
    if window is not None:
        start, end = math.ceil(window.start.timestamp()), math.ceil(window.end.timestamp())
        clauses.append(_time_clause(start, end, cameras))
    elif cameras:
        clauses.append({"camera_id": {"$in": cameras}})
    for key, field in COLOUR_FIELDS.items():
        colours = getattr(current.attributes, key)
        if colours and key not in skip:
            options = [{field: {"$contains": c}} for c in colours]
            clauses.append(options[0] if len(options) == 1 else {"$or": options})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def time_buckets(start: int, end: int) -> dict[str, list[int]]:
    """The fewest aligned day/hour/minute/second buckets that cover ``[start, end)`` exactly."""
    cover: dict[str, list[int]] = {name: [] for name, _ in BUCKETS}

    def fill(lo: int, hi: int, level: int) -> None:
        name, size = BUCKETS[level]
        first, last = -(-lo // size), hi // size
        if first >= last:
            fill(lo, hi, level + 1)
            return
        cover[name].extend(range(first, last))
        for a, b in ((lo, first * size), (last * size, hi)):
            if a < b:
                fill(a, b, level + 1)

    if start < end:
        fill(start, end, 0)
    return {name: values for name, values in cover.items() if values}


def _time_clause(start: int, end: int, cameras: list[str]) -> dict[str, Any]:
    buckets = time_buckets(start, end)
    size = sum(len(v) for v in buckets.values()) * max(1, len(cameras))
    if not buckets or size > MAX_BUCKET_TERMS:  # empty or very long windows: plain range
        plain: list[dict[str, Any]] = [{"ts": {"$gte": start}}, {"ts": {"$lt": end}}]
        if cameras:
            plain.append({"camera_id": {"$in": cameras}})
        return {"$and": plain}
    if cameras:
        options = [
            {f"cam_{name}": {"$in": [f"{c}@{v}" for c in cameras for v in values]}} for name, values in buckets.items()
        ]
    else:
        options = [{f"t_{name}": {"$in": values}} for name, values in buckets.items()]
    return options[0] if len(options) == 1 else {"$or": options}


def indexed_fields(camera_id: str, ts: int) -> dict[str, Any]:
    """The filterable fields of a crop seen by ``camera_id`` at epoch second ``ts``."""
    fields: dict[str, Any] = {"schema": SCHEMA, "camera_id": camera_id, "ts": ts}
    for name, size in BUCKETS:
        fields[f"t_{name}"] = ts // size
        fields[f"cam_{name}"] = f"{camera_id}@{ts // size}"
    return fields


def connect(settings: Settings) -> Any:
    """A Chroma client: HTTP when ``chroma_url`` is set, else embedded at ``chroma_path``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise StoreError(f"SIGHTLINE_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as err:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {err}; start it with "
                "`chroma run --path DIR` or unset SIGHTLINE_CHROMA_URL to use the embedded store"
            ) from err
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def collection_name(kind: str) -> str:
    """Chroma-safe collection name for an embedding kind."""
    return "crops-" + re.sub(r"[^A-Za-z0-9._-]", "_", kind)


class Store:
    """The crops collection of one embedding kind (with its embedder) and the ingest ledger."""

    def __init__(self, client: Any, embedder: Embedder) -> None:
        self.client = client
        self.embedder = embedder
        self.crops = client.get_or_create_collection(
            collection_name(embedder.kind),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_kind": embedder.kind, "dim": embedder.dim},
            embedding_function=None,
        )
        self.sources = client.get_or_create_collection(
            SOURCES_COLLECTION, configuration={"hnsw": {"space": "l2"}}, embedding_function=None
        )
        self._batch = int(client.get_max_batch_size())

    def count(self, where: dict[str, Any] | None = None) -> int:
        """Number of crops (matching ``where``)."""
        if where is None:
            return int(self.crops.count())
        return len(self.crops.get(where=where, include=[])["ids"])

    def existing(self, ids: Sequence[str]) -> set[str]:
        """The subset of ``ids`` already stored with the current metadata ``SCHEMA``."""
        found: set[str] = set()
        for i in range(0, len(ids), self._batch):
            stored = self.crops.get(ids=list(ids[i : i + self._batch]), include=["metadatas"])
            found.update(
                k for k, m in zip(stored["ids"], stored["metadatas"], strict=True) if (m or {}).get("schema") == SCHEMA
            )
        return found

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Upsert crops in batches the client accepts."""
        for i in range(0, len(ids), self._batch):
            j = i + self._batch
            self.crops.upsert(ids=list(ids[i:j]), embeddings=vectors[i:j], metadatas=list(metadatas[i:j]))

    def query(self, vector: np.ndarray, where: dict[str, Any] | None, k: int) -> list[Record]:
        """Nearest ``k`` crops to ``vector`` among those matching ``where``.

        A selective filter (at most ``EXACT_LIMIT`` crops) is ranked exactly here from the
        stored vectors: Chroma's filtered HNSW query costs ~0.1–0.2 s at 100k crops even
        when a few dozen crops pass; wider filters use it.
        """
        if where is not None:
            allowed = self.crops.get(where=where, limit=EXACT_LIMIT + 1, include=[])["ids"]
            if len(allowed) <= EXACT_LIMIT:
                return self._exact(vector, allowed, k)
        result = self.crops.query(
            query_embeddings=[vector], n_results=k, where=where, include=["metadatas", "distances"]
        )
        return [
            Record(i, dict(m or {}), float(d))
            for i, m, d in zip(result["ids"][0], result["metadatas"][0], result["distances"][0], strict=True)
        ]

    def _exact(self, vector: np.ndarray, ids: list[str], k: int) -> list[Record]:
        """Exact cosine ranking of ``ids`` (vectors are unit length), metadata fetched for the top ``k``."""
        if not ids:
            return []
        stored = self.crops.get(ids=ids, include=["embeddings"])
        similarity = np.asarray(stored["embeddings"], np.float32) @ np.asarray(vector, np.float32)
        order = np.argsort(-similarity, kind="stable")[:k]
        top = [stored["ids"][i] for i in order]
        found = self.crops.get(ids=top, include=["metadatas"])
        metadata = dict(zip(found["ids"], found["metadatas"], strict=True))
        return [Record(i, dict(metadata[i] or {}), float(1.0 - similarity[j])) for i, j in zip(top, order, strict=True)]

    def get(
        self,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        ids: Sequence[str] | None = None,
        vectors: bool = False,
    ) -> list[Record]:
        """Crops matching ``where`` (and/or ``ids``) with their metadata (and vectors), unranked."""
        result = self.crops.get(
            ids=list(ids) if ids is not None else None,
            where=where,
            limit=limit,
            include=["metadatas", "embeddings"] if vectors else ["metadatas"],
        )
        rows = result["embeddings"] if vectors else None
        rows = rows if rows is not None else [None] * len(result["ids"])
        return [
            Record(i, dict(m or {}), None, None if v is None else np.asarray(v, np.float32))
            for i, m, v in zip(result["ids"], result["metadatas"], rows, strict=True)
        ]

    def source_state(self, key: str) -> dict[str, Any] | None:
        """Ingest progress of a source (``status``, ``next_frame``, …) or ``None`` if never seen."""
        found = self.sources.get(ids=[key], include=["metadatas"])
        return dict(found["metadatas"][0]) if found["ids"] else None

    def set_source_state(self, key: str, state: dict[str, Any]) -> None:
        """Record ingest progress of a source (a 1-d placeholder vector: the ledger is not searched)."""
        self.sources.upsert(ids=[key], embeddings=[[1.0]], metadatas=[state])


def open_store(settings: Settings, embedder: Embedder | None = None) -> Store:
    """The store for ``settings`` and an embedder (default: from the settings)."""
    from store.embed import embedder_from_settings

    return Store(connect(settings), embedder or embedder_from_settings(settings))
