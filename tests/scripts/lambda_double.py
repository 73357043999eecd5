"""A test double in front of moto that behaves like real AWS Lambda, over real HTTP.

moto applies every Lambda write at once, never returns a function `RevisionId`, ignores a
stale one on updates, versions and aliases, publishes a missing S3 key as empty code and
hands out a `Code.Location` nobody can download. The deploy engine's fault tests need the
real behaviour, so clients talk to this server instead (boto3 `endpoint_url=double.endpoint`,
or `AWS_ENDPOINT_URL` for a subprocess). It forwards every request to moto unchanged and, for
the Lambda REST API only (found by the `lambda` signing scope), applies the rules of
`lambda_double_rules.py`: revisions and 412, update windows and 409, downloadable code,
missing S3 objects refused; and `Invoke`, which runs the version's own code
(lambda_double_runtime.py). Everything else (S3, IAM, STS...) passes through untouched.

Faults are injected from the test, thread-safe, each for an operation, optionally one
function (or layer) name, and a number of times (`times=None`: every time):

    double = LambdaDouble.start(upstream=moto_url, update_window_s=0.2)
    double.lose_response("UpdateFunctionCode", function="x-api")  # applied, then no answer
    double.slow_response("PublishVersion", 2.0)  # applied, answered 2 s later
    double.fail("UpdateAlias", status=500, code="ServiceException", message="boom")
    double.fail_update("UpdateFunctionCode", reason="unzip failed")  # settles as Failed
    [c.operation for c in double.calls]  # every Lambda request seen, in order
    double.stop()

botocore retries a lost response (a connection error), a read timeout and a 500 by itself,
and the retry reaches moto again, as it would reach AWS. To see the first failure, give the
client `Config(retries={"total_max_attempts": 1})`: in botocore's default (legacy) retry
mode `{"max_attempts": 1}` means one *retry*, two attempts in all.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

from lambda_double_api import Call, Fault, LambdaError, Request, Route, missing_object, route_of
from lambda_double_rules import Rules
from lambda_double_runtime import FunctionRunner
from wheel_factory import find_python

CODE_PATH = "/__lambda_double__/code/"
# Headers that belong to one hop, or that the double recomputes; no compression either, so
# the double can read moto's JSON.
_HOP = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "expect", "te"}
    | {"accept-encoding"}
)
_LAMBDA_SCOPE = re.compile(r"Credential=[^/,]+/[^/,]+/[^/,]+/lambda/")
_CODE_SOURCES = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0

    @classmethod
    def error(cls, err: LambdaError) -> _Reply:
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", err.code)]
        return cls(err.status, headers, err.body())


@dataclass
class OtherFault:
    """A fault for a request the double only passes on (CloudWatch, S3...): found by a
    text in its `X-Amz-Target` header or path; the first `after` matches pass."""

    target: str
    error: LambdaError
    after: int = 0
    times: int | None = 1
    seen: int = 0
    fired: int = 0

    def take(self, request: Request) -> bool:
        if self.target not in request.header("x-amz-target") + " " + request.target:
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass
class LambdaDouble:
    """The server; make it with `LambdaDouble.start(upstream=...)`, end it with `stop()`.

    `update_window_s`: how long an update stays `InProgress` (writes get 409 meanwhile);
    `create_window_s`: how long a new function stays `Pending`; `code_url_ttl_s`: how long a
    `Code.Location` can be downloaded; `revision_on_settle`: a window's end renews the
    RevisionId, as real Lambda does (use the one read after waiting, not the update's).
    """

    upstream: str
    update_window_s: float = 2.0
    create_window_s: float = 0.0
    code_url_ttl_s: float = 600.0
    revision_on_settle: bool = True
    clock: Callable[[], float] = time.monotonic
    # Alias weights pick a version by a draw from a generator seeded with this.
    invoke_seed: int = 0
    endpoint: str = ""
    rules: Rules = field(init=False)
    runner: FunctionRunner = field(init=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _passed: list[tuple[str, str, int]] = field(default_factory=list, init=False, repr=False)
    _passed_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _other_faults: list[OtherFault] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rules = Rules(
            update_window_s=self.update_window_s,
            create_window_s=self.create_window_s,
            code_url_ttl_s=self.code_url_ttl_s,
            clock=self.clock,
            revision_on_settle=self.revision_on_settle,
        )
        self.runner = FunctionRunner(
            python_for=find_python, seed=self.invoke_seed, logs_endpoint=self.upstream
        )
        parts = urlsplit(self.upstream)
        self._up_host, self._up_port = parts.hostname or "127.0.0.1", parts.port or 80

    @classmethod
    def start(cls, upstream: str, **options: Any) -> LambdaDouble:
        """Serve on 127.0.0.1 on a free port, in a daemon thread."""
        double = cls(upstream=upstream, **options)
        handler = type("Handler", (_Handler,), {"double": double})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        double._server = server
        double.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        serve = functools.partial(server.serve_forever, poll_interval=0.05)  # a quick stop()
        threading.Thread(target=serve, name="lambda-double", daemon=True).start()
        return double

    def stop(self) -> None:
        self._stopping.set()  # ends slow responses early
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LambdaDouble:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- what tests use ----------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every Lambda request seen so far, in arrival order (faulted and refused ones too)."""
        return self.rules.call_log()

    def calls_to(self, operation: str, function: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.operation == operation and (function is None or c.function == function)
        ]

    def clear_calls(self) -> None:
        self.rules.call_log(clear=True)

    def passed(self, containing: str = "") -> list[tuple[str, str, int]]:
        """(method, path, status) of every other request (S3, IAM...) passed to moto, in
        order; only those whose path contains `containing`. E.g. a deploy lock's
        conditional create refused with 412 shows a run waiting for the lock."""
        with self._passed_lock:
            return [p for p in self._passed if containing in p[1]]

    def lose_response(
        self, operation: str, *, function: str | None = None, times: int | None = 1
    ) -> Fault:
        """Forward (AWS applies the change), then close the connection without an answer.

        Counts only requests that reach moto: one the double refuses (412, 409...) is
        answered normally and does not use the fault up; so for `slow_response`."""
        return self.rules.add_fault(Fault("lose", operation, function, times))

    def slow_response(
        self, operation: str, seconds: float, *, function: str | None = None, times: int | None = 1
    ) -> Fault:
        """Forward, then hold the answer `seconds` (longer than a short `read_timeout`)."""
        return self.rules.add_fault(Fault("slow", operation, function, times, seconds=seconds))

    def fail(
        self,
        operation: str,
        *,
        status: int,
        code: str,
        message: str,
        function: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer with this Lambda error without forwarding: nothing is applied."""
        error = LambdaError(status, code, message)
        return self.rules.add_fault(Fault("fail", operation, function, times, error=error))

    def fail_update(
        self,
        operation: str = "UpdateFunctionCode",
        *,
        reason: str = "Lambda was unable to unzip the deployment package.",
        reason_code: str = "InvalidZipFileException",
        function: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """The next such update is applied, then settles as `LastUpdateStatus: Failed`."""
        return self.rules.add_fault(
            Fault("fail_update", operation, function, times, reason=reason, reason_code=reason_code)
        )

    def fail_other(
        self,
        target: str,
        *,
        status: int,
        code: str,
        message: str,
        after: int = 0,
        times: int | None = 1,
    ) -> OtherFault:
        """Answer a passed-on request whose `X-Amz-Target` (or path) contains `target` with
        this error (JSON protocol: `__type`), after letting the first `after` through;
        e.g. `fail_other("DescribeAlarms", status=500, code="InternalFailure", ...)`."""
        fault = OtherFault(target, LambdaError(status, code, message), after=after, times=times)
        with self._passed_lock:
            self._other_faults.append(fault)
        return fault

    def remember_code(self, zip_bytes: bytes) -> str:
        """Serve these bytes for any `Code.Location` of their `CodeSha256` (returned): for
        functions created behind the double's back, straight on moto."""
        return self.rules.remember_code(zip_bytes)

    # ---- serving -----------------------------------------------------------------------

    def serve(self, request: Request) -> _Reply | None:
        """One request -> the reply to send, or None to drop the connection."""
        if request.target.startswith(CODE_PATH):
            return self._download(request.target[len(CODE_PATH) :].split("?", maxsplit=1)[0])
        auth = request.header("authorization")
        payload = _json(request.body)
        lambda_api = _LAMBDA_SCOPE.search(auth)
        route = route_of(request.method, request.target, payload) if lambda_api else None
        if route is None:
            with self._passed_lock:
                other = next((f for f in self._other_faults if f.take(request)), None)
            if other is not None:
                # The JSON protocols (CloudWatch's among them) name the error in `__type`.
                err = other.error
                body = json.dumps({"__type": err.code, "message": err.message}).encode()
                kind = [("Content-Type", "application/x-amz-json-1.0")]
                return _Reply(err.status, [*kind, ("x-amzn-ErrorType", err.code)], body)
            reply = self._forward(request)
            with self._passed_lock:
                self._passed.append((request.method, request.target, reply.status))
            return reply
        self.rules.log(
            Call(route.operation, route.function or route.layer, route.qualifier, payload)
        )
        injected = self.rules.take("fail", route)
        if injected is not None and injected.error is not None:
            return _Reply.error(injected.error)
        if route.operation == "Invoke" and route.function:
            # Not under the function's lock: a run takes seconds and changes nothing.
            try:
                return self._invoke(route, request)
            except LambdaError as err:
                return _Reply.error(err)
        lock = (
            self.rules.function_lock(route.function) if route.function else contextlib.nullcontext()
        )
        try:
            code = self._code_bytes(route.operation, payload, auth)
            with lock:
                reply = self._apply(route, request, payload, code)
        except LambdaError as err:
            return _Reply.error(err)
        if self.rules.take("lose", route) is not None:
            return None
        slow = self.rules.take("slow", route)
        reply.delay = slow.seconds if slow is not None else 0.0
        return reply

    def _apply(
        self, route: Route, request: Request, payload: dict[str, Any], code: bytes | None
    ) -> _Reply:
        """Check, forward, record and rewrite one Lambda request (under its function's lock)."""
        latest_sha = None
        if route.operation == "PublishVersion" and payload.get("CodeSha256") and route.function:
            path = f"/2015-03-31/functions/{quote(route.function, safe='')}/configuration"
            headers = [(k, v) for k, v in request.headers if k.lower() != "content-type"]
            latest_sha = _json(self._forward(Request("GET", path, headers)).body).get("CodeSha256")
        self.rules.check(route, payload, latest_sha)
        request = replace(request, target=route.target)
        unchanged = (
            self.rules.unchanged_version(route) if route.operation == "PublishVersion" else None
        )
        if unchanged is not None and route.function:
            # Nothing changed since the last publish: AWS answers with that version.
            path = f"/2015-03-31/functions/{quote(route.function, safe='')}/configuration"
            headers = [(k, v) for k, v in request.headers if k.lower() != "content-type"]
            request = Request("GET", f"{path}?Qualifier={unchanged}", headers)
        if route.operation == "AddPermission" and "RevisionId" in payload:
            # moto holds AddPermission to its own policy revision: the double's is the one.
            body = json.dumps({k: v for k, v in payload.items() if k != "RevisionId"}).encode()
            request = replace(request, body=body)
        if route.operation == "RemovePermission" and "RevisionId" in route.query:
            target = re.sub(r"([?&])RevisionId=[^&]*&?", r"\1", request.target).rstrip("?&")
            request = replace(request, target=target)
        reply = self._forward(request)
        if unchanged is not None and reply.status == 200:
            reply.status = 201
        result = _json(reply.body)
        if not 200 <= reply.status < 300:
            return reply
        failure = (
            self.rules.take("fail_update", route)
            if route.operation in ("UpdateFunctionCode", "UpdateFunctionConfiguration")
            else None
        )
        self.rules.applied(route, payload, result, failure)
        if code is not None and route.operation != "PublishLayerVersion":
            self.rules.remember_code(code)
        elif code is not None and result.get("LayerVersionArn"):
            self.runner.remember_layer(str(result["LayerVersionArn"]), code)
        if result:
            self.rules.rewrite(route, result, self._code_url)
            reply.body = json.dumps(result).encode()
        return reply

    def _invoke(self, route: Route, request: Request) -> _Reply:
        """Run the version the qualifier names ($LATEST, a version, an alias's pick)."""
        name = quote(str(route.function), safe="")
        headers = [(k, v) for k, v in request.headers if k.lower() in ("authorization",)]
        qualifier = route.qualifier or "$LATEST"
        if qualifier != "$LATEST" and not qualifier.isdigit():
            got = self._forward(
                Request("GET", f"/2015-03-31/functions/{name}/aliases/{quote(qualifier)}", headers)
            )
            if not 200 <= got.status < 300:  # moto answers GetAlias with 201
                return got
            alias = _json(got.body)
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            qualifier = self.runner.choose(str(alias["FunctionVersion"]), weights)
        path = f"/2015-03-31/functions/{name}/configuration"
        if qualifier != "$LATEST":
            path += f"?Qualifier={quote(qualifier)}"
        got = self._forward(Request("GET", path, headers))
        if not 200 <= got.status < 300:
            return got
        config = _json(got.body)
        answer = self.runner.invoke(
            config,
            self.rules.code(str(config.get("CodeSha256", ""))),
            request.body,
            invocation_type=request.header("x-amz-invocation-type") or "RequestResponse",
            tail=request.header("x-amz-log-type") == "Tail",
        )
        return _Reply(answer.status, answer.headers, answer.body)

    def _code_url(self, sha: str) -> str:
        return f"{self.endpoint}{CODE_PATH}{self.rules.code_token(sha)}"

    def _code_bytes(self, operation: str, payload: dict[str, Any], auth: str) -> bytes | None:
        """The zip a create/update/publish-layer brings (S3 read now, like Lambda); a missing
        object is refused here, before anything is forwarded."""
        if operation not in _CODE_SOURCES:
            return None
        source = payload.get("Code") or payload.get("Content") or payload
        if not isinstance(source, dict):
            return None
        if isinstance(source.get("ZipFile"), str):
            return base64.b64decode(source["ZipFile"])
        bucket, key = source.get("S3Bucket"), source.get("S3Key")
        if not (isinstance(bucket, str) and isinstance(key, str)):
            return None
        path = f"/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
        if source.get("S3ObjectVersion"):
            path += f"?versionId={quote(str(source['S3ObjectVersion']), safe='')}"
        # moto routes by the signing scope and takes the account from the access key; any
        # signature passes. So the caller's own header, scoped to S3, reads as the caller.
        s3_auth = auth.replace("/lambda/aws4_request", "/s3/aws4_request")
        got = self._forward(Request("GET", path, [("Authorization", s3_auth)]))
        if got.status == 200:
            return got.body
        found = re.search(rb"<Code>(\w+)</Code>", got.body)
        raise missing_object(found[1].decode() if found else f"HTTP {got.status}")

    def _download(self, token: str) -> _Reply:
        data, expired = self.rules.code_for(token)
        if expired:
            return _s3_error(403, "AccessDenied", "Request has expired")
        if data is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return _Reply(200, [("Content-Type", "application/zip")], data)

    def _forward(self, request: Request) -> _Reply:
        """Send `request` to moto as it came (headers, body) and return moto's reply."""
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=60)
        try:
            sent = {k: v for k, v in request.headers if k.lower() not in _HOP}
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                sent["Content-Length"] = str(len(request.body))
            conn.request(request.method, request.target, body=request.body or None, headers=sent)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            if request.method == "HEAD":
                kept += [(k, v) for k, v in response.getheaders() if k.lower() == "content-length"]
            return _Reply(response.status, kept, data)
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pooled connections expect
    double: LambdaDouble

    def _handle(self) -> None:
        request = Request(self.command, self.path, list(self.headers.items()), self._body())
        try:
            reply = self.double.serve(request)
        except Exception as err:  # a bug here, or moto gone: say so rather than hang up
            reply = _Reply.error(LambdaError(502, "LambdaDoubleError", repr(err)))
        if reply is None:
            self.close_connection = True  # a lost response: the client sees the socket close
            return
        if reply.delay and self.double._stopping.wait(reply.delay):
            self.close_connection = True
            return
        try:
            self.send_response_only(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a read timeout)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not every request."""


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _s3_error(status: int, code: str, message: str) -> _Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return _Reply(status, [("Content-Type", "application/xml")], body)
