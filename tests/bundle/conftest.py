"""Fixtures: the merged bundle, each target, and the official bundle JSON schema."""

import json

import pytest
from databricks_bundle import SCHEMA_PATH, TARGETS, load_bundle


@pytest.fixture(scope="session")
def bundle_and_origins():
    return load_bundle()


@pytest.fixture(scope="session")
def bundle(bundle_and_origins):
    return bundle_and_origins[0]


@pytest.fixture(scope="session")
def origins(bundle_and_origins):
    return bundle_and_origins[1]


@pytest.fixture(scope="session", params=TARGETS)
def target(request):
    return request.param


@pytest.fixture(scope="session")
def bundle_schema():
    """The official bundle JSON schema, its `\\p{..}` classes rewritten for Python's `re`."""
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"bundle schema not found at {SCHEMA_PATH} (shared/ is not beside the clone)")
    text = SCHEMA_PATH.read_text()
    # [\p{L}\p{N}] is "a letter or a digit" = a word character that is not "_"; \p{L} alone is a
    # word character that is neither a digit nor "_". Order matters: the class form goes first.
    text = text.replace(r"[\\p{L}\\p{N}]", r"[^\\W_]").replace(r"\\p{L}", r"[^\\W\\d_]")
    assert r"\\p{" not in text, "the schema has a Unicode class this rewrite does not handle"
    return json.loads(text)
