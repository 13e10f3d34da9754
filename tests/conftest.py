"""Shared fixtures: real SQLite files, the real default embedder, the real app over HTTP.

Expensive things (model load, the demo database and its index) are session-scoped; tests that write get their
own small database so they cannot disturb each other.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from api.app import create_app
from matcher.importing import seed_demo
from matcher.platforms.schemas import PlatformCreate
from matcher.platforms.service import create_platforms
from matcher.runtime import Runtime
from matcher.settings import Settings

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
    import psycopg

    name = f"t{os.getpid()}_{next(_DB_NUMBERS)}"
    with psycopg.connect(_PG["dsn"] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{_PG['dsn'].removeprefix('postgresql://')}/{name}"


def make_settings(folder: Path, **overrides: object) -> Settings:
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
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise RuntimeError(
            "PILOTMATCH_TEST_POSTGRES=1 but no PostgreSQL server binaries (apt-get install postgresql)"
        )
    bindir = Path(bins[-1])
    # Not under pytest's own temp folder: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="pilotmatch-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        os.chmod(root, 0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "pilotmatch",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    _PG["dsn"] = f"postgresql://pilotmatch@127.0.0.1:{port}"
    try:
        yield
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )


@pytest.fixture(scope="session")
def demo_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The demo data in a real SQLite file with built indexes. Read-only for tests: do not write to it."""
    rt = Runtime.open(make_settings(tmp_path_factory.mktemp("demo")))
    seed_demo(rt)
    yield rt
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


@pytest.fixture
def small_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A fresh database with three sample platforms; each test that writes gets its own."""
    rt = Runtime.open(make_settings(tmp_path))
    create_platforms(rt, SAMPLE_PLATFORMS)
    yield rt
    rt.close()


@pytest.fixture
def small_client(small_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=small_runtime)) as c:
        yield c
