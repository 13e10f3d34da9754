"""A match query is checked and normalised once, where it is made (``MatchQuery.of``)."""

from __future__ import annotations

import pytest

from matcher import InvalidInput, MatchQuery, default_taxonomy

pytestmark = pytest.mark.backend_independent


def test_every_invalid_value_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        MatchQuery.of(
            default_taxonomy(), " ", trl=12, limit=0, tiers=["gold"], area="mining", directions=["nope"]
        )
    assert {e.field for e in caught.value.errors} == {
        "text",
        "trl",
        "limit",
        "tier[0]",
        "area",
        "directions[0]",
    }


def test_the_text_is_normalised_and_a_single_code_may_be_a_string() -> None:
    query = MatchQuery.of(default_taxonomy(), "  軟體　測試 ", tiers="national", province="广东", limit=3)
    assert query.text == "软件 测试"
    assert query.tiers == ("national",) and query.need.provinces == ("guangdong",) and query.limit == 3
