"""Post-deploy validation: what serves is what was decided, and it (and the way back) work.

Run after every champion move and on demand (the ``validation`` pipeline). Loads go through the
registry URIs a consumer uses (``models:/<name>@champion``), never through a cache.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from financial_mlops import registry
from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import AliasState, read_aliases, rollback_target
from financial_mlops.promotion.evaluation import smoke_test
from financial_mlops.promotion.gates import Check, smoke_check
from financial_mlops.registry import CHAMPION, model_uri


def validate_champion(name: str, expected_version: str | None, rows: pd.DataFrame,
                      max_latency_seconds: float, check_rollback_path: bool = True,
                      client: MlflowClient | None = None) -> dict[str, Any]:
    """Check that ``champion`` is ``expected_version``, loads from its alias, scores fresh
    ``rows``, and that a rollback target (if any) loads and scores them too (a dry run).

    A rollback skips the dry run: its way back leads to the version just demoted, often for
    being broken, and that must not undo the rollback."""
    client = client or registry.client()
    state = read_aliases(client, name)
    aliased = state.champion == expected_version
    checks = [Check("champion_alias", None, None, aliased,
                    f"champion_alias: {name}@{CHAMPION} is v{state.champion}, expected "
                    f"v{expected_version}: {'ok' if aliased else 'FAILED'}")]
    served, _ = smoke_test(f"models:/{name}@{CHAMPION}", rows)
    checks.append(smoke_check(served, max_latency_seconds, name="champion_outputs"))
    if check_rollback_path:
        checks.append(_rollback_dry_run(client, name, state, rows, max_latency_seconds))
    return {
        "model": name,
        "champion_version": state.champion,
        "expected_version": expected_version,
        "rows": len(rows),
        "passed": all(check.passed for check in checks),
        "checks": [check.as_dict() for check in checks],
        "reasons": [check.detail for check in checks if not check.passed],
    }


def _rollback_dry_run(client: MlflowClient, name: str, state: AliasState, rows: pd.DataFrame,
                      max_latency_seconds: float) -> Check:
    """The version a rollback would restore loads and scores ``rows``; nothing is moved."""
    try:
        target = rollback_target(name, state, None, [v.version for v in
                                                     registry.model_versions(name, client)])
    except UserError as nothing_to_roll_back:
        return Check("rollback_dry_run", None, None, True,
                     f"rollback_dry_run: skipped ({nothing_to_roll_back}): ok")
    result, _ = smoke_test(model_uri(name, target), rows)
    return smoke_check(result, max_latency_seconds, name="rollback_dry_run")
