"""Every stage is its own pipeline package; ``__default__`` is the whole flow, in order."""

import pkgutil

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline, pipeline

from financial_mlops import pipelines as pipeline_packages

# The end-to-end flow; stages join as they exist. Kedro orders the nodes by data only: the
# registry is data too (datasets.registry), so ``retraining`` decides on the version the
# tournament registered (``tournament_winner``) and inference, validation and drift read the
# champion the deployment set (``deployed_champion``). ``rollback`` and ``validation`` alone are
# run on demand.
FLOW = ("ingestion", "features", "retraining", "inference", "drift")


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    in_flow = dict(pipelines)
    if "drift" in pipelines:
        # Run alone, drift checks the champion serving now (``drift_champion``); in the flow,
        # the one this run's deployment has just set.
        in_flow["drift"] = pipeline(pipelines["drift"],
                                    inputs={"drift_champion": "deployed_champion@value"})
    pipelines["__default__"] = sum(
        (in_flow[name] for name in FLOW if name in pipelines), start=Pipeline([])
    )
    return pipelines


def pipeline_names() -> list[str]:
    """The names ``kedro run --pipelines`` accepts, without importing any pipeline."""
    packages = (m.name for m in pkgutil.iter_modules(pipeline_packages.__path__) if m.ispkg)
    return ["__default__", *sorted(packages)]
