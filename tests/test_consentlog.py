"""The consent log, run against SQLite and a real PostgreSQL server alike."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pg import let_inserts_succeed, make_inserts_fail, raw_execute

from consentgate.consentlog import (
    GENESIS,
    BreakReason,
    ConsentEntry,
    ConsentLog,
    ConsentLogError,
    SQLiteConsentLog,
    StoredConsentLog,
    open_log,
)
from consentgate.consentlog.store import SCHEMA_VERSION

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TEXTS_HASH = "5" * 64


def entry(
    consent_id: str = "cid-1",
    *,
    time: datetime = NOW,
    granted: tuple[str, ...] = ("necessary", "analytical"),
    refused: tuple[str, ...] = ("marketing", "preference"),
    services: tuple[str, ...] = (),
    source: str = "banner",
    user_agent: str | None = None,
    ip: str | None = None,
) -> ConsentEntry:
    return ConsentEntry(
        consent_id=consent_id,
        time=time,
        granted=granted,
        refused=refused,
        services=services,
        revision="2026-11",
        texts_hash=TEXTS_HASH,
        source=source,
        user_agent=user_agent,
        ip=ip,
    )


def fill(log: StoredConsentLog, count: int, **fields: object) -> None:
    log.append_many([entry(f"cid-{i}", **fields) for i in range(count)])  # type: ignore[arg-type]


# -- appending and reading ----------------------------------------------------------------------


def test_append_stores_the_choice_and_chains_it(log: StoredConsentLog) -> None:
    first = asyncio.run(log.append(entry("a", services=("youtube",))))
    second = asyncio.run(log.append(entry("b", time=NOW + timedelta(seconds=1))))

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert first.hash == first.expected_hash() and len(first.hash) == 64
    stored = asyncio.run(log.records_for("a"))
    assert stored == [first]
    assert stored[0].granted == ("analytical", "necessary")
    assert stored[0].refused == ("marketing", "preference")
    assert stored[0].services == ("youtube",)
    assert stored[0].time == NOW and stored[0].time.tzinfo is not None
    assert stored[0].texts_hash == TEXTS_HASH and stored[0].revision == "2026-11"


def test_records_for_gives_one_visitors_history_in_order(log: StoredConsentLog) -> None:
    log.append_sync(entry("visitor", source="banner"))
    log.append_sync(entry("other"))
    log.append_sync(entry("visitor", source="withdrawal", granted=("necessary",)))

    history = asyncio.run(log.records_for("visitor"))

    assert [(r.seq, r.source) for r in history] == [(1, "banner"), (3, "withdrawal")]
    assert asyncio.run(log.records_for("nobody")) == []


def test_times_are_stored_in_utc_with_microseconds(log: StoredConsentLog) -> None:
    local = datetime(2026, 11, 23, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    log.append_sync(entry(time=local))

    (record,) = log.records_for_sync("cid-1")

    assert record.time == local
    assert record.time.utcoffset() == timedelta(0)
    assert record.as_dict()["time"] == "2026-11-23T09:30:00.123456Z"


def test_the_log_satisfies_the_middleware_protocol(log: StoredConsentLog) -> None:
    assert isinstance(log, ConsentLog)


def test_entries_must_carry_an_aware_time_and_a_known_source() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="source"):
        entry(source="guess")
    with pytest.raises(ValueError, match="consent_id"):
        entry("")


def test_hash_format_is_stable() -> None:
    # Logs written today must verify with every later release: this value may never change.
    # The documented form: sorted keys, no spaces, UTF-8, time in fixed-width UTC.
    canonical = (
        '{"chain":1,"consent_id":"fixed","granted":["analytical","necessary"],"ip":null,'
        '"prev_hash":"' + GENESIS + '","refused":["marketing","preference"],'
        '"revision":"2026-11","seq":1,"services":[],"source":"banner",'
        '"texts_hash":"' + TEXTS_HASH + '","time":"2026-11-23T09:30:00.000000Z",'
        '"user_agent":null,"v":2}'
    )
    record = SQLiteConsentLog(":memory:").append_sync(entry("fixed"))
    assert record.version == 2
    assert record.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_format_1_records_keep_the_hash_they_were_written_with() -> None:
    # Records of consentgate before several chains (format 1) hash without "chain": the very
    # value that release's test pinned.
    record = dataclasses.replace(
        SQLiteConsentLog(":memory:").append_sync(entry("fixed")), version=1, hash=""
    )
    assert record.expected_hash() == (
        "dc7d259c9c0f5456b6918df5f792ee998df7b1879d86d9fda3cb6235758183be"
    )


# -- privacy ------------------------------------------------------------------------------------


def test_ip_and_user_agent_are_not_stored_by_default(target: str) -> None:
    with open_log(target) as log:
        record = log.append_sync(entry(ip="203.0.113.77", user_agent="Mozilla/5.0 Firefox"))

    assert record.ip is None and record.user_agent is None
    dump = " ".join(str(row) for row in raw_execute(target, "SELECT * FROM consentgate_log"))
    assert "203.0.113" not in dump and "Firefox" not in dump


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("fe80::1:2%eth0", "fe80::"),
        ("not an address", None),
    ],
)
def test_ip_is_anonymised_when_stored(target: str, raw: str, stored: str | None) -> None:
    with open_log(target, store_ip=True) as log:
        record = log.append_sync(entry(ip=raw))

    assert record.ip == stored
    assert log_contains_nothing_of(target, raw)


def log_contains_nothing_of(target: str, raw: str) -> bool:
    dump = " ".join(str(row) for row in raw_execute(target, "SELECT * FROM consentgate_log"))
    return raw not in dump


def test_user_agent_is_truncated_and_cleaned_when_stored(target: str) -> None:
    agent = "Mozilla/5.0 \x1b[31m(X11; Linux x86_64)\n" + "x" * 500
    with open_log(target, store_user_agent=True, user_agent_max=40) as log:
        record = log.append_sync(entry(user_agent=agent))
        stored = log.records_for_sync("cid-1")[0]

    assert record.user_agent is not None
    assert len(record.user_agent) == 40
    assert record.user_agent.startswith("Mozilla/5.0")
    assert "\x1b" not in record.user_agent and "\n" not in record.user_agent
    assert stored.user_agent == record.user_agent


# -- tamper evidence ----------------------------------------------------------------------------


def test_intact_chain_verifies(log: StoredConsentLog) -> None:
    fill(log, 25)

    result = log.verify()

    assert result.ok
    assert result.checked == 25
    assert (result.chains[0].first_seq, result.chains[0].last_seq) == (1, 25)
    assert all(state.size == 0 for state in result.chains[1:])


def test_empty_log_verifies(log: StoredConsentLog) -> None:
    result = log.verify()
    assert result.ok and result.checked == 0


def test_edited_record_is_named(log: StoredConsentLog, target: str) -> None:
    fill(log, 20)
    raw_execute(target, "UPDATE consentgate_log SET source = 'api' WHERE seq = 7")

    result = log.verify()

    assert not result.ok
    assert (result.broken_chain, result.broken_seq) == (1, 7)
    assert result.broken_ref == "1.7"
    assert result.reason is BreakReason.ALTERED
    assert result.checked == 6


def test_edit_with_recomputed_hash_breaks_the_next_link(log: StoredConsentLog, target: str) -> None:
    fill(log, 10)
    (victim,) = [r for r in log.iter_records() if r.seq == 4]
    forged = dataclasses.replace(victim, revision="forged")
    raw_execute(
        target,
        "UPDATE consentgate_log SET revision = ?, hash = ? WHERE seq = 4",
        ("forged", forged.expected_hash()),
    )

    result = log.verify()

    assert (result.broken_seq, result.reason) == (5, BreakReason.LINK_BROKEN)


def test_deleted_record_is_named(log: StoredConsentLog, target: str) -> None:
    fill(log, 10)
    raw_execute(target, "DELETE FROM consentgate_log WHERE seq IN (6, 7)")

    result = log.verify()

    assert (result.broken_seq, result.reason) == (6, BreakReason.MISSING)
    assert "1.6 to 1.7" in result.detail


def test_records_cut_from_the_end_are_noticed(log: StoredConsentLog, target: str) -> None:
    fill(log, 10)
    raw_execute(target, "DELETE FROM consentgate_log WHERE seq >= 9")

    result = log.verify()

    assert (result.broken_seq, result.reason) == (9, BreakReason.TRUNCATED)


def test_mangled_record_is_reported_not_raised(log: StoredConsentLog, target: str) -> None:
    fill(log, 5)
    mangled = "'\"nope\"'::jsonb" if target.startswith("postgresql") else "'nope'"
    raw_execute(target, f"UPDATE consentgate_log SET granted = {mangled} WHERE seq = 3")

    result = log.verify()

    assert (result.broken_seq, result.reason) == (3, BreakReason.UNREADABLE)
    with pytest.raises(ConsentLogError, match=r"record 1\.3"):
        list(log.iter_records())


# -- retention ----------------------------------------------------------------------------------


def test_purge_removes_old_records_and_the_rest_still_verifies(log: StoredConsentLog) -> None:
    log.append_many([entry(f"old-{i}", time=NOW - timedelta(days=400 - i)) for i in range(30)])
    log.append_many([entry(f"new-{i}", time=NOW - timedelta(days=10)) for i in range(20)])

    result = log.purge(NOW - timedelta(days=365), batch=7)

    assert result.purged == 30 and result.start_of(1) == 31
    assert [r.consent_id for r in log.iter_records()][:2] == ["new-0", "new-1"]
    assert log.records_for_sync("old-0") == []
    state = log.chain_state()
    assert (state.first_seq, state.purged) == (31, 30)
    verified = log.verify()
    assert verified.ok and verified.checked == 20 and verified.chains[0].first_seq == 31
    log.append_sync(entry("after"))
    assert log.verify().ok and log.verify().chains[0].last_seq == 51


def test_purge_dry_run_deletes_nothing(log: StoredConsentLog) -> None:
    log.append_many([entry(f"old-{i}", time=NOW - timedelta(days=90)) for i in range(5)])
    log.append_sync(entry("new"))

    result = log.purge(NOW - timedelta(days=30), dry_run=True)

    assert (result.purged, result.start_of(1), result.dry_run) == (5, 6, True)
    assert sum(1 for _ in log.iter_records()) == 6


def test_purging_everything_keeps_the_chain_going(log: StoredConsentLog) -> None:
    fill(log, 8, time=NOW - timedelta(days=100))

    assert log.purge(NOW).purged == 8
    assert list(log.iter_records()) == []
    assert log.verify().ok
    record = log.append_sync(entry("fresh"))

    assert record.seq == 9
    assert log.verify().ok


def test_tampering_after_a_purge_is_still_found(log: StoredConsentLog, target: str) -> None:
    fill(log, 10, time=NOW - timedelta(days=100))
    fill(log, 10)
    log.purge(NOW - timedelta(days=50))
    raw_execute(target, "DELETE FROM consentgate_log WHERE seq = 11")

    result = log.verify()

    assert (result.broken_seq, result.reason) == (11, BreakReason.MISSING)


def test_a_large_batch_is_stored_in_order_and_verifies(log: StoredConsentLog) -> None:
    # More records than PostgreSQL takes in one INSERT statement.
    fill(log, 2345)

    records = list(log.iter_records())

    assert [r.seq for r in records] == list(range(1, 2346))
    assert [r.consent_id for r in records[:3]] == ["cid-0", "cid-1", "cid-2"]
    assert log.verify().checked == 2345


# -- concurrency --------------------------------------------------------------------------------


def test_200_concurrent_appends_leave_200_chained_records(log: StoredConsentLog) -> None:
    async def main() -> None:
        await asyncio.gather(*(log.append(entry(f"c{i}")) for i in range(200)))

    asyncio.run(main())

    records = list(log.iter_records())
    assert [r.seq for r in records] == list(range(1, 201))
    assert {r.consent_id for r in records} == {f"c{i}" for i in range(200)}
    result = log.verify()
    assert result.ok and result.checked == 200


def test_two_servers_appending_at_once_keep_a_verifiable_log(target: str) -> None:
    # Two logs on one store stand for two app servers: only the database serialises them.
    logs = [open_log(target), open_log(target)]
    start = threading.Barrier(2)

    errors: list[BaseException] = []

    def server(n: int) -> None:
        start.wait()
        try:
            for i in range(60):
                logs[n].append_sync(entry(f"s{n}-{i}"))
        except BaseException as exc:  # re-raised below: a thread's error must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=server, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    result = logs[0].verify()
    assert result.ok and result.checked == 120
    for log in logs:
        log.close()


# -- failures -----------------------------------------------------------------------------------


def test_a_failing_store_raises_consent_log_error_and_leaves_the_chain_whole(
    log: StoredConsentLog, target: str
) -> None:
    fill(log, 3)
    make_inserts_fail(target)

    with pytest.raises(ConsentLogError, match="disk full") as failure:
        asyncio.run(log.append(entry("lost")))

    assert failure.value.__cause__ is not None
    let_inserts_succeed(target)
    assert log.append_sync(entry("next")).seq == 4
    assert log.verify().ok and log.records_for_sync("lost") == []


def test_unreachable_sqlite_store_fails_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "log.sqlite3"
    log = open_log(path)

    with pytest.raises(ConsentLogError, match="missing-dir") as failure:
        asyncio.run(log.append(entry()))
    assert failure.value.__cause__ is not None

    path.parent.mkdir()
    assert asyncio.run(log.append(entry())).seq == 1
    log.close()


def test_unreachable_postgres_server_raises_consent_log_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        log = open_log(f"postgresql://nobody:secret@127.0.0.1:{port}/none?connect_timeout=3")
        with pytest.raises(ConsentLogError) as failure:
            asyncio.run(log.append(entry()))

    assert failure.value.__cause__ is not None
    assert "secret" not in str(failure.value)


def test_closed_log_refuses_work(log: StoredConsentLog) -> None:
    log.close()
    with pytest.raises(ConsentLogError, match="closed"):
        log.append_sync(entry())


# -- schema -------------------------------------------------------------------------------------


def test_schema_is_created_with_a_version(log: StoredConsentLog, target: str) -> None:
    log.append_sync(entry())

    assert raw_execute(target, "SELECT version FROM consentgate_schema") == [(SCHEMA_VERSION,)]
    assert raw_execute(target, "SELECT DISTINCT version FROM consentgate_log") == [(2,)]


def test_reopening_keeps_the_records(target: str) -> None:
    with open_log(target) as log:
        fill(log, 3)
    with open_log(target) as log:
        log.append_sync(entry("again"))
        assert log.verify().checked == 4


def test_a_log_from_a_newer_consentgate_is_refused(target: str) -> None:
    with open_log(target) as log:
        log.append_sync(entry())
    raw_execute(target, "UPDATE consentgate_schema SET version = 99")

    with open_log(target) as log, pytest.raises(ConsentLogError, match="upgrade"):
        log.append_sync(entry())


def test_without_create_a_missing_log_is_an_error(target: str) -> None:
    with open_log(target, create=False) as log, pytest.raises(ConsentLogError, match="no consent"):
        log.chain_state()


# -- targets ------------------------------------------------------------------------------------


def test_default_target_is_consentgate_sqlite3_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for target in (None, ""):
        log = open_log(target)
        log.append_sync(entry())
        log.close()
        assert isinstance(log, SQLiteConsentLog)
    assert (tmp_path / "consentgate.sqlite3").is_file()
    with open_log(tmp_path / "consentgate.sqlite3") as log:
        assert log.verify().checked == 2


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_log("sqlite:///rel.sqlite3")
    absolute = open_log(f"sqlite:///{tmp_path}/abs.sqlite3")
    assert relative.location == str(tmp_path / "rel.sqlite3")
    assert absolute.location == str(tmp_path / "abs.sqlite3")


def test_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown consent log URL"):
        open_log("mysql://host/db")


def test_sqlite_log_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_sync(entry())
    assert raw_execute(str(path), "PRAGMA journal_mode") == [("wal",)]


def test_sqlite_log_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_sync(entry())
        for made in (path, path.with_name("log.sqlite3-wal")):
            assert made.stat().st_mode & 0o077 == 0, made


def test_missing_postgres_binaries_fail_the_tests_not_skip_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pg

    monkeypatch.delenv(pg.URL_VARIABLE, raising=False)
    monkeypatch.setattr(pg, "_server_url", None)
    monkeypatch.setattr(pg, "_server_error", None)
    monkeypatch.setattr(pg, "_find_bindir", lambda: None)

    with pytest.raises(pytest.fail.Exception, match="apt-get install -y postgresql"):
        pg.server_url()
