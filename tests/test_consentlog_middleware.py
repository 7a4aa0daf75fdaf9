"""Choices posted through ConsentMiddleware land in the consent log, on both stores."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from helpers import ORIGIN, make_app
from pg import let_inserts_succeed, make_inserts_fail

from consentgate.consentlog import StoredConsentLog

COOKIE = "consentgate"


@pytest.fixture
def log_options() -> dict[str, Any]:
    """The ``log`` fixture (conftest.py) keeps visitors' IP addresses and user agents here."""
    return {"store_ip": True, "store_user_agent": True}


def async_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.77", 5555)),
        base_url="http://testserver",
    )


async def post_choice(client: httpx.AsyncClient, action: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/consentgate/consent",
        json={"action": action, **body},
        headers={**ORIGIN, "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
    )


def test_200_concurrent_choices_leave_200_chained_records(log: StoredConsentLog) -> None:
    app = make_app(consent_log=log)

    async def main() -> list[httpx.Response]:
        async with async_client(app) as client:
            actions = ["accept_all", "reject_all"] * 100
            return await asyncio.gather(*(post_choice(client, a) for a in actions))

    responses = asyncio.run(main())

    assert [r.status_code for r in responses] == [200] * 200
    ids = {r.json()["consent_id"] for r in responses}
    assert len(ids) == 200
    records = list(log.iter_records())
    assert len(records) == 200
    assert {r.consent_id for r in records} == ids
    result = log.verify()
    assert result.ok and result.checked == 200
    accepted = [r for r in records if "marketing" in r.granted]
    assert len(accepted) == 100
    assert all(r.refused == () for r in accepted)


def test_the_record_matches_the_cookie_and_keeps_no_raw_ip(log: StoredConsentLog) -> None:
    app = make_app(consent_log=log)

    async def main() -> httpx.Response:
        async with async_client(app) as client:
            return await post_choice(client, "save", categories=["analytical"])

    response = asyncio.run(main())

    assert response.status_code == 200
    body = response.json()
    (record,) = log.records_for_sync(body["consent_id"])
    assert set(record.granted) == set(body["granted"])
    assert "analytical" in record.granted and "marketing" in record.refused
    assert record.revision == body["revision"]
    assert record.ip == "203.0.113.0"
    assert record.user_agent is not None and record.user_agent.startswith("Mozilla/5.0")
    assert len(record.texts_hash) == 64


def test_a_failing_store_answers_503_and_sets_no_cookie(log: StoredConsentLog, target: str) -> None:
    app = make_app(consent_log=log)
    log.chain_state()  # creates the tables
    make_inserts_fail(target)

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with async_client(app) as client:
            refused = await post_choice(client, "accept_all")
            form = await client.post(
                "/consentgate/consent",
                data={"action": "accept_all"},
                headers=ORIGIN,
                follow_redirects=False,
            )
            return refused, form

    refused, form = asyncio.run(main())

    for response in (refused, form):
        assert response.status_code == 503
        assert not any(c.startswith(COOKIE + "=") for c in response.headers.get_list("set-cookie"))
    assert list(log.iter_records()) == []

    let_inserts_succeed(target)

    async def again() -> httpx.Response:
        async with async_client(app) as client:
            return await post_choice(client, "accept_all")

    response = asyncio.run(again())
    assert response.status_code == 200
    assert any(c.startswith(COOKIE + "=") for c in response.headers.get_list("set-cookie"))
    assert log.verify().checked == 1
