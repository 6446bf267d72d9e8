"""Shared test fixtures: the development camera registry and evaluation data from ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.registry import Registry, load_registry

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVAL_DIR = SHARED / "eval"


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The development camera registry, ../shared/eval/cameras.json (CI clones with ../shared beside)."""
    path = EVAL_DIR / "cameras.json"
    assert path.exists(), f"{path} is missing: tests need ../shared beside the repository"
    return load_registry(path)
