"""Kedro's own ``run`` command, with user mistakes printed as one line instead of a traceback."""

import copy
import functools

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.io import DatasetError

from financial_mlops.errors import UserError
from financial_mlops.pipeline_registry import pipeline_names


def _check_pipeline_names(kwargs: dict) -> None:
    """An unknown name would end in an ImportError deep in Kedro's pipeline discovery."""
    asked = [*(kwargs.get("pipelines") or []), *filter(None, [kwargs.get("pipeline")])]
    valid = pipeline_names()
    unknown = [name for name in asked if name not in valid]
    if unknown:
        raise UserError(f"unknown pipeline {', '.join(map(repr, unknown))}; the pipelines are: "
                        f"{', '.join(valid)}")


def _one_line_user_errors(callback):
    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        try:
            _check_pipeline_names(kwargs)
            return callback(*args, **kwargs)
        except UserError as error:
            raise click.ClickException(str(error)) from None
        except DatasetError as error:  # the catalog wraps a dataset's own UserError
            if isinstance(error.__cause__, UserError):
                raise click.ClickException(str(error)) from None
            raise

    return wrapper


run = copy.copy(kedro_run)
run.callback = _one_line_user_errors(kedro_run.callback)


@click.group(name="financial_mlops")
def cli() -> None:
    """Project commands (they override Kedro's built-ins of the same name)."""


cli.add_command(run)
