"""Checking an API key is cheap: it loads no model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY_MODULES = ("torch", "faiss", "sentence_transformers", "matcher.runtime", "matcher.matching.engine")

KEY_CHECK = """
import json, sys
from sqlmodel import Session
from matcher.accounts.models import ApiKey
from matcher.accounts.service import authenticate, create_admin_key, touch
from matcher.db import create_db_engine, migrate
from matcher.settings import Settings

url = sys.argv[1]
db = create_db_engine(url)
migrate(db)
key = create_admin_key(db)
principal = authenticate(db, Settings(database_url=url, admin_key=None), key)
touch(db, principal)
with Session(db) as s:
    used = s.get(ApiKey, principal.key_id).last_used_at is not None
print(json.dumps({"role": principal.role, "used": used, "loaded": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def test_checking_an_api_key_loads_no_model(tmp_path: Path) -> None:
    """A fresh process that checks a key (and records its use) imports no model library, runtime or engine."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTMATCH_")} | {"PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", KEY_CHECK, f"sqlite:///{tmp_path}/keys.db", *HEAVY_MODULES],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"role": "admin", "used": True, "loaded": []}
