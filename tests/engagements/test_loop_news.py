"""What each side is told, through real receivers: signed webhooks for the platform's introduction events, the
researcher's e-mail when the introduction is made, and one reminder (inbox and digest) for a notified technology
left unanswered, driven by an injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from api.app import create_app
from matcher import DeliveryWorker, Runtime, create_platforms
from matcher.dbtypes import utcnow
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.engagements.conftest import HYDROGEN_SUBMISSION, submit_pair
from tests.mailbox import Mailbox
from tests.webhook_receiver import Receiver

CONTACT = HYDROGEN_SUBMISSION["contact"]


def _runtime(tmp_path: Path, port: int) -> Runtime:
    rt = Runtime.open(
        make_settings(
            tmp_path,
            webhook_allow_private=True,
            webhook_retry_delays="0,0",
            notify_min_score=0.0,
            notify_top_k=3,
            smtp_url=f"smtp://127.0.0.1:{port}",
            email_batch_minutes=0,
            response_reminder_days=7,
        )
    )
    platforms = [
        p.model_copy(update={"contact": f"ops{i}@pilot.example.cn"}) for i, p in enumerate(SAMPLE_PLATFORMS)
    ]
    create_platforms(rt.db, rt.engine, rt.settings, platforms)
    return rt


def test_introduction_events_reach_the_platforms_webhook_and_the_researchers_mailbox(
    tmp_path: Path, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = smtp
    rt = _runtime(tmp_path, port)
    try:
        with TestClient(create_app(runtime=rt)) as api:
            pair = submit_pair(api)
            hook = api.post(
                f"/v1/platforms/{pair.platform_id}/webhooks", json={"url": receiver.url}, headers=AUTH
            ).json()
            worker = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower)
            worker.run_once()  # the match notifications predate the webhook: none of them is sent
            before = len(receiver.requests)

            asked = api.post(
                f"/v1/submissions/{pair.token}/introductions", json={"platform_id": pair.platform_id}
            ).json()
            api.put(pair.response_url, json={"decision": "interested"}, headers=pair.key)
            api.patch(f"/v1/introductions/{asked['id']}", json={"status": "agreed"}, headers=pair.key)
            api.patch(
                f"/v1/submissions/{pair.token}/introductions/{asked['id']}", json={"status": "piloting"}
            )
            worker.run_once()

            events = []
            verifier = Webhook(hook["secret"])
            for request in receiver.requests[before:]:
                events.append(verifier.verify(request.body, request.headers))
            kinds = [e["type"] for e in events]
            # The platform's own move (agreed) is not news to it; the researcher's (piloting) is.
            assert kinds == ["introduction.requested", "introduction.made", "engagement.updated"]
            requested, made = events[0]["data"], events[1]["data"]
            assert "contact" not in requested["technology"] and CONTACT not in json.dumps(requested)
            assert made["technology"]["contact"] == CONTACT and made["introduction"]["status"] == "introduced"
            update = events[2]["data"]
            assert (update["event"]["to"], update["event"]["actor"]) == ("piloting", "researcher")
            assert "contact" not in update["technology"]  # only introduction.made carries it

            to_researcher = [m for m in box.messages if m["To"] == CONTACT]
            assert len(to_researcher) == 1
            text = to_researcher[0].get_content()
            assert "ops" in text and "@pilot.example.cn" in text  # the platform's contact
            # The platform's digests never carry the researcher's address.
            assert all(
                CONTACT not in m.get_body(preferencelist=("plain",)).get_content()
                for m in box.messages
                if m["To"] != CONTACT
            )
    finally:
        rt.close()


def test_one_reminder_for_a_notified_technology_left_unanswered(
    tmp_path: Path, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = smtp
    rt = _runtime(tmp_path, port)
    try:
        with TestClient(create_app(runtime=rt)) as api:
            pair = submit_pair(api)
            api.post(f"/v1/platforms/{pair.platform_id}/webhooks", json={"url": receiver.url}, headers=AUTH)
            answered = f"/v1/platforms/{pair.other_platform_id}/technologies/{pair.technology_id}/response"
            assert (
                api.put(
                    answered, json={"decision": "declined", "reason": "wrong_scale"}, headers=pair.other_key
                ).status_code
                == 200
            )
            days = {"now": utcnow()}
            worker = DeliveryWorker(rt.db, rt.engine, rt.settings, rt.follower, clock=lambda: days["now"])
            worker.run_once()
            box.messages.clear()

            def reminders(key: dict, pid: int) -> list[dict]:
                items = api.get(f"/v1/platforms/{pid}/notifications", headers=key).json()["items"]
                return [n for n in items if n["type"] == "response.reminder"]

            days["now"] = utcnow() + timedelta(days=6, hours=23)
            worker.run_once()
            assert reminders(pair.key, pair.platform_id) == []
            days["now"] = utcnow() + timedelta(days=7, minutes=1)
            worker.run_once()
            worker.run_once()
            mine = reminders(pair.key, pair.platform_id)
            assert len(mine) == 1 and mine[0]["technology_id"] == pair.technology_id
            assert mine[0]["deliveries"] == [] and receiver.requests == []  # inbox and e-mail, not webhooks
            assert reminders(pair.other_key, pair.other_platform_id) == []  # it answered
            digests = [
                m for m in box.messages if "待答复提醒" in m.get_body(preferencelist=("plain",)).get_content()
            ]
            mine_to = api.get(f"/v1/platforms/{pair.platform_id}").json()["contact"]
            answered_to = api.get(f"/v1/platforms/{pair.other_platform_id}").json()["contact"]
            recipients = [m["To"] for m in digests]
            assert recipients.count(mine_to) == 1 and answered_to not in recipients
            days["now"] = utcnow() + timedelta(days=30)
            worker.run_once()
            assert len(reminders(pair.key, pair.platform_id)) == 1  # once, ever
    finally:
        rt.close()
