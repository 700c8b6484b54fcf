"""The project's layers point one way, and the pipeline graph carries the registry as data.

- Domain modules (everything outside ``pipelines/`` and ``pipeline_registry.py``) never import a
  pipeline; a pipeline never imports another pipeline's modules (composing ``create_pipeline``s
  through the package is fine); no module imports another module's private name.
- Stages that read or move the champion are joined by datasets, so kedro-viz draws the edges:
  the deployment's move (``deployed_champion``) feeds validation, inference and drift, and no
  ``create_pipeline`` takes a placeholder input that only orders nodes.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from kedro.framework.startup import bootstrap_project

from tests.conftest import REPO

PACKAGE = REPO / "src" / "financial_mlops"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every ``from ... import`` and ``import`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _stage(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[1] if parts[0] == "pipelines" and len(parts) > 2 else None


def test_no_domain_module_imports_a_pipeline():
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for path in _modules()
        if path.relative_to(PACKAGE).parts[0] not in {"pipelines", "pipeline_registry.py"}
        for module, _ in _imports(path) if module.startswith("financial_mlops.pipelines")
    ]
    assert not offenders


def test_no_pipeline_imports_another_pipelines_modules():
    offenders = []
    for path in _modules():
        stage = _stage(path)
        for module, names in _imports(path):
            if not module.startswith("financial_mlops.pipelines."):
                continue
            other = module.split(".")[2]
            # `from financial_mlops.pipelines import deployment` composes a create_pipeline.
            if stage is not None and other != stage:
                offenders.append(f"{path.relative_to(PACKAGE)}: {module} {names}")
    assert not offenders


def test_no_module_imports_another_modules_private_names():
    offenders = [
        f"{path.relative_to(PACKAGE)}: {module}.{name}"
        for path in _modules() for module, names in _imports(path)
        if module.startswith("financial_mlops") for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not offenders


@pytest.fixture(scope="module")
def pipelines():
    bootstrap_project(REPO)
    from financial_mlops.pipeline_registry import register_pipelines

    return register_pipelines()


def _depends_on(pipeline, node_name: str, upstream_name: str) -> bool:
    dependencies = {node.name: {parent.name for parent in parents}
                    for node, parents in pipeline.node_dependencies.items()}
    return upstream_name in dependencies[node_name]


@pytest.mark.parametrize("consumer", ["validate_current_champion", "score_new_gold_trades",
                                      "check_drift"])
def test_the_champion_the_deployment_set_is_an_edge_to_its_consumers(pipelines, consumer):
    assert _depends_on(pipelines["__default__"], consumer, "apply_promotion")


def test_retraining_decides_on_the_version_the_tournament_registered(pipelines):
    assert _depends_on(pipelines["retraining"], "decide_promotion", "register_winner")
    assert _depends_on(pipelines["retraining"], "validate_current_champion", "apply_promotion")


def test_no_create_pipeline_takes_an_ordering_placeholder(pipelines):
    import financial_mlops.pipelines as package

    for stage in (path.name for path in Path(package.__file__).parent.iterdir()
                  if (path / "pipeline.py").exists()):
        module = __import__(f"financial_mlops.pipelines.{stage}.pipeline", fromlist=["x"])
        assert set(inspect.signature(module.create_pipeline).parameters) == {"kwargs"}, stage
