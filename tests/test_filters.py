"""The filter schema of query-schema.md: validation, JSON, LLM schema, summaries, follow-up edits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from assistant.filters import (
    ATTRIBUTE_KEYS,
    COLOURS,
    FLAG_KEYS,
    Attributes,
    Filter,
    FilterError,
    TimeWindow,
    add_cameras,
    describe_time,
    llm_json_schema,
    narrow_cameras,
    remove_attributes,
    reset,
    set_attributes,
    set_cameras,
    set_description,
    set_time,
    summarize,
)

CST = timezone(timedelta(hours=8))
SEED = {
    "time": {"start": "2021-09-07T06:00:00+08:00", "end": "2021-09-07T12:00:00+08:00"},
    "cameras": ["M3-ZX-E3", "M3-GK-E3"],
    "place_text": "metro exit 3",
    "attributes": {"gender": "female", "hair": "medium", "upper_color": ["white"], "glasses": True, "mask": True},
    "description": "a woman with medium-length hair wearing a white top, glasses and a face mask",
}
NOW = datetime(2021, 9, 8, 10, 30, tzinfo=CST)


def seed() -> Filter:
    return Filter.from_data(SEED)


def window(start_hour: int, end_hour: int, day: int = 7) -> TimeWindow:
    return TimeWindow(
        start=datetime(2021, 9, day, start_hour, tzinfo=CST), end=datetime(2021, 9, day, end_hour, tzinfo=CST)
    )


# ---- fields and validation ----


def test_spec_example_round_trips_through_json() -> None:
    produced = json.loads(seed().to_json())
    assert produced["time"] == SEED["time"]
    assert produced["cameras"] == ["M3-GK-E3", "M3-ZX-E3"]  # sorted
    assert produced["attributes"] == SEED["attributes"]
    assert produced["place_text"] == "metro exit 3"
    assert Filter.from_data(seed().to_json()) == seed()


def test_empty_filter_means_no_constraint() -> None:
    assert Filter().to_dict() == {
        "time": None,
        "cameras": [],
        "place_text": None,
        "attributes": {},
        "description": None,
    }


def test_attribute_keys_are_the_spec_vocabulary() -> None:
    assert set(ATTRIBUTE_KEYS) == {
        "gender", "age", "hair", "upper_color", "lower_color", "upper_garment", "lower_garment",
        "sleeve", "glasses", "mask", "hat", "helmet", "backpack", "handbag", "umbrella", "phone", "vehicle",
    }  # fmt: skip
    assert len(COLOURS) == 11


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("gender", "female", "woman"),
        ("age", "elderly", "old"),
        ("hair", "bald", "medium-long"),
        ("upper_color", ["white", "black"], ["navy"]),
        ("lower_color", ["gray"], ["grey"]),
        ("upper_garment", "sweater", "hoodie"),
        ("lower_garment", "jeans", "pants"),
        ("sleeve", "short", "sleeveless"),
        ("vehicle", "e-bike", "scooter"),
        *[(flag, False, "maybe") for flag in FLAG_KEYS],
    ],
)
def test_each_attribute_accepts_its_vocabulary_and_rejects_others(key: str, good: object, bad: object) -> None:
    assert Filter.from_data({"attributes": {key: good}}).attributes.constrained() == {key: good}
    with pytest.raises(FilterError, match=f"attributes.{key}"):
        Filter.from_data({"attributes": {key: bad}})


def test_unknown_attribute_lists_allowed_keys() -> None:
    with pytest.raises(FilterError, match="attributes.colour: unknown field; allowed: gender"):
        Filter.from_data({"attributes": {"colour": "red"}})


def test_unknown_top_level_field_is_rejected() -> None:
    with pytest.raises(FilterError, match="where: unknown field"):
        Filter.from_data({"where": "here"})


def test_end_before_start_is_rejected() -> None:
    with pytest.raises(FilterError, match="before it starts"):
        Filter.from_data({"time": {"start": "2021-09-07T12:00:00+08:00", "end": "2021-09-07T06:00:00+08:00"}})


def test_time_without_offset_is_rejected() -> None:
    with pytest.raises(FilterError, match="UTC offset"):
        Filter.from_data({"time": {"start": "2021-09-07T06:00:00", "end": "2021-09-07T12:00:00"}})


def test_unknown_camera_is_rejected_against_registry(registry) -> None:
    with pytest.raises(FilterError, match="unknown camera id.*NOWHERE-1"):
        Filter.from_data({"cameras": ["M3-ZX-E1", "NOWHERE-1"]}, registry=registry)
    assert Filter.from_data({"cameras": ["M3-ZX-E1"]}, registry=registry).cameras == ["M3-ZX-E1"]


def test_colours_are_deduplicated_and_empty_list_is_unset() -> None:
    attrs = Attributes(upper_color=["white", "white", "black"], lower_color=[])
    assert attrs.upper_color == ["white", "black"]
    assert attrs.lower_color is None


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(FilterError) as caught:
        Filter.from_data({"attributes": {"gender": "x", "mask": "sometimes"}})
    assert "attributes.gender" in str(caught.value) and "attributes.mask" in str(caught.value)


def test_invalid_json_text_is_a_filter_error() -> None:
    with pytest.raises(FilterError):
        Filter.from_data("{not json")


def test_llm_schema_constrains_attribute_values() -> None:
    schema = llm_json_schema()
    text = json.dumps(schema)
    assert "upper_garment" in text and '"e-bike"' in text and '"purple"' in text


# ---- follow-up edits: one test per row of the spec's refinement table ----


def test_only_without_a_mask_sets_mask_false() -> None:
    assert set_attributes(seed(), mask=False).attributes.mask is False


def test_also_wearing_a_hat_adds_hat() -> None:
    edited = set_attributes(seed(), hat=True)
    assert edited.attributes.hat is True and edited.attributes.glasses is True


def test_forget_the_glasses_removes_glasses() -> None:
    edited = remove_attributes(seed(), "glasses")
    assert "glasses" not in edited.attributes.constrained()
    assert edited.attributes.mask is True


def test_make_it_the_east_gate_replaces_cameras() -> None:
    edited = set_cameras(seed(), ["NS-GATE-E"], "east gate")
    assert edited.cameras == ["NS-GATE-E"] and edited.place_text == "east gate"
    assert edited.time == seed().time


def test_only_zhongxin_station_narrows_to_matching_current_cameras() -> None:
    edited = narrow_cameras(seed(), ["M3-ZX-E1", "M3-ZX-E2", "M3-ZX-E3", "M3-ZX-E4"], "Zhongxin Station")
    assert edited.cameras == ["M3-ZX-E3"]


def test_narrow_with_no_overlap_replaces() -> None:
    edited = narrow_cameras(seed(), ["TD-ST-W"], "西口")
    assert edited.cameras == ["TD-ST-W"]


def test_what_about_yesterday_replaces_time() -> None:
    assert set_time(seed(), window(0, 12, day=6)).time == window(0, 12, day=6)


def test_any_time_removes_time() -> None:
    assert set_time(seed(), None).time is None


def test_jacket_was_blue_not_red_replaces_colour() -> None:
    red = set_attributes(seed(), upper_color=["red"], upper_garment="jacket")
    assert set_attributes(red, upper_color=["blue"]).attributes.upper_color == ["blue"]


def test_check_exit_1_as_well_adds_cameras() -> None:
    edited = add_cameras(seed(), ["M3-ZX-E1", "M3-ZX-E3"], "exit 1")
    assert edited.cameras == ["M3-GK-E3", "M3-ZX-E1", "M3-ZX-E3"]
    assert edited.place_text == "metro exit 3 + exit 1"


def test_new_search_resets_everything() -> None:
    assert reset() == Filter()


def test_description_is_replaced() -> None:
    assert set_description(seed(), "a man").description == "a man"


def test_edits_do_not_change_the_original() -> None:
    original = seed()
    set_attributes(original, mask=False)
    remove_attributes(original, "glasses")
    assert original == seed()


def test_edit_with_unknown_or_invalid_attribute_is_rejected() -> None:
    with pytest.raises(FilterError, match="unknown attribute"):
        set_attributes(seed(), colour="red")
    with pytest.raises(FilterError, match="unknown attribute"):
        remove_attributes(seed(), "colour")
    with pytest.raises(FilterError, match="attributes.mask"):
        set_attributes(seed(), mask="sometimes")


# ---- summaries ----


def test_chinese_summary_of_the_seed_request(registry) -> None:
    text = summarize(seed(), "zh", registry, now=NOW)
    assert text == "女性、中长发、白色上衣、戴眼镜、戴口罩 · metro exit 3 (2个摄像头) · 9月7日 06:00–12:00"


def test_english_summary_names_garment_with_colour_and_single_camera(registry) -> None:
    f = Filter.from_data(
        {"cameras": ["NS-GATE-N"], "attributes": {"gender": "male", "upper_color": ["red"],
         "upper_garment": "jacket", "lower_color": ["black"], "lower_garment": "trousers", "hat": False}}
    )  # fmt: skip
    assert summarize(f, "en", registry, now=NOW) == (
        "male, red jacket, black trousers, no hat · Nanshan Community North Gate (1 camera) · any time"
    )


def test_summary_of_empty_filter_and_unknown_place() -> None:
    assert summarize(Filter(), "en", now=NOW) == "anyone · all cameras · any time"
    lost = Filter(place_text="新华书店")
    assert summarize(lost, "zh", now=NOW) == "任何人 · 未找到地点：新华书店 · 不限时间"


@pytest.mark.parametrize(
    ("start", "end", "lang", "expected"),
    [
        ("2021-09-07T00:00:00+08:00", "2021-09-08T00:00:00+08:00", "en", "Sep 7"),
        ("2021-08-30T00:00:00+08:00", "2021-09-06T00:00:00+08:00", "en", "Aug 30 – Sep 5"),
        ("2021-09-07T20:00:00+08:00", "2021-09-08T00:00:00+08:00", "en", "Sep 7 20:00–24:00"),
        ("2021-09-05T10:30:00+08:00", "2021-09-08T10:30:00+08:00", "zh", "9月5日 10:30 – 9月8日 10:30"),
        ("2020-12-30T00:00:00+08:00", "2020-12-31T00:00:00+08:00", "zh", "2020年12月30日"),
    ],
)
def test_time_descriptions(start: str, end: str, lang: str, expected: str) -> None:
    w = TimeWindow.model_validate({"start": start, "end": end})
    assert describe_time(w, lang, now=NOW) == expected


def test_unknown_summary_language_is_a_clear_error() -> None:
    with pytest.raises(FilterError, match="no display vocabulary for language 'fr'"):
        summarize(seed(), "fr")
