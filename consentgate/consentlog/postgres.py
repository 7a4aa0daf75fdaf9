"""PostgreSQL storage (psycopg 3): one log for any number of app servers.

An append locks the row of the first chain no other transaction holds (``SELECT ... FOR UPDATE
SKIP LOCKED``) inside its transaction, and extends that chain: up to N servers append at once,
and each chain stays linear. Only when all N are held does an append wait, for one of them.

One server holding a row too long must not stall the others, nor a lost host hold it for hours:
every session bounds its lock waits, statements and idle transactions by the log's ``timeout``,
and libpq gets a connect timeout and TCP keepalives, so a dead peer is noticed on either side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from .store import COLUMNS, MAX_CHAINS, ConsentLogError, StoredConsentLog

_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('consentgate_schema'))"

#: Chains a new PostgreSQL log gets: more app servers than this appending at the same instant
#: take turns (see the README's figures).
DEFAULT_CHAINS = 8

# The tables at SCHEMA_VERSION.
_CREATE = (
    "CREATE TABLE consentgate_schema (version integer NOT NULL)",
    """CREATE TABLE consentgate_log (
        chain integer NOT NULL DEFAULT 1,
        seq bigint NOT NULL,
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
        hash text NOT NULL,
        CONSTRAINT consentgate_log_pkey PRIMARY KEY (chain, seq)
    )""",
    "CREATE INDEX consentgate_log_consent_id ON consentgate_log (consent_id)",
    "CREATE INDEX consentgate_log_time ON consentgate_log (time)",
    """CREATE TABLE consentgate_chain (
        id integer PRIMARY KEY CONSTRAINT consentgate_chain_id_check CHECK (id >= 1),
        first_seq bigint NOT NULL,
        first_prev_hash text NOT NULL,
        last_seq bigint NOT NULL,
        last_hash text NOT NULL,
        purged bigint NOT NULL,
        purged_at timestamptz
    )""",
)

_MIGRATIONS = {
    1: (
        # A constant default is stored once, not written into every row (PostgreSQL 11+); it
        # also lets a server still on the previous version append, to chain 1, during a
        # rolling upgrade: that version locks chain 1's row, as this one does to extend it.
        "ALTER TABLE consentgate_log ADD COLUMN chain integer NOT NULL DEFAULT 1",
        # Rebuilds the key's index: the one step that takes time on a large log.
        "ALTER TABLE consentgate_log DROP CONSTRAINT consentgate_log_pkey",
        "ALTER TABLE consentgate_log ADD CONSTRAINT consentgate_log_pkey PRIMARY KEY (chain, seq)",
        "ALTER TABLE consentgate_chain DROP CONSTRAINT consentgate_chain_id_check",
        "ALTER TABLE consentgate_chain ADD CONSTRAINT consentgate_chain_id_check CHECK (id >= 1)",
    ),
}


#: libpq's TCP keepalives: a server that vanished (host lost, network cut) is given up on after
#: about idle + interval x count seconds of silence instead of the kernel's two hours.
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
}

# A server setting the URL sets itself (options=-c name=value or --name=value) is left alone.
_OPTION_NAME = re.compile(r"(?:^|\s)(?:-c\s*|--)([A-Za-z0-9_.-]+)=")


def connection_parameters(url_parameters: Mapping[str, object], timeout: float) -> dict[str, str]:
    """The libpq parameters consentgate adds to the URL's: only those the URL does not name."""
    wanted = {
        # libpq counts whole seconds and treats 1 as 2.
        "connect_timeout": str(max(2, math.ceil(timeout))),
        **KEEPALIVES,
    }
    return {name: value for name, value in wanted.items() if name not in url_parameters}


def session_settings(url_parameters: Mapping[str, object], timeout: float) -> dict[str, str]:
    """The server settings each session gets: only those the URL's ``options`` do not set."""
    bound = f"{math.ceil(timeout * 1000)}ms"
    wanted = {
        "TimeZone": "UTC",
        # Waiting for the chain row another server holds, and any one statement: a choice is
        # refused (503) rather than left hanging.
        "lock_timeout": bound,
        "statement_timeout": bound,
        # A client lost in the middle of an append (host gone, process frozen) leaves its
        # transaction open and the chain row locked: the server ends it after this long.
        "idle_in_transaction_session_timeout": bound,
    }
    named = {
        m.group(1).replace("-", "_").lower()
        for m in _OPTION_NAME.finditer(str(url_parameters.get("options") or ""))
    }
    return {name: value for name, value in wanted.items() if name.lower() not in named}


_ROWS_PER_INSERT = 1000

# The session settings each write transaction narrows to the time its operation has left.
_PER_TRANSACTION = ("lock_timeout", "statement_timeout")


class PostgresConsentLog(StoredConsentLog):
    backend = "postgresql"
    driver_errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error, OSError)
    lock_clause = " FOR UPDATE"
    skip_locked_clause = " FOR UPDATE SKIP LOCKED"
    default_chains = DEFAULT_CHAINS
    max_chains = MAX_CHAINS
    create_statements = _CREATE
    migrations = _MIGRATIONS
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
        self._parameters = connection_parameters(parts, self.timeout)
        self._settings = session_settings(parts, self.timeout)
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
        conn = psycopg.connect(make_conninfo(self.url, **self._parameters), autocommit=True)
        try:
            if self._settings:
                # One round trip for all of them; set before the schema transaction waits on
                # anything.
                conn.execute(
                    "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in self._settings),
                    [item for pair in self._settings.items() for item in pair],
                )
            self._conn = conn
            with conn.transaction():
                # Servers starting at once must not both create (or migrate) the tables.
                conn.execute(_SCHEMA_LOCK)
                self._prepare_schema()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _tables_exist(self) -> bool:
        row = self._execute("SELECT to_regclass('consentgate_schema')").fetchone()
        return row is not None and row[0] is not None

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _discard_if_broken(self) -> None:
        if self._conn is not None and (self._conn.broken or self._conn.closed):
            self._disconnect()
            self._ready = False

    @contextmanager
    def _transaction(self, deadline: float) -> Iterator[None]:
        conn = self._connection()
        with conn.transaction():
            # The session's bounds, narrowed to what is left of this operation's time (for
            # this transaction only), so the database gives up before our caller does.
            bounds = [name for name in _PER_TRANSACTION if name in self._settings]
            if bounds:
                left = f"{math.ceil(self._time_left(deadline) * 1000)}ms"
                conn.execute(
                    "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in bounds),
                    [item for name in bounds for item in (name, left)],
                )
            yield

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None:
            raise ConsentLogError(f"the consent log at {self.location} is not open")
        return self._conn

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self._connection().execute(self._sql(sql), params or None)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        # Multi-row INSERTs rather than cursor.executemany(): that one pipelines its statements
        # and leaves the server waiting for the pipeline's end, a state in which neither
        # idle_in_transaction_session_timeout nor statement_timeout runs: a client frozen right
        # then would hold the chain row for good. One statement per chunk also costs fewer
        # round trips; the chunk keeps the parameters well under PostgreSQL's 65,535.
        head, values = self._sql(sql).split(" VALUES ", 1)
        conn = self._connection()
        for chunk in batched(rows, _ROWS_PER_INSERT):
            conn.execute(
                f"{head} VALUES {', '.join([values] * len(chunk))}",
                [value for row in chunk for value in row],
            )

    def _encode_time(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _decode_time(self, value: Any) -> datetime:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError("time is not a timestamp with time zone")
        return value.astimezone(UTC)

    def _encode_names(self, value: tuple[str, ...]) -> Jsonb:
        return Jsonb(list(value))


def batched(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    """``rows`` in lists of ``size`` (itertools.batched arrived in Python 3.12)."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
