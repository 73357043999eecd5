"""Record the risk plans: `terraform show -json` of one plan per case against the risk world.

Run by hand when the cases change (it needs terraform and the provider mirror, like the e2e
tests): `TF_PLUGIN_MIRROR=$(.ci/find-tf-mirror) .venv/bin/python -m
tests.scripts.plans.record_risks`.
It starts moto, applies risk_world/main.tf with its defaults, then for each case plans
with that case's variables (`terraform plan -out`, then `show -json`) and writes
`risk-CASE.json` (name cases as arguments to record only those). It takes a few minutes
(a plan refreshes every resource).
A recorded plan keeps what plan-check reads (format_version, terraform_version,
resource_changes, configuration) and drops prior_state and planned_values, which repeat
the same values and would triple the files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import boto3

from scripts.local import aws as local_aws

HERE = Path(__file__).resolve().parent
KEPT = ("format_version", "terraform_version", "resource_changes", "configuration")

# Case name -> the variables it changes from risk_world's defaults.
CASES: Mapping[str, Mapping[str, str]] = {
    "partial-failures-dropped": {"partial_failures": "false"},
    "queue-replaced": {"jobs_queue_name": "risk-jobs-v2"},
    "mapping-deleted": {"mapping": "false"},
    "mapping-disabled": {"mapping_enabled": "false"},
    "mapping-to-alias": {"mapping_target": "alias"},
    "mapping-to-other": {"mapping_target": "other"},
    "redrive-removed": {"redrive": "false"},
    "async-retries-dropped": {"async_retries": "0"},
    "async-destination-dropped": {"failure_destination": "false"},
    "permission-replaced": {"events_statement_id": "AllowEventBridgeTick"},
    "permission-deleted": {"events_permission": "false"},
    "permission-replaced-before-destroy": {"apigw_statement_id": "AllowHttpApiInvoke"},
    "http-api-to-other": {"http_target": "other"},
    "http-api-to-alias": {"http_target": "alias"},
    "rest-api-to-other": {"rest_target": "other"},
    "schedule-target-deleted": {"schedule_target": "false"},
    "alias-version-changed": {"alias_version": "$LATEST"},
    "target-forgotten": {},
    "queue-imported": {},
}
# Cases that change the configuration itself, not a variable: the files they add, and the
# marked block of main.tf they take out.
FORGET = """removed {
  from = aws_cloudwatch_event_target.tick
  lifecycle {
    destroy = false
  }
}
"""
IMPORT = """resource "aws_sqs_queue" "extra" {
  name = "risk-extra"
}

import {
  to = aws_sqs_queue.extra
  id = "%s/123456789012/risk-extra"
}
"""


def terraform(args: list[str], *, cwd: Path, environ: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["terraform", *args],
        cwd=cwd,
        env=dict(environ),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"terraform {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _configure(work: Path, case: str, main_tf: str, endpoint: str) -> None:
    """main.tf as the case needs it, and only that case's extra file."""
    (work / "case.tf").unlink(missing_ok=True)
    if case == "target-forgotten":
        start = main_tf.index("# BEGIN forgettable")
        end = main_tf.index("# END forgettable")
        (work / "main.tf").write_text(main_tf[:start] + main_tf[end:])
        (work / "case.tf").write_text(FORGET)
        return
    (work / "main.tf").write_text(main_tf)
    if case == "queue-imported":
        (work / "case.tf").write_text(IMPORT % endpoint)


def main() -> None:
    mirror = Path(os.environ["TF_PLUGIN_MIRROR"])
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        package = root / "package.zip"
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        server = local_aws.start_moto(log_path=root / "moto.log")
        try:
            cli_config = local_aws.write_cli_config(root / "terraform.tfrc", mirror)
            environ = local_aws.local_environ(
                server.endpoint, region="us-west-2", cli_config=cli_config
            )
            work = root / "world"
            work.mkdir()
            (work / "main.tf").write_text((HERE / "risk_world" / "main.tf").read_text())
            base = [f"-var=endpoint={server.endpoint}", f"-var=package_zip={package}"]
            terraform(["init", "-input=false", "-no-color"], cwd=work, environ=environ)
            terraform(
                ["apply", "-auto-approve", "-input=false", "-no-color", *base],
                cwd=work,
                environ=environ,
            )
            # Made outside Terraform, for the import case to adopt.
            boto3.client(
                "sqs",
                endpoint_url=server.endpoint,
                region_name="us-west-2",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            ).create_queue(QueueName="risk-extra")
            main_tf = (HERE / "risk_world" / "main.tf").read_text()
            chosen = sys.argv[1:] or list(CASES)
            for case in chosen:
                variables = CASES[case]
                _configure(work, case, main_tf, server.endpoint)
                extra = [f"-var={name}={value}" for name, value in variables.items()]
                terraform(
                    ["plan", "-input=false", "-no-color", "-out=case.tfplan", *base, *extra],
                    cwd=work,
                    environ=environ,
                )
                shown = json.loads(
                    terraform(
                        ["show", "-json", "-no-color", "case.tfplan"], cwd=work, environ=environ
                    )
                )
                kept = {key: shown[key] for key in KEPT if key in shown}
                # The moto port and the scratch folder change with every run.
                text = json.dumps(kept, indent=1, sort_keys=True)
                text = text.replace(server.endpoint, "http://127.0.0.1:5000").replace(
                    str(package), "package.zip"
                )
                (HERE / f"risk-{case}.json").write_text(text + "\n")
                print(f"recorded risk-{case}.json")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
