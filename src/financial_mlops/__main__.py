"""The packaged project's entry point: ``financial-mlops --env prd --pipelines tournament
--conf-source <dir or tar.gz>`` (the Databricks ``python_wheel_task`` calls this).

``--version`` answers before anything imports Spark: the wheel leaves Spark to the Databricks
runtime, so it must work where pyspark is not installed. Click runs outside its standalone mode:
standalone ends every run, a successful one too, with ``SystemExit``, which a wheel task reports
as its end; here a success returns and only a failure exits, with its code.
"""

import sys
from pathlib import Path
from typing import Any

import click


def main(*args: Any, **kwargs: Any) -> Any:
    arguments = list(args[0]) if args else sys.argv[1:]
    if "--version" in arguments:
        from financial_mlops.build_info import version_line

        click.echo(version_line())
        return None

    from kedro.framework.cli.utils import find_run_command
    from kedro.framework.project import configure_project

    package_name = Path(__file__).parent.name
    configure_project(package_name)
    run = find_run_command(package_name)
    kwargs["standalone_mode"] = False
    try:
        result = run(*args, **kwargs)
    except click.ClickException as error:  # a user mistake: one line, then a failed exit
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    if isinstance(result, int) and result:  # ctx.exit(n) with n != 0
        sys.exit(result)
    # None: the console script runs `sys.exit(main())`, which turns any other value (Kedro's
    # run returns a dict of outputs) into a failed exit.
    return None


if __name__ == "__main__":
    main()
