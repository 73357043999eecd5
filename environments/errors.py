"""The configuration's typed error (environments/ imports nothing of ours, so it lives here).

A `ValueError`, so every place that already reports a bad value as bad input (exit 2)
reports a bad file the same way; scripts/cli.py maps it by name.
"""

from __future__ import annotations


class ConfigFileError(ValueError):
    """An environment file is wrong: one line naming the file, the key and the fix."""
