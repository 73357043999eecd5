"""The CDKTF app: one `LambdaLayersStack` per environment, named after the environment.

This is the only module of the infrastructure side that reads the process environment:
- AWS_ENDPOINT_URL re-points the local stacks' provider (`local`, `legacy`; default:
  moto's http://127.0.0.1:5000); `staging` and `prod` never read it.
- LAYERS_ENVIRONMENTS_DIR reads the environment files from that folder instead of
  environments/ (a rehearsal of a discovered estate; scripts/settings.py documents it).
- LAYERS_FAST_PROVIDER_IMPORT=0 imports the provider bindings the normal (slow) way; see
  infra_constructs/_aws.py.
It also sets one variable for its own process tree, before cdktf is imported: see below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Importing cdktf starts jsii's Node runtime as a child process, and that runtime prints a
# 15-line "Node 20 is end-of-life" banner to stderr, which the cdktf CLI relays as [ERROR]
# lines on every `npx cdktf synth`/`deploy`. Node 20 is the version package.json pins (the
# last one cdktf 0.21 was released against), so the banner says nothing actionable here. A
# value the caller set wins; a Node version other than 20 still gets its warning.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdktf import App

from environments import ENVIRONMENTS, LOCAL_ENDPOINT_DEFAULT, Environment, get_environment
from infra_constructs import _aws
from stacks.lambda_layers_stack import LambdaLayersStack

FAST_IMPORT_VAR = "LAYERS_FAST_PROVIDER_IMPORT"
ENDPOINT_VAR = "AWS_ENDPOINT_URL"
ENVIRONMENTS_DIR_VAR = "LAYERS_ENVIRONMENTS_DIR"


def fast_import_enabled(environ: Mapping[str, str]) -> bool:
    value = environ.get(FAST_IMPORT_VAR, "1")
    if value not in {"0", "1"}:
        raise ValueError(f"{FAST_IMPORT_VAR}: got {value!r}; allowed: 0, 1")
    return value == "1"


def environments_for(environ: Mapping[str, str]) -> list[Environment]:
    """Every configured environment; only local ones take the endpoint from `environ`."""
    if environ.get(ENVIRONMENTS_DIR_VAR):
        ENVIRONMENTS.use(Path(environ[ENVIRONMENTS_DIR_VAR]))
    endpoint = environ.get(ENDPOINT_VAR) or LOCAL_ENDPOINT_DEFAULT
    return [
        get_environment(name, endpoint_url=endpoint if ENVIRONMENTS[name].is_local else None)
        for name in ENVIRONMENTS
    ]


def build_app(*, environ: Mapping[str, str], outdir: str | None = None) -> App:
    _aws.load_provider(fast=fast_import_enabled(environ))
    app = App(outdir=outdir) if outdir is not None else App()
    for env in environments_for(environ):
        LambdaLayersStack(app, env.name, environment=env)
    return app


def main() -> None:
    try:
        app = build_app(environ=os.environ)
    except ValueError as error:
        # Bad configuration or switch: one line naming the field and what is allowed.
        raise SystemExit(f"synth: {error}") from None
    app.synth()


if __name__ == "__main__":
    main()
