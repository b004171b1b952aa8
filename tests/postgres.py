"""A throwaway PostgreSQL from Debian's package: initdb and pg_ctl in a temp dir, loopback only.

Used by the `postgres` fixture (a pytest plugin, below) and by bench/bench_fleet.py. As root, the
cluster runs as the package's `postgres` user (PostgreSQL refuses to run as root). It listens on
127.0.0.1 at a free port, its unix socket in its own dir, and a password is needed over TCP, so
a URL that Prefect is given carries a real secret.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["Postgres", "PostgresMissing", "find_bin_dir", "start_postgres", "postgres"]

ROLE = "ytarchive"
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
INSTALL_HINT = "apt-get install -y postgresql (Debian's package; .ci/run installs it)"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = re.match(r"\d+", bin_dir.parent.name)
        if version and (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            found.append((int(version.group()), bin_dir))
    if not found:
        raise PostgresMissing(f"no /usr/lib/postgresql/*/bin/initdb: {INSTALL_HINT}")
    return max(found)[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner() -> tuple[list[str], int | None, int | None]:
    """The prefix that runs a command as the cluster's owner, and that owner's uid and gid."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresMissing(f"as root, and no `postgres` user: {INSTALL_HINT}") from None
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], owner.pw_uid, owner.pw_gid
    ids = ["--reuid", str(owner.pw_uid), "--regid", str(owner.pw_gid), "--init-groups"]
    return ["setpriv", *ids, "--"], owner.pw_uid, owner.pw_gid


@dataclass
class Postgres:
    """A running cluster: url() for a database in it, stop() to end it and remove its files."""

    root: Path
    bin_dir: Path
    port: int
    password: str
    prefix: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "prefect") -> str:
        """postgresql+asyncpg://ytarchive:<password>@127.0.0.1:<port>/<database>."""
        return f"postgresql+asyncpg://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self.prefix, str(self.bin_dir / tool), *args]
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def create_database(self, name: str) -> str:
        """A new, empty database owned by the role; its URL."""
        where = ["-h", str(self.socket_dir), "-p", str(self.port), "-U", ROLE]
        self.run("createdb", *where, name)
        self.databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb a new cluster in a new temp dir and start it (loopback, a free port)."""
    bin_dir = find_bin_dir()
    prefix, uid, gid = _as_owner()
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="ytarchive-pg-"))
    (root / "sock").mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if uid is not None and gid is not None:
        for path in (root, root / "sock", pwfile):
            os.chown(path, uid, gid)
    cluster = Postgres(root, bin_dir, _free_port(), password, prefix)
    try:
        cluster.run(
            "initdb", "-D", str(root / "data"), "-U", ROLE, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} "
        options += f"-c unix_socket_directories={cluster.socket_dir} {_FAST}"
        cluster.run(
            "pg_ctl", "-D", str(root / "data"), "-l", str(cluster.log), "-o", options, "-w",
            "-t", "60", "start",
        )  # fmt: skip
    except Exception:
        log = cluster.log.read_text(errors="replace")[-2000:] if cluster.log.exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {log}") from None
    return cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster for the session. Without PostgreSQL: a skip with the reason, or a
    failure under CI=true (CI must install it, never skip its tests silently)."""
    try:
        cluster = start_postgres()
    except PostgresMissing as exc:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"PostgreSQL is needed in CI: {exc}")
        pytest.skip(f"PostgreSQL is not installed: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
