"""A live `pilotmatch serve` delivers in-process, and a notification survives `kill -9` mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import AUTH, make_settings
from tests.live import free_port, serve
from tests.webhook_receiver import Receiver


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
        deadline = time.monotonic() + 20
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, (
            "the in-process worker did not deliver: " + (tmp_path / "serve.log").read_text()[-6000:]
        )
        os.kill(server.pid, signal.SIGKILL)  # mid-delivery: no chance to record the attempt
        server.wait(timeout=10)

        server = serve(tmp_path, port, database_url)
        deadline = time.monotonic() + 30
        while len(receiver.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(receiver.requests) >= 2, (
            "the delivery was lost: " + (tmp_path / "serve.log").read_text()[-6000:]
        )
        ids = {r.headers["webhook-id"] for r in receiver.requests}
        assert len(ids) == 1  # the same event, so a de-duplicating receiver sees it once
        inbox = httpx.get(f"{base}/v1/platforms/{platform['id']}/notifications", headers=AUTH).json()["items"]
        assert [n["technology_id"] for n in inbox] == [tech["id"]]
        deadline = time.monotonic() + 10
        while inbox[0]["deliveries"][0]["status"] != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.2)
            inbox = httpx.get(f"{base}/v1/platforms/{platform['id']}/notifications", headers=AUTH).json()[
                "items"
            ]
        assert inbox[0]["deliveries"][0]["status"] == "succeeded"
        assert hook["secret"].startswith("whsec_")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        receiver.stop()
