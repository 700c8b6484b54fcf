"""Rollback and on-demand validation on a real local SQLite registry, node by node."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import champion_history, read_aliases
from financial_mlops.registry import model_versions
from tests.pipelines.deployment.conftest import MODEL, delete_model_files
from tests.pipelines.deployment.contract_model import register_version
from tests.pipelines.deployment.stages import (
    apply_promotion,
    decide_promotion,
    roll_back_champion,
    validate_current_champion,
)


@pytest.fixture
def two_champions(registry, gold_and_labels, scoring_slice, params) -> tuple[str, str]:
    """v1 promoted, then v2 promoted over it: champion v2, previous_champion v1."""
    gold, labels = gold_and_labels
    versions = []
    for feature in ("f_medium", "f_strong"):
        versions.append(str(register_version(MODEL, gold, labels, feature=feature).version))
        decision = decide_promotion(scoring_slice, params["deployment"])
        assert apply_promotion(decision, scoring_slice, params["validation"])["error"] is None
    return tuple(versions)


def roll_back(rows, params, to_version=None) -> dict:
    return roll_back_champion(rows, {**params["rollback"], "to_version": to_version},
                              params["validation"])


def test_rollback_restores_the_previous_champion_and_can_itself_be_undone(
        two_champions, scoring_slice, params):
    v1, v2 = two_champions
    client = MlflowClient()
    change = roll_back(scoring_slice, params)

    assert change["status"] == "rolled_back" and change["error"] is None
    assert read_aliases(client, MODEL).as_dict() == {"champion": v1, "previous_champion": v2}
    assert [c["name"] for c in change["validation"]["checks"]] == ["champion_alias",
                                                                    "champion_outputs"]
    run = client.get_run(change["run_id"])
    assert (run.data.tags["outcome"], run.data.tags["to_version"]) == ("rolled_back", v1)
    assert run.data.metrics["check.champion_outputs.passed"] == 1.0
    assert {a.path for a in client.list_artifacts(change["run_id"])} == {"rollback_record.json"}
    assert client.get_model_version(MODEL, v1).tags["promotion_run_id"] == change["run_id"]

    roll_back(scoring_slice, params)
    assert read_aliases(client, MODEL).as_dict() == {"champion": v2, "previous_champion": v1}
    assert [e["action"] for e in champion_history(client, MODEL)] == [
        "promoted", "promoted", "rolled_back", "rolled_back"]
    assert [v.version for v in model_versions(MODEL, client)] == [2, 1]  # nothing deleted


def test_rollback_to_a_named_version(two_champions, registry, gold_and_labels, scoring_slice,
                                     params):
    v1, v2 = two_champions
    gold, labels = gold_and_labels
    v3 = str(register_version(MODEL, gold, labels, feature="f_noise").version)
    roll_back(scoring_slice, params, to_version=int(v3))
    assert read_aliases(MlflowClient(), MODEL).as_dict() == {"champion": v3,
                                                             "previous_champion": v2}


@pytest.mark.parametrize(("to_version", "message"), [
    (None, "anomaly_detector has no previous_champion to roll back to: name a version with "
           "rollback.to_version"),
    (7, "rollback target version 7 of anomaly_detector does not exist"),
    (1, "version 1 of anomaly_detector is already the champion: nothing to roll back"),
])
def test_impossible_rollbacks_are_one_line_errors_that_change_nothing(
        registry, gold_and_labels, scoring_slice, params, to_version, message):
    gold, labels = gold_and_labels
    register_version(MODEL, gold, labels, feature="f_medium")
    apply_promotion(decide_promotion(scoring_slice, params["deployment"]), scoring_slice,
                    params["validation"])
    with pytest.raises(UserError, match=f"^{message}$"):
        roll_back(scoring_slice, params, to_version=to_version)
    assert read_aliases(MlflowClient(), MODEL).as_dict() == {"champion": "1",
                                                             "previous_champion": None}


def test_a_rollback_to_a_version_that_cannot_serve_is_undone(two_champions, scoring_slice,
                                                             params):
    v1, v2 = two_champions
    delete_model_files(MODEL, v1)
    change = roll_back(scoring_slice, params)

    assert change["status"] == "reverted"
    assert change["error"].startswith(f"post-deploy validation of {MODEL} v{v1} failed (")
    assert read_aliases(MlflowClient(), MODEL).as_dict() == {"champion": v2,
                                                             "previous_champion": v1}


def test_validation_on_demand_passes_for_a_healthy_champion(two_champions, scoring_slice,
                                                            params):
    report = validate_current_champion(scoring_slice, params["validation"])
    assert report["passed"] and report["error"] is None
    assert report["champion_version"] == report["expected_version"] == two_champions[1]
    assert MlflowClient().get_run(report["run_id"]).data.tags["outcome"] == "passed"


def test_validation_on_demand_catches_a_hand_moved_alias_and_a_broken_way_back(
        two_champions, scoring_slice, params):
    v1, v2 = two_champions
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", v1)  # outside the pipelines
    client.set_registered_model_alias(MODEL, "previous_champion", v2)
    delete_model_files(MODEL, v2)
    report = validate_current_champion(scoring_slice, params["validation"])

    assert not report["passed"]
    assert [r.split(":")[0] for r in report["reasons"]] == ["champion_alias", "rollback_dry_run"]
    assert report["error"].startswith(
        f"validation of {MODEL}@champion failed (champion_alias: {MODEL}@champion is v{v1}, "
        f"expected v{v2}: FAILED; rollback_dry_run: error: ")
    assert report["error"].endswith("roll back with `kedro run --pipelines rollback`")


def test_validation_without_a_champion_is_a_one_line_error(registry, scoring_slice, params):
    with pytest.raises(UserError, match="^anomaly_detector has no champion to validate"):
        validate_current_champion(scoring_slice, params["validation"])


def test_a_rollback_to_a_version_trained_on_features_gold_no_longer_has_is_refused(
        two_champions, scoring_slice, params):
    """After gold's feature set changed (docs/features.md), the old version cannot score."""
    v1, v2 = two_champions
    without = scoring_slice.drop(columns=["f_medium"])  # v1 was trained on every f_* column
    with pytest.raises(UserError, match=f"^version {v1} of {MODEL} needs feature\\(s\\) gold no "
                                        "longer has \\(f_medium\\)"):
        roll_back(without, params)
    assert read_aliases(MlflowClient(), MODEL).as_dict() == {"champion": v2,
                                                             "previous_champion": v1}
