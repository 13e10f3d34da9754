"""What the loop says about relevance, as graded labels for the evaluation set.

Answers and engagements are judgments made by the people the ranking serves, so they are the best labels there
are. Per (technology, platform) pair the strongest evidence gives the grade:

- an introduction that reached ``agreed`` or beyond (a pilot test was agreed, whatever its outcome): 2, ideal;
- ``interested``, or an introduction made: 1, suitable;
- ``declined`` as ``wrong_sector`` or ``wrong_process``: 0, rejected with that reason;
- other declines (scale, stage, capacity, other) say nothing about the fit and give no label.

An explicit verdict recorded as feedback (``POST .../feedback``) is a curated judgment: the latest one overrides
the loop's evidence for its pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from matcher.engagements.declines import NOT_A_FIT
from matcher.engagements.models import Introduction, IntroductionEvent, PlatformResponse
from matcher.feedback.models import MatchFeedback

_ENGAGED = ("agreed", "piloting", "completed")


@dataclass(frozen=True, slots=True)
class Label:
    grade: int
    #: Why: ``feedback``, ``interested``, ``introduced``, ``agreed``, ``piloting``, ``completed:<outcome>`` or
    #: ``declined``.
    evidence: str
    reason: str | None = None


def graded_labels(db: Engine) -> dict[int, dict[int, Label]]:
    """Labels by technology id, then platform id."""
    labels: dict[int, dict[int, Label]] = {}

    def offer(tid: int, pid: int, label: Label) -> None:
        current = labels.setdefault(tid, {}).get(pid)
        if current is None or label.grade > current.grade:
            labels[tid][pid] = label

    with Session(db) as s:
        for r in s.exec(select(PlatformResponse)).all():
            if r.decision == "interested":
                offer(r.technology_id, r.platform_id, Label(1, "interested"))
            elif r.reason in NOT_A_FIT:
                offer(r.technology_id, r.platform_id, Label(0, "declined", r.reason))
        for i in s.exec(select(Introduction).where(Introduction.introduced_at != None)).all():  # noqa: E711
            reached = i.status if i.status in _ENGAGED else _furthest(s, i)
            if reached in _ENGAGED:
                evidence = f"completed:{i.outcome}" if reached == "completed" else reached
                offer(i.technology_id, i.platform_id, Label(2, evidence))
            else:
                offer(i.technology_id, i.platform_id, Label(1, "introduced"))
        for f in s.exec(select(MatchFeedback).order_by(MatchFeedback.id)).all():  # type: ignore[arg-type]
            labels.setdefault(f.technology_id, {})[f.platform_id] = Label(
                2 if f.verdict == "good" else 0, "feedback", f.reason
            )
    return labels


def _furthest(s: Session, intro: Introduction) -> str | None:
    """The furthest engaged stage a withdrawn introduction had reached (from its events)."""
    stages = set(
        s.exec(select(IntroductionEvent.to_status).where(IntroductionEvent.introduction_id == intro.id)).all()
    )
    return next((stage for stage in reversed(_ENGAGED) if stage in stages), None)
