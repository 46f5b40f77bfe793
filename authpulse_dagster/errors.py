"""Errors a user can meet, each carrying the exit code the CLI returns for it.

The CLI prints ``authpulse: error: <message>`` and exits with ``exit_code``;
messages are one line and say what to do.
"""


class AuthPulseError(Exception):
    """Base for errors that should reach the user as one clear line."""

    exit_code = 1


class ConfigError(AuthPulseError):
    """A setting (environment variable or option) has an unusable value."""

    exit_code = 2


class InputError(AuthPulseError):
    """An input file is missing, unreadable or in the wrong format."""

    exit_code = 3


class EnvironmentProblem(AuthPulseError):
    """Something on the machine is missing or busy (Java, a port, a process)."""

    exit_code = 4


class RecordsFailed(AuthPulseError):
    """Some records were still rejected after their retry budget; they are in the failed file."""

    exit_code = 5
