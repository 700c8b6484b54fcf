"""The bundle against the official Databricks bundle JSON schema, as written and per target."""

import copy

import pytest
from databricks_bundle import target_view
from jsonschema import Draft202012Validator


@pytest.fixture(scope="module")
def validator(bundle_schema):
    return Draft202012Validator(bundle_schema)


def leaf_errors(error) -> list:
    """The errors under a oneOf, followed down the alternative that matched deepest.

    Every bundle type is "the object, or a ${var...} string": without this, all mistakes in
    `resources` would surface as one unreadable error about the whole mapping.
    """
    if not error.context:
        return [error]
    alternatives = {}
    for sub in error.context:
        alternatives.setdefault(sub.relative_schema_path[0], []).append(sub)
    deepest = max(alternatives.values(), key=lambda subs: max(len(s.absolute_path) for s in subs))
    return [leaf for sub in deepest for leaf in leaf_errors(sub)]


def schema_errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message[:200]}"
        for error in validator.iter_errors(document)
        for leaf in leaf_errors(error)
    ]


def test_bundle_as_written_matches_the_schema(validator, bundle):
    assert schema_errors(validator, bundle) == []


def test_each_deployed_target_matches_the_schema(validator, bundle, target):
    assert schema_errors(validator, target_view(bundle, target)) == []


def test_the_schema_rejects_a_misspelt_key_and_a_bad_enum(validator, bundle):
    """Guards the guard: a validator that accepted anything would pass the two tests above."""
    broken = copy.deepcopy(target_view(bundle, "prd"))
    retraining = broken["resources"]["jobs"]["financial_retraining_workflow"]
    retraining["schedule"]["pause_status"] = "SOMETIMES"
    retraining["tasks"][0]["python_wheel_task"]["entrypoint"] = "financial-mlops"

    errors = schema_errors(validator, broken)

    assert any("schedule" in error for error in errors)
    assert any("python_wheel_task" in error for error in errors)
