"""Lambda's size limit for a function and its layers, checked before anything is uploaded."""

from __future__ import annotations

from collections.abc import Mapping

from scripts import progress
from scripts.builder.layout import largest
from scripts.errors import BadInputError

# Lambda: function code plus all its layers, unzipped, at most 250 MB.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
WARN_FRACTION = 0.8


class SizeBudgetError(BadInputError):
    """The dependencies do not fit Lambda's unzipped limit (fix: drop or slim packages)."""


def check_budget(
    *,
    layer_bytes: int,
    function_bytes: int,
    limit: int,
    sizes: Mapping[str, int],
    bytecode_bytes: int = 0,
) -> list[tuple[str, int]]:
    """Fail when layer plus the largest function package exceeds the limit; warn near it.

    `layer_bytes` includes the compiled bytecode; `bytecode_bytes` only says how much of it.
    """
    top = largest(sizes, 10)
    listing = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in top)
    total = layer_bytes + function_bytes
    of_which = f" (bytecode {bytecode_bytes:,})" if bytecode_bytes else ""
    progress.say(
        f"  size: layer {layer_bytes:,}{of_which} + function package {function_bytes:,} = "
        f"{total:,} of {limit:,} bytes ({100 * total / limit:.0f}%)"
    )
    progress.say(f"  largest packages: {listing}")
    if total > limit:
        hint = " or build with --no-bytecode" if bytecode_bytes else ""
        raise SizeBudgetError(
            f"layer ({layer_bytes:,} bytes unzipped{of_which}) plus the largest function "
            f"package ({function_bytes:,}) is {total:,} bytes, over Lambda's {limit:,}-byte "
            f"limit: remove or slim dependencies{hint}; largest: {listing}"
        )
    if total > WARN_FRACTION * limit:
        progress.say(
            f"warning: {100 * total / limit:.0f}% of Lambda's unzipped limit used; "
            f"largest: {listing}"
        )
    return top
