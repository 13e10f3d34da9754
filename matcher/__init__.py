"""PilotMatch's domain core: taxonomy, profiles, embedding, indexing, ranking and explanations.

No web framework is imported here; the API (``api``), the CLI and ``scripts/`` call these names. They are
resolved on first use (PEP 562), so importing one small part (a key check, the settings) does not load the
models, FAISS and every service with it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS = {
    # errors
    "Conflict": "matcher.errors",
    "Forbidden": "matcher.errors",
    "InvalidInput": "matcher.errors",
    "NotFound": "matcher.errors",
    "PilotMatchError": "matcher.errors",
    "SchemaTooNew": "matcher.errors",
    # wiring and data
    "Runtime": "matcher.runtime",
    "Settings": "matcher.settings",
    "Taxonomy": "matcher.taxonomy",
    "default_taxonomy": "matcher.taxonomy",
    # matching: the engine, the query and result types
    "MatchEngine": "matcher.matching.engine",
    "MatchQuery": "matcher.matching.query",
    "QueryVector": "matcher.matching.query",
    "NeedFacts": "matcher.matching.ranking",
    "MatchResult": "matcher.matching.results",
    "PlatformMatch": "matcher.matching.results",
    "TechnologyMatch": "matcher.matching.results",
    "TechnologyMatches": "matcher.matching.results",
    "NamedDirection": "matcher.matching.results",
    "Evidence": "matcher.matching.results",
    "FitScale": "matcher.matching.results",
    "match_text": "matcher.matching.service",
    # platforms
    "create_platforms": "matcher.platforms.service",
    "get_platform": "matcher.platforms.service",
    "list_platforms": "matcher.platforms.service",
    "update_platform": "matcher.platforms.service",
    "delete_platform": "matcher.platforms.service",
    # technologies
    "create_technology": "matcher.technologies.service",
    "submit_technology": "matcher.technologies.service",
    "technology_by_token": "matcher.technologies.service",
    "get_technology": "matcher.technologies.service",
    "list_technologies": "matcher.technologies.service",
    "update_technology": "matcher.technologies.service",
    "delete_technology": "matcher.technologies.service",
    "matches_for_technology": "matcher.technologies.service",
    "technologies_for_platform": "matcher.technologies.service",
    "pair_score": "matcher.technologies.service",
    # feedback
    "record_feedback": "matcher.feedback.service",
    "list_feedback": "matcher.feedback.service",
    # data in and out
    "import_platforms_file": "matcher.importing",
    "seed_demo": "matcher.importing",
    "reset_to_demo": "matcher.importing",
    "coverage_report": "matcher.reports.coverage",
}

__all__ = [
    "Conflict",
    "Evidence",
    "FitScale",
    "Forbidden",
    "InvalidInput",
    "MatchEngine",
    "MatchQuery",
    "MatchResult",
    "NamedDirection",
    "NeedFacts",
    "NotFound",
    "PilotMatchError",
    "PlatformMatch",
    "QueryVector",
    "Runtime",
    "SchemaTooNew",
    "Settings",
    "Taxonomy",
    "TechnologyMatch",
    "TechnologyMatches",
    "coverage_report",
    "create_platforms",
    "create_technology",
    "default_taxonomy",
    "delete_platform",
    "delete_technology",
    "get_platform",
    "get_technology",
    "import_platforms_file",
    "list_feedback",
    "list_platforms",
    "list_technologies",
    "match_text",
    "matches_for_technology",
    "pair_score",
    "record_feedback",
    "reset_to_demo",
    "seed_demo",
    "submit_technology",
    "technologies_for_platform",
    "technology_by_token",
    "update_platform",
    "update_technology",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'matcher' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from matcher.errors import Conflict, Forbidden, InvalidInput, NotFound, PilotMatchError, SchemaTooNew
    from matcher.feedback.service import list_feedback, record_feedback
    from matcher.importing import import_platforms_file, reset_to_demo, seed_demo
    from matcher.matching.engine import MatchEngine
    from matcher.matching.query import MatchQuery, QueryVector
    from matcher.matching.ranking import NeedFacts
    from matcher.matching.results import (
        Evidence,
        FitScale,
        MatchResult,
        NamedDirection,
        PlatformMatch,
        TechnologyMatch,
        TechnologyMatches,
    )
    from matcher.matching.service import match_text
    from matcher.platforms.service import (
        create_platforms,
        delete_platform,
        get_platform,
        list_platforms,
        update_platform,
    )
    from matcher.reports.coverage import coverage_report
    from matcher.runtime import Runtime
    from matcher.settings import Settings
    from matcher.taxonomy import Taxonomy, default_taxonomy
    from matcher.technologies.service import (
        create_technology,
        delete_technology,
        get_technology,
        list_technologies,
        matches_for_technology,
        pair_score,
        submit_technology,
        technologies_for_platform,
        technology_by_token,
        update_technology,
    )
