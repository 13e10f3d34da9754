"""A profile that names the need's own process and material outranks longer, more general profiles."""

from __future__ import annotations

import pytest

from matcher import MatchQuery, Runtime

#: Ranking quality does not depend on the database backend: this runs once, on SQLite.
pytestmark = pytest.mark.backend_independent

SPECIALISTS = [
    # A sodium layered-oxide cathode line (200 t/yr) with sodium pouch cells, against a long lithium-cathode
    # profile that mentions sodium once, in a case study.
    ("钠离子层状氧化物正极吨级放大", "ef-p028"),
    # The same platform for the short query, against an English solid-state battery profile that shares only
    # "battery", "cell" and "electrode" with the query's translations.
    ("钠离子电池正极", "ef-p028"),
    # No demo platform packages SiC power modules; the one profile that names SiC power modules is the
    # power-semiconductor test platform (the advanced-packaging line names neither SiC nor power modules).
    ("SiC power module packaging", "ci-p040"),
]


def test_the_specialist_ranks_first(demo_runtime: Runtime) -> None:
    from matcher.platforms.models import Platform

    for text, specialist in SPECIALISTS:
        result = demo_runtime.engine.match(MatchQuery.of(demo_runtime.taxonomy, text, limit=3))
        with demo_runtime.session() as s:
            ranked = [s.get(Platform, m.platform_id).external_id for m in result.matches]  # type: ignore[union-attr]
        assert ranked[0] == specialist, (text, ranked)
