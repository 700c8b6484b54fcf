"""The commit this code was built from, readable without Spark, git or a checkout.

A wheel has no git checkout (every Databricks job runs one), so ``scripts/build_package.sh``
writes the commit into ``BUILD_COMMIT`` beside this module before it packages, and removes it
after. A source checkout (an editable install) asks git instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"
_RECORDED = Path(__file__).with_name("BUILD_COMMIT")


def git_sha() -> str:
    """The commit recorded at build time, else the source checkout's, else ``unknown``."""
    if _RECORDED.is_file():
        recorded = _RECORDED.read_text().strip()
        if recorded:
            return recorded
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return result.stdout.strip() or UNKNOWN


def version_line() -> str:
    """What ``financial-mlops --version`` prints."""
    from financial_mlops import __version__

    return f"financial_mlops {__version__} (commit {git_sha()})"
