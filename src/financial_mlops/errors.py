"""Errors the user can fix: the CLI prints them as one line instead of a stack trace."""

from kedro.io import DatasetError


class UserError(Exception):
    """A user mistake or an unusable input, with a one-line message naming the problem."""


class DatasetUserError(UserError, DatasetError):
    """A user error raised inside a dataset's save or load: Kedro re-raises a ``DatasetError``
    as it is instead of wrapping it, so the message stays the one line that names the fix."""
