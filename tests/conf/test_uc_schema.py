"""`--params uc.schema=<name>` (what every dev job passes: the deploying user's schema) moves
every Unity Catalog name of a run: tables, the landing volume with its state and checkpoints,
reports, and the registered model. A name left in the env's schema would be shared by two
people's dev deployments."""

from __future__ import annotations

import json

import pytest
from kedro.config import OmegaConfigLoader

from financial_mlops import settings
from tests.conftest import REPO

SHARED = "financial_transactions"
MINE = "dev_alice_financial_transactions"


def _resolved(env: str, runtime_params: dict) -> str:
    """The env's catalog and parameters, resolved, as one JSON text (without the runtime
    parameters themselves, which Kedro adds to the parameters)."""
    loader = OmegaConfigLoader(str(REPO / "conf"), env=env, runtime_params=runtime_params, **{
        k: v for k, v in settings.CONFIG_LOADER_ARGS.items() if k != "default_run_env"})
    parameters = {k: v for k, v in loader["parameters"].items()
                  if k not in runtime_params and not k.startswith("_")}  # `_`: variables
    return json.dumps({"catalog": loader["catalog"], "parameters": parameters})


@pytest.mark.parametrize("env", ["dev", "acc", "prd"])
def test_a_run_given_a_schema_names_nothing_in_the_env_schema(env):
    experiment = {"mlflow": {"experiment": "/Shared/x"}}
    shared = _resolved(env, experiment)
    mine = _resolved(env, experiment | {"uc": {"schema": MINE}})
    assert SHARED in shared and MINE not in shared
    assert SHARED not in mine.replace(MINE, "")
    # Every name moved: the same places, only the schema differs.
    assert mine.count(MINE) == shared.count(SHARED)
    names = json.loads(mine)
    assert names["catalog"]["bronze_trades"]["table"] == f"mlops_{env}.{MINE}.bronze_trades"
    assert names["catalog"]["landing_trades"]["path"] == (
        f"/Volumes/mlops_{env}/{MINE}/streaming_landing/trades")
    assert names["catalog"]["anomaly_scores"]["save_args"]["checkpoint"].startswith(
        f"/Volumes/mlops_{env}/{MINE}/streaming_landing/")
    for pipeline in ("tournament", "deployment", "inference", "validation", "rollback"):
        assert names["parameters"][pipeline]["registered_model_name"] == (
            f"mlops_{env}.{MINE}.anomaly_detector"), pipeline


def test_the_local_env_ignores_the_schema():
    assert _resolved("local", {}) == _resolved("local", {"uc": {"schema": MINE}})
