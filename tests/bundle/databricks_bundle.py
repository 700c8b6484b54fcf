"""The Databricks bundle as the CLI assembles it, for tests that cannot reach a workspace.

`databricks.yml` is merged with the `resources/*.yml` it includes; a target view also applies the
target's overrides and resolves `${var.*}` and `${bundle.*}` (workspace and resource references
stay as written: they exist only at deploy time).
"""

import copy
import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("dev", "acc", "prd")
# The tables financial_streaming_pipeline defines: nothing else may create or write them.
DECLARATIVE_TABLES = {
    "bronze_trades",
    "silver_trades",
    "silver_trades_quarantine",
    "gold_trade_features",
}
SCHEMA_PATH = REPO.parent / "shared" / "reference" / "databricks_bundle_schema.json"
# Target keys that exist at the root of a bundle too (mode and default are target-only).
ROOT_KEYS_A_TARGET_OVERRIDES = (
    "artifacts",
    "bundle",
    "permissions",
    "presets",
    "resources",
    "run_as",
    "sync",
    "workspace",
)
# What CI passes as BUNDLE_VAR_<name> (the bundle leaves the service principal without a default).
DEPLOY_VARIABLES = {"service_principal": "6a1f4b2c-0000-4000-8000-00000000c1c1"}
# What prd's deployment adds (lists: .databricks/bundle/prd/variable-overrides.json, see
# docs/deploy.md): who hears about failed runs. dev and acc set them empty in databricks.yml.
NOTIFICATION_VARIABLES = {
    "failure_notification_emails": ["mlops-oncall@example.com"],
    "failure_notification_destinations": [{"id": "0f6f4b2c-0000-4000-8000-00000000d1d1"}],
}
TARGET_DEPLOY_VARIABLES = {"prd": NOTIFICATION_VARIABLES}
REFERENCE = re.compile(r"\$\{([a-z_]+(?:\.[A-Za-z0-9_-]+)+)\}")


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def load_bundle() -> tuple[dict, dict]:
    """Return the merged bundle and, for each (kind, name) resource, the file that defines it."""
    bundle = load_yaml(REPO / "databricks.yml")
    bundle.setdefault("resources", {})
    origins = {}
    for pattern in bundle["include"]:
        for path in sorted(REPO.glob(pattern)):
            for kind, items in load_yaml(path)["resources"].items():
                merged = bundle["resources"].setdefault(kind, {})
                for name, body in items.items():
                    assert name not in merged, f"{kind}.{name} is defined twice ({path.name})"
                    merged[name] = body
                    origins[(kind, name)] = path
    return bundle, origins


def deep_merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def target_view(bundle: dict, target: str, deploy_variables: dict | None = None) -> dict:
    """The bundle deployed to `target`: overrides applied, variables and bundle fields resolved.
    ``deploy_variables``: what the deployment passes (default: CI's, and prd's own)."""
    if deploy_variables is None:
        deploy_variables = DEPLOY_VARIABLES | TARGET_DEPLOY_VARIABLES.get(target, {})
    overrides = bundle["targets"][target]
    view = {key: copy.deepcopy(value) for key, value in bundle.items() if key != "targets"}
    for key in ROOT_KEYS_A_TARGET_OVERRIDES:
        if key in overrides:
            view[key] = deep_merge(view.get(key, {}), overrides[key])
    for name, value in (overrides.get("variables", {}) | deploy_variables).items():
        view["variables"][name]["default"] = value
    values = {f"var.{name}": spec.get("default") for name, spec in view["variables"].items()}
    values |= {"bundle.target": target, "bundle.name": view["bundle"]["name"]}
    return resolve(view, values)


def development_prefix(short_name: str) -> str:
    """What `mode: development` puts before a Unity Catalog schema's name: `[dev <short_name>] `
    normalised to `dev_<short_name>_` (jobs and pipelines get `[dev <short_name>] `)."""
    return f"dev_{short_name}_"


def deployed_by(bundle: dict, target: str, short_name: str) -> dict:
    """The target view once `short_name` deploys it: the user's references resolved and, in
    development mode, the schemas the target declares renamed as the CLI does; references to
    them then take the deployed name."""
    view = target_view(bundle, target)
    if bundle["targets"][target].get("mode") == "development":
        for schema in view["resources"].get("schemas", {}).values():
            schema["name"] = development_prefix(short_name) + schema["name"]
    values = {"workspace.current_user.short_name": short_name,
              "workspace.current_user.userName": f"{short_name}@example.com"}
    values |= {f"resources.schemas.{key}.name": schema["name"]
               for key, schema in view["resources"].get("schemas", {}).items()}
    return resolve(view, values)


def unset_variables(bundle: dict, target: str, deploy_variables: dict) -> set[str]:
    """The variables `target` leaves without a value: the CLI refuses to validate or deploy."""
    given = set(bundle["targets"][target].get("variables", {})) | set(deploy_variables)
    return {name for name, spec in bundle["variables"].items()
            if "default" not in spec and name not in given}


def resolve(node, values: dict):
    """Substitute known references; a string that is one reference takes the value's own type."""
    if isinstance(node, dict):
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    if not isinstance(node, str):
        return node
    whole = REFERENCE.fullmatch(node)
    if whole and whole.group(1) in values:
        return resolve(values[whole.group(1)], values)

    def substitute(ref):
        return (
            str(resolve(values[ref.group(1)], values)) if ref.group(1) in values else ref.group(0)
        )

    return REFERENCE.sub(substitute, node)


def references(node) -> set[str]:
    """Every `${...}` reference written anywhere in `node`."""
    return set(REFERENCE.findall(json.dumps(node)))


def wheel_tasks(bundle: dict):
    """(job name, task) for every python_wheel_task in the bundle."""
    return [
        (job_name, task)
        for job_name, job in bundle["resources"].get("jobs", {}).items()
        for task in job["tasks"]
        if "python_wheel_task" in task
    ]

