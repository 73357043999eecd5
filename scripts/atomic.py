"""Writing a file so that no reader ever sees part of it: a temp file beside it, then a rename.

The rename is atomic within one folder (os.replace), so the file either keeps its old text
or has the whole new one; an interrupted write leaves only the temp file, removed here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
