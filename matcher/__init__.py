"""PilotMatch's domain core: taxonomy, profiles, embedding, indexing, ranking and explanations.

No web framework is imported here; the API (``api``), the CLI and ``scripts/`` all call these functions.
"""

from matcher.errors import Conflict, InvalidInput, NotFound, PilotMatchError, SchemaTooNew
from matcher.matching.engine import MatchEngine, MatchQuery, PlatformMatch, TechnologyMatch
from matcher.matching.ranking import NeedFacts, PlatformFacts, Ranker
from matcher.runtime import Runtime
from matcher.settings import RankWeights, Settings
from matcher.taxonomy import Taxonomy, default_taxonomy, load_taxonomy

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
