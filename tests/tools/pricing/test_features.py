"""Price features: the zero-price regime, shipping as its own component, discounts, components, charm, interactions."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from tools.pricing.errors import InvalidLines
from tools.pricing.features import compute, line_features, to_cents
from tools.pricing.specs import features
from tools.spec import ToolContext, fixed_token


def _one(**line: object) -> dict[str, object]:
    return line_features([{"unit_price": 1.0, **line}])["lines"][0]


def test_zero_and_one_cent_are_different_regimes() -> None:
    free, penny = line_features([{"unit_price": 0.0}, {"unit_price": 0.01}])["lines"]
    assert free["is_free"] is True
    assert penny["is_free"] is False
    # A price that shows as 0.00 is free; one that shows as 0.01 is not.
    assert _one(unit_price=0.004)["is_free"] is True
    assert _one(unit_price=0.005 + 1e-9)["is_free"] is False


def test_free_shipping_is_its_own_component_and_unknown_is_not_free() -> None:
    rows = line_features([
        {"unit_price": 5.0, "shipping": 0.0},
        {"unit_price": 5.0, "shipping": 0.01},
        {"unit_price": 5.0},
    ])["lines"]
    assert [r["is_free_shipping"] for r in rows] == [True, False, None]
    assert rows[1]["shipping_share"] == pytest.approx(0.01 / 5.01)
    assert rows[2]["shipping_share"] is None
    paid = _one(unit_price=2.0, quantity=3, shipping=4.0)
    assert (paid["item_total"], paid["line_total"], paid["shipping_share"]) == (6.0, 10.0, 0.4)


def test_discount_depth_against_the_list_price() -> None:
    assert _one(unit_price=7.5, list_price=10.0)["discount_depth"] == pytest.approx(0.25)
    assert _one(unit_price=7.5, list_price=10.0)["is_discounted"] is True
    above = _one(unit_price=12.0, list_price=10.0)
    assert (above["discount_depth"], above["is_discounted"]) == (0.0, False)
    assert _one(unit_price=0.0, list_price=10.0)["discount_depth"] == 1.0
    assert _one(unit_price=7.5)["discount_depth"] is None


def test_components_and_charm_endings() -> None:
    charm = _one(unit_price=12.99)
    assert (charm["whole_units"], charm["cents"], charm["left_digit"]) == (12, 99, 1)
    assert charm["ends_99"] and charm["ends_9"] and not charm["ends_95"] and not charm["is_round"]
    assert charm["log_price"] == pytest.approx(np.log1p(12.99))
    assert _one(unit_price=4.95)["ends_95"] is True
    assert _one(unit_price=0.49)["ends_9"] is True
    assert _one(unit_price=3.0)["is_round"] is True
    assert _one(unit_price=0.0)["is_round"] is False, "free is its own regime, not a round price"
    assert (_one(unit_price=2.99)["left_digit"], _one(unit_price=3.0)["left_digit"]) == (2, 3)
    assert _one(unit_price=0.85)["left_digit"] == 0
    # Binary floats must not move a price across a cent: 0.29 * 100 is 28.999999999999996.
    assert to_cents(np.array([0.29, 2.675, 1.15]))[0] == 29


def test_is_free_by_category_interactions_are_sparse_with_the_columns_listed() -> None:
    answer = line_features([
        {"unit_price": 0.0, "category": "toys", "shipping": 0.0, "id": "a"},
        {"unit_price": 0.01, "category": "toys", "shipping": 2.0},
        {"unit_price": 0.0, "category": "books", "shipping": 3.0},
        {"unit_price": 0.0},
    ])
    assert answer["interaction_columns"] == [
        "is_free:books", "is_free:toys", "is_free_shipping:books", "is_free_shipping:toys",
    ]
    assert [r["interactions"] for r in answer["lines"]] == [
        {"is_free:toys": 1, "is_free_shipping:toys": 1}, {}, {"is_free:books": 1}, {},
    ]
    assert answer["lines"][0]["id"] == "a"
    assert answer["summary"] == {"lines": 4, "free": 3, "shipping_known": 3, "free_shipping": 1, "discounted": 0}


def test_the_array_core_rejects_impossible_values() -> None:
    with pytest.raises(ValueError, match="not negative"):
        compute([-1.0])
    with pytest.raises(ValueError, match="quantities"):
        compute([1.0], [0.0])
    with pytest.raises(ValueError, match="one entry per line"):
        compute([1.0, 2.0], [1.0])


async def test_the_handler_turns_bad_lines_into_an_invalid_request(tmp_path: object) -> None:
    ctx = ToolContext(user="alice", agent="chat-bot", scopes=frozenset({"pricing:read"}), sign=fixed_token("t"), claims={},
                      trace_id=None, settings=Settings())
    with pytest.raises(InvalidLines) as raised:
        await features({"lines": [{"unit_price": -1.0}]}, ctx)
    assert raised.value.code == "invalid_lines" and raised.value.status == 400
