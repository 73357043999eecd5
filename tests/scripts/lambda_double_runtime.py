"""How the Lambda double answers `Invoke`: it runs the version's own code.

moto cannot run a function without Docker. The double resolves the qualifier as Lambda
does (`$LATEST`, a version, or an alias, its weights honoured by a seeded choice), reads
that version's configuration from moto, and runs the version's package and layers with
the runtime's Python in a subprocess through `scripts.local.runtime.run_handler` (what
`python -m scripts invoke` runs): the function's environment variables, its timeout, and
Lambda's answer shapes (`X-Amz-Function-Error: Unhandled`, an `errorMessage`/`errorType`/
`stackTrace` payload, `X-Amz-Executed-Version`, `X-Amz-Log-Result` for `LogType: Tail`).
What the handler prints goes to CloudWatch Logs on moto, in `/aws/lambda/NAME` (or the
function's configured log group), stream `YYYY/MM/DD/[VERSION]id` as Lambda names them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from lambda_double_api import LambdaError

from scripts.local.runtime import HandlerRun, Runtime, extract, run_handler

# Lambda's answer when the handler raised, failed to import, or ran out of time.
FUNCTION_ERROR = "Unhandled"
_TAIL_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class FunctionRunner:
    """Runs versions' code for the double; thread-safe (each run has its own scratch)."""

    python_for: Callable[[str], str | None]
    seed: int = 0
    # Where CloudWatch Logs is (moto); None: what the handler prints is not shipped.
    logs_endpoint: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lambda-run-")))
    _layers: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)
    _logs: dict[str, Any] = field(default_factory=dict)  # region -> client
    _pythons: dict[str, str | None] = field(default_factory=dict)
    invocations: list[tuple[str, str]] = field(default_factory=list)  # (function, version)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 -- a reproducible draw, not a secret

    def remember_layer(self, arn: str, data: bytes) -> None:
        with self._lock:
            self._layers[arn] = data

    def choose(self, version: str, weights: Mapping[str, float]) -> str:
        """The version an alias invocation runs: the extra one with its weight's chance."""
        with self._lock:
            draw = self._rng.random()
        for extra, weight in sorted(weights.items()):
            if draw < weight:
                return extra
            draw -= weight
        return version

    def invoke(
        self,
        config: Mapping[str, Any],
        code: bytes | None,
        payload: bytes,
        *,
        invocation_type: str = "RequestResponse",
        tail: bool = False,
    ) -> Answer:
        """Run `config`'s version (a GetFunctionConfiguration answer) on `payload`."""
        name, version = str(config["FunctionName"]), str(config.get("Version", "$LATEST"))
        if invocation_type == "DryRun":
            return Answer(204, [("X-Amz-Executed-Version", version)], b"")
        try:
            event = json.loads(payload) if payload else {}
        except ValueError:
            raise LambdaError(
                400, "InvalidRequestContentException", "Could not parse request body into json"
            ) from None
        if code is None:
            raise LambdaError(502, "LambdaDoubleError", f"{name}: its code was never seen")
        runtime = self._runtime(config, code)
        request_id = str(uuid.uuid4())
        with self._lock:
            self.invocations.append((name, version))
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.workdir) as scratch:
            ran = run_handler(runtime, event, scratch=Path(scratch))
        status, body, error = _outcome(ran, runtime, request_id)
        log = _log_lines(ran, version, request_id, time.monotonic() - started)
        self._ship(config, version, log)
        headers = [("X-Amz-Executed-Version", version), ("Content-Type", "application/json")]
        if error:
            headers.append(("X-Amz-Function-Error", FUNCTION_ERROR))
        if tail:
            text = "\n".join(log).encode()[-_TAIL_BYTES:]
            headers.append(("X-Amz-Log-Result", base64.b64encode(text).decode()))
        if invocation_type == "Event":
            return Answer(202, [("X-Amz-Executed-Version", version)], b"")
        return Answer(status, headers, body)

    def _runtime(self, config: Mapping[str, Any], code: bytes) -> Runtime:
        runtime_name = str(config.get("Runtime", "python3.12"))
        python = self._python(runtime_name.removeprefix("python"))
        if python is None:
            raise LambdaError(502, "LambdaDoubleError", f"no {runtime_name} on this host")
        package = self._extracted("code", code)
        paths = []
        for layer in config.get("Layers", []):
            with self._lock:
                data = self._layers.get(str(layer["Arn"]))
            if data is None:
                raise LambdaError(
                    502, "LambdaDoubleError", f"layer {layer['Arn']} was not published here"
                )
            paths.append(self._extracted("layer", data) / "python")
        name = str(config["FunctionName"])
        variables = dict((config.get("Environment") or {}).get("Variables") or {})
        region = str(config.get("FunctionArn", "arn:aws:lambda:us-west-2")).split(":")[3]
        environ = {
            "PATH": "/usr/bin:/bin",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(config.get("Version", "$LATEST")),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime_name}",
            "LAMBDA_TASK_ROOT": str(package),
            "TZ": ":UTC",
            **variables,
        }
        return Runtime(
            python=python,
            package_dir=package,
            layer_paths=tuple(paths),
            handler=str(config.get("Handler", "")),
            function_name=name,
            memory_mb=int(config.get("MemorySize", 128)),
            timeout_s=float(config.get("Timeout", 3)),
            environ=environ,
            version=str(config.get("Version", "$LATEST")),
        )

    def _python(self, version: str) -> str | None:
        """Found once per runtime: finding it starts processes (pyenv, version checks)."""
        with self._lock:
            if version not in self._pythons:
                self._pythons[version] = self.python_for(version)
            return self._pythons[version]

    def _extracted(self, kind: str, data: bytes) -> Path:
        digest = hashlib.sha256(data).hexdigest()[:24]
        archive = self.workdir / f"{kind}-{digest}.zip"
        if not archive.is_file():
            partial = archive.with_suffix(f".{uuid.uuid4().hex}")
            partial.write_bytes(data)
            partial.replace(archive)
        return extract(archive, self.workdir / f"{kind}-{digest}")

    def _logs_client(self, region: str) -> Any:
        with self._lock:
            if region not in self._logs:
                self._logs[region] = boto3.client(
                    "logs", region_name=region, endpoint_url=self.logs_endpoint
                )
            return self._logs[region]

    def _ship(self, config: Mapping[str, Any], version: str, lines: list[str]) -> None:
        if self.logs_endpoint is None:
            return
        logs = self._logs_client(str(config["FunctionArn"]).split(":")[3])
        logging = config.get("LoggingConfig") or {}
        group = str(logging.get("LogGroup") or f"/aws/lambda/{config['FunctionName']}")
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        stream = f"{day}/[{version}]{uuid.uuid4().hex}"
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _outcome(ran: HandlerRun, runtime: Runtime, request_id: str) -> tuple[int, bytes, bool]:
    """(status, body, function error?) as Lambda answers an invocation."""
    report = ran.report
    error: dict[str, Any]
    if ran.timed_out:
        error = {
            "errorMessage": f"{request_id} Task timed out after {runtime.timeout_s:.2f} seconds",
            "errorType": "Sandbox.Timedout",
        }
    elif report is None:
        error = {
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
            f"exit status {ran.returncode}",
            "errorType": "Runtime.ExitError",
        }
    elif report.get("error") == "import":
        module = runtime.handler.rpartition(".")[0]
        error = {
            "errorMessage": f"Unable to import module '{module}': {report['message']}",
            "errorType": "Runtime.ImportModuleError",
            "stackTrace": [],
        }
    elif report.get("error") == "handler":
        error = {
            "errorMessage": str(report["message"]),
            "errorType": str(report["type"]),
            "requestId": request_id,
            "stackTrace": str(report.get("trace", "")).rstrip().splitlines(),
        }
    else:
        return 200, json.dumps(report.get("result")).encode(), False
    return 200, json.dumps(error).encode(), True


def _log_lines(ran: HandlerRun, version: str, request_id: str, seconds: float) -> list[str]:
    """What Lambda writes for one invocation: START, the output, an error, END, REPORT."""
    lines = [f"START RequestId: {request_id} Version: {version}"]
    lines += ran.output.splitlines()
    report = ran.report or {}
    if ran.timed_out:
        lines.append(f"[ERROR] Task timed out after {seconds:.2f} seconds")
    elif report.get("error"):
        lines.append(f"[ERROR] {report.get('type')}: {report.get('message')}")
    lines += [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {seconds * 1000:.2f} ms",
    ]
    return lines
