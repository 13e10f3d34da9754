"""Helpers for tests against a live `pilotmatch serve` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
from starlette.types import ASGIApp

from tests.conftest import ADMIN_KEY
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve an app (usually on a test's own runtime) under a real uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(base), 30, f"the app in a thread to answer {base}/healthz")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log(folder: Path) -> IO[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / "serve.log").open("ab")


def serve(
    folder: Path,
    port: int,
    database_url: str,
    extra: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start `pilotmatch serve` on ``port`` and wait until /healthz answers; its log goes to folder/serve.log."""
    env = (
        os.environ
        | {
            "PILOTMATCH_DATABASE_URL": database_url,
            "PILOTMATCH_INDEX_DIR": str(folder / "indexes"),
            "PILOTMATCH_ADMIN_KEY": ADMIN_KEY,
            "PILOTMATCH_WEBHOOK_ALLOW_PRIVATE": "true",
            "PILOTMATCH_WEBHOOK_LEASE_SECONDS": "1",
            "PILOTMATCH_WORKER_POLL_SECONDS": "0.2",
            "PILOTMATCH_NOTIFY_MIN_SCORE": "0",
            # Tests poll /v1/match from one address; the limits have their own tests.
            "PILOTMATCH_MATCH_RATE_LIMIT": "0",
        }
        | (extra or {})
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=_log(folder),
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"pilotmatch serve exited with {proc.returncode}; see {folder / 'serve.log'}"
            )
        return healthy(f"http://127.0.0.1:{port}")

    try:
        wait_until(
            up, 90, f"pilotmatch serve to answer /healthz on port {port} (log: {folder / 'serve.log'})"
        )
    except AssertionError:
        proc.kill()
        raise
    return proc


def healthy(base: str) -> bool:
    """Whether the server at ``base`` answers /healthz with 200 (False while it is not listening yet)."""
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
