"""Settings: defaults, environment variables, TOML file, validation, derived paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.config import Settings, describe


def test_defaults_are_usable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no sightline.toml here
    settings = Settings()
    assert settings.timezone == "Asia/Shanghai"
    assert settings.registry_path.exists()
    assert settings.chroma_url is None
    assert settings.chroma_path == settings.data_dir / "chroma"
    assert settings.audit_file == settings.data_dir / "audit.jsonl"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGHTLINE_CHROMA_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("SIGHTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIGHTLINE_USE_LLM", "false")
    settings = Settings()
    assert settings.chroma_url == "http://127.0.0.1:8000"
    assert settings.thumbnails_dir == tmp_path / "data" / "thumbnails"
    assert settings.use_llm is False


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('timezone = "Europe/Berlin"\nsample_fps = 2.5\n', encoding="utf-8")
    monkeypatch.setenv("SIGHTLINE_CONFIG", str(config))
    assert Settings().timezone == "Europe/Berlin"
    assert Settings().sample_fps == 2.5
    monkeypatch.setenv("SIGHTLINE_TIMEZONE", "Asia/Tokyo")
    assert Settings().timezone == "Asia/Tokyo"


def test_bad_values_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Olympus'"):
        Settings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings(sample_fps=0)
    with pytest.raises(ValidationError, match="Extra inputs"):
        Settings(colour="red")


def test_describe_lists_every_setting_with_help(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    table = describe(Settings())
    for name, field in Settings.model_fields.items():
        assert f"SIGHTLINE_{name.upper()}" in table
        assert field.description and field.description in table
