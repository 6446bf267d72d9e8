"""The camera registry: loading, lookups, display names."""

from __future__ import annotations

import pytest

from assistant.registry import Registry, RegistryError


def test_camera_names_in_each_language_and_unknown_ids_as_themselves(registry: Registry) -> None:
    assert registry.camera_name("NS-GATE-E", "en") == "Nanshan Community East Gate"
    assert registry.camera_name("NS-GATE-E", "zh") == "南山社区东门"
    assert registry.camera_name("NOWHERE-1", "zh") == "NOWHERE-1"


def test_duplicate_ids_and_missing_fields_are_rejected() -> None:
    camera = {"id": "A", "name_en": "A", "name_zh": "甲", "area": "X", "area_zh": "乙"}
    with pytest.raises(RegistryError, match="more than once: A"):
        Registry.from_dict({"cameras": [camera, camera]})
    with pytest.raises(RegistryError, match="lacks field 'area_zh'"):
        Registry.from_dict({"cameras": [{k: v for k, v in camera.items() if k != "area_zh"}]})
