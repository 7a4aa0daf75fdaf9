"""``consentgate log ...`` on both stores: what operators read, and what the exit codes say."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import raw_execute

from consentgate.cli import main
from consentgate.consentlog import ConsentEntry, open_log

NOW = datetime.now(UTC).replace(microsecond=0)


def choice(
    consent_id: str,
    *,
    days_ago: float = 0,
    granted: tuple[str, ...] = ("necessary", "analytical"),
    refused: tuple[str, ...] = ("marketing",),
    services: tuple[str, ...] = (),
    source: str = "banner",
    user_agent: str | None = None,
) -> ConsentEntry:
    return ConsentEntry(
        consent_id=consent_id,
        time=NOW - timedelta(days=days_ago),
        granted=granted,
        refused=refused,
        services=services,
        revision="r1",
        texts_hash="a" * 64,
        source=source,
        user_agent=user_agent,
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_prints_the_records_of_one_id(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open_log(target) as log:
        log.append_sync(choice("alice", days_ago=2))
        log.append_sync(choice("bob"))
        log.append_sync(
            choice(
                "alice",
                granted=("necessary",),
                refused=("analytical", "marketing"),
                source="withdrawal",
            )
        )

    code, out, _ = run(capsys, "log", "show", "alice", "--log", target)

    assert code == 0
    assert out.count("record ") == 2
    assert "record 1.1 " in out and "record 1.3 " in out and "bob" not in out
    assert "withdrawal" in out and "refused:    analytical marketing" in out

    code, out, _ = run(capsys, "log", "show", "alice", "--log", target, "--format", "json")
    assert code == 0
    assert [r["seq"] for r in json.loads(out)] == [1, 3]


def test_show_of_an_unknown_id_fails(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open_log(target) as log:
        log.append_sync(choice("alice"))

    code, _, err = run(capsys, "log", "show", "nobody", "--log", target)

    assert code == 1
    assert "no records" in err


def test_export_jsonl_and_csv_to_stdout(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open_log(target) as log:
        log.append_many([choice(f"v{i}", days_ago=10 - i) for i in range(10)])

    code, out, _ = run(capsys, "log", "export", "--log", target)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["consent_id"] for r in rows] == [f"v{i}" for i in range(10)]
    assert rows[0]["granted"] == ["analytical", "necessary"]
    assert {"hash", "prev_hash", "texts_hash", "revision", "time"} <= set(rows[0])

    since = (NOW - timedelta(days=2, hours=1)).date().isoformat()
    code, out, _ = run(
        capsys, "log", "export", "--log", target, "--format", "csv", "--since", since
    )
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["consent_id"] for r in table][-2:] == ["v8", "v9"]
    assert all(r["time"] >= since for r in table)
    assert table[-1]["granted"] == "analytical necessary"


def test_csv_export_defuses_formulas_in_user_agents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path, store_user_agent=True) as log:
        log.append_sync(choice("v", user_agent='=HYPERLINK("http://evil")'))

    code, out, _ = run(capsys, "log", "export", "--log", str(path), "--format", "csv")

    assert code == 0
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["user_agent"].startswith("'=")


def test_stats_reports_acceptance_per_category(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_log(target) as log:
        log.append_many(
            [
                choice(f"a{i}", granted=("necessary", "analytical", "marketing"), refused=())
                for i in range(3)
            ]
            + [choice("r", granted=("necessary",), refused=("analytical", "marketing"))]
            + [choice(f"m{i}", services=("youtube",)) for i in range(4)]
        )

    code, out, _ = run(capsys, "log", "stats", "--log", target, "--format", "json")

    assert code == 0
    stats = json.loads(out)
    total = stats["total"]
    assert stats["categories"] == ["analytical", "marketing"]
    assert total["choices"] == 8
    assert total["accepted_all"] == 3 and total["refused_all"] == 1
    assert total["acceptance"]["analytical"] == pytest.approx(7 / 8)
    assert total["acceptance"]["marketing"] == pytest.approx(3 / 8)
    assert total["services"] == {"youtube": 4}
    assert [p["period"] for p in stats["periods"]] == [NOW.strftime("%Y-%m")]

    code, out, _ = run(capsys, "log", "stats", "--log", target, "--by", "day")
    assert code == 0
    assert NOW.strftime("%Y-%m-%d") in out
    assert "87.5%" in out and "37.5%" in out


def test_purge_keeps_recent_records_and_a_verifiable_chain(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_log(target) as log:
        log.append_many([choice(f"old{i}", days_ago=400) for i in range(5)])
        log.append_many([choice(f"new{i}", days_ago=3) for i in range(3)])

    code, out, _ = run(capsys, "log", "purge", "--older-than", "365", "--dry-run", "--log", target)
    assert code == 0 and "would purge 5 records" in out

    code, out, _ = run(capsys, "log", "purge", "--older-than", "365", "--log", target)
    assert code == 0 and "purged 5 records" in out
    # One chain on SQLite, eight on PostgreSQL: only chain 1 held records.
    assert "start at records 1.6, 2.1, 3.1" in out or "starts at record 1.6" in out

    code, out, _ = run(capsys, "log", "verify", "--log", target)
    assert code == 0
    assert "log intact: 3 records checked in " in out
    assert "chain 1: records 1.6 to 1.8" in out
    code, _, _ = run(capsys, "log", "show", "old0", "--log", target)
    assert code == 1


def test_verify_names_the_tampered_record(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    with open_log(target) as log:
        log.append_many([choice(f"v{i}") for i in range(12)])
    raw_execute(target, "UPDATE consentgate_log SET consent_id = 'forged' WHERE seq = 9")

    code, out, _ = run(capsys, "log", "verify", "--log", target)

    assert code == 1
    assert "BROKEN at record 1.9" in out and "altered" in out
    assert "8 records before it are intact" in out


def test_progress_goes_to_stderr_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_many([choice(f"v{i}") for i in range(25_000)])

    code, out, err = run(capsys, "log", "verify", "--log", str(path), "--progress")
    assert code == 0
    assert "verified: 10000 records" in err and "verified: 20000 records" in err
    assert "records" in out and "verified:" not in out

    code, _, err = run(capsys, "log", "verify", "--log", str(path))
    assert err == ""  # stderr is no terminal here: quiet unless asked


def test_missing_log_is_an_error_not_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.sqlite3"

    code, _, err = run(capsys, "log", "stats", "--log", str(missing))

    assert code == 2
    assert "no consent log" in err
    assert not missing.exists()


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["log", "purge", "--older-than", "-3"],
        ["log", "export", "--since", "soon"],
        ["log", "export", "--format", "xml"],
        ["log", "verify", "--log", "ftp://x"],
        ["log", "verify", "--timeout", "0"],
        ["log", "verify", "--timeout", "soon"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    capsys.readouterr()


def test_default_log_and_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONSENTGATE_LOG", raising=False)
    with open_log() as log:  # what the middleware writes by default
        log.append_sync(choice("here"))
    code, out, _ = run(capsys, "log", "show", "here")
    assert code == 0 and "here" in out

    elsewhere = tmp_path / "elsewhere.sqlite3"
    with open_log(elsewhere) as log:
        log.append_sync(choice("there"))
    monkeypatch.setenv("CONSENTGATE_LOG", str(elsewhere))
    code, out, _ = run(capsys, "log", "show", "there")
    assert code == 0 and "there" in out


def test_runs_as_a_module_and_survives_a_closed_pipe(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_many([choice(f"v{i}") for i in range(20_000)])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    done = subprocess.run(
        [sys.executable, "-m", "consentgate.cli", "log", "verify", "--log", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "20000 records checked" in done.stdout

    # The reader goes away early; no traceback, no hang, and no failure either.
    export = subprocess.Popen(
        [sys.executable, "-m", "consentgate.cli", "log", "export", "--log", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.readline()
    export.stdout.close()
    assert export.wait(timeout=60) == 0
    assert json.loads(first)["seq"] == 1
    assert export.stderr.read() == b""
    export.stderr.close()


def test_export_into_head_exits_0(tmp_path: Path) -> None:
    # `consentgate log export --format csv | head -1`, with a real head closing the pipe after
    # one line: far more than a pipe buffer of records is still unwritten then.
    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_many([choice(f"v{i}") for i in range(20_000)])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = ["log", "export", "--format", "csv", "--log", str(path)]
    export = subprocess.Popen(
        [sys.executable, "-m", "consentgate.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert export.stdout is not None and export.stderr is not None
    head = subprocess.run(
        ["head", "-1"], stdin=export.stdout, capture_output=True, timeout=60, check=True
    )
    export.stdout.close()  # head holds the only reading end now

    assert export.wait(timeout=60) == 0
    assert head.stdout == (
        b"chain,seq,time,consent_id,source,revision,granted,refused,services,"
        b"texts_hash,user_agent,ip,prev_hash,hash,version\r\n"
    )
    assert export.stderr.read() == b""
    export.stderr.close()


def test_a_postgresql_log_without_psycopg_is_a_usage_error(tmp_path: Path) -> None:
    # A fresh interpreter where `import psycopg` fails, as on an install without the extra.
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from consentgate.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    url = "postgresql://consentgate@127.0.0.1:1/none"
    for action in (["verify"], ["export", "--format", "csv"], ["show", "someone"]):
        done = subprocess.run(
            [sys.executable, "-c", script, "log", *action, "--log", url],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("consentgate: a PostgreSQL consent log needs psycopg 3")
        assert line.endswith("pip install 'consentgate[postgres]'")


def test_exported_records_can_be_checked_without_consentgate(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    with open_log(target, store_ip=True) as log:
        log.append_many([choice(f"v{i}", services=("vimeo",) * (i % 2)) for i in range(5)])

    code, out, _ = run(capsys, "log", "export", "--log", target)

    assert code == 0
    previous = "0" * 64
    for line in out.splitlines():
        record = json.loads(line)
        hashed = {k: v for k, v in record.items() if k not in ("hash", "version")}
        hashed["v"] = record["version"]
        canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == record["hash"]
        assert record["prev_hash"] == previous
        previous = record["hash"]


def test_a_log_busy_past_the_timeout_is_an_error_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3
    import time

    path = tmp_path / "log.sqlite3"
    with open_log(path) as log:
        log.append_sync(choice("old", days_ago=10))
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
        start = time.monotonic()
        code, _, err = run(
            capsys, "log", "purge", "--older-than", "1", "--timeout", "1", "--log", str(path)
        )
        took = time.monotonic() - start
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert code == 2
    assert "locked" in err and len(err.splitlines()) == 1
    assert took < 10
