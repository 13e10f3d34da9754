"""A live `pilotmatch serve` delivers in-process, and a notification survives `kill -9` mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.conftest import AUTH, make_settings
from tests.live import free_port, serve
from tests.waiting import wait_until
from tests.webhook_receiver import Receiver


def _log_tail(folder: Path) -> str:
    return "; the server's log ends:\n" + (folder / "serve.log").read_text()[-6000:]


def test_notification_is_delivered_after_kill_9(tmp_path: Path) -> None:
    receiver = Receiver(delays=[5.0]).start()  # the first delivery hangs: the server dies while sending it
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database_url = make_settings(tmp_path).database_url  # one database for both lives of the server
    server = serve(tmp_path, port, database_url)
    try:
        platform = httpx.post(
            f"{base}/v1/platforms",
            json={
                "name": "PEM电解槽电堆中试平台",
                "tier": "provincial",
                "area": "emerging_future",
                "capabilities": "质子交换膜电解槽电堆组装、耐久性测试与膜电极涂布放大。",
            },
            headers=AUTH,
        ).json()
        hook = httpx.post(
            f"{base}/v1/platforms/{platform['id']}/webhooks", json={"url": receiver.url}, headers=AUTH
        ).json()
        tech = httpx.post(
            f"{base}/v1/technologies",
            json={"summary": "低铱催化剂涂层膜，需要PEM电解槽电堆耐久性验证。"},
            headers=AUTH,
            timeout=30,
        )
        assert tech.status_code == 201, tech.text
        tech = tech.json()
        wait_until(
            lambda: receiver.requests, 20, lambda: "the in-process worker to deliver" + _log_tail(tmp_path)
        )
        os.kill(server.pid, signal.SIGKILL)  # mid-delivery: no chance to record the attempt
        server.wait(timeout=10)

        server = serve(tmp_path, port, database_url)
        wait_until(
            lambda: len(receiver.requests) >= 2,
            30,
            lambda: "the delivery to be retried after restart" + _log_tail(tmp_path),
        )
        ids = {r.headers["webhook-id"] for r in receiver.requests}
        assert len(ids) == 1  # the same event, so a de-duplicating receiver sees it once

        def inbox() -> list[dict]:
            return httpx.get(f"{base}/v1/platforms/{platform['id']}/notifications", headers=AUTH).json()[
                "items"
            ]

        assert [n["technology_id"] for n in inbox()] == [tech["id"]]
        wait_until(
            lambda: inbox()[0]["deliveries"][0]["status"] == "succeeded",
            10,
            "the retried delivery to be recorded as succeeded",
            interval=0.2,
        )
        assert hook["secret"].startswith("whsec_")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        receiver.stop()
