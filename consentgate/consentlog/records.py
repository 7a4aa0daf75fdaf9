"""What one consent record holds, how it is hashed into its chain, and how visitor data is reduced.

A record's ``hash`` covers every stored field plus the previous record's hash in its chain, so
editing, deleting or reordering stored records breaks the chain at the first record touched.

So that anyone can check a record without consentgate: ``hash`` is the SHA-256 (hex) of the UTF-8
JSON object, keys sorted, no whitespace, of ``v`` (record format, 2), ``chain``, ``seq``,
``consent_id``, ``time`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``granted``, ``refused``,
``services`` (sorted lists), ``revision``, ``texts_hash``, ``source``, ``user_agent``, ``ip``
(``null`` when not kept) and ``prev_hash`` (64 zeros for the first record of a chain).

Format 1, written before the log had several chains, is the same without ``chain``: its records
all sit in chain 1 and keep verifying as they were hashed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

#: ``prev_hash`` of the first record ever appended to a store.
GENESIS = "0" * 64
#: Bumped when the hashed payload changes; stored per record so old records keep verifying.
#: 2 added ``chain``.
RECORD_VERSION = 2
#: Default cut for stored user agents: enough to tell browser and platform, not a fingerprint.
USER_AGENT_MAX = 160

# Built once: json.dumps() with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# Visitor-sent text ends up in operators' terminals and spreadsheets: keep printable only.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Source(StrEnum):
    """Where a choice was made."""

    BANNER = "banner"
    PREFERENCES = "preferences"
    WITHDRAWAL = "withdrawal"
    GPC = "gpc"
    PLACEHOLDER = "placeholder"
    API = "api"


SOURCES = frozenset(s.value for s in Source)


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One choice as the consent endpoint knows it, before it is stored."""

    consent_id: str
    time: datetime
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    services: tuple[str, ...]
    revision: str
    texts_hash: str
    source: str
    #: Raw; the log truncates it and keeps it only when configured to.
    user_agent: str | None = None
    #: Raw client address; the log anonymises it and keeps it only when configured to.
    ip: str | None = None

    def __post_init__(self) -> None:
        if not self.consent_id:
            raise ValueError("consent_id must not be empty")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("time must be timezone-aware")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {sorted(SOURCES)}")


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A stored choice: the entry as kept (anonymised), its place in the chain and its hash."""

    seq: int
    consent_id: str
    time: datetime
    granted: tuple[str, ...]
    refused: tuple[str, ...]
    services: tuple[str, ...]
    revision: str
    texts_hash: str
    source: str
    user_agent: str | None
    ip: str | None
    prev_hash: str
    hash: str
    version: int = RECORD_VERSION
    #: Which of the log's chains holds the record; ``seq`` counts within it.
    chain: int = 1

    @property
    def ref(self) -> str:
        """The record's name in messages: ``chain.seq``."""
        return f"{self.chain}.{self.seq}"

    def payload(self) -> dict[str, Any]:
        """The hashed content: every field but ``hash`` itself."""
        data = self.as_dict()
        del data["hash"], data["version"]
        if self.version < 2:  # format 1 did not hash the chain (it had one)
            del data["chain"]
        data["v"] = self.version
        return data

    def expected_hash(self) -> str:
        return chain_hash(self.payload())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as exported and shown on receipts."""
        return {
            "chain": self.chain,
            "seq": self.seq,
            "consent_id": self.consent_id,
            "time": format_time(self.time),
            "granted": self.granted,
            "refused": self.refused,
            "services": self.services,
            "revision": self.revision,
            "texts_hash": self.texts_hash,
            "source": self.source,
            "user_agent": self.user_agent,
            "ip": self.ip,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "version": self.version,
        }


def chain_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_CANONICAL.encode(payload).encode("utf-8")).hexdigest()


def format_time(value: datetime) -> str:
    """Fixed-width UTC text: sorts as it compares, so SQLite can range-scan it as text."""
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z"


def parse_time(value: str) -> datetime:
    """The time ``format_time`` wrote; ``ValueError`` for anything else."""
    if len(value) != 27 or not value.endswith("Z"):
        raise ValueError(f"{value!r} is not a stored UTC time")
    parsed = datetime.fromisoformat(value[:-1])
    if parsed.tzinfo is not None:
        raise ValueError(f"{value!r} is not a stored UTC time")
    return parsed.replace(tzinfo=UTC)


def anonymise_ip(raw: str | None) -> str | None:
    """The network of ``raw``: IPv4 /24, IPv6 /48; ``None`` for anything that is not an address."""
    if not raw:
        return None
    text = raw.strip().split("%", 1)[0]  # an IPv6 zone id says nothing about the visitor
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def truncate_user_agent(raw: str | None, limit: int = USER_AGENT_MAX) -> str | None:
    if not raw:
        return None
    cleaned = _UNPRINTABLE.sub(" ", raw).strip()
    return cleaned[:limit] or None


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def build_record(
    entry: ConsentEntry,
    seq: int,
    prev_hash: str,
    *,
    chain: int = 1,
    store_user_agent: bool,
    store_ip: bool,
    user_agent_max: int = USER_AGENT_MAX,
) -> ConsentRecord:
    """The record ``entry`` becomes at ``seq`` in ``chain``, after a record hashed ``prev_hash``."""
    unhashed = ConsentRecord(
        seq=seq,
        consent_id=entry.consent_id,
        time=entry.time.astimezone(UTC),
        granted=_names(entry.granted),
        refused=_names(entry.refused),
        services=_names(entry.services),
        revision=entry.revision,
        texts_hash=entry.texts_hash,
        source=entry.source,
        user_agent=truncate_user_agent(entry.user_agent, user_agent_max)
        if store_user_agent
        else None,
        ip=anonymise_ip(entry.ip) if store_ip else None,
        prev_hash=prev_hash,
        hash="",
        chain=chain,
    )
    return replace(unhashed, hash=unhashed.expected_hash())
