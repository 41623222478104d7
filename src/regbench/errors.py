"""The one error type for bad user input: the CLI prints its message as one line, exit code 2."""


class UsageError(Exception):
    """Bad input (grid file, option, missing data): one line naming the file, key and allowed values."""
