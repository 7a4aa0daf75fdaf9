"""Proof of consent: every choice appended to a tamper-evident log (GDPR Art. 7(1)).

``open_log()`` gives the embedded SQLite log by default, or a PostgreSQL one for a URL. Records
are kept in hash chains (one on SQLite, eight by default on PostgreSQL, so that app servers append
side by side) that ``consentgate log verify`` checks end to end.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .records import (
    GENESIS,
    USER_AGENT_MAX,
    ConsentEntry,
    ConsentRecord,
    Source,
    anonymise_ip,
    truncate_user_agent,
)
from .sqlite import DEFAULT_FILENAME, SQLiteConsentLog
from .store import (
    DEFAULT_TIMEOUT,
    BreakReason,
    ChainState,
    ConsentLog,
    ConsentLogError,
    PurgeResult,
    StoredConsentLog,
    VerifyResult,
    format_pin,
    head_digest,
    parse_pin,
)

__all__ = [
    "DEFAULT_FILENAME",
    "DEFAULT_TIMEOUT",
    "GENESIS",
    "BreakReason",
    "ChainState",
    "ConsentEntry",
    "ConsentLog",
    "ConsentLogError",
    "ConsentRecord",
    "PurgeResult",
    "SQLiteConsentLog",
    "Source",
    "StoredConsentLog",
    "VerifyResult",
    "anonymise_ip",
    "format_pin",
    "head_digest",
    "open_log",
    "parse_pin",
    "truncate_user_agent",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_log(
    target: str | os.PathLike[str] | None = None,
    *,
    store_user_agent: bool = False,
    store_ip: bool = False,
    user_agent_max: int = USER_AGENT_MAX,
    create: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    chains: int | None = None,
) -> StoredConsentLog:
    """The consent log at ``target``.

    ``None`` or ``""``: ``consentgate.sqlite3`` in the working directory. A path or
    ``sqlite:///path`` (``sqlite:////abs/path`` for an absolute one): a SQLite file.
    ``postgresql://...``: PostgreSQL, through psycopg 3 (``pip install 'consentgate[postgres]'``).
    Nothing is connected until first use; with ``create=False`` a missing log is an error instead
    of being created.

    ``timeout`` bounds, in seconds, every wait of an operation: for this process's other
    operations, for locks held by other servers, for each statement, and for the async methods
    as a whole; past it they raise ``ConsentLogError`` (which the middleware answers with 503).
    PostgreSQL sessions also get ``idle_in_transaction_session_timeout`` and libpq a connect
    timeout and TCP keepalives; a setting the URL names itself (``?keepalives_idle=10``,
    ``?options=-c lock_timeout=2s``) is left as the URL says.

    ``chains``: how many hash chains the log keeps, set when it is created (default 8 on
    PostgreSQL: up to 8 app servers append at the same instant without waiting on each other).
    A larger number given for an existing log adds chains when it is opened; a smaller one
    changes nothing, since chains are never removed. SQLite keeps one chain.
    """
    options: dict[str, Any] = {
        "store_user_agent": store_user_agent,
        "store_ip": store_ip,
        "user_agent_max": user_agent_max,
        "create": create,
        "timeout": timeout,
        "chains": chains,
    }
    if target is None or target == "":
        return SQLiteConsentLog(Path.cwd() / DEFAULT_FILENAME, **options)
    if not isinstance(target, str):
        return SQLiteConsentLog(target, **options)
    if target.startswith(_POSTGRES_SCHEMES):
        try:
            from .postgres import PostgresConsentLog
        except ImportError as exc:
            # First line only: psycopg's own message lists every implementation it tried.
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConsentLogError(
                f"a PostgreSQL consent log needs psycopg 3, which cannot be imported ({why}): "
                "pip install 'consentgate[postgres]'"
            ) from exc
        return PostgresConsentLog(target, **options)
    if target.startswith("sqlite://"):
        path = target.removeprefix("sqlite://")
        if not path.startswith("/") or path == "/":
            raise ValueError(
                f"a SQLite URL reads sqlite:///relative/path or sqlite:////abs/path: {target}"
            )
        return SQLiteConsentLog(path[1:], **options)
    if "://" in target:
        raise ValueError(
            f"unknown consent log URL {target!r}: use a path, sqlite:/// or postgresql://"
        )
    return SQLiteConsentLog(target, **options)
