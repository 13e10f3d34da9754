"""Who sees a researcher's contact: the admin key and the researcher's own private link, nobody else."""

from __future__ import annotations

import logging
import re

from fastapi.testclient import TestClient
from sqlmodel import select

from matcher import Runtime, create_platform_key
from matcher.logs import KeyValueFormatter
from matcher.platforms.models import Platform
from tests.conftest import ADMIN_KEY, AUTH

CONTACT = "secret-lab@example.edu.cn"
HTML = {"Accept": "text/html"}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _sign_in(client: TestClient, key: str) -> None:
    token = _csrf(client.get("/operator/sign-in", headers=HTML).text)
    r = client.post("/operator/sign-in", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def _hydrogen(rt: Runtime) -> int:
    with rt.session() as s:
        return s.exec(select(Platform.id).where(Platform.external_id == "s-hydrogen")).one()  # type: ignore[return-value]


def test_the_api_shows_a_contact_to_the_admin_only(small_client: TestClient, small_runtime: Runtime) -> None:
    body = {"summary": "质子交换膜电解槽电堆耐久性验证", "contact": CONTACT}
    created = small_client.post("/v1/technologies", json=body, headers=AUTH)
    assert created.status_code == 201 and created.json()["contact"] == CONTACT  # the admin who stored it
    tid = created.json()["id"]
    _, key = create_platform_key(small_runtime.db, _hydrogen(small_runtime))
    platform = {"Authorization": f"Bearer {key}"}
    for headers in ({}, platform):
        assert small_client.get(f"/v1/technologies/{tid}", headers=headers).json()["contact"] is None
        listed = small_client.get("/v1/technologies", headers=headers).json()["items"]
        assert [t["contact"] for t in listed] == [None]
        assert CONTACT not in small_client.get(f"/v1/platforms/{_hydrogen(small_runtime)}/technologies").text
        assert (
            CONTACT
            not in small_client.get(
                f"/v1/platforms/{_hydrogen(small_runtime)}/notifications", headers=platform
            ).text
        )
    assert small_client.get(f"/v1/technologies/{tid}", headers=AUTH).json()["contact"] == CONTACT
    assert small_client.get("/v1/technologies", headers=AUTH).json()["items"][0]["contact"] == CONTACT
    bad = small_client.get(f"/v1/technologies/{tid}", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


def test_the_web_shows_a_contact_to_its_researcher_and_the_admin_only(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    token = _csrf(small_client.get("/?text=x", headers=HTML).text)
    r = small_client.post(
        "/technologies",
        data={"text": "质子交换膜电解槽电堆需要兆瓦级耐久性验证", "contact": CONTACT, "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    link = r.headers["location"]
    assert CONTACT in small_client.get(link, headers=HTML).text  # the researcher's own page
    pid = _hydrogen(small_runtime)
    page = small_client.get(f"/platforms/{pid}", headers=HTML).text
    assert CONTACT not in page  # anonymous
    _, key = create_platform_key(small_runtime.db, pid)
    _sign_in(small_client, key)
    operator = small_client.get(f"/platforms/{pid}", headers=HTML).text
    assert 'id="fits-title"' in operator and "质子交换膜电解槽" in operator and CONTACT not in operator
    assert CONTACT not in small_client.get(f"/platforms/{pid}/inbox", headers=HTML).text
    _sign_in(small_client, ADMIN_KEY)
    assert CONTACT in small_client.get(f"/platforms/{pid}", headers=HTML).text


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(KeyValueFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_request_logs_hide_private_links_and_cannot_be_forged(small_client: TestClient) -> None:
    handler = _Lines()
    logger = logging.getLogger("pilotmatch.request")
    logger.addHandler(handler)
    try:
        small_client.get("/t/secret-token-value", headers=HTML)
        forged = (
            "/v1/x%0A2026-12-06T09:00:00%20info%20pilotmatch.request%20request%20path=/v1/platforms/1/keys"
        )
        small_client.get(forged, headers={"X-Request-ID": "deadbeef status=200 user=admin"})
    finally:
        logger.removeHandler(handler)
    text = "\n".join(handler.lines)
    assert "secret-token-value" not in text and "path=/t/<token>" in text
    assert len(handler.lines) == 2  # the forged request is one line, its path and id quoted
    assert 'request_id="deadbeef status=200 user=admin"' in handler.lines[1]


def test_a_malformed_authorization_header_is_refused_not_read_as_anonymous(small_client: TestClient) -> None:
    """An integrator who forgets `Bearer ` must be told, not silently served the anonymous view."""
    created = small_client.post(
        "/v1/technologies", json={"summary": "电解槽", "contact": CONTACT}, headers=AUTH
    )
    tid = created.json()["id"]
    for header in (ADMIN_KEY, f"Token {ADMIN_KEY}", "Bearer ", "Basic YWRtaW46YWRtaW4="):
        r = small_client.get(f"/v1/technologies/{tid}", headers={"Authorization": header})
        assert r.status_code == 401, header
        match = small_client.post("/v1/match", json={"text": "电解槽"}, headers={"Authorization": header})
        assert match.status_code == 401, header


def test_a_bad_key_is_refused_on_every_api_route_even_public_ones(small_client: TestClient) -> None:
    """Reading the anonymous view with a key that is unknown (or revoked, or of a deleted platform) would hide the
    caller's mistake: every /v1 route answers 401, the public ones included."""
    spec = small_client.get("/openapi.json").json()
    public_reads = [
        path.replace("{platform_id}", "1").replace("{technology_id}", "1")
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        and "get" in operations
        and "{" not in path.replace("{platform_id}", "").replace("{technology_id}", "")
    ]
    assert "/v1/platforms" in public_reads and "/v1/taxonomy" in public_reads
    for path in public_reads:
        for header in ("Bearer pm_platform_not-a-key", "Basic YWRtaW46YWRtaW4="):
            r = small_client.get(path, headers={"Authorization": header})
            assert r.status_code == 401, (path, header, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
    # Without the header the public ones answer as before.
    assert small_client.get("/v1/platforms").status_code == 200
