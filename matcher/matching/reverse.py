"""The reverse direction: open technologies that fit a platform, each pair scored as the technology's forward
match scores it (same channels, same fusion, the same ranking factors and calibration against the technology's
own best score)."""

from __future__ import annotations

import numpy as np

from matcher.errors import NotFound
from matcher.matching import candidates
from matcher.matching.calibration import QueryShape
from matcher.matching.corpus import Corpora
from matcher.matching.query import QueryTerms
from matcher.matching.results import Evidence, FitScale, TechnologyMatch, TechnologyMatches
from matcher.matching.search import CandidateSearch
from matcher.matching.text import surface_forms

#: How many technologies' terms are kept between calls (the most a busy reverse direction revisits).
KEPT_TERMS = 20_000


class ReverseMatch:
    """Ranks technologies for a platform."""

    def __init__(self, corpora: Corpora, search: CandidateSearch, fit: FitScale, pool: int) -> None:
        self.corpora = corpora
        self.search = search
        self.fit = fit
        self.pool = pool
        #: Each stored technology's lexical terms, kept while its document is the stored one: they are the same
        #: objects every time, so the lexical channel reuses their preparation (see ``LexicalIndex.score_items``).
        self._terms: dict[int, tuple[object, QueryTerms]] = {}

    def _terms_of(self, tid: int, tdoc: object, tokens: list[str], lang: object) -> QueryTerms:
        cached = self._terms.get(tid)
        if cached is not None and cached[0] is tdoc:
            return cached[1]
        terms = QueryTerms.of_tokens(tokens, lang, self.search.lexicon)  # type: ignore[arg-type]
        if len(self._terms) >= KEPT_TERMS:
            self._terms.clear()
        self._terms[tid] = (tdoc, terms)
        return terms

    def technologies_for(self, platform_id: int, limit: int = 10) -> TechnologyMatches:
        platforms, technologies = self.corpora.platforms, self.corpora.technologies
        pdoc = platforms.docs.get(platform_id)
        if pdoc is None:
            raise NotFound(f"Platform {platform_id} is not active or does not exist.")
        pvecs = platforms.dense.vectors(platform_id)
        penglish = platforms.english_vectors(platform_id)
        pool = max(self.pool, limit * 3)
        found: set[int] = set()
        for v in pvecs:
            found.update(h.item_id for h in technologies.dense.search(v, pool))
        search = self.search
        scored_pairs = []
        for tid in found:
            tdoc = technologies.docs.get(tid)
            if tdoc is None:
                continue
            tvec = technologies.dense.vectors(tid) if tdoc.expanded is None else tdoc.expanded[None, :]
            if len(tvec) == 0:
                continue
            sims = pvecs @ tvec[0]
            best = int(np.argmax(sims))
            terms = self._terms_of(tid, tdoc, tdoc.tokens, tdoc.lang)
            english = self._english_pair(penglish, tid)
            scores = candidates.pair_scores(platforms, float(sims[best]), terms, pdoc, english)
            shape = QueryShape.of(tdoc.lang, tdoc.tokens)
            scored = search.ranker.score(
                tdoc.facts, pdoc.facts, search.fusion.fuse(scores), tdoc.best_raw, shape
            )
            scored_pairs.append((scored, tid, tdoc, best, terms))
        scored_pairs.sort(key=lambda p: (-p[0].score, p[1]))
        # Evidence (the passage and the shared terms) only for the technologies returned.
        return TechnologyMatches(
            [
                TechnologyMatch(
                    technology_id=tid,
                    score=scored.score,
                    fit=self.fit.label(scored.score),
                    explanation=scored.explanation,
                    card=tdoc.card,
                    evidence=Evidence(
                        passage=pdoc.passages[best],
                        terms=search.evidence_terms(surface_forms(tdoc.text), terms, pdoc),
                    ),
                )
                for scored, tid, tdoc, best, terms in scored_pairs[:limit]
            ]
        )

    def _english_pair(self, platform_rows: np.ndarray | None, technology_id: int) -> float | None:
        """The English model's cosine of a technology and a platform's best passage (as the English model reads
        it: in its own words or glossed), if both have English-model rows."""
        t = self.corpora.technologies.english
        if platform_rows is None or len(platform_rows) == 0 or t is None or technology_id not in t:
            return None
        return float(np.max(platform_rows @ t.vectors(technology_id)[0]))
