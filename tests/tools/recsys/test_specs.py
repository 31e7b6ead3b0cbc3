"""The three tool handlers on a constructed data file: the loader, the model cache, errors, schemas."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from core.errors import TollhouseError
from core.settings import Settings
from tests.tools.recsys.shop import HEARTS, shop_lines, write_raw
from tools.recsys import specs
from tools.spec import ToolContext, fixed_token


def context(data_dir: Path | None) -> ToolContext:
    return ToolContext(user="alice", agent="ide-assistant", scopes=frozenset({specs.SCOPE}), sign=fixed_token(""), claims={}, trace_id=None, settings=Settings(), data_dir=data_dir)


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    write_raw(folder, shop_lines())
    return folder


def check(spec: specs.ToolSpec, arguments: dict[str, object], answer: dict[str, object]) -> None:
    jsonschema.validate(arguments, spec.input_schema)
    assert spec.output_schema is not None
    jsonschema.validate(answer, spec.output_schema)


async def test_recommend_similar_and_interests_answer_in_their_schemas(shop_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(specs.MAX_CUSTOMERS_ENV, raising=False)
    ctx = context(shop_dir)
    arguments = {"user_id": "12000", "k": 4, "exclude_seen": True}
    answer = await specs.recommend(arguments, ctx)
    check(specs.RECOMMEND, arguments, answer)
    assert answer["known_user"] and len(answer["items"]) == 4
    cold = await specs.recommend({"user_id": "99999"}, ctx)
    assert (cold["path"], cold["known_user"], len(cold["items"])) == ("cold_start", False, 10)
    similar = await specs.similar_items({"item_id": "10000", "k": 3}, ctx)
    check(specs.SIMILAR_ITEMS, {"item_id": "10000", "k": 3}, similar)
    assert all(item["id"] in HEARTS for item in similar["items"])
    interests = await specs.user_interests({"user_id": "12003"}, ctx)
    check(specs.USER_INTERESTS, {"user_id": "12003"}, interests)
    assert len(interests["interests"]) >= 2
    nobody = await specs.user_interests({"user_id": "99999"}, ctx)
    check(specs.USER_INTERESTS, {"user_id": "99999"}, nobody)
    assert nobody["interests"] == [] and nobody["note"]
    # Built once per data directory and cap.
    assert specs.model_for(shop_dir) is specs.model_for(shop_dir)


async def test_expected_failures_are_tollhouse_errors(shop_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(specs.MAX_CUSTOMERS_ENV, raising=False)
    with pytest.raises(specs.UnknownItem) as unknown:
        await specs.similar_items({"item_id": "99999"}, context(shop_dir))
    assert (unknown.value.code, unknown.value.status) == ("unknown_item", 404)
    for missing in (None, tmp_path / "empty"):
        with pytest.raises(TollhouseError) as error:
            await specs.recommend({"user_id": "12000"}, context(missing))
        assert (error.value.code, error.value.status) == ("data_unavailable", 503)
    monkeypatch.setenv(specs.MAX_CUSTOMERS_ENV, "many")
    with pytest.raises(specs.DataUnavailable):
        await specs.recommend({"user_id": "12000"}, context(shop_dir))


async def test_the_customer_cap_builds_on_a_slice(shop_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(specs.MAX_CUSTOMERS_ENV, "5")
    model = await specs._model(context(shop_dir))
    assert len(model.histories) == 5


def test_specs_carry_the_review_metadata() -> None:
    assert [spec.name for spec in specs.SPECS] == ["recsys.recommend", "recsys.similar_items", "recsys.user_interests"]
    for spec in specs.SPECS:
        assert (spec.owning_team, spec.required_scopes, spec.risk_class, spec.data_classification) == ("analytics", ("recsys:read",), "low", "internal")
        assert spec.input_schema["additionalProperties"] is False
        jsonschema.Draft202012Validator.check_schema(spec.input_schema)
        jsonschema.Draft202012Validator.check_schema(spec.output_schema or {})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"user_id": "1", "k": 101}, specs.RECOMMEND.input_schema)
