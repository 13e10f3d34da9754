"""One loop, built through the API on a fresh database with the three sample platforms, for the funnel and
activity reports to count. Read-only for the tests that use it.

Four technologies, each notified to the three platforms (12 pairs):

- T1 (hydrogen): H interested, introduced, agreed, piloting, completed/succeeded; its three pairs entered the
  funnel on 2020-01-10 (their times are moved back), H answered 1 h after its notification.
- T2 (biomedicine): A interested (2 h), introduced, piloting by the admin (agreed skipped), withdrawn by the admin.
- T3 (hydrogen): H declined (5 h), A declined; A's notification is deleted (an answer without one).
- T4 (steel): the researcher asked S, which never answered; S's notification is deleted (a pair matched by the
  request alone).

H = hydrogen platform (key_cultivated, emerging_future, guangdong), A = antibody (provincial, consumer_goods,
jiangsu), S = steel (national, raw_materials, hebei). S never answers anything: it is dormant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from matcher import Runtime, create_platforms
from matcher.engagements.models import Introduction, PlatformResponse
from matcher.notifications.models import Notification
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings

HYDROGEN = "质子交换膜电解水制氢的低铱催化剂涂层膜，需要在兆瓦级PEM电解槽电堆上做耐久性验证和膜电极涂布放大。"
SUBMISSIONS = {
    "T1": {
        "title": "Iridium-lean CCM",
        "summary": HYDROGEN,
        "directions": ["hydrogen"],
        "contact": "t1-lab@example.edu.cn",
    },
    "T2": {
        "title": "Bispecific antibody scale-up",
        "summary": "双特异性抗体的CHO细胞培养工艺需要从5升放大到200升一次性生物反应器，并完成下游纯化工艺验证和GMP中试批次。",
        "directions": ["biomedicine"],
        "contact": "王工 138 0013 8000",
    },
    "T3": {
        "title": "Alkaline electrolyser membrane",
        "summary": "碱性与PEM电解槽用复合隔膜，需要电解制氢电堆的千小时耐久性测试与膜电极放大验证。",
        "directions": ["hydrogen"],
        "contact": "t3-lab@example.edu.cn",
    },
    "T4": {
        "title": "Hot-rolled advanced high-strength steel",
        "summary": "汽车用先进高强钢的热轧与控轧控冷工艺，需要中试轧机验证力学性能和板形控制。",
        "directions": ["steel"],
        "contact": "t4-lab@example.edu.cn",
    },
}
CONTACTS = [s["contact"] for s in SUBMISSIONS.values()]
#: When T1's pairs entered the funnel.
LONG_AGO = datetime(2020, 1, 10, 8, tzinfo=UTC)


@dataclass
class Loop:
    rt: Runtime
    api: TestClient
    platforms: dict[str, int]
    technologies: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The last act of H (its T3 answer) and of A (the admin's withdrawal on its behalf).
    last_active: dict[str, datetime] = field(default_factory=dict)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="package")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    # Three platforms, one per area: the small-cell rule (its own test) would withhold every area's counts.
    rt = Runtime.open(
        make_settings(
            tmp_path_factory.mktemp("loop"), notify_min_score=0.0, notify_top_k=10, report_min_platforms=1
        )
    )
    made = create_platforms(rt.db, rt.engine, rt.settings, SAMPLE_PLATFORMS)
    ids = dict(zip("HAS", (p.id for p in made), strict=True))
    with TestClient(create_app(runtime=rt)) as api:
        state = Loop(rt, api, ids)  # type: ignore[arg-type]
        _build(state)
        _move_times(state)
        yield state
    rt.close()


def _build(loop: Loop) -> None:
    api, pid = loop.api, loop.platforms
    for name, body in SUBMISSIONS.items():
        r = api.post("/v1/submissions", json=body)
        assert r.status_code == 201, r.text
        loop.technologies[name], loop.tokens[name] = r.json()["technology"]["id"], r.json()["token"]
    for p, i in pid.items():
        made = api.post(f"/v1/platforms/{i}/keys", headers=AUTH)
        assert made.status_code == 201, made.text
        loop.keys[p] = {"Authorization": f"Bearer {made.json()['key']}"}
    with Session(loop.rt.db) as s:
        notified = s.exec(select(Notification).where(Notification.type == "match.created")).all()
    assert len(notified) == 12, "every technology is notified to the three platforms"
    tid, tok = loop.technologies, loop.tokens

    def answer(t: str, p: str, body: dict) -> dict:
        r = api.put(f"/v1/platforms/{pid[p]}/technologies/{tid[t]}/response", json=body, headers=loop.keys[p])
        assert r.status_code == 200, r.text
        return r.json()

    def ask(t: str, p: str) -> int:
        r = api.post(f"/v1/submissions/{tok[t]}/introductions", json={"platform_id": pid[p]})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def move(url: str, body: dict, headers: dict | None = None) -> dict:
        r = api.patch(url, json=body, headers=headers or {})
        assert r.status_code == 200, r.text
        return r.json()

    answer("T1", "H", {"decision": "interested"})
    t1 = ask("T1", "H")
    move(f"/v1/introductions/{t1}", {"status": "agreed"}, loop.keys["H"])
    move(f"/v1/submissions/{tok['T1']}/introductions/{t1}", {"status": "piloting"})
    answer("T2", "A", {"decision": "interested"})
    t2 = ask("T2", "A")
    move(f"/v1/introductions/{t2}", {"status": "piloting"}, AUTH)
    assert ask("T4", "S")
    loop.last_active["H"] = _at(
        answer("T3", "H", {"decision": "declined", "reason": "wrong_scale"})["responded_at"]
    )
    answer("T3", "A", {"decision": "declined", "reason": "wrong_sector"})
    move(f"/v1/submissions/{tok['T1']}/introductions/{t1}", {"status": "completed", "outcome": "succeeded"})
    gone = move(f"/v1/introductions/{t2}", {"status": "withdrawn"}, AUTH)
    loop.last_active["A"] = _at(gone["events"][-1]["at"])


def _move_times(loop: Loop) -> None:
    """Response times of 1 h (T1/H), 2 h (T2/A) and 5 h (T3/H); T1's pairs back to ``LONG_AGO``; the
    notifications of T3/A and T4/S deleted."""
    t, p = loop.technologies, loop.platforms
    with Session(loop.rt.db) as s:

        def notification(tech: str, platform: str) -> Notification:
            return s.exec(
                select(Notification).where(
                    Notification.technology_id == t[tech],
                    Notification.platform_id == p[platform],
                    Notification.type == "match.created",
                )
            ).one()

        for platform in "HAS":
            notification("T1", platform).created_at = LONG_AGO
        for tech, platform, hours in (("T1", "H", 1), ("T2", "A", 2), ("T3", "H", 5)):
            response = s.exec(
                select(PlatformResponse).where(
                    PlatformResponse.technology_id == t[tech], PlatformResponse.platform_id == p[platform]
                )
            ).one()
            response.first_responded_at = notification(tech, platform).created_at + timedelta(hours=hours)
            s.add(response)
        for intro in s.exec(select(Introduction).where(Introduction.technology_id == t["T1"])).all():
            intro.created_at = LONG_AGO + timedelta(hours=2)
        s.delete(notification("T3", "A"))
        s.delete(notification("T4", "S"))
        s.commit()
