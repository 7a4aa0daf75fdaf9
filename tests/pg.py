"""A real, throwaway PostgreSQL server for the consent-log tests.

``CONSENTGATE_TEST_POSTGRES_URL`` points the tests at an existing server (they work in a schema of
their own and drop it). Otherwise one cluster is created with initdb in a temporary directory,
listening on 127.0.0.1 on a free port only, and stopped when the test run ends. Missing server
binaries fail the PostgreSQL tests (``.ci/postgres.sh`` installs them), they never skip.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

URL_VARIABLE = "CONSENTGATE_TEST_POSTGRES_URL"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) are missing: install them with "
    "`apt-get update && apt-get install -y postgresql` (what `.ci/postgres.sh` does), or set "
    f"{URL_VARIABLE} to a server the tests may create schemas in"
)

_server_url: str | None = None
_server_error: str | None = None


def _find_bindir() -> Path | None:
    candidates = []
    if os.environ.get("CONSENTGATE_PG_BINDIR"):
        candidates.append(Path(os.environ["CONSENTGATE_PG_BINDIR"]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(path: str) -> int:
        number = Path(path).parent.parent.name
        return int(number) if number.isdigit() else 0

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version, reverse=True)
    candidates += [Path(p).parent for p in debian]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str]) -> None:
    subprocess.run(
        _as_server_user(command), check=True, capture_output=True, text=True, timeout=120
    )


def _start_cluster() -> str:
    bindir = _find_bindir()
    if bindir is None:
        raise RuntimeError(INSTALL_HINT)
    # The server user must reach the directory: $TMPDIR may sit below root's private home.
    base = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="consentgate-pg-", dir=base))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "running as root needs a `postgres` user to run the test server as "
                "(Debian's postgresql package creates it)"
            ) from None
        os.chown(root, account.pw_uid, account.pw_gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "consentgate",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
    )
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        ]
    )

    def stop() -> None:
        subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://consentgate@127.0.0.1:{port}/postgres"


def server_url() -> str:
    """The base URL of the test server, started on first call; fails the test when impossible."""
    global _server_url, _server_error
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    if _server_url is None and _server_error is None:
        try:
            _server_url = _start_cluster()
        except subprocess.CalledProcessError as exc:
            _server_error = f"could not start PostgreSQL: {exc}\n{exc.stdout}\n{exc.stderr}"
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            _server_error = str(exc)
    if _server_url is None:
        pytest.fail(_server_error or INSTALL_HINT, pytrace=False)
    return _server_url


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A connection URL whose tables land in a new, empty schema (dropped afterwards)."""
    import psycopg

    base = server_url()
    schema = f"cg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


# -- shared by the consent-log tests -----------------------------------------------------------

BACKENDS = ("sqlite", "postgresql")


@contextmanager
def log_target(backend: str, directory: Path) -> Iterator[str]:
    """A target for ``open_log`` naming an empty store of ``backend``."""
    if backend == "sqlite":
        yield str(directory / "consentgate.sqlite3")
    else:
        with fresh_schema() as url:
            yield url


def raw_execute(target: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run ``sql`` (``?`` placeholders) on the store directly, as a tamperer would."""
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params or None)
            return cursor.fetchall() if cursor.description else []
    import sqlite3

    conn = sqlite3.connect(target, isolation_level=None)
    try:
        cursor = conn.execute(sql, params)
        return cursor.fetchall()
    finally:
        conn.close()


def make_inserts_fail(target: str, message: str = "disk full") -> None:
    """Make every insert into the log fail inside the database, as a full disk would."""
    if target.startswith("postgresql://"):
        raw_execute(
            target,
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
        )
        raw_execute(
            target,
            "CREATE TRIGGER refuse BEFORE INSERT ON consentgate_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    else:
        raw_execute(
            target,
            "CREATE TRIGGER refuse BEFORE INSERT ON consentgate_log "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        )


def let_inserts_succeed(target: str) -> None:
    on_table = " ON consentgate_log" if target.startswith("postgresql://") else ""
    raw_execute(target, "DROP TRIGGER refuse" + on_table)
