"""Which distribution an import needs: from the layer's own records, or well-known names.

`ModuleNotFoundError` names a module (`jose`), but the fix is a distribution in the lock
(`python-jose`). A module some layer distribution provides means that distribution is
there but broken for this runtime; otherwise the hint names the usual distribution.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

# Import names whose distribution is named otherwise (the usual suspects in Lambda code).
KNOWN: dict[str, str] = {
    "PIL": "pillow",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "yaml": "PyYAML",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "multipart": "python-multipart",
    "magic": "python-magic",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "google.protobuf": "protobuf",
    "email_validator": "email-validator",
    "attr": "attrs",
}


def layer_providers(site: Path) -> dict[str, str]:
    """Top-level import name -> distribution, for every distribution in `site`."""
    found: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(site)]):
        name = dist.metadata["Name"]
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            tops = [
                str(f).split("/", 1)[0].removesuffix(".py")
                for f in dist.files or []
                if not str(f).split("/", 1)[0].endswith((".dist-info", ".data"))
            ]
        for top in tops:
            found.setdefault(top, name)
    return found


def missing_distribution(module: str, site: Path) -> tuple[str | None, str]:
    """(the layer distribution providing `module`, or None; a hint naming the usual one)."""
    top = module.split(".", 1)[0]
    provider = layer_providers(site).get(top)
    if provider:
        return provider, ""
    known = KNOWN.get(module) or KNOWN.get(top)
    if known is None:
        host = metadata.packages_distributions().get(top)
        known = host[0] if host else None
    return None, f" (it comes from the distribution {known})" if known else ""
