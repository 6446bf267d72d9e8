"""User accounts: Argon2 hashes, roles and scopes, login refusals, the demo user and the CLI."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from assistant import users
from assistant.access import ScopeError
from assistant.audit import AuditLog
from assistant.registry import Registry
from assistant.users import LOGIN_FAILED, AuthError, UserError, UserStore

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    # real Argon2id, with small cost parameters so the tests stay fast
    return UserStore(tmp_path / "users.db", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def alice(store: UserStore, registry: Registry) -> users.User:
    return store.add("Alice", PASSWORD, "officer", ["Nanshan Community", "hx-gate-w"], registry)


def test_add_then_authenticate_returns_the_user(store: UserStore, alice: users.User) -> None:
    user = store.authenticate("alice", PASSWORD)
    assert user == alice
    assert (user.username, user.role, user.disabled) == ("alice", "officer", False)
    assert user.scope == ("HX-GATE-W", "Nanshan Community")
    assert user.created.utcoffset() is not None


def test_wrong_password_is_refused(store: UserStore, alice: users.User) -> None:
    with pytest.raises(AuthError, match=LOGIN_FAILED):
        store.authenticate("alice", PASSWORD + "!")


def test_unknown_user_gets_the_same_message_as_a_wrong_password(store: UserStore, alice: users.User) -> None:
    with pytest.raises(AuthError) as unknown:
        store.authenticate("mallory", PASSWORD)
    with pytest.raises(AuthError) as wrong:
        store.authenticate("alice", "not the password")
    assert str(unknown.value) == str(wrong.value) == LOGIN_FAILED


def test_disabled_user_is_refused_until_enabled(store: UserStore, alice: users.User) -> None:
    store.set_disabled("alice", True)
    with pytest.raises(AuthError, match="disabled"):
        store.authenticate("alice", PASSWORD)
    store.set_disabled("alice", False)
    assert store.authenticate("alice", PASSWORD).username == "alice"


def test_passwd_replaces_the_old_password(store: UserStore, alice: users.User) -> None:
    store.set_password("alice", "a brand new secret")
    with pytest.raises(AuthError):
        store.authenticate("alice", PASSWORD)
    assert store.authenticate("alice", "a brand new secret").username == "alice"


def test_hashes_are_salted_argon2id_and_never_the_password(
    store: UserStore, alice: users.User, registry: Registry
) -> None:
    store.add("bob", PASSWORD, "officer", ["HX-GATE-N"], registry)
    with sqlite3.connect(store.path) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert len(set(hashes)) == 2
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORD.encode() not in store.path.read_bytes()


def test_hash_is_upgraded_when_parameters_change(store: UserStore, alice: users.User) -> None:
    stronger = UserStore(store.path, PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    stronger.authenticate("alice", PASSWORD)
    with sqlite3.connect(store.path) as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()
    assert "m=2048,t=2" in stored
    assert stronger.authenticate("alice", PASSWORD).username == "alice"


@pytest.mark.parametrize("password", ["short", " " * 12, "alice"])
def test_weak_passwords_are_refused(store: UserStore, registry: Registry, password: str) -> None:
    with pytest.raises(UserError, match="password"):
        store.add("alice", password, "officer", ["HX-GATE-N"], registry)


@pytest.mark.parametrize("username", ["a", "has space", "-dash", "x" * 33, "名字"])
def test_invalid_usernames_are_refused(store: UserStore, registry: Registry, username: str) -> None:
    with pytest.raises(UserError, match="username"):
        store.add(username, PASSWORD, "officer", ["HX-GATE-N"], registry)


def test_duplicate_user_is_refused(store: UserStore, alice: users.User, registry: Registry) -> None:
    with pytest.raises(UserError, match="already exists"):
        store.add("ALICE", PASSWORD, "officer", ["HX-GATE-N"], registry)


def test_unknown_role_is_refused(store: UserStore, registry: Registry) -> None:
    with pytest.raises(UserError, match="role"):
        store.add("carol", PASSWORD, "chief", ["HX-GATE-N"], registry)


def test_only_supervisors_and_admins_get_every_camera(store: UserStore, registry: Registry) -> None:
    with pytest.raises(ScopeError, match=r"\*"):
        store.add("dave", PASSWORD, "officer", ["*"], registry)
    assert store.add("erin", PASSWORD, "supervisor", ["*", "HX-GATE-N"], registry).scope == ("*",)


def test_unknown_scope_entry_is_refused_with_the_known_areas(store: UserStore, registry: Registry) -> None:
    with pytest.raises(ScopeError, match="Nanshan Community"):
        store.add("frank", PASSWORD, "officer", ["Atlantis"], registry)


def test_demo_user_is_created_once_with_a_random_password(store: UserStore, registry: Registry) -> None:
    password = store.ensure_demo_user(registry)
    assert password is not None and len(password) >= users.MIN_PASSWORD_LENGTH
    demo = store.authenticate("demo", password)
    assert demo.role == "officer"
    assert "*" not in demo.scope
    assert set(demo.scope) == {camera.area for camera in registry.cameras}
    assert store.ensure_demo_user(registry) is None
    other = UserStore(store.path.with_name("other.db"), store.hasher).ensure_demo_user(registry)
    assert other != password


def test_login_records_success_and_failure_without_the_password(
    store: UserStore, alice: users.User, tmp_path: Path
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuthError):
        users.login("alice", "wrong password!", store, log)
    assert users.login("alice", PASSWORD, store, log).username == "alice"
    actions = [(e["action"], e["user"]) for e in log.entries()]
    assert actions == [("login_failed", "alice"), ("login", "alice")]
    assert log.verify().ok
    assert b"wrong password!" not in log.path.read_bytes()


def test_cli_add_passwd_disable_enable_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db, audit = tmp_path / "u.db", tmp_path / "a.jsonl"
    common = ["--db", str(db), "--audit", str(audit)]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    add = ["add", "gina", "--role", "officer", "--scope", "Nanshan Community,HX-GATE-W", "--password-stdin"]
    assert users.main([*common, *add]) == 0
    assert UserStore(db).authenticate("gina", PASSWORD).scope == ("HX-GATE-W", "Nanshan Community")
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    assert users.main([*common, "passwd", "gina", "--password-stdin"]) == 0
    assert users.main([*common, "disable", "gina"]) == 0
    with pytest.raises(AuthError, match="disabled"):
        UserStore(db).authenticate("gina", "another long secret")
    assert users.main([*common, "enable", "gina"]) == 0
    assert UserStore(db).authenticate("gina", "another long secret").username == "gina"
    capsys.readouterr()
    assert users.main([*common, "list"]) == 0
    assert "gina" in capsys.readouterr().out
    log = AuditLog(audit)
    assert [e["action"] for e in log.entries()] == ["user_add", "user_passwd", "user_disable", "user_enable"]
    assert log.verify().ok


def test_cli_takes_no_password_argument(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        add = ["add", "hank", "--role", "officer", "--scope", "HX-GATE-W", "--password", PASSWORD]
        users.main(["--db", str(tmp_path / "u.db"), *add])


def test_cli_reports_a_bad_scope_and_creates_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "u.db"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    add = ["add", "ivan", "--role", "officer", "--scope", "*", "--password-stdin"]
    status = users.main(["--db", str(db), "--audit", str(tmp_path / "a.jsonl"), *add])
    assert status == 2
    assert "supervisors and admins" in capsys.readouterr().err
    assert UserStore(db).users() == []
