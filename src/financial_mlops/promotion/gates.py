"""The promotion rules as one pure function over plain metric dicts.

Pure so that every rule can be tested over many generated metric sets (tests/pipelines/deployment):
a challenger that breaks any rule is never promoted, one that passes all of them is.
A value that is missing or not finite fails its check: an unknown metric never counts as good.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

SECONDARY_METRICS = ("f1", "precision", "recall")
FLOOR_METRICS = ("pr_auc", *SECONDARY_METRICS)


@dataclass(frozen=True)
class Check:
    """One rule's verdict: the measured value, the limit it was held to, and why."""

    name: str
    value: float | None
    limit: float | None
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    promote: bool
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        """Why the challenger was rejected (empty when promoted)."""
        return [check.detail for check in self.checks if not check.passed]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def bounded(name: str, value: Any, limit: float, holds: Callable[[float, float], bool],
            text: str) -> Check:
    """``holds(value, limit)`` on a finite value; ``text`` describes the rule, e.g. '> 0.01'."""
    number = _number(value)
    passed = number is not None and bool(holds(number, float(limit)))
    shown = "missing" if number is None else f"{number:.4g}"
    verdict = "ok" if passed else "FAILED"
    return Check(name, number, float(limit), passed, f"{name} = {shown} (needs {text}): {verdict}")


def _difference(minuend: Any, subtrahend: Any) -> float | None:
    a, b = _number(minuend), _number(subtrahend)
    return None if a is None or b is None else a - b


def smoke_check(result: Mapping[str, Any], max_latency_seconds: float,
                name: str = "smoke_test") -> Check:
    """The model loaded and scored every row with finite scores within the latency bound
    (``result`` as returned by ``evaluation.smoke_test``)."""
    latency = _number(result.get("latency_seconds"))
    problems = []
    if result.get("error"):
        problems.append(f"error: {result['error']}")
    elif result.get("rows_scored") != result.get("rows_expected"):
        problems.append(f"scored {result.get('rows_scored')} of {result.get('rows_expected')} rows")
    elif not result.get("finite"):
        problems.append("non-finite scores or flags outside 0/1")
    if latency is None or latency > max_latency_seconds:
        problems.append(f"latency {latency} s over {max_latency_seconds} s")
    detail = "; ".join(problems) or f"{result.get('rows_scored')} rows in {latency:.3f} s"
    return Check(name, latency, float(max_latency_seconds), not problems,
                 f"{name}: {detail}: {'FAILED' if problems else 'ok'}")


def completeness_check(missing: list[str] | None) -> Check:
    """Every required parameter, metric, tag and artifact is on the challenger's run."""
    if missing is None:
        return Check("run_completeness", None, 0.0, False, "run_completeness: not checked: FAILED")
    if missing:
        return Check("run_completeness", float(len(missing)), 0.0, False,
                     f"run_completeness: missing {', '.join(missing)}: FAILED")
    return Check("run_completeness", 0.0, 0.0, True,
                 "run_completeness: every required item is logged: ok")


def decide(challenger: Mapping[str, Any], champion: Mapping[str, Any] | None,
           rules: Mapping[str, Any]) -> Decision:
    """Promote the challenger only if every rule holds.

    ``challenger``: ``pr_auc``, ``f1``, ``precision``, ``recall`` (on the recent slice),
    ``train_val_gap``, ``batch_pr_auc_spread``, ``ood_test_pr_auc`` and
    ``rule_ood_test_pr_auc`` (from its run; judged when ``rules.ood.min_lift_over_rule`` is
    set), ``pr_auc_diff_ci_low`` (bootstrap
    lower bound of challenger - champion PR-AUC; needed when ``rules.bootstrap.enabled`` and a
    champion exists), ``missing`` (required run items it lacks), ``smoke`` (see ``smoke_check``).
    ``champion``: the same slice metrics for the current champion, or None when there is none;
    then the challenger must clear ``rules.floors`` instead of beating it.
    """
    checks: list[Check] = []
    if champion is None:
        checks += [bounded(f"{metric}_floor", challenger.get(metric), rules["floors"][metric],
                           operator.ge, f">= {rules['floors'][metric]}")
                   for metric in FLOOR_METRICS]
    else:
        min_delta = rules["min_delta"]
        checks.append(bounded(
            "pr_auc_improvement", _difference(challenger.get("pr_auc"), champion.get("pr_auc")),
            min_delta, operator.gt, f"> {min_delta}"))
        if rules["bootstrap"]["enabled"]:
            checks.append(bounded("pr_auc_improvement_ci_low",
                                  challenger.get("pr_auc_diff_ci_low"), min_delta,
                                  operator.gt, f"> {min_delta}"))
        for metric in SECONDARY_METRICS:
            tolerance = rules["max_regression"][metric]
            checks.append(bounded(
                f"{metric}_regression", _difference(champion.get(metric), challenger.get(metric)),
                tolerance, operator.le, f"champion - challenger <= {tolerance}"))
    stability = rules["stability"]
    checks += [
        bounded("train_val_gap", challenger.get("train_val_gap"),
                stability["max_train_val_gap"], operator.le,
                f"<= {stability['max_train_val_gap']}"),
        bounded("batch_pr_auc_spread", challenger.get("batch_pr_auc_spread"),
                stability["max_batch_pr_auc_spread"], operator.le,
                f"<= {stability['max_batch_pr_auc_spread']}"),
    ]
    margin = (rules.get("ood") or {}).get("min_lift_over_rule")
    if margin is not None:  # generalisation: beat the rule on a market it never saw
        checks.append(bounded(
            "ood_lift_over_rule",
            _difference(challenger.get("ood_test_pr_auc"), challenger.get("rule_ood_test_pr_auc")),
            margin, operator.ge, f"ood_test_pr_auc - rule_ood_test_pr_auc >= {margin}"))
    checks.append(completeness_check(challenger.get("missing")))
    checks.append(smoke_check(challenger.get("smoke", {}), rules["smoke"]["max_latency_seconds"]))
    return Decision(all(check.passed for check in checks), tuple(checks))
