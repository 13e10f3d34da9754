"""PilotMatch's domain core: taxonomy, profiles, embedding, indexing, ranking and explanations.

No web framework is imported here; the API (``api``), the CLI and ``scripts/`` all call these functions.

The names that need the models' libraries (the match engine, the runtime) are imported on first use, so a
module that needs none of them (checking an API key, reading settings) does not load FAISS or a model.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from matcher.errors import Conflict, InvalidInput, NotFound, PilotMatchError, SchemaTooNew
from matcher.settings import RankWeights, Settings
from matcher.taxonomy import Taxonomy, default_taxonomy, load_taxonomy

_ON_FIRST_USE = {
    "MatchEngine": "matcher.matching.engine",
    "MatchQuery": "matcher.matching.engine",
    "PlatformMatch": "matcher.matching.engine",
    "TechnologyMatch": "matcher.matching.engine",
    "NeedFacts": "matcher.matching.ranking",
    "PlatformFacts": "matcher.matching.ranking",
    "Ranker": "matcher.matching.ranking",
    "Runtime": "matcher.runtime",
}


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module 'matcher' has no attribute {name!r}")
    value = getattr(import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Conflict",
    "InvalidInput",
    "MatchEngine",
    "MatchQuery",
    "NeedFacts",
    "NotFound",
    "PilotMatchError",
    "PlatformFacts",
    "PlatformMatch",
    "RankWeights",
    "Ranker",
    "Runtime",
    "SchemaTooNew",
    "Settings",
    "Taxonomy",
    "TechnologyMatch",
    "default_taxonomy",
    "load_taxonomy",
]
