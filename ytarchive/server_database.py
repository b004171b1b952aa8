"""The Prefect server's database: the URL checked, shown without its password, reached."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ytarchive.errors import InputError, ServerUnavailable
from ytarchive.redact import MASK, redact, register_secret
from ytarchive.server_checks import server_settings

__all__ = [
    "Database",
    "URL_VARIABLES",
    "database_variables",
    "parse_database_url",
    "database_from_env",
    "sqlite_database",
    "describe_server_database",
    "check_reachable",
    "check_server_database",
    "choose_database",
]

POSTGRES_DRIVER = "postgresql+asyncpg"
SQLITE_DRIVER = "sqlite+aiosqlite"
# The names Prefect reads the server's database URL from (its settings accept both).
URL_VARIABLES = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")
_PART_VARIABLES = ("DRIVER", "HOST", "PORT", "USER", "NAME", "PASSWORD")
_SCHEMES = {
    "postgresql+asyncpg": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgres": POSTGRES_DRIVER,
    "sqlite+aiosqlite": SQLITE_DRIVER,
}


@dataclass(frozen=True)
class Database:
    """Where the server keeps its history. `url` holds the password: pass it on, never show it."""

    driver: str
    url: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    name: str | None = None  # the database's name, or the SQLite file's path

    @property
    def backend(self) -> str:
        return "postgresql" if self.driver == POSTGRES_DRIVER else "sqlite"

    @property
    def display(self) -> str:
        """The URL without its password: what status, health and messages show."""
        if self.backend == "sqlite":
            return f"sqlite {self.name}"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"postgresql {user}{self.host}{port}/{self.name}"

    def server_env(self) -> dict[str, str]:
        """The server process's settings for this database. The parts beside the URL are what
        the server's /api/admin/settings shows (it masks the URL), so it can say where it is."""
        env = {
            "PREFECT_API_DATABASE_CONNECTION_URL": self.url,
            "PREFECT_SERVER_DATABASE_DRIVER": self.driver,
        }
        parts = {"HOST": self.host, "PORT": self.port, "USER": self.user, "NAME": self.name}
        for key, value in parts.items():
            if value is not None:
                env[f"PREFECT_SERVER_DATABASE_{key}"] = str(value)
        return env

    def same_place(self, other: Database) -> bool:
        return (self.driver, self.host, self.port, self.name) == (
            other.driver,
            other.host,
            other.port,
            other.name,
        )


def database_variables() -> list[str]:
    """Every variable through which Prefect could be told a database (the child drops them)."""
    prefixes = ("PREFECT_API_DATABASE_", "PREFECT_SERVER_DATABASE_")
    return [f"{p}{part}" for p in prefixes for part in (*_PART_VARIABLES, "CONNECTION_URL")]


def parse_database_url(url: str) -> Database:
    """The Database a URL names; InputError (without the password) for anything else.

    postgresql:// and postgres:// mean postgresql+asyncpg:// (the server needs an async driver).
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    try:
        parts = urlsplit(url) if sep else None
        port = parts.port if parts else None
    except ValueError:
        parts, port = None, None
    if parts and parts.password:
        register_secret(parts.password)
        register_secret(unquote(parts.password))
    driver = _SCHEMES.get(scheme.lower()) if parts else None
    if driver is None:
        raise InputError(
            f"--database {_shown(url)!r} is not a database URL: give "
            "postgresql+asyncpg://user:password@host:5432/name (or sqlite+aiosqlite:///path)"
        )
    if driver == SQLITE_DRIVER:
        path = unquote(rest.split("?", 1)[0]).removeprefix("/")
        if not path:
            raise InputError("--database sqlite+aiosqlite:/// needs a file path after ///")
        return Database(SQLITE_DRIVER, url, name=str(Path(path).expanduser()))
    assert parts is not None
    name = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not name:
        raise InputError(
            f"--database {_shown(url)!r} needs a host and a database name: "
            "postgresql+asyncpg://user:password@host:5432/name"
        )
    full = POSTGRES_DRIVER + url[len(scheme) :]
    user = unquote(parts.username) if parts.username else None
    return Database(POSTGRES_DRIVER, full, parts.hostname, port, user, name)


def _shown(url: str) -> str:
    """The URL with anything that may be a password masked (a bad URL is shown this way)."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        creds, _, host = netloc.rpartition("@")
        user = creds.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in creds else f"{user}@{host}"
    return redact(f"{scheme}{sep}{netloc}{slash}{path}")


def sqlite_database(home: Path) -> Database:
    """Prefect's default: PREFECT_HOME/prefect.db."""
    path = home / "prefect.db"
    return Database(SQLITE_DRIVER, f"{SQLITE_DRIVER}:///{path}", name=str(path))


def database_from_env() -> Database | None:
    """The database PREFECT_API_DATABASE_CONNECTION_URL (or its SERVER_ twin) names, if set."""
    for name in URL_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return parse_database_url(value)
            except InputError as exc:
                raise InputError(str(exc).replace("--database", name, 1)) from None
    return _database_from_parts()


def _database_from_parts() -> Database | None:
    """PostgreSQL given as Prefect's separate settings (PREFECT_SERVER_DATABASE_HOST, ...)."""

    def part(key: str) -> str:
        for prefix in ("PREFECT_SERVER_DATABASE_", "PREFECT_API_DATABASE_"):
            if os.environ.get(prefix + key, "").strip():
                return os.environ[prefix + key].strip()
        return ""

    if part("DRIVER") != POSTGRES_DRIVER or not (part("HOST") and part("NAME")):
        return None
    user = quote(part("USER"), safe="")
    password = part("PASSWORD")
    creds = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    port = f":{part('PORT')}" if part("PORT") else ""
    return parse_database_url(f"{POSTGRES_DRIVER}://{creds}{part('HOST')}{port}/{part('NAME')}")


def describe_server_database(settings: dict[str, Any]) -> Database | None:
    """The database a server's /api/admin/settings names (driver and parts), else None.

    The server masks its URL; the parts we give our own server stand beside it. A server
    started elsewhere that was given only a URL does not say.
    """
    db = (settings.get("server") or {}).get("database") or {}
    driver = db.get("driver") if isinstance(db, dict) else None
    if driver not in (POSTGRES_DRIVER, SQLITE_DRIVER):
        return None
    port = db.get("port")
    return Database(
        driver,
        url="",
        host=db.get("host"),
        port=port if isinstance(port, int) else None,
        user=db.get("user"),
        name=db.get("name"),
    )


def choose_database(
    given: Database | None, last: dict[str, Any] | None, home: Path
) -> tuple[Database, bool]:
    """The database to start on, and whether it was asked for (given, or in the environment).

    Otherwise home's SQLite file, unless its server last ran on PostgreSQL (`last`, as the
    last start recorded it): a restart without the URL must not begin a second, empty history.
    """
    asked = given or database_from_env()
    if asked:
        return asked, True
    if (last or {}).get("backend") == "postgresql":
        raise ServerUnavailable(
            f"this PREFECT_HOME's server ran on {(last or {}).get('display')}: start it with "
            "`ytarchive server start --database URL` or set PREFECT_API_DATABASE_CONNECTION_URL"
        )
    return sqlite_database(home), False


def check_server_database(api_url: str, database: Database) -> None:
    """The server at api_url runs on `database` (as its own settings say), else raise."""
    running = describe_server_database(server_settings(api_url) or {})
    if running is None or not running.same_place(database):
        shown = running.display if running else "a database it does not name"
        raise ServerUnavailable(
            f"the local Prefect server runs on {shown}, not {database.display}: "
            "`ytarchive server stop` first to start it on another database"
        )


def check_reachable(database: Database, timeout: float = 10.0) -> None:
    """Connect once and run SELECT 1, so a wrong password or host is told before any start.

    Raises ServerUnavailable with asyncpg's reason (the password never in it). SQLite: nothing.
    """
    if database.backend != "postgresql":
        return
    try:
        asyncio.run(_select_one(database, timeout))
    except Exception as exc:  # asyncpg's and the socket's errors alike: one line
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        raise ServerUnavailable(
            f"cannot reach the database {database.display}: {type(exc).__name__}: {reason}"
        ) from None


async def _select_one(database: Database, timeout: float) -> None:
    import asyncpg  # the server's own driver: the same errors it would meet

    dsn = "postgresql" + database.url[len(POSTGRES_DRIVER) :]
    conn = await asyncpg.connect(dsn=dsn, timeout=timeout)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
