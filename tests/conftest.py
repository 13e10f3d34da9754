"""Shared fixtures: real SQLite files, the real default embedder, the real app over HTTP.

Expensive things (model load, the demo database and its index) are session-scoped; tests that write get their
own small database so they cannot disturb each other.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from api.app import create_app
from matcher import PlatformCreate, Runtime, Settings, create_platforms, seed_demo
from scripts.pg_cluster import create_database, throwaway_cluster

ADMIN_KEY = "test-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


#: With PILOTMATCH_TEST_POSTGRES=1 every test database is a fresh database on a throw-away PostgreSQL cluster
#: (initdb + pg_ctl in a temporary folder; Debian's postgresql package); otherwise a SQLite file.
USE_POSTGRES = os.environ.get("PILOTMATCH_TEST_POSTGRES") == "1"
_PG: dict[str, str] = {}
_DB_NUMBERS = itertools.count(1)


def _database_url(folder: Path) -> str:
    if not USE_POSTGRES:
        return f"sqlite:///{folder / 'pilotmatch.db'}"
    return create_database(_PG["dsn"], f"t{os.getpid()}_{next(_DB_NUMBERS)}")


def make_settings(folder: Path, **overrides: object) -> Settings:
    # The suite sends hundreds of matches from one TestClient; tests of the limits set them explicitly.
    overrides.setdefault("match_rate_limit", 0)
    overrides.setdefault("keyed_match_rate_limit", 0)
    overrides.setdefault("submission_rate_limit", 0)
    overrides.setdefault("application_rate_limit", 0)
    return Settings(
        database_url=_database_url(folder),
        index_dir=folder / "indexes",
        admin_key=ADMIN_KEY,
        **overrides,
    )


@pytest.fixture(scope="session", autouse=True)
def postgres_cluster() -> Iterator[None]:
    """Start a private PostgreSQL for the session when asked to; nothing pre-existing is assumed."""
    if not USE_POSTGRES:
        yield
        return
    with throwaway_cluster() as dsn:
        _PG["dsn"] = dsn
        yield


@pytest.fixture(scope="session")
def demo_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The demo data in a real SQLite file with built indexes. Read-only for tests: do not write to it."""
    rt = Runtime.open(make_settings(tmp_path_factory.mktemp("demo")))
    seed_demo(rt.db, rt.engine, rt.settings)
    yield rt
    rt.close()


def copy_demo(demo: Runtime, folder: Path) -> str:
    """A writable copy of the seeded demo (SQLite database and index snapshots) in ``folder``; returns its
    database URL. Cheaper than seeding again when a test must write to the demo."""
    source = sqlite3.connect(make_url(demo.settings.database_url).database)
    with sqlite3.connect(folder / "pilotmatch.db") as copy:
        source.backup(copy)
    source.close()
    _copy_snapshots(demo, folder / "indexes")
    return f"sqlite:///{folder / 'pilotmatch.db'}"


def _copy_snapshots(demo: Runtime, index_dir: Path) -> None:
    demo.engine.save()
    shutil.copytree(demo.settings.index_dir, index_dir)


@pytest.fixture(scope="session")
def demo_with(
    demo_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Runtime]]:
    """``demo_with(expansion_weight=0.0)``: a runtime on the demo with those settings changed, for tests that
    compare a ranking with and without one of its parts, without touching the shared demo runtime's settings.

    It reads the demo's database (read-only, like the demo) and loads a copy of its index snapshots, so opening
    it embeds nothing (a few seconds; the models are shared). One runtime per distinct set of changes, kept for
    the session."""
    opened: dict[str, Runtime] = {}

    def open_with(**changes: object) -> Runtime:
        key = repr(sorted(changes.items()))
        if key not in opened:
            index_dir = tmp_path_factory.mktemp("demo-with") / "indexes"
            _copy_snapshots(demo_runtime, index_dir)
            opened[key] = Runtime.open(
                demo_runtime.settings.model_copy(update={"index_dir": index_dir, **changes})
            )
        return opened[key]

    yield open_with
    for rt in opened.values():
        rt.close()


@pytest.fixture(scope="session")
def client(demo_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=demo_runtime)) as c:
        yield c


SAMPLE_PLATFORMS = [
    PlatformCreate(
        external_id="s-hydrogen",
        name="PEM电解水制氢中试平台",
        tier="key_cultivated",
        area="emerging_future",
        directions=["hydrogen"],
        service_types=["performance", "process"],
        province="guangdong",
        capabilities="质子交换膜电解槽电堆组装与性能测试，具备兆瓦级电解制氢系统耐久性验证能力，膜电极涂布放大。",
        trl_min=4,
        trl_max=7,
        capacity=3,
    ),
    PlatformCreate(
        external_id="s-antibody",
        name="Monoclonal Antibody Process Pilot Plant",
        tier="provincial",
        area="consumer_goods",
        directions=["biomedicine"],
        service_types=["process", "production"],
        province="jiangsu",
        capabilities="CHO cell culture process development, 200 L and 2,000 L single-use bioreactors, "
        "downstream purification (protein A, ion exchange), GMP pilot batches of monoclonal antibodies.",
        trl_min=4,
        trl_max=8,
        capacity=2,
    ),
    PlatformCreate(
        external_id="s-steel",
        name="先进高强钢热轧中试线",
        tier="national",
        area="raw_materials",
        directions=["steel"],
        service_types=["process"],
        province="hebei",
        capabilities="高强汽车用钢热轧、控轧控冷工艺验证，年产能5000吨中试轧机，配套力学性能检测。",
        trl_min=5,
        trl_max=8,
        capacity=1,
    ),
]


def notifying_runtime(folder: Path, **overrides: object) -> Runtime:
    """A runtime with the three sample platforms that tells every platform of each technology it fits at all
    (``notify_min_score`` 0, the best 3), retries webhooks at once and delivers to loopback receivers."""
    settings = {"webhook_allow_private": True, "webhook_retry_delays": "0,0", "notify_min_score": 0.0}
    runtime = Runtime.open(make_settings(folder, **{**settings, "notify_top_k": 3, **overrides}))
    create_platforms(runtime.db, runtime.engine, runtime.settings, SAMPLE_PLATFORMS)
    return runtime


@pytest.fixture
def small_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A fresh database with three sample platforms; each test that writes gets its own."""
    rt = Runtime.open(make_settings(tmp_path))
    create_platforms(rt.db, rt.engine, rt.settings, SAMPLE_PLATFORMS)
    yield rt
    rt.close()


@pytest.fixture
def small_client(small_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=small_runtime)) as c:
        yield c
