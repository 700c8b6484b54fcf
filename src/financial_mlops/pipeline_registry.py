"""Every stage is its own pipeline package; ``__default__`` is the whole flow, in order."""

import pkgutil

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from financial_mlops import pipelines as pipeline_packages
from financial_mlops.pipelines import drift, inference

# The end-to-end flow; stages join as they exist. ``retraining`` is the tournament, then the
# deployment that waits for its winner (Kedro orders nodes by data only, so the plain sum of
# ``tournament`` and ``deployment`` would decide before the new version exists). ``rollback`` and
# ``validation`` alone are run on demand.
FLOW = ("ingestion", "features", "retraining", "inference", "drift")


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    # In the flow, inference scores with and drift checks the champion the retraining just
    # decided on, once validated.
    in_flow = {**pipelines, "inference": inference.create_pipeline(after="validation_report"),
               "drift": drift.create_pipeline(after="validation_report")}
    pipelines["__default__"] = sum(
        (in_flow[name] for name in FLOW if name in pipelines), start=Pipeline([])
    )
    return pipelines


def pipeline_names() -> list[str]:
    """The names ``kedro run --pipelines`` accepts, without importing any pipeline."""
    packages = (m.name for m in pkgutil.iter_modules(pipeline_packages.__path__) if m.ispkg)
    return ["__default__", *sorted(packages)]
