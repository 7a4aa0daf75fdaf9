"""Fail closed, and soon: whatever the database does, a choice is answered within the log's bound.

Writers that keep every chain row locked, a thread of this process stuck on the database, an app
server frozen in the middle of an append to the log's only chain: each turns into a
``ConsentLogError`` (a 503 at the consent endpoint) within ``timeout`` seconds, and the log works
again once the cause is gone. While a chain is free, an append takes it and waits for nobody.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from helpers import choose, client, make_app
from pg import BACKENDS, log_target

from consentgate.consentlog import ConsentEntry, ConsentLogError, StoredConsentLog, open_log

# Seconds the logs under test may wait; the margin absorbs a loaded CI machine, not the bound.
BOUND = 1.0
MARGIN = 3.0
ROOT = Path(__file__).resolve().parent.parent


def entry(consent_id: str = "cid") -> ConsentEntry:
    return ConsentEntry(
        consent_id=consent_id,
        time=datetime.now(UTC),
        granted=("necessary",),
        refused=("marketing",),
        services=(),
        revision="1",
        texts_hash="0" * 64,
        source="banner",
    )


def with_options(url: str, options: str = "", **parameters: str) -> str:
    """``url`` with more libpq ``parameters`` and more server ``options`` (its own kept)."""
    parts = urlsplit(url)
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    query.update(parameters)
    query["options"] = f"{query.get('options', '')} {options}".strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@contextmanager
def chain_rows_held(url: str, chains: list[int] | None = None) -> Iterator[list[int]]:
    """Another server's transaction keeping chain rows (all of them by default) locked."""
    with psycopg.connect(url) as holder:
        if chains is None:
            rows = holder.execute("SELECT id FROM consentgate_chain FOR UPDATE").fetchall()
        else:
            rows = holder.execute(
                "SELECT id FROM consentgate_chain WHERE id = ANY(%s) FOR UPDATE", (chains,)
            ).fetchall()
        try:
            yield sorted(row[0] for row in rows)
        finally:
            holder.rollback()


@contextmanager
def elapsed_below(seconds: float) -> Iterator[None]:
    start = time.monotonic()
    yield
    took = time.monotonic() - start
    assert took < seconds, f"answered after {took:.1f} s, bound {seconds} s"


# -- other servers hold chain rows --------------------------------------------------------------


def test_an_append_takes_a_chain_nobody_holds_without_waiting(pg_url: str) -> None:
    with open_log(pg_url, timeout=BOUND) as log:
        log.append_sync(entry("before"))
        with chain_rows_held(pg_url, [1]) as held:
            assert held == [1]
            # Chain 1 stays held throughout, so waiting on it could only end in a failure: these
            # go through, in chain 2, having waited for nobody (no timing to go wrong).
            first = asyncio.run(log.append(entry("async")))
            second = log.append_sync(entry("sync"))
            assert (first.ref, second.ref) == ("2.1", "2.2")
            with chain_rows_held(pg_url, list(range(2, 8))):
                assert log.append_sync(entry("last free")).ref == "8.1"

        assert log.append_sync(entry("after")).ref == "1.2"
        result = log.verify()
        assert result.ok and result.checked == 5


def test_an_append_with_every_chain_held_fails_within_the_bound_then_works(pg_url: str) -> None:
    with open_log(pg_url, timeout=BOUND) as log:
        log.append_sync(entry("before"))
        with chain_rows_held(pg_url) as held:
            assert held == list(range(1, 9))
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError) as failure:
                asyncio.run(log.append(entry("async")))
            assert "consent log" in str(failure.value)
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError, match="lock"):
                log.append_sync(entry("sync"))

        record = asyncio.run(log.append(entry("after")))

        assert log.records_for_sync("after") == [record]
        result = log.verify()
        assert result.ok
        assert log.records_for_sync("sync") == []


def test_a_burst_of_appends_behind_held_rows_all_fail_within_the_bound(pg_url: str) -> None:
    # One of them waits on a chain's row, the others on this process's lock behind it: none
    # waits longer than the bound for either.
    async def burst(log: StoredConsentLog) -> list[object]:
        return await asyncio.gather(
            *(log.append(entry(f"b{i}")) for i in range(8)), return_exceptions=True
        )

    with open_log(pg_url, timeout=BOUND) as log:
        log.chain_state()
        with chain_rows_held(pg_url), elapsed_below(BOUND + MARGIN):
            outcomes = asyncio.run(burst(log))

        assert all(isinstance(o, ConsentLogError) for o in outcomes), outcomes
        assert log.append_sync(entry("after")).consent_id == "after"
        assert log.verify().ok


def test_a_worker_stuck_past_the_database_bounds_is_abandoned(pg_url: str) -> None:
    # The URL turns the server-side bounds off (and the log leaves settings the URL names alone),
    # so the worker thread waits on the row for as long as it is held: only the deadline on the
    # awaited append answers the visitor.
    unbounded = with_options(pg_url, "-c lock_timeout=0 -c statement_timeout=0")
    with open_log(unbounded, timeout=BOUND) as log:
        log.chain_state()
        with chain_rows_held(pg_url):
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError, match="no answer"):
                asyncio.run(log.append(entry("stuck")))
            # The stuck thread keeps this process's lock: the next choice is refused in time
            # too, rather than queued behind it.
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError):
                asyncio.run(log.append(entry("queued")))

        # Released, the abandoned append goes through: a record nobody was told succeeded.
        deadline = time.monotonic() + 30
        while not log.records_for_sync("stuck") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(log.records_for_sync("stuck")) == 1
        assert log.append_sync(entry("after")).consent_id == "after"
        assert log.verify().ok


def test_the_consent_endpoint_answers_503_while_every_chain_is_held(pg_url: str) -> None:
    with open_log(pg_url, timeout=BOUND) as log:
        log.chain_state()
        with client(make_app(consent_log=log)) as c:
            with chain_rows_held(pg_url), elapsed_below(BOUND + MARGIN):
                refused = choose(c, "accept_all")

            assert refused.status_code == 503
            assert "consentgate=" not in refused.headers.get("set-cookie", "")
            assert list(log.iter_records()) == []

            accepted = choose(c, "accept_all")

        assert accepted.status_code in (200, 303)
        assert "consentgate=" in accepted.headers.get("set-cookie", "")
        assert log.verify().checked == 1


# -- this process's own lock --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_thread_stuck_inside_an_append_does_not_hold_the_others(
    backend: str, tmp_path: Path
) -> None:
    with log_target(backend, tmp_path) as target, open_log(target, timeout=BOUND) as log:
        log.chain_state()
        inside, release = threading.Event(), threading.Event()
        original = log._executemany
        outcome: list[BaseException | None] = []

        def stalled(sql: str, rows: Any) -> None:
            inside.set()
            release.wait(30)
            original(sql, rows)

        def slow_append() -> None:
            try:
                log.append_sync(entry("slow"))
                outcome.append(None)
            except ConsentLogError as exc:
                outcome.append(exc)

        log._executemany = stalled  # type: ignore[method-assign]
        stuck = threading.Thread(target=slow_append)
        stuck.start()
        try:
            assert inside.wait(30)
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError, match="process"):
                log.append_sync(entry("sync"))
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError):
                asyncio.run(log.append(entry("async")))
        finally:
            release.set()
            stuck.join(30)
        del log._executemany

        if backend == "postgresql":
            # Its transaction sat idle longer than the bound: the server ended the session.
            (failure,) = outcome
            assert isinstance(failure, ConsentLogError)
            assert list(log.iter_records()) == []
        else:
            assert outcome == [None]
            assert [r.consent_id for r in log.iter_records()] == ["slow"]
        assert log.append_sync(entry("after")).consent_id == "after"
        assert log.verify().ok


def test_sqlite_waits_for_another_writer_only_as_long_as_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path, timeout=BOUND) as log:
        log.chain_state()
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError, match="locked"):
                log.append_sync(entry("blocked"))
            with elapsed_below(BOUND + MARGIN), pytest.raises(ConsentLogError):
                asyncio.run(log.append(entry("blocked")))
            other.execute("COMMIT")
        finally:
            other.close()

        assert asyncio.run(log.append(entry("after"))).seq == 1


# -- what each PostgreSQL session is given ------------------------------------------------------


def session_values(log: StoredConsentLog, names: tuple[str, ...]) -> dict[str, str]:
    log.chain_state()  # connects
    conn = log._conn  # type: ignore[attr-defined]
    server = {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}
    return {**server, **conn.info.get_parameters()}


def test_sessions_are_bounded_by_the_timeout(pg_url: str) -> None:
    with open_log(pg_url, timeout=2.5) as log:
        values = session_values(
            log, ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        )

    assert values["lock_timeout"] == "2500ms"
    assert values["statement_timeout"] == "2500ms"
    assert values["idle_in_transaction_session_timeout"] == "2500ms"
    assert values["connect_timeout"] == "3"
    assert values["keepalives"] == "1"
    assert int(values["keepalives_idle"]) > 0
    assert int(values["keepalives_interval"]) > 0
    assert int(values["keepalives_count"]) > 0


def test_settings_the_url_names_are_left_as_the_url_says(pg_url: str) -> None:
    url = with_options(
        pg_url,
        "-c lock_timeout=7s --statement-timeout=8s",
        keepalives_idle="42",
        connect_timeout="9",
    )
    with open_log(url, timeout=2) as log:
        values = session_values(
            log, ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        )

    assert (values["lock_timeout"], values["statement_timeout"]) == ("7s", "8s")
    assert values["idle_in_transaction_session_timeout"] == "2s"
    assert (values["keepalives_idle"], values["connect_timeout"]) == ("42", "9")
    assert values["keepalives_count"] == "3"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_timeout_must_be_a_positive_number_of_seconds(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        open_log(tmp_path / "log.sqlite3", timeout=timeout)


# -- app servers in processes of their own ------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime
    from consentgate.consentlog import ConsentEntry, ConsentLogError, open_log

    url, name, count, freeze = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    log = open_log(url, timeout=float(sys.argv[5]))
    if freeze:
        original = log._executemany

        def frozen(sql, rows):
            original(sql, rows)
            print("holding", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)  # frozen with the chain row locked

        log._executemany = frozen
    failed = 0
    for i in range(count):
        choice = ConsentEntry(f"{name}-{i}", datetime.now(UTC), ("necessary",), (), (), "1",
                              "0" * 64, "banner")
        try:
            log.append_sync(choice)
        except ConsentLogError:
            failed += 1
        if i == 0:
            print("started", flush=True)
    print(f"done {failed}", flush=True)
    """
)


def writer(
    url: str, name: str, count: int, *, freeze: bool = False, bound: float = BOUND
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, name, str(count), "1" if freeze else "0", str(bound)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@contextmanager
def reaped(processes: list[subprocess.Popen[str]]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            if process.stdout is not None:
                process.stdout.close()


def read_line(process: subprocess.Popen[str], expected: Callable[[str], bool]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert expected(line), line
    return line


def test_an_app_server_frozen_holding_the_only_chain_is_cut_off(pg_url: str) -> None:
    # A host lost in the middle of an append: its session stays open, idle in its transaction,
    # until the server ends it after the bound; the other servers go on.
    with open_log(pg_url, timeout=BOUND + MARGIN, chains=1) as log:
        log.chain_state()
        frozen = writer(pg_url, "frozen", 1, freeze=True)
        with reaped([frozen]):
            read_line(frozen, lambda line: line == "holding\n")

            with elapsed_below(BOUND + MARGIN):
                record = log.append_sync(entry("other server"))

            assert record.seq == 1
            frozen.send_signal(signal.SIGKILL)
        assert log.records_for_sync("frozen-0") == []
        assert log.verify().ok


def test_an_app_server_frozen_holding_a_chain_holds_up_nobody(pg_url: str) -> None:
    with open_log(pg_url, timeout=BOUND) as log:
        log.chain_state()
        # Its session is cut off only after 30 s: chain 1 stays held while we append.
        frozen = writer(pg_url, "frozen", 1, freeze=True, bound=30)
        with reaped([frozen]):
            read_line(frozen, lambda line: line == "holding\n")

            # Waiting on chain 1 would fail after our bound: this goes through, in chain 2.
            record = log.append_sync(entry("other server"))

            assert record.ref == "2.1"
            frozen.send_signal(signal.SIGKILL)
        assert log.records_for_sync("frozen-0") == []
        assert log.append_sync(entry("after")).consent_id == "after"
        assert log.verify().ok


def test_several_app_servers_one_killed_share_one_verifiable_log(pg_url: str) -> None:
    with open_log(pg_url) as log:
        log.chain_state()
    processes = [writer(pg_url, f"s{n}", 150) for n in range(3)]
    victim = writer(pg_url, "victim", 10_000)
    with reaped([*processes, victim]):
        read_line(victim, lambda line: line == "started\n")
        victim.send_signal(signal.SIGKILL)  # kill -9 in the middle of its appends
        victim.wait(30)
        outcomes = [p.communicate(timeout=120)[0] for p in processes]
        codes = [p.returncode for p in processes]

    assert codes == [0, 0, 0]
    assert outcomes == ["started\ndone 0\n"] * 3
    with open_log(pg_url) as log:
        result = log.verify()
        assert result.ok
        names = [r.consent_id for r in log.iter_records()]
    assert sum(1 for n in names if not n.startswith("victim")) == 450
    assert result.checked == len(names)
