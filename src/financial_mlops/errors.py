"""Errors the user can fix: the CLI prints them as one line instead of a stack trace."""


class UserError(Exception):
    """A user mistake or an unusable input, with a one-line message naming the problem."""
