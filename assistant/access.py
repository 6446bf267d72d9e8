"""Who may search which cameras, and for which case: enforced in code after parsing.

A user's *scope* is a list of entries, each a camera id, an area of the camera
registry (English or Chinese name), or ``*`` (every camera; supervisors and
admins only). :func:`apply_scope` intersects a parsed :class:`Filter` with the
scope, whatever the request said: a filter with no place constraint becomes
the whole scope (never "everything" for a scoped user), and cameras outside
the scope are dropped and reported, not searched. Every search also needs a
case reference (:func:`validate_case_number`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assistant.filters import Filter, set_cameras
from assistant.lexicon import note
from assistant.registry import Registry

if TYPE_CHECKING:
    from assistant.users import User

ALL = "*"
WILDCARD_ROLES = frozenset({"supervisor", "admin"})
CASE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_-]{1,38}[A-Za-z0-9]")


class AccessError(PermissionError):
    """The user may not do this; the message says why and what to do."""


class ScopeError(ValueError):
    """A scope entry is not a camera id, an area or ``*``, or ``*`` was given to an officer."""


class CaseNumberError(ValueError):
    """A case reference is missing or malformed."""


def canonical_scope(entries: Iterable[str], role: str, registry: Registry) -> tuple[str, ...]:
    """Validate scope entries and return them sorted as camera ids, English area names or ``("*",)``.

    Matching of ids and area names ignores case; Chinese area names map to English.
    """
    wanted = [e.strip() for e in entries if e.strip()]
    if not wanted:
        raise ScopeError("a scope needs at least one area or camera id (or * for supervisors and admins)")
    if ALL in wanted:
        if role not in WILDCARD_ROLES:
            raise ScopeError(f"scope * (every camera) is for supervisors and admins, not role {role!r}")
        return (ALL,)
    ids = {c.id.casefold(): c.id for c in registry.cameras}
    areas = {name.casefold(): c.area for c in registry.cameras for name in (c.area, c.area_zh)}
    canonical: set[str] = set()
    unknown: list[str] = []
    for entry in wanted:
        match = ids.get(entry.casefold()) or areas.get(entry.casefold())
        if match is None:
            unknown.append(entry)
        else:
            canonical.add(match)
    if unknown:
        known_areas = sorted({c.area for c in registry.cameras})
        raise ScopeError(
            f"unknown scope entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; "
            f"use camera ids from the registry or areas: {', '.join(known_areas)}"
        )
    return tuple(sorted(canonical))


def scope_cameras(user: User, registry: Registry) -> set[str]:
    """The registry camera ids this user may search (empty for a disabled user).

    ``*`` counts only for supervisors and admins; entries no longer in the registry are ignored.
    """
    if user.disabled:
        return set()
    allowed: set[str] = set()
    for entry in user.scope:
        if entry == ALL:
            if user.role in WILDCARD_ROLES:
                allowed |= registry.ids
        elif entry in registry.ids:
            allowed.add(entry)
        else:
            allowed.update(registry.in_area(entry))
    return allowed


def apply_scope(search: Filter, user: User, registry: Registry, lang: str = "en") -> tuple[Filter, list[str]]:
    """The filter actually searched, limited to the user's scope, and notes for the officer (in ``lang``).

    No cameras in the filter (no place constraint, or a place that matched nothing)
    becomes every camera in scope. Named cameras outside the scope are dropped and
    listed in a note. Raises :class:`AccessError` when nothing in scope is left to
    search, since an empty camera list would mean "everywhere".
    """
    allowed = scope_cameras(user, registry)
    if not allowed:
        raise AccessError(
            f"user {user.username!r} may not search any camera (disabled, or scope matches no camera "
            "in the registry); ask an administrator to check the account"
        )
    if not search.cameras:
        notes = []
        if search.place_text:
            notes.append(note(lang, "scope_place_unmatched", place=search.place_text))
        return set_cameras(search, sorted(allowed), place_text=None), notes
    inside = sorted(set(search.cameras) & allowed)
    outside = sorted(set(search.cameras) - allowed)
    notes = [note(lang, "scope_outside", cameras=_names(outside, registry, lang))] if outside else []
    if not inside:
        raise AccessError(note(lang, "scope_nothing_left", cameras=_names(outside, registry, lang)))
    return set_cameras(search, inside, place_text=search.place_text), notes


def validate_case_number(text: str) -> str:
    """A case reference, stripped: 3–40 letters, digits, ``-``, ``_`` or ``/``, starting and ending alphanumeric."""
    value = (text or "").strip()
    if not value:
        raise CaseNumberError("a case number is required to search footage, e.g. 2021-QD-000123")
    if not CASE_NUMBER.fullmatch(value):
        raise CaseNumberError(
            f"case number {value!r} is not valid: use 3–40 characters (letters, digits, '-', '_' or '/'), "
            "starting and ending with a letter or digit, e.g. 2021-QD-000123"
        )
    return value


def _names(camera_ids: list[str], registry: Registry, lang: str) -> str:
    """Each camera as "Name (ID)" when the registry knows it, else the bare id."""
    return ", ".join(
        f"{registry.camera_name(c, lang)} ({c})" if c in registry.ids else repr(c) for c in camera_ids
    )
