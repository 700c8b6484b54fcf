"""The promotion rules over generated metric sets: a challenger that breaks any rule is never
promoted, one that passes every rule always is."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from financial_mlops.promotion.gates import FLOOR_METRICS, SECONDARY_METRICS, decide

unit = st.floats(0.0, 1.0)
fraction = st.floats(0.0, 0.99)  # of a tolerance: keeps float rounding clear of the limit
positive = st.floats(1e-6, 0.2)


@st.composite
def rule_sets(draw) -> dict:
    return {
        "min_delta": draw(st.floats(0.0, 0.1)),
        "bootstrap": {"enabled": draw(st.booleans())},
        "max_regression": {m: draw(st.floats(0.0, 0.1)) for m in SECONDARY_METRICS},
        "stability": {"max_train_val_gap": draw(st.floats(0.01, 0.5)),
                      "max_batch_pr_auc_spread": draw(st.floats(0.01, 0.5))},
        "floors": {m: draw(st.floats(0.05, 0.9)) for m in FLOOR_METRICS},
        "smoke": {"max_latency_seconds": draw(st.floats(0.1, 10.0))},
    }


@st.composite
def passing_cases(draw) -> tuple[dict, dict | None, dict]:
    """Rules, and a challenger (and champion, or none) that satisfy every one of them."""
    rules = draw(rule_sets())
    stability = rules["stability"]
    rows = draw(st.integers(1, 10_000))
    challenger = {
        "train_val_gap": draw(st.floats(-0.1, 0.99 * stability["max_train_val_gap"])),
        "batch_pr_auc_spread": 0.99 * stability["max_batch_pr_auc_spread"] * draw(unit),
        "missing": [],
        "smoke": {"rows_expected": rows, "rows_scored": rows, "finite": True,
                  "latency_seconds": 0.99 * rules["smoke"]["max_latency_seconds"] * draw(unit)},
    }
    if draw(st.booleans()):  # no champion yet: absolute floors
        for metric, floor in rules["floors"].items():
            challenger[metric] = floor + (1 - floor) * draw(unit)
        return rules, challenger, None
    gain = rules["min_delta"] + draw(positive)
    champion = {"pr_auc": draw(st.floats(0.0, 1.0 - gain))}
    challenger["pr_auc"] = champion["pr_auc"] + gain
    challenger["pr_auc_diff_ci_low"] = rules["min_delta"] + draw(positive)
    for metric in SECONDARY_METRICS:
        champion[metric] = draw(unit)
        challenger[metric] = champion[metric] - rules["max_regression"][metric] * draw(fraction)
    return rules, challenger, champion


BAD_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, None, "n/a"])


@st.composite
def broken_cases(draw) -> tuple[dict, dict | None, dict, str]:
    """A passing case with exactly one rule broken; also returns the check that must fail."""
    rules, challenger, champion = draw(passing_cases())
    rule = draw(st.sampled_from(
        ["stability", "completeness", "smoke", "not_a_number"]
        + (["floor"] if champion is None else ["improvement", "regression"])
        + (["ci_low"] if champion is not None and rules["bootstrap"]["enabled"] else [])))
    if rule == "floor":
        metric = draw(st.sampled_from(FLOOR_METRICS))
        challenger[metric] = rules["floors"][metric] * draw(fraction)
        return rules, challenger, champion, f"{metric}_floor"
    if rule == "improvement":
        challenger["pr_auc"] = champion["pr_auc"] + rules["min_delta"] * draw(fraction) - draw(
            st.sampled_from([0.0, 0.05]))
        return rules, challenger, champion, "pr_auc_improvement"
    if rule == "ci_low":
        challenger["pr_auc_diff_ci_low"] = rules["min_delta"] - draw(st.floats(0.0, 0.5))
        return rules, challenger, champion, "pr_auc_improvement_ci_low"
    if rule == "regression":
        metric = draw(st.sampled_from(SECONDARY_METRICS))
        challenger[metric] = champion[metric] - rules["max_regression"][metric] - draw(positive)
        return rules, challenger, champion, f"{metric}_regression"
    if rule == "stability":
        metric, limit = draw(st.sampled_from([("train_val_gap", "max_train_val_gap"),
                                              ("batch_pr_auc_spread", "max_batch_pr_auc_spread")]))
        challenger[metric] = rules["stability"][limit] + draw(positive)
        return rules, challenger, champion, metric
    if rule == "completeness":
        challenger["missing"] = draw(st.lists(st.sampled_from(
            ["metric test_f1", "tag git_sha", "artifact model", "param candidate"]), min_size=1))
        return rules, challenger, champion, "run_completeness"
    if rule == "smoke":
        smoke = challenger["smoke"]
        fault = draw(st.sampled_from(["error", "short", "non_finite", "slow"]))
        if fault == "error":
            smoke["error"] = "OSError: model files missing"
        elif fault == "short":
            smoke["rows_scored"] = smoke["rows_expected"] - draw(st.integers(1, 5))
        elif fault == "non_finite":
            smoke["finite"] = False
        else:
            smoke["latency_seconds"] = rules["smoke"]["max_latency_seconds"] * 1.01 + 0.01
        return rules, challenger, champion, "smoke_test"
    metric = draw(st.sampled_from(["pr_auc", "train_val_gap", "batch_pr_auc_spread"]
                                  + ([] if champion is None else ["f1", "recall"])))
    challenger[metric] = draw(BAD_NUMBERS)
    failing = {"pr_auc": "pr_auc_floor" if champion is None else "pr_auc_improvement",
               "f1": "f1_regression", "recall": "recall_regression"}
    return rules, challenger, champion, failing.get(metric, metric)


@settings(max_examples=400, deadline=None)
@given(passing_cases())
def test_a_challenger_passing_every_rule_is_promoted(case):
    rules, challenger, champion = case
    decision = decide(challenger, champion, rules)
    assert decision.promote, decision.reasons
    assert decision.reasons == []


@settings(max_examples=600, deadline=None)
@given(broken_cases())
def test_a_challenger_breaking_any_rule_is_never_promoted(case):
    rules, challenger, champion, broken = case
    decision = decide(challenger, champion, rules)
    assert not decision.promote
    failed = {check.name for check in decision.checks if not check.passed}
    assert broken in failed
    assert any(reason.startswith(broken) for reason in decision.reasons)


def test_each_check_reports_its_value_limit_and_verdict():
    rules = {"min_delta": 0.01, "bootstrap": {"enabled": True},
             "max_regression": {"f1": 0.02, "precision": 0.05, "recall": 0.05},
             "stability": {"max_train_val_gap": 0.1, "max_batch_pr_auc_spread": 0.1},
             "floors": {}, "smoke": {"max_latency_seconds": 5.0}}
    challenger = {"pr_auc": 0.80, "pr_auc_diff_ci_low": 0.004, "f1": 0.7, "precision": 0.7,
                  "recall": 0.7, "train_val_gap": 0.02, "batch_pr_auc_spread": 0.03,
                  "missing": ["tag git_sha"],
                  "smoke": {"rows_expected": 10, "rows_scored": 10, "finite": True,
                            "latency_seconds": 0.2}}
    champion = {"pr_auc": 0.75, "f1": 0.7, "precision": 0.7, "recall": 0.7}
    decision = decide(challenger, champion, rules)
    checks = {check.name: check for check in decision.checks}
    assert not decision.promote
    assert checks["pr_auc_improvement"].passed
    assert math.isclose(checks["pr_auc_improvement"].value, 0.05)
    assert checks["pr_auc_improvement"].limit == 0.01
    assert not checks["pr_auc_improvement_ci_low"].passed
    assert decision.reasons == [
        "pr_auc_improvement_ci_low = 0.004 (needs > 0.01): FAILED",
        "run_completeness: missing tag git_sha: FAILED",
    ]


def test_out_of_distribution_gate_needs_the_configured_lift_over_the_rule():
    rules = {"floors": {m: 0.0 for m in ("pr_auc", "f1", "precision", "recall")},
             "stability": {"max_train_val_gap": 1.0, "max_batch_pr_auc_spread": 1.0},
             "smoke": {"max_latency_seconds": 10.0}, "ood": {"min_lift_over_rule": 0.2}}
    challenger = {"pr_auc": 0.9, "f1": 0.9, "precision": 0.9, "recall": 0.9,
                  "train_val_gap": 0.0, "batch_pr_auc_spread": 0.0, "missing": [],
                  "smoke": {"rows_scored": 3, "rows_expected": 3, "finite": True,
                            "latency_seconds": 0.1},
                  "ood_test_pr_auc": 0.95, "rule_ood_test_pr_auc": 0.70}
    assert decide(challenger, None, rules).promote
    weak = decide({**challenger, "ood_test_pr_auc": 0.85}, None, rules)
    assert not weak.promote and weak.reasons == [
        "ood_lift_over_rule = 0.15 (needs ood_test_pr_auc - rule_ood_test_pr_auc >= 0.2): FAILED"]
    unmeasured = decide({**challenger, "ood_test_pr_auc": None}, None, rules)
    assert not unmeasured.promote  # a run without the figure never passes
    assert decide({**challenger, "ood_test_pr_auc": None}, None,
                  {**rules, "ood": {"min_lift_over_rule": None}}).promote
