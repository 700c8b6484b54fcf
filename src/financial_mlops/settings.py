"""Kedro settings: OmegaConfigLoader with envs base/local, soft merges, and the project hooks."""

import importlib.util
import warnings

# Spark comes with the `local` extra (Databricks runtimes bring their own): without it nothing
# here can run, so say so in one line rather than as an import error deep in a traceback.
if importlib.util.find_spec("pyspark") is None:
    raise SystemExit("Error: Spark is not installed; install the project with its local extra: "
                     "pip install 'financial_mlops[local]' (Databricks runtimes provide Spark)")

# Third-party notices that say nothing actionable to a user of this project (set before the
# imports below, which emit some of them).
warnings.filterwarnings("ignore", message=".*register_new_resolver.*")
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")
warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")

from kedro.config import OmegaConfigLoader  # noqa: E402

from financial_mlops.conf_resolvers import RESOLVERS  # noqa: E402
from financial_mlops.hooks import MlflowHooks, SparkHooks  # noqa: E402
from financial_mlops.lineage import DeltaLineageHooks  # noqa: E402
from financial_mlops.progress import ProgressHooks  # noqa: E402

HOOKS = (SparkHooks(), MlflowHooks(), DeltaLineageHooks(), ProgressHooks())
# kedro-mlflow runs through MlflowHooks above, which wraps its hook.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Env files override single keys, not whole blocks (a prd mlflow.yml that names only the
    # experiment must keep base's other settings).
    "merge_strategy": {"mlflow": "soft", "parameters": "soft", "spark": "soft", "globals": "soft"},
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
        "mlflow": ["mlflow*", "mlflow*/**"],
        "globals": ["globals*", "globals*/**"],
    },
    # ${local:}, ${uc:}, ${by_platform:}: the local/Databricks difference, said once in base.
    "custom_resolvers": RESOLVERS,
}
