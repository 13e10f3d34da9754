"""Direction inference from neighbours: the most relevant platforms' directions vote."""

from __future__ import annotations

import pytest

from matcher.matching.directions import vote_directions

pytestmark = pytest.mark.backend_independent


def test_the_closest_platforms_decide() -> None:
    neighbours = [
        (0.80, {"hydrogen": 1.0}),
        (0.78, {"hydrogen": 1.0, "new_energy_storage": 1.0}),
        (0.60, {"steel": 1.0}),
        (0.55, {"steel": 1.0}),
        (0.50, {"steel": 1.0}),
    ]
    got = vote_directions(neighbours)
    assert got[0].code == "hydrogen"
    assert got[0].confidence > 0.6
    assert "steel" not in [d.code for d in got]  # far less relevant: its votes barely count
    assert abs(sum(d.confidence for d in vote_directions(neighbours, min_confidence=0)) - 1) < 1e-3


def test_inferred_directions_vote_with_their_confidence() -> None:
    listed = vote_directions([(0.8, {"food": 1.0}), (0.8, {"textiles": 0.3}), (0.1, {"x": 1.0})])
    assert [d.code for d in listed][:2] == ["food", "textiles"]
    assert listed[0].confidence > listed[1].confidence


def test_too_few_neighbours_with_directions_give_nothing() -> None:
    assert vote_directions([(0.9, {"food": 1.0}), (0.8, {}), (0.7, {})]) == []
    assert vote_directions([]) == []
