"""Every stage is its own pipeline package; ``__default__`` is the whole flow, in order."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The end-to-end flow; stages join as they exist. ``retraining`` and ``rollback`` are run on
# demand and are not part of it.
FLOW = ("ingestion", "features", "tournament", "deployment", "inference", "drift")


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipelines[name] for name in FLOW if name in pipelines), start=Pipeline([])
    )
    return pipelines
