"""The ``consentgate`` command line: the consent log (reading, exporting, checking, pruning), and
the site owner's tools: ``audit`` (what pages hold), ``check`` (the configuration against the
regulators' checklists) and ``inventory`` (a draft configuration from a debug log)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from .consentlog import (
    DEFAULT_FILENAME,
    BreakReason,
    ConsentLogError,
    ConsentRecord,
    StoredConsentLog,
    open_log,
    parse_pin,
)
from .consentlog.export import FORMATS, export
from .consentlog.stats import PERIODS, compute_stats, format_stats
from .consentlog.store import MAX_CHAINS, SCHEMA_VERSION

#: Environment variable naming the log when ``--log`` is not given.
LOG_VARIABLE = "CONSENTGATE_LOG"

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

#: Seconds the command waits on the log: longer than the app's bound, since a purge or an export
#: of a large log may run long statements, and nobody is waiting for a consent banner here.
CLI_TIMEOUT = 60.0


class Progress:
    """Counts on stderr during long runs: in place on a terminal, one line each otherwise."""

    def __init__(self, label: str, stream: TextIO, enabled: bool) -> None:
        self.label = label
        self.stream = stream
        self.enabled = enabled
        self.shown = False

    def __call__(self, count: int) -> None:
        if not self.enabled:
            return
        end = "\r" if self.stream.isatty() else "\n"
        self.stream.write(f"{self.label}: {count} records{end}")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()


def parse_date(text: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD or ISO 8601 time)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (0 or more)")
    return days


def parse_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (0 < seconds < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (more than 0)")
    return seconds


def parse_chains(text: str) -> int:
    try:
        chains = int(text)
    except ValueError:
        chains = 0
    if not 1 <= chains <= MAX_CHAINS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of chains (1 to {MAX_CHAINS})")
    return chains


def checked_pin(text: str) -> str:
    try:
        parse_pin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consentgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log",
        metavar="URL",
        default=os.environ.get(LOG_VARIABLE) or None,
        help=f"the log: a SQLite path, sqlite:///path or postgresql://... (default: ${LOG_VARIABLE}"
        f" or ./{DEFAULT_FILENAME})",
    )
    common.add_argument(
        "--timeout",
        type=parse_seconds,
        default=CLI_TIMEOUT,
        metavar="SECONDS",
        help="give up when the log (a lock, a statement) keeps us waiting longer "
        f"(default: {CLI_TIMEOUT:g})",
    )
    common.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="report progress on stderr (default: when stderr is a terminal)",
    )

    log = commands.add_parser("log", help="the proof-of-consent log")
    actions = log.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser("show", parents=[common], help="the records of one consent id")
    show.add_argument("consent_id", metavar="ID")
    show.add_argument("--format", choices=("text", "json"), default="text")

    exporting = actions.add_parser(
        "export", parents=[common], help="stream records as JSON Lines or CSV"
    )
    exporting.add_argument(
        "--since", type=parse_date, metavar="DATE", help="only records made from this date on"
    )
    exporting.add_argument("--format", choices=FORMATS, default="jsonl")
    exporting.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")

    stats = actions.add_parser(
        "stats", parents=[common], help="choices per category over time, acceptance rates"
    )
    stats.add_argument("--by", choices=PERIODS, default="month")
    stats.add_argument(
        "--since", type=parse_date, metavar="DATE", help="only records made from this date on"
    )
    stats.add_argument("--format", choices=("text", "json"), default="text")

    purge = actions.add_parser(
        "purge", parents=[common], help="delete records older than the retention period"
    )
    purge.add_argument("--older-than", type=parse_days, required=True, metavar="DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")

    verify = actions.add_parser(
        "verify", parents=[common], help="check every hash chain end to end; print the pin"
    )
    verify.add_argument(
        "--pin",
        type=checked_pin,
        metavar="PIN",
        help="also check that the log still holds the heads of an earlier run's pin",
    )

    upgrade = actions.add_parser(
        "upgrade",
        parents=[common],
        help="migrate the log's tables to this version now (the app does it on first use)",
    )
    upgrade.add_argument(
        "--chains",
        type=parse_chains,
        metavar="N",
        help="raise the number of chains to N (PostgreSQL; never lowered)",
    )
    _site_tools(commands)
    return parser


def parse_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not (0 < rate < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of requests a second (> 0)")
    return rate


def parse_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (1 or more)")
    return count


def _site_tools(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(
        "audit",
        help="fetch pages without consent and with everything granted; report trackers, "
        "what is ungated, cookies set before consent, hosts no rule covers",
    )
    audit.add_argument("urls", nargs="*", metavar="URL", help="pages to audit (http(s)://...)")
    audit.add_argument("--sitemap", metavar="URL", help="audit the pages a sitemap lists")
    audit.add_argument(
        "--max-pages", type=parse_count, default=50, metavar="N", help="(default: 50)"
    )
    audit.add_argument(
        "--time-limit",
        type=parse_seconds,
        default=120.0,
        metavar="SECONDS",
        help="in all (default: 120)",
    )
    audit.add_argument(
        "--rate",
        type=parse_rate,
        default=2.0,
        metavar="N",
        help="requests a second at most (default: 2)",
    )
    audit.add_argument(
        "--timeout",
        type=parse_seconds,
        default=10.0,
        metavar="SECONDS",
        help="a request (default: 10)",
    )
    audit.add_argument("--prefix", default="/consentgate", help="consentgate's URL prefix")
    audit.add_argument("--cookie-name", default="consentgate", help="the consent cookie's name")
    audit.add_argument("--json", action="store_true", help="the report as JSON (for CI)")
    audit.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="report progress on stderr (default: when stderr is a terminal)",
    )

    check = commands.add_parser(
        "check", help="lint the configuration and the rendered banner against the checklists"
    )
    check.add_argument("app", metavar="MODULE:APP", help="the ASGI app, e.g. mysite.asgi:app")
    check.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="PATH",
        help="a page of the app to look for the withdraw control on (repeatable)",
    )
    check.add_argument("--json", action="store_true", help="the report as JSON")

    inventory = commands.add_parser(
        "inventory",
        help="turn a debug=True log into draft Vendor(...) and cookies={...} declarations",
    )
    inventory.add_argument("logs", nargs="+", metavar="LOGFILE", help="log files ('-': stdin)")
    inventory.add_argument("--output", "-o", metavar="FILE", help="write here, not to stdout")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "log":
        tools: dict[str, Callable[[argparse.Namespace, argparse.ArgumentParser], int]] = {
            "audit": _audit,
            "check": _check,
            "inventory": _inventory,
        }
        return tools[args.command](args, parser)
    try:
        log = open_log(
            args.log, create=False, timeout=args.timeout, chains=getattr(args, "chains", None)
        )
    except ValueError as exc:
        parser.error(str(exc))
    except ConsentLogError as exc:
        # A usage error (psycopg missing for a postgresql:// log, say): one line, not a traceback.
        print(f"consentgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    progress_on = args.progress if args.progress is not None else sys.stderr.isatty()
    handlers: dict[str, Callable[[argparse.Namespace, StoredConsentLog, bool], int]] = {
        "show": _show,
        "export": _export,
        "stats": _stats,
        "purge": _purge,
        "verify": _verify,
        "upgrade": _upgrade,
    }
    try:
        with log:
            return handlers[args.action](args, log, progress_on)
    except ConsentLogError as exc:
        print(f"consentgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (``| head``) took what it wanted and left: not a failure for a Unix tool.
        # Python's own flush at exit would hit the closed pipe again, so point stdout at
        # /dev/null first, as the Python docs recommend (signal.SIGPIPE notes).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _show(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    records = log.records_for_sync(args.consent_id)
    if args.format == "json":
        json.dump([r.as_dict() for r in records], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for record in records:
            sys.stdout.write(describe(record))
    if not records:
        print(f"no records for consent id {args.consent_id!r}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def describe(record: ConsentRecord) -> str:
    lines = [
        f"record {record.ref}  {record.as_dict()['time']}  {record.source}  "
        f"revision {record.revision}",
        f"  consent id: {record.consent_id}",
        f"  granted:    {' '.join(record.granted) or '-'}",
        f"  refused:    {' '.join(record.refused) or '-'}",
        f"  services:   {' '.join(record.services) or '-'}",
        f"  texts hash: {record.texts_hash}",
    ]
    if record.user_agent is not None:
        lines.append(f"  user agent: {record.user_agent}")
    if record.ip is not None:
        lines.append(f"  network:    {record.ip}")
    lines.append(f"  hash:       {record.hash}")
    lines.append(f"  follows:    {record.prev_hash}")
    return "\n".join(lines) + "\n"


def _export(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    progress = Progress("exported", sys.stderr, progress_on)
    records = log.iter_records(since=args.since)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = export(records, out, args.format, progress=progress)
    else:
        count = export(records, sys.stdout, args.format, progress=progress)
        sys.stdout.flush()
    progress.done()
    if progress_on:
        print(f"exported {count} records", file=sys.stderr)
    return EXIT_OK


def _stats(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    progress = Progress("read", sys.stderr, progress_on)
    stats = compute_stats(log.iter_records(since=args.since), by=args.by, progress=progress)
    progress.done()
    if args.format == "json":
        json.dump(stats.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_stats(stats))
    return EXIT_OK


def _purge(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    progress = Progress("purged", sys.stderr, progress_on)
    result = log.purge(cutoff, dry_run=args.dry_run, progress=progress)
    progress.done()
    verb = "would purge" if result.dry_run else "purged"
    starts = ", ".join(f"{chain}.{seq}" for chain, seq in result.starts)
    if len(result.starts) == 1:
        where = f"the chain {'would start' if result.dry_run else 'starts'} at record {starts}"
    else:
        where = f"the chains {'would start' if result.dry_run else 'start'} at records {starts}"
    print(f"{verb} {result.purged} records made before {cutoff:%Y-%m-%d %H:%M} UTC; {where}")
    return EXIT_OK


def _verify(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    progress = Progress("verified", sys.stderr, progress_on)
    result = log.verify(pin=args.pin, progress=progress)
    progress.done()
    if result.ok:
        count = len(result.chains)
        print(f"log intact: {result.checked} records checked in {count} chain{'s' * (count != 1)}")
        for state in result.chains:
            span = (
                f"records {state.chain}.{state.first_seq} to {state.chain}.{state.last_seq}"
                if state.size
                else "no records"
            )
            print(f"  chain {state.chain}: {span}")
        if args.pin:
            print("pin holds: the log still holds the heads it names")
        # Kept outside the database, the pin shows a chain rewritten or removed later on.
        print(f"pin: {result.pin}")
        return EXIT_OK
    reason = result.reason.value if result.reason else "?"
    where = f" at {'record ' if result.broken_seq is not None else ''}{result.broken_ref}"
    if result.reason in (BreakReason.PIN_MISMATCH, BreakReason.PIN_PURGED):
        after = f"the chains themselves are intact ({result.checked} records)"
    else:
        after = f"{result.checked} records before it are intact"
    print(f"log BROKEN{where if result.broken_ref else ''} ({reason}): {result.detail}; {after}")
    return EXIT_FAILED


def _upgrade(args: argparse.Namespace, log: StoredConsentLog, progress_on: bool) -> int:
    # Opening the log migrates it and adds the chains asked for (see _prepare_schema); a large
    # PostgreSQL log may need a longer --timeout than the app's for the key's new index.
    count = len(log.chain_states())
    print(f"schema version {SCHEMA_VERSION}, {count} chain{'s' * (count != 1)}")
    return EXIT_OK


def _audit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .audit import Bounds, audit_urls, format_table

    if not args.urls and not args.sitemap:
        parser.error("audit needs at least one URL or --sitemap URL")
    progress_on = args.progress if args.progress is not None else sys.stderr.isatty()

    def progress(done: int, total: int, url: str) -> None:
        if progress_on:
            end = "\r" if sys.stderr.isatty() else "\n"
            sys.stderr.write(f"audit: {done}/{total} pages {url[:80]}{end}")
            sys.stderr.flush()

    try:
        report = audit_urls(
            args.urls,
            sitemap=args.sitemap,
            bounds=Bounds(args.max_pages, args.time_limit, args.rate, args.timeout),
            prefix=args.prefix,
            own_cookie=args.cookie_name,
            progress=progress,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if progress_on and sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .check import check_app, format_report, load_app

    try:
        app = load_app(args.app)
        report = check_app(app, paths=args.path)
    except (ValueError, ImportError) as exc:
        print(f"consentgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _inventory(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .inventory import Inventory, draft, read_log

    found = Inventory()
    for name in args.logs:
        try:
            if name == "-":
                read_log(sys.stdin, found)
            else:
                with open(name, encoding="utf-8", errors="replace") as log:
                    read_log(log, found)  # (line by line: a long log is not held in memory)
        except OSError as exc:
            print(f"consentgate: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if not found.records:
        print("consentgate: no inventory records (run the app with debug=True)", file=sys.stderr)
        return EXIT_FAILED
    text = draft(found)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
