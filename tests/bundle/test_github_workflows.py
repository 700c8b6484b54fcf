"""The GitHub workflows parse, gate main as documented, and deploy exactly the bundle's targets."""

import subprocess

import pytest
from databricks_bundle import REPO, load_yaml

WORKFLOWS = REPO / ".github" / "workflows"


def workflow(name: str) -> dict:
    return load_yaml(WORKFLOWS / name)


def triggers(document: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return document.get("on", document.get(True))


def steps_running(document: dict, command: str) -> list[dict]:
    return [
        step
        for job in document["jobs"].values()
        for step in job.get("steps", [])
        if command in step.get("run", "")
    ]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_workflow_parses_into_triggers_and_jobs(path):
    document = load_yaml(path)
    assert triggers(document)
    for name, job in document["jobs"].items():
        assert ("runs-on" in job) != ("uses" in job), f"{path.name}:{name}"


def test_every_pull_request_runs_the_tests():
    ci = workflow("ci.yml")
    assert "pull_request" in triggers(ci)
    assert steps_running(ci, "bash .ci/run")


def run_branch_check(head_ref: str) -> subprocess.CompletedProcess:
    """Run protect_main's own branch-name step, as the runner would for a pull request."""
    protect = workflow("protect_main.yml")
    assert triggers(protect)["pull_request"]["branches"] == ["main"]
    (step,) = protect["jobs"]["branch_name"]["steps"]
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={"HEAD_REF": head_ref, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "branch",
    [
        "feature/drift-monitor",
        "fix/ISSUE-12_null_prices",
        "chore/bump.deps",
        "hotfix/v1.2/rollback",
    ],
)
def test_main_accepts_pull_requests_from_the_allowed_branch_families(branch):
    assert run_branch_check(branch).returncode == 0


@pytest.mark.parametrize(
    "branch",
    ["main", "develop", "release/1.0", "feature", "feature/", "feature-x", "Feature/x", "bugfix/x"],
)
def test_main_rejects_pull_requests_from_any_other_branch(branch):
    checked = run_branch_check(branch)
    assert checked.returncode != 0
    assert f"branch '{branch}' cannot be merged into main" in checked.stdout


def test_direct_pushes_to_main_are_flagged():
    protect = workflow("protect_main.yml")
    assert triggers(protect)["push"]["branches"] == ["main"]
    assert steps_running(protect, "/pulls")


def test_promotion_path_dev_on_merge_acc_on_tag_prd_after_acc_or_by_hand(bundle):
    deploy = workflow("deploy.yml")
    on = triggers(deploy)
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert on["workflow_dispatch"]["inputs"]["tag"]["required"] is True

    jobs = deploy["jobs"]
    assert {name: job["with"]["target"] for name, job in jobs.items()} == {
        "dev": "dev",
        "acc": "acc",
        "prd": "prd",
    }
    assert set(jobs) == set(bundle["targets"])
    assert "refs/heads/main" in jobs["dev"]["if"]
    assert "refs/tags/v" in jobs["acc"]["if"]
    assert jobs["prd"]["needs"] == "acc"
    assert "needs.acc.result == 'success'" in jobs["prd"]["if"]
    assert "workflow_dispatch" in jobs["prd"]["if"]
    assert {job["uses"] for job in jobs.values()} == {"./.github/workflows/bundle_deploy.yml"}


def test_each_deployment_waits_for_its_github_environment_and_validates_first():
    reusable = workflow("bundle_deploy.yml")
    assert "workflow_call" in triggers(reusable)
    (job,) = reusable["jobs"].values()
    assert job["environment"] == "${{ inputs.target }}"
    commands = [step.get("run", "") for step in job["steps"]]
    validate = commands.index('databricks bundle validate -t "$TARGET"')
    assert commands[validate + 1] == 'databricks bundle deploy -t "$TARGET"'
    assert any(step.get("uses", "").startswith("databricks/setup-cli@") for step in job["steps"])
    assert job["env"]["TARGET"] == "${{ inputs.target }}"
