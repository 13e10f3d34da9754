"""schemathesis against the app's own OpenAPI document, over the demo data: the API must keep its contract.

The run is the one the issue asks of ``st run`` (examples, coverage and fuzzing phases; the checks
not_a_server_error, status_code_conformance, content_type_conformance and response_schema_conformance; webhook
routes left out because they deliver), in process over ASGI with the admin key, on a writable copy of the demo.

Budget: the suite explores the document with long texts cut to 2,000 characters and lists to 10 items (a
1,000-item bulk or a 20,000-character text is seconds of embedding each, and the coverage phase sends every
boundary), and 4 examples per operation in the fuzzing phase. ``st run`` against ``pilotmatch serve`` explores the
full ranges (docs/development.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from api.app import create_app
from matcher import Runtime
from tests.conftest import ADMIN_KEY, copy_demo, make_settings

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MAX_TEXT = 2000
MAX_ITEMS = 10
EXAMPLES = 4


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, demo_runtime: Runtime) -> Iterator[FastAPI]:
    """The app over its own copy of the demo (the fuzzer creates, edits and deletes), with match rate limits off
    (their 429s are tested where they are built) and no delivery worker (a runtime passed in starts none).

    The copy is the session's seeded demo, database and snapshots, rather than a second seeding."""
    folder = tmp_path_factory.mktemp("schemathesis")
    copy_demo(demo_runtime, folder)
    rt = Runtime.open(make_settings(folder, match_rate_limit=0, keyed_match_rate_limit=0))
    yield create_app(runtime=rt)
    rt.close()


def bounded(node: Any) -> Any:
    """The document with every ``maxLength`` at most ``MAX_TEXT`` and every ``maxItems`` at most ``MAX_ITEMS``."""
    if isinstance(node, dict):
        out = {k: bounded(v) for k, v in node.items()}
        if isinstance(out.get("maxLength"), int):
            out["maxLength"] = min(out["maxLength"], MAX_TEXT)
        if isinstance(out.get("maxItems"), int):
            out["maxItems"] = min(out["maxItems"], MAX_ITEMS)
        return out
    if isinstance(node, list):
        return [bounded(v) for v in node]
    return node


# Once, on SQLite: the contract is the app's. What differs on PostgreSQL (NUL in text, integer ranges) is tested
# on both backends by tests/api/test_input_contract.py.
@pytest.mark.backend_independent
def test_the_api_keeps_its_openapi_contract(fuzzed_app: FastAPI, tmp_path: Path) -> None:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261206,
            "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
            "cache": {"enabled": False},
            "checks": {"enabled": False} | {name: {"enabled": True} for name in CHECKS},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "request-timeout": 60,
        }
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app, config=config)
    schema = schemathesis.openapi.from_dict(bounded(loaded.raw_schema), config=config)
    schema.app, schema.location = fuzzed_app, "/openapi.json"
    schema = schema.exclude(path_regex="webhooks")

    failures: dict[tuple[str, str, str], str] = {}
    errors: dict[tuple[str, str], str] = {}
    tested: set[str] = set()
    logging.disable(logging.INFO)  # one log line per request would drown a failure's report
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                tested.add(event.recorder.label)
                for nodes in event.recorder.checks.values():
                    for node in nodes:
                        if node.status == Status.FAILURE and node.failure_info is not None:
                            failure = node.failure_info.failure
                            key = (event.recorder.label, node.name, failure.title)
                            failures.setdefault(key, f"{failure.message}\n{node.failure_info.code_sample}")
            elif isinstance(event, events.NonFatalError):
                errors.setdefault((event.label, str(event.value)[:200]), event.info.format())
            elif isinstance(event, events.FatalError):
                errors.setdefault(("engine", repr(event.exception)), repr(event.exception))
    finally:
        logging.disable(logging.NOTSET)
    report = [f"{label} [{check}] {title}\n{detail}" for (label, check, title), detail in failures.items()]
    report += [f"{label}: error\n{detail}" for (label, _), detail in errors.items()]
    assert not report, f"{len(failures)} failures, {len(errors)} errors\n\n" + "\n\n".join(report)
    assert len(tested) >= 20, sorted(tested)
