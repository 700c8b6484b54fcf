"""Deciding and applying promotions on a real local SQLite registry, node by node."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import mlflow
import pytest
from mlflow import MlflowClient

from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import champion_history, lock_name, read_aliases
from financial_mlops.promotion.challenger import DECISION_TAG, run_evidence, run_items
from financial_mlops.promotion.records import ensure_succeeded
from tests.pipelines.deployment.conftest import MODEL, delete_model_files
from tests.pipelines.deployment.contract_model import register_version
from tests.pipelines.deployment.stages import apply_promotion, decide_promotion


@pytest.fixture
def register(registry, gold_and_labels):
    gold, labels = gold_and_labels
    return lambda name=MODEL, **kwargs: str(register_version(name, gold, labels, **kwargs).version)


@pytest.fixture
def champion_and_challenger(register, scoring_slice, params) -> tuple[str, str]:
    """v1 (medium) promoted to champion, then v2 (strong) registered and not yet decided."""
    v1 = register(feature="f_medium")
    deploy(scoring_slice, params)
    return v1, register(feature="f_strong")


def deploy(scoring_slice, params) -> tuple[dict, dict]:
    decision = decide_promotion(scoring_slice, params["deployment"])
    return decision, apply_promotion(decision, scoring_slice, params["validation"])


def checks_of(record: dict) -> dict[str, dict]:
    return {check["name"]: check for check in record["checks"]}


def test_first_challenger_clearing_the_floors_becomes_champion(register, scoring_slice, params):
    v1 = register(feature="f_medium")
    decision, change = deploy(scoring_slice, params)

    assert decision["status"] == "promote" and change["status"] == "promoted"
    assert set(checks_of(decision)) >= {"pr_auc_floor", "f1_floor", "run_completeness",
                                        "smoke_test", "train_val_gap"}
    client = MlflowClient()
    assert read_aliases(client, MODEL).as_dict() == {"champion": v1, "previous_champion": None}
    tags = client.get_model_version(MODEL, v1).tags
    assert tags[DECISION_TAG] == "promoted"
    assert tags["promotion_run_id"] == decision["decision_run_id"]
    assert {"promoted_at", "promoted_git_sha"} <= set(tags)
    [entry] = champion_history(client, MODEL)
    assert entry | {"at": None} == {"at": None, "action": "promoted", "champion": v1,
                                    "previous": None, "run": decision["decision_run_id"]}
    run = client.get_run(decision["decision_run_id"])
    assert run.data.tags["decision"] == "promote" and run.data.tags["outcome"] == "promoted"
    assert run.data.metrics["check.pr_auc_floor.passed"] == 1.0
    assert run.data.metrics["check.pr_auc_floor.value"] == pytest.approx(
        decision["challenger"]["pr_auc"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"promotion_decision.json", "champion_change.json"}
    assert not change["validation"]["reasons"]
    # Deciding again finds nothing new: the latest version is the champion.
    assert decide_promotion(scoring_slice, params["deployment"])["status"] == "no_challenger"


def test_a_challenger_breaking_rules_is_rejected_with_its_reasons(register, scoring_slice, params):
    v1 = register(feature="f_medium")
    deploy(scoring_slice, params)
    rejected = {
        "incomplete": register(feature="f_strong",
                               omit=["metric test_f1", "artifact reference_profile.json"]),
    }
    decision, change = deploy(scoring_slice, params)
    rejected["unstable"] = register(feature="f_strong", metrics={"train_val_gap": 0.4})
    unstable, _ = deploy(scoring_slice, params)
    rejected["broken"] = register(feature="f_strong", broken=True)
    broken, _ = deploy(scoring_slice, params)
    rejected["worse"] = register(feature="f_noise")
    worse, _ = deploy(scoring_slice, params)

    assert decision["status"] == "reject" and change["status"] == "rejected"
    assert decision["reasons"] == [
        "run_completeness: missing metric test_f1, artifact reference_profile.json: FAILED"]
    assert unstable["reasons"] == ["train_val_gap = 0.4 (needs <= 0.1): FAILED"]
    assert [r.split()[0].rstrip(":") for r in broken["reasons"]] == ["pr_auc_improvement",
                                                            "pr_auc_improvement_ci_low",
                                                            "f1_regression", "precision_regression",
                                                            "recall_regression", "smoke_test"]
    assert "non-finite scores" in broken["reasons"][-1]
    assert {c["name"] for c in worse["checks"] if not c["passed"]} >= {
        "pr_auc_improvement", "pr_auc_improvement_ci_low"}
    client = MlflowClient()
    assert read_aliases(client, MODEL).champion == v1
    assert len(champion_history(client, MODEL)) == 1
    for version in rejected.values():
        assert client.get_model_version(MODEL, version).tags[DECISION_TAG] == "rejected"
    recorded = mlflow.artifacts.load_dict(
        f"runs:/{decision['decision_run_id']}/promotion_decision.json")
    assert recorded["reasons"] == decision["reasons"]


def test_a_better_challenger_replaces_the_champion_who_becomes_previous(
        champion_and_challenger, scoring_slice, params):
    v1, v2 = champion_and_challenger
    decision, change = deploy(scoring_slice, params)

    assert decision["status"] == "promote", decision["reasons"]
    assert decision["bootstrap"]["ci_low"] > params["deployment"]["min_delta"]
    assert checks_of(decision)["pr_auc_improvement_ci_low"]["passed"]
    assert change["after"] == {"champion": v2, "previous_champion": v1}
    assert [c["name"] for c in change["validation"]["checks"]] == [
        "champion_alias", "champion_outputs", "rollback_dry_run"]
    assert change["validation"]["passed"]


def test_a_promotion_failing_validation_is_reverted_and_fails_the_run(
        champion_and_challenger, scoring_slice, params):
    v1, v2 = champion_and_challenger
    decision = decide_promotion(scoring_slice, params["deployment"])
    delete_model_files(MODEL, v2)  # the model's storage is lost after the decision
    change = apply_promotion(decision, scoring_slice, params["validation"])

    client = MlflowClient()
    assert change["status"] == "reverted"
    assert read_aliases(client, MODEL).as_dict() == {"champion": v1, "previous_champion": None}
    assert [e["action"] for e in champion_history(client, MODEL)] == [
        "promoted", "promoted", "revert"]
    assert client.get_model_version(MODEL, v2).tags[DECISION_TAG] == "reverted"
    with pytest.raises(UserError) as failure:
        ensure_succeeded(change)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"post-deploy validation of {MODEL} v{v2} failed (")
    assert message.endswith(f"champion restored to v{v1}")


def test_a_champion_moved_since_the_decision_is_a_conflict_that_changes_nothing(
        champion_and_challenger, register, scoring_slice, params):
    v1, v2 = champion_and_challenger
    decision = decide_promotion(scoring_slice, params["deployment"])
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", v2)  # someone else, meanwhile
    client.set_registered_model_alias(MODEL, "champion", v1)
    v3 = register(feature="f_strong")
    client.set_registered_model_alias(MODEL, "champion", v3)
    change = apply_promotion(decision, scoring_slice, params["validation"])

    assert change["status"] == "conflict"
    assert "moved from v1 to v3" in change["error"]
    assert read_aliases(client, MODEL).as_dict() == {"champion": v3, "previous_champion": None}
    assert DECISION_TAG not in client.get_model_version(MODEL, v2).tags  # decided again later
    assert len(champion_history(client, MODEL)) == 1


def test_a_held_promotion_lock_is_a_conflict_and_stays_with_its_holder(
        register, scoring_slice, params):
    register(feature="f_medium")
    decision = decide_promotion(scoring_slice, params["deployment"])
    client = MlflowClient()
    client.create_registered_model(lock_name(MODEL), tags={"holder": "run-42", "since": "noon"})
    change = apply_promotion(decision, scoring_slice, params["validation"])

    assert change["status"] == "conflict"
    assert "holds the promotion lock of anomaly_detector (run run-42 since noon)" in change["error"]
    assert "expires 30 min after it was taken" in change["error"]
    assert read_aliases(client, MODEL).champion is None
    assert client.get_registered_model(lock_name(MODEL)).tags["holder"] == "run-42"


@pytest.mark.parametrize(("age_minutes", "taken_over"), [(29, False), (31, True)])
def test_a_lock_older_than_its_expiry_is_taken_over(register, scoring_slice, params,
                                                     age_minutes, taken_over):
    version = register(feature="f_medium")
    decision = decide_promotion(scoring_slice, params["deployment"])
    client = MlflowClient()
    since = datetime.now(UTC) - timedelta(minutes=age_minutes)  # lock_expires_minutes: 30
    client.create_registered_model(lock_name(MODEL), tags={
        "holder": "killed-run", "since": since.isoformat(timespec="seconds")})
    change = apply_promotion(decision, scoring_slice, params["validation"])

    if taken_over:
        assert change["status"] == "promoted"
        assert read_aliases(client, MODEL).champion == version
        assert lock_name(MODEL) not in {m.name for m in client.search_registered_models()}
    else:
        assert change["status"] == "conflict"
        assert client.get_registered_model(lock_name(MODEL)).tags["holder"] == "killed-run"


def test_two_racing_deployments_move_the_champion_at_most_once(
        champion_and_challenger, scoring_slice, params):
    v1, v2 = champion_and_challenger
    decided = threading.Barrier(2)
    changes, errors = [], []

    def deployment() -> None:
        try:
            decision = decide_promotion(scoring_slice, params["deployment"])
            decided.wait(timeout=60)  # both decided against champion v1 before either applies
            changes.append(apply_promotion(decision, scoring_slice, params["validation"]))
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=deployment) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert sorted(c["status"] for c in changes) == ["conflict", "promoted"]
    client = MlflowClient()
    assert read_aliases(client, MODEL).as_dict() == {"champion": v2, "previous_champion": v1}
    assert [e["action"] for e in champion_history(client, MODEL)] == ["promoted", "promoted"]
    assert lock_name(MODEL) not in {m.name for m in client.search_registered_models()}


def test_unity_catalog_three_level_names_work_the_same(register, scoring_slice, params):
    name = "mlops_dev.financial_transactions.anomaly_detector"
    v1 = register(name, feature="f_medium")
    params["deployment"]["registered_model_name"] = name
    decision, change = deploy(scoring_slice, params)

    assert change["status"] == "promoted"
    assert read_aliases(MlflowClient(), name).champion == v1


def test_an_unknown_commit_is_missing_evidence_on_databricks_and_a_warning_locally(
        register, params, monkeypatch, caplog):
    version = MlflowClient().get_model_version(MODEL, register(feature="f_strong"))
    MlflowClient().set_tag(version.run_id, "git_sha", "unknown")
    required = params["deployment"]["required"]
    assert "git_sha" in required["tags"]

    items = run_items(MlflowClient(), version)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert run_evidence(items, version.version, required)["missing"] == []
    assert "unknown commit" in caplog.text

    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    missing = run_evidence(items, version.version, required)["missing"]
    assert len(missing) == 1 and missing[0].startswith("tag git_sha (it is 'unknown'"), missing
