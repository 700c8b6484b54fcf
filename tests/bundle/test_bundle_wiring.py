"""Every bundle resource is tied to real code and config: entry point, Kedro pipelines, params,
conf envs, library paths, catalogs and schedules. A rename on either side fails here, not on
Databricks."""

import json
import re
import tomllib
from pathlib import Path

import pytest
from databricks_bundle import (
    DECLARATIVE_TABLES,
    DEPLOY_VARIABLES,
    REPO,
    TARGETS,
    deployed_by,
    development_prefix,
    load_yaml,
    references,
    resolve,
    target_view,
    wheel_tasks,
)
from kedro.framework.cli.utils import find_run_command
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Pipeline
from quartz_cron_checker import validate_cron_string

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DECLARATIVE_WRAPPER = REPO / "src/financial_mlops/declarative/pipeline.py"
JOB_PARAMETER = re.compile(r"\{\{job\.parameters\.(\w+)\}\}")
SEED_RESOURCES = {
    ("jobs", "financial_api_ingestion_workflow"): "ingestion_workflow.yml",
    ("pipelines", "financial_streaming_pipeline"): "streaming_pipeline.yml",
    ("jobs", "financial_retraining_workflow"): "retraining_workflow.yml",
    ("jobs", "drift_monitoring_job"): "drift_monitoring.yml",
}

DEPLOYING_USER = "alice"


def schema_of(target: str) -> str:
    """The schema a deployment of `target` by `DEPLOYING_USER` writes to."""
    name = "financial_transactions"
    return development_prefix(DEPLOYING_USER) + name if target == "dev" else name


@pytest.fixture(scope="module")
def kedro_cli():
    """The Kedro project as the packaged CLI sees it: run command, pipeline registry, settings."""
    metadata = bootstrap_project(REPO)
    from kedro.framework.project import pipelines, settings

    return {
        "run": find_run_command(metadata.package_name),
        "pipelines": pipelines,
        "settings": settings,
    }


def deployed(bundle, target: str, short_name: str = DEPLOYING_USER) -> dict:
    """The target view as a run sees it: deployed by `short_name`, files synced from this repo,
    job ids assigned, and `{{job.parameters.*}}` replaced by each job parameter's default."""
    view = deployed_by(bundle, target, short_name)
    deploy_time = {"workspace.file_path": str(REPO)} | {
        f"resources.jobs.{name}.id": "1001" for name in view["resources"]["jobs"]
    }
    view = resolve(view, deploy_time)
    for job in view["resources"]["jobs"].values():
        defaults = {p["name"]: p["default"] for p in job.get("parameters", [])}
        tasks = json.dumps(job["tasks"])
        for name, default in defaults.items():
            tasks = tasks.replace(f"{{{{job.parameters.{name}}}}}", default)
        job["tasks"] = json.loads(tasks)
    return view


def parse_wheel_parameters(kedro_cli, parameters: list[str]) -> dict:
    """Parse a wheel task's parameters with the run command the packaged project executes."""
    context = kedro_cli["run"].make_context("financial-mlops", list(parameters))
    return context.params


def test_seed_resources_live_in_their_seed_files_under_their_seed_names(bundle, origins):
    for (kind, name), file_name in SEED_RESOURCES.items():
        assert origins[(kind, name)].name == file_name
        assert bundle["resources"][kind][name]["name"] == name


def test_wheel_tasks_run_the_project_console_script(bundle):
    scripts = PYPROJECT["project"]["scripts"]
    for _, task in wheel_tasks(bundle):
        wheel = task["python_wheel_task"]
        assert wheel["package_name"] == PYPROJECT["project"]["name"]
        assert wheel["entry_point"] in scripts
        module, function = scripts[wheel["entry_point"]].split(":")
        module_file = REPO / "src" / Path(*module.split(".")).with_suffix(".py")
        assert f"def {function}(" in module_file.read_text()


def test_wheel_tasks_install_the_wheel_the_artifact_builds(bundle, origins):
    artifact = bundle["artifacts"]["financial_mlops_wheel"]
    assert artifact["type"] == "whl"
    build_script = REPO / artifact["build"].split()[-1]
    assert "dist" in build_script.read_text()
    for job_name, task in wheel_tasks(bundle):
        job = bundle["resources"]["jobs"][job_name]
        environments = {env["environment_key"]: env["spec"] for env in job["environments"]}
        assert environments[task["environment_key"]]["dependencies"] == ["../dist/*.whl"]
        assert (origins[("jobs", job_name)].parent / "../dist").resolve() == REPO / "dist"


def test_wheel_parameters_are_a_valid_run_of_the_target_env(bundle, kedro_cli, target):
    conf_root = REPO / "conf"
    for job_name, task in wheel_tasks(deployed(bundle, target)):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        assert run["env"] == target, job_name
        assert (conf_root / target).is_dir()
        assert Path(run["conf_source"]) == conf_root


def test_every_pipeline_a_task_names_is_registered(bundle, kedro_cli):
    named = {
        pipeline
        for _, task in wheel_tasks(deployed(bundle, "dev"))
        for pipeline in parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])[
            "pipelines"
        ]
    }
    assert named >= {"ingestion", "inference", "tournament", "deployment", "validation", "drift"}
    missing = {name for name in named if name not in kedro_cli["pipelines"]}
    assert not missing, f"pipelines named by bundle tasks but not registered: {sorted(missing)}"
    for name in named:
        assert (REPO / "src/financial_mlops/pipelines" / name / "pipeline.py").is_file()


def test_no_task_writes_a_table_the_declarative_pipeline_owns(bundle, kedro_cli):
    """Kedro's ingestion stops at the landing files on Databricks: Auto Loader in
    financial_streaming_pipeline owns bronze, and the pipeline owns silver and gold."""
    for job_name, task in wheel_tasks(deployed(bundle, "prd")):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        pipeline = sum(
            (kedro_cli["pipelines"][name] for name in run["pipelines"]), start=Pipeline([])
        )
        if run["to_outputs"]:
            pipeline = pipeline.filter(to_outputs=run["to_outputs"])
        assert pipeline.nodes, f"{job_name}/{task['task_key']} runs no node"
        assert not pipeline.all_outputs() & DECLARATIVE_TABLES, f"{job_name}/{task['task_key']}"


def env_config(kedro_cli, env: str, runtime_params: dict | None = None):
    """The project's config loader on conf/ for `env`, as a run in that env builds it."""
    settings = kedro_cli["settings"]
    return settings.CONFIG_LOADER_CLASS(
        conf_source=str(REPO / "conf"), env=env, runtime_params=runtime_params,
        **settings.CONFIG_LOADER_ARGS
    )


def test_runtime_params_are_read_by_the_target_conf(bundle, kedro_cli, target):
    """A `--params` key is a parameter of the env, or a `${runtime_params:...}` of its catalog."""
    parameters = env_config(kedro_cli, target)["parameters"]
    conf_text = "".join(
        path.read_text() for env in ("base", target) for path in (REPO / "conf" / env).glob("*.yml")
    )
    for job_name, task in wheel_tasks(deployed(bundle, target)):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        for pipeline_name, overrides in run["params"].items():
            for key in overrides:
                assert key in parameters.get(pipeline_name, {}) or (
                    f"runtime_params:{pipeline_name}.{key}" in conf_text
                ), f"{job_name} passes {pipeline_name}.{key}, which conf/{target} never reads"


def test_job_parameter_references_are_declared(bundle):
    for job_name, job in bundle["resources"]["jobs"].items():
        declared = {parameter["name"] for parameter in job.get("parameters", [])}
        assert set(JOB_PARAMETER.findall(json.dumps(job["tasks"]))) <= declared, job_name


def test_retraining_runs_tournament_then_deployment_then_validation(bundle):
    job = bundle["resources"]["jobs"]["financial_retraining_workflow"]
    order = [(task["task_key"], task.get("depends_on", [])) for task in job["tasks"]]
    assert order == [
        ("train_tournament", []),
        ("deploy_anomaly_model", [{"task_key": "train_tournament"}]),
        ("validate_champion", [{"task_key": "deploy_anomaly_model"}]),
    ]
    assert job["schedule"] == {
        "quartz_cron_expression": "0 0 2 ? * MON *",
        "timezone_id": "UTC",
        "pause_status": "${var.schedule_pause_status}",
    }


def test_rollback_is_a_job_of_its_own_that_defaults_to_the_previous_champion(bundle, kedro_cli):
    rollback = deployed(bundle, "prd")["resources"]["jobs"]["financial_model_rollback"]
    assert "schedule" not in rollback
    first, then = rollback["tasks"]
    run = parse_wheel_parameters(kedro_cli, first["python_wheel_task"]["parameters"])
    assert run["pipelines"] == ["rollback"]
    assert run["params"]["rollback"] == {"to_version": None}
    assert then["depends_on"] == [{"task_key": first["task_key"]}]
    assert "--pipelines=validation" in then["python_wheel_task"]["parameters"]


def test_drift_monitor_runs_every_30_minutes_and_knows_the_retraining_job(bundle):
    job = bundle["resources"]["jobs"]["drift_monitoring_job"]
    assert job["schedule"]["quartz_cron_expression"] == "0 0/30 * * * ?"
    assert job["schedule"]["timezone_id"] == "UTC"
    assert "resources.jobs.financial_retraining_workflow.id" in references(job)


def test_every_job_but_rollback_runs_by_itself_under_the_pause_variable(bundle):
    jobs = bundle["resources"]["jobs"]
    triggers = {name: job.get("schedule") or job.get("continuous") for name, job in jobs.items()}
    on_demand = {name for name, trigger in triggers.items() if trigger is None}
    assert on_demand == {"financial_model_rollback"}
    pause_statuses = {trigger["pause_status"] for trigger in triggers.values() if trigger}
    assert pause_statuses == {"${var.schedule_pause_status}"}


def test_schedules_run_in_prd_only(bundle):
    paused = {
        target: target_view(bundle, target)["variables"]["schedule_pause_status"]["default"]
        for target in TARGETS
    }
    assert paused == {"dev": "PAUSED", "acc": "PAUSED", "prd": "UNPAUSED"}


def test_every_cron_is_a_valid_quartz_expression(bundle):
    crons = [
        job["schedule"]["quartz_cron_expression"]
        for job in bundle["resources"]["jobs"].values()
        if "schedule" in job
    ]
    assert len(crons) >= 3
    for cron in crons:
        assert validate_cron_string(cron)


@pytest.mark.parametrize(
    "cron",
    [
        "0 0 2 * * MON *",  # day-of-month and day-of-week both set
        "0 0 2 ? * ? *",  # both left open
        "0 */30 * * *",  # a 5-field Unix cron
        "0 60 * * * ?",  # minute out of range
        "0 0 2 ? * MONDAY *",  # not a day name
    ],
)
def test_the_quartz_validator_rejects_what_databricks_rejects(cron):
    with pytest.raises(ValueError):
        validate_cron_string(cron)


def test_targets_follow_the_promotion_path(bundle):
    targets = bundle["targets"]
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    for name in ("acc", "prd"):
        assert targets[name]["mode"] == "production"
        assert targets[name]["workspace"]["root_path"].endswith("${bundle.name}/${bundle.target}")
        assert targets[name]["run_as"] == {"service_principal_name": "${var.service_principal}"}
        assert "service_principal" not in targets[name].get("variables", {})
    assert "default" not in bundle["variables"]["service_principal"], "acc/prd must fail fast"
    assert set(DEPLOY_VARIABLES) == {"service_principal"}


def test_each_target_uses_the_catalog_and_schema_of_its_kedro_env(bundle, target):
    view = target_view(bundle, target)
    globals_ = load_yaml(REPO / "conf" / target / "globals.yml")
    assert view["variables"]["catalog"]["default"] == globals_["catalog"] == f"mlops_{target}"
    # dev: the schema of the env's name, deployed once per user (prefixed).
    (schema,) = view["resources"]["schemas"].values() if target == "dev" else [
        {"name": view["variables"]["schema"]["default"]}]
    assert schema["name"] == globals_["schema"]


def schemas_used(bundle, kedro_cli, target: str, short_name: str) -> set[str]:
    """Every schema a deployment by `short_name` writes to: the one each wheel task passes to
    Kedro (`uc.schema`), the declarative pipeline's, the landing volume's and the landing path's."""
    view = deployed(bundle, target, short_name)
    used = set()
    for _, task in wheel_tasks(view):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        used.add(run["params"]["uc"]["schema"])
    pipeline = view["resources"]["pipelines"]["financial_streaming_pipeline"]
    landing = pipeline["configuration"]["financial_mlops.landing_path"]  # /Volumes/<c>/<s>/...
    used |= {pipeline["schema"], landing.split("/")[3]}
    used |= {volume["schema_name"] for volume in view["resources"].get("volumes", {}).values()}
    return used


def test_two_users_deploying_dev_write_to_schemas_of_their_own(bundle, kedro_cli):
    alice = schemas_used(bundle, kedro_cli, "dev", "alice")
    bob = schemas_used(bundle, kedro_cli, "dev", "bob")
    assert alice == {development_prefix("alice") + "financial_transactions"}
    assert bob == {development_prefix("bob") + "financial_transactions"}
    # The deployment creates that schema and its landing volume (nothing else would).
    view = deployed(bundle, "dev", "alice")
    assert [s["name"] for s in view["resources"]["schemas"].values()] == list(alice)
    assert [v["name"] for v in view["resources"]["volumes"].values()] == ["streaming_landing"]


@pytest.mark.parametrize("shared", ["acc", "prd"])
def test_acc_and_prd_keep_their_shared_schema_whoever_deploys(bundle, kedro_cli, shared):
    assert schemas_used(bundle, kedro_cli, shared, "alice") == schemas_used(
        bundle, kedro_cli, shared, "bob") == {"financial_transactions"}
    assert "schemas" not in deployed(bundle, shared, "alice")["resources"]


def test_streaming_pipeline_runs_the_declarative_wrapper_on_the_target_catalog(
    bundle, origins, target
):
    pipeline = deployed(bundle, target)["resources"]["pipelines"]["financial_streaming_pipeline"]
    resources_dir = origins[("pipelines", "financial_streaming_pipeline")].parent
    (library,) = pipeline["libraries"]
    assert (resources_dir / library["file"]["path"]).resolve() == DECLARATIVE_WRAPPER
    assert (resources_dir / pipeline["root_path"] / "financial_mlops/__init__.py").is_file()
    assert pipeline["environment"]["dependencies"] == [f"--editable {REPO}"]
    assert (pipeline["catalog"], pipeline["schema"]) == (f"mlops_{target}", schema_of(target))
    assert pipeline["configuration"] == {
        "financial_mlops.landing_path": (
            f"/Volumes/mlops_{target}/{schema_of(target)}/streaming_landing/trades"
        ),
        "financial_mlops.bronze_source": "cloudFiles",
        "financial_mlops.conf_source": str(REPO / "conf"),
        "financial_mlops.env": target,
    }


def test_pipeline_configuration_is_what_the_declarative_wrapper_reads(bundle):
    read = set(
        re.findall(r'conf\.get\(\s*"(financial_mlops\.\w+)"', DECLARATIVE_WRAPPER.read_text())
    )
    pipeline = bundle["resources"]["pipelines"]["financial_streaming_pipeline"]
    assert set(pipeline["configuration"]) == read


def test_the_declarative_wrapper_defines_exactly_the_tables_it_owns():
    source = DECLARATIVE_WRAPPER.read_text()
    published = re.findall(r'@dp\.(?:table|materialized_view)\(\s*name="(\w+)"', source)
    assert set(published) == DECLARATIVE_TABLES


def test_ingestion_lands_files_where_the_pipeline_reads_them(bundle, kedro_cli, target):
    view = deployed(bundle, target)
    (ingest, _) = view["resources"]["jobs"]["financial_api_ingestion_workflow"]["tasks"]
    run = parse_wheel_parameters(kedro_cli, ingest["python_wheel_task"]["parameters"])
    landing = env_config(kedro_cli, target, run["params"])["catalog"]["landing_trades"]["path"]
    pipeline = view["resources"]["pipelines"]["financial_streaming_pipeline"]
    assert landing == pipeline["configuration"]["financial_mlops.landing_path"]


def test_streaming_scoring_is_a_continuous_job_of_available_now_runs(bundle, kedro_cli):
    """Serverless streams only with availableNow: the job reruns one such run after another."""
    job = deployed(bundle, "prd")["resources"]["jobs"]["financial_streaming_inference"]
    parameters = job["tasks"][0]["python_wheel_task"]["parameters"]
    run = parse_wheel_parameters(kedro_cli, parameters)
    assert run["pipelines"] == ["inference"]
    assert run["params"]["inference"]["mode"] == "availableNow"
    assert "continuous" in job


def test_no_databricks_task_asks_for_a_processing_time_trigger(bundle, kedro_cli, target):
    """Local Spark Connect accepts a processingTime trigger; serverless refuses it."""
    parameters = env_config(kedro_cli, target)["parameters"]
    for job_name, task in wheel_tasks(deployed(bundle, target)):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        mode = run["params"].get("inference", {}).get("mode", parameters["inference"]["mode"])
        assert mode == "availableNow", job_name
    catalog = env_config(kedro_cli, target)["catalog"]
    triggers = {name: entry.get("save_args", {}).get("trigger", "availableNow")
                for name, entry in catalog.items() if isinstance(entry, dict)}
    assert set(triggers.values()) <= {"availableNow"}, triggers


def test_no_databricks_dataset_streams_a_materialized_view(kedro_cli, target):
    """Local Spark Connect reads a Delta table as a stream where Databricks refuses to stream a
    materialized view of the declarative pipeline (silver, quarantine, gold)."""
    source = DECLARATIVE_WRAPPER.read_text()
    views = set(re.findall(r'@dp\.materialized_view\(\s*name="(\w+)"', source))
    assert "gold_trade_features" in views
    for name, entry in env_config(kedro_cli, target)["catalog"].items():
        if isinstance(entry, dict) and entry.get("load_args", {}).get("streaming"):
            table = str(entry.get("table", "")).rsplit(".", 1)[-1]
            assert table not in views, f"{name} streams the materialized view {table}"


def test_the_wheel_artifact_is_reinstalled_on_every_deploy(bundle):
    assert bundle["artifacts"]["financial_mlops_wheel"]["dynamic_version"] is True


def test_every_wheel_task_logs_to_the_experiment_the_bundle_declares(bundle, kedro_cli, target):
    """The experiment is created by the deploy, and each job tells Kedro its deployed name."""
    assert "financial_mlops_experiment" in bundle["resources"]["experiments"]
    reference = "${resources.experiments.financial_mlops_experiment.name}"
    mlflow_yml = (REPO / "conf" / target / "mlflow.yml").read_text()
    assert "${runtime_params:mlflow.experiment}" in mlflow_yml
    for job_name, task in wheel_tasks(deployed(bundle, target)):
        run = parse_wheel_parameters(kedro_cli, task["python_wheel_task"]["parameters"])
        assert run["params"]["mlflow"]["experiment"] == reference, job_name


def test_only_dev_and_acc_ingest_the_simulated_market(bundle, kedro_cli, target):
    job = deployed(bundle, target)["resources"]["jobs"]["financial_api_ingestion_workflow"]
    run = parse_wheel_parameters(kedro_cli, job["tasks"][0]["python_wheel_task"]["parameters"])
    source = run["params"]["ingestion"]["source"]
    assert (source == "simulator") == (target != "prd"), (target, source)


def test_acc_and_prd_jobs_can_be_run_by_operators_not_only_the_service_principal(bundle):
    for target in ("acc", "prd"):
        permissions = target_view(bundle, target).get("permissions", [])
        assert {"level": "CAN_RUN", "group_name": "financial-mlops-operators"} in permissions


def test_every_reference_points_to_something_declared(bundle):
    declared = {f"var.{name}" for name in bundle["variables"]}
    targets = bundle["targets"].values()
    for resources in (bundle["resources"], *(t.get("resources", {}) for t in targets)):
        declared |= {f"resources.{kind}.{k}" for kind, items in resources.items() for k in items}
    for reference in references(bundle):
        scope = reference.split(".")[0]
        if scope == "var":
            assert reference in declared, reference
        elif scope == "resources":
            assert ".".join(reference.split(".")[:3]) in declared, reference
        else:
            assert scope in {"bundle", "workspace"}, reference
