"""The retraining job seams: the Databricks job (only WorkspaceClient is faked) as the Databricks
envs' catalog builds it, and the local child process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kedro.framework.session import KedroSession
from kedro.io import DatasetError

from financial_mlops.pipelines.drift.datasets import DatabricksRetrainingJob, LocalRetrainingJob

LAUNCH = {"launch": True, "check_id": "abc123", "reason": "drift alert", "timeout_seconds": 60}


class FakeJobs:
    """The slice of ``WorkspaceClient().jobs`` the job dataset uses, recording its calls."""

    def __init__(self, jobs: dict[str, list[int]], active: list[int]) -> None:
        self.jobs, self.active, self.calls = jobs, active, []

    def list(self, *, name):
        self.calls.append(("list", name))
        return [SimpleNamespace(job_id=i) for i in self.jobs.get(name, [])]

    def list_runs(self, *, job_id, active_only):
        self.calls.append(("list_runs", job_id, active_only))
        return [SimpleNamespace(run_id=r) for r in self.active]

    def run_now(self, *, job_id, idempotency_token):
        self.calls.append(("run_now", job_id, idempotency_token))
        return SimpleNamespace(run_id=555)


@pytest.fixture
def workspace(monkeypatch):
    def make(jobs=None, active=()):
        fake = FakeJobs(jobs or {}, list(active))
        monkeypatch.setattr("databricks.sdk.WorkspaceClient", lambda: SimpleNamespace(jobs=fake))
        return fake

    return make


def test_the_databricks_envs_start_the_job_id_the_bundle_passes(project, workspace):
    jobs = workspace(active=[41])
    with KedroSession.create(project_path=project.workdir, env="dev",
                             runtime_params={"drift": {"retraining_job_id": 77}}) as session:
        catalog = session.load_context().catalog
    assert catalog.load("retraining_job_status") == {"active_runs": [41]}
    catalog.save("retraining_job", LAUNCH)
    assert jobs.calls == [("list_runs", 77, True), ("run_now", 77, "abc123")]


def test_without_an_id_the_job_is_found_by_its_exact_name(workspace):
    jobs = workspace(jobs={"financial_retraining_workflow": [9]})
    job = DatabricksRetrainingJob(job_name="financial_retraining_workflow")
    job.save({**LAUNCH, "launch": False})
    assert jobs.calls == []
    job.save(LAUNCH)
    assert jobs.calls == [("list", "financial_retraining_workflow"), ("run_now", 9, "abc123")]


@pytest.mark.parametrize("found", [[], [9, 10]])
def test_a_missing_or_ambiguous_job_name_is_a_clear_error(workspace, found):
    workspace(jobs={"financial_retraining_workflow": found})
    with pytest.raises(DatasetError, match=f"{len(found)} Databricks jobs are named "
                                           "'financial_retraining_workflow'.*retraining_job_id"):
        DatabricksRetrainingJob().load()


def test_a_failing_local_retraining_fails_the_run_with_its_exit_code(project):
    job = LocalRetrainingJob(pipelines="no_such_pipeline")
    assert job.load() == {"active_runs": []}
    job.save({**LAUNCH, "launch": False})  # nothing to start
    with pytest.raises(DatasetError, match="--pipelines no_such_pipeline` failed with exit code"):
        job.save(LAUNCH)
