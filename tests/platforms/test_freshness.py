"""Fresh profiles, driven by an injected clock: a profile left alone for a year is asked for confirmation once
(inbox, signed webhook, e-mail), marked stale after the grace period in every process, shown and filtered as
stale, ranked after an equally scored fresh twin, counted apart in coverage; a confirmation or an edit makes it
fresh again, and it is asked again a year later."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select
from standardwebhooks import Webhook

from api.app import create_app
from matcher import DeliveryWorker, MatchQuery, Runtime, create_platforms
from matcher.audit.models import AuditEvent
from matcher.dbtypes import utcnow
from matcher.notifications.models import Notification
from matcher.platforms.freshness import sweep_profiles
from matcher.platforms.models import Platform
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.mailbox import Mailbox
from tests.webhook_receiver import Receiver

ASKED = "profile.confirm_requested"
ANTIBODY_TEXT = (
    "CHO cell culture process development and purification of a monoclonal antibody, GMP pilot batch"
)


def _runtime(tmp_path: Path, **overrides: object) -> Runtime:
    """The sample platforms with e-mail contacts, plus a twin of the antibody platform (the same profile under
    another external id, stored in the same batch so both embed alike: their scores are exactly equal)."""
    rt = Runtime.open(
        make_settings(tmp_path, webhook_allow_private=True, webhook_retry_delays="0,0", **overrides)
    )
    platforms = [
        p.model_copy(update={"contact": f"ops@{p.external_id}.example.cn"}) for p in SAMPLE_PLATFORMS
    ]
    twin = platforms[1].model_copy(
        update={"external_id": "s-antibody-twin", "contact": "ops@twin.example.cn"}
    )
    create_platforms(rt.db, rt.engine, rt.settings, [*platforms, twin])
    return rt


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _asked(api: TestClient, pid: int) -> list[dict]:
    return api.get(f"/v1/platforms/{pid}/notifications", params={"type": ASKED}, headers=AUTH).json()["items"]


def _stale(api: TestClient, pid: int) -> bool:
    return api.get(f"/v1/platforms/{pid}").json()["stale"]


def _listed(api: TestClient, **params: str) -> set[int]:
    return {p["id"] for p in api.get("/v1/platforms", params=params).json()["items"]}


def _matches(api: TestClient, url: str = "/v1/match", **body: object) -> list[dict]:
    r = api.post(url, json={"text": ANTIBODY_TEXT, "limit": 4, "include_weak": True, **body})
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def test_an_unconfirmed_profile_is_asked_once_then_marked_stale_and_confirming_or_editing_makes_it_fresh(
    tmp_path: Path, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = smtp
    rt = _runtime(tmp_path, smtp_url=f"smtp://127.0.0.1:{port}", email_batch_minutes=0)
    other = Runtime.open(rt.settings)  # a second process on the same database
    try:
        with TestClient(create_app(runtime=rt)) as api:
            ids = {p["external_id"]: p["id"] for p in api.get("/v1/platforms").json()["items"]}
            hydrogen, steel, antibody, twin = (
                ids[k] for k in ("s-hydrogen", "s-steel", "s-antibody", "s-antibody-twin")
            )
            key = {
                "Authorization": f"Bearer {api.post(f'/v1/platforms/{hydrogen}/keys', headers=AUTH).json()['key']}"
            }
            hook = api.post(
                f"/v1/platforms/{hydrogen}/webhooks", json={"url": receiver.url}, headers=AUTH
            ).json()
            start = utcnow()
            clock = {"now": start}
            worker = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower, clock=lambda: clock["now"])

            clock["now"] = start + timedelta(days=364, hours=23)
            worker.run_once()
            assert _asked(api, hydrogen) == [] and box.messages == []

            # A year on: each operator is asked once, however many passes and sweeps run.
            clock["now"] = start + timedelta(days=365, minutes=1)
            worker.run_once()
            worker.run_once()
            assert sweep_profiles(rt.db, rt.engine, rt.settings, clock["now"]).reminded == 0
            for pid in ids.values():
                assert len(_asked(api, pid)) == 1, pid
            [asked] = api.get(
                f"/v1/platforms/{hydrogen}/notifications", params={"type": ASKED}, headers=key
            ).json()["items"]
            assert asked["technology_id"] is None
            assert asked["data"]["confirm_url"].endswith(f"/v1/platforms/{hydrogen}/confirm")
            assert asked["data"]["stale_on"][:10] == (clock["now"] + timedelta(days=60)).date().isoformat()
            [event] = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
            assert event["type"] == ASKED and event["data"]["platform_id"] == hydrogen
            mail = [m for m in box.messages if m["To"] == "ops@s-hydrogen.example.cn"]
            assert (
                len(mail) == 1
                and "请确认平台信息仍然准确" in mail[0].get_body(preferencelist=("plain",)).get_content()
            )
            assert f"/platforms/{hydrogen}" in mail[0].get_body(preferencelist=("plain",)).get_content()
            assert not _stale(api, hydrogen)

            clock["now"] = start + timedelta(days=365 + 59)
            worker.run_once()
            assert not any(_stale(api, pid) for pid in ids.values())

            # The grace period over: stale, in this process and (through the change log) in the other.
            clock["now"] = start + timedelta(days=365 + 60, minutes=2)
            worker.run_once()
            assert all(_stale(api, pid) for pid in ids.values())
            history = api.get(f"/v1/platforms/{antibody}/history", headers=AUTH).json()
            marked = [e for e in history if e["action"] == "marked_stale"]
            assert len(marked) == 1 and marked[0]["actor"]["kind"] == "system"
            assert [e["action"] for e in history][:2] == ["marked_stale", "confirm_requested"]
            other.follower.catch_up()
            seen = other.engine.match(
                MatchQuery.of(other.taxonomy, ANTIBODY_TEXT, limit=4, include_weak=True)
            )
            assert {m.platform_id: m.stale for m in seen.matches} == {pid: True for pid in ids.values()}

            # The operator confirms with its key, an administrator confirms the twin, the steel profile is edited.
            confirmed = api.post(f"/v1/platforms/{hydrogen}/confirm", headers=key)
            assert confirmed.status_code == 200, confirmed.text
            assert confirmed.json()["stale"] is False and confirmed.json()["confirmed_at"]
            assert api.post(f"/v1/platforms/{twin}/confirm", headers=AUTH).json()["stale"] is False
            assert api.post(f"/v1/platforms/{antibody}/confirm", headers=key).status_code == 404
            assert api.post(f"/v1/platforms/{antibody}/confirm").status_code == 401
            assert (
                api.patch(f"/v1/platforms/{steel}", json={"capacity": 4}, headers=AUTH).json()["stale"]
                is False
            )
            [last] = api.get(f"/v1/platforms/{hydrogen}/history", headers=AUTH).json()[:1]
            assert last["action"] == "confirmed" and last["actor"]["kind"] == "platform_key"
            assert last["changes"]["stale_since"][1] is None and last["changes"]["confirmed_at"][0] is None
            with rt.session() as s:
                row = s.get(Platform, steel)
                assert row.stale_since is None and row.stale_reminded_at is None  # type: ignore[union-attr]

            # Filters: the API list, /v1/match (body or query), the directory page.
            assert _listed(api, stale="false") == {hydrogen, steel, twin}
            assert _listed(api, stale="true") == {antibody}
            assert api.get("/v1/platforms", params={"stale": "maybe"}).status_code == 422
            ranked = _matches(api)
            # The twin scores exactly as the stale profile does and ranks first, although its id is higher.
            assert [m["platform_id"] for m in ranked[:2]] == [twin, antibody]
            assert ranked[0]["score"] == ranked[1]["score"] and [m["stale"] for m in ranked[:2]] == [
                False,
                True,
            ]
            assert antibody not in {m["platform_id"] for m in _matches(api, stale=False)}
            assert antibody not in {m["platform_id"] for m in _matches(api, "/v1/match?stale=false")}
            assert (
                api.post("/v1/match?stale=true", json={"text": ANTIBODY_TEXT, "stale": False}).status_code
                == 422
            )
            other.follower.catch_up()
            seen = other.engine.match(
                MatchQuery.of(other.taxonomy, ANTIBODY_TEXT, limit=4, include_weak=True)
            )
            assert [m.platform_id for m in seen.matches[:2]] == [twin, antibody]
            page = api.get("/platforms").text
            assert page.count('class="badge stale"') == 1
            assert (
                "Monoclonal" in page
                and api.get("/platforms?stale=false").text.count('class="badge stale"') == 0
            )
            assert 'class="badge stale"' in api.get("/", params={"text": ANTIBODY_TEXT}).text

            # Coverage counts the stale profile apart.
            report = api.get("/v1/reports/coverage").json()
            assert (report["totals"]["platforms"], report["totals"]["stale_platforms"]) == (3, 1)
            csv = api.get("/v1/reports/coverage", params={"format": "csv"}).text.splitlines()
            assert csv[0].endswith(",stale_platforms")
            assert any(
                row.startswith("consumer_goods,biomedicine,all,1,") and row.endswith(",1") for row in csv
            )

            # A year after the confirmation the operator is asked again; the stale profile is not asked twice.
            clock["now"] = utcnow() + timedelta(days=366)
            worker.run_once()
            assert len(_asked(api, hydrogen)) == 2 and len(_asked(api, antibody)) == 1

            # Its operator, signed in on the web, confirms from the inbox.
            form = api.get("/operator/sign-in").text
            signed = {"key": key["Authorization"].removeprefix("Bearer "), "csrf_token": _csrf(form)}
            assert api.post("/operator/sign-in", data=signed, follow_redirects=False).status_code == 303
            inbox = api.get(f"/platforms/{hydrogen}/inbox").text
            assert f'action="/platforms/{hydrogen}/confirm"' in inbox
            back = api.post(
                f"/platforms/{hydrogen}/confirm",
                data={"csrf_token": _csrf(inbox), "next": f"/platforms/{hydrogen}/inbox"},
                follow_redirects=False,
            )
            assert back.status_code == 303 and back.headers["location"] == f"/platforms/{hydrogen}/inbox"
            assert (
                f'action="/platforms/{hydrogen}/confirm"' not in api.get(f"/platforms/{hydrogen}/inbox").text
            )
            [last] = api.get(f"/v1/platforms/{hydrogen}/history", headers=AUTH).json()[:1]
            assert (last["action"], last["actor"]["kind"]) == ("confirmed", "operator_session")
            assert (
                api.post(f"/platforms/{antibody}/confirm", data={"csrf_token": _csrf(inbox)}).status_code
                == 404
            )
    finally:
        other.close()
        rt.close()


def _per_platform(rt: Runtime, kind: str) -> dict[int, tuple[int, int]]:
    """Per platform: how many notifications of type ``kind`` and audit events of action ``kind`` it has."""
    with rt.session() as s:
        ids = s.exec(select(Platform.id)).all()
        notes = s.exec(select(Notification.platform_id).where(Notification.type == kind)).all()
        events = s.exec(select(AuditEvent.platform_id).where(AuditEvent.action == kind)).all()
    return {pid: (notes.count(pid), events.count(pid)) for pid in ids}  # type: ignore[misc]


@pytest.mark.backend_independent
def test_sweeps_at_once_or_cut_short_ask_each_platform_once_and_a_bad_row_fails_alone(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    try:
        year = utcnow() + timedelta(days=366)
        assert sweep_profiles(rt.db, rt.engine, rt.settings, year, batch=1).reminded == 1  # cut short
        sweeps = [
            threading.Thread(target=sweep_profiles, args=(rt.db, rt.engine, rt.settings, year))
            for _ in range(3)
        ]
        for t in sweeps:
            t.start()
        for t in sweeps:
            t.join()
        assert set(_per_platform(rt, ASKED).values()) == {(1, 0)}
        assert set(_per_platform(rt, "confirm_requested").values()) == {(0, 1)}

        # A row a manual edit broke (valid JSON, not a list) cannot be indexed: it alone stays unmarked.
        with rt.session() as s:
            s.execute(text("UPDATE platform SET directions = '5' WHERE external_id = 's-steel'"))
            s.commit()
            steel = s.exec(select(Platform.id).where(Platform.external_id == "s-steel")).one()
        later = year + timedelta(days=61)
        done = sweep_profiles(rt.db, rt.engine, rt.settings, later)
        assert (done.marked_stale, done.failed) == (3, 1)
        assert sweep_profiles(rt.db, rt.engine, rt.settings, later).marked_stale == 0
        with rt.session() as s:
            s.execute(text("""UPDATE platform SET directions = '["steel"]' WHERE external_id = 's-steel'"""))
            s.commit()
        assert sweep_profiles(rt.db, rt.engine, rt.settings, later).marked_stale == 1
        assert set(_per_platform(rt, "marked_stale").values()) == {(0, 1)}
        assert (
            rt.engine.match(MatchQuery.of(rt.taxonomy, "高强钢热轧", limit=1)).matches[0].platform_id == steel
        )
        assert all(
            m.stale for m in rt.engine.match(MatchQuery.of(rt.taxonomy, "高强钢热轧", limit=4)).matches
        )
    finally:
        rt.close()
