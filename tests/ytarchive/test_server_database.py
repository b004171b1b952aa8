"""The server's database URL: checked, shown without its password, its password masked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ytarchive.errors import InputError, ServerUnavailable
from ytarchive.redact import redact
from ytarchive.server_database import (
    check_reachable,
    choose_database,
    database_from_env,
    describe_server_database,
    parse_database_url,
    sqlite_database,
)

SECRET = "s3cr3t-pa%2Fss"


def test_a_postgres_url_is_shown_without_its_password() -> None:
    db = parse_database_url(f"postgresql://archiver:{SECRET}@db.lan:5433/prefect")
    assert db.url == f"postgresql+asyncpg://archiver:{SECRET}@db.lan:5433/prefect"
    assert (db.backend, db.host, db.port, db.user, db.name) == (
        "postgresql",
        "db.lan",
        5433,
        "archiver",
        "prefect",
    )
    assert db.display == "postgresql archiver@db.lan:5433/prefect"
    env = db.server_env()
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == db.url
    assert env["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert SECRET not in "".join(v for k, v in env.items() if "CONNECTION_URL" not in k)
    # once parsed, the password (as written and decoded) is masked wherever redact() looks
    assert SECRET not in redact(f"failed: {db.url}") and "pa/ss" not in redact("s3cr3t-pa/ss")


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://root:{SECRET}@db/prefect",
        f"postgresql+psycopg2://u:{SECRET}@db/prefect",
        f"postgresql://u:{SECRET}@db",  # no database name
        "not a url",
        "sqlite+aiosqlite:///",
    ],
)
def test_a_bad_url_is_an_input_error_that_keeps_the_password_out(url: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_database_url(url)
    assert SECRET not in str(caught.value)
    assert "--database" in str(caught.value)


def test_sqlite_urls_and_the_default(tmp_path: Path) -> None:
    db = parse_database_url(f"sqlite+aiosqlite:///{tmp_path}/prefect.db")
    assert (db.backend, db.name) == ("sqlite", f"{tmp_path}/prefect.db")
    default = sqlite_database(tmp_path)
    assert default.display == f"sqlite {tmp_path}/prefect.db"
    assert default.same_place(db)


def test_the_environment_names_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", f"postgres://u:{SECRET}@h/db")
    assert database_from_env().display == "postgresql u@h/db"  # type: ignore[union-attr]
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", f"oracle://u:{SECRET}@h/db")
    with pytest.raises(InputError, match="PREFECT_API_DATABASE_CONNECTION_URL") as caught:
        database_from_env()
    assert SECRET not in str(caught.value)
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL")
    for key, value in {"DRIVER": "postgresql+asyncpg", "HOST": "h", "NAME": "db"}.items():
        monkeypatch.setenv(f"PREFECT_SERVER_DATABASE_{key}", value)
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_USER", "u")
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_PASSWORD", "p@ss word")
    parts = database_from_env()
    assert parts is not None and parts.url == "postgresql+asyncpg://u:p%40ss%20word@h/db"


def test_a_home_whose_server_ran_on_postgres_never_falls_back_to_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_DRIVER"):
        monkeypatch.delenv(name, raising=False)
    last = {"backend": "postgresql", "display": "postgresql u@h:5432/db"}
    with pytest.raises(ServerUnavailable, match="ran on postgresql u@h:5432/db.*--database URL"):
        choose_database(None, last, tmp_path)
    assert choose_database(None, None, tmp_path) == (sqlite_database(tmp_path), False)
    given = parse_database_url("postgresql://u@h/other")
    assert choose_database(given, last, tmp_path) == (given, True)


def test_the_servers_settings_name_its_database() -> None:
    settings = {
        "server": {
            "database": {
                "connection_url": "**********",
                "driver": "postgresql+asyncpg",
                "host": "h",
                "port": 5432,
                "user": "u",
                "name": "db",
            }
        }
    }
    shown = describe_server_database(settings)
    assert shown is not None and shown.display == "postgresql u@h:5432/db"
    assert describe_server_database({"server": {"database": {"driver": None}}}) is None


def test_an_unreachable_database_is_told_without_the_password() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = parse_database_url(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db")
    with pytest.raises(ServerUnavailable) as caught:
        check_reachable(db, timeout=3)
    message = str(caught.value)
    assert message.startswith(f"cannot reach the database postgresql u@127.0.0.1:{port}/db: ")
    assert SECRET not in message
