"""Typed failures that the CLI turns into one line and an exit code.

Steps raise these instead of printing, so they stay pure and testable; only `cli.main`
decides what a person sees.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3


class ToolError(Exception):
    """A failure the user can act on; the message names the fix."""

    exit_code = EXIT_FAILURE


class BadInputError(ToolError):
    """The command line, the configuration or an input file is wrong (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class StoreAccessError(ToolError):
    """The artifact store refused us (403): a permission, not a missing object."""


class ArchivedObjectError(ToolError):
    """The object is in an archive storage class (Glacier): unreadable until restored."""


class ObjectExistsError(ToolError):
    """A no-overwrite write found the key already there (a racing build won)."""


class ConditionFailedError(ToolError):
    """A write or delete conditional on the object's ETag found another version there."""


class BusyError(ToolError):
    """Another deploy or rollback of the environment holds its lock (exit 3)."""

    exit_code = EXIT_BUSY


class ChecksumMismatchError(ToolError):
    """What the store or Lambda reports differs from what we built."""
