"""Rate limits and load shedding for matching: per-client token buckets (429), a bounded queue (503 at once), a
lane that keeps long texts from starving short ones, and /readyz reporting overload."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.admission import Admission, client_address
from api.app import create_app
from matcher import Runtime
from matcher.admission import LONG_COST, MAX_WAIT_SECONDS, MatchGate, Overloaded, RateLimited, RateLimiter
from tests.conftest import AUTH
from tests.live import in_thread
from tests.waiting import wait_until

SHORT = {"text": "电解槽", "limit": 3}


@contextmanager
def app_client(rt: Runtime, **settings: object) -> Iterator[TestClient]:
    """The real app on ``rt`` with these admission settings (everything else as the runtime's)."""
    app = create_app(settings=rt.settings.model_copy(update=settings), runtime=rt)
    with TestClient(app) as client:
        yield client


def admission(client: TestClient) -> Admission:
    return client.app.state.admission  # type: ignore[attr-defined]


def test_anonymous_matches_beyond_the_burst_get_429_with_retry_after(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=3) as client:
        assert [client.post("/v1/match", json=SHORT).status_code for _ in range(3)] == [200, 200, 200]
        r = client.post("/v1/match", json=SHORT)
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 429 and "3 matches a minute" in r.json()["detail"]
        # Three tokens a minute: the next is back within 20 s.
        assert 1 <= int(r.headers["retry-after"]) <= 20


def test_keyed_requests_have_their_own_limit_and_a_bad_key_is_refused(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=1, keyed_match_rate_limit=2) as client:
        assert client.post("/v1/match", json=SHORT).status_code == 200
        assert client.post("/v1/match", json=SHORT).status_code == 429
        # The address has spent its anonymous token; the key's bucket is untouched.
        keyed = [client.post("/v1/match", json=SHORT, headers=AUTH).status_code for _ in range(3)]
        assert keyed == [200, 200, 429]
        bad = client.post("/v1/match", json=SHORT, headers={"Authorization": "Bearer not-a-key-at-all"})
        assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"


def test_zero_turns_both_limits_off(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=0, keyed_match_rate_limit=0) as client:
        assert {client.post("/v1/match", json=SHORT).status_code for _ in range(5)} == {200}
        assert {client.post("/v1/match", json=SHORT, headers=AUTH).status_code for _ in range(5)} == {200}


def test_the_limit_is_per_peer_address_and_ignores_x_forwarded_for(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=1) as client:
        assert (
            client.post("/v1/match", json=SHORT, headers={"X-Forwarded-For": "203.0.113.1"}).status_code
            == 200
        )
        spoofed = client.post("/v1/match", json=SHORT, headers={"X-Forwarded-For": "203.0.113.2"})
        assert spoofed.status_code == 429


@pytest.mark.backend_independent
def test_an_ipv6_client_is_one_client_per_64_block() -> None:
    def address(host: str) -> str:
        return client_address(Request({"type": "http", "client": (host, 1234), "headers": []}))

    assert address("2001:db8:1:2::1") == address("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address("2001:db8:1:3::1") != address("2001:db8:1:2::1")
    assert address("::ffff:192.0.2.7") == address("192.0.2.7") == "192.0.2.7"


def test_the_search_page_is_limited_but_the_empty_form_is_not(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=1) as client:
        html = {"Accept": "text/html"}
        assert {client.get("/", headers=html).status_code for _ in range(3)} == {200}
        assert client.get("/", params={"text": "电解槽"}, headers=html).status_code == 200
        r = client.get("/", params={"text": "电解槽"}, headers=html)
        assert r.status_code == 429
        assert r.headers["content-type"].startswith("text/html") and int(r.headers["retry-after"]) >= 1


def test_a_full_queue_answers_503_at_once_and_a_free_slot_serves_again(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_concurrency=1, match_queue=0) as client:
        gate = admission(client).gate
        ticket = asyncio.run(gate.admit(0))  # the one slot, held as a running match would hold it
        try:
            started = time.perf_counter()
            r = client.post("/v1/match", json=SHORT)
            assert r.status_code == 503, r.text
            assert time.perf_counter() - started < 5, "refused at once, not after waiting"
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["retry-after"]) >= 1
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "overloaded"
            matching = ready.json()["matching"]
            assert (matching["in_flight"], matching["queued"], matching["status"]) == (1, 0, "overloaded")
        finally:
            ticket.release()
        assert client.post("/v1/match", json=SHORT).status_code == 200
        assert client.get("/readyz").json()["matching"]["status"] == "ok"


def test_a_queued_match_waits_for_a_slot_and_the_next_one_is_refused(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_concurrency=1, match_queue=1) as client:
        gate = admission(client).gate
        ticket = asyncio.run(gate.admit(0))
        answers: list[int] = []
        waiting = threading.Thread(
            target=lambda: answers.append(client.post("/v1/match", json=SHORT).status_code)
        )
        try:
            waiting.start()
            wait_until(lambda: gate.stats().queued == 1, 10, "the second match to queue", interval=0.01)
            body = client.get("/readyz").json()
            assert body["matching"]["queued"] == 1 and body["status"] == "overloaded"
            assert client.post("/v1/match", json=SHORT).status_code == 503
            assert answers == [], "the queued match waits while the slot is held"
        finally:
            ticket.release()
        waiting.join(timeout=30)
        assert answers == [200]
        assert gate.stats().in_flight == 0 and gate.stats().queued == 0


def test_health_answers_while_matching_is_saturated(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_concurrency=1, match_queue=0) as client:
        ticket = asyncio.run(admission(client).gate.admit(0))
        try:
            assert client.get("/healthz").status_code == 200
        finally:
            ticket.release()


# The gate and the token bucket themselves (no HTTP).


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.backend_independent
def test_a_long_text_never_takes_the_last_slot() -> None:
    async def scenario() -> None:
        gate = MatchGate(concurrency=2, queue=4)
        first_long = await gate.admit(LONG_COST + 1)
        second_long = asyncio.create_task(gate.admit(LONG_COST + 1))
        await asyncio.sleep(0)
        assert not second_long.done(), "a second long text waits: one slot stays for short ones"
        short = await asyncio.wait_for(gate.admit(10), 1)  # admitted at once
        assert gate.stats().in_flight == 2 and gate.stats().long_queued == 1
        short.release()
        await asyncio.sleep(0)
        assert not second_long.done(), "the freed slot was the short lane's last; the long one still waits"
        first_long.release()
        (await asyncio.wait_for(second_long, 1)).release()

    run(scenario())


@pytest.mark.backend_independent
def test_a_freed_slot_goes_to_a_waiting_short_text_before_a_long_one() -> None:
    async def scenario() -> list[str]:
        gate = MatchGate(concurrency=1, queue=4)
        order: list[str] = []
        holder = await gate.admit(10)

        async def match(name: str, cost: int) -> None:
            with await gate.admit(cost):
                order.append(name)

        long_first = asyncio.create_task(match("long", LONG_COST + 1))
        await asyncio.sleep(0)
        short_later = asyncio.create_task(match("short", 10))
        await asyncio.sleep(0)
        holder.release()
        await asyncio.gather(long_first, short_later)
        return order

    assert run(scenario()) == ["short", "long"]


@pytest.mark.backend_independent
def test_long_texts_fill_at_most_half_the_queue() -> None:
    async def scenario() -> None:
        gate = MatchGate(concurrency=1, queue=4)
        running = await gate.admit(10)
        longs = [asyncio.create_task(gate.admit(LONG_COST + 1)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded) as refused:
            await gate.admit(LONG_COST + 1)
        assert refused.value.retry_after >= 1
        shorts = [asyncio.create_task(gate.admit(10)) for _ in range(2)]
        await asyncio.sleep(0)
        assert gate.stats().queued == 4
        with pytest.raises(Overloaded):
            await gate.admit(10)
        running.release()
        for task in shorts + longs:
            (await asyncio.wait_for(task, 1)).release()
        assert gate.stats().in_flight == 0

    run(scenario())


@pytest.mark.backend_independent
def test_a_long_text_is_refused_when_the_work_ahead_would_take_too_long_even_if_the_queue_has_room() -> None:
    async def scenario() -> None:
        gate = MatchGate(concurrency=2, queue=1000)
        running = await gate.admit(LONG_COST + 1)
        waiting: list[asyncio.Task] = []
        with pytest.raises(Overloaded) as refused:
            while len(waiting) < gate.long_queue:
                waiting.append(asyncio.create_task(gate.admit(LONG_COST + 1)))
                await asyncio.sleep(0)
                if waiting[-1].done():
                    waiting.pop().result()  # raises Overloaded
        assert 0 < len(waiting) < gate.long_queue, "refused by the time bound, long before the queue is full"
        assert refused.value.retry_after > MAX_WAIT_SECONDS - 1
        assert gate.stats().queued == len(waiting)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        running.release()
        assert gate.stats().in_flight == 0 and gate.stats().queued == 0

    run(scenario())


@pytest.mark.backend_independent
def test_no_match_waits_longer_than_max_wait() -> None:
    async def scenario() -> None:
        gate = MatchGate(concurrency=1, queue=4, max_wait=0.05)
        running = await gate.admit(10)
        with pytest.raises(Overloaded) as refused:
            await gate.admit(10)
        assert "waited" in refused.value.detail and refused.value.retry_after >= 1
        assert gate.stats().queued == 0 and gate.stats().in_flight == 1
        running.release()
        (await gate.admit(10)).release()

    run(scenario())


@pytest.mark.backend_independent
def test_once_long_texts_are_measured_slow_fewer_may_wait() -> None:
    now = [0.0]

    async def scenario() -> int:
        gate = MatchGate(concurrency=1, queue=40, clock=lambda: now[0])
        first = await gate.admit(LONG_COST + 1)
        now[0] += 30.0  # a long text that took 30 s
        first.release()
        running = await gate.admit(LONG_COST + 1)
        waiting = []
        with pytest.raises(Overloaded):
            while len(waiting) < gate.long_queue:
                waiting.append(asyncio.create_task(gate.admit(LONG_COST + 1)))
                await asyncio.sleep(0)
                if waiting[-1].done():
                    waiting.pop().result()
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        running.release()
        return len(waiting)

    # At about 6 s a text (the smoothed pace), two may wait behind the running one within 15 s; before any was
    # measured, far more could.
    assert run(scenario()) == 2


@pytest.mark.backend_independent
def test_a_cancelled_waiter_gives_its_place_back() -> None:
    async def scenario() -> None:
        gate = MatchGate(concurrency=1, queue=1)
        running = await gate.admit(10)
        waiter = asyncio.create_task(gate.admit(10))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gate.stats().queued == 0
        running.release()
        (await asyncio.wait_for(gate.admit(10), 1)).release()
        assert gate.stats().in_flight == 0

    run(scenario())


@pytest.mark.backend_independent
def test_a_token_bucket_admits_its_burst_then_one_token_per_interval() -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(60):
        limiter.take("a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert 0 < refused.value.retry_after <= 1.0, "60 a minute: the next token is one second away"
    limiter.take("b")  # another client has its own bucket
    assert len(limiter) == 2


@pytest.mark.backend_independent
def test_a_limit_of_zero_admits_everything() -> None:
    limiter = RateLimiter(per_minute=0)
    for _ in range(1000):
        limiter.take("a")
    assert not limiter.enabled and len(limiter) == 0


def test_the_openapi_document_lists_429_and_503_for_matching(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/v1/match"]["post"]["responses"]
    assert {"401", "429", "503"} <= set(responses)
    assert "application/problem+json" in responses["429"]["content"]


def test_retry_after_is_whole_seconds_over_http(demo_runtime: Runtime) -> None:
    """Over a real socket too: the header survives uvicorn and is an integer a client can sleep on."""
    app = create_app(
        settings=demo_runtime.settings.model_copy(update={"match_rate_limit": 1}), runtime=demo_runtime
    )
    with in_thread(app) as base:
        assert httpx.post(f"{base}/v1/match", json=SHORT, timeout=30).status_code == 200
        r = httpx.post(f"{base}/v1/match", json=SHORT, timeout=30)
        assert r.status_code == 429 and r.headers["retry-after"].isdigit()


def test_re_ranking_a_stored_technology_is_limited_like_a_match(demo_runtime: Runtime) -> None:
    with app_client(demo_runtime, match_rate_limit=1) as client:
        tid = client.get("/v1/technologies", params={"limit": 1}).json()["items"][0]["id"]
        assert client.get(f"/v1/technologies/{tid}/matches").status_code == 200
        r = client.get(f"/v1/technologies/{tid}/matches")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_submitting_a_technology_needs_a_match_slot_and_stores_nothing_without_one(
    small_runtime: Runtime,
) -> None:
    with app_client(small_runtime, match_concurrency=1, match_queue=0) as client:
        before = len(client.get("/v1/technologies").json()["items"])
        ticket = asyncio.run(admission(client).gate.admit(0))
        try:
            body = {"summary": "固态电池电解质中试放大", "contact": "lab@example.org"}
            r = client.post("/v1/technologies", json=body, headers=AUTH)
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert len(client.get("/v1/technologies").json()["items"]) == before
        finally:
            ticket.release()
        assert client.post("/v1/technologies", json=body, headers=AUTH).status_code == 201


def test_writes_that_embed_text_count_against_the_callers_key(small_runtime: Runtime) -> None:
    """A platform key's profile edits are embedded like a match: they take the key's tokens and a gate slot, so
    a key cannot re-embed 20,000-character profiles without limit while searches wait."""
    from matcher import create_platform_key, get_platform

    pid = small_runtime.engine.indexed_ids("platforms")[0]
    _, key = create_platform_key(small_runtime.db, pid)
    own = {"Authorization": f"Bearer {key}"}
    text = get_platform(small_runtime.db, pid).capabilities
    with app_client(small_runtime, keyed_match_rate_limit=2) as client:
        edits = [
            client.patch(
                f"/v1/platforms/{pid}", json={"capabilities": f"{text}（第{i}版工艺说明）"}, headers=own
            )
            for i in range(3)
        ]
        assert [r.status_code for r in edits] == [200, 200, 429]
        assert edits[2].headers["retry-after"] and edits[2].json()["status"] == 429


def test_re_ranking_a_stored_technology_takes_the_long_lane(demo_runtime: Runtime) -> None:
    """A GET re-ranks a stored text whose length the request does not show: it may be 20,000 characters, so it
    waits in the long lane and cannot crowd out short searches."""
    with app_client(demo_runtime, match_concurrency=2, match_queue=4) as client:
        gate = admission(client).gate
        ticket = asyncio.run(gate.admit(gate.long_cost + 1))  # the one slot long texts may take
        tid = client.get("/v1/technologies", params={"limit": 1}).json()["items"][0]["id"]
        answers: list[int] = []
        waiting = threading.Thread(
            target=lambda: answers.append(client.get(f"/v1/technologies/{tid}/matches").status_code)
        )
        try:
            waiting.start()
            wait_until(lambda: gate.stats().queued == 1, 10, "the second match to queue", interval=0.01)
            assert client.get("/readyz").json()["matching"]["long_queued"] == 1
            assert client.post("/v1/match", json=SHORT).status_code == 200  # the short lane is free
            assert answers == []
        finally:
            ticket.release()
        waiting.join(timeout=30)
        assert answers == [200]
