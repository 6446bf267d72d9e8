"""The chat app's callbacks without a browser: real parser, a real small store, real files."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import tomllib
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import gradio as gr
import pytest
from argon2 import PasswordHasher
from PIL import Image

import app
from assistant.audit import AuditLog
from assistant.config import Settings
from assistant.export import ExportedHit, ExportError, ReportContext, write_report
from assistant.filters import LANG_DIR, Filter
from assistant.registry import Registry
from assistant.users import User, UserStore
from store.db import Store, open_store
from store.demo import VTEST
from store.ingest import Source, ingest

NOW = datetime.fromisoformat("2021-09-08T10:30:00+08:00")
SEED_ZH = "寻找一位9月7号上午出现在地铁3号出口的穿白色上衣、佩戴眼镜和口罩的中长发女士"
SEED_FILTER = Filter.from_data(
    {
        "time": {"start": "2021-09-07T06:00:00+08:00", "end": "2021-09-07T12:00:00+08:00"},
        "cameras": ["M3-GK-E3", "M3-ZX-E3"],
        "place_text": "地铁3号出口",
        "attributes": {"gender": "female", "hair": "medium", "upper_color": ["white"], "glasses": True, "mask": True},
    }
)


def _keys(table: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        keys |= _keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return keys


def test_ui_words_exist_in_both_languages_with_the_same_keys() -> None:
    en, zh = ({*_keys(tomllib.loads((LANG_DIR / lang / "ui.toml").read_text("utf-8")))} for lang in ("en", "zh"))
    assert en == zh
    assert en >= {f"attributes.{key}" for key in app.ATTRIBUTE_KEYS}


# ---- the filter form ----


def test_form_shows_a_filter_and_reads_it_back_unchanged(registry: Registry) -> None:
    values = app.control_values(SEED_FILTER, NOW.tzinfo)
    by_key = dict(zip(app.CONTROL_KEYS, values, strict=True))
    assert (by_key["time_start"], by_key["time_end"]) == ("2021-09-07 06:00:00", "2021-09-07 12:00:00")
    assert by_key["cameras"] == ["M3-GK-E3", "M3-ZX-E3"]
    assert (by_key["gender"], by_key["mask"], by_key["hat"], by_key["upper_color"]) == ("female", "yes", "", ["white"])
    assert app.filter_from_controls(values, SEED_FILTER, NOW.tzinfo, registry, "en") == SEED_FILTER


def test_form_edits_become_the_filter(registry: Registry) -> None:
    by_key = dict(zip(app.CONTROL_KEYS, app.control_values(SEED_FILTER, NOW.tzinfo), strict=True))
    by_key.update(time_end="2021-09-07 18:00:00", cameras=["M3-ZX-E3"], mask="no", glasses="", hat="yes")
    edited = app.filter_from_controls(list(by_key.values()), SEED_FILTER, NOW.tzinfo, registry, "en")
    assert edited.time is not None
    assert edited.time.end == datetime.fromisoformat("2021-09-07T18:00:00+08:00")
    assert edited.cameras == ["M3-ZX-E3"]
    assert edited.place_text is None  # the phrase no longer describes the hand-picked cameras
    assert edited.attributes.constrained() == {
        "gender": "female",
        "hair": "medium",
        "upper_color": ["white"],
        "mask": False,
        "hat": True,
    }


@pytest.mark.parametrize(
    ("start", "end"),
    [("2021-09-07 06:00:00", ""), ("yesterday", "2021-09-07 12:00:00"), ("2021-09-07 12:00:00", "2021-09-07 06:00:00")],
)
def test_form_refuses_an_incomplete_or_backward_time_window(registry: Registry, start: str, end: str) -> None:
    by_key = dict(zip(app.CONTROL_KEYS, app.control_values(SEED_FILTER, NOW.tzinfo), strict=True))
    by_key.update(time_start=start, time_end=end)
    with pytest.raises(app.FilterError):
        app.filter_from_controls(list(by_key.values()), SEED_FILTER, NOW.tzinfo, registry, "en")


def test_labels_and_choices_follow_the_language(registry: Registry) -> None:
    zh = app.localized("zh", registry)
    en = app.localized("en", registry)
    assert zh["send"]["value"] == "发送" and en["send"]["value"] == "Send"
    assert ("中心站3号出口", "M3-ZX-E3") in zh["cameras"]["choices"]
    assert ("没戴口罩", "no") in zh["mask"]["choices"]
    assert ("white", "white") in en["upper_color"]["choices"]
    assert set(app.LOCALIZED_ORDER) <= set(zh)


# ---- export ----


def _thumbnail(path: Path, colour: tuple[int, int, int] = (200, 200, 200)) -> Path:
    from PIL import Image

    Image.new("RGB", (32, 64), colour).save(path)
    return path


def test_export_zip_holds_csv_json_and_thumbnails_a_report_can_cite(tmp_path: Path, registry: Registry) -> None:
    hits = [
        ExportedHit(
            "vtest:00050:0",
            "M3-ZX-E3",
            NOW - timedelta(hours=26),
            0.81,
            _thumbnail(tmp_path / "a.jpg"),
            "vtest.avi#frame=50",
            (496, 213, 48, 94),
        ),
        ExportedHit(
            "vtest:00060:1", "M3-GK-E3", NOW - timedelta(hours=25), 0.75, _thumbnail(tmp_path / "b.jpg", (9, 9, 9))
        ),
    ]
    conversation = [{"role": "user", "content": SEED_ZH}, {"role": "assistant", "content": "找到 2 张"}]
    context = ReportContext(SEED_FILTER, conversation, registry, "zh", NOW, user="alice", case_number="2021-0907-A")
    path = write_report(hits, context, tmp_path / "exports")
    with zipfile.ZipFile(path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("hits.csv").decode("utf-8-sig"))))
        report = json.loads(archive.read("report.json"))
        assert [r["id"] for r in rows] == ["vtest:00050:0", "vtest:00060:1"]
        assert rows[0]["camera_name"] == "中心站3号出口"
        assert rows[0]["time"] == "2021-09-07T08:30:00+08:00"
        assert rows[0]["bbox"] == "496 213 48 94"
        for row, hit in zip(rows, hits, strict=True):
            assert archive.read(row["thumbnail"]) == hit.thumbnail.read_bytes()
        assert rows[0]["thumbnail_sha256"] != rows[1]["thumbnail_sha256"]
    assert report["filter"] == SEED_FILTER.to_dict()
    assert report["conversation"] == conversation
    assert (report["user"], report["case_number"]) == ("alice", "2021-0907-A")
    assert "地铁3号出口" in report["filter_summary"]
    assert [h["id"] for h in report["hits"]] == [r["id"] for r in rows]


def test_export_of_nothing_or_of_a_missing_thumbnail_is_refused(tmp_path: Path, registry: Registry) -> None:
    context = ReportContext(SEED_FILTER, [], registry, "en", NOW)
    with pytest.raises(ExportError, match="no hits"):
        write_report([], context, tmp_path)
    gone = ExportedHit("x", "M3-ZX-E3", NOW, 0.5, tmp_path / "gone.jpg")
    with pytest.raises(ExportError, match="gone.jpg"):
        write_report([gone], context, tmp_path)


# ---- conversation turns against a real small store (two segments of Debian's vtest.avi) ----

GK_MORNING = datetime.fromisoformat("2021-09-07T08:12:00+08:00")
ZX_MORNING = datetime.fromisoformat("2021-09-07T09:41:30+08:00")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from tests.conftest import EVAL_DIR

    return Settings(data_dir=tmp_path_factory.mktemp("data"), registry_path=EVAL_DIR / "cameras.json", use_llm=False)


@pytest.fixture(scope="module")
def store(settings: Settings) -> Store:
    assert VTEST.is_file(), f"{VTEST} is missing: install Debian's opencv-doc"
    sources = [Source(VTEST, "M3-GK-E3", GK_MORNING, (0.0, 6.0)), Source(VTEST, "M3-ZX-E3", ZX_MORNING, (20.0, 26.0))]
    summary = ingest(sources, settings=settings, progress=False)
    assert summary.crops_added > 0, summary.render()
    return open_store(settings)


@pytest.fixture
def chat(settings: Settings, store: Store, registry: Registry) -> app.ChatApp:
    return app.ChatApp(app.Services(settings, registry, clock=lambda: NOW, store=store))


OFFICER = User("alice", "officer", ("Gangkou Road Station", "Zhongxin Station"), False, NOW)
CASE = "2021-QD-000123"
PASSWORD = "correct horse battery"


def _signed_in(lang: str) -> app.Session:
    """A session of an officer signed in for a case (scope: the two metro stations)."""
    return app.Session(lang=lang, user=OFFICER, case_number=CASE)


def _view(outputs: list) -> dict:
    """The callback's outputs by name (session, chat, gallery, summary, then the form)."""
    names = ["session", "chat", "gallery", "summary", *app.CONTROL_KEYS]
    return dict(zip(names, outputs[: len(names)], strict=True))


def _last_reply(view: dict) -> str:
    assert view["chat"][-1]["role"] == "assistant"
    return view["chat"][-1]["content"]


def test_seed_request_in_chinese_fills_filter_and_answers_in_chinese(chat: app.ChatApp) -> None:
    view = _view(chat.respond(SEED_ZH, _signed_in("zh")))
    current = view["session"].filter
    assert current.cameras == ["M3-GK-E3", "M3-ZX-E3"]
    assert current.time is not None and current.time.start == GK_MORNING.replace(hour=6, minute=0)
    assert current.attributes.constrained() == SEED_FILTER.attributes.constrained()
    reply = _last_reply(view)
    for words in ("港口路站3号出口", "中心站3号出口", "9月7日 06:00–12:00", "女性", "白色上衣", "戴口罩"):
        assert words in reply
    n = len(view["gallery"])
    assert (f"找到 **{n}** 张" in reply) if n else ("没有找到" in reply)
    assert view["time_start"] == "2021-09-07 06:00:00" and view["cameras"] == ["M3-GK-E3", "M3-ZX-E3"]
    assert (view["gender"], view["glasses"], view["mask"]) == ("female", "yes", "yes")


def test_a_request_for_place_and_time_shows_real_thumbnails_with_captions(chat: app.ChatApp) -> None:
    view = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))
    assert view["gallery"], _last_reply(view)
    for (image, caption), hit in zip(view["gallery"], view["session"].hits, strict=True):
        with Image.open(hit.thumbnail) as stored:  # the gallery shows the stored crop itself
            assert image.size == stored.size and image.tobytes() == stored.convert("RGB").tobytes()
        assert caption.startswith(("港口路站3号出口 · 09-07 08:1", "中心站3号出口 · 09-07 09:4"))
    assert f"找到 **{len(view['gallery'])}** 张" in _last_reply(view)


def test_follow_up_edits_the_current_filter(chat: app.ChatApp) -> None:
    session = _view(chat.respond(SEED_ZH, _signed_in("zh")))["session"]
    view = _view(chat.respond("只看没戴口罩的", session))
    assert view["session"].filter.attributes.mask is False
    assert view["session"].filter.cameras == session.filter.cameras
    assert view["mask"] == "no" and "没戴口罩" in _last_reply(view)
    view = _view(chat.respond("only Zhongxin Station", view["session"]))
    assert view["session"].filter.cameras == ["M3-ZX-E3"]
    assert all(caption.startswith("中心站3号出口") for _, caption in view["gallery"])


def test_english_ui_answers_in_english(chat: app.ChatApp) -> None:
    view = _view(chat.respond("woman in a white top at metro exit 3 on the morning of September 7", _signed_in("en")))
    reply = _last_reply(view)
    assert "Searching for:" in reply and "Gangkou Road Station Exit 3" in reply and "Sep 7 06:00–12:00" in reply


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("找" * (app.MAX_MESSAGE_CHARS + 1), "too_long"),
        ("asdf qwer zxcv", "not_understood"),
    ],
)
def test_empty_huge_and_garbage_messages_get_a_clear_reply_and_keep_the_filter(
    chat: app.ChatApp, message: str, key: str
) -> None:
    before = _view(chat.respond(SEED_ZH, _signed_in("en")))["session"]
    view = _view(chat.respond(message, before))
    expected = app.say("en", key, n=len(message), limit=app.MAX_MESSAGE_CHARS, text=message.strip())
    assert _last_reply(view).startswith(expected)
    assert view["session"].filter == before.filter and view["session"].hits == before.hits
    assert len(view["chat"]) == len(before.conversation) + (1 if key == "empty" else 2)  # no blank bubble


def test_editing_the_form_searches_and_the_chat_continues_from_it(chat: app.ChatApp) -> None:
    session = _view(chat.respond(SEED_ZH, _signed_in("zh")))["session"]
    values = dict(zip(app.CONTROL_KEYS, app.control_values(session.filter, NOW.tzinfo), strict=True))
    values.update(cameras=["M3-ZX-E3"], upper_color=[], glasses="", mask="", gender="", hair="")
    view = _view(chat.apply_filter(session, *values.values()))
    assert view["session"].filter.cameras == ["M3-ZX-E3"]
    assert view["gallery"] and all(c.startswith("中心站3号出口") for _, c in view["gallery"])
    assert _last_reply(view).startswith(app.say("zh", "edited"))
    follow = _view(chat.respond("只看没戴口罩的", view["session"]))
    assert follow["session"].filter.cameras == ["M3-ZX-E3"] and follow["session"].filter.attributes.mask is False


def test_an_invalid_form_is_refused_in_the_chat(chat: app.ChatApp) -> None:
    session = _view(chat.respond(SEED_ZH, _signed_in("en")))["session"]
    values = dict(zip(app.CONTROL_KEYS, app.control_values(session.filter, NOW.tzinfo), strict=True))
    values.update(time_start="07/09/2021")
    view = _view(chat.apply_filter(session, *values.values()))
    assert "07/09/2021" in _last_reply(view) and view["session"].filter == session.filter


def test_new_search_clears_filter_hits_and_selection(chat: app.ChatApp) -> None:
    session = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))["session"]
    outputs = chat.new_search(session)
    view = _view(outputs)
    assert view["session"].filter == Filter() and view["gallery"] == [] and view["cameras"] == []
    assert outputs[-2:] == [None, ""]


def _selected(chat: app.ChatApp) -> app.Session:
    session = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))["session"]
    event = gr.SelectData(None, {"index": 0, "value": None})
    session, image, _text = chat.select(session, event)
    assert image is not None
    return session


def test_selecting_a_hit_shows_the_full_frame_with_its_box(chat: app.ChatApp) -> None:
    session = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))["session"]
    session, image, text = chat.select(session, gr.SelectData(None, {"index": 0, "value": None}))
    hit = session.hits[0]
    assert session.selected == hit
    assert image.size == (768, 576)  # the whole vtest.avi frame, not the crop
    x, y, w, _h = app.hit_box(hit)
    assert image.getpixel((x + w // 2, y)) == app.BOX_COLOUR
    assert "vtest.avi#frame=" in text and ("港口路站3号出口" in text or "中心站3号出口" in text)


def test_find_similar_stays_within_the_filter_or_searches_everywhere(chat: app.ChatApp) -> None:
    session = _selected(chat)
    session = replace(session, filter=Filter.from_data({"cameras": [session.selected.camera_id]}))
    here = _view(chat.find_similar(session, everywhere=False))
    assert here["gallery"] and session.selected.id not in [h.id for h in here["session"].hits]
    assert {h.camera_id for h in here["session"].hits} == {session.selected.camera_id}
    everywhere = _view(chat.find_similar(session, everywhere=True))
    assert {h.camera_id for h in everywhere["session"].hits} == {"M3-GK-E3", "M3-ZX-E3"}


def test_marked_hits_export_to_a_zip(chat: app.ChatApp) -> None:
    session = _selected(chat)
    session, status = chat.mark(session)
    assert status == app.say("zh", "marked", n=1)
    session, path, status = chat.export(session)
    assert path is not None and status == app.say("zh", "export_done", n=1)
    with zipfile.ZipFile(path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("hits.csv").decode("utf-8-sig"))))
        assert [r["id"] for r in rows] == [session.selected.id]
        assert json.loads(archive.read("report.json"))["conversation"] == session.conversation


def test_export_without_a_selection_says_what_to_do(chat: app.ChatApp) -> None:
    assert chat.export(_signed_in("en"))[1:] == (None, app.say("en", "export_nothing"))


def test_an_unreachable_store_is_a_chat_message(tmp_path: Path, registry: Registry) -> None:
    broken = Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:9", use_llm=False)
    chat = app.ChatApp(app.Services(broken, registry, clock=lambda: NOW))
    view = _view(chat.respond(SEED_ZH, _signed_in("zh")))
    reply = _last_reply(view)
    assert reply.count("无法检索视频索引") == 1 and "127.0.0.1:9" in reply
    assert view["session"].filter.cameras == ["M3-GK-E3", "M3-ZX-E3"] and view["gallery"] == []


def test_a_missing_llm_falls_back_to_the_rules_and_says_so(tmp_path: Path, store: Store, registry: Registry) -> None:
    settings = Settings(data_dir=tmp_path, use_llm=True, llm_gguf_path=tmp_path / "missing.gguf")
    chat = app.ChatApp(app.Services(settings, registry, clock=lambda: NOW, store=store))
    view = _view(chat.respond(SEED_ZH, _signed_in("en")))
    assert view["session"].filter.attributes == SEED_FILTER.attributes
    assert view["session"].filter.cameras == SEED_FILTER.cameras
    reply = _last_reply(view)
    assert "language model is not available" in reply and "SIGHTLINE_LLM_GGUF_PATH" in reply


def test_warming_up_a_missing_llm_only_logs(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path, use_llm=True, llm_gguf_path=tmp_path / "missing.gguf")
    app.Services(settings, registry).warm_up_llm()
    assert "rules alone" in caplog.text and "SIGHTLINE_LLM_GGUF_PATH" in caplog.text


@pytest.mark.model
def test_with_the_packaged_llm_the_seed_request_parses_the_same(
    tmp_path: Path, store: Store, registry: Registry
) -> None:
    services = app.Services(Settings(data_dir=tmp_path, use_llm=True), registry, clock=lambda: NOW, store=store)
    services.warm_up_llm()
    view = _view(app.ChatApp(services).respond(SEED_ZH, _signed_in("zh")))
    assert view["session"].filter.attributes == SEED_FILTER.attributes
    assert view["session"].filter.cameras == SEED_FILTER.cameras
    assert "语言模型不可用" not in _last_reply(view)


# ---- voice ----


def _wav(path: Path, samples: list[float], rate: int = 16_000) -> Path:
    import wave

    import numpy as np

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
    return path


def test_voice_refuses_non_audio_and_silence_and_keeps_the_typed_text(chat: app.ChatApp, tmp_path: Path) -> None:
    session = app.Session(lang="en")
    text_file = tmp_path / "notes.wav"
    text_file.write_text("not audio")
    typed, status = chat.transcribe(str(text_file), session, "typed so far")
    assert typed == "typed so far" and status.startswith("That recording cannot be used")
    silent = _wav(tmp_path / "silent.wav", [0.0] * 16_000)
    typed, status = chat.transcribe(str(silent), session, "typed so far")
    assert typed == "typed so far" and "silent" in status.lower()
    assert chat.transcribe(None, session, "typed") == ("typed", "")


def test_voice_without_a_model_says_which_setting_to_fix(tmp_path: Path, registry: Registry) -> None:
    settings = Settings(data_dir=tmp_path, asr_model_dir=tmp_path / "no-model", use_llm=False)
    chat = app.ChatApp(app.Services(settings, registry, clock=lambda: NOW))
    tone = _wav(tmp_path / "tone.wav", [0.3 * math.sin(i / 8) for i in range(16_000)])
    typed, status = chat.transcribe(str(tone), app.Session(lang="zh"), "")
    assert typed == "" and status.startswith("语音输入不可用") and "SIGHTLINE_ASR_MODEL_DIR" in status


@pytest.mark.model
def test_spoken_english_request_lands_in_the_text_box(chat: app.ChatApp, tmp_path: Path) -> None:
    wav = tmp_path / "request.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en", "-s", "140", "-w", str(wav), "man in a red jacket at Nanshan north gate"], check=True
    )
    typed, status = chat.transcribe(str(wav), app.Session(lang="en"), "")
    assert "red jacket" in typed.lower() and status.startswith("Heard")


# ---- language ----


def test_switching_language_relabels_the_page_and_later_replies(chat: app.ChatApp) -> None:
    outputs = chat.set_language("zh", _signed_in("en"))
    session, stored, radio = outputs[:3]
    assert session.lang == "zh" and stored == "zh" and radio["value"] == "zh"
    relabelled = dict(zip(app.LOCALIZED_ORDER, outputs[3:], strict=False))
    assert relabelled["send"]["value"] == "发送" and relabelled["mask"]["label"] == "口罩"
    reply = _last_reply(_view(chat.respond("9月7号上午地铁3号出口的人", session)))
    assert reply.startswith("**检索条件**：")
    assert chat.set_language("fr", session)[0].lang == "en"


# ---- sign-in, scope, audit ----


def test_sign_in_needs_the_right_password_and_a_case_number(tmp_path: Path, registry: Registry) -> None:
    settings = Settings(data_dir=tmp_path, use_llm=False)
    UserStore(settings.users_file, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add(
        "alice", PASSWORD, "officer", ["Zhongxin Station"], registry
    )
    chat = app.ChatApp(app.Services(settings, registry, clock=lambda: NOW))
    session, status, form, cleared, _ = chat.sign_in("alice", "wrong password", CASE, app.Session(lang="en"))
    assert session.user is None and status == app.say("en", "login_failed", detail="wrong username or password")
    assert form["visible"] is True and cleared == ""
    session, status, *_ = chat.sign_in("alice", PASSWORD, "", session)
    assert session.user is None and "case number is required" in status
    session, status, form, _, sign_out = chat.sign_in("Alice", PASSWORD, f" {CASE} ", session)
    assert (session.user.username, session.case_number) == ("alice", CASE)
    assert form["visible"] is False and sign_out["visible"] is True and "**alice**" in status and CASE in status
    actions = [(e["action"], e["user"]) for e in AuditLog(settings.audit_file).entries()]
    assert actions == [("login_failed", "alice"), ("login", "alice")]


def test_signing_out_forgets_the_case_and_is_audited(chat: app.ChatApp, settings: Settings) -> None:
    session = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))["session"]
    outputs = chat.sign_out(session)
    view = _view(outputs)
    assert view["session"] == app.Session(lang="zh") and view["chat"] == [] and view["gallery"] == []
    assert outputs[-2]["visible"] is True and outputs[-1]["visible"] is False and outputs[-3] == ""
    entry = list(AuditLog(settings.audit_file).entries())[-1]
    assert (entry["action"], entry["user"], entry["case"]) == ("logout", "alice", CASE)


def test_nothing_is_searched_or_exported_before_signing_in(chat: app.ChatApp) -> None:
    anonymous = app.Session(lang="en")
    view = _view(chat.respond(SEED_ZH, anonymous))
    assert _last_reply(view) == app.say("en", "login_first") and view["gallery"] == []
    values = app.control_values(SEED_FILTER, NOW.tzinfo)
    assert _last_reply(_view(chat.apply_filter(anonymous, *values))) == app.say("en", "login_first")
    assert chat.export(anonymous)[1:] == (None, app.say("en", "login_first"))


def test_searches_stay_within_the_officer_scope_and_are_audited(chat: app.ChatApp, settings: Settings) -> None:
    outside = _view(chat.respond("昨天晚上南山社区北门的人", _signed_in("zh")))
    assert outside["gallery"] == [] and "不在您的权限范围内" in _last_reply(outside)  # in the officer's language
    anywhere = _view(chat.respond("9月7号上午穿白色上衣的人", _signed_in("zh")))
    assert anywhere["gallery"]
    entry = list(AuditLog(settings.audit_file).entries())[-1]
    assert (entry["action"], entry["user"], entry["case"]) == ("search", "alice", CASE)
    assert entry["request"] == "9月7号上午穿白色上衣的人"
    assert entry["result_ids"] == [hit.id for hit in anywhere["session"].hits]
    in_scope = {c.id for c in chat.services.registry.cameras if c.area in OFFICER.scope}
    assert set(entry["filter"]["cameras"]) == in_scope  # no place said: every camera in scope, not everything


def test_results_are_withheld_when_the_audit_log_cannot_be_written(
    tmp_path: Path, store: Store, registry: Registry
) -> None:
    (tmp_path / "audit.jsonl").mkdir()  # a directory where the log file should be
    settings = Settings(data_dir=tmp_path, use_llm=False, audit_path=tmp_path / "audit.jsonl")
    chat = app.ChatApp(app.Services(settings, registry, clock=lambda: NOW, store=store))
    view = _view(chat.respond("9月7号上午地铁3号出口的人", _signed_in("zh")))
    assert view["gallery"] == [] and _last_reply(view).count("检索无法记入审计日志") == 1


def test_the_page_builds_with_every_localised_component(chat: app.ChatApp) -> None:
    page = app.build_ui(chat, lang="zh")
    ids = {block.elem_id for block in page.blocks.values() if getattr(block, "elem_id", None)}
    assert {"request", "send", "results", "filter-summary", "cameras", "attr-mask", "detail", "login"} <= ids
    send = next(block for block in page.blocks.values() if getattr(block, "elem_id", None) == "send")
    assert send.value == "发送"
