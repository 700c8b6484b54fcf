"""The registry datasets' own contract, where no registry is needed (the deployment tests drive
them against a real SQLite registry: tests/pipelines/deployment/stages.py)."""

from __future__ import annotations

import json

import pytest
from kedro.io import DatasetError

from financial_mlops.datasets.registry import ChampionDataset, ChampionResolver, RecordDataset


def test_a_champion_loads_as_a_resolver_when_asked():
    resolver = ChampionDataset(registered_model_name="m", load_args={"as": "resolver"}).load()
    assert isinstance(resolver, ChampionResolver)
    assert (resolver.name, resolver.alias) == ("m", "champion")


def test_an_unknown_load_mode_is_a_one_line_error():
    with pytest.raises(DatasetError, match="load_args.as 'model' is not one of value, resolver"):
        ChampionDataset(registered_model_name="m", load_args={"as": "model"})


def test_a_move_of_another_model_is_refused():
    with pytest.raises(DatasetError, match="a move of other cannot be saved to the champion of m"):
        ChampionDataset(registered_model_name="m").save({"model": "other", "kind": "keep"})


def test_a_record_without_a_run_is_only_the_json_file(tmp_path):
    path = tmp_path / "record.json"
    dataset = RecordDataset(filepath=str(path), artifact="record.json")
    dataset.save({"status": "no_challenger", "checks": []})
    assert json.loads(path.read_text()) == {"status": "no_challenger", "checks": []}
    assert dataset.load() == {"status": "no_challenger", "checks": []}
