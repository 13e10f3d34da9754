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
    # platforms
    "PlatformCreate": "matcher.platforms.schemas",
    "PlatformUpdate": "matcher.platforms.schemas",
    "PlatformRead": "matcher.platforms.schemas",
    "PlatformFilters": "matcher.platforms.schemas",
    "PlatformPage": "matcher.platforms.schemas",
    "create_platforms": "matcher.platforms.service",
    "get_platform": "matcher.platforms.service",
    "list_platforms": "matcher.platforms.service",
    "update_platform": "matcher.platforms.service",
    "delete_platform": "matcher.platforms.service",
    # technologies
    "TechnologyCreate": "matcher.technologies.schemas",
    "TechnologyUpdate": "matcher.technologies.schemas",
    "TechnologyRead": "matcher.technologies.schemas",
    "TechnologyPage": "matcher.technologies.schemas",
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
    "FeedbackCreate": "matcher.feedback.schemas",
    "FeedbackRead": "matcher.feedback.schemas",
    "record_feedback": "matcher.feedback.service",
    "list_feedback": "matcher.feedback.service",
    # data in and out
    "import_platforms_file": "matcher.importing",
    "seed_demo": "matcher.importing",
    "reset_to_demo": "matcher.importing",
    "coverage_report": "matcher.reports.coverage",
    # keys and sign-in
    "Principal": "matcher.accounts.principal",
    "authenticate": "matcher.accounts.service",
    "ensure_admin_key": "matcher.accounts.service",
    "rotate_admin_key": "matcher.accounts.service",
    "create_platform_key": "matcher.accounts.service",
    "list_platform_keys": "matcher.accounts.service",
    "revoke_platform_key": "matcher.accounts.service",
    # notifications
    "list_notifications": "matcher.notifications.inbox",
    "get_notification": "matcher.notifications.inbox",
    "mark_read": "matcher.notifications.inbox",
    "redeliver": "matcher.notifications.inbox",
    "deliveries_of": "matcher.notifications.inbox",
    "create_endpoint": "matcher.notifications.endpoints",
    "list_endpoints": "matcher.notifications.endpoints",
    "get_endpoint": "matcher.notifications.endpoints",
    "delete_endpoint": "matcher.notifications.endpoints",
    "rotate_secret": "matcher.notifications.endpoints",
    "match_pending": "matcher.notifications.outbox",
    "DeliveryWorker": "matcher.notifications.delivery",
    # after the match: responses, introductions, engagements
    "IntroductionPatch": "matcher.engagements.schemas",
    "IntroductionRequest": "matcher.engagements.schemas",
    "IntroductionView": "matcher.engagements.schemas",
    "ResponseIn": "matcher.engagements.schemas",
    "ResponseOut": "matcher.engagements.schemas",
    "SubmissionCreate": "matcher.engagements.schemas",
    "PairStates": "matcher.engagements.schemas",
    "ResponseState": "matcher.engagements.schemas",
    "IntroductionState": "matcher.engagements.schemas",
    "respond": "matcher.engagements.responses",
    "responses_of": "matcher.engagements.responses",
    "responses_by_technology": "matcher.engagements.responses",
    "pair_states": "matcher.engagements.responses",
    "request_introduction": "matcher.engagements.introductions",
    "move_introduction": "matcher.engagements.introductions",
    "introduction_view": "matcher.engagements.introductions",
    "introductions_of": "matcher.engagements.introductions",
    "introductions_by_technology": "matcher.engagements.introductions",
    "Submission": "matcher.engagements.submissions",
    "submit": "matcher.engagements.submissions",
    "submission": "matcher.engagements.submissions",
    # reports
    "coverage_csv": "matcher.reports.coverage",
    "CoverageReport": "matcher.reports.coverage",
    "funnel_report": "matcher.reports.funnel",
    "funnel_csv": "matcher.reports.funnel",
    "platform_activity": "matcher.reports.activity",
    "activity_csv": "matcher.reports.activity",
    "ReportFilters": "matcher.reports.schemas",
    "FunnelOut": "matcher.reports.schemas",
    "ActivityOut": "matcher.reports.schemas",
}

__all__ = [
    "ActivityOut",
    "Conflict",
    "CoverageReport",
    "DeliveryWorker",
    "Evidence",
    "FeedbackCreate",
    "FeedbackRead",
    "FitScale",
    "Forbidden",
    "FunnelOut",
    "IntroductionPatch",
    "IntroductionRequest",
    "IntroductionState",
    "IntroductionView",
    "InvalidInput",
    "MatchEngine",
    "MatchQuery",
    "MatchResult",
    "NamedDirection",
    "NeedFacts",
    "NotFound",
    "PairStates",
    "PilotMatchError",
    "PlatformCreate",
    "PlatformFilters",
    "PlatformMatch",
    "PlatformPage",
    "PlatformRead",
    "PlatformUpdate",
    "Principal",
    "QueryVector",
    "ReportFilters",
    "ResponseIn",
    "ResponseOut",
    "ResponseState",
    "Runtime",
    "SchemaTooNew",
    "Settings",
    "Submission",
    "SubmissionCreate",
    "Taxonomy",
    "TechnologyCreate",
    "TechnologyMatch",
    "TechnologyMatches",
    "TechnologyPage",
    "TechnologyRead",
    "TechnologyUpdate",
    "activity_csv",
    "authenticate",
    "coverage_csv",
    "coverage_report",
    "create_endpoint",
    "create_platform_key",
    "create_platforms",
    "create_technology",
    "default_taxonomy",
    "delete_endpoint",
    "delete_platform",
    "delete_technology",
    "deliveries_of",
    "ensure_admin_key",
    "funnel_csv",
    "funnel_report",
    "get_endpoint",
    "get_notification",
    "get_platform",
    "get_technology",
    "import_platforms_file",
    "introduction_view",
    "introductions_by_technology",
    "introductions_of",
    "list_endpoints",
    "list_feedback",
    "list_notifications",
    "list_platform_keys",
    "list_platforms",
    "list_technologies",
    "mark_read",
    "match_pending",
    "matches_for_technology",
    "move_introduction",
    "pair_score",
    "pair_states",
    "platform_activity",
    "record_feedback",
    "redeliver",
    "request_introduction",
    "reset_to_demo",
    "respond",
    "responses_by_technology",
    "responses_of",
    "revoke_platform_key",
    "rotate_admin_key",
    "rotate_secret",
    "seed_demo",
    "submission",
    "submit",
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
    from matcher.accounts.principal import Principal
    from matcher.accounts.service import (
        authenticate,
        create_platform_key,
        ensure_admin_key,
        list_platform_keys,
        revoke_platform_key,
        rotate_admin_key,
    )
    from matcher.engagements.introductions import (
        introduction_view,
        introductions_by_technology,
        introductions_of,
        move_introduction,
        request_introduction,
    )
    from matcher.engagements.responses import (
        pair_states,
        respond,
        responses_by_technology,
        responses_of,
    )
    from matcher.engagements.schemas import (
        IntroductionPatch,
        IntroductionRequest,
        IntroductionState,
        IntroductionView,
        PairStates,
        ResponseIn,
        ResponseOut,
        ResponseState,
        SubmissionCreate,
    )
    from matcher.engagements.submissions import Submission, submission, submit
    from matcher.errors import Conflict, Forbidden, InvalidInput, NotFound, PilotMatchError, SchemaTooNew
    from matcher.feedback.schemas import FeedbackCreate, FeedbackRead
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
    from matcher.notifications.delivery import DeliveryWorker
    from matcher.notifications.endpoints import (
        create_endpoint,
        delete_endpoint,
        get_endpoint,
        list_endpoints,
        rotate_secret,
    )
    from matcher.notifications.inbox import (
        deliveries_of,
        get_notification,
        list_notifications,
        mark_read,
        redeliver,
    )
    from matcher.notifications.outbox import match_pending
    from matcher.platforms.schemas import (
        PlatformCreate,
        PlatformFilters,
        PlatformPage,
        PlatformRead,
        PlatformUpdate,
    )
    from matcher.platforms.service import (
        create_platforms,
        delete_platform,
        get_platform,
        list_platforms,
        update_platform,
    )
    from matcher.reports.activity import activity_csv, platform_activity
    from matcher.reports.coverage import CoverageReport, coverage_csv, coverage_report
    from matcher.reports.funnel import funnel_csv, funnel_report
    from matcher.reports.schemas import ActivityOut, FunnelOut, ReportFilters
    from matcher.runtime import Runtime
    from matcher.settings import Settings
    from matcher.taxonomy import Taxonomy, default_taxonomy
    from matcher.technologies.schemas import (
        TechnologyCreate,
        TechnologyPage,
        TechnologyRead,
        TechnologyUpdate,
    )
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
