"""A query's candidate search: candidates from every channel, fused, with directions inferred and, where it
helps, a second pass with the query moved toward its best platforms (pseudo-relevance feedback)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from matcher.matching import candidates
from matcher.matching.candidates import Candidate, Channels, LexicalPass
from matcher.matching.corpus import Corpus
from matcher.matching.dense import DenseHit
from matcher.matching.directions import DirectionInferrer, vote_directions
from matcher.matching.documents import PlatformDoc
from matcher.matching.embedders import unit_rows
from matcher.matching.fusion import Fusion, Relevance
from matcher.matching.lexicon import BilingualLexicon
from matcher.matching.query import QueryTerms, QueryVector
from matcher.matching.ranking import NeedFacts, Ranker
from matcher.matching.text import surface_forms
from matcher.settings import Settings

#: A ranked candidate: (raw score, relevance, document, best passage).
Ranked = tuple[float, Relevance, PlatformDoc, DenseHit]


@dataclass(frozen=True, slots=True)
class Found:
    """What ranking a query needs from its candidate passes."""

    #: The query vectors the candidates were scored with: moved by feedback where that applies.
    vector: QueryVector
    #: The need, with directions inferred from the first pass unless the user chose some.
    need: NeedFacts
    #: Candidates within the query's filters, and all candidates (the same list when nothing is filtered): the
    #: best score and inferred directions must not depend on a filter.
    fused: list[Candidate]
    basis: list[Candidate]
    #: True when ``vector`` was moved by pseudo-relevance feedback.
    expanded: bool


class CandidateSearch:
    """Finds and fuses a query's candidate platforms; ranks them with the ``Ranker``."""

    def __init__(
        self,
        platforms: Corpus,
        settings: Settings,
        fusion: Fusion,
        ranker: Ranker,
        directions: DirectionInferrer,
        lexicon: BilingualLexicon,
    ) -> None:
        self.platforms = platforms
        self.settings = settings
        self.fusion = fusion
        self.ranker = ranker
        self.directions = directions
        self.lexicon = lexicon
        self.passages = 2 if settings.passage_aggregation == "top2mean" else 1

    def search(
        self,
        vector: QueryVector,
        text: str,
        terms: QueryTerms,
        need: NeedFacts,
        allowed: set[int] | None = None,
        pool: int | None = None,
        everywhere: set[int] | None = None,
    ) -> Found:
        """A query's candidates, ready to rank: a first pass infers the need's directions (unless given), and
        where feedback applies (``_expanded``) a second pass scores them again with the moved query and infers
        the directions anew from its candidates.

        Inferred directions and the best score (which calibration reads scores against) come from the unfiltered
        candidates: an area filter would otherwise decide the directions and make its best look like a fit.
        ``everywhere`` bounds those (None: every platform), for platforms that are out of a need altogether.
        """
        full = self.settings.candidate_pool
        lexical = LexicalPass.of(self.platforms, terms)
        within = candidates.gather(
            self.platforms, vector, terms, allowed, pool or full, lexical, self.passages
        )
        every = within
        if allowed is not None:
            every = candidates.gather(self.platforms, vector, terms, everywhere, full, lexical, self.passages)
        fused = self._fuse(within)
        basis = fused if allowed is None else self._fuse(every)
        infer = not (need.directions or need.inferred)
        first = need
        if infer:
            first = replace(need, inferred=self._inferred_from(basis, vector.main, text))
        moved = self._expanded(vector, text, first, basis)
        if moved is None:
            return Found(vector, first, fused, basis, expanded=False)
        # The same candidates, scored again by the moved query: it moves a fifth of the way toward the best of
        # them, so a second search of the whole index would find next to nothing that the first one and the
        # word channels missed.
        fused = self._fuse(candidates.rescored(self.platforms, within, moved.main, self.passages))
        if allowed is not None:
            basis = self._fuse(candidates.rescored(self.platforms, every, moved.main, self.passages))
        else:
            basis = fused
        # The moved query's candidates vote for the directions again: they are the better neighbours.
        if infer:
            need = replace(need, inferred=self._inferred_from(basis, moved.main, text))
        return Found(moved, need, fused, basis, expanded=True)

    def ranked(self, need: NeedFacts, fused: list[Candidate], limit: int) -> list[Ranked]:
        """The ``limit`` best candidates by raw score, best first (``Ranker.top``: exact, scoring few)."""
        top = self.ranker.top(need, ((rel, doc.facts, (doc, hit)) for rel, doc, hit in fused), limit)
        return [(raw, rel, doc, hit) for raw, rel, _, (doc, hit) in top]

    def best(self, need: NeedFacts, basis: list[Candidate]) -> float | None:
        """The best raw score among the unfiltered candidates ``basis``."""
        ranked = self.ranked(need, basis, 1)
        return ranked[0][0] if ranked else None

    def evidence_terms(self, own_words: dict[str, str], terms: QueryTerms, doc: PlatformDoc) -> list[str]:
        """The query's terms found in the profile, as the query wrote them (``own_words``: its stems' surface
        forms), then its translated terms found there, as the profile writes them ("electrolyser" for 电解槽)."""
        lexical = self.platforms.lexical
        shared = [own_words.get(t, t) for t in lexical.matched_terms(terms.tokens, doc.id)]
        found = lexical.matched_terms(terms.translated, doc.id) if terms.translated else []
        if any(t.isascii() for t in found):
            theirs = surface_forms("\n".join(doc.passages))
            found = [" ".join(theirs.get(w, w) for w in t.split(" ")) for t in found]
        return list(dict.fromkeys(shared + found))

    def _fuse(self, candidates: list[Channels]) -> list[Candidate]:
        return [(self.fusion.fuse(scores), doc, hit) for scores, doc, hit in candidates]

    def _expanded(
        self, vector: QueryVector, text: str, need: NeedFacts, basis: list[Candidate]
    ) -> QueryVector | None:
        """Pseudo-relevance feedback (Rocchio): the query vector moved toward the mean profile of its best-ranked
        platforms, or None where it does not apply.

        A researcher's summary and a platform's profile describe one process in different words; the platforms
        that rank first describe it in a profile's words, so the moved query finds their peers that share few
        words with the summary (measured on the dev set: paraphrases and short titles gain most). It applies
        where the multilingual model is the query's one dense opinion, and to English queries of a few words
        (``expansion_english_words``), where the English model is least sure. An English summary's English-model
        half gained nothing from it, and moving only the multilingual half tilted the two models' scales.
        """
        s = self.settings
        if s.expansion_weight <= 0 or not basis:
            return None
        if vector.english is not None and len(text.split()) > s.expansion_english_words:
            return None
        top = self.ranked(need, basis, s.expansion_depth)
        profiles = [self.platforms.dense.vectors(doc.id) for _, _, doc, _ in top]
        centroids = unit_rows(np.vstack([v.mean(axis=0) for v in profiles if len(v)]))
        return vector.moved(unit_rows(vector.main + s.expansion_weight * centroids.mean(axis=0))[0])

    def _inferred_from(
        self, fused: list[Candidate], main: np.ndarray, text: str
    ) -> tuple[tuple[str, float], ...]:
        """A query's likely directions: those of the most relevant platforms (listed or inferred), or, when too
        few have any (a new registry), the directions whose taxonomy descriptions the text is most similar to."""
        neighbours = [(rel.total, doc.facts.direction_weights()) for rel, doc, _ in fused]
        voted = vote_directions(neighbours)
        if not voted:
            return tuple((d.code, d.confidence) for d in self.directions.infer(main, text))
        # Neighbours that fit only loosely (a need no platform serves) vouch less for their directions, so a
        # wrong guess cannot lift their whole sector above a platform that fits.
        nearest = max(total for total, weights in neighbours if weights)
        return tuple((d.code, round(d.confidence * min(1.0, nearest), 4)) for d in voted)
