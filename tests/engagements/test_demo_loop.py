"""The demo carries a loop to look at: answers of both kinds, engagements at every stage, spread over the past
weeks, and one platform that answers nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from matcher import Runtime
from matcher.dbtypes import utcnow
from matcher.engagements.models import Introduction, PlatformResponse
from matcher.notifications.models import Notification

pytestmark = pytest.mark.backend_independent


def test_the_demo_shows_the_whole_loop(demo_runtime: Runtime) -> None:
    with demo_runtime.session() as s:
        responses = s.exec(select(PlatformResponse)).all()
        introductions = s.exec(select(Introduction)).all()
        notified = Counter(
            n.platform_id
            for n in s.exec(select(Notification).where(Notification.type == "match.created")).all()
        )
    decisions = Counter(r.decision for r in responses)
    assert decisions["interested"] >= 5 and decisions["declined"] >= 3
    # Declines that would change the ranking are not in the demo: its matches are its profiles'.
    assert {r.reason for r in responses if r.decision == "declined"} <= {
        "wrong_scale",
        "too_early_stage",
        "other",
    }
    stages = Counter((i.status, i.outcome) for i in introductions)
    for stage in ("requested", "introduced", "agreed", "piloting", "withdrawn"):
        assert stages[(stage, None)] >= 1, stage
    assert stages[("completed", "succeeded")] >= 1 and stages[("completed", "failed")] >= 1
    now = utcnow()
    assert all(0 < (now - r.first_responded_at).days < 90 for r in responses)
    busiest = max(notified, key=lambda pid: (notified[pid], -pid))
    assert notified[busiest] >= 3 and busiest not in {r.platform_id for r in responses}
