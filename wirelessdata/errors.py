"""The one exception type users see: a one-line message naming the thing and the fix."""


class WirelessDataError(Exception):
    """A user-facing error; the CLI prints ``error: <message>`` and exits non-zero, without a traceback."""


class ConfigError(WirelessDataError, ValueError):
    """A recipe, flag or argument is invalid; the message names the field and the allowed values."""


class StoreError(WirelessDataError):
    """A shard or dataset root cannot be created, opened, resumed or written."""
