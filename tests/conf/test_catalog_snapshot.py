"""Every env resolves every dataset as it did before the config was consolidated (issue 14).

The snapshots are ``kedro catalog resolve-patterns --env <env>`` output taken before the change,
with the project folder replaced by ``<project>``. A config refactoring must leave them as they
are; a change on purpose (a new dataset, another table) updates the snapshot in the same commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import REPO

SNAPSHOTS = Path(__file__).parent / "snapshots"


class _SnapshotLoader(yaml.SafeLoader):
    """Reads the ``!!python/...`` values of the dump (tuples, Kedro's sentinel object) as text."""


def _python_value(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return f"{suffix}{loader.construct_sequence(node)}"
    if isinstance(node, yaml.MappingNode):
        return f"{suffix}{loader.construct_mapping(node)}"
    return f"{suffix}{loader.construct_scalar(node)}"


_SnapshotLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_value)


def _load(text: str) -> dict:
    return yaml.load(text, Loader=_SnapshotLoader)  # noqa: S506 - safe loader, tags as text


def resolved_catalog(env: str) -> dict:
    """What ``kedro catalog resolve-patterns --env <env>`` prints, as a dict."""
    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO, env=env) as session:
        resolved = session.load_context().catalog.resolve_patterns()
    return _load(yaml.dump(resolved).replace(str(REPO), "<project>"))


@pytest.mark.parametrize("env", ["local", "dev", "acc", "prd"])
def test_catalog_resolves_as_in_the_snapshot(env):
    expected = _load((SNAPSHOTS / f"catalog_{env}.yml").read_text())
    actual = resolved_catalog(env)
    assert sorted(actual) == sorted(expected)
    for name, config in expected.items():
        assert actual[name] == config, name
