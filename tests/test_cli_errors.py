"""Configuration and environment mistakes end in one line on stderr that names the setting and what to do, exit code 2 —
for every command, run as a user runs them (the installed `idp-kit`, a real environment)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURES

SETTINGS_COMMANDS = [  # every command that reads the IDP_* settings
    ["sql", "render"], ["local", "status"], ["local", "env"], ["local", "down"], ["local", "reset"], ["local", "up"],
    ["provision"], ["poll"], ["simulate"], ["settings", "from-terraform", "."],
]


def one_line_error(proc) -> str:
    "The single stderr line of a refused command; fails on a traceback, extra lines or another exit code."
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("idp-kit: "), proc.stderr
    return lines[0]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    "The environment minus IDP_* and AWS_* variables, with a state dir of the test's own."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "AWS_"))}
    return env | {"IDP_STATE_DIR": str(tmp_path / "state")} | extra


@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=" ".join)
def test_malformed_list_setting_names_the_variable(idp_kit, tmp_path, command):
    # GIVEN IDP_SUBSCRIBER_QUEUES that is not JSON  WHEN any command reads the settings
    proc = idp_kit(*command, env=clean_env(tmp_path, IDP_SUBSCRIBER_QUEUES="idp-kit-ingest,idp-kit-audit"), cwd=tmp_path)
    # THEN one line names the variable and shows the JSON form
    line = one_line_error(proc)
    assert "IDP_SUBSCRIBER_QUEUES" in line and '["idp-kit-ingest"' in line


@pytest.mark.parametrize("command", SETTINGS_COMMANDS, ids=" ".join)
def test_out_of_range_setting_names_the_variable(idp_kit, tmp_path, command):
    proc = idp_kit(*command, env=clean_env(tmp_path, IDP_WAIT_TIME_S="60"), cwd=tmp_path)
    line = one_line_error(proc)
    assert "IDP_WAIT_TIME_S" in line and "20" in line


def test_misspelt_setting_is_refused(idp_kit, tmp_path):
    # GIVEN a variable with the kit's prefix that is no setting  WHEN a command reads the settings  THEN it is named
    line = one_line_error(idp_kit("sql", "render", env=clean_env(tmp_path, IDP_WAIT_TIME="0"), cwd=tmp_path))
    assert "IDP_WAIT_TIME" in line and "IDP_WAIT_TIME_S" in line


def test_poll_without_spark_endpoint(idp_kit, tmp_path):
    line = one_line_error(idp_kit("poll", env=clean_env(tmp_path), cwd=tmp_path))
    assert "IDP_SPARK_REMOTE" in line and "idp-kit local up" in line


def test_provision_without_credentials(idp_kit, tmp_path):
    # GIVEN no credentials anywhere (no variables, no files, no instance metadata)
    env = clean_env(tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
                    AWS_EC2_METADATA_DISABLED="true")
    line = one_line_error(idp_kit("provision", env=env, cwd=tmp_path))
    assert "no AWS credentials" in line and "idp-kit local env" in line


def test_provision_against_a_stopped_local_stack(idp_kit, tmp_path):
    env = clean_env(tmp_path, IDP_AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    line = one_line_error(idp_kit("provision", env=env, cwd=tmp_path))
    assert "cannot reach http://127.0.0.1:9" in line and "idp-kit local status" in line


@pytest.fixture
def core_only(tmp_path) -> Path:
    "A PYTHONPATH entry that makes the local extra's packages unimportable, as on a core-only install."
    shadow = tmp_path / "core-only"
    for name in ("moto", "pysail"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n")
    return shadow


@pytest.mark.parametrize("command", [["local", "up"], ["simulate"]], ids=" ".join)
def test_local_stack_on_core_only_install(idp_kit, tmp_path, core_only, command):
    line = one_line_error(idp_kit(*command, env=clean_env(tmp_path, PYTHONPATH=str(core_only)), cwd=tmp_path))
    assert "pip install 'idp_kit[local]'" in line
    assert not (tmp_path / "state" / "stack.json").exists()  # nothing half-started


def test_terraform_provisioner_without_terraform(idp_kit, tmp_path):
    # GIVEN a PATH with python but no terraform  WHEN the stack is asked to provision with Terraform
    env = clean_env(tmp_path, PATH=str(Path(os.sys.executable).parent))
    line = one_line_error(idp_kit("local", "up", "--provision", "terraform", env=env, cwd=tmp_path))
    # THEN it says what to install or which provisioner to use, and leaves no stack running
    assert "terraform is not on the PATH" in line and "--provision boto3" in line
    assert not (tmp_path / "state" / "stack.json").exists()


def test_settings_from_terraform_without_outputs(idp_kit, tmp_path):
    saved = tmp_path / "outputs.json"
    saved.write_text('{"bucket_name": {"value": "b", "type": "string", "sensitive": false}}')
    line = one_line_error(idp_kit("settings", "from-terraform", str(saved), env=clean_env(tmp_path), cwd=tmp_path))
    assert "no `idp_kit_settings`" in line
    line = one_line_error(idp_kit("settings", "from-terraform", str(tmp_path / "missing"), env=clean_env(tmp_path), cwd=tmp_path))
    assert "no such directory or file" in line


def test_audit_mode_never_drains_the_ingest_queue_by_default(idp_kit, tmp_path):
    # GIVEN no audit queue among the subscribers  WHEN polling in audit mode without --queue  THEN refused before touching any queue
    env = clean_env(tmp_path, IDP_SUBSCRIBER_QUEUES='["idp-kit-ingest"]', IDP_SPARK_REMOTE="sc://127.0.0.1:9")
    line = one_line_error(idp_kit("poll", "--mode", "audit", env=env, cwd=tmp_path))
    assert "never defaults to the ingest queue" in line and "--queue" in line


def test_events_and_parse_errors_stay_one_line(idp_kit, tmp_path):
    line = one_line_error(idp_kit("events", "decode", str(FIXTURES / "events" / "malformed_sns_message_not_json.json")))
    assert line.startswith("idp-kit: events decode: ")
    assert one_line_error(idp_kit("parse", str(tmp_path))).endswith("not a regular file")
