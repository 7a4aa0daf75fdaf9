"""The hash-chained store shared by the SQLite and PostgreSQL logs.

Every operation runs with the log's lock held and, for writes, inside a database transaction that
also locks the single ``consentgate_chain`` row: appends from any number of threads, processes or
servers therefore extend one linear chain. The async methods run the same code in worker threads
so the event loop never waits on disk or network.

Every wait is bounded by the log's ``timeout``: for the process's lock, for the database's locks
and statements (each backend applies it to its driver), and for the async methods as a whole, which
give up on a worker thread still stuck past it. Whatever the database does, a choice is answered
(at worst refused with ``ConsentLogError``) within ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import anyio
import anyio.to_thread

from .records import (
    GENESIS,
    RECORD_VERSION,
    USER_AGENT_MAX,
    ConsentEntry,
    ConsentRecord,
    build_record,
)

#: Version of the tables; a newer consentgate migrates older tables when it sees a lower number.
SCHEMA_VERSION = 1

COLUMNS = (
    "seq, version, consent_id, time, granted, refused, services, revision, texts_hash, source, "
    "user_agent, ip, prev_hash, hash"
)

#: Called with the number of records handled so far, on long runs.
Progress = Callable[[int], None]

#: Seconds an operation may take in all, waits included, unless the log is given another bound:
#: long enough for a loaded database to answer, short enough that a visitor still gets an answer.
DEFAULT_TIMEOUT = 5.0

# Worker threads one log may occupy: enough to overlap reads with the (serialised) writes, few
# enough that a burst of choices cannot starve the application's own thread pool.
_THREADS_PER_LOG = 2

_T = TypeVar("_T")


class ConsentLogError(Exception):
    """The consent log could not store or read records; the cause is chained."""


@runtime_checkable
class ConsentLog(Protocol):
    """What the middleware needs from a consent log."""

    async def append(self, entry: ConsentEntry) -> ConsentRecord: ...

    async def records_for(self, consent_id: str) -> list[ConsentRecord]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChainState:
    """Both ends of the stored chain. ``first_*`` move forward when old records are purged."""

    first_seq: int
    first_prev_hash: str
    last_seq: int
    last_hash: str
    purged: int
    purged_at: datetime | None

    @property
    def size(self) -> int:
        return max(0, self.last_seq - self.first_seq + 1)


class BreakReason(StrEnum):
    ALTERED = "altered"
    INSERTED = "inserted"
    LINK_BROKEN = "link-broken"
    MISSING = "missing"
    TRUNCATED = "truncated"
    HEAD_MISMATCH = "head-mismatch"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    checked: int
    first_seq: int
    last_seq: int
    broken_seq: int | None = None
    reason: BreakReason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class PurgeResult:
    purged: int
    #: Where the stored chain starts after the purge (or would, on a dry run).
    first_seq: int
    dry_run: bool


class StoredConsentLog(ABC):
    """A consent log kept in a database table as one hash chain."""

    backend: ClassVar[str]
    #: Exceptions of the database driver that mean "the store failed".
    driver_errors: ClassVar[tuple[type[Exception], ...]]
    #: Appended to the chain-row SELECT inside write transactions where rows must be locked.
    lock_clause: ClassVar[str] = ""
    #: How rows are read: the name lists must come back as JSON text.
    select_columns: ClassVar[str] = COLUMNS
    #: The driver's placeholder, written ``?`` in the shared SQL.
    placeholder: ClassVar[str] = "?"

    def __init__(
        self,
        *,
        store_user_agent: bool = False,
        store_ip: bool = False,
        user_agent_max: int = USER_AGENT_MAX,
        create: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        self.store_user_agent = store_user_agent
        self.store_ip = store_ip
        self.user_agent_max = user_agent_max
        self.create = create
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False
        self._limiters: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, anyio.CapacityLimiter
        ] = weakref.WeakKeyDictionary()
        self._other_limiter: anyio.CapacityLimiter | None = None

    # -- backend primitives, all called with ``self._lock`` held -------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the log is, for messages (never with a password)."""

    @abstractmethod
    def _connect(self) -> None:
        """Open the connection and create (or check) the tables."""

    @abstractmethod
    def _disconnect(self) -> None: ...

    @abstractmethod
    def _discard_if_broken(self) -> None:
        """After a driver error: drop a connection that cannot be used again."""

    @abstractmethod
    def _transaction(self, deadline: float) -> AbstractContextManager[None]:
        """A write transaction; rolled back when the block raises.

        Its waits for other writers' locks end before ``deadline`` (``time.monotonic()``), in
        time for the failure to reach the caller before it stops waiting (see ``_time_left``).
        """

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders); return a DB-API cursor."""

    @abstractmethod
    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _encode_time(self, value: datetime) -> Any: ...

    @abstractmethod
    def _decode_time(self, value: Any) -> datetime: ...

    @abstractmethod
    def _encode_names(self, value: tuple[str, ...]) -> Any: ...

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _using(self, doing: str, deadline: float | None = None) -> Iterator[float]:
        """The connection, with the lock held, until ``deadline`` (``time.monotonic()``).

        Without a deadline the operation gets ``timeout`` seconds from now; the deadline is
        yielded, for the database's own waits.
        """
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        wait = deadline - time.monotonic()
        # Another thread of this process holding the lock past the bound is stuck on the
        # database: queueing behind it without a limit would stall every request of the process.
        if wait <= 0 or not self._lock.acquire(timeout=wait):
            raise ConsentLogError(
                f"could not {doing} the consent log at {self.location}: another operation of "
                f"this process still waits on the database (timeout {self.timeout:g} s)"
            )
        try:
            if self._closed:
                raise ConsentLogError(f"the consent log at {self.location} is closed")
            try:
                if not self._ready:
                    self._connect()
                    self._ready = True
                yield deadline
            except self.driver_errors as exc:
                self._discard_if_broken()
                raise ConsentLogError(
                    f"could not {doing} the consent log at {self.location}: {exc}"
                ) from exc
        finally:
            self._lock.release()

    async def _in_thread(self, doing: str, call: Callable[[float], _T]) -> _T:
        """``call(deadline)`` in a worker thread, given up on after ``timeout`` seconds.

        A thread stuck in the driver cannot be interrupted; it is abandoned instead, and finishes
        on its own once the database's bounds (or the lost connection) release it. What it was
        doing is then rolled back, or stored after the caller was told it failed: a record
        nobody confirmed, never a confirmed choice that was not recorded.
        """
        deadline = time.monotonic() + self.timeout
        with anyio.move_on_after(self.timeout):
            return await anyio.to_thread.run_sync(
                call, deadline, abandon_on_cancel=True, limiter=self._limiter()
            )
        raise ConsentLogError(
            f"could not {doing} the consent log at {self.location}: no answer within "
            f"{self.timeout:g} s"
        )

    def _time_left(self, deadline: float) -> float:
        """Seconds the database may still wait on a lock before ``deadline``.

        A tenth of the timeout is kept back: the thread must still roll back and report the
        failure before the caller gives up on it, or a choice refused to the visitor could be
        stored a moment later by a thread nobody waits for.
        """
        left = deadline - time.monotonic() - self.timeout / 10
        if left <= 0:
            raise ConsentLogError(
                f"the consent log at {self.location} was reached too late to wait on it "
                f"(timeout {self.timeout:g} s)"
            )
        return left

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _limiter(self) -> anyio.CapacityLimiter:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): one loop per process
            if self._other_limiter is None:
                self._other_limiter = anyio.CapacityLimiter(_THREADS_PER_LOG)
            return self._other_limiter
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = anyio.CapacityLimiter(_THREADS_PER_LOG)
        return limiter

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._ready:
                self._ready = False
                self._disconnect()

    def __enter__(self) -> StoredConsentLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- async API (the middleware) ------------------------------------------------------------

    async def append(self, entry: ConsentEntry) -> ConsentRecord:
        """Store ``entry`` as the chain's next record within ``timeout`` seconds.

        Raises ``ConsentLogError`` when it fails or takes longer.
        """
        records = await self._in_thread(
            "append to", lambda deadline: self._append([entry], deadline)
        )
        return records[0]

    async def records_for(self, consent_id: str) -> list[ConsentRecord]:
        return await self._in_thread(
            "read", lambda deadline: self._records_for(consent_id, deadline)
        )

    # -- sync API (command line, tests, bulk import) -------------------------------------------

    def append_sync(self, entry: ConsentEntry) -> ConsentRecord:
        return self.append_many([entry])[0]

    def append_many(self, entries: Sequence[ConsentEntry]) -> list[ConsentRecord]:
        """Append ``entries`` in order, in one transaction."""
        return self._append(entries, None)

    def _append(
        self, entries: Sequence[ConsentEntry], deadline: float | None
    ) -> list[ConsentRecord]:
        with self._using("append to", deadline) as until, self._transaction(until):
            state = self._chain_state(lock=True)
            seq, prev = state.last_seq, state.last_hash
            records = []
            for entry in entries:
                seq += 1
                record = build_record(
                    entry,
                    seq,
                    prev,
                    store_user_agent=self.store_user_agent,
                    store_ip=self.store_ip,
                    user_agent_max=self.user_agent_max,
                )
                records.append(record)
                prev = record.hash
            self._executemany(
                f"INSERT INTO consentgate_log ({COLUMNS}) VALUES ({', '.join('?' * 14)})",
                (self._encode(r) for r in records),
            )
            self._execute(
                "UPDATE consentgate_chain SET last_seq = ?, last_hash = ? WHERE id = 1",
                (seq, prev),
            )
            return records

    def records_for_sync(self, consent_id: str) -> list[ConsentRecord]:
        return self._records_for(consent_id, None)

    def _records_for(self, consent_id: str, deadline: float | None) -> list[ConsentRecord]:
        with self._using("read", deadline):
            rows = self._execute(
                f"SELECT {self.select_columns} FROM consentgate_log "
                "WHERE consent_id = ? ORDER BY seq",
                (consent_id,),
            ).fetchall()
        return [self._decode_checked(row) for row in rows]

    def chain_state(self) -> ChainState:
        with self._using("read"):
            return self._chain_state(lock=False)

    def iter_records(
        self, *, since: datetime | None = None, page_size: int = 1000
    ) -> Iterator[ConsentRecord]:
        """Every record in chain order (from ``since`` on), fetched a page at a time."""
        for row in self._iter_rows(since=since, page_size=page_size):
            yield self._decode_checked(row)

    def verify(self, *, progress: Progress | None = None, every: int = 10_000) -> VerifyResult:
        """Check the stored chain end to end; stop at the first broken record."""
        state = self.chain_state()
        result = self._verify_from(state, progress, every)
        if not result.ok and self.chain_state().first_seq != state.first_seq:
            # A purge ran meanwhile and removed records under our feet: look again.
            result = self._verify_from(self.chain_state(), progress, every)
        return result

    def _verify_from(
        self, state: ChainState, progress: Progress | None, every: int
    ) -> VerifyResult:
        checked = 0
        seq, prev = state.first_seq, state.first_prev_hash

        def broken(at: int, reason: BreakReason, detail: str) -> VerifyResult:
            return VerifyResult(checked, state.first_seq, state.last_seq, at, reason, detail)

        for row in self._iter_rows(until_seq=state.last_seq):
            stored_seq = row[0]
            if stored_seq < seq:
                return broken(
                    stored_seq,
                    BreakReason.INSERTED,
                    f"record {stored_seq} lies before the chain's start at {state.first_seq}",
                )
            if stored_seq != seq:
                missing = f"{seq}" if stored_seq == seq + 1 else f"{seq} to {stored_seq - 1}"
                return broken(seq, BreakReason.MISSING, f"record(s) {missing} are missing")
            try:
                record = self._decode(row)
            except (ValueError, TypeError) as exc:
                return broken(seq, BreakReason.UNREADABLE, f"record {seq} is unreadable: {exc}")
            if record.hash != record.expected_hash():
                return broken(
                    seq, BreakReason.ALTERED, f"record {seq} does not match its hash: altered"
                )
            if record.prev_hash != prev:
                return broken(
                    seq,
                    BreakReason.LINK_BROKEN,
                    f"record {seq} does not follow the record before it "
                    "(one of them was altered or replaced)",
                )
            checked += 1
            seq, prev = seq + 1, record.hash
            if progress is not None and checked % every == 0:
                progress(checked)
        if seq != state.last_seq + 1:
            return broken(
                seq,
                BreakReason.TRUNCATED,
                f"records {seq} to {state.last_seq} are missing from the end of the chain",
            )
        if prev != state.last_hash:
            return broken(
                state.last_seq,
                BreakReason.HEAD_MISMATCH,
                f"record {state.last_seq} is not the record the chain last stored",
            )
        return VerifyResult(checked, state.first_seq, state.last_seq)

    def purge(
        self,
        older_than: datetime,
        *,
        dry_run: bool = False,
        batch: int = 10_000,
        progress: Progress | None = None,
    ) -> PurgeResult:
        """Delete the chain's oldest records, up to the first one made at or after ``older_than``.

        Only a prefix of the chain is ever removed, and the chain row keeps the hash the first
        kept record must follow, so ``verify`` still checks everything that is left. Batches keep
        each transaction (and the wait of concurrent appends) short.
        """
        with self._using("read"):
            state = self._chain_state(lock=False)
            row = self._execute(
                "SELECT MIN(seq) FROM consentgate_log WHERE time >= ?",
                (self._encode_time(older_than),),
            ).fetchone()
        stop = state.last_seq + 1 if row is None or row[0] is None else int(row[0])
        if dry_run:
            with self._using("read"):
                row = self._execute(
                    "SELECT COUNT(*) FROM consentgate_log WHERE seq < ?", (stop,)
                ).fetchone()
            return PurgeResult(int(row[0]), max(stop, state.first_seq), dry_run=True)
        purged = 0
        while True:
            with self._using("purge") as until, self._transaction(until):
                state = self._chain_state(lock=True)
                if state.first_seq >= stop:
                    return PurgeResult(purged, state.first_seq, dry_run=False)
                upto = min(state.first_seq + batch, stop)
                anchor = self._link_before(upto, state)
                deleted = self._execute(
                    "DELETE FROM consentgate_log WHERE seq < ?", (upto,)
                ).rowcount
                self._execute(
                    "UPDATE consentgate_chain SET first_seq = ?, first_prev_hash = ?, "
                    "purged = purged + ?, purged_at = ? WHERE id = 1",
                    (upto, anchor, deleted, self._encode_time(datetime.now(UTC))),
                )
            purged += deleted
            if progress is not None:
                progress(purged)

    # -- helpers -------------------------------------------------------------------------------

    def _link_before(self, seq: int, state: ChainState) -> str:
        """The hash record ``seq`` must carry as ``prev_hash``, from the record before it."""
        if seq == state.last_seq + 1:
            return state.last_hash
        row = self._execute("SELECT hash FROM consentgate_log WHERE seq = ?", (seq - 1,)).fetchone()
        if row is None:  # a gap left by tampering: keep what the kept record claims
            row = self._execute(
                "SELECT prev_hash FROM consentgate_log WHERE seq = ?", (seq,)
            ).fetchone()
        return str(row[0]) if row is not None else GENESIS

    def _chain_state(self, *, lock: bool) -> ChainState:
        row = self._execute(
            "SELECT first_seq, first_prev_hash, last_seq, last_hash, purged, purged_at "
            "FROM consentgate_chain WHERE id = 1" + (self.lock_clause if lock else "")
        ).fetchone()
        if row is None:
            raise ConsentLogError(f"the consent log at {self.location} has no chain row")
        purged_at = None if row[5] is None else self._decode_time(row[5])
        return ChainState(
            int(row[0]), str(row[1]), int(row[2]), str(row[3]), int(row[4]), purged_at
        )

    def _iter_rows(
        self, *, since: datetime | None = None, until_seq: int | None = None, page_size: int = 1000
    ) -> Iterator[Sequence[Any]]:
        # Keyset pages: constant memory, and no transaction held open between pages.
        where, params = ["seq > ?"], [0]
        if since is not None:
            where.append("time >= ?")
            params.append(self._encode_time(since))
        if until_seq is not None:
            where.append("seq <= ?")
            params.append(until_seq)
        sql = (
            f"SELECT {self.select_columns} FROM consentgate_log WHERE {' AND '.join(where)} "
            f"ORDER BY seq LIMIT {int(page_size)}"
        )
        while True:
            with self._using("read"):
                rows = self._execute(sql, params).fetchall()
            yield from rows
            if len(rows) < page_size:
                return
            params[0] = rows[-1][0]

    def _encode(self, record: ConsentRecord) -> tuple[Any, ...]:
        return (
            record.seq,
            record.version,
            record.consent_id,
            self._encode_time(record.time),
            self._encode_names(record.granted),
            self._encode_names(record.refused),
            self._encode_names(record.services),
            record.revision,
            record.texts_hash,
            record.source,
            record.user_agent,
            record.ip,
            record.prev_hash,
            record.hash,
        )

    def _decode(self, row: Sequence[Any]) -> ConsentRecord:
        """A stored row as a record; ``ValueError``/``TypeError`` when a row was mangled."""
        (
            seq,
            version,
            consent_id,
            time,
            granted,
            refused,
            services,
            revision,
            texts_hash,
            source,
            user_agent,
            ip,
            prev_hash,
            hash_,
        ) = row
        for text in (consent_id, revision, texts_hash, source, prev_hash, hash_):
            if type(text) is not str:
                raise TypeError("a text column holds something else")
        for optional in (user_agent, ip):
            if optional is not None and type(optional) is not str:
                raise TypeError("user_agent/ip hold something else")
        if type(seq) is not int or type(version) is not int:
            raise TypeError("seq/version are not integers")
        if version > RECORD_VERSION:
            raise ValueError(f"record version {version} is newer than this consentgate")
        return ConsentRecord(
            seq=seq,
            consent_id=consent_id,
            time=self._decode_time(time),
            granted=names_from_json(granted),
            refused=names_from_json(refused),
            services=names_from_json(services),
            revision=revision,
            texts_hash=texts_hash,
            source=source,
            user_agent=user_agent,
            ip=ip,
            prev_hash=prev_hash,
            hash=hash_,
            version=version,
        )

    def _decode_checked(self, row: Sequence[Any]) -> ConsentRecord:
        try:
            return self._decode(row)
        except (ValueError, TypeError) as exc:
            raise ConsentLogError(
                f"record {row[0]} of the consent log at {self.location} is unreadable "
                f"(run `consentgate log verify`): {exc}"
            ) from exc

    def _check_schema_version(self) -> None:
        row = self._execute("SELECT MAX(version) FROM consentgate_schema").fetchone()
        version = row[0] if row is not None else None
        if not isinstance(version, int):
            raise ConsentLogError(f"the consent log at {self.location} has no schema version")
        if version > SCHEMA_VERSION:
            raise ConsentLogError(
                f"the consent log at {self.location} has schema version {version}; "
                f"this consentgate knows up to {SCHEMA_VERSION}: upgrade consentgate"
            )


_COMPACT = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


def json_names(value: tuple[str, ...]) -> str:
    return _COMPACT.encode(list(value))


# A site has a handful of category combinations: decoding each once keeps reading 100k records
# cheap. The tuples are immutable, so sharing them is safe.
@lru_cache(maxsize=1024)
def _cached_names(text: str) -> tuple[str, ...]:
    parsed, end = _DECODER.raw_decode(text)
    if end != len(text) or not isinstance(parsed, list):
        raise TypeError("a list of names is not a JSON list")
    for value in parsed:
        if type(value) is not str:
            raise TypeError("a list of names holds something else")
    return tuple(parsed)


def names_from_json(value: Any) -> tuple[str, ...]:
    if type(value) is not str:
        raise TypeError("a list of names is not JSON text")
    return _cached_names(value)
