"""Sightline's chat app: talk to the footage index, see and edit the filter, inspect and export hits.

``python app.py [--demo] [--host H] [--port N] [--now ISO]`` serves a Gradio page (default
http://127.0.0.1:7860). Officers sign in with a case number; each message then goes through the
parser with the current filter, the store is searched within the officer's scope (every search is
audited), and the reply states what was understood; the filter beside the chat can be edited by
hand. Models (LLM, speech) load once, lazily; when one is missing or broken the chat says so and
the app keeps working. UI words live in ``assistant/lang/<lang>/ui.toml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import cv2
import gradio as gr
from PIL import Image, ImageDraw

from assistant.access import AccessError, CaseNumberError, apply_scope, validate_case_number
from assistant.audit import AuditError, AuditLog
from assistant.chain import Turn, build_conversation
from assistant.config import Settings, get_settings
from assistant.export import ExportedHit, ExportError, ReportContext, write_report
from assistant.filters import (
    ATTRIBUTE_KEYS,
    COLOURS,
    FLAG_KEYS,
    LANG_DIR,
    Filter,
    FilterError,
    display_words,
    summarize,
)
from assistant.llm import LLMUnavailable, LocalLLM
from assistant.llm_assist import warm_up
from assistant.parser import ParseResult, parse
from assistant.parser import note as parser_note
from assistant.registry import Registry, load_registry
from assistant.users import AuthError, User, UserStore, login
from assistant.voice import ASRUnavailable, AudioInputError, SpeechRecognizer
from store.db import Store, StoreError, open_store
from store.demo import DEMO_NOW, VTEST, demo_sources
from store.ingest import IngestError, ingest
from store.search import Hit, SearchResult, search, similar

LOG = logging.getLogger("sightline.app")
LANGUAGES = {"en": "English", "zh": "中文"}
MAX_MESSAGE_CHARS = 1000
RESULT_LIMIT = 50
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
COLOUR_KEYS = ("upper_color", "lower_color")
CONTROL_KEYS = ("time_start", "time_end", "cameras", *ATTRIBUTE_KEYS, "description")
BOX_COLOUR = (255, 40, 40)
BUTTONS = ("send", "new_search", "apply", "similar_here", "similar_everywhere", "mark", "export", "login", "sign_out")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


# ---- UI words ----


@lru_cache(maxsize=4)
def ui_words(lang: str) -> dict[str, dict[str, str]]:
    """The app's words for ``lang`` from ``assistant/lang/<lang>/ui.toml``."""
    path = LANG_DIR / lang / "ui.toml"
    if not path.exists():
        raise ValueError(f"no UI words for language {lang!r}; available: {', '.join(LANGUAGES)}")
    with path.open("rb") as handle:
        return tomllib.load(handle)


def say(lang: str, key: str, **values: Any) -> str:
    """A chat message of ``[messages]`` in ``lang`` with its placeholders filled."""
    return ui_words(lang)["messages"][key].format(**values)


# ---- session and services ----


@dataclass
class Session:
    """One officer's conversation: who and for which case, language, filter, messages, hits, basket."""

    lang: str = "en"
    filter: Filter = field(default_factory=Filter)
    conversation: list[dict[str, str]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    selected: Hit | None = None
    report: list[Hit] = field(default_factory=list)
    user: User | None = None
    case_number: str | None = None

    def said(self, role: str, text: str) -> Session:
        """A copy with one more chat message."""
        return replace(self, conversation=[*self.conversation, {"role": role, "content": text}])


class Services:
    """Settings, registry, clock, accounts, audit log, store and models (each opened once, on first use)."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        clock: Callable[[], datetime] | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._store = store
        self._clock = clock
        self.users = UserStore(settings.users_file)
        self.audit = AuditLog(settings.audit_file)
        self._lock = threading.Lock()
        self._llm: LocalLLM | None = None
        self._recognizer: SpeechRecognizer | None = None

    def now(self) -> datetime:
        """The reference instant for requests: the fixed clock if one was given, else the time now."""
        return self._clock() if self._clock else datetime.now(self.settings.tz)

    def llm(self) -> LocalLLM | None:
        """The loaded local LLM, or None when ``use_llm`` is off; LLMUnavailable when it cannot load."""
        if not self.settings.use_llm:
            return None
        with self._lock:
            if self._llm is None:
                self._llm = LocalLLM(self.settings.llm_gguf_path, self.settings.llm_threads)
        self._llm.load()  # once: later calls return the loaded model
        return self._llm

    def warm_up_llm(self) -> None:
        """Load the LLM and evaluate its fixed prompt prefix now (the app runs this in the background at start)."""
        try:
            llm = self.llm()
            if llm is not None:
                warm_up(llm)
        except LLMUnavailable as err:
            LOG.warning("the parser will use its rules alone: %s", err)

    def store(self) -> Store:
        """The footage store of these settings, opened on first use (StoreError when it cannot be)."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    def recognizer(self) -> SpeechRecognizer:
        """The speech recogniser (loads Whisper on first use)."""
        with self._lock:
            if self._recognizer is None:
                self._recognizer = SpeechRecognizer(self.settings)
            return self._recognizer


# ---- filter <-> form controls (pure) ----


def control_values(current: Filter, tz: tzinfo) -> list[Any]:
    """The form's values for a filter, in ``CONTROL_KEYS`` order ("" = any, [] = no colour)."""
    attrs = current.attributes
    values: list[Any] = [
        current.time.start.astimezone(tz).strftime(TIME_FORMAT) if current.time else None,
        current.time.end.astimezone(tz).strftime(TIME_FORMAT) if current.time else None,
        list(current.cameras),
    ]
    for key in ATTRIBUTE_KEYS:
        value = getattr(attrs, key)
        if key in COLOUR_KEYS:
            values.append(list(value or []))
        elif key in FLAG_KEYS:
            values.append("" if value is None else ("yes" if value else "no"))
        else:
            values.append(value or "")
    values.append(current.description or "")
    return values


def _parse_time(text: str | None, tz: tzinfo, lang: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=tz)
    except ValueError as err:
        raise FilterError(say(lang, "bad_time", value=text)) from err


def filter_from_controls(values: Sequence[Any], current: Filter, tz: tzinfo, registry: Registry, lang: str) -> Filter:
    """The filter the form shows; FilterError (in ``lang`` where the app words it) when invalid."""
    by_key = dict(zip(CONTROL_KEYS, values, strict=True))
    start = _parse_time(by_key["time_start"], tz, lang)
    end = _parse_time(by_key["time_end"], tz, lang)
    if (start is None) != (end is None):
        raise FilterError(say(lang, "half_time"))
    attributes: dict[str, Any] = {}
    for key in ATTRIBUTE_KEYS:
        value = by_key[key]
        if key in COLOUR_KEYS:
            if value:
                attributes[key] = list(value)
        elif key in FLAG_KEYS:
            if value in ("yes", "no"):
                attributes[key] = value == "yes"
        elif value:
            attributes[key] = value
    cameras = sorted(by_key["cameras"] or [])
    return Filter.from_data(
        {
            "time": {"start": start, "end": end} if start else None,
            "cameras": cameras,
            "place_text": current.place_text if cameras == current.cameras else None,
            "attributes": attributes,
            "description": (by_key["description"] or "").strip() or None,
        },
        registry=registry,
    )


def localized(lang: str, registry: Registry) -> dict[str, dict[str, Any]]:
    """Label, placeholder and choice updates for every localised component, by component key."""
    words = ui_words(lang)
    labels, attr_labels = words["labels"], words["attributes"]
    display = display_words(lang)
    anyone = (labels["any"], "")
    props: dict[str, dict[str, Any]] = {
        "title": {"value": f"## {labels['title']}\n{labels['subtitle']}"},
        "language": {"label": labels["language"]},
        "chat": {"label": labels["chat"]},
        "input": {"label": labels["input"], "placeholder": labels["input_placeholder"]},
        "voice": {"label": labels["voice"]},
        "voice_hint": {"value": labels["voice_hint"]},
        "time_start": {"label": labels["time_start"]},
        "time_end": {"label": labels["time_end"]},
        "cameras": {
            "label": labels["cameras"],
            "choices": [(c.name(lang), c.id) for c in registry.cameras],
        },
        "description": {"label": labels["description"]},
        "results": {"label": labels["results"]},
        "detail_image": {"label": labels["detail"]},
        "export_file": {"label": labels["export_file"]},
        "username": {"label": labels["username"]},
        "password": {"label": labels["password"]},
        "case_number": {"label": labels["case_number"], "placeholder": labels["case_placeholder"]},
    }
    for key in BUTTONS:
        props[key] = {"value": labels[key]}
    for key in ATTRIBUTE_KEYS:
        if key in COLOUR_KEYS:
            choices = [(display["colours"][c], c) for c in COLOURS]
        elif key in FLAG_KEYS:
            flag = display["flags"][key]
            choices = [anyone, (flag["yes"], "yes"), (flag["no"], "no")]
        else:
            choices = [anyone, *((text, value) for value, text in display["values"][key].items())]
        props[key] = {"label": attr_labels[key], "choices": choices}
    return props


# ---- hits: source, box, full frame ----


def hit_box(hit: Hit) -> tuple[int, int, int, int] | None:
    """The crop's box ``(x, y, w, h)`` in its frame, from the store's ``bbox`` metadata."""
    try:
        x, y, w, h = (int(float(v)) for v in str(hit.metadata.get("bbox", "")).split(","))
    except ValueError:
        return None
    return x, y, w, h


def hit_source(hit: Hit) -> str:
    """Where the crop comes from: the media file, and the frame index for a video."""
    source, frame = hit.metadata.get("source", ""), hit.metadata.get("frame")
    return f"{source}#frame={frame}" if source and frame is not None and not _is_image(source) else str(source)


def _is_image(path: str) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_frame(source: str, frame: int | None) -> Image.Image:
    """One frame of a video (or a still image) as RGB; OSError naming the file when it cannot be read."""
    if _is_image(source) or frame is None:
        with Image.open(source) as image:
            return image.convert("RGB")
    if not Path(source).is_file():
        raise OSError(f"media file {source} is missing")
    capture = cv2.VideoCapture(source)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok:
        raise OSError(f"cannot read frame {frame} of {source}")
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def frame_with_box(hit: Hit) -> Image.Image:
    """The hit's full frame with its box drawn in red."""
    image = read_frame(str(hit.metadata.get("source", "")), hit.metadata.get("frame"))
    box = hit_box(hit)
    if box is not None:
        x, y, w, h = box
        width = max(2, image.width // 200)
        ImageDraw.Draw(image).rectangle((x, y, x + w - 1, y + h - 1), outline=BOX_COLOUR, width=width)
    return image


# ---- replies ----


def changed(wanted: Filter, current: Filter) -> bool:
    """Whether a parsed message constrains anything new (else it was not understood as a request)."""
    return wanted != current and wanted != Filter()


def gallery_items(hits: Sequence[Hit], registry: Registry, lang: str, tz: tzinfo) -> list[tuple[Image.Image, str]]:
    """Gallery entries: thumbnail image and caption "camera · local time · score".

    Images, not paths: Gradio then serves its own cached copies at content-hash URLs that only a
    signed-in session is given, and the data directory itself is never served.
    """
    return [
        (
            _thumbnail_image(hit.thumbnail),
            f"{registry.camera_name(hit.camera_id, lang)} · "
            f"{hit.time.astimezone(tz):%m-%d %H:%M:%S} · {hit.score:.2f}",
        )
        for hit in hits
    ]


def _thumbnail_image(path: str | Path) -> Image.Image:
    """The thumbnail, or a gray tile when its file is gone (the gallery's order must match the hits)."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError:
        LOG.warning("thumbnail %s missing", path)
        return Image.new("RGB", (64, 128), (128, 128, 128))


def understood(current: Filter, services: Services, lang: str) -> str:
    """What the filter means, in ``lang``: the summary line and the cameras by name."""
    lines = [say(lang, "understood", summary=summarize(current, lang, services.registry, services.now()))]
    if current.cameras:
        sep = display_words(lang)["words"]["separator"]
        names = sep.join(services.registry.camera_name(c, lang) for c in current.cameras)
        lines.append(say(lang, "camera_list", cameras=names))
    return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    """What a search gave: hits, notes for the officer, and whether the store answered at all."""

    hits: list[Hit]
    notes: list[str]
    answered: bool = True


def run_search(run: Callable[[], SearchResult], lang: str) -> Outcome:
    """Run a store query; a store failure becomes a note for the officer, not an exception."""
    try:
        result = run()
    except Exception as err:  # the app must stay up whatever the store does; the officer sees why
        LOG.exception("store query failed")
        return Outcome([], [say(lang, "store_unavailable", detail=err)], answered=False)
    return Outcome(list(result.hits), list(result.notes))


def bullets(notes: Sequence[str]) -> list[str]:
    """Notes as one Markdown list block (none when there are no notes)."""
    return ["\n".join(f"- {note}" for note in notes)] if notes else []


def results_reply(outcome: Outcome, lang: str, notes: Sequence[str] = ()) -> list[str]:
    """Reply blocks: the notes, then how many were found (or what to try when nothing was)."""
    blocks = bullets([*notes, *outcome.notes])
    if outcome.hits:
        blocks.append(say(lang, "found", n=len(outcome.hits)))
    elif outcome.answered:
        blocks.append(say(lang, "found_none"))
    return blocks


# ---- the app's callbacks ----


class ChatApp:
    """Every event handler of the page, as plain methods (testable without a browser)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def tz(self) -> tzinfo:
        """The configured timezone."""
        return self.services.settings.tz

    def _view(self, session: Session) -> list[Any]:
        """Chat, gallery, filter summary and the form values for a session."""
        return [
            session.conversation,
            gallery_items(session.hits, self.services.registry, session.lang, self.tz),
            f"**{ui_words(session.lang)['labels']['filter']}**: "
            + summarize(session.filter, session.lang, self.services.registry, self.services.now()),
            *control_values(session.filter, self.tz),
        ]

    def sign_in(self, username: str, password: str, case_number: str, session: Session) -> list[Any]:
        """Log in (audited) for a case; on success hide the login form and say who is signed in."""
        lang = session.lang
        try:
            case = validate_case_number(case_number)
            user = login(username or "", password or "", store=self.services.users, log=self.services.audit)
        except (CaseNumberError, AuthError, AuditError) as err:
            return [session, say(lang, "login_failed", detail=err), gr.update(visible=True), "", gr.update()]
        session = replace(session, user=user, case_number=case)
        return [session, self._signed_in(session), gr.update(visible=False), "", gr.update(visible=True)]

    def sign_out(self, session: Session) -> list[Any]:
        """End the session (audited): forget user, case, conversation and hits; show the login form again."""
        if session.user is not None:
            try:
                self.services.audit.append("logout", user=session.user.username, case=session.case_number)
            except AuditError:
                LOG.exception("logout of %s not recorded", session.user.username)
        session = Session(lang=session.lang)
        return [session, *self._view(session), None, "", "", gr.update(visible=True), gr.update(visible=False)]

    def _signed_in(self, session: Session) -> str:
        if session.user is None:
            return ""
        user = session.user
        return say(session.lang, "signed_in", user=user.username, role=user.role, case=session.case_number)

    def _locked(self, session: Session) -> bool:
        """Whether this session may not search yet (login and case number required)."""
        return session.user is None or session.case_number is None

    def _search(
        self,
        session: Session,
        wanted: Filter,
        action: str,
        request: str | None,
        query: Callable[[Filter, str], SearchResult],
    ) -> Outcome:
        """Search within the officer's scope and record it in the audit log (results only if recorded)."""
        lang = session.lang
        if session.user is None:
            return Outcome([], [say(lang, "login_first")], answered=False)
        try:
            scoped, scope_notes = apply_scope(wanted, session.user, self.services.registry, lang)
        except AccessError as err:
            return Outcome([], [str(err)], answered=False)
        outcome = run_search(lambda: query(scoped, lang), lang)
        try:
            self.services.audit.append(
                action,
                user=session.user.username,
                case=session.case_number,
                request=request,
                search_filter=scoped,
                result_ids=[hit.id for hit in outcome.hits],
                notes=outcome.notes,
            )
        except AuditError as err:
            return Outcome([], [say(lang, "audit_failed", detail=err)], answered=False)
        return replace(outcome, notes=[*scope_notes, *outcome.notes])

    def _find(self, scoped: Filter, lang: str) -> SearchResult:
        return search(scoped, k=RESULT_LIMIT, store=self.services.store(), lang=lang)

    def _similar(self, hit_id: str, scoped: Filter, lang: str) -> SearchResult:
        return similar(hit_id, scoped, k=RESULT_LIMIT, store=self.services.store(), lang=lang)

    def echo(self, message: str, session: Session) -> tuple[str, str, list[dict[str, str]]]:
        """Show the officer's message and a busy line at once; clear the text box."""
        shown = session.said("user", message) if (message or "").strip() else session
        return "", message, shown.said("assistant", say(session.lang, "busy")).conversation

    def respond(self, message: str, session: Session) -> list[Any]:
        """One conversation turn: parse against the current filter, search, answer in the UI language."""
        session = self.turn(message, session)
        return [session, *self._view(session)]

    def turn(self, message: str, session: Session) -> Session:
        """The turn's new session (conversation, filter and hits updated)."""
        lang, text = session.lang, (message or "").strip()
        if not text:
            return session.said("assistant", say(lang, "empty"))
        session = session.said("user", text)
        if len(text) > MAX_MESSAGE_CHARS:
            return session.said("assistant", say(lang, "too_long", n=len(text), limit=MAX_MESSAGE_CHARS))
        if self._locked(session):
            return session.said("assistant", say(lang, "login_first"))
        notes: list[str] = []
        searched: list[Outcome] = []

        def parse_step(
            text: str, current: Filter | None, now: datetime, registry: Registry, llm: Any = None
        ) -> ParseResult:
            try:
                return parse(text, current, now, registry, llm=llm)
            except LLMUnavailable as err:
                notes.append(say(lang, "llm_unavailable", detail=err))
                return parse(text, current, now, registry, llm=None)

        def search_step(wanted: Filter, k: int) -> Outcome:
            if not changed(wanted, session.filter):
                return Outcome([], [])  # nothing new to search for: the reply says what was not understood
            searched.append(self._search(session, wanted, "search", text, self._find))
            return searched[-1]

        try:
            llm = self.services.llm()
        except LLMUnavailable as err:
            llm = None
            notes.append(say(lang, "llm_unavailable", detail=err))
        conversation = build_conversation(
            self.services.registry, llm=llm, search=search_step, parse=parse_step, k=RESULT_LIMIT
        )
        try:
            current = session.filter if session.filter != Filter() else None
            result = conversation.invoke(Turn(text, current, self.services.now()))
        except Exception as err:  # a parser bug must not take the app down; the filter stays as it was
            LOG.exception("turn failed for %r", text)
            return session.said("assistant", say(lang, "parse_failed", detail=err))
        notes.extend(result.notes)
        if result.intent == "reset" and result.filter == Filter():
            session = replace(session, filter=Filter(), hits=[])
            return session.said("assistant", say(lang, "reset"))
        if not searched:
            vague = parser_note(result.lang, "nothing_understood")
            lines = [say(lang, "not_understood", text=text), *bullets([n for n in notes if n != vague])]
            return session.said("assistant", "\n\n".join(lines))
        reply = [understood(result.filter, self.services, lang), *results_reply(searched[-1], lang, notes)]
        session = replace(session, filter=result.filter, hits=searched[-1].hits)
        return session.said("assistant", "\n\n".join(reply))

    def apply_filter(self, session: Session, *values: Any) -> list[Any]:
        """The officer edited the form: validate it, search with it, continue the chat from it."""
        lang = session.lang
        if self._locked(session):
            session = session.said("assistant", say(lang, "login_first"))
            return [session, *self._view(session)]
        try:
            edited = filter_from_controls(values, session.filter, self.tz, self.services.registry, lang)
        except FilterError as err:
            session = session.said("assistant", say(lang, "bad_filter", detail=err))
            return [session, *self._view(session)]
        outcome = self._search(session, edited, "filter_edit", None, self._find)
        reply = [say(lang, "edited"), understood(edited, self.services, lang), *results_reply(outcome, lang)]
        session = replace(session, filter=edited, hits=outcome.hits)
        session = session.said("assistant", "\n\n".join(reply))
        return [session, *self._view(session)]

    def new_search(self, session: Session) -> list[Any]:
        """Forget the filter, hits, selection and report basket; keep the language and the conversation."""
        session = replace(session, filter=Filter(), hits=[], selected=None, report=[])
        session = session.said("assistant", say(session.lang, "reset"))
        return [session, *self._view(session), None, ""]

    def select(self, session: Session, event: gr.SelectData) -> tuple[Session, Image.Image | None, str]:
        """Show the clicked hit: full frame with its box, camera, time, score, source, why."""
        index = event.index if isinstance(event.index, int) else None
        if index is None or not 0 <= index < len(session.hits):
            return session, None, say(session.lang, "select_first")
        hit = session.hits[index]
        image, note = self._frame_with_box(hit, session.lang)
        return replace(session, selected=hit), image, self._hit_text(hit, session.lang, note)

    def _frame_with_box(self, hit: Hit, lang: str) -> tuple[Image.Image | None, str | None]:
        try:
            return frame_with_box(hit), None
        except OSError as err:
            try:
                with Image.open(hit.thumbnail) as thumb:
                    return thumb.convert("RGB"), say(lang, "frame_missing", detail=err)
            except OSError:
                return None, say(lang, "frame_missing", detail=err)

    def _hit_text(self, hit: Hit, lang: str, note: str | None) -> str:
        words = ui_words(lang)["detail"]
        lines = [
            f"**{words['camera']}:** {self.services.registry.camera_name(hit.camera_id, lang)} ({hit.camera_id})",
            f"**{words['time']}:** {hit.time.astimezone(self.tz).isoformat(sep=' ', timespec='seconds')}",
            f"**{words['score']}:** {hit.score:.3f}",
            f"**{words['source']}:** {hit_source(hit)}",
        ]
        if hit.why:
            lines.append(f"**{words['why']}:** {'; '.join(hit.why)}")
        if note:
            lines.append(note)
        return "\n\n".join(lines)

    def find_similar(self, session: Session, everywhere: bool) -> list[Any]:
        """Hits that look like the selected one, within the current filter or across all footage."""
        lang = session.lang
        if self._locked(session) or session.selected is None:
            session = session.said("assistant", say(lang, "login_first" if self._locked(session) else "select_first"))
            return [session, *self._view(session)]
        scope = Filter() if everywhere else session.filter
        label = f"{self.services.registry.camera_name(session.selected.camera_id, lang)} " + format(
            session.selected.time.astimezone(self.tz), "%m-%d %H:%M:%S"
        )
        hit_id = session.selected.id
        outcome = self._search(session, scope, "find_similar", f"similar to {hit_id}", partial(self._similar, hit_id))
        reply = [say(lang, "similar_to", hit=label), *results_reply(outcome, lang)]
        session = replace(session, hits=outcome.hits).said("assistant", "\n\n".join(reply))
        return [session, *self._view(session)]

    def mark(self, session: Session) -> tuple[Session, str]:
        """Put the selected hit into the report basket."""
        if session.selected is None:
            return session, say(session.lang, "select_first")
        kept = [h for h in session.report if h.id != session.selected.id]
        session = replace(session, report=[*kept, session.selected])
        return session, say(session.lang, "marked", n=len(session.report))

    def export(self, session: Session) -> tuple[Session, str | None, str]:
        """Write the report ZIP of the basket (or of the selected hit when the basket is empty)."""
        lang = session.lang
        hits = session.report or ([session.selected] if session.selected is not None else [])
        if self._locked(session):
            return session, None, say(lang, "login_first")
        if not hits:
            return session, None, say(lang, "export_nothing")
        context = ReportContext(
            filter=session.filter,
            conversation=session.conversation,
            registry=self.services.registry,
            lang=lang,
            exported_at=self.services.now(),
            user=session.user.username if session.user else None,
            case_number=session.case_number,
        )
        exported = [
            ExportedHit(
                id=h.id,
                camera_id=h.camera_id,
                time=h.time,
                score=h.score,
                thumbnail=Path(h.thumbnail),
                source=hit_source(h),
                bbox=hit_box(h),
            )
            for h in hits
        ]
        try:
            path = write_report(exported, context, self.services.settings.data_dir / "exports")
        except ExportError as err:
            return session, None, say(lang, "export_failed", detail=err)
        if session.user is not None:
            try:
                self.services.audit.append(
                    "export",
                    user=session.user.username,
                    case=session.case_number,
                    search_filter=session.filter,
                    result_ids=[hit.id for hit in hits],
                    notes=[path.name],
                )
            except AuditError as err:
                path.unlink(missing_ok=True)
                return session, None, say(lang, "audit_failed", detail=err)
        download = Path(tempfile.mkdtemp(prefix="sightline-export-")) / path.name  # the record stays in data_dir
        shutil.copyfile(path, download)
        return session, str(download), say(lang, "export_done", n=len(hits))

    def transcribe(self, audio: Any, session: Session, typed: str) -> tuple[str, str]:
        """Voice → text box (for the officer to check), with a status line; errors keep the typed text."""
        lang = session.lang
        if audio is None:
            return typed, ""
        try:
            transcript = self.services.recognizer().transcribe(audio, lang)  # type: ignore[arg-type]
        except AudioInputError as err:
            return typed, say(lang, "voice_bad_audio", detail=err)
        except ASRUnavailable as err:
            return typed, say(lang, "voice_unavailable", detail=err)
        except Exception as err:  # a broken model must not take the page down
            LOG.exception("speech recognition failed")
            return typed, say(lang, "voice_unavailable", detail=err)
        return transcript.text, say(lang, "voice_done", seconds=transcript.duration_s)

    def set_language(self, lang: str, session: Session) -> list[Any]:
        """Switch the UI language (remembered in the browser); relabel everything."""
        lang = lang if lang in LANGUAGES else "en"
        session = replace(session, lang=lang)
        props = localized(lang, self.services.registry)
        return [
            session,
            lang,
            gr.update(value=lang, **props["language"]),
            *(gr.update(**props[key]) for key in LOCALIZED_ORDER),
            *self._view(session)[1:3],
            self._signed_in(session),
        ]


LOCALIZED_ORDER = (
    "title",
    "chat",
    "input",
    "voice",
    "voice_hint",
    "time_start",
    "time_end",
    "cameras",
    *ATTRIBUTE_KEYS,
    "description",
    "results",
    "detail_image",
    "export_file",
    "send",
    "new_search",
    "apply",
    "similar_here",
    "similar_everywhere",
    "mark",
    "export",
    "username",
    "password",
    "case_number",
    "login",
    "sign_out",
)


# ---- layout ----


def build_ui(chat: ChatApp, lang: str = "en") -> gr.Blocks:
    """The page: chat and results on the left, the editable filter and the selected hit on the right."""
    registry = chat.services.registry
    props = localized(lang, registry)
    c: dict[str, Any] = {}
    with gr.Blocks(title="Sightline") as page:
        session = gr.State(Session(lang=lang))
        pending = gr.State("")
        # a fixed key so the choice survives app restarts; it guards only the UI language, nothing secret
        stored_lang = gr.BrowserState(lang, storage_key="sightline-language", secret="sightline-ui-language")
        with gr.Row():
            c["title"] = gr.Markdown(**props["title"])
            c["language"] = gr.Radio(
                [(name, code) for code, name in LANGUAGES.items()],
                value=lang,
                scale=0,
                min_width=180,
                elem_id="language",
                **props["language"],
            )
        with gr.Group() as login_box, gr.Row():
            c["username"] = gr.Textbox(elem_id="username", **props["username"])
            c["password"] = gr.Textbox(type="password", elem_id="password", **props["password"])
            c["case_number"] = gr.Textbox(elem_id="case-number", **props["case_number"])
            c["login"] = gr.Button(variant="primary", elem_id="login", **props["login"])
        with gr.Row():
            signed_in = gr.Markdown(elem_id="signed-in")
            c["sign_out"] = gr.Button(
                size="sm", scale=0, min_width=120, visible=False, elem_id="sign-out", **props["sign_out"]
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                c["chat"] = gr.Chatbot(
                    height=380, elem_id="chat", buttons=["copy"], group_consecutive_messages=False, **props["chat"]
                )
                with gr.Row():
                    c["input"] = gr.Textbox(scale=5, lines=1, max_lines=4, elem_id="request", **props["input"])
                    c["send"] = gr.Button(variant="primary", scale=1, elem_id="send", **props["send"])
                with gr.Row():
                    c["voice"] = gr.Audio(
                        sources=["microphone", "upload"], type="filepath", elem_id="voice", **props["voice"]
                    )
                    with gr.Column():
                        c["voice_hint"] = gr.Markdown(**props["voice_hint"])
                        voice_status = gr.Markdown(elem_id="voice-status")
                        c["new_search"] = gr.Button(elem_id="new-search", **props["new_search"])
                c["results"] = gr.Gallery(
                    columns=4,
                    fit_columns=False,
                    height=330,
                    allow_preview=False,
                    object_fit="contain",
                    elem_id="results",
                    **props["results"],
                )
            with gr.Column(scale=4):
                summary = gr.Markdown(elem_id="filter-summary")
                with gr.Group():
                    with gr.Row():
                        c["time_start"] = gr.DateTime(
                            type="string",
                            timezone=chat.services.settings.timezone,
                            elem_id="time-start",
                            **props["time_start"],
                        )
                        c["time_end"] = gr.DateTime(
                            type="string",
                            timezone=chat.services.settings.timezone,
                            elem_id="time-end",
                            **props["time_end"],
                        )
                    c["cameras"] = gr.Dropdown(multiselect=True, elem_id="cameras", **props["cameras"])
                    for row in _chunks(ATTRIBUTE_KEYS, 3):
                        with gr.Row():
                            for key in row:
                                multiselect = key in COLOUR_KEYS
                                c[key] = gr.Dropdown(
                                    multiselect=multiselect,
                                    value=[] if multiselect else "",
                                    elem_id=f"attr-{key}",
                                    min_width=120,
                                    **props[key],
                                )
                    c["description"] = gr.Textbox(elem_id="description", **props["description"])
                    c["apply"] = gr.Button(elem_id="apply", **props["apply"])
                c["detail_image"] = gr.Image(type="pil", interactive=False, elem_id="detail", **props["detail_image"])
                detail_text = gr.Markdown(elem_id="detail-text")
                with gr.Row():
                    c["similar_here"] = gr.Button(size="sm", elem_id="similar-here", **props["similar_here"])
                    c["similar_everywhere"] = gr.Button(
                        size="sm", elem_id="similar-everywhere", **props["similar_everywhere"]
                    )
                with gr.Row():
                    c["mark"] = gr.Button(size="sm", elem_id="mark", **props["mark"])
                    c["export"] = gr.Button(size="sm", elem_id="export", **props["export"])
                export_status = gr.Markdown(elem_id="export-status")
                c["export_file"] = gr.File(interactive=False, height=100, elem_id="export-file", **props["export_file"])

        credentials = [c["username"], c["password"], c["case_number"], session]
        for trigger in (c["login"].click, c["password"].submit, c["case_number"].submit):
            trigger(chat.sign_in, credentials, [session, signed_in, login_box, c["password"], c["sign_out"]])
        controls = [c[key] for key in CONTROL_KEYS]
        view = [c["chat"], c["results"], summary, *controls]
        c["sign_out"].click(
            chat.sign_out,
            [session],
            [session, *view, c["detail_image"], detail_text, signed_in, login_box, c["sign_out"]],
        )
        for trigger in (c["input"].submit, c["send"].click):
            trigger(chat.echo, [c["input"], session], [c["input"], pending, c["chat"]], queue=False).then(
                chat.respond, [pending, session], [session, *view], show_progress="minimal"
            )
        c["apply"].click(chat.apply_filter, [session, *controls], [session, *view])
        c["new_search"].click(chat.new_search, [session], [session, *view, c["detail_image"], detail_text])
        c["results"].select(chat.select, [session], [session, c["detail_image"], detail_text])
        c["similar_here"].click(lambda s: chat.find_similar(s, everywhere=False), [session], [session, *view])
        c["similar_everywhere"].click(lambda s: chat.find_similar(s, everywhere=True), [session], [session, *view])
        c["mark"].click(chat.mark, [session], [session, export_status])
        c["export"].click(chat.export, [session], [session, c["export_file"], export_status])
        for trigger in (c["voice"].stop_recording, c["voice"].upload):
            trigger(chat.transcribe, [c["voice"], session, c["input"]], [c["input"], voice_status])
        localized_outputs = [c[key] for key in LOCALIZED_ORDER]
        language_outputs = [session, stored_lang, c["language"], *localized_outputs, c["results"], summary, signed_in]
        c["language"].input(chat.set_language, [c["language"], session], language_outputs)
        page.load(chat.set_language, [stored_lang, session], language_outputs)
    return page


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ---- command line ----


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo",
        action="store_true",
        help="ingest the demo footage (skipped when stored) and create the 'demo' officer, printing its "
        "one-time password",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        help="interpret requests as if it were this instant (ISO 8601 with offset), e.g. to replay "
        f"archived footage; default: the clock, or with --demo {DEMO_NOW} (the morning after the demo footage)",
    )
    parser.add_argument("--lang", choices=sorted(LANGUAGES), default="en", help="initial UI language")
    return parser.parse_args(argv)


def ingest_demo(settings: Settings) -> None:
    """Ingest the demo footage (Debian's vtest.avi as several cameras) unless it is already stored."""
    if not VTEST.is_file():
        LOG.error("demo video %s not found; install it with `sudo apt-get install opencv-doc`", VTEST)
        return
    try:
        summary = ingest(demo_sources(VTEST, settings.tz), settings=settings, progress=False)
    except (IngestError, StoreError) as err:
        LOG.error("demo footage not ingested: %s", err)
        return
    LOG.info("demo footage:\n%s", summary.render())


def announce_accounts(users: UserStore, registry: Registry, demo: bool) -> None:
    """With ``--demo``, create the demo officer and print its one-time password; warn when nobody can log in."""
    if demo:
        password = users.ensure_demo_user(registry)
        if password is not None:
            print(f"demo officer created: user name 'demo', one-time password {password} (shown once)", flush=True)
    if not users.users():
        LOG.warning("no user accounts yet: create one with `python -m assistant.users add`, or start with --demo")


def main(argv: Sequence[str] | None = None) -> None:
    """Start the app (``python app.py --help``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _arguments(argv)
    settings = get_settings()
    registry = load_registry(settings.registry_path)
    if args.demo and args.now is None:
        args.now = datetime.fromisoformat(DEMO_NOW)
        LOG.info("demo clock: requests are read as if it were %s (--now to change)", DEMO_NOW)
    if args.now is not None and args.now.tzinfo is None:
        args.now = args.now.replace(tzinfo=settings.tz)
    fixed_now = args.now
    if args.demo:
        ingest_demo(settings)
    announce_accounts(UserStore(settings.users_file), registry, demo=args.demo)
    services = Services(settings, registry, clock=(lambda: fixed_now) if fixed_now else None)
    threading.Thread(target=services.warm_up_llm, name="llm-warm-up", daemon=True).start()
    page = build_ui(ChatApp(services), lang=args.lang)
    theme = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    page.queue(default_concurrency_limit=4).launch(
        server_name=args.host,
        server_port=args.port,
        blocked_paths=[str(settings.data_dir)],  # users, audit log, thumbnails: never served as files
        theme=theme,
        footer_links=[],
        run_history=False,
    )


if __name__ == "__main__":
    main()
