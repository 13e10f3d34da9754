"""Two real `pilotmatch serve` processes on one database stay in step through the change log."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.conftest import AUTH, USE_POSTGRES, make_settings
from tests.live import free_port, serve
from tests.waiting import wait_until

#: How soon another process must show a write. Followers poll every 0.5 s on SQLite; on PostgreSQL polling is
#: slowed to far beyond this (below), so only LISTEN/NOTIFY can wake them in time.
FOLLOW_SECONDS = 10


def _ids(base: str, text: str) -> list[int]:
    r = httpx.post(f"{base}/v1/match", json={"text": text, "limit": 20}, timeout=30)
    assert r.status_code == 200
    return [m["platform_id"] for m in r.json()["matches"]]


def _tier(base: str, text: str, pid: int) -> str | None:
    r = httpx.post(f"{base}/v1/match", json={"text": text, "limit": 3}, timeout=30)
    return next((m["tier"] for m in r.json()["matches"] if m["platform_id"] == pid), None)


def test_write_through_one_process_is_matchable_through_the_other(tmp_path: Path) -> None:
    database_url = make_settings(tmp_path).database_url
    # On PostgreSQL, LISTEN/NOTIFY must do the waking: polling is slowed far beyond FOLLOW_SECONDS.
    extra = {"PILOTMATCH_SYNC_POLL_SECONDS": "60"} if USE_POSTGRES else {}  # the longest Settings allows
    port_a, port_b = free_port(), free_port()
    a = serve(tmp_path / "a", port_a, database_url, extra)
    b = serve(tmp_path / "b", port_b, database_url, extra)
    base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    try:
        text = "稀土永磁电机磁钢充磁与退磁曲线测试中试线"
        created = httpx.post(
            f"{base_a}/v1/platforms",
            json={
                "name": "稀土永磁材料中试平台",
                "tier": "reserve",
                "area": "raw_materials",
                "capabilities": text,
            },
            headers=AUTH,
            timeout=30,
        ).json()
        pid = created["id"]
        wait_until(
            lambda: pid in _ids(base_b, text), FOLLOW_SECONDS, "the platform created through A to match on B"
        )
        edit = httpx.patch(
            f"{base_b}/v1/platforms/{pid}", json={"tier": "national"}, headers=AUTH, timeout=30
        )
        assert edit.status_code == 200
        wait_until(
            lambda: _tier(base_a, text, pid) == "national",
            FOLLOW_SECONDS,
            "the tier changed through B to show on A",
        )
        assert httpx.delete(f"{base_a}/v1/platforms/{pid}", headers=AUTH, timeout=30).status_code == 204
        wait_until(
            lambda: pid not in _ids(base_b, text), FOLLOW_SECONDS, "the platform deleted through A to leave B"
        )
        ready = httpx.get(f"{base_b}/readyz", timeout=10).json()
        assert ready["change_log_lag"] == 0
    finally:
        for p in (a, b):
            p.terminate()
            p.wait(timeout=15)


def test_serve_with_two_workers_keeps_both_in_step_and_reports_metrics_of_both(tmp_path: Path) -> None:
    """`pilotmatch serve --workers 2`: one port, two processes (each with its own indexes); a write through
    whichever process takes it is matchable through every request soon after, and /metrics gathers both."""
    port = free_port()
    server = serve(tmp_path, port, make_settings(tmp_path).database_url, args=("--workers", "2"))
    base = f"http://127.0.0.1:{port}"

    def platforms_indexed() -> dict[str, float]:
        """Each process's platform index size by process id, as /metrics gathers them from every process."""
        metrics = httpx.get(f"{base}/metrics", headers=AUTH, timeout=10).text
        found = re.findall(r'pilotmatch_index_items\{corpus="platforms",pid="(\d+)"\} ([0-9.]+)', metrics)
        return {pid: float(n) for pid, n in found}

    try:
        # /healthz answers once one process is up; the other may still be loading (and would then read the
        # write from the database, not follow it).
        wait_until(
            lambda: len(platforms_indexed()) == 2, 120, "both processes to start and report their index"
        )
        text = "高温超导带材连续镀膜与临界电流测试中试线"
        created = httpx.post(
            f"{base}/v1/platforms",
            json={
                "name": "高温超导带材中试平台",
                "tier": "reserve",
                "area": "raw_materials",
                "capabilities": text,
            },
            headers=AUTH,
            timeout=30,
        )
        assert created.status_code == 201
        pid = created.json()["id"]
        wait_until(
            lambda: list(platforms_indexed().values()) == [1.0, 1.0],
            FOLLOW_SECONDS,
            "both processes to index the platform",
        )
        # Fresh connections spread over both processes; every one of them must see the new platform.
        assert all(pid in _ids(base, text)[:3] for _ in range(12))
    finally:
        server.terminate()
        server.wait(timeout=30)
