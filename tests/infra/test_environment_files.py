"""Environment files: what is written reads back equal, and every mistake in a file is one
line naming the file, the key and the fix, for every command, `--help` and synth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import main
from environments import (
    ENVIRONMENTS,
    REPO_ROOT,
    AsyncInvoke,
    ConfigFileError,
    CreatedRole,
    Environment,
    ExternalCaller,
    FunctionConfig,
    Hook,
    InlinePolicy,
    InvokePermission,
    ScheduleTrigger,
    SmokeCheck,
    SqsTrigger,
    StateBackend,
    UnmanagedFunction,
    environment_text,
    get_environment,
    legacy_environment,
    load_environment_file,
)
from environments.catalog import (
    LEGACY_EXAMPLE_MAPPING_UUID,
    LEGACY_EXAMPLE_NETWORK,
    Catalog,
)
from environments.codec import loads
from scripts.cli import COMMANDS
from scripts.cli import main as cli_main

QUEUE = "arn:aws:sqs:us-west-2:123456789012:qa-jobs"
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'  # noqa: E501

MINIMAL = """\
name = "qa"

[[functions]]
name = "api"
handler = "app.main.handler"
memory_mb = 512
"""


def _read(text: str, name: str = "qa") -> Environment:
    return loads(text, Environment, source=f"environments/{name}.toml", root=REPO_ROOT)


def _error(text: str) -> str:
    with pytest.raises(ConfigFileError) as caught:
        _read(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---- round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_every_shipped_environment_reads_back_equal(name: str) -> None:
    env = ENVIRONMENTS[name]
    text = environment_text(env)
    assert _read(text, name) == env
    # Writing is stable: what was read writes the same text again.
    assert environment_text(_read(text, name)) == text


def every_new_field() -> Environment:
    """An environment that sets every field the estate needs, in every union member."""
    role = CreatedRole(
        name="qa-worker-role",
        inline_policies=(InlinePolicy(name="queues", document=POLICY),),
        foreign_inline_policies=("written-by-the-queue-module",),
    )
    worker = FunctionConfig(
        name="worker",
        handler="app.worker.handler",
        role=role,
        reserved_concurrency=10,
        provisioned_concurrency=2,
        async_invoke=AsyncInvoke(
            maximum_retry_attempts=0,
            maximum_event_age_s=3600,
            on_failure_arn="arn:aws:sqs:us-west-2:123456789012:qa-failed",
        ),
        triggers=(
            SqsTrigger(
                queue_arn=QUEUE,
                batch_size=1,
                batching_window_s=5,
                function_response_types=("ReportBatchItemFailures",),
                maximum_concurrency=5,
                filter_patterns=('{"body": {"kind": ["job"]}}',),
                enabled=False,
                target="function",
            ),
            ScheduleTrigger(
                expression="rate(5 minutes)",
                input='{"warmup":true}',
                target="function",
                exists=True,
            ),
            InvokePermission(
                principal="apigateway.amazonaws.com", statement_id="AllowApi", target="function"
            ),
        ),
        external_callers=(
            ExternalCaller(
                kind="apigatewayv2-integration", id="abc123/int1", target="function", owner="api"
            ),
        ),
    )
    sync = FunctionConfig(name="db-sync", handler="handler.handler", package="own")
    return Environment(
        name="qa",
        adopt=True,
        functions=(worker, sync),
        unmanaged_functions=(UnmanagedFunction(name="qa-scraper", reason="container image"),),
        foreign_deps_layers=("bluemoxon-production-deps",),
        default_tags={"Project": "bluemoxon", "Environment": "qa"},
        state_backend=StateBackend(
            bucket="state", key="qa.tfstate", region="us-west-2", dynamodb_table="locks"
        ),
        requirements_file=REPO_ROOT / "examples" / "backend" / "requirements.txt",
    )


def test_every_new_field_reads_back_equal() -> None:
    env = every_new_field()
    text = environment_text(env)
    assert _read(text) == env
    # Unions are tables named by `kind`; paths are relative to the repository.
    assert 'kind = "sqs"' in text and 'kind = "created"' in text
    assert 'requirements_file = "examples/backend/requirements.txt"' in text
    assert str(REPO_ROOT) not in text


def test_checks_read_back_equal_as_tables_or_json_text() -> None:
    api = FunctionConfig(
        name="api",
        handler="app.main.handler",
        smoke=SmokeCheck(event={"rawPath": "/health"}, expect={"statusCode": 200}),
    )
    env = Environment(
        name="qa",
        functions=(api,),
        # A JSON null cannot be a TOML value: that event is written as its JSON text.
        hooks=(Hook(function="api", event={"migrate": True, "since": None}),),
    )
    text = environment_text(env)
    assert _read(text) == env
    assert "since" in text and "[functions.smoke.event]" in text


def test_what_the_constructor_derives_is_not_written() -> None:
    text = environment_text(ENVIRONMENTS["local"])
    assert "artifact_bucket" not in text and "lock_file" not in text


def test_legacy_file_holds_the_example_ids_the_e2e_replaces() -> None:
    assert legacy_environment() == ENVIRONMENTS["legacy"]
    assert ENVIRONMENTS["legacy"].function("api").vpc == LEGACY_EXAMPLE_NETWORK
    worker = legacy_environment(runbooks_mapping_uuid="0" * 8 + "-0000-0000-0000-" + "0" * 12)
    (trigger,) = worker.function("eval-runbook-worker").triggers
    assert isinstance(trigger, SqsTrigger) and trigger.existing_uuid != LEGACY_EXAMPLE_MAPPING_UUID


def test_policy_documents_are_kept_normalized() -> None:
    spaced = InlinePolicy(name="p", document=POLICY)
    compact = InlinePolicy(name="p", document=POLICY.replace(" ", ""))
    assert spaced == compact
    assert spaced.document.startswith('{"Statement":[')


# ---- one line per mistake --------------------------------------------------------------


def test_a_bad_value_names_the_file_the_key_and_the_allowed_range() -> None:
    assert _error(MINIMAL.replace("512", "99")) == (
        "environments/qa.toml: functions[api].memory_mb: got 99; allowed: 128-10240"
    )


def test_an_unknown_key_suggests_the_close_one() -> None:
    assert _error(MINIMAL.replace("memory_mb", "memroy_mb")) == (
        "environments/qa.toml: functions[api].memroy_mb: unknown key; did you mean memory_mb?"
    )


def test_a_wrong_type_says_what_was_expected() -> None:
    assert _error(MINIMAL.replace("512", '"512"')) == (
        "environments/qa.toml: functions[api].memory_mb: got a string '512'; expected an integer"
    )
    assert _error(MINIMAL.replace("512", "true")).endswith(
        "got a boolean True; expected an integer"
    )


def test_a_syntax_error_names_the_line() -> None:
    message = _error(MINIMAL.replace("memory_mb = 512", "memory_mb = "))
    assert message.startswith("environments/qa.toml: TOML syntax error: ")
    assert "line 6" in message


def test_a_union_needs_a_known_kind() -> None:
    text = MINIMAL + '\n[[functions.triggers]]\nkind = "sns"\nqueue_arn = "x"\n'
    assert _error(text) == (
        "environments/qa.toml: functions[api].triggers[0].kind: got 'sns'; "
        "allowed: sqs, schedule, permission"
    )


def test_a_nested_check_says_where_it_is() -> None:
    text = MINIMAL + f'\n[[functions.triggers]]\nkind = "sqs"\nqueue_arn = "{QUEUE}"\n'
    text += "maximum_concurrency = 1\n"
    assert _error(text) == (
        "environments/qa.toml: functions[api].triggers[0]: "
        "triggers.sqs.maximum_concurrency: got 1; allowed: 2-1000"
    )


def test_a_missing_key_is_named() -> None:
    assert _error(MINIMAL.replace('handler = "app.main.handler"\n', "")) == (
        "environments/qa.toml: functions[api]: missing handler; add it"
    )


def test_a_missing_file_says_how_to_add_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"qa\.toml: no such file; create it"):
        load_environment_file(tmp_path / "qa.toml")


def test_the_name_inside_must_be_the_files(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text(MINIMAL)
    with pytest.raises(
        ConfigFileError, match=r"other\.toml: name: got 'qa'; the file's name says 'other'"
    ):
        load_environment_file(tmp_path / "other.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('input = "{warmup"', "triggers.schedule.input: not JSON"),
        ("input = '{\"warmup\": true}'", None),
    ],
)
def test_schedule_input_must_be_json(text: str, message: str | None) -> None:
    body = (
        MINIMAL
        + f'\n[[functions.triggers]]\nkind = "schedule"\nexpression = "rate(1 hour)"\n{text}\n'
    )
    if message is None:
        (trigger,) = _read(body).functions[0].triggers
        assert isinstance(trigger, ScheduleTrigger) and trigger.input == '{"warmup": true}'
    else:
        assert message in _error(body)


def test_a_new_schedule_cannot_target_the_bare_function() -> None:
    text = MINIMAL + '\n[[functions.triggers]]\nkind = "schedule"\nexpression = "rate(1 hour)"\n'
    assert _error(text + 'target = "function"\n') == (
        "environments/qa.toml: functions[api].triggers[0]: triggers.schedule.target: "
        "'function' keeps an existing schedule as it runs (exists = true); a new schedule "
        "invokes the alias: leave target out"
    )
    (trigger,) = _read(text + 'target = "function"\nexists = true\n').functions[0].triggers
    assert isinstance(trigger, ScheduleTrigger) and trigger.target == "function"


# ---- a broken file never breaks help, and fails every command in one line -------------


@pytest.fixture
def broken_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    for source in REPO_ROOT.joinpath("environments").glob("*.toml"):
        shutil.copy(source, tmp_path)
    staging = tmp_path / "staging.toml"
    staging.write_text(staging.read_text().replace("memory_mb = 512", "memory_mb = 99", 1))
    monkeypatch.setattr(ENVIRONMENTS, "folder", tmp_path)
    return ENVIRONMENTS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lists_the_environments_while_a_file_is_broken(
    command: str, broken_staging: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main([command, "--help"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if "--env ENV" in out:
        assert "staging" in out


def test_a_command_on_a_broken_file_exits_2_with_one_line(
    broken_staging: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["status", "--env", "staging"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("staging.toml: functions[api].memory_mb: got 99; allowed: 128-10240")
    assert len(err.splitlines()) == 1
    # The other environments still load.
    assert get_environment("prod").name == "prod"


def test_synth_on_a_broken_file_is_one_line(broken_staging: Catalog) -> None:
    with pytest.raises(ConfigFileError):
        main.environments_for({})
    # `cdktf synth` runs main.main: the error is its one line, before anything is synthesized.
    with pytest.raises(SystemExit) as exited:
        main.main()
    assert str(exited.value) == (
        "synth: staging.toml: functions[api].memory_mb: got 99; allowed: 128-10240"
    ).replace("staging.toml", str(broken_staging.folder / "staging.toml"))
