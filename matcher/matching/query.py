"""What a match is asked: the query, normalised once, and the vectors the two models make of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.errors import FieldError, InvalidInput
from matcher.matching.lexicon import BilingualLexicon
from matcher.matching.ranking import NeedFacts
from matcher.matching.text import LanguageMix, language_mix, lexical_tokens, normalize_text
from matcher.taxonomy import Taxonomy

#: The most results one match returns (``POST /v1/match`` documents the same bound).
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class QueryVector:
    """One query's vectors: the multilingual model's and, when the English channel is on and the text is mostly
    English, the English model's (None otherwise: that model cannot read Chinese)."""

    main: np.ndarray
    english: np.ndarray | None = None

    def moved(self, main: np.ndarray) -> QueryVector:
        """The same query with its multilingual vector moved (feedback leaves the English one alone)."""
        return QueryVector(main, self.english)


@dataclass(frozen=True, slots=True)
class MatchQuery:
    """A technology need to match: its text plus preferences (soft) and filters (hard).

    ``text`` is normalised by the constructor helpers (``of``); code that builds a query by hand passes
    normalised text (``normalize_text`` is idempotent, so passing raw text costs one more pass, nothing else).
    ``vector`` is a stored technology's (so it is not embedded again); None embeds ``text``. ``platform_ids``
    narrows the candidates to these platforms (one platform: its score for this need, exactly as a full match
    would give it); ``excluded_platform_ids`` leaves platforms out (those that told this researcher they do not
    fit). Weak fits after the first ``Settings.weak_results_shown`` are left out unless ``include_weak``.
    ``stale`` keeps only platforms whose profile is (True) or is not (False) stale; None keeps both.
    """

    text: str
    need: NeedFacts = field(default_factory=NeedFacts)
    area: str | None = None
    tiers: tuple[str, ...] = ()
    limit: int = 10
    vector: QueryVector | None = None
    platform_ids: frozenset[int] | None = None
    excluded_platform_ids: frozenset[int] = frozenset()
    include_weak: bool = False
    stale: bool | None = None

    @classmethod
    def of(
        cls,
        taxonomy: Taxonomy,
        text: str,
        *,
        directions: Sequence[str] = (),
        trl: int | None = None,
        province: str | None = None,
        service_types: Sequence[str] = (),
        area: str | None = None,
        tiers: Sequence[str] = (),
        limit: int = 10,
        include_weak: bool = False,
        stale: bool | None = None,
    ) -> MatchQuery:
        """A query from user input. ``directions``, ``trl``, ``province`` and ``service_types`` are preferences
        that feed ranking factors; ``area``, ``tiers`` and ``stale`` are filters (a single code may be given as a string). One
        ``InvalidInput`` names every invalid value with its field: an empty text, a TRL outside 1-9, a limit
        outside 1-100, each unknown code."""
        directions, service_types, tiers = (
            (x,) if isinstance(x, str) else tuple(x) for x in (directions, service_types, tiers)
        )
        errors: list[FieldError] = []
        if not text or not text.strip():
            errors.append(FieldError("text", "describe the technology: the text is empty"))
        if trl is not None and not 1 <= trl <= 9:
            errors.append(FieldError("trl", f"TRL is a whole number from 1 to 9, not {trl}"))
        if not 1 <= limit <= MAX_LIMIT:
            errors.append(FieldError("limit", f"limit is a whole number from 1 to {MAX_LIMIT}, not {limit}"))
        try:
            codes = taxonomy.check_codes(
                {"directions": directions, "province": province, "service_types": service_types, "area": area}
            )
        except InvalidInput as exc:
            codes = {}
            errors.extend(exc.errors)
        try:
            checked_tiers = tuple(taxonomy.check_tiers(tiers))
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if errors:
            raise InvalidInput.of(errors)
        need = NeedFacts(
            directions=tuple(codes["directions"]),
            trl=trl,
            provinces=(codes["province"],) if codes["province"] else (),
            service_types=tuple(codes["service_types"]),
        )
        return cls(
            text=normalize_text(text),
            need=need,
            area=codes["area"] or None,
            tiers=checked_tiers,
            limit=limit,
            include_weak=include_weak,
            stale=stale,
        )

    @property
    def filtered(self) -> bool:
        return (
            self.area is not None
            or bool(self.tiers)
            or self.platform_ids is not None
            or bool(self.excluded_platform_ids)
            or self.stale is not None
        )


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """What the lexical channels need of a query: its tokens, their translations and its language mix."""

    tokens: list[str]
    translated: list[tuple[str, ...]]
    lang: LanguageMix

    @classmethod
    def of(cls, text: str, lexicon: BilingualLexicon) -> QueryTerms:
        return cls.of_tokens(lexical_tokens(text), language_mix(text), lexicon)

    @classmethod
    def of_tokens(cls, tokens: list[str], lang: LanguageMix, lexicon: BilingualLexicon) -> QueryTerms:
        """For a text already tokenised (a stored technology)."""
        return cls(tokens, lexicon.translate(tokens), lang)
