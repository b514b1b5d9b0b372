"""The one exception hierarchy of roar.

Every error a user can cause or meet is a RoarError; the CLI edge turns it
into a one-line message and the exit code its class names.
"""


class RoarError(Exception):
    """A failure with a message fit for the user."""

    exit_code = 1


class UsageError(RoarError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class NotAWorkspace(RoarError):
    """No `.roar/` directory here or in any parent."""

    exit_code = 3


class LegacyWorkspace(NotAWorkspace):
    """A roar-cli 0.4.7 workspace (.roar/roar.db) that roar has not imported yet."""

    def __init__(self, message: str, root: object):
        super().__init__(message)
        self.root = root


class NotFound(RoarError):
    """An object, ref, step or artifact that does not exist."""

    exit_code = 4


class Ambiguous(RoarError):
    """A hash prefix that names more than one thing."""

    exit_code = 4


class CorruptObject(RoarError):
    """Stored bytes that do not match their id, or do not parse."""

    exit_code = 5


class RefConflict(RoarError):
    """A compare-and-swap ref update lost a race."""

    exit_code = 6


class TracerUnavailable(RoarError):
    """The tracer binary is missing or the kernel will not let it work."""

    exit_code = 7


class RemoteError(RoarError):
    """A GLaaS remote refused a request, or could not be reached."""

    exit_code = 8


class SecretsFound(RoarError):
    """What would be sent holds secrets and the user did not confirm sending them redacted."""

    exit_code = 9


class TransferError(RoarError):
    """A get or put could not move the bytes, or they were not the expected ones."""

    exit_code = 10


class ReproduceError(RoarError):
    """A reproduction cannot start or could not finish; nothing it made is a result."""

    exit_code = 11
