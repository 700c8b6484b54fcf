"""Looking around after a run, as a Kedro user does: a fresh KedroSession, the notebooks,
kedro-viz with previews, MLflow, and the project folder copied elsewhere.

One small ``kedro run`` of the whole flow, in a process of its own, feeds every test here; each
check runs in its own process too (a notebook kernel, ``kedro viz build``, a script), because
this suite's shared Spark session would hide a session built without the env's ``spark.yml``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TABLES = ("bronze_trades", "silver_trades", "silver_trades_quarantine", "gold_trade_features@delta",
          "anomaly_scores")
TRADES = 10_000  # tests/explore/small_run.yml


def _env() -> dict[str, str]:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    env.pop("DATABRICKS_RUNTIME_VERSION", None)
    return env


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def _new_project(folder: Path) -> Path:
    """A project as a user has it: pyproject.toml, conf/ with an empty conf/local (so the
    relative paths of conf/base are used), the notebooks; the package itself is installed."""
    shutil.copy(REPO / "pyproject.toml", folder)
    (folder / "src").mkdir()
    shutil.copytree(REPO / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    shutil.copy(REPO / "tests/explore/small_run.yml", folder / "conf/local/parameters_small.yml")
    shutil.copytree(REPO / "notebooks", folder / "notebooks")
    return folder


@pytest.fixture(scope="module")
def explored(tmp_path_factory) -> tuple[Path, str]:
    project = _new_project(tmp_path_factory.mktemp("explored"))
    return project, _kedro(project, "run").stderr


# What a user types in ``kedro ipython`` (or any fresh KedroSession), nothing more: ``kedro run``
# (what the CLI calls) for each (project, pipelines) of ``runs``, then each of ``counted``'s
# table counts, in one fresh process (one JVM start rather than one per step).
_SESSIONS = """\
import json, sys
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
runs, counted, tables = json.loads(sys.argv[1])
for project, pipelines in runs:
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=pipelines)
counts = []
for project in counted:
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        catalog = session.load_context().catalog
        labels = catalog.load('anomaly_labels')
        catalog.save('anomaly_labels', labels)  # a MERGE of the same rows: nothing new
        counts.append({name: catalog.load(name).count() for name in tables})
print(json.dumps(counts))
"""


def _counts(*counted: Path, cwd: Path,
            runs: tuple[tuple[Path, list[str]], ...] = ()) -> list[dict[str, int]]:
    """Each project's table counts read by a fresh KedroSession in a fresh process (run in
    ``cwd``), after the ``runs``."""
    arguments = json.dumps([[[str(p), names] for p, names in runs],
                            [str(p) for p in counted], TABLES])
    done = subprocess.run([sys.executable, "-c", _SESSIONS, arguments], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fresh_session_loads_the_delta_tables_the_run_wrote(explored):
    project, _ = explored
    [counts] = _counts(project, cwd=project / "notebooks")  # where a notebook's kernel runs
    assert counts["bronze_trades"] == TRADES
    assert counts["silver_trades"] + counts["silver_trades_quarantine"] == TRADES
    assert counts["gold_trade_features@delta"] == counts["silver_trades"] > 0
    assert counts["anomaly_scores"] == counts["gold_trade_features@delta"]
    assert not (project / "notebooks" / "data").exists()  # nothing written beside the notebooks


def test_the_run_logs_rows_per_step_without_ivy_report(explored):
    _, log = explored
    assert f": bronze_trades rows {TRADES:,} inserted" in log
    for line in ("split_bronze_into_silver_and_quarantine: silver_trades rows ",
                 "split_bronze_into_silver_and_quarantine: silver_trades_quarantine ",
                 "build_gold_features: gold_trade_features@delta rows ",
                 ": anomaly_scores rows "):
        assert line in log, line
    assert "Pipeline execution completed successfully" in log
    assert ":: resolution report ::" not in log and "Ivy Default Cache" not in log


def test_mlflow_opens_on_training_runs_named_after_what_they_do(explored):
    project, _ = explored
    with sqlite3.connect(project / "data" / "mlflow.db") as db:
        [(experiment_id,)] = db.execute(
            "SELECT experiment_id FROM experiments WHERE name = 'financial_mlops'").fetchall()
        kind = db.execute("SELECT value FROM experiment_tags WHERE experiment_id = ? AND "
                          "key = 'mlflow.experimentKind'", (experiment_id,)).fetchall()
        names = {row[0] for row in db.execute(
            "SELECT r.name FROM runs r WHERE r.experiment_id = ? AND NOT EXISTS (SELECT 1 FROM "
            "tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'mlflow.parentRunId')",
            (experiment_id,))}
    assert kind == [("custom_model_development",)]
    assert names == {"full-flow"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_the_notebooks_run_top_to_bottom(explored, notebook):
    project, _ = explored
    copy = project / "notebooks" / notebook.name
    executed = NotebookClient(nbformat.read(copy, as_version=4), timeout=600,
                              kernel_name="python3",
                              resources={"metadata": {"path": str(copy.parent)}}).execute()
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # its plots were drawn


def test_kedro_viz_build_previews_the_delta_tables(explored):
    project, _ = explored
    _kedro(project, "viz", "build", "--include-previews")
    main = json.loads((project / "build/api/main").read_text())
    data_nodes = {n["name"]: n for n in main["nodes"] if n["type"] == "data"}
    silver_node = data_nodes["silver_trades"]
    assert silver_node["layer"] == "silver"
    silver = json.loads((project / "build/api/nodes" / silver_node["id"]).read_text())
    assert silver["preview_type"] == "TablePreview"
    assert silver["filepath"].endswith("data/03_primary/silver_trades")
    preview = silver["preview"]
    assert "trade_id" in preview["columns"] and len(preview["data"]) == 5
    stats = silver_node["node_extras"]["stats"]  # the run's, from .viz/stats.json
    assert stats["rows"] > 0 and stats["columns"] == len(preview["columns"])
    # Gold is one node for its two views (written as @delta, its changes read by scoring):
    # kedro-viz shows a transcoded dataset's path and types, and previews none.
    gold_node = data_nodes["gold_trade_features"]
    assert gold_node["layer"] == "gold" and "financial_streaming_pipeline" in gold_node["tags"]
    gold = json.loads((project / "build/api/nodes" / gold_node["id"]).read_text())
    assert gold["filepath"].endswith("data/04_feature/gold_trade_features")


def test_a_copied_project_keeps_working(explored, tmp_path):
    project, _ = explored
    copy = tmp_path / "moved"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", ".ipynb_checkpoints"))
    artifacts = project / "data/06_models/mlflow_artifacts"
    before = sorted(p.name for p in artifacts.iterdir())

    # One run of the three: inference reads gold by its transcoded name, so it comes after features.
    counts, original = _counts(copy, project, cwd=copy,
                               runs=((copy, ["ingestion", "features", "inference"]),))
    assert counts["bronze_trades"] == 2 * TRADES
    assert counts["anomaly_scores"] == counts["gold_trade_features@delta"]
    assert original["bronze_trades"] == TRADES  # the original is untouched
    assert sorted(p.name for p in artifacts.iterdir()) == before
    with sqlite3.connect(copy / "data" / "mlflow.db") as db:
        stored = [row[0] for row in db.execute("SELECT artifact_uri FROM runs")]
        stored += [row[0] for row in db.execute("SELECT artifact_location FROM experiments")]
    assert stored and not [uri for uri in stored if str(project) in uri]
