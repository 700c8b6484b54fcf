"""The champion stages' nodes run as a Kedro run runs them: inputs loaded from the registry
datasets, outputs saved through them and read back (``datasets.registry``), so a test drives one
stage at a time with the same signatures the stages had before the registry became datasets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from financial_mlops.datasets.registry import ChallengerDataset, ChampionDataset, RecordDataset
from financial_mlops.pipelines.deployment import nodes as deployment
from financial_mlops.pipelines.rollback import nodes as rollback_nodes
from financial_mlops.pipelines.validation import nodes as validation_nodes
from financial_mlops.promotion.change import change_record


def _saved(record: dict, artifact: str, run_id_key: str = "run_id") -> dict:
    """``record`` saved through a ``RecordDataset`` (its MLflow record run too) and read back."""
    folder = Path(tempfile.mkdtemp(prefix="records-"))
    dataset = RecordDataset(filepath=str(folder / artifact), artifact=artifact,
                            run_id_key=run_id_key)
    dataset.save(record)
    return dataset.load()


def _moved(move: dict) -> dict:
    """``move`` saved to the champion (which carries it out) and the change record read back."""
    deployed = ChampionDataset(registered_model_name=move["model"])
    deployed.save(move)
    return change_record(deployed.load())


def decide_promotion(scoring_slice: pd.DataFrame, params: dict) -> dict:
    name = params["registered_model_name"]
    record = deployment.decide_promotion(
        scoring_slice, ChampionDataset(registered_model_name=name).load(),
        ChallengerDataset(registered_model_name=name).load(), params)
    return _saved(record, "promotion_decision.json", "decision_run_id")


def apply_promotion(decision: dict, scoring_slice: pd.DataFrame, validation: dict) -> dict:
    return _moved(deployment.apply_promotion(decision, scoring_slice, validation))


def roll_back_champion(rows: pd.DataFrame, rollback: dict, validation: dict) -> dict:
    champion = ChampionDataset(registered_model_name=rollback["registered_model_name"]).load()
    return _moved(rollback_nodes.roll_back_champion(champion, rows, rollback, validation))


def validate_current_champion(rows: pd.DataFrame, validation: dict) -> dict:
    champion = ChampionDataset(registered_model_name=validation["registered_model_name"]).load()
    return _saved(validation_nodes.validate_current_champion(champion, rows, validation),
                  "validation_report.json")
