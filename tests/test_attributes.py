"""Attribute extraction (query-schema.md, "Attributes", mapping rules and people nouns)."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.attributes import describe, extract
from assistant.filters import Attributes


@pytest.mark.parametrize(
    ("text", "values"),
    [
        # "top"/"上衣" gives a colour but no garment
        ("white top", {"upper_color": ["white"]}),
        ("穿白色上衣", {"upper_color": ["white"]}),
        # garments
        ("a jacket", {"upper_garment": "jacket"}),
        ("外套", {"upper_garment": "jacket"}),
        ("夹克", {"upper_garment": "jacket"}),
        ("a coat", {"upper_garment": "coat"}),
        ("大衣", {"upper_garment": "coat"}),
        ("a raincoat", {"upper_garment": "coat"}),
        ("雨衣", {"upper_garment": "coat"}),
        ("a hoodie", {"upper_garment": "sweater"}),
        ("卫衣", {"upper_garment": "sweater"}),
        ("毛衣", {"upper_garment": "sweater"}),
        ("a blouse", {"upper_garment": "shirt"}),
        ("衬衫", {"upper_garment": "shirt"}),
        ("马甲", {"upper_garment": "vest"}),
        ("裙子", {"lower_garment": "skirt"}),
        ("连衣裙", {"upper_garment": "dress"}),
        # a dress's colour is upper_color
        ("a pink dress", {"upper_color": ["pink"], "upper_garment": "dress"}),
        ("粉色连衣裙", {"upper_color": ["pink"], "upper_garment": "dress"}),
        # a colour with no garment is upper_color
        ("in red", {"upper_color": ["red"]}),
        ("穿红色的", {"upper_color": ["red"]}),
        # colour words
        ("a navy uniform", {"upper_color": ["blue"], "upper_garment": "uniform"}),
        ("深蓝色制服", {"upper_color": ["blue"], "upper_garment": "uniform"}),
        ("a beige coat", {"upper_color": ["brown"], "upper_garment": "coat"}),
        ("khaki trousers", {"lower_color": ["brown"], "lower_garment": "trousers"}),
        ("grey jeans", {"lower_color": ["gray"], "lower_garment": "jeans"}),
        # a bare 深色/"dark" with no hue gives no colour
        ("a dark jacket", {"upper_garment": "jacket"}),
        ("深色衣服", {}),
        # hair
        ("shoulder-length hair", {"hair": "medium"}),
        ("齐肩发", {"hair": "medium"}),
        ("中长发", {"hair": "medium"}),
        ("medium-long hair", {"hair": "medium"}),
        ("long hair", {"hair": "long"}),
        ("光头", {"hair": "bald"}),
        # carried and worn things
        ("a cap", {"hat": True}),
        ("鸭舌帽", {"hat": True}),
        ("书包", {"backpack": True}),
        ("双肩包", {"backpack": True}),
        ("a scooter", {"vehicle": "e-bike"}),
        ("电瓶车", {"vehicle": "e-bike"}),
        ("骑电动车", {"vehicle": "e-bike"}),
        # colours of bags, hats, helmets and shoes have no slot
        ("black hat", {"hat": True}),
        ("黑色头盔", {"helmet": True}),
        ("戴黑帽子", {"hat": True}),
        ("a red backpack", {"backpack": True}),
        ("white shoes", {}),
    ],
)
def test_mapping_rule(text: str, values: dict[str, Any]) -> None:
    assert extract(text).values == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("man", {"gender": "male"}),
        ("guy", {"gender": "male"}),
        ("小伙子", {"gender": "male"}),
        ("男的", {"gender": "male"}),
        ("男子", {"gender": "male"}),
        ("woman", {"gender": "female"}),
        ("lady", {"gender": "female"}),
        ("女士", {"gender": "female"}),
        ("女的", {"gender": "female"}),
        ("女生", {"gender": "female"}),
        ("kids", {"age": "child"}),
        ("child", {"age": "child"}),
        ("小孩", {"age": "child"}),
        ("孩子", {"age": "child"}),
        ("儿童", {"age": "child"}),
        ("elderly", {"age": "elderly"}),
        ("老人", {"age": "elderly"}),
        ("老大爷", {"gender": "male", "age": "elderly"}),
        ("老太太", {"gender": "female", "age": "elderly"}),
        ("elderly man", {"gender": "male", "age": "elderly"}),
        # nothing else implies an age
        ("girl", {"gender": "female"}),
        ("学生", {}),
        ("穿校服的学生", {"upper_garment": "uniform"}),
        ("a man with a walking stick", {"gender": "male"}),
    ],
)
def test_people_nouns(text: str, values: dict[str, Any]) -> None:
    assert extract(text).values == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("red jacket and black trousers", {"upper_color": ["red"], "upper_garment": "jacket",
                                           "lower_color": ["black"], "lower_garment": "trousers"}),
        ("白色短袖衬衫灰色短裤", {"upper_color": ["white"], "sleeve": "short", "upper_garment": "shirt",
                           "lower_color": ["gray"], "lower_garment": "shorts"}),
        ("a blue skirt", {"lower_color": ["blue"], "lower_garment": "skirt"}),
        ("a blue hoodie and jeans", {"upper_color": ["blue"], "upper_garment": "sweater", "lower_garment": "jeans"}),
        ("a black hat and white jacket", {"hat": True, "upper_color": ["white"], "upper_garment": "jacket"}),
        ("a long-sleeve navy uniform", {"sleeve": "long", "upper_color": ["blue"], "upper_garment": "uniform"}),
        ("a red and white jacket", {"upper_color": ["red", "white"], "upper_garment": "jacket"}),
        ("the jacket was blue, not red", {"upper_color": ["blue"], "upper_garment": "jacket"}),
        ("不是蓝色，是绿色", {"upper_color": ["green"]}),
    ],
)
def test_colours_bind_to_their_garment(text: str, values: dict[str, Any]) -> None:
    assert extract(text).values == values


@pytest.mark.parametrize(
    ("text", "flag"),
    [("no hat", "hat"), ("without a mask", "mask"), ("没戴口罩", "mask"), ("不戴眼镜", "glasses"),
     ("only the ones without a mask", "mask"), ("只看没戴口罩的", "mask")],
)
def test_negation_sets_the_flag_false(text: str, flag: str) -> None:
    match = extract(text)
    assert match.values == {flag: False}
    assert match.negated == [flag]
    assert match.removed == []


@pytest.mark.parametrize(
    ("text", "key"),
    [("forget the glasses", "glasses"), ("不限眼镜", "glasses"), ("眼镜不限", "glasses"),
     ("forget the backpack", "backpack")],
)
def test_removal_drops_the_key(text: str, key: str) -> None:
    match = extract(text)
    assert match.removed == [key]
    assert key not in match.values


def test_negation_reaches_only_the_flags_it_governs() -> None:
    assert extract("he also had glasses and no hat").values == {"glasses": True, "hat": False}
    assert extract("没戴口罩的男子").values == {"mask": False, "gender": "male"}
    assert extract("背着双肩包，没戴口罩").values == {"backpack": True, "mask": False}
    assert extract("no hat or glasses").values == {"hat": False, "glasses": False}
    assert extract("没戴口罩穿黑色短袖的小伙子").values == {"mask": False, "upper_color": ["black"], "sleeve": "short",
                                                 "gender": "male"}
    assert extract("without a mask wearing a red coat").values == {"mask": False, "upper_color": ["red"],
                                                                   "upper_garment": "coat"}


def test_a_value_said_after_a_removal_is_kept() -> None:
    match = extract("forget the jacket, it was a coat")
    assert match.values == {"upper_garment": "coat"}
    assert match.removed == ["upper_color"]


def test_removal_stops_at_a_comma() -> None:
    match = extract("forget the backpack, wearing red instead")
    assert match.removed == ["backpack"]
    assert match.values == {"upper_color": ["red"]}


def test_skipped_spans_are_not_read() -> None:
    text = "man at the Wanda car park"
    assert extract(text).values == {"gender": "male", "vehicle": "car"}
    assert extract(text, skip=[(11, 25)]).values == {"gender": "male"}


def test_values_are_valid_attributes() -> None:
    text = "elderly woman with long hair in a yellow t-shirt and blue jeans, glasses, no mask, on a bicycle"
    values = extract(text).values
    assert Attributes(**values).constrained() == values
    assert values["mask"] is False and values["vehicle"] == "bicycle"


def test_description_template_is_english_from_the_attributes() -> None:
    values = extract("寻找佩戴眼镜和口罩、穿白色上衣的中长发女士").values
    assert describe(values) == "a woman with medium-length hair wearing a white top, glasses and a face mask"
    assert describe({}) is None
    assert describe({"age": "child", "backpack": True}) == "a child carrying a backpack"


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a blue striped skirt", {"lower_color": ["blue"], "lower_garment": "skirt"}),
        ("black leather jacket and blue jeans", {"upper_color": ["black"], "upper_garment": "jacket",
                                                 "lower_color": ["blue"], "lower_garment": "jeans"}),
        ("黑白条纹上衣", {"upper_color": ["black", "white"]}),
        ("上身穿白色T恤，下身穿蓝色牛仔裤", {"upper_color": ["white"], "upper_garment": "t-shirt",
                                  "lower_color": ["blue"], "lower_garment": "jeans"}),
        ("黑裤", {"lower_color": ["black"], "lower_garment": "trousers"}),
        ("开着白色轿车", {"vehicle": "car"}),
        ("白天", {}),
        ("男，30岁左右", {"gender": "male"}),
    ],
)
def test_garment_modifiers_and_short_forms(text: str, values: dict[str, Any]) -> None:
    assert extract(text).values == values


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("long black hair", {"hair": "long"}),
        ("a woman with short brown hair", {"gender": "female", "hair": "short"}),
        ("黑长发", {"hair": "long"}),
        ("a long coat", {"upper_garment": "coat"}),
        ("trousers in black", {"lower_garment": "trousers", "lower_color": ["black"]}),
        ("上衣红色，裤子黑色", {"upper_color": ["red"], "lower_color": ["black"], "lower_garment": "trousers"}),
        ("a man with black hair in red", {"gender": "male", "upper_color": ["red"]}),
        ("the hat was black", {"hat": True}),
    ],
)
def test_colour_after_its_noun_and_hair_lengths(text: str, values: dict[str, Any]) -> None:
    assert extract(text).values == values
