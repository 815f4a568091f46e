"""The one exception type that reaches the user as a one-line message."""


class FalsrError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line and exits 1."""
