"""E-mail digests: batched per platform, retried on failure."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from matcher import Runtime, create_platforms
from tests.conftest import AUTH, SAMPLE_PLATFORMS, make_settings
from tests.mailbox import Mailbox
from tests.notifications.conftest import (
    HYDROGEN_TECH,
    _hook,
    _worker,
)
from tests.webhook_receiver import Receiver


def test_email_digest_batches_per_platform_and_retries(
    tmp_path: Path, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    from datetime import timedelta

    from matcher.dbtypes import utcnow
    from matcher.platforms.models import Platform

    box, port = smtp
    runtime = Runtime.open(
        make_settings(
            tmp_path,
            webhook_allow_private=True,
            webhook_retry_delays="0,0",
            notify_min_score=0.0,
            notify_top_k=5,
            smtp_url=f"smtp://127.0.0.1:{port}",
            email_batch_minutes=15,
        )
    )
    try:
        create_platforms(
            runtime.db,
            runtime.engine,
            runtime.settings,
            [SAMPLE_PLATFORMS[0].model_copy(update={"contact": "ops@h2.example.cn"})],
        )
        with TestClient(create_app(runtime=runtime)) as c:
            pid = c.get("/v1/platforms").json()["items"][0]["id"]
            _hook(c, pid, receiver.url)
            box.refuse = 1  # the first send fails; webhooks must not wait for e-mail
            for i in range(2):
                c.post("/v1/technologies", json=HYDROGEN_TECH | {"title": f"CCM {i}"}, headers=AUTH)
            worker = _worker(runtime)
            worker.run_once()
            assert len(receiver.requests) == 2 and box.messages == []
            worker.run_once()  # the retry (delay 0) goes through: one digest for both notifications
            assert len(box.messages) == 1
            msg = box.messages[0]
            assert msg["To"] == "ops@h2.example.cn"
            assert "2 项新技术" in msg["Subject"] and "2 new technologies" in msg["Subject"]
            text = msg.get_body(preferencelist=("plain",)).get_content()
            html_part = msg.get_body(preferencelist=("html",)).get_content()
            assert "CCM 0" in text and "CCM 1" in text and "/v1/technologies/" in text
            assert "<a href=" in html_part

            c.post("/v1/technologies", json=HYDROGEN_TECH | {"title": "CCM 2"}, headers=AUTH)
            worker.run_once()
            assert len(box.messages) == 1  # inside the batch window: waits
            with runtime.session() as s:
                p = s.get(Platform, pid)
                p.last_email_at = utcnow() - timedelta(minutes=16)
                s.add(p)
                s.commit()
            worker.run_once()
            assert len(box.messages) == 2
            assert "CCM 2" in box.messages[1].get_body(preferencelist=("plain",)).get_content()
    finally:
        runtime.close()
