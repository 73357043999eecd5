"""Packages and layers whose code really runs in the Lambda double (lambda_double_runtime).

Each of the `local` environment's four functions gets a handler that imports a module from
the layer and answers what a hook or a smoke check asks:

    {"version": true}  -> {"version": TAG, "dep": the layer module's VERSION, "env": ...}
    {"fail": true}     -> raises RuntimeError("asked to fail")
    {"migrate": true}  -> {"migrated": TAG}
    {"log_error": true} -> prints an ERROR line, answers {"logged": true}

`needs` names the layer module every handler imports: a package whose layer lacks it fails
at import (`Runtime.ImportModuleError`), the fault the design's smoke checks catch.
"""

from __future__ import annotations

import hashlib
import json

from lambda_world import World, zip_bytes

from environments import Environment
from scripts.store import hex_to_b64

HANDLER = """import os
import {needs} as dep


def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    if event.get("log_error"):
        print("[ERROR] something broke in {tag}")
        return {{"logged": True}}
    if event.get("migrate"):
        return {{"migrated": "{tag}"}}
    return {{
        "version": "{tag}",
        "dep": dep.VERSION,
        "env": os.environ.get("ENVIRONMENT"),
        "function_version": context.function_version,
    }}
"""


def package_files(env: Environment, tag: str, needs: str) -> dict[str, str]:
    """A backend with one module per configured handler, all the same code."""
    files = {"VERSION": f"{tag}\n"}
    for config in env.functions:
        module = config.handler.rpartition(".")[0]
        parts = module.split(".")
        for depth in range(1, len(parts)):
            files.setdefault("/".join(parts[:depth]) + "/__init__.py", "")
        files["/".join(parts) + ".py"] = HANDLER.format(tag=tag, needs=needs)
    return files


def upload_running_package(world: World, tag: str, *, needs: str = "dep_v0") -> str:
    """`backend-HASH.zip` (and `backend.zip`) whose handlers import `needs`; its HASH."""
    body = zip_bytes(package_files(world.env, tag, needs))
    sha = hashlib.sha256(body).hexdigest()
    package_hash = sha[:16]
    world.store.put_bytes(f"backend-{package_hash}.zip", body, overwrite=True)
    world.store.put_bytes("backend.zip", body, overwrite=True)
    manifest = {"hash": package_hash, "sha256": sha, "code_sha256": hex_to_b64(sha)}
    manifest["version"] = tag
    world.store.put_bytes(
        f"backend-{package_hash}.json", json.dumps(manifest).encode(), overwrite=True
    )
    return package_hash


def running_world(world: World) -> World:
    """The world's functions as Terraform leaves them, on code that runs: layer v0 (module
    `dep_v0`), package v0 importing it, and an alias on version 1."""
    world.upload_layer("v0")
    upload_running_package(world, "v0")
    world.create_functions()
    world.add_aliases()
    return world
