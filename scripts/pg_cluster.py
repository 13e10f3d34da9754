"""A throw-away PostgreSQL cluster in a temporary folder (Debian's server binaries; nothing pre-existing assumed).

Used by the test suite (``PILOTMATCH_TEST_POSTGRES=1``) and by ``scripts/load.py``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def throwaway_cluster(*, durable: bool = False, max_connections: int = 200) -> Iterator[str]:
    """Start a private server on a free loopback port; yields its DSN (``postgresql://pilotmatch@127.0.0.1:PORT``).

    ``durable=False`` turns fsync off, as tests can afford; a benchmark that measures writes keeps it on.
    """
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise RuntimeError("no PostgreSQL server binaries: run scripts/ensure-system-packages.sh")
    bindir = Path(bins[-1])
    # Not under a private temp folder: the server runs as the postgres user when we are root.
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
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "pilotmatch", "--auth=trust", "-E", "UTF8"]
    subprocess.run([*as_user, *initdb, "--locale=C.UTF-8"], check=True, capture_output=True)
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*as_user, *pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://pilotmatch@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, *pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(dsn: str, name: str) -> str:
    """Create a database on the cluster; returns its SQLAlchemy URL (psycopg 3)."""
    import psycopg

    with psycopg.connect(dsn + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{dsn.removeprefix('postgresql://')}/{name}"
