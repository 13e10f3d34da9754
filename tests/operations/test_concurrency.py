"""Many parallel creates, deletes and matches against one live uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api.app import create_app
from matcher import Runtime
from tests.conftest import AUTH
from tests.live import in_thread

TOPICS = [
    "钙钛矿光伏组件",
    "固态电池电解质",
    "碳化硅功率器件",
    "mRNA疫苗脂质纳米粒",
    "工业机器人减速器",
    "氢燃料电池双极板",
]


@pytest.fixture
def live_server(small_runtime: Runtime) -> Iterator[str]:
    with in_thread(create_app(runtime=small_runtime)) as base:
        yield base


def test_parallel_writes_and_matches_stay_consistent(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as client:

        def create(i: int) -> int:
            body = {
                "name": f"并发测试平台{i}",
                "tier": "reserve",
                "area": "emerging_future",
                "capabilities": f"{TOPICS[i % len(TOPICS)]}中试验证，编号Z{i:03d}专用产线。",
                "external_id": f"conc-{i}",
            }
            r = client.post("/v1/platforms", json=body, headers=AUTH)
            assert r.status_code == 201, r.text
            return r.json()["id"]

        def match(i: int) -> list[int]:
            r = client.post("/v1/match", json={"text": TOPICS[i % len(TOPICS)], "limit": 50})
            assert r.status_code == 200, r.text
            return [m["platform_id"] for m in r.json()["matches"]]

        with ThreadPoolExecutor(max_workers=8) as pool:
            creates = [pool.submit(create, i) for i in range(24)]
            matches = [pool.submit(match, i) for i in range(40)]
            ids = [f.result() for f in creates]
            doomed = ids[::3]
            deletes = [pool.submit(client.delete, f"/v1/platforms/{pid}", headers=AUTH) for pid in doomed]
            matches += [pool.submit(match, i) for i in range(40)]
            assert all(f.result().status_code == 204 for f in deletes)
            for f in matches:
                f.result()

        kept = set(ids) - set(doomed)
        seen: set[int] = set()
        for i in range(len(TOPICS)):
            seen.update(match(i))
        assert not seen & set(doomed), "a deleted platform was matched"
        assert kept <= seen, "a created platform is not matchable"
        listed = client.get("/v1/platforms", params={"limit": 200}).json()["items"]
        assert len(listed) == 3 + len(kept)
        health = client.get("/healthz").json()
        assert health["platforms"] == len(listed)
