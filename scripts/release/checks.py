"""Releases proven by running them: hooks before the switch, smoke checks after it.

- Hooks (the environment's `hooks`, in order) invoke the NEW version of a function after
  prepare and before any alias moves: a database migration the new code needs is one. The
  first that fails stops the release; nothing was switched, so callers never saw it.
- Smoke checks (each function's `smoke`) invoke a changed function through its alias once
  the aliases moved (and its new version before a canary moves any traffic). A failure
  switches every alias back.

An invocation passes when Lambda reports no function error and the JSON answer contains
`expect` (environments.checks.contains). Every result, passed or not, goes into the
release record with the answer quoted, so the record says which hook failed and why.

Invocations are made once, never retried by the client (a migration must not run twice
because an answer was slow): the caller passes a client whose read timeout outlasts the
functions' own timeouts (scripts.clients.invoke_client).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from environments import Environment, Hook, SmokeCheck
from environments.checks import contains
from scripts.release.lambda_api import describe

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# How much of an answer a record and an error line quote.
QUOTE_CHARS = 400


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    kind: str  # "hook" or "smoke"
    function: str  # the configured (short) name
    qualifier: str  # the version or alias invoked
    passed: bool
    answer: Any = None
    problem: str | None = None  # why it failed

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "function": self.function,
            "qualifier": self.qualifier,
            "passed": self.passed,
            "answer": quote(self.answer),
            "problem": self.problem,
        }

    def line(self) -> str:
        where = f"{self.kind} {self.function} ({self.qualifier})"
        if self.passed:
            return f"{where}: passed"
        return f"{where} failed: {self.problem}; answered {quote(self.answer)}"


def quote(answer: Any) -> str:
    text = json.dumps(answer, sort_keys=True, default=str)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


def invoke_once(
    client: LambdaClient,
    *,
    kind: str,
    function: str,
    lambda_name: str,
    qualifier: str,
    event: Mapping[str, Any],
    expect: Mapping[str, Any],
) -> CheckResult:
    """One synchronous invocation of `lambda_name:qualifier`, judged against `expect`."""
    found = {"kind": kind, "function": function, "qualifier": qualifier}
    try:
        answer = client.invoke(
            FunctionName=lambda_name,
            Qualifier=qualifier,
            InvocationType="RequestResponse",
            Payload=json.dumps(dict(event)).encode(),
        )
        raw = answer["Payload"].read()
    except Exception as err:  # the call itself failed: no answer to judge
        return CheckResult(**found, passed=False, problem=f"invoke failed: {describe(err)}")
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    error = answer.get("FunctionError")
    if error:
        kind_of = payload.get("errorType") if isinstance(payload, dict) else None
        problem = f"function error ({error}{f', {kind_of}' if kind_of else ''})"
        return CheckResult(**found, passed=False, answer=payload, problem=problem)
    if not contains(payload, expect):
        problem = f"the answer does not contain {quote(dict(expect))}"
        return CheckResult(**found, passed=False, answer=payload, problem=problem)
    return CheckResult(**found, passed=True, answer=payload)


@dataclass
class Checks:
    """What a release runs besides its steps, and what each run answered."""

    env: Environment
    client: LambdaClient
    smoke_enabled: bool = True
    say: Callable[[str], None] = lambda _line: None
    results: list[CheckResult] = field(default_factory=list)
    recorded: int = 0  # how many results the record holds already

    @property
    def unrecorded(self) -> bool:
        """Whether a result came since the last `to_json` (a release without checks makes
        no extra record writes)."""
        return len(self.results) != self.recorded

    @property
    def hooks(self) -> tuple[Hook, ...]:
        return self.env.hooks

    def smoke_for(self, lambda_names: Sequence[str]) -> dict[str, SmokeCheck]:
        """Lambda name -> its smoke check, for the functions given that have one."""
        found = {}
        for config in self.env.functions:
            name = self.env.function_name(config.name)
            if config.smoke is not None and name in lambda_names:
                found[name] = config.smoke
        return found

    def to_json(self) -> dict[str, Any]:
        self.recorded = len(self.results)
        return {
            "smoke": "on" if self.smoke_enabled else "skipped (--no-smoke)",
            "hooks": len(self.hooks),
            "results": [r.to_json() for r in self.results],
        }

    def before_switch(
        self, new: Mapping[str, str], switched: Sequence[str], *, canary: bool
    ) -> CheckResult | None:
        """Hooks on the new versions (Lambda name -> version), then, for a canary, the smoke
        checks on them too (no traffic has moved yet); the first failure, or None."""
        failed = self.run_hooks(new)
        if failed is None and canary:
            failed = self.run_smoke({name: new[name] for name in switched if name in new})
        return failed

    def run_hooks(self, qualifiers: Mapping[str, str]) -> CheckResult | None:
        """Each hook in order on `qualifiers[lambda name]`; the first failure, or None."""
        for i, hook in enumerate(self.hooks):
            name = self.env.function_name(hook.function)
            result = invoke_once(
                self.client,
                kind=f"hook {i}",
                function=hook.function,
                lambda_name=name,
                qualifier=qualifiers.get(name, self.env.alias_name),
                event=hook.event,
                expect=hook.expect,
            )
            self._keep(result)
            if not result.passed:
                return result
        return None

    def run_smoke(self, qualifiers: Mapping[str, str]) -> CheckResult | None:
        """Every function's smoke check at once on `qualifiers[lambda name]`; a failure."""
        if not self.smoke_enabled:
            return None
        checks = self.smoke_for(list(qualifiers))
        if not checks:
            return None
        short = {self.env.function_name(f.name): f.name for f in self.env.functions}

        def one(name: str) -> CheckResult:
            check = checks[name]
            return invoke_once(
                self.client,
                kind="smoke",
                function=short[name],
                lambda_name=name,
                qualifier=qualifiers[name],
                event=check.event,
                expect=check.expect,
            )

        with ThreadPoolExecutor(max_workers=len(checks)) as pool:
            results = list(pool.map(one, sorted(checks)))
        for result in results:
            self._keep(result)
        return next((r for r in results if not r.passed), None)

    def _keep(self, result: CheckResult) -> None:
        self.results.append(result)
        self.say(f"  {result.line()}")
