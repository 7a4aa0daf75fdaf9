"""PostgreSQL storage (psycopg 3): one log for any number of app servers.

Appends lock the single chain row (``SELECT ... FOR UPDATE``) inside their transaction, so
servers take turns extending the chain and it stays linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from .records import GENESIS
from .store import COLUMNS, SCHEMA_VERSION, ConsentLogError, StoredConsentLog

_SCHEMA = (
    # Two servers starting at once must not both create the tables.
    "SELECT pg_advisory_xact_lock(hashtext('consentgate_schema'))",
    "CREATE TABLE IF NOT EXISTS consentgate_schema (version integer NOT NULL)",
    """CREATE TABLE IF NOT EXISTS consentgate_log (
        seq bigint PRIMARY KEY,
        version integer NOT NULL,
        consent_id text NOT NULL,
        time timestamptz NOT NULL,
        granted jsonb NOT NULL,
        refused jsonb NOT NULL,
        services jsonb NOT NULL,
        revision text NOT NULL,
        texts_hash text NOT NULL,
        source text NOT NULL,
        user_agent text,
        ip text,
        prev_hash text NOT NULL,
        hash text NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS consentgate_log_consent_id ON consentgate_log (consent_id)",
    "CREATE INDEX IF NOT EXISTS consentgate_log_time ON consentgate_log (time)",
    """CREATE TABLE IF NOT EXISTS consentgate_chain (
        id integer PRIMARY KEY CHECK (id = 1),
        first_seq bigint NOT NULL,
        first_prev_hash text NOT NULL,
        last_seq bigint NOT NULL,
        last_hash text NOT NULL,
        purged bigint NOT NULL,
        purged_at timestamptz
    )""",
    f"""INSERT INTO consentgate_chain VALUES (1, 1, '{GENESIS}', 0, '{GENESIS}', 0, NULL)
        ON CONFLICT (id) DO NOTHING""",
    f"""INSERT INTO consentgate_schema (version)
        SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM consentgate_schema)""",
)


class PostgresConsentLog(StoredConsentLog):
    backend = "postgresql"
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error, OSError)
    lock_clause = " FOR UPDATE"
    placeholder = "%s"
    select_columns = COLUMNS.replace(
        "granted, refused, services", "granted::text, refused::text, services::text"
    )

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)
        try:
            parts = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise ValueError(f"not a PostgreSQL connection URL: {exc}") from None
        self.url = url
        self._location = "postgresql://{}@{}:{}/{}".format(
            parts.get("user", ""),
            parts.get("host", ""),
            parts.get("port", ""),
            parts.get("dbname", ""),
        )
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def location(self) -> str:
        return self._location

    def _connect(self) -> None:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            # A stuck transaction elsewhere must turn into a refused choice (503), not a hang.
            conn.execute("SET lock_timeout = '10s'")
            self._conn = conn
            if not self.create:
                row = conn.execute("SELECT to_regclass('consentgate_schema')").fetchone()
                if row is None or row[0] is None:
                    raise ConsentLogError(f"there is no consent log at {self.location}")
            else:
                with conn.transaction():
                    for statement in _SCHEMA:
                        conn.execute(statement)
            self._check_schema_version()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _discard_if_broken(self) -> None:
        if self._conn is not None and (self._conn.broken or self._conn.closed):
            self._disconnect()
            self._ready = False

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._connection().transaction():
            yield

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None:
            raise ConsentLogError(f"the consent log at {self.location} is not open")
        return self._conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self._connection().execute(self._sql(sql), params or None)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._connection().cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)

    def _encode_time(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _decode_time(self, value: Any) -> datetime:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError("time is not a timestamp with time zone")
        return value.astimezone(UTC)

    def _encode_names(self, value: tuple[str, ...]) -> Jsonb:
        return Jsonb(list(value))
