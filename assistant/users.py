"""User accounts: who may log in, with which role and which search scope.

Users live in SQLite at ``Settings.users_file`` with Argon2id password hashes
(argon2-cffi, salted, parameters in the hash). Roles: ``officer``,
``supervisor``, ``admin``; a scope lists areas and/or camera ids (``*`` only for
supervisors and admins, see :mod:`assistant.access`). There is no default
password: accounts are created with ``python -m assistant.users add``, and the
demo officer gets a random one-time password (:func:`ensure_demo_user`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import secrets
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assistant.access import canonical_scope
from assistant.audit import AuditError, AuditLog, default_log
from assistant.config import get_settings
from assistant.registry import Registry, load_registry

Role = Literal["officer", "supervisor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
DEMO_USERNAME = "demo"
LOGIN_FAILED = "wrong username or password"
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    scope TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created TEXT NOT NULL
)
"""


class AuthError(PermissionError):
    """Login refused. Unknown user and wrong password share one message."""


class UserError(ValueError):
    """A user-management request is invalid (bad name, weak password, unknown user, …)."""


@dataclass(frozen=True)
class User:
    """An account as the rest of the app sees it (never the password hash)."""

    username: str
    role: Role
    scope: tuple[str, ...]
    disabled: bool
    created: datetime


class UserStore:
    """The user database at ``path``; ``hasher`` defaults to argon2-cffi's recommended parameters."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()

    def add(self, username: str, password: str, role: str, scope: Iterable[str], registry: Registry) -> User:
        """Create a user; the scope is checked against ``registry`` (see :func:`canonical_scope`)."""
        name = _valid_username(username)
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
        entries = canonical_scope(scope, role, registry)
        _check_password(password, name)
        created = datetime.now(UTC).replace(microsecond=0)
        with self._connection() as db:
            try:
                db.execute(
                    "INSERT INTO users (username, password_hash, role, scope, disabled, created) "
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    (name, self.hasher.hash(password), role, json.dumps(entries), created.isoformat()),
                )
            except sqlite3.IntegrityError as err:
                raise UserError(f"user {name!r} already exists; use `passwd` or `enable` to change it") from err
        return self.get(name)

    def get(self, username: str) -> User:
        """The user called ``username``; :class:`UserError` if there is none."""
        row = self._row(username)
        if row is None:
            raise UserError(f"no user {username!r}; `python -m assistant.users list` shows the users")
        return _user(row)

    def users(self) -> list[User]:
        """Every user, by name."""
        with self._connection() as db:
            rows = db.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [_user(row) for row in rows]

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (no login, no search) or re-enable a user."""
        self._update(username, "disabled = ?", int(disabled))
        return self.get(username)

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password."""
        user = self.get(username)
        _check_password(password, user.username)
        self._update(user.username, "password_hash = ?", self.hasher.hash(password))

    def authenticate(self, username: str, password: str) -> User:
        """The user if the password is right and the account enabled; :class:`AuthError` otherwise."""
        row = self._row(username)
        if row is None:
            self._burn_time(password)
            raise AuthError(LOGIN_FAILED)
        try:
            self.hasher.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError) as err:
            raise AuthError(LOGIN_FAILED) from err
        user = _user(row)
        if user.disabled:
            raise AuthError(f"account {user.username!r} is disabled; ask an administrator")
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self._update(user.username, "password_hash = ?", self.hasher.hash(password))
        return user

    def ensure_demo_user(self, registry: Registry) -> str | None:
        """Create the "demo" officer (scope: every area of ``registry``) with a random password.

        Returns that password, to be shown once, or ``None`` if the user already exists.
        """
        password = secrets.token_urlsafe(12)
        areas = sorted({camera.area for camera in registry.cameras})
        try:
            self.add(DEMO_USERNAME, password, "officer", areas, registry)
        except UserError:
            if self._row(DEMO_USERNAME) is not None:
                return None
            raise
        return password

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash(secrets.token_hex(16))

    def _burn_time(self, password: str) -> None:
        """Verify against a throwaway hash so unknown users take as long as wrong passwords."""
        with suppress(VerificationError):
            self.hasher.verify(self._dummy_hash, password)

    def _row(self, username: str) -> sqlite3.Row | None:
        with self._connection() as db:
            row: sqlite3.Row | None = db.execute(
                "SELECT * FROM users WHERE username = ?", (username.strip().lower(),)
            ).fetchone()
        return row

    def _update(self, username: str, assignment: str, value: object) -> None:
        with self._connection() as db:
            changed = db.execute(
                f"UPDATE users SET {assignment} WHERE username = ?", (value, username.strip().lower())
            ).rowcount
        if not changed:
            raise UserError(f"no user {username!r}; `python -m assistant.users list` shows the users")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed; creates the database (mode 600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            with db:
                db.execute(SCHEMA)
                yield db


def _user(row: sqlite3.Row) -> User:
    return User(
        username=row["username"],
        role=row["role"],
        scope=tuple(json.loads(row["scope"])),
        disabled=bool(row["disabled"]),
        created=datetime.fromisoformat(row["created"]),
    )


def _valid_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise UserError(
            f"username {username!r} is not valid: use 2–32 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise UserError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password too long: use at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username:
        raise UserError("password must not be the username")


def default_store() -> UserStore:
    """The user database of the configured settings (``Settings.users_file``)."""
    return UserStore(get_settings().users_file)


def authenticate(username: str, password: str, store: UserStore | None = None) -> User:
    """Check a login against ``store`` (default: the configured database); raises :class:`AuthError`."""
    return (store or default_store()).authenticate(username, password)


def login(username: str, password: str, store: UserStore | None = None, log: AuditLog | None = None) -> User:
    """:func:`authenticate` and record ``login`` or ``login_failed`` in the audit log (default: configured)."""
    audit = log or default_log()
    try:
        user = authenticate(username, password, store)
    except AuthError as err:
        audit.append("login_failed", user=username.strip().lower()[:64], notes=[str(err)])
        raise
    audit.append("login", user=user.username)
    return user


def ensure_demo_user(store: UserStore | None = None, registry: Registry | None = None) -> str | None:
    """Create the "demo" officer if absent; return its one-time password (else ``None``) for the app to print."""
    return (store or default_store()).ensure_demo_user(registry or load_registry(get_settings().registry_path))


# ---- CLI ----


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise UserError("the two passwords differ; nothing changed")
    return first


def _format(user: User) -> str:
    state = "disabled" if user.disabled else "active"
    return f"{user.username:<20} {user.role:<10} {state:<8} {user.created:%Y-%m-%d %H:%MZ}  {', '.join(user.scope)}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.users", description="Manage Sightline users (changes are audited)."
    )
    parser.add_argument("--db", type=Path, help="user database (default: Settings.users_file)")
    parser.add_argument("--audit", type=Path, help="audit log (default: Settings.audit_file)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user (asks for the password twice)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True, help="officer, supervisor or admin")
    add.add_argument(
        "--scope",
        action="append",
        required=True,
        help="area (e.g. 'Nanshan Community') or camera id the user may search; repeat or separate with "
        "commas; '*' = every camera (supervisor/admin only)",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    for name, text in (("disable", "forbid login and search"), ("enable", "allow login again")):
        commands.add_parser(name, help=text).add_argument("username")
    commands.add_parser("list", help="show every user")
    passwd = commands.add_parser("passwd", help="set a new password (asks twice)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m assistant.users``; returns the exit status."""
    args = _parser().parse_args(argv)
    settings = get_settings()
    store = UserStore(args.db or settings.users_file)
    log = AuditLog(args.audit or settings.audit_file)
    operator = f"os:{getpass.getuser()}"
    try:
        if args.command == "list":
            for user in store.users():
                print(_format(user))
            return 0
        if args.command == "add":
            scope = [part for value in args.scope for part in value.split(",")]
            user = store.add(
                args.username,
                _read_password(args.password_stdin),
                args.role,
                scope,
                load_registry(settings.registry_path),
            )
            detail = f"add {user.username} role={user.role} scope={','.join(user.scope)}"
            log.append("user_add", user=operator, request=detail)
        elif args.command == "passwd":
            user = store.get(args.username)
            store.set_password(user.username, _read_password(args.password_stdin))
            log.append("user_passwd", user=operator, request=f"passwd {user.username}")
        else:
            user = store.set_disabled(args.username, disabled=args.command == "disable")
            log.append(f"user_{args.command}", user=operator, request=f"{args.command} {user.username}")
    except (ValueError, AuditError) as err:  # UserError, ScopeError, RegistryError, AuditError
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(_format(user))
    return 0


if __name__ == "__main__":
    sys.exit(main())
