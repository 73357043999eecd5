"""The configuration's typed errors (environments/ imports nothing of ours, so they live here).

`ValueError`s (so a dataclass's `__post_init__` check reads as one), but of their own type,
so scripts/cli.py maps exactly these to "bad input" (exit 2) and a `ValueError` from a bug
elsewhere is never mistaken for the user's mistake.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field and what it takes."""


class ConfigFileError(ConfigError):
    """An environment file is wrong: one line naming the file, the key and the fix."""
