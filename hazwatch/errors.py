"""Errors that the CLI turns into one clear line instead of a traceback."""


class HazwatchError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message.

    >>> raise HazwatchError("port 55432 on 127.0.0.1 is already in use")
    Traceback (most recent call last):
    hazwatch.errors.HazwatchError: port 55432 on 127.0.0.1 is already in use
    """


class ConfigError(HazwatchError):
    """Settings that do not validate; each line names the field and where it came from."""
