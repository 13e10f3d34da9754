"""Helpers for tests against a live `pilotmatch serve` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import ADMIN_KEY

ROOT = Path(__file__).resolve().parent.parent


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
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"pilotmatch serve exited with {proc.returncode}; see {folder / 'serve.log'}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("pilotmatch serve did not become healthy")
