"""The camera registry: ids, English/Chinese names, aliases and areas.

Loaded from the JSON file of ``Settings.registry_path`` (format of
``../shared/eval/cameras.json``). Place grounding, the store and the UI read
camera facts only through this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


class RegistryError(ValueError):
    """The registry file is missing or malformed."""


@dataclass(frozen=True)
class Camera:
    """One camera of the registry."""

    id: str
    name_en: str
    name_zh: str
    area: str
    area_zh: str
    kind: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def name(self, lang: str) -> str:
        """The camera's display name in ``lang`` ("en" or "zh")."""
        return self.name_zh if lang == "zh" else self.name_en

    def area_name(self, lang: str) -> str:
        """The camera's area in ``lang``."""
        return self.area_zh if lang == "zh" else self.area


@dataclass(frozen=True)
class Registry:
    """All cameras, by id, in file order."""

    cameras: tuple[Camera, ...]
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        ids = [c.id for c in self.cameras]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise RegistryError(f"camera ids appear more than once: {', '.join(duplicated)}")

    @property
    def ids(self) -> frozenset[str]:
        """Every camera id."""
        return frozenset(c.id for c in self.cameras)

    def get(self, camera_id: str) -> Camera:
        """The camera with this id; ``KeyError`` with the known ids if there is none."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(f"unknown camera id {camera_id!r}; known ids: {', '.join(sorted(self.ids))}")

    def camera_name(self, camera_id: str, lang: str) -> str:
        """The camera's display name in ``lang``, or its id when the registry does not know it."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera.name(lang)
        return camera_id

    def in_area(self, area: str) -> list[str]:
        """Sorted ids of the cameras in an area (English area name)."""
        return sorted(c.id for c in self.cameras if c.area == area)

    @classmethod
    def from_dict(cls, data: dict) -> Registry:
        """Build a registry from the parsed JSON document."""
        try:
            cameras = tuple(
                Camera(
                    id=c["id"],
                    name_en=c["name_en"],
                    name_zh=c["name_zh"],
                    area=c["area"],
                    area_zh=c["area_zh"],
                    kind=c.get("kind", ""),
                    aliases=tuple(c.get("aliases", ())),
                )
                for c in data["cameras"]
            )
        except (KeyError, TypeError) as err:
            raise RegistryError(f"camera registry entry lacks field {err}") from err
        return cls(cameras=cameras, timezone=data.get("timezone", "Asia/Shanghai"))


@lru_cache(maxsize=8)
def load_registry(path: Path) -> Registry:
    """Read and validate a registry file (cached per path)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise RegistryError(f"camera registry {path} does not exist; set SIGHTLINE_REGISTRY_PATH") from err
    except json.JSONDecodeError as err:
        raise RegistryError(f"camera registry {path} is not valid JSON: {err}") from err
    return Registry.from_dict(data)
