"""Config resolvers that say the local/Databricks difference once, in ``conf/base``.

A catalog names each dataset's local folder and its Unity Catalog table side by side; the
env's ``globals.platform`` (read through the catalog variable ``_platform``) keeps one and
nulls the other, so ``conf/dev|acc|prd`` hold only what differs between them (the catalog name,
the experiment). Datasets take exactly one of ``path`` or ``table``: the null one is absent.
"""

from __future__ import annotations

from typing import Any

DATABRICKS = "databricks"


def _on_databricks(root: Any) -> bool:
    platform = root.get("_platform")
    if platform is None:
        raise ValueError("the ${local:}, ${uc:} and ${by_platform:} resolvers need a "
                         "`_platform: ${globals:platform}` key in the same config folder (copy "
                         "it from conf/base/catalog.yml into the env's file that uses them)")
    return platform == DATABRICKS


def local(value: Any, *, _root_: Any) -> Any:
    """``value`` (a local folder or file) where the env runs locally, else None."""
    return None if _on_databricks(_root_) else value


def uc(name: str, *, _root_: Any) -> str | None:
    """``<catalog>.<schema>.<name>`` (``_uc_schema``) on Databricks, else None."""
    return f"{_root_.get('_uc_schema')}.{name}" if _on_databricks(_root_) else None


def by_platform(local_value: Any, databricks_value: Any, *, _root_: Any) -> Any:
    """The value for the env's platform."""
    return databricks_value if _on_databricks(_root_) else local_value


RESOLVERS = {"local": local, "uc": uc, "by_platform": by_platform}
