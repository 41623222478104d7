"""The one error type for bad user input: the CLI prints its message as one line, exit code 2."""


class UsageError(Exception):
    """Bad input (grid file, option, missing data): one line naming the file, key and allowed values."""


class StoreError(Exception):
    """The results folder cannot be written (disk full, read-only): one line naming it, exit code 1;
    every cell stored before stays, and the same command resumes."""
