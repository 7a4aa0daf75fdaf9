"""A log of several hash chains: appends side by side, each chain verified, the pin over them all.

PostgreSQL logs keep 8 chains by default and SQLite logs one. Records are placed in a chain of
the test's choosing by holding the other chains' rows from another connection, as other app
servers appending at that moment would.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg import fresh_schema, log_target, raw_execute

from consentgate.cli import main
from consentgate.consentlog import (
    GENESIS,
    BreakReason,
    ConsentEntry,
    ConsentLogError,
    ConsentRecord,
    StoredConsentLog,
    head_digest,
    open_log,
)
from consentgate.consentlog.export import export
from consentgate.consentlog.store import SCHEMA_VERSION

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def entry(consent_id: str, *, time: datetime = NOW, source: str = "banner") -> ConsentEntry:
    return ConsentEntry(
        consent_id=consent_id,
        time=time,
        granted=("necessary", "analytical"),
        refused=("marketing",),
        services=(),
        revision="r1",
        texts_hash="5" * 64,
        source=source,
    )


@contextmanager
def held(url: str, chains: list[int]) -> Iterator[None]:
    """Other servers' transactions holding ``chains`` until the block ends."""
    with psycopg.connect(url) as holder:
        holder.execute("SELECT id FROM consentgate_chain WHERE id = ANY(%s) FOR UPDATE", (chains,))
        try:
            yield
        finally:
            holder.rollback()


def append_in(log: StoredConsentLog, url: str, chain: int, entries: list[ConsentEntry]) -> None:
    """Append ``entries`` to ``chain`` of ``log`` (8 chains), the others being held."""
    log.chain_state()  # the tables exist before other connections lock rows in them
    with held(url, [c for c in range(1, 9) if c != chain]):
        records = log.append_many(entries)
    assert {r.chain for r in records} == {chain}


@pytest.fixture
def two_chains(pg_url: str) -> Iterator[StoredConsentLog]:
    """A PostgreSQL log: records 1.1-1.3 and 2.1-2.5, the other six chains empty."""
    with open_log(pg_url) as log:
        append_in(log, pg_url, 1, [entry(f"a{i}") for i in range(3)])
        append_in(log, pg_url, 2, [entry(f"b{i}") for i in range(5)])
        yield log


# -- how many chains ------------------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "chains"), [("sqlite", 1), ("postgresql", 8)])
def test_a_new_log_has_the_backends_number_of_chains(
    backend: str, chains: int, tmp_path: Path
) -> None:
    with log_target(backend, tmp_path) as target, open_log(target) as log:
        assert [s.chain for s in log.chain_states()] == list(range(1, chains + 1))
        assert raw_execute(target, "SELECT COUNT(*) FROM consentgate_chain") == [(chains,)]


def test_chains_are_set_at_creation_and_can_be_raised_never_lowered(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def count(**options: Any) -> int:
        with open_log(pg_url, **options) as log:
            return len(log.chain_states())

    assert count(chains=1) == 1
    assert count() == 1  # an existing log keeps its number, even one below the default
    assert count(chains=5) == 5
    assert count(chains=3) == 5  # never lowered: a server asking for fewer uses them all

    code = main(["log", "upgrade", "--chains", "6", "--log", pg_url])
    out = capsys.readouterr().out
    assert code == 0 and out == f"schema version {SCHEMA_VERSION}, 6 chains\n"
    assert count() == 6


def test_sqlite_keeps_one_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.sqlite3"
    with pytest.raises(ValueError, match="one chain"):
        open_log(path, chains=2)
    with open_log(path, chains=1) as log:
        log.append_sync(entry("v"))

    with pytest.raises(SystemExit) as exit_:
        main(["log", "upgrade", "--chains", "4", "--log", str(path)])
    assert exit_.value.code == 2
    assert "one chain" in capsys.readouterr().err


@pytest.mark.parametrize("chains", [0, -1, 1025, 2.0, True, "8"])
def test_chains_must_be_a_sensible_whole_number(pg_url: str, chains: Any) -> None:
    with pytest.raises(ValueError, match="chains"):
        open_log(pg_url, chains=chains)


# -- appending ------------------------------------------------------------------------------------


def test_each_chain_counts_its_own_records_and_links_them(
    two_chains: StoredConsentLog,
) -> None:
    records = list(two_chains.iter_records())

    assert [r.ref for r in records] == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "2.5"]
    assert records[0].prev_hash == GENESIS and records[3].prev_hash == GENESIS
    assert records[4].prev_hash == records[3].hash
    assert all(r.version == 2 and r.hash == r.expected_hash() for r in records)
    # The chain is hashed: the same record in another chain would not verify.
    assert dataclasses.replace(records[3], chain=1).expected_hash() != records[3].hash
    result = two_chains.verify()
    assert result.ok and result.checked == 8
    assert [(s.chain, s.first_seq, s.last_seq) for s in result.chains[:3]] == [
        (1, 1, 3),
        (2, 1, 5),
        (3, 1, 0),
    ]


def test_concurrent_servers_append_side_by_side(pg_url: str) -> None:
    servers = [open_log(pg_url) for _ in range(4)]
    servers[0].chain_state()  # created once, before they race
    start = threading.Barrier(len(servers))
    errors: list[BaseException] = []

    def server(n: int) -> None:
        start.wait()
        try:
            for i in range(50):
                servers[n].append_sync(entry(f"s{n}-{i}"))
        except BaseException as exc:  # re-raised below: a thread's error must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=server, args=(n,)) for n in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        result = servers[0].verify()
        assert result.ok and result.checked == 200
        refs = [r.ref for r in servers[0].iter_records()]
        assert len(set(refs)) == 200
    finally:
        for log in servers:
            log.close()


def test_a_visitors_records_in_several_chains_come_in_time_order(pg_url: str) -> None:
    with open_log(pg_url) as log:
        append_in(log, pg_url, 1, [entry("me", time=NOW + timedelta(minutes=2))])
        append_in(
            log,
            pg_url,
            2,
            [
                entry("me", time=NOW + timedelta(minutes=1), source="gpc"),
                entry("me", time=NOW + timedelta(minutes=3), source="withdrawal"),
            ],
        )

        history = log.records_for_sync("me")

    assert [(r.ref, r.source) for r in history] == [
        ("2.1", "gpc"),
        ("1.1", "banner"),
        ("2.2", "withdrawal"),
    ]


# -- tampering in any chain -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "ref", "reason"),
    [
        ("UPDATE consentgate_log SET source = 'api' WHERE chain = 2 AND seq = 3", "2.3", "altered"),
        ("DELETE FROM consentgate_log WHERE chain = 2 AND seq = 3", "2.3", "missing"),
        ("DELETE FROM consentgate_log WHERE chain = 2 AND seq = 5", "2.5", "truncated"),
        # A record of chain 2 moved to chain 3: gone from one, past the head of the other.
        ("UPDATE consentgate_log SET chain = 3 WHERE chain = 2 AND seq = 5", "2.5", "truncated"),
        (
            "INSERT INTO consentgate_log SELECT chain, 6, version, consent_id, time, granted, "
            "refused, services, revision, texts_hash, source, user_agent, ip, hash, hash "
            "FROM consentgate_log WHERE chain = 2 AND seq = 5",
            "2.6",
            "inserted",
        ),
        (
            "INSERT INTO consentgate_log SELECT 9, 1, version, consent_id, time, granted, "
            "refused, services, revision, texts_hash, source, user_agent, ip, prev_hash, hash "
            "FROM consentgate_log WHERE chain = 2 AND seq = 1",
            "9.1",
            "inserted",
        ),
    ],
)
def test_tampering_in_any_chain_is_named(
    two_chains: StoredConsentLog, pg_url: str, tamper: str, ref: str, reason: str
) -> None:
    raw_execute(pg_url, tamper)

    result = two_chains.verify()

    assert not result.ok
    assert (result.broken_ref, result.reason) == (ref, BreakReason(reason))


def test_a_format_1_record_outside_chain_1_is_found(pg_url: str) -> None:
    # Format 1 does not hash the chain: a chain 2 made of (copies of) format-1 records would
    # otherwise verify.
    with open_log(pg_url) as log:
        append_in(log, pg_url, 2, [entry("b")])
        (record,) = log.iter_records()
        old = dataclasses.replace(record, version=1)
        raw_execute(
            pg_url,
            "UPDATE consentgate_log SET version = 1, hash = ? WHERE chain = 2",
            (old.expected_hash(),),
        )
        raw_execute(
            pg_url,
            "UPDATE consentgate_chain SET last_hash = ? WHERE id = 2",
            (old.expected_hash(),),
        )

        result = log.verify()

    assert (result.broken_ref, result.reason) == ("2.1", BreakReason.ALTERED)
    assert "format 1" in result.detail


def test_a_chain_deleted_with_its_row_is_found(two_chains: StoredConsentLog, pg_url: str) -> None:
    raw_execute(pg_url, "DELETE FROM consentgate_log WHERE chain = 2")
    raw_execute(pg_url, "DELETE FROM consentgate_chain WHERE id = 2")

    result = two_chains.verify()

    assert (result.broken_ref, result.reason) == ("chain 2", BreakReason.MISSING)
    # Reopening with as many chains as before does not paper over the gap.
    with open_log(pg_url, chains=8) as again:
        assert again.verify().broken_ref == "chain 2"


# -- the pin --------------------------------------------------------------------------------------


def test_the_last_chain_deleted_with_its_row_shows_only_against_the_pin(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_log(pg_url) as log:
        append_in(log, pg_url, 8, [entry(f"h{i}") for i in range(4)])
        pin = log.verify().pin
        assert pin.startswith("0,0,0,0,0,0,0,4:")
        raw_execute(pg_url, "DELETE FROM consentgate_log WHERE chain = 8")
        raw_execute(pg_url, "DELETE FROM consentgate_chain WHERE id = 8")

        # Nothing left in the database says chain 8 ever was.
        assert log.verify().ok
        result = log.verify(pin=pin)

    assert (result.broken_ref, result.reason) == ("chain 8", BreakReason.PIN_MISMATCH)
    assert "8.4" in result.detail

    code = main(["log", "verify", "--pin", pin, "--log", pg_url])
    out = capsys.readouterr().out
    assert code == 1
    assert "log BROKEN at chain 8 (pin-mismatch)" in out and "removed" in out

    # Put back empty (a server configured with chains=8 starting): still not what was pinned.
    with open_log(pg_url, chains=8) as log:
        again = log.verify(pin=pin)
    assert (again.broken_ref, again.reason) == ("8.4", BreakReason.PIN_MISMATCH)


def test_a_chain_rewritten_from_its_start_shows_only_against_the_pin(
    two_chains: StoredConsentLog, pg_url: str
) -> None:
    pin = two_chains.verify().pin
    # Someone able to write the whole database re-hashes chain 2 with other content.
    prev = GENESIS
    for record in [r for r in two_chains.iter_records() if r.chain == 2]:
        forged = dataclasses.replace(record, revision="forged", prev_hash=prev, hash="")
        forged = dataclasses.replace(forged, hash=forged.expected_hash())
        raw_execute(
            pg_url,
            "UPDATE consentgate_log SET revision = 'forged', prev_hash = ?, hash = ? "
            "WHERE chain = 2 AND seq = ?",
            (forged.prev_hash, forged.hash, record.seq),
        )
        prev = forged.hash
    raw_execute(pg_url, "UPDATE consentgate_chain SET last_hash = ? WHERE id = 2", (prev,))

    assert two_chains.verify().ok
    result = two_chains.verify(pin=pin)
    assert result.reason is BreakReason.PIN_MISMATCH and result.broken_ref is None
    assert result.checked == 8


def test_a_pin_holds_as_the_chains_grow_and_a_purge_reaches_it(pg_url: str) -> None:
    old = NOW - timedelta(days=400)
    with open_log(pg_url) as log:
        append_in(log, pg_url, 1, [entry(f"o{i}", time=old) for i in range(3)])
        append_in(log, pg_url, 2, [entry(f"p{i}", time=old) for i in range(2)])
        pin = log.verify().pin
        append_in(log, pg_url, 1, [entry("n1")])
        append_in(log, pg_url, 3, [entry("n3")])
        assert log.verify(pin=pin).ok

        # Purged up to the pinned heads: the chain rows keep their hashes.
        assert log.purge(NOW - timedelta(days=1)).purged == 5
        assert log.verify(pin=pin).ok

        append_in(log, pg_url, 2, [entry("p2", time=old)])
        log.purge(NOW - timedelta(days=1))
        result = log.verify(pin=pin)

    assert (result.broken_ref, result.reason) == ("2.2", BreakReason.PIN_PURGED)


def test_a_pin_can_be_checked_from_an_export_without_consentgate(
    two_chains: StoredConsentLog, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log", "verify", "--log", pg_url]) == 0
    out = capsys.readouterr().out
    (pin,) = [line.removeprefix("pin: ") for line in out.splitlines() if line.startswith("pin: ")]
    assert "log intact: 8 records checked in 8 chains" in out
    assert "chain 2: records 2.1 to 2.5" in out and "chain 3: no records" in out

    assert main(["log", "export", "--log", pg_url]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    hashes = {(r["chain"], r["seq"]): r["hash"] for r in exported}
    seqs, digest = pin.split(":")
    heads = [
        [chain, int(seq), hashes.get((chain, int(seq)), "0" * 64)]
        for chain, seq in enumerate(seqs.split(","), 1)
    ]
    canonical = json.dumps(heads, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
    assert head_digest((c, s, h) for c, s, h in heads) == digest

    assert main(["log", "verify", "--pin", pin, "--log", pg_url]) == 0
    assert "pin holds" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["log", "verify", "--pin", "3,4:abc", "--log", pg_url])
    assert exit_.value.code == 2
    assert "not a pin" in capsys.readouterr().err


# -- retention and export -------------------------------------------------------------------------


def test_purge_cuts_a_prefix_of_each_chain(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = NOW - timedelta(days=400), NOW - timedelta(days=3)
    with open_log(pg_url) as log:
        append_in(log, pg_url, 1, [entry(f"o1-{i}", time=old) for i in range(4)])
        append_in(log, pg_url, 2, [entry(f"o2-{i}", time=old) for i in range(2)])
        append_in(log, pg_url, 2, [entry(f"n2-{i}", time=new) for i in range(3)])
        append_in(log, pg_url, 1, [entry("n1", time=new)])

        dry = log.purge(NOW - timedelta(days=365), dry_run=True)
        assert (dry.purged, dry.start_of(1), dry.start_of(2)) == (6, 5, 3)
        done = log.purge(NOW - timedelta(days=365), batch=3)

        assert (done.purged, done.start_of(1), done.start_of(2), done.start_of(3)) == (6, 5, 3, 1)
        assert [r.ref for r in log.iter_records()] == ["1.5", "2.3", "2.4", "2.5"]
        assert [(s.first_seq, s.purged) for s in log.chain_states()[:2]] == [(5, 4), (3, 2)]
        result = log.verify()
        assert result.ok and result.checked == 4


def test_export_names_each_records_chain(two_chains: StoredConsentLog) -> None:
    out = io.StringIO()

    export(two_chains.iter_records(), out, "csv")

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["chain"] + "." + r["seq"] for r in rows] == [
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.5",
    ]


# -- migration from a log of one chain (schema version 1) -----------------------------------------

_V1_TABLES = {
    # What consentgate wrote before several chains, word for word.
    "sqlite": (
        "CREATE TABLE consentgate_schema (version INTEGER NOT NULL)",
        """CREATE TABLE consentgate_log (seq INTEGER PRIMARY KEY, version INTEGER NOT NULL,
        consent_id TEXT NOT NULL, time TEXT NOT NULL, granted TEXT NOT NULL,
        refused TEXT NOT NULL, services TEXT NOT NULL, revision TEXT NOT NULL,
        texts_hash TEXT NOT NULL, source TEXT NOT NULL, user_agent TEXT, ip TEXT,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
        "CREATE INDEX consentgate_log_consent_id ON consentgate_log (consent_id)",
        "CREATE INDEX consentgate_log_time ON consentgate_log (time)",
        """CREATE TABLE consentgate_chain (id INTEGER PRIMARY KEY CHECK (id = 1),
        first_seq INTEGER NOT NULL, first_prev_hash TEXT NOT NULL, last_seq INTEGER NOT NULL,
        last_hash TEXT NOT NULL, purged INTEGER NOT NULL, purged_at TEXT)""",
    ),
    "postgresql": (
        "CREATE TABLE consentgate_schema (version integer NOT NULL)",
        """CREATE TABLE consentgate_log (seq bigint PRIMARY KEY, version integer NOT NULL,
        consent_id text NOT NULL, time timestamptz NOT NULL, granted jsonb NOT NULL,
        refused jsonb NOT NULL, services jsonb NOT NULL, revision text NOT NULL,
        texts_hash text NOT NULL, source text NOT NULL, user_agent text, ip text,
        prev_hash text NOT NULL, hash text NOT NULL)""",
        "CREATE INDEX consentgate_log_consent_id ON consentgate_log (consent_id)",
        "CREATE INDEX consentgate_log_time ON consentgate_log (time)",
        """CREATE TABLE consentgate_chain (id integer PRIMARY KEY CHECK (id = 1),
        first_seq bigint NOT NULL, first_prev_hash text NOT NULL, last_seq bigint NOT NULL,
        last_hash text NOT NULL, purged bigint NOT NULL, purged_at timestamptz)""",
    ),
}


def format_1_hash(fields: dict[str, Any]) -> str:
    """Record format 1 as documented: no chain, ``v`` 1, sorted keys, no spaces."""
    canonical = json.dumps(
        {**fields, "v": 1}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def old_server_append(target: str, consent_id: str, time: datetime) -> str:
    """What a server still on the old version does: extend chain 1 with a format-1 record."""
    ((last_seq, prev),) = raw_execute(
        target, "SELECT last_seq, last_hash FROM consentgate_chain WHERE id = 1"
    )
    seq = int(str(last_seq)) + 1
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    granted, refused = ["necessary"], ["analytical", "marketing"]
    hash_ = format_1_hash(
        {
            "seq": seq,
            "consent_id": consent_id,
            "time": stamp,
            "granted": granted,
            "refused": refused,
            "services": [],
            "revision": "r0",
            "texts_hash": "7" * 64,
            "source": "banner",
            "user_agent": None,
            "ip": None,
            "prev_hash": prev,
        }
    )
    postgres = target.startswith("postgresql")
    names = "?::jsonb" if postgres else "?"
    raw_execute(
        target,
        "INSERT INTO consentgate_log (seq, version, consent_id, time, granted, refused, "
        "services, revision, texts_hash, source, user_agent, ip, prev_hash, hash) "
        f"VALUES (?, 1, ?, ?, {names}, {names}, {names}, 'r0', ?, 'banner', NULL, NULL, ?, ?)",
        (
            seq,
            consent_id,
            time if postgres else stamp,
            json.dumps(granted, separators=(",", ":")),
            json.dumps(refused, separators=(",", ":")),
            "[]",
            "7" * 64,
            prev,
            hash_,
        ),
    )
    raw_execute(
        target,
        "UPDATE consentgate_chain SET last_seq = ?, last_hash = ? WHERE id = 1",
        (seq, hash_),
    )
    return hash_


def write_old_log(target: str, count: int, *, purged: int = 0) -> list[str]:
    """A log as the previous consentgate left it: one chain of ``count`` format-1 records, the
    first ``purged`` of them purged. Returns every record's hash."""
    for statement in _V1_TABLES["postgresql" if target.startswith("postgresql") else "sqlite"]:
        raw_execute(target, statement)
    raw_execute(target, "INSERT INTO consentgate_schema VALUES (1)")
    raw_execute(
        target,
        "INSERT INTO consentgate_chain VALUES (1, 1, ?, 0, ?, 0, NULL)",
        (GENESIS, GENESIS),
    )
    hashes = [
        old_server_append(target, f"old-{i}", NOW - timedelta(days=30) + timedelta(minutes=i))
        for i in range(count)
    ]
    if purged:
        raw_execute(target, "DELETE FROM consentgate_log WHERE seq <= ?", (purged,))
        raw_execute(
            target,
            "UPDATE consentgate_chain SET first_seq = ?, first_prev_hash = ?, purged = ?",
            (purged + 1, hashes[purged - 1], purged),
        )
    return hashes


def test_a_log_of_one_chain_becomes_chain_1_and_still_verifies(target: str) -> None:
    hashes = write_old_log(target, 12, purged=2)

    with open_log(target) as log:
        old = list(log.iter_records())
        result = log.verify()
        new = log.append_sync(entry("after the upgrade"))
        chains = len(log.chain_states())
        assert log.verify().ok

    assert result.ok and result.checked == 10
    assert [r.ref for r in old] == [f"1.{n}" for n in range(3, 13)]
    assert [r.hash for r in old] == hashes[2:]
    assert {r.version for r in old} == {1}
    assert (new.ref, new.version, new.prev_hash) == ("1.13", 2, hashes[-1])
    assert chains == (8 if target.startswith("postgresql") else 1)
    assert raw_execute(target, "SELECT version FROM consentgate_schema") == [(SCHEMA_VERSION,)]


def test_the_command_line_migrates_an_old_log_too(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_old_log(target, 5)

    code = main(["log", "verify", "--log", target])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "log intact: 5 records checked" in out and "chain 1: records 1.1 to 1.5" in out


def test_a_server_still_on_the_old_version_keeps_chain_1_whole(target: str) -> None:
    # A rolling upgrade: the schema is migrated while an old server still appends its way.
    write_old_log(target, 3)
    with open_log(target) as log:
        log.append_sync(entry("new server"))
        old_server_append(target, "old server", NOW)
        log.append_sync(entry("new server again"))

        result = log.verify()
        refs = [(r.ref, r.version) for r in log.iter_records()]

    assert result.ok and result.checked == 6
    assert refs == [("1.1", 1), ("1.2", 1), ("1.3", 1), ("1.4", 2), ("1.5", 1), ("1.6", 2)]


def test_tampering_with_a_migrated_record_is_found(target: str) -> None:
    write_old_log(target, 6)
    with open_log(target) as log:
        log.chain_state()
        raw_execute(target, "UPDATE consentgate_log SET consent_id = 'forged' WHERE seq = 4")

        result = log.verify()

    assert (result.broken_ref, result.reason) == ("1.4", BreakReason.ALTERED)


def test_a_failed_migration_leaves_the_old_log_as_it_was_and_says_what_to_do(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hashes = write_old_log(target, 3)
    # A column of that name already there makes the first step fail, as a timeout would.
    raw_execute(target, "ALTER TABLE consentgate_log ADD COLUMN chain text")

    with open_log(target) as log, pytest.raises(ConsentLogError, match="log upgrade") as failure:
        log.append_sync(entry("refused"))

    assert "left as it was" in str(failure.value)
    assert raw_execute(target, "SELECT version FROM consentgate_schema") == [(1,)]
    assert raw_execute(target, "SELECT hash FROM consentgate_log ORDER BY seq") == [
        (h,) for h in hashes
    ]
    assert raw_execute(target, "SELECT COUNT(*) FROM consentgate_chain") == [(1,)]
    code = main(["log", "upgrade", "--log", target])
    assert code == 2 and "log upgrade --timeout" in capsys.readouterr().err


def test_servers_upgrading_an_old_log_at_once_migrate_it_once(tmp_path: Path) -> None:
    with fresh_schema() as url:
        write_old_log(url, 4)
        logs = [open_log(url) for _ in range(4)]
        start = threading.Barrier(len(logs))
        errors: list[BaseException] = []

        def server(log: StoredConsentLog) -> None:
            start.wait()
            try:
                log.append_sync(entry("racing"))
            except BaseException as exc:  # re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=server, args=(log,)) for log in logs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert errors == []
            assert raw_execute(url, "SELECT version FROM consentgate_schema") == [(SCHEMA_VERSION,)]
            assert len(logs[0].chain_states()) == 8
            result = logs[0].verify()
            assert result.ok and result.checked == 8
        finally:
            for log in logs:
                log.close()


def test_a_record_knows_its_name() -> None:
    record = ConsentRecord(
        seq=7,
        consent_id="c",
        time=NOW,
        granted=(),
        refused=(),
        services=(),
        revision="r",
        texts_hash="0" * 64,
        source="banner",
        user_agent=None,
        ip=None,
        prev_hash=GENESIS,
        hash="",
        chain=3,
    )
    assert record.ref == "3.7" and record.as_dict()["chain"] == 3
