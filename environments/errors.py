"""The one error the configuration raises: a value that is wrong, named with its fix.

A `ValueError` (so a dataclass's `__post_init__` check reads as one), but its own type, so
the CLI maps exactly this to "bad input" (exit 2) and a `ValueError` from a bug elsewhere
is never mistaken for the user's mistake.
"""


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field and what it takes."""
