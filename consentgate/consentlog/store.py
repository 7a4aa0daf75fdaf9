"""The hash-chained store shared by the SQLite and PostgreSQL logs.

The log is N hash chains, one row each in ``consentgate_chain`` (chains 1..N), its records keyed
by ``(chain, seq)``. Every operation runs with the log's lock held and, for writes, inside a
database transaction that also locks the row of the chain it extends: an append takes the first
chain no other transaction holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and waits only when
all N are busy, so up to N app servers append side by side and each chain stays linear. SQLite
keeps one chain: its file lock lets one writer in at a time anyway. The async methods run the
same code in worker threads so the event loop never waits on disk or network.

N is set when the log is created and can be raised, never lowered; chains are never merged, and
``verify`` checks each one end to end. The *pin* (``VerifyResult.pin``) names every chain's head
and one digest over them all: kept outside the database, it shows a rewritten chain, and a chain
deleted along with its row, which nothing left inside the database could.

Every wait is bounded by the log's ``timeout``: for the process's lock, for the database's locks
and statements (each backend applies it to its driver), and for the async methods as a whole, which
give up on a worker thread still stuck past it. Whatever the database does, a choice is answered
(at worst refused with ``ConsentLogError``) within ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
#: 2: several chains (``consentgate_log.chain``, key ``(chain, seq)``).
SCHEMA_VERSION = 2

COLUMNS = (
    "chain, seq, version, consent_id, time, granted, refused, services, revision, texts_hash, "
    "source, user_agent, ip, prev_hash, hash"
)
_CHAIN_COLUMNS = "id, first_seq, first_prev_hash, last_seq, last_hash, purged, purged_at"

#: Chains a log may be given: far more than app servers ever append at once, few enough that a
#: typo cannot make ``verify`` walk a million empty chains.
MAX_CHAINS = 1024

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
    """Both ends of one stored chain. ``first_*`` move forward when old records are purged."""

    chain: int
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
    #: The log no longer holds the heads a pin names: a chain was rewritten or removed.
    PIN_MISMATCH = "pin-mismatch"
    #: A record the pin names was purged since: the pin can no longer be checked.
    PIN_PURGED = "pin-purged"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    checked: int
    #: Every chain as verify found it, in order: where each starts and ends.
    chains: tuple[ChainState, ...]
    #: Where the log is broken: the chain, and the record in it when one can be named.
    broken_chain: int | None = None
    broken_seq: int | None = None
    reason: BreakReason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def broken_ref(self) -> str | None:
        """The first broken record as ``chain.seq`` (or the chain alone)."""
        if self.broken_chain is None:
            return None
        if self.broken_seq is None:
            return f"chain {self.broken_chain}"
        return f"{self.broken_chain}.{self.broken_seq}"

    @property
    def pin(self) -> str:
        """The heads verify checked, to keep outside the database: see :func:`format_pin`."""
        return format_pin(self.chains)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    purged: int
    #: ``(chain, seq)``: where each chain starts after the purge (or would, on a dry run).
    starts: tuple[tuple[int, int], ...]
    dry_run: bool

    def start_of(self, chain: int) -> int:
        return dict(self.starts)[chain]


# -- pins ---------------------------------------------------------------------------------------

_PIN = re.compile(r"([0-9]+(?:,[0-9]+)*):([0-9a-f]{64})")


def head_digest(heads: Iterable[tuple[int, int, str]]) -> str:
    """SHA-256 (hex) of the JSON list ``[[chain, seq, hash], ...]`` of chain heads, no spaces.

    A head at ``seq`` 0 (an empty chain) has the hash of 64 zeros; otherwise ``hash`` is the
    record ``chain.seq``'s, so anyone can recompute it from an export.
    """
    listed = [[chain, seq, hash_] for chain, seq, hash_ in heads]
    return hashlib.sha256(_COMPACT.encode(listed).encode("ascii")).hexdigest()


def format_pin(chains: Sequence[ChainState]) -> str:
    """``seq1,seq2,...,seqN:digest``: each chain's head record and :func:`head_digest` over them.

    The sequence numbers say which records to look at later, once the chains have grown; the
    digest says what they must be.
    """
    seqs = ",".join(str(state.last_seq) for state in chains)
    digest = head_digest((state.chain, state.last_seq, state.last_hash) for state in chains)
    return f"{seqs}:{digest}"


def parse_pin(text: str) -> tuple[tuple[int, ...], str]:
    """The head of each chain and the digest a pin names; ``ValueError`` for anything else."""
    match = _PIN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a pin (seq,seq,...:digest, as `log verify` prints)")
    return tuple(int(seq) for seq in match.group(1).split(",")), match.group(2)


class StoredConsentLog(ABC):
    """A consent log kept in a database table as hash chains."""

    backend: ClassVar[str]
    #: Exceptions of the database driver that mean "the store failed".
    driver_errors: ClassVar[tuple[type[Exception], ...]]
    #: Appended to the chain-row SELECT inside write transactions where rows must be locked.
    lock_clause: ClassVar[str] = ""
    #: The same, for taking a chain no other transaction holds, passing over those it does.
    skip_locked_clause: ClassVar[str] = ""
    #: Chains a new log gets unless told otherwise, and the most this backend allows.
    default_chains: ClassVar[int] = 1
    max_chains: ClassVar[int] = 1
    #: Statements creating the tables at ``SCHEMA_VERSION`` (without rows).
    create_statements: ClassVar[tuple[str, ...]] = ()
    #: Statements taking the tables from version ``n`` to ``n + 1``.
    migrations: ClassVar[Mapping[int, tuple[str, ...]]] = {}
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
        chains: int | None = None,
    ) -> None:
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if chains is not None and not (
            type(chains) is int and 1 <= chains <= min(self.max_chains, MAX_CHAINS)
        ):
            if self.max_chains == 1:
                raise ValueError(
                    f"a {self.backend} consent log keeps one chain (its writers take turns on "
                    f"the file anyway), not {chains!r}"
                )
            raise ValueError(
                f"chains must be a whole number from 1 to {min(self.max_chains, MAX_CHAINS)}, "
                f"not {chains!r}"
            )
        self.timeout = float(timeout)
        #: Chains to create or raise the log to when it is opened; ``None``: the backend's
        #: default for a new log, and as many as there are for an existing one.
        self.chains = chains
        self.store_user_agent = store_user_agent
        self.store_ip = store_ip
        self.user_agent_max = user_agent_max
        self.create = create
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False
        # The highest chain this log has seen: where an append picks a chain to wait for.
        self._chains_seen = 1
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
        """Open the connection and prepare the tables (``_prepare_schema``)."""

    @abstractmethod
    def _tables_exist(self) -> bool: ...

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
            state = self._claim_chain()
            seq, prev = state.last_seq, state.last_hash
            records = []
            for entry in entries:
                seq += 1
                record = build_record(
                    entry,
                    seq,
                    prev,
                    chain=state.chain,
                    store_user_agent=self.store_user_agent,
                    store_ip=self.store_ip,
                    user_agent_max=self.user_agent_max,
                )
                records.append(record)
                prev = record.hash
            self._executemany(
                f"INSERT INTO consentgate_log ({COLUMNS}) VALUES ({', '.join('?' * 15)})",
                (self._encode(r) for r in records),
            )
            self._execute(
                "UPDATE consentgate_chain SET last_seq = ?, last_hash = ? WHERE id = ?",
                (seq, prev, state.chain),
            )
            return records

    def _claim_chain(self) -> ChainState:
        """Lock the chain this transaction extends: one no other transaction holds, if any."""
        row = self._execute(
            f"SELECT {_CHAIN_COLUMNS} FROM consentgate_chain ORDER BY id LIMIT 1"
            + self.skip_locked_clause
        ).fetchone()
        if row is not None:
            state = self._chain_from(row)
            self._chains_seen = max(self._chains_seen, state.chain)
            return state
        # Every chain is held (by appends, or a purge): wait, within the bound, for one picked
        # at random, so waiters spread over the chains rather than all queue behind chain 1.
        # Chains are never removed, so any number up to the highest seen names one.
        return self._chain_state(random.randint(1, max(1, self._chains_seen)), lock=True)

    def records_for_sync(self, consent_id: str) -> list[ConsentRecord]:
        return self._records_for(consent_id, None)

    def _records_for(self, consent_id: str, deadline: float | None) -> list[ConsentRecord]:
        # A visitor's choices may sit in several chains: time orders them, as they were made.
        with self._using("read", deadline):
            rows = self._execute(
                f"SELECT {self.select_columns} FROM consentgate_log "
                "WHERE consent_id = ? ORDER BY time, chain, seq",
                (consent_id,),
            ).fetchall()
        return [self._decode_checked(row) for row in rows]

    def chain_state(self, chain: int = 1) -> ChainState:
        with self._using("read"):
            return self._chain_state(chain, lock=False)

    def chain_states(self) -> list[ChainState]:
        """Every chain of the log, in order."""
        with self._using("read"):
            return self._chain_states()

    def iter_records(
        self, *, since: datetime | None = None, page_size: int = 1000
    ) -> Iterator[ConsentRecord]:
        """Every record (from ``since`` on), chain by chain in chain order, a page at a time."""
        for state in self.chain_states():
            for row in self._iter_rows(state.chain, since=since, page_size=page_size):
                yield self._decode_checked(row)

    def verify(
        self, *, pin: str | None = None, progress: Progress | None = None, every: int = 10_000
    ) -> VerifyResult:
        """Check every chain end to end; stop at the first broken record.

        With ``pin`` (a ``VerifyResult.pin`` kept from an earlier run), also check that the log
        still holds the heads it names: a chain rewritten from its start, or deleted along with
        its row, shows only there. ``ValueError`` if ``pin`` is not one.
        """
        if pin is not None:
            parse_pin(pin)
        states = self.chain_states()
        result = self._verify_states(states, pin, progress, every)
        if not result.ok:
            again = self.chain_states()
            if any(
                old.chain == new.chain and old.first_seq != new.first_seq
                for old, new in zip(states, again, strict=False)
            ):
                # A purge ran meanwhile and removed records under our feet: look again.
                result = self._verify_states(again, pin, progress, every)
        return result

    def _verify_states(
        self,
        states: list[ChainState],
        pin: str | None,
        progress: Progress | None,
        every: int,
    ) -> VerifyResult:
        checked = 0
        chains = tuple(states)

        def broken(chain: int | None, seq: int | None, why: BreakReason, text: str) -> VerifyResult:
            return VerifyResult(checked, chains, chain, seq, why, text)

        for number, state in enumerate(states, 1):
            # Chains are numbered from 1 without gaps: a gap is a chain deleted with its row.
            if state.chain != number:
                return broken(
                    number, None, BreakReason.MISSING, f"chain {number} is missing altogether"
                )
        for state in states:
            failure, counted = self._verify_chain(state, checked, progress, every)
            checked += counted
            if failure is not None:
                return broken(state.chain, *failure)
        # Records the walks above cannot see: in no chain, or past their chain's head. One
        # statement reads records and chain rows alike as of one moment, and an append moves its
        # chain's head in the transaction that adds its records, so nothing appended meanwhile
        # is taken for one.
        with self._using("read"):
            stray = self._execute(
                "SELECT l.chain, l.seq, (SELECT c.last_seq FROM consentgate_chain c "
                "WHERE c.id = l.chain) FROM consentgate_log l WHERE NOT EXISTS "
                "(SELECT 1 FROM consentgate_chain c WHERE c.id = l.chain AND c.last_seq >= l.seq) "
                "LIMIT 1"
            ).fetchone()
        if stray is not None:
            chain, seq, head = stray
            where = (
                "belongs to no chain of the log"
                if head is None
                else f"lies past the head of its chain, {chain}.{head}"
            )
            return broken(chain, seq, BreakReason.INSERTED, f"record {chain}.{seq} {where}")
        if pin is not None:
            failure_at = self._check_pin(states, pin)
            if failure_at is not None:
                return broken(*failure_at)
        return VerifyResult(checked, chains)

    def _verify_chain(
        self, state: ChainState, before: int, progress: Progress | None, every: int
    ) -> tuple[tuple[int, BreakReason, str] | None, int]:
        """``((seq, reason, detail) or None, records found intact)`` for one chain."""
        checked = 0
        chain, seq, prev = state.chain, state.first_seq, state.first_prev_hash
        for row in self._iter_rows(chain, until_seq=state.last_seq):
            stored_seq = row[1]
            if stored_seq < seq:
                return (
                    stored_seq,
                    BreakReason.INSERTED,
                    f"record {chain}.{stored_seq} lies before the chain's start at "
                    f"{chain}.{state.first_seq}",
                ), checked
            if stored_seq != seq:
                missing = (
                    f"{chain}.{seq}"
                    if stored_seq == seq + 1
                    else f"{chain}.{seq} to {chain}.{stored_seq - 1}"
                )
                return (seq, BreakReason.MISSING, f"record(s) {missing} are missing"), checked
            try:
                record = self._decode(row)
            except (ValueError, TypeError) as exc:
                return (
                    seq,
                    BreakReason.UNREADABLE,
                    f"record {chain}.{seq} is unreadable: {exc}",
                ), checked
            if record.hash != record.expected_hash():
                return (
                    seq,
                    BreakReason.ALTERED,
                    f"record {chain}.{seq} does not match its hash: altered",
                ), checked
            if record.version < 2 and chain != 1:
                # Format 1 does not hash the chain: such a record was moved here from chain 1.
                return (
                    seq,
                    BreakReason.ALTERED,
                    f"record {chain}.{seq} is of format 1, which only chain 1 holds: moved",
                ), checked
            if record.prev_hash != prev:
                return (
                    seq,
                    BreakReason.LINK_BROKEN,
                    f"record {chain}.{seq} does not follow the record before it "
                    "(one of them was altered or replaced)",
                ), checked
            checked += 1
            seq, prev = seq + 1, record.hash
            if progress is not None and (before + checked) % every == 0:
                progress(before + checked)
        if seq != state.last_seq + 1:
            return (
                seq,
                BreakReason.TRUNCATED,
                f"records {chain}.{seq} to {chain}.{state.last_seq} are missing from the end "
                "of the chain",
            ), checked
        if prev != state.last_hash:
            return (
                state.last_seq,
                BreakReason.HEAD_MISMATCH,
                f"record {chain}.{state.last_seq} is not the record the chain last stored",
            ), checked
        return None, checked

    def _check_pin(
        self, states: list[ChainState], pin: str
    ) -> tuple[int | None, int | None, BreakReason, str] | None:
        """Whether the verified chains still hold the heads ``pin`` names: ``None`` when so."""
        seqs, digest = parse_pin(pin)
        if len(seqs) > len(states):
            gone = len(states) + 1
            return (
                gone,
                None,
                BreakReason.PIN_MISMATCH,
                f"the pin names {len(seqs)} chains, the log has {len(states)}: chain {gone} "
                f"(pinned at record {gone}.{seqs[gone - 1]}) was removed",
            )
        heads = []
        for state, seq in zip(states, seqs, strict=False):
            chain = state.chain
            if seq == 0:
                hash_ = GENESIS
            elif seq == state.last_seq:
                hash_ = state.last_hash
            elif seq == state.first_seq - 1:  # purged up to the pinned record, not past it
                hash_ = state.first_prev_hash
            elif seq > state.last_seq:
                return (
                    chain,
                    seq,
                    BreakReason.PIN_MISMATCH,
                    f"record {chain}.{seq} the pin names is gone: the chain ends at "
                    f"{chain}.{state.last_seq}",
                )
            else:
                with self._using("read"):
                    row = self._execute(
                        "SELECT hash FROM consentgate_log WHERE chain = ? AND seq = ?",
                        (chain, seq),
                    ).fetchone()
                if row is None:
                    return (
                        chain,
                        seq,
                        BreakReason.PIN_PURGED,
                        f"record {chain}.{seq} the pin names was purged: the pin can no longer "
                        "be checked (pin a newer head)",
                    )
                hash_ = str(row[0])
            heads.append((chain, seq, hash_))
        if head_digest(heads) != digest:
            return (
                None,
                None,
                BreakReason.PIN_MISMATCH,
                "the records at the pinned heads do not give the pinned digest: a chain was "
                "rewritten or replaced",
            )
        return None

    def purge(
        self,
        older_than: datetime,
        *,
        dry_run: bool = False,
        batch: int = 10_000,
        progress: Progress | None = None,
    ) -> PurgeResult:
        """Delete each chain's oldest records, up to its first one made at or after ``older_than``.

        Only a prefix of each chain is ever removed, and the chain's row keeps the hash its first
        kept record must follow, so ``verify`` still checks everything that is left. Batches keep
        each transaction short, and lock one chain at a time: appends take the others meanwhile.
        """
        with self._using("read"):
            states = self._chain_states()
            rows = self._execute(
                "SELECT chain, MIN(seq) FROM consentgate_log WHERE time >= ? GROUP BY chain",
                (self._encode_time(older_than),),
            ).fetchall()
        kept_from = {int(chain): int(seq) for chain, seq in rows}
        stops = {s.chain: kept_from.get(s.chain, s.last_seq + 1) for s in states}
        if dry_run:
            counted, starts = 0, []
            for state in states:
                with self._using("read"):
                    row = self._execute(
                        "SELECT COUNT(*) FROM consentgate_log WHERE chain = ? AND seq < ?",
                        (state.chain, stops[state.chain]),
                    ).fetchone()
                counted += int(row[0])
                starts.append((state.chain, max(stops[state.chain], state.first_seq)))
            return PurgeResult(counted, tuple(starts), dry_run=True)
        purged, starts = 0, []
        for state in states:
            chain, stop = state.chain, stops[state.chain]
            while True:
                deleted, first = self._purge_batch(chain, stop, batch)
                purged += deleted
                if progress is not None and deleted:
                    progress(purged)
                if first >= stop:
                    break
            starts.append((chain, first))
        return PurgeResult(purged, tuple(starts), dry_run=False)

    def _purge_batch(self, chain: int, stop: int, batch: int) -> tuple[int, int]:
        """Purge up to ``batch`` records of ``chain`` below ``stop``: how many, where it starts."""
        with self._using("purge") as until, self._transaction(until):
            state = self._chain_state(chain, lock=True)
            if state.first_seq >= stop:
                return 0, state.first_seq
            upto = min(state.first_seq + batch, stop)
            anchor = self._link_before(upto, state)
            deleted = self._execute(
                "DELETE FROM consentgate_log WHERE chain = ? AND seq < ?", (chain, upto)
            ).rowcount
            self._execute(
                "UPDATE consentgate_chain SET first_seq = ?, first_prev_hash = ?, "
                "purged = purged + ?, purged_at = ? WHERE id = ?",
                (upto, anchor, deleted, self._encode_time(datetime.now(UTC)), chain),
            )
            return deleted, upto

    # -- schema --------------------------------------------------------------------------------

    def _prepare_schema(self) -> None:
        """In the backend's schema transaction: create, migrate, and add the chains asked for.

        Backends run it under a lock of their own (an advisory lock, the file's write lock), so
        servers starting together do it once.
        """
        # A log created now, or one that had a single chain before chains existed, gets the
        # backend's default; any other keeps the number it was given.
        new = False
        if not self._tables_exist():
            if not self.create:
                raise ConsentLogError(f"there is no consent log at {self.location}")
            for statement in self.create_statements:
                self._execute(statement)
            self._execute("INSERT INTO consentgate_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            new = True
        version = self._check_schema_version()
        new = new or version < 2
        while version < SCHEMA_VERSION:
            # 1 -> 2 keeps every record where it is: the one chain becomes chain 1, and its
            # records keep their numbers and format (and so their hashes).
            try:
                for statement in self.migrations[version]:
                    self._execute(statement)
            except self.driver_errors as exc:
                # Rolled back with the transaction. Rebuilding PostgreSQL's key is bounded by the
                # timeout like every statement: a large log needs the command line's longer one.
                raise ConsentLogError(
                    f"could not upgrade the consent log at {self.location} to schema version "
                    f"{version + 1}, so it is left as it was ({exc}); a large log may take "
                    f"longer than the timeout of {self.timeout:g} s: run `consentgate log "
                    "upgrade --timeout 600` once"
                ) from exc
            version += 1
            self._execute("UPDATE consentgate_schema SET version = ?", (version,))
        count, highest = self._execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM consentgate_chain"
        ).fetchone()
        wanted = self.chains
        if wanted is None:
            wanted = self.default_chains if new else int(count)
        # New chains follow the highest: a chain missing below it (deleted, with its records)
        # is left missing, for verify to report, never filled with an empty one.
        for chain in range(int(highest) + 1, wanted + 1):
            self._execute(
                "INSERT INTO consentgate_chain VALUES (?, 1, ?, 0, ?, 0, NULL)",
                (chain, GENESIS, GENESIS),
            )
        self._chains_seen = max(int(highest), wanted)

    # -- helpers -------------------------------------------------------------------------------

    def _link_before(self, seq: int, state: ChainState) -> str:
        """The hash record ``seq`` must carry as ``prev_hash``, from the record before it."""
        if seq == state.last_seq + 1:
            return state.last_hash
        row = self._execute(
            "SELECT hash FROM consentgate_log WHERE chain = ? AND seq = ?", (state.chain, seq - 1)
        ).fetchone()
        if row is None:  # a gap left by tampering: keep what the kept record claims
            row = self._execute(
                "SELECT prev_hash FROM consentgate_log WHERE chain = ? AND seq = ?",
                (state.chain, seq),
            ).fetchone()
        return str(row[0]) if row is not None else GENESIS

    def _chain_from(self, row: Sequence[Any]) -> ChainState:
        purged_at = None if row[6] is None else self._decode_time(row[6])
        return ChainState(
            int(row[0]), int(row[1]), str(row[2]), int(row[3]), str(row[4]), int(row[5]), purged_at
        )

    def _chain_state(self, chain: int, *, lock: bool) -> ChainState:
        row = self._execute(
            f"SELECT {_CHAIN_COLUMNS} FROM consentgate_chain WHERE id = ?"
            + (self.lock_clause if lock else ""),
            (chain,),
        ).fetchone()
        if row is None:
            raise ConsentLogError(f"the consent log at {self.location} has no chain {chain}")
        return self._chain_from(row)

    def _chain_states(self) -> list[ChainState]:
        rows = self._execute(f"SELECT {_CHAIN_COLUMNS} FROM consentgate_chain ORDER BY id")
        return [self._chain_from(row) for row in rows.fetchall()]

    def _iter_rows(
        self,
        chain: int,
        *,
        since: datetime | None = None,
        until_seq: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[Sequence[Any]]:
        # Keyset pages within one chain: constant memory, and no transaction held open between
        # pages. (chain, seq) is the key on PostgreSQL; SQLite's one chain is keyed by seq.
        where, params = ["chain = ?", "seq > ?"], [chain, 0]
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
            params[1] = rows[-1][1]

    def _encode(self, record: ConsentRecord) -> tuple[Any, ...]:
        return (
            record.chain,
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
            chain,
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
        if type(chain) is not int or type(seq) is not int or type(version) is not int:
            raise TypeError("chain/seq/version are not integers")
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
            chain=chain,
        )

    def _decode_checked(self, row: Sequence[Any]) -> ConsentRecord:
        try:
            return self._decode(row)
        except (ValueError, TypeError) as exc:
            raise ConsentLogError(
                f"record {row[0]}.{row[1]} of the consent log at {self.location} is unreadable "
                f"(run `consentgate log verify`): {exc}"
            ) from exc

    def _check_schema_version(self) -> int:
        row = self._execute("SELECT MAX(version) FROM consentgate_schema").fetchone()
        version = row[0] if row is not None else None
        if not isinstance(version, int):
            raise ConsentLogError(f"the consent log at {self.location} has no schema version")
        if version > SCHEMA_VERSION:
            raise ConsentLogError(
                f"the consent log at {self.location} has schema version {version}; "
                f"this consentgate knows up to {SCHEMA_VERSION}: upgrade consentgate"
            )
        return version


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
