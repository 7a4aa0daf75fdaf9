"""The embedded default: one SQLite file in WAL mode, shared safely by several processes."""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from .records import format_time, parse_time
from .store import (
    ConsentLogError,
    StoredConsentLog,
    json_names,
)

#: The log file used when none is configured, relative to the working directory.
DEFAULT_FILENAME = "consentgate.sqlite3"

# The tables at SCHEMA_VERSION. SQLite keeps one chain, so records stay keyed by ``seq`` alone (a
# rowid: no rebuild of a large table to migrate) and ``chain`` is always 1.
_CREATE = (
    "CREATE TABLE consentgate_schema (version INTEGER NOT NULL)",
    """CREATE TABLE consentgate_log (
        seq INTEGER PRIMARY KEY,
        version INTEGER NOT NULL,
        consent_id TEXT NOT NULL,
        time TEXT NOT NULL,
        granted TEXT NOT NULL,
        refused TEXT NOT NULL,
        services TEXT NOT NULL,
        revision TEXT NOT NULL,
        texts_hash TEXT NOT NULL,
        source TEXT NOT NULL,
        user_agent TEXT,
        ip TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        chain INTEGER NOT NULL DEFAULT 1 CHECK (chain = 1)
    )""",
    "CREATE INDEX consentgate_log_consent_id ON consentgate_log (consent_id)",
    "CREATE INDEX consentgate_log_time ON consentgate_log (time)",
    """CREATE TABLE consentgate_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        first_seq INTEGER NOT NULL,
        first_prev_hash TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        purged INTEGER NOT NULL,
        purged_at TEXT
    )""",
)

_MIGRATIONS = {
    # The default 1 also lets a server still on the previous version append (to chain 1, the
    # only one) during a rolling upgrade.
    1: (
        "ALTER TABLE consentgate_log ADD COLUMN chain INTEGER NOT NULL DEFAULT 1 CHECK (chain = 1)",
    ),
}


class SQLiteConsentLog(StoredConsentLog):
    backend = "sqlite"
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error, OSError)
    create_statements = _CREATE
    migrations = _MIGRATIONS

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        super().__init__(**options)
        self.path = path if path == ":memory:" else Path(path).absolute()
        self._conn: sqlite3.Connection | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    def _connect(self) -> None:
        if self.path != ":memory:" and not Path(self.path).exists():
            if not self.create:
                raise ConsentLogError(f"there is no consent log at {self.path}")
            _create_private(Path(self.path))
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        # Another process's write is waited for as long as any wait of the log may last.
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _enable_wal(conn, self.timeout)
            # A choice is confirmed to the visitor once stored: survive power loss, not just
            # a crash of the process.
            conn.execute("PRAGMA synchronous=FULL")
            self._conn = conn
            with self._transaction(time.monotonic() + self.timeout):
                self._prepare_schema()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _tables_exist(self) -> bool:
        row = self._execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'consentgate_schema'"
        ).fetchone()
        return row is not None

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _discard_if_broken(self) -> None:
        """sqlite3 connections stay usable after errors; a failed open leaves none behind."""

    @contextmanager
    def _transaction(self, deadline: float) -> Iterator[None]:
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout = {math.ceil(self._time_left(deadline) * 1000)}")
        # IMMEDIATE takes the write lock up front: two processes cannot both read the same
        # chain head and then append after it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.commit()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ConsentLogError(f"the consent log at {self.location} is not open")
        return self._conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._connection().execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._connection().executemany(sql, rows)

    def _encode_time(self, value: datetime) -> str:
        return format_time(value)

    def _decode_time(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise TypeError("time is not text")
        return parse_time(value)

    def _encode_names(self, value: tuple[str, ...]) -> str:
        return json_names(value)


def _create_private(path: Path) -> None:
    # Consent ids (and networks, if kept) are personal data: owner-only from the first byte.
    # SQLite gives its -wal and -shm files the same permissions.
    # FileExistsError: another process was quicker, and its file is as good.
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    # Switching a fresh file to WAL fails at once, without the busy timeout, while another
    # process holds a lock on it (creating the tables, say): retry until the timeout instead.
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
