"""Model preparation and status: packaged models resolve, missing ones name the setting to use."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.models import fetch_clip, main, status


def test_missing_models_name_their_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm_gguf_path=tmp_path / "absent.gguf", asr_model_dir=tmp_path)
    report = status(settings)
    assert report["LLM"] == (False, report["LLM"][1]) and "SIGHTLINE_LLM_GGUF_PATH" in report["LLM"][1]
    assert not report["speech"][0] and "SIGHTLINE_ASR_MODEL_DIR" in report["speech"][1]
    assert not report["CLIP"][0] and "SIGHTLINE_CLIP_WEIGHTS" in report["CLIP"][1]


def test_configured_clip_weights_must_exist(tmp_path: Path) -> None:
    weights = tmp_path / "clip.bin"
    assert not status(Settings(clip_weights=weights), ("CLIP",))["CLIP"][0]
    weights.write_bytes(b"\0")
    assert status(Settings(clip_weights=weights), ("CLIP",))["CLIP"] == (True, str(weights))


def test_fetch_clip_rejects_unknown_tag_before_any_download(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="known tags: openai"):
        fetch_clip("ViT-B-32", "no-such-tag", tmp_path)
    assert main(["fetch-clip", "--tag", "no-such-tag", "--dest", str(tmp_path)]) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.model
def test_prepare_assembles_the_packaged_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGHTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SIGHTLINE_LLM_GGUF_PATH", raising=False)
    report = status(Settings(data_dir=tmp_path), ("LLM", "speech"))
    assert report["LLM"][0] and Path(report["LLM"][1]).stat().st_size > 200_000_000
    assert report["speech"][0] and (Path(report["speech"][1]) / "model.bin").stat().st_size > 100_000_000
