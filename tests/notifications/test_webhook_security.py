"""Webhook hardening: where webhooks may point, what a URL may look like, and that one bad endpoint harms no one.

Every request in these tests goes to this machine's loopback. URLs that must be refused are only registered (and the
422 checked), never sent to. Names are resolved by a patched ``socket.getaddrinfo`` (the socket boundary), and the
rebinding test also replaces ``socket.socket`` with one that refuses to connect anywhere but loopback, so a wrong
implementation fails the test instead of sending off this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from api.app import create_app
from matcher import Conflict, DeliveryWorker, InvalidInput, Runtime, create_endpoint, create_platforms
from matcher.dbtypes import utcnow
from matcher.notifications.endpoints import new_secret
from matcher.notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from matcher.notifications.url_guard import normalise_webhook_url, refused_reason
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.live import in_thread
from tests.mailbox import Mailbox
from tests.waiting import wait_until_async
from tests.webhook_receiver import Receiver

HYDROGEN_TECH = {
    "title": "Iridium-lean catalyst-coated membrane",
    "summary": "质子交换膜电解水制氢的低铱催化剂涂层膜，需要在兆瓦级PEM电解槽电堆上做耐久性验证和膜电极涂布放大。",
    "trl": 5,
}
#: A global address handed out by the fake resolver; the guarded socket makes sure nothing is ever sent to it.
PUBLIC = "93.184.215.14"


def _runtime(folder: Path, **overrides: object) -> Runtime:
    settings = {
        "webhook_allow_private": True,
        "webhook_retry_delays": "0,0",
        "notify_min_score": 0.0,
        "notify_top_k": 3,
        "webhook_timeout_seconds": 5.0,
    } | overrides
    rt = Runtime.open(make_settings(folder, **settings))
    create_platforms(
        rt.db,
        rt.engine,
        rt.settings,
        [p.model_copy(update={"contact": f"ops@{p.external_id}.example.cn"}) for p in SAMPLE_PLATFORMS],
    )
    return rt


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    """Private targets allowed (the local receiver lives on 127.0.0.1)."""
    runtime = _runtime(tmp_path)
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt)) as c:
        yield c


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[TestClient]:
    """Private targets refused, as in production."""
    runtime = _runtime(tmp_path / "strict", webhook_allow_private=False)
    with TestClient(create_app(runtime=runtime)) as c:
        yield c
    runtime.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _worker(rt: Runtime) -> DeliveryWorker:
    """A delivery worker on this runtime's database, engine and settings, as ``pilotmatch worker`` runs one."""
    return DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)


def _pid(client: TestClient, external_id: str) -> int:
    items = client.get("/v1/platforms", params={"limit": 200}).json()["items"]
    return next(p["id"] for p in items if p["external_id"] == external_id)


def _register(client: TestClient, pid: int, url: str) -> httpx.Response:
    # ASCII JSON, so a lone surrogate travels as the escape a client would send (\ud800).
    body = json.dumps({"url": url}, ensure_ascii=True)
    headers = AUTH | {"content-type": "application/json"}
    return client.post(f"/v1/platforms/{pid}/webhooks", content=body, headers=headers)


def _assert_refused(response: httpx.Response, url: str) -> None:
    assert response.status_code == 422, (url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "url", url


def _store_endpoint(rt: Runtime, platform_id: int, url: str, secret: str | None = None) -> int:
    """Write an endpoint straight into the database, as a row from an older version or a manual edit would be."""
    with rt.session() as s:
        ep = WebhookEndpoint(platform_id=platform_id, url=url, secret=secret or new_secret())
        s.add(ep)
        s.commit()
        s.refresh(ep)
        return ep.id  # type: ignore[return-value]


# ---- SSRF: which addresses are refused ------------------------------------------------------------------------
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data",
    "http://100.100.100.200/latest/meta-data",  # Alibaba Cloud metadata, inside carrier-grade NAT space
    "http://[::ffff:100.100.100.200]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[2002:6464:64c8::]/",  # 6to4 of 100.100.100.200
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[64:ff9b::6464:64c8]/",  # NAT64 of 100.100.100.200
    "http://[fe80::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[fd00:ec2::254]/",  # AWS IPv6 metadata
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
]
PRIVATE = [
    "http://127.0.0.1:9/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://[::1]/hook",
    "http://[fc00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a01:203]/hook",  # NAT64 of 10.1.2.3
]


def test_non_global_targets_are_refused_without_allow_private(strict: TestClient) -> None:
    pid = _pid(strict, "s-hydrogen")
    for url in ALWAYS_REFUSED + PRIVATE:
        _assert_refused(_register(strict, pid, url), url)
    assert strict.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json() == []


def test_metadata_and_link_local_stay_refused_with_allow_private(client: TestClient) -> None:
    pid = _pid(client, "s-hydrogen")
    for url in ALWAYS_REFUSED:
        _assert_refused(_register(client, pid, url), url)
    assert "metadata" in _register(client, pid, "http://100.100.100.200/").json()["detail"]
    assert "link-local" in _register(client, pid, "http://[2002:a9fe:a9fe::]/").json()["detail"]
    # Loopback and private networks are what allow_private is for (registered only; nothing is sent to them).
    for url in PRIVATE:
        r = _register(client, pid, url)
        assert r.status_code == 201, (url, r.text)
        assert (
            client.delete(f"/v1/platforms/{pid}/webhooks/{r.json()['id']}", headers=AUTH).status_code == 204
        )


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.booleans())
def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_it(value: int, allow_private: bool) -> None:
    """Mapped, compatible, 6to4 and NAT64 forms get the verdict of the IPv4 address they carry."""
    v4 = ipaddress.IPv4Address(value)
    verdict = refused_reason(v4, allow_private=allow_private) is None
    forms = [
        ipaddress.IPv6Address(f"::ffff:{v4}"),
        ipaddress.IPv6Address((0x2002 << 112) | (value << 80)),
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | value),
    ]
    if value > 1:  # ::0.0.0.0 and ::0.0.0.1 are the unspecified and loopback addresses themselves
        forms.append(ipaddress.IPv6Address(value))
    for form in forms:
        assert (refused_reason(form, allow_private=allow_private) is None) == verdict, (form, v4)


# ---- URL shape -------------------------------------------------------------------------------------------------
MALFORMED = [
    "http://127.0.0.1:18080/poi\tson",
    "http://127.0.0.1:18080/poi\nson",
    "http://127.0.0.1:18080/poi\rson",
    "http://127.0.0.1:18080/poi\x00son",
    "http://127.0.0.1:18080/poi\x01son",
    "http://127.0.0.1:18080/poi\x1bson",
    "http://127.0.0.1:18080/poi\x7fson",
    "http://xn--ls8h.la/",  # punycode that does not decode: refused, never a 500
    "http://xn--zz.example/",
    "http://127.0.0.1:18080/poi\u200bson",  # zero-width space
    "http://127.0.0.1:18080/hook\n",  # trailing control characters are refused, not stripped
    "\thttp://127.0.0.1:18080/hook",
    "http://127.0.0.1:18080/poi son",
    "http://127.0.0.1:0/hook",
    "http://127.0.0.1:99999/hook",
    "http://127.0.0.1:65536/hook",
    "http://127.0.0.1:abc/hook",
    "http://127.0.0.1:+80/hook",
    "http://[1.2.3.4]/hook",
    "http://[127.0.0.1]:8080/hook",
    "http://[::1/hook",
    "http://[fe80::1%25eth0]/hook",
    "http://127.1/hook",
    "http://0x7f.0.0.1/hook",
    "http://2130706433/hook",
    "http://under_score.example/hook",
    "http://-leading.example/hook",
    "http://double..dot.example/hook",
    "http://user:pw@127.0.0.1/hook",
    "http://a.example\\@127.0.0.1/hook",
    "ftp://127.0.0.1/hook",
    "javascript:alert(1)",
    "http:///hook-without-host",
    "http://\ud800.example/",
]


def test_malformed_urls_are_refused_with_422_never_500(client: TestClient) -> None:
    pid = _pid(client, "s-hydrogen")
    for url in MALFORMED:
        _assert_refused(_register(client, pid, url), url)
    assert client.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json() == []


def test_the_stored_url_is_the_normal_form(client: TestClient, receiver: Receiver) -> None:
    pid = _pid(client, "s-hydrogen")
    r = _register(client, pid, f"HTTP://127.0.0.1:{receiver.port}/a/../hook?x=%41#fragment")
    assert r.status_code == 201, r.text
    assert r.json()["url"] == f"http://127.0.0.1:{receiver.port}/hook?x=%41"
    assert client.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json()[0]["url"] == r.json()["url"]
    assert normalise_webhook_url("https://Hooks.Example.COM:443") == "https://hooks.example.com/"
    assert (
        normalise_webhook_url("http://例子.测试/路径") == "http://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84"
    )
    assert normalise_webhook_url("http://[0:0:0:0:0:0:0:1]:8080") == "http://[::1]:8080/"


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(lambda rest: "http://" + rest, st.text()),
        st.builds(
            lambda host, port, path: f"https://{host}:{port}/{path}",
            st.text(min_size=1, max_size=20),
            st.text(max_size=8),
            st.text(max_size=20),
        ),
    )
)
def test_any_string_is_refused_or_normalised_for_good(url: str) -> None:
    """No string makes the parser raise anything but InvalidInput; what it accepts is stable, sendable and
    free of control characters."""
    try:
        normal = normalise_webhook_url(url)
    except InvalidInput as exc:
        assert exc.field == "url"
        return
    assert normalise_webhook_url(normal) == normal
    assert httpx.URL(normal).scheme in ("http", "https")
    assert not any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in normal)


# ---- DNS: resolved once, connected to what was checked --------------------------------------------------------
class FakeDNS:
    """Answers for the test's names, in order (the last answer repeats); every other name goes to the system."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: dict[str, int] = dict.fromkeys(answers, 0)
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host: object, port: object, *args: object, **kwargs: object) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        sequence = self.answers[name]
        address = sequence[min(self.lookups[name], len(sequence) - 1)]
        self.lookups[name] += 1
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]  # type: ignore[call-overload]


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sockets that refuse to connect anywhere but loopback; returns the addresses they refused."""
    refused: list[str] = []
    real = socket.socket

    class LoopbackOnlySocket(real):  # type: ignore[misc, valid-type]
        def connect(self, address: object) -> None:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                host = address[0]  # type: ignore[index]
                if not ipaddress.ip_address(host).is_loopback:
                    refused.append(host)
                    raise ConnectionRefusedError(f"test: {host} is not on this machine")
            super().connect(address)

    monkeypatch.setattr(socket, "socket", LoopbackOnlySocket)
    return refused


def test_a_name_that_rebinds_to_loopback_after_the_check_reaches_nothing(
    strict: TestClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """The name answers a public address twice (registration, then the check before sending) and 127.0.0.1 from
    then on. A sender that looks the name up again to connect would reach the local receiver."""
    name = "hooks.rebind.example"
    dns = FakeDNS(monkeypatch, {name: [PUBLIC, PUBLIC, "127.0.0.1"]})
    pid = _pid(strict, "s-hydrogen")
    hook = _register(strict, pid, f"http://{name}:{receiver.port}/hook")
    assert hook.status_code == 201, hook.text

    r = strict.post(f"/v1/platforms/{pid}/webhooks/{hook.json()['id']}/test", headers=AUTH)
    assert r.status_code == 200 and r.json()["ok"] is False
    assert receiver.requests == []
    assert dns.lookups[name] == 2  # one at registration, one for the send: connected to what was checked
    assert loopback_only == [PUBLIC]

    # The worker resolves again for its own connection: now 127.0.0.1, which is refused before connecting.
    rt: Runtime = strict.app.state.runtime  # type: ignore[attr-defined]
    strict.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
    _worker(rt).run_once()
    assert receiver.requests == []
    with rt.session() as s:
        [delivery] = s.exec(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hook.json()["id"])
        ).all()
    assert delivery.last_error and "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error


def test_delivery_connects_to_the_checked_address_and_keeps_the_name(
    client: TestClient,
    rt: Runtime,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    loopback_only: list[str],
) -> None:
    """The name answers 127.0.0.1 (where the receiver listens) twice, then 127.0.0.2 (nothing listens there). The
    delivery must go to the address its own check saw, with the name in the Host header."""
    name = "hooks.pinned.example"
    dns = FakeDNS(monkeypatch, {name: ["127.0.0.1", "127.0.0.1", "127.0.0.2"]})
    pid = _pid(client, "s-hydrogen")
    hook = _register(client, pid, f"http://{name}:{receiver.port}/hook").json()

    r = client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/test", headers=AUTH).json()
    assert r["ok"] is True, r
    [request] = receiver.requests
    assert request.headers["host"] == f"{name}:{receiver.port}"
    assert dns.lookups[name] == 2
    assert loopback_only == []


def test_https_delivery_sends_the_name_as_sni(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, loopback_only: list[str]
) -> None:
    """The connection is pinned to an address, but TLS still names the host (SNI, certificate checks)."""
    listener = socket.create_server(("127.0.0.1", 0))
    hello: list[bytes] = []

    def accept_one() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            hello.append(conn.recv(4096))

    threading.Thread(target=accept_one, daemon=True).start()
    name = "hooks.tls.example"
    dns = FakeDNS(monkeypatch, {name: ["127.0.0.1"]})
    pid = _pid(client, "s-hydrogen")
    port = listener.getsockname()[1]
    try:
        hook = _register(client, pid, f"https://{name}:{port}/hook").json()
        r = client.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/test", headers=AUTH).json()
    finally:
        listener.close()
    assert r["ok"] is False  # no TLS server answers; the client hello is what this test reads
    assert hello and name.encode() in hello[0]
    assert dns.lookups[name] == 2


# ---- one bad row harms no one ----------------------------------------------------------------------------------
def test_poisoned_rows_fail_alone_and_the_healthy_delivery_and_digests_go_out_in_the_first_pass(
    tmp_path: Path, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    box, smtp_port = smtp
    runtime = _runtime(tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_port}", email_batch_minutes=0)
    try:
        with TestClient(create_app(runtime=runtime)) as c:
            hydrogen, steel = _pid(c, "s-hydrogen"), _pid(c, "s-steel")
            healthy = _register(c, hydrogen, receiver.url).json()["id"]
            # Rows as an older version or a manual edit could have left them (PostgreSQL cannot store NUL at all).
            poisoned = [
                _store_endpoint(runtime, hydrogen, f"http://127.0.0.1:{receiver.port}/poi\tson"),
                _store_endpoint(runtime, steel, f"http://127.0.0.1:{receiver.port}/poi\x1bson"),
                _store_endpoint(runtime, steel, "http://[1.2.3.4]/hook"),
                _store_endpoint(runtime, steel, receiver.url, secret="whsec_!!!"),  # cannot sign
            ]
            c.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
            with runtime.session() as s:  # the poisoned deliveries come first in the worker's queue
                for d in s.exec(
                    select(WebhookDelivery).where(WebhookDelivery.endpoint_id.in_(poisoned))
                ).all():  # type: ignore[attr-defined]
                    d.next_attempt_at = utcnow() - timedelta(hours=1)
                    s.add(d)
                s.commit()

            _worker(runtime).run_once()

            assert len(receiver.requests) == 1
            with runtime.session() as s:
                deliveries = {d.endpoint_id: d for d in s.exec(select(WebhookDelivery)).all()}
                attempts = s.exec(select(WebhookAttempt)).all()
            assert deliveries[healthy].status == "succeeded"
            assert receiver.requests[0].headers["webhook-id"] == deliveries[healthy].msg_id
            for endpoint_id in poisoned:
                d = deliveries[endpoint_id]
                assert d.attempts == 1 and d.status == "pending" and d.lease_owner is None, d
                assert d.last_error and d.last_error.startswith(("refused", "internal error")), d.last_error
            assert len(attempts) == 1 + len(poisoned)
            assert sorted(box.recipients) == sorted(
                f"ops@{p.external_id}.example.cn" for p in SAMPLE_PLATFORMS
            )
    finally:
        runtime.close()


def test_a_receiver_answer_with_nul_bytes_is_recorded(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    """PostgreSQL refuses NUL in text; the stored copy of the answer must not make recording fail."""
    receiver.body = b"ok\x00ok"
    pid = _pid(client, "s-hydrogen")
    hook = _register(client, pid, receiver.url).json()
    client.post("/v1/technologies", json=HYDROGEN_TECH, headers=AUTH)
    assert _worker(rt).run_once() >= 1
    with rt.session() as s:
        [delivery] = s.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hook["id"])).all()
        [attempt] = s.exec(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)).all()
    assert delivery.status == "succeeded"
    assert (
        attempt.response_body
        and attempt.response_body.startswith("ok")
        and "\x00" not in attempt.response_body
    )


def test_test_endpoint_never_answers_500_whatever_the_stored_url(
    client: TestClient, rt: Runtime, receiver: Receiver
) -> None:
    pid = _pid(client, "s-hydrogen")
    stored = [
        f"http://127.0.0.1:{receiver.port}/poi\tson",
        f"http://127.0.0.1:{receiver.port}/poi\r\nson",
        f"http://127.0.0.1:{receiver.port}/poi\x1bson",  # (PostgreSQL cannot store NUL at all)
        "http://127.0.0.1:99999/hook",
        "http://127.0.0.1:0/hook",
        "http://[1.2.3.4]/hook",
        "http://127.1/hook",
        "ftp://127.0.0.1/hook",
        "",
        "http://",
    ]
    for url in stored:
        endpoint = _store_endpoint(rt, pid, url)
        r = client.post(f"/v1/platforms/{pid}/webhooks/{endpoint}/test", headers=AUTH)
        assert r.status_code == 200, (url, r.status_code, r.text)
        assert r.json()["ok"] is False and r.json()["error"].startswith("refused"), (url, r.json())
    bad_secret = _store_endpoint(rt, pid, receiver.url, secret="whsec_!!!")
    r = client.post(f"/v1/platforms/{pid}/webhooks/{bad_secret}/test", headers=AUTH)
    assert r.status_code == 200 and r.json()["ok"] is False and r.json()["error"].startswith("internal error")
    assert receiver.requests == []


# ---- limits ----------------------------------------------------------------------------------------------------
def test_a_platform_may_register_at_most_webhooks_per_platform(client: TestClient, rt: Runtime) -> None:
    pid = _pid(client, "s-hydrogen")
    cap = rt.settings.webhooks_per_platform
    assert cap == 5
    for i in range(cap):
        assert _register(client, pid, f"http://127.0.0.1:{9000 + i}/hook").status_code == 201
    sixth = _register(client, pid, "http://127.0.0.1:9100/hook")
    assert sixth.status_code == 409
    assert sixth.headers["content-type"].startswith("application/problem+json")
    assert "5 webhook endpoints" in sixth.json()["detail"]
    assert len(client.get(f"/v1/platforms/{pid}/webhooks", headers=AUTH).json()) == cap
    # Another platform has its own allowance.
    assert _register(client, _pid(client, "s-steel"), "http://127.0.0.1:9100/hook").status_code == 201


def test_concurrent_registrations_never_exceed_the_cap(rt: Runtime) -> None:
    from matcher.platforms.models import Platform

    with rt.session() as s:
        pid = s.exec(select(Platform.id).where(Platform.external_id == "s-antibody")).one()
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def register(i: int) -> None:
        start.wait()
        try:
            create_endpoint(rt.db, rt.settings, pid, f"http://127.0.0.1:{9200 + i}/hook", None)  # type: ignore[arg-type]
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=register, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"] * 5
    with rt.session() as s:
        assert len(s.exec(select(WebhookEndpoint).where(WebhookEndpoint.platform_id == pid)).all()) == 5


@pytest.fixture
def live(rt: Runtime) -> Iterator[str]:
    with in_thread(create_app(runtime=rt)) as base:
        yield base


def test_many_tests_against_a_slow_target_are_shed_and_do_not_hold_up_other_requests(
    live: str, receiver: Receiver
) -> None:
    """200 concurrent /test calls for one platform while its target hangs: one is in flight, the rest answer 429
    with Retry-After at once, and a plain GET is answered while the target still hangs."""
    receiver.gate = threading.Event()
    with httpx.Client(base_url=live, headers=AUTH, timeout=30) as c:
        pid = next(
            p["id"] for p in c.get("/v1/platforms").json()["items"] if p["external_id"] == "s-hydrogen"
        )
        hook = c.post(f"/v1/platforms/{pid}/webhooks", json={"url": receiver.url}).json()

    async def scenario() -> tuple[list[httpx.Response], httpx.Response, list[httpx.Response]]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(base_url=live, headers=AUTH, timeout=60, limits=limits) as ac:
            url = f"/v1/platforms/{pid}/webhooks/{hook['id']}/test"
            tasks = [asyncio.create_task(ac.post(url)) for _ in range(200)]
            try:
                await wait_until_async(
                    lambda: sum(t.done() for t in tasks) >= 199, 30, "199 of the calls to be answered"
                )
                shed = [t.result() for t in tasks if t.done()]
                assert receiver.arrived.is_set() and not receiver.gate.is_set()  # type: ignore[union-attr]
                plain = await ac.get(f"/v1/platforms/{pid}", timeout=10)
            finally:
                receiver.gate.set()  # type: ignore[union-attr]
            return shed, plain, list(await asyncio.gather(*tasks))

    shed, plain, answers = asyncio.run(scenario())
    assert len(shed) == 199 and all(r.status_code == 429 for r in shed), [r.status_code for r in shed][:5]
    assert shed[0].headers["content-type"].startswith("application/problem+json")
    assert int(shed[0].headers["retry-after"]) >= 1
    assert plain.status_code == 200
    assert sorted(r.status_code for r in answers).count(200) == 1
    assert len(receiver.requests) == 1
    # Once the first is done, the platform may test again.
    with httpx.Client(base_url=live, headers=AUTH, timeout=30) as c:
        again = c.post(f"/v1/platforms/{pid}/webhooks/{hook['id']}/test")
    assert again.status_code == 200 and again.json()["ok"] is True


# ---- contract --------------------------------------------------------------------------------------------------
def test_every_notification_route_documents_its_problem_statuses(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    base = "/v1/platforms/{platform_id}"
    expected = {
        ("get", "/notifications"): {401, 404, 422},
        ("post", "/notifications/{notification_id}/read"): {401, 404, 422},
        ("post", "/notifications/{notification_id}/redeliver"): {401, 404, 422},
        ("post", "/webhooks"): {401, 404, 409, 413, 422},
        ("get", "/webhooks"): {401, 404, 422},
        ("delete", "/webhooks/{webhook_id}"): {401, 404, 422},
        ("post", "/webhooks/{webhook_id}/rotate-secret"): {401, 404, 422},
        ("post", "/webhooks/{webhook_id}/test"): {401, 404, 422, 429},
        ("post", "/keys"): {401, 403, 404, 422},
        ("get", "/keys"): {401, 403, 404, 422},
        ("delete", "/keys/{key_id}"): {401, 403, 404, 422},
    }
    for (method, path), statuses in expected.items():
        responses = paths[base + path][method]["responses"]
        for status in statuses:
            assert "application/problem+json" in responses[str(status)]["content"], (method, path, status)


def test_the_normal_forms_in_the_docs_are_what_the_service_stores() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    table = doc.split("<!-- normal-forms")[1].split("<!-- /normal-forms -->")[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) >= 5
    for sent, stored in rows:
        url = sent.strip().strip("`")
        if stored.strip().startswith("refused"):
            with pytest.raises(InvalidInput):
                normalise_webhook_url(url)
        else:
            assert normalise_webhook_url(url) == stored.strip().strip("`"), url


def test_digests_go_only_to_a_contact_that_is_one_address(tmp_path: Path, smtp: tuple[Mailbox, int]) -> None:
    """A platform key writes its own contact: a list of addresses must not make the service mail third parties,
    and a line break must neither add headers nor stop other platforms' digests."""
    box, smtp_port = smtp
    runtime = _runtime(tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_port}", email_batch_minutes=0)
    try:
        with TestClient(create_app(runtime=runtime)) as c:
            listed, broken = _pid(c, "s-hydrogen"), _pid(c, "s-antibody")
            lists = {"contact": "ops@h2.example.cn, victim@elsewhere.example", "notify_min_score": 0}
            assert c.patch(f"/v1/platforms/{listed}", json=lists, headers=AUTH).status_code == 200
            injected = {"contact": "ops@bio.example.cn\nBcc: hidden@elsewhere.example", "notify_min_score": 0}
            assert c.patch(f"/v1/platforms/{broken}", json=injected, headers=AUTH).status_code == 200
            c.post(
                "/v1/technologies",
                json=HYDROGEN_TECH | {"summary": "PEM电解槽与单克隆抗体工艺"},
                headers=AUTH,
            )
            _worker(runtime).run_once()
        assert not any("elsewhere" in r for r in box.recipients)
        assert "ops@s-steel.example.cn" in box.recipients  # the others' digests still went out
    finally:
        runtime.close()
