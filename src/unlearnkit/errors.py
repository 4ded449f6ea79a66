"""Exceptions a user can cause. The CLI turns each into one line on stderr and exit code 2."""


class UnlearnkitError(Exception):
    """Base class of every error caused by user input (bad name, bad value, bad file)."""


class ConfigError(UnlearnkitError, ValueError):
    """An unknown name, an unknown key or a value outside its declared range."""


class DataError(UnlearnkitError, ValueError):
    """A dataset file or directory that is missing, truncated or malformed."""


class StoreError(UnlearnkitError):
    """A model-store or run-store entry that is missing or corrupt."""
