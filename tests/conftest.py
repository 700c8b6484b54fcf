"""Shared fixtures: one Spark session per test process, and isolated Kedro project runs.

A project run copies ``conf/`` (without the developer's ``conf/local``) into a temporary folder
and runs there, so its relative ``data/...`` paths, Delta tables and the MLflow SQLite file
never touch the working tree.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from financial_mlops.spark import get_spark

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


def pytest_collection_modifyitems(items) -> None:
    """Files with end-to-end (``slow``) tests first: pytest-xdist hands whole files to its
    workers in this order, so the short files come last and both workers finish together."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """The serverless lane (tests/serverless) runs only in the process that
    tests/test_serverless_lane.py starts for it, never beside the classic session."""
    if collection_path.name == "serverless" and collection_path.parent == REPO / "tests":
        return not os.environ.get("FINANCIAL_MLOPS_SERVERLESS_LANE")
    return None


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    conf = yaml.safe_load((REPO / "conf/base/spark.yml").read_text())
    conf["spark.sql.warehouse.dir"] = str(tmp_path_factory.mktemp("warehouse"))
    conf["spark.driver.memory"] = "2g"
    return get_spark(conf)


class ProjectRun:
    """A private copy of the project (its pyproject.toml and conf/, the installed package) in
    which pipelines run for real: Kedro makes catalog paths absolute under the project path."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.conf = workdir / "conf"
        shutil.copy(REPO / "pyproject.toml", workdir)
        (workdir / "src").mkdir()  # Kedro wants a source dir; the package itself is installed
        shutil.copytree(REPO / "conf", self.conf, ignore=shutil.ignore_patterns("local"))
        (self.conf / "local").mkdir()
        (workdir / "data").mkdir()
        # An absolute registry URI per project: MLflow caches one store per URI string, so the
        # relative default would reach the first test's database from every later one.
        self.mlflow_uri = f"sqlite:///{workdir / 'data' / 'mlflow.db'}"
        (self.conf / "local" / "mlflow.yml").write_text(
            f"server:\n  mlflow_tracking_uri: {self.mlflow_uri}\n"
            f"  mlflow_registry_uri: {self.mlflow_uri}\n")

    def run(self, pipelines: str | list[str] = "__default__", *, env: str = "local",
            params: dict[str, Any] | None = None, **run_kwargs: Any) -> dict[str, Any]:
        names = [pipelines] if isinstance(pipelines, str) else pipelines
        with KedroSession.create(project_path=self.workdir, env=env,
                                 runtime_params=params or {}) as session:
            return session.run(pipeline_names=names, **run_kwargs)

    def path(self, relative: str) -> Path:
        return self.workdir / relative


@pytest.fixture
def project(tmp_path, monkeypatch, spark) -> ProjectRun:
    monkeypatch.chdir(tmp_path)
    run = ProjectRun(tmp_path)
    bootstrap_project(tmp_path)
    return run


@pytest.fixture
def read_delta(spark) -> Callable[[Path], Any]:
    return lambda path: spark.read.format("delta").load(str(path))


@pytest.fixture
def connect_port():
    """Spark Connect's port (15002) to this test alone: ``spark-pipelines run`` and the serverless
    lane each start a Connect server there, so across pytest-xdist workers they wait in turn."""
    with open(Path(tempfile.gettempdir()) / "financial_mlops-spark-connect.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
