"""Errors every layer raises; the CLI maps them to exit codes.

Messages are one line naming the object and the cause, no "caused by"
chains (ARCHITECTURE.md, convention 8).
"""


class PalletError(Exception):
    """Base of every error pallet reports to a user."""


class NotFound(PalletError):
    """An object (container, image, layer, file) does not exist."""


class AlreadyExists(PalletError):
    """An object with that id or name exists already."""


class InvalidArgument(PalletError):
    """Bad input: a flag, a config field, a tar member."""


class WrongState(PalletError):
    """The object exists but its state forbids the operation."""


class Conflict(PalletError):
    """The operation conflicts with another object (an image in use...)."""


class Unavailable(PalletError):
    """The host lacks what the operation needs (a controller, a filesystem)."""
