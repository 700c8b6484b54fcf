"""Every job tells the target's operators when a run fails, through per-target bundle variables:
empty in dev and acc, required in prd (no value -> the bundle does not validate)."""

import pytest
from databricks_bundle import (
    DEPLOY_VARIABLES,
    NOTIFICATION_VARIABLES,
    target_view,
    unset_variables,
)
from jsonschema import Draft202012Validator
from test_bundle_schema import schema_errors

EMAILS, DESTINATIONS = "failure_notification_emails", "failure_notification_destinations"


def test_every_job_notifies_on_failure_through_the_target_variables(bundle):
    jobs = bundle["resources"]["jobs"]
    assert len(jobs) >= 5
    for name, job in jobs.items():
        assert job["email_notifications"] == {"on_failure": f"${{var.{EMAILS}}}"}, name
        assert job["webhook_notifications"] == {"on_failure": f"${{var.{DESTINATIONS}}}"}, name


def test_the_variables_are_lists_without_a_default(bundle):
    for name in (EMAILS, DESTINATIONS):
        assert bundle["variables"][name]["type"] == "complex"
        assert "default" not in bundle["variables"][name], "prd must fail without a value"


@pytest.mark.parametrize("target", ["dev", "acc"])
def test_dev_and_acc_notify_nobody_by_default(bundle, target):
    assert unset_variables(bundle, target, DEPLOY_VARIABLES) == set()
    for job in target_view(bundle, target)["resources"]["jobs"].values():
        assert job["email_notifications"]["on_failure"] == []
        assert job["webhook_notifications"]["on_failure"] == []


def test_prd_deployed_with_them_notifies_them_on_every_job(bundle):
    for job in target_view(bundle, "prd")["resources"]["jobs"].values():
        assert job["email_notifications"]["on_failure"] == NOTIFICATION_VARIABLES[EMAILS]
        assert job["webhook_notifications"]["on_failure"] == NOTIFICATION_VARIABLES[DESTINATIONS]


def test_prd_without_them_fails_to_validate(bundle, bundle_schema):
    # What the CLI checks first: a variable with no value anywhere is an error.
    assert unset_variables(bundle, "prd", DEPLOY_VARIABLES) == {EMAILS, DESTINATIONS}
    assert unset_variables(bundle, "prd", DEPLOY_VARIABLES | NOTIFICATION_VARIABLES) == set()
    # And the deployed prd would not match the official schema: every job's notifications break.
    errors = schema_errors(Draft202012Validator(bundle_schema),
                           target_view(bundle, "prd", DEPLOY_VARIABLES))
    jobs = target_view(bundle, "prd")["resources"]["jobs"]
    for name in jobs:
        for key in ("email_notifications", "webhook_notifications"):
            assert any(e.startswith(f"resources/jobs/{name}/{key}") for e in errors), (name, key)
