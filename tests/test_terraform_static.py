"""The Terraform module in infra/aws without deploying it: formatted, initialised offline from a provider mirror and
valid (module and example), clean under checkov, its inputs exactly the fields of `IngestionStackSpec`, and every
input the spec refuses refused by `terraform plan` with the message variables.tf gives (planned in a root of the
module's variables alone: no provider to start), while the spec's accepted inputs plan against moto with every resource.

Terraform runs on copies of infra/aws in temporary directories: `terraform init` writes `.terraform/` and
`.terraform.lock.hcl` next to the configuration, and the repository tree must stay clean. A missing `terraform` or
`checkov` fails these tests and says what to install; nothing here is skipped."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from idp_kit.api_server import AUTHORIZER_CACHE_TTL_S
from idp_kit.infra_spec import (AUTHORIZER_RESULT_TTL_S, LAMBDA_HANDLERS, LAMBDA_RUNTIME, NOTIFICATION_EVENTS, IngestionStackSpec,
                                SubscriberSpec, to_tfvars)
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.terraform import cli_config, find_provider_mirror

REPO = Path(__file__).resolve().parent.parent
MODULE = REPO / "infra" / "aws"
EXAMPLE = Path("examples") / "complete"  # relative to the module
INSTALL_TERRAFORM = "install Terraform >= 1.9 (https://developer.hashicorp.com/terraform/install) on the PATH"
INSTALL_CHECKOV = "install checkov into the project's environment (the dev extra: pip install -e '.[dev]')"
TF_ARTIFACTS = (".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*", "*.tfplan")


def require(name: str, install: str) -> str:
    "The `name` executable, the one beside this interpreter first; missing, the test fails and says what to install."
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found: pytest.fail(f"{name} is not installed: {install}")
    return found


def test_a_missing_tool_fails_loudly_instead_of_skipping(monkeypatch):
    # GIVEN a PATH without the tool
    monkeypatch.setenv("PATH", "")
    # WHEN a test asks for it THEN the test fails, naming what to install
    with pytest.raises(pytest.fail.Exception, match="no-such-tool is not installed: install it like this"):
        require("no-such-tool", "install it like this")


# ---------------------------------------------------------------------------------------------------------------------
# The text of the module: no terraform needed

def blocks(path: Path, kind: str) -> dict[str, str]:
    "`kind` blocks (variable, output) of the file at `path`, name → body; relies on `terraform fmt` layout."
    return dict(re.findall(rf'^{kind} "([\w-]+)" {{\n(.*?)^}}', path.read_text(), re.S | re.M))


def undescribed(found: dict[str, str], attribute: str) -> list[str]:
    "Names of the blocks in `found` without a top-level `attribute`."
    return [name for name, body in found.items() if not re.search(rf"^  {attribute}\s+=", body, re.M)]


def test_inputs_are_the_spec_fields_each_typed_and_described():
    variables = blocks(MODULE / "variables.tf", "variable")
    assert sorted(variables) == sorted(IngestionStackSpec.model_fields)
    assert undescribed(variables, "type") == [] and undescribed(variables, "description") == []


def test_every_output_is_described_and_the_readme_lists_inputs_and_outputs():
    outputs = blocks(MODULE / "outputs.tf", "output")
    assert {"queues", "ingest_queue_url", "databricks_role_arn", "idp_kit_settings"} <= set(outputs)
    assert undescribed(outputs, "description") == []
    readme = (MODULE / "README.md").read_text()
    names = [*blocks(MODULE / "variables.tf", "variable"), *outputs]
    assert [n for n in names if f"| `{n}` |" not in readme] == [], "infra/aws/README.md lacks a table row for these"


def test_the_job_policy_has_one_source_the_template():
    tf = {p.name: p.read_text() for p in MODULE.glob("*.tf")}
    # GIVEN the module's files, THEN the job's and the functions' permissions come from the templates only, never spelt out in HCL
    assert 'templatefile("${path.module}/policies/databricks_job.json.tftpl"' in tf["iam.tf"]
    assert 'templatefile("${path.module}/policies/databricks_job_completion.json.tftpl"' in tf["iam.tf"]
    for template in ("api_function", "authorizer_function", "callbacks_function", "lambda_logs", "lambda_bucket_kms", "lambda_table_kms"):
        assert f'templatefile("${{path.module}}/policies/{template}.json.tftpl"' in tf["lambda.tf"], template
    spelt_out = re.compile(r"sqs:ReceiveMessage|s3:GetObjectVersion|s3:ListBucketVersions|dynamodb:UpdateItem|sns:Publish|"
                           r"dynamodb:GetItem|logs:PutLogEvents|s3:PutObject|kms:ReEncrypt")
    assert [name for name, text in tf.items() if spelt_out.search(text)] == []


def test_the_bucket_notifies_the_events_the_other_deployers_subscribe():
    # GIVEN the module's ingestion path and the kit's one list of notification events
    tf = (MODULE / "cloud_storage_ingestion.tf").read_text()
    # THEN the module's local holds exactly those events (created and removed), and every notification entry uses it
    local = re.search(r"^  notification_events = (\[.*\])$", tf, re.M)
    assert local and json.loads(local.group(1)) == list(NOTIFICATION_EVENTS)
    assert re.findall(r"^ +events += (.+)$", tf, re.M) == ["local.notification_events"]


def test_the_functions_run_the_handlers_the_zip_is_built_for_and_cache_as_the_local_server_does():
    # GIVEN the module's function definitions and the kit's constants
    tf = (MODULE / "lambda.tf").read_text() + (MODULE / "http_api.tf").read_text()
    # THEN each handler and the runtime are the ones `idp-kit build` packs, and API Gateway caches an authorizer's
    # answer as long as `idp-kit serve` does
    for function, handler in LAMBDA_HANDLERS.items():
        assert re.search(rf'{function} += {{ name = [^\n]*handler = "{re.escape(handler)}"', tf), function
    assert f'runtime          = "{LAMBDA_RUNTIME}"' in tf
    assert AUTHORIZER_RESULT_TTL_S == AUTHORIZER_CACHE_TTL_S
    assert f"authorizer_result_ttl_in_seconds  = {AUTHORIZER_RESULT_TTL_S}" in tf


# ---------------------------------------------------------------------------------------------------------------------
# terraform fmt, init (offline from a mirror), validate; checkov

@pytest.fixture(scope="module")
def terraform() -> str:
    return require("terraform", INSTALL_TERRAFORM)


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory) -> dict[str, str]:
    "terraform's environment: a CLI configuration installing hashicorp/* from the provider mirror when there is one."
    rc = tmp_path_factory.mktemp("terraform-cli") / "terraform.rc"
    rc.write_text(cli_config(find_provider_mirror()))
    quiet = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), **quiet}


def tf(terraform: str, env: dict[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess:
    "`terraform -chdir=workdir ARGS`, captured (text)."
    return subprocess.run([terraform, f"-chdir={workdir}", *args], capture_output=True, text=True, env=env,
                          timeout=300, stdin=subprocess.DEVNULL)


def copy_module(dest: Path) -> Path:
    "A copy of infra/aws (with its examples and policies, without Terraform's artefacts) at `dest`."
    return Path(shutil.copytree(MODULE, dest, ignore=shutil.ignore_patterns(*TF_ARTIFACTS)))


def init(terraform: str, env: dict[str, str], workdir: Path) -> None:
    "`terraform init`; with a provider mirror any network access is made to fail, so it proves init works offline."
    dead_proxy = "http://127.0.0.1:9"
    offline = {"HTTPS_PROXY": dead_proxy, "HTTP_PROXY": dead_proxy, "NO_PROXY": ""} if find_provider_mirror() else {}
    p = tf(terraform, env | offline, workdir, "init", "-backend=false", "-input=false", "-no-color")
    assert p.returncode == 0, f"terraform init in {workdir} failed:\n{p.stderr or p.stdout}"


@pytest.fixture(scope="module")
def initialised(tmp_path_factory, terraform, tf_env) -> Path:
    "A copy of infra/aws whose module and complete example are both initialised (read-only for the tests)."
    module = copy_module(tmp_path_factory.mktemp("validate") / "aws")
    for workdir in (module, module / EXAMPLE): init(terraform, tf_env, workdir)
    return module


def test_module_is_formatted(terraform, tf_env):
    p = tf(terraform, tf_env, MODULE, "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert p.returncode == 0, f"run `terraform fmt -recursive infra/aws`:\n{p.stdout}{p.stderr}"


@pytest.mark.parametrize("where", [".", str(EXAMPLE)])
def test_module_and_example_initialise_offline_and_validate(initialised, terraform, tf_env, where):
    result = json.loads(tf(terraform, tf_env, initialised / where, "validate", "-json", "-no-color").stdout)
    assert (result["valid"], result["error_count"], result["warning_count"]) == (True, 0, 0), result["diagnostics"]


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason():
    checkov = require("checkov", INSTALL_CHECKOV)
    # --skip-download: no call to Prisma Cloud for guidelines (offline, and nothing of ours leaves the machine)
    p = subprocess.run([checkov, "-d", str(MODULE), "--framework", "terraform", "--skip-download", "-o", "json"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    report = json.loads(p.stdout)
    report = report[0] if isinstance(report, list) else report
    results, summary = report["results"], report["summary"]
    assert [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]] == []
    assert summary["parsing_errors"] == 0 and summary["passed"] > 50  # it really scanned the module
    skipped = results["skipped_checks"]
    assert [c["check_id"] for c in skipped if not (c["check_result"].get("suppress_comment") or "").strip()] == []


# ---------------------------------------------------------------------------------------------------------------------
# terraform plan against moto: what the spec accepts plans, what it refuses fails with the module's message

@pytest.fixture(scope="module")
def moto_endpoint():
    "A moto server of this module's own, on a free loopback port; plans only read from it."
    server, endpoint = start_moto()
    yield endpoint
    stop_moto(server)


PROVIDER = """provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 1
  endpoints {{
{endpoints}
  }}
}}
"""
SERVICES = ("apigatewayv2", "cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "s3", "sns", "sqs", "sts")  # every service the module calls
SECRET = "s" * 32  # an api_signing_secret long enough
ZIP_HASH = "A" * 43 + "="  # a base64sha256: with it, a plan needs no zip on disk


@pytest.fixture(scope="module")
def plan_root(tmp_path_factory, terraform, tf_env, moto_endpoint) -> Path:
    "A copy of the module used as a root module, its provider pointed at moto: a tfvars file is planned as is."
    root = copy_module(tmp_path_factory.mktemp("plan") / "aws")
    endpoints = "\n".join(f'    {service} = "{moto_endpoint}"' for service in SERVICES)
    (root / "moto_provider.tf").write_text(PROVIDER.format(endpoints=endpoints))
    init(terraform, tf_env, root)
    return root


@pytest.fixture(scope="module")
def inputs_root(tmp_path_factory, terraform, tf_env) -> Path:
    "A root holding only the module's variables.tf: its validations need no provider, so a plan of it takes a second, not ~7."
    root = tmp_path_factory.mktemp("inputs")
    shutil.copy(MODULE / "variables.tf", root / "variables.tf")
    init(terraform, tf_env, root)
    return root


def plan(terraform: str, env: dict[str, str], root: Path, tfvars: dict[str, Any]) -> tuple[list[str], dict[str, int]]:
    "Plan `tfvars` as a terraform.tfvars.json: error messages (without Terraform's location), and the change summary."
    (root / "case.tfvars.json").write_text(json.dumps(tfvars))
    p = tf(terraform, env, root, "plan", "-json", "-input=false", "-lock=false", "-var-file=case.tfvars.json")
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    diagnostics = [e["diagnostic"] for e in events if e.get("type") == "diagnostic"]
    errors = [d["detail"].split("\n\nThis was checked")[0] or d["summary"]
              for d in diagnostics if d["severity"] == "error"]
    assert p.returncode == (1 if errors else 0), p.stderr
    return errors, next((e["changes"] for e in events if e.get("type") == "change_summary"), {})


def test_a_spec_plans_as_is_with_every_resource(plan_root, terraform, tf_env):
    # GIVEN a spec using every option: three subscribers (one filtered), suffixes, KMS keys, an alarm topic
    kms = "arn:aws:kms:us-east-1:123456789012:key/"
    pdf_only = {"Records": {"s3": {"object": {"key": [{"suffix": ".pdf"}]}}}}
    spec = IngestionStackSpec(
        bucket_name="idp-kit-plan", watched_suffixes=(".pdf", ".docx"), databricks_external_id="0000-test",
        bucket_kms_key_arn=kms + "1234", topic_kms_master_key_id="alias/idp-kit",
        status_table_kms_key_arn=kms + "5678",
        alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:ops", tags={"team": "documents"},
        api_signing_secret=SECRET, lambda_zip_path="nowhere/idp_kit_lambda.zip", lambda_zip_base64sha256=ZIP_HASH,
        api_readable_buckets=("idp-kit-archive",), api_reserved_concurrency=20, log_kms_key_arn=kms + "9abc",
        databricks_host="https://dbc-1.cloud.databricks.com", databricks_token="dapi-test", databricks_warehouse_id="abc123",
        sqs_subscribers={"idp-kit-ingest": SubscriberSpec(visibility_timeout_seconds=900),
                         "idp-kit-audit": SubscriberSpec(raw_message_delivery=True),
                         "idp-kit-pdf": SubscriberSpec(filter_policy=pdf_only)})
    # WHEN its to_tfvars output is planned as is
    errors, summary = plan(terraform, tf_env, plan_root, to_tfvars(spec))
    # THEN it plans: 6 bucket resources, notification, topic + policy, 3 x (queue, DLQ, subscription, 2 alarms), three
    # tables, the completion topic with its callback queue, DLQ, subscription and 2 alarms, the role with its job, KMS,
    # completion and self-assume policies; the API: per function a role, its own, log and table-KMS policies, a log group and
    # the function (3 x 6), the API's bucket-KMS policy, the callback event source, and the HTTP API with its integration,
    # authorizer, two routes, access log group, stage and two invoke permissions
    assert errors == []
    assert summary.get("add") == 6 + 1 + 2 + 3 * 5 + 3 + 6 + 5 + 3 * 6 + 1 + 1 + 9


# Inputs the spec refuses, each with the message variables.tf gives (planned in `inputs_root`: the validations are the
# same in the whole module, they only refer to variables, and a root without resources needs no provider); all in one plan (Terraform reports every failed
# validation of independent variables at once). Subscriber mistakes sit in separate subscribers of one map.
BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"bucket_name": "Bad_Name"}, "bucket_name: 3-63 characters, lower-case letters, digits, '.' and '-', "
                                  "starting and ending with a letter or digit."),
    ({"bucket_kms_key_arn": "my-key"},
     "bucket_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), or null for SSE-S3."),
    ({"noncurrent_version_expiration_days": 0},
     "noncurrent_version_expiration_days must be a whole number of days from 1 to 3650."),
    ({"abort_incomplete_multipart_upload_days": 366},
     "abort_incomplete_multipart_upload_days must be a whole number of days from 1 to 365."),
    ({"watched_prefix": "/incoming/"},
     "watched_prefix must end with '/' and not start with it ('' watches the whole bucket)."),
    ({"watched_suffixes": [".pdf", "f"]}, 'watched_suffixes must not overlap (one ending with another, like ".pdf" '
                                          'and "f"): S3 refuses overlapping notification filters.'),
    ({"topic_name": "object created"}, "topic_name: 1-256 letters, digits, '-' or '_'."),
    ({"topic_kms_master_key_id": ""},
     'topic_kms_master_key_id must be a KMS key id, alias or ARN, or null for an unencrypted topic (not "").'),
    ({"sqs_subscribers": {"slow": {"visibility_timeout_seconds": 50000}}},
     "sqs_subscribers: visibility_timeout_seconds must be a whole number from 0 to 43200 (12 hours)."),
    ({"sqs_subscribers": {"scoped": {"filter_policy_scope": "x"}}},
     'sqs_subscribers: filter_policy_scope must be "MessageBody" or "MessageAttributes".'),
    ({"sqs_subscribers": {"empty": {"filter_policy": "{}"}}},
     "sqs_subscribers: filter_policy must be a non-empty JSON object (an SNS filter policy); "
     "omit it (null) to receive every event."),
    ({"sqs_subscribers": {"never": {"max_receive_count": 0}}},
     "sqs_subscribers: max_receive_count must be a whole number from 1 to 1000."),
    ({"sqs_subscribers": {"brief": {"message_retention_seconds": 59}}},
     "sqs_subscribers: message_retention_seconds must be a whole number from 60 (1 minute) to 1209600 (14 days)."),
    ({"sqs_subscribers": {"q" * 77: {}}},
     "sqs_subscribers keys: queue names (with dlq_suffix \"-dlq\") are 1-80 letters, digits, '-' or '_'."),
    ({"dlq_message_retention_seconds": 1209601},
     "dlq_message_retention_seconds must be a whole number from 60 (1 minute) to 1209600 (14 days)."),
    ({"status_table_name": "ab"}, "status_table_name: 3-255 letters, digits, '_', '-' or '.'."),
    ({"status_table_ttl_attribute": ""}, "status_table_ttl_attribute must be an attribute name of 1-255 characters."),
    ({"status_table_kms_key_arn": "key"},
     "status_table_kms_key_arn must be a KMS key ARN, or null for the AWS managed key."),
    ({"api_keys_table_name": "k"}, "api_keys_table_name: 3-255 letters, digits, '_', '-' or '.'."),
    ({"databricks_role_name": "idp/kit"}, "databricks_role_name: 1-64 characters of [A-Za-z0-9+=,.@_-]."),
    ({"databricks_principal_arn": "414351767826"},
     "databricks_principal_arn must be an IAM principal ARN (arn:aws:iam::ACCOUNT:role/NAME)."),
    ({"alarm_topic_arn": "ops"}, "alarm_topic_arn must be an SNS topic ARN, or null for alarms without actions."),
    ({"dlq_depth_alarm_threshold": 0}, "dlq_depth_alarm_threshold must be a whole number of messages, at least 1."),
    ({"oldest_message_alarm_seconds": 59},
     "oldest_message_alarm_seconds must be a whole number from 60 to 1209600 (14 days)."),
    ({"databricks_external_id": None},
     "databricks_external_id is required when create_databricks_role is true: set it to your Databricks account id."),
    ({"api_name": "a" * 54}, "api_name: 1-53 letters, digits, '-' or '_' (function names add up to 11 characters, and may have 64)."),
    ({"api_auth": "cognito"}, 'api_auth must be "api_key" or "iam".'),
    ({"api_upload_prefix": "/up/"}, "api_upload_prefix must be a folder relative to watched_prefix: ends with '/', does not start with it."),
    ({"api_readable_buckets": ["Bad_B"]}, "api_readable_buckets: bucket names of 3-63 lower-case letters, digits, '.' and '-'."),
    ({"api_routes": ["Fast"]}, "api_routes must be a non-empty list of lower-case names (a-z, 0-9, _ and -)."),
    ({"api_rate_per_minute": 0}, "api_rate_per_minute must be a whole number from 1 to 1000000."),
    ({"api_max_document_bytes": 0}, "api_max_document_bytes must be a whole number of bytes, at least 1."),
    ({"api_throttling_burst_limit": 5001}, "api_throttling_burst_limit must be a whole number from 0 to 5000."),
    ({"api_throttling_rate_limit": 10001}, "api_throttling_rate_limit must be a whole number from 0 to 10000."),
    ({"api_reserved_concurrency": 0}, "api_reserved_concurrency must be a whole number of at least 1, or null for unreserved."),
    ({"api_timeout_seconds": 31}, "api_timeout_seconds must be a whole number from 1 to 30."),
    ({"callbacks_timeout_seconds": 901}, "callbacks_timeout_seconds must be a whole number from 1 to 900."),
    ({"callbacks_batch_size": 11}, "callbacks_batch_size must be a whole number from 1 to 10."),
    ({"lambda_memory_mb": 64}, "lambda_memory_mb must be a whole number from 128 to 10240."),
    ({"lambda_architecture": "sparc"}, 'lambda_architecture must be "x86_64" or "arm64".'),
    ({"lambda_zip_path": "dist/lambda.tar"}, "lambda_zip_path must name a .zip file (the one `idp-kit build` writes)."),
    ({"lambda_zip_base64sha256": "abc"},
     "lambda_zip_base64sha256 must be a base64 SHA-256 (44 characters ending in '='), or null to hash the file."),
    ({"log_retention_days": 2}, "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
                                "1096, 1827, 2192, 2557, 2922, 3288, 3653."),
    ({"log_kms_key_arn": "k"}, "log_kms_key_arn must be a KMS key ARN, or null."),
    ({"databricks_host": "http://dbc"}, "databricks_host must be the workspace URL, starting with https://, or null."),
    ({"databricks_warehouse_id": ""}, 'databricks_warehouse_id must not be "": null for none.'),
    ({"delta_schema": "a.b.c"}, "delta_schema must be `schema` or `catalog.schema` (letters, digits and '_')."),
]
# Checks of variables other checks refer to (an invalid one silences those), and a second mistake in a variable
# BAD_INPUTS already sets: each planned alone (one entry, several independent mistakes, where they can share a plan).
APART: list[tuple[dict[str, Any], str | list[str]]] = [
    ({"completion_topic_name": "documents completed", "idempotency_table_name": "idp-kit-api-keys"},
     ["completion_topic_name: 1-256 letters, digits, '-' or '_', or null for no completion topic.",
      "status_table_name, api_keys_table_name, idempotency_table_name must be three different tables."]),
    ({"completion_callback_queue_name": "idp-kit-audit", "idempotency_table_name": "idempotency records"},
     ["completion callback queue (or its DLQ) is also a subscriber queue: choose another completion_callback_queue_name.",
      "idempotency_table_name: 3-255 letters, digits, '_', '-' or '.'."]),
    ({"completion_topic_name": "idp-kit-object-created"},
     "completion_topic_name is the topic_name: the completion topic must be a topic of its own."),
    ({"completion_topic_name": None, "completion_callback_queue_name": "callbacks"},
     "completion_callback_queue_name is set but completion_topic_name is null: the callback queue needs the completion topic."),
    ({"completion_topic_name": "t" * 77},
     "completion callback queue: queue names (with dlq_suffix \"-dlq\") are 1-80 letters, digits, '-' or '_' "
     "(set completion_callback_queue_name when <completion_topic_name>-callbacks is too long)."),
    ({"watched_suffixes": [".pdf", ".pdf"]}, "watched_suffixes names a suffix twice: S3 refuses overlapping notification filters."),
    ({"ingest_subscriber": "idp-kit-missing"},
     'ingest_subscriber "idp-kit-missing" is not one of sqs_subscribers ["idp-kit-audit","idp-kit-ingest"].'),
    ({"dlq_suffix": ""},
     "dlq_suffix must be 1-79 characters: a dead-letter queue's name is its queue's name plus this suffix."),
    ({"api_signing_secret": "short"},
     "api_signing_secret must be at least 32 characters while api_enabled is true (it signs page tokens and callbacks), "
     "or set api_enabled to false."),
    ({"databricks_token": "dapi-test"},
     "databricks_token is set but databricks_host is not: set the workspace URL (https://...) the token is for."),
]
VALID = {"databricks_external_id": "0000-test", "api_signing_secret": SECRET}


def as_spec_fields(tfvars: dict[str, Any]) -> dict[str, Any]:
    "`tfvars` as IngestionStackSpec arguments (a filter policy is JSON text in Terraform, a dict in the spec)."
    subs = {name: {**sub, **({"filter_policy": json.loads(sub["filter_policy"])} if "filter_policy" in sub else {})}
            for name, sub in tfvars.get("sqs_subscribers", {}).items()}
    return tfvars | ({"sqs_subscribers": {"idp-kit-ingest": {}, **subs}} if subs else {})


@pytest.mark.parametrize("bad,message", BAD_INPUTS + APART, ids=[json.dumps(b)[2:40] for b, _ in BAD_INPUTS + APART])
def test_the_spec_refuses_each_input_the_module_refuses(bad, message):
    with pytest.raises(ValidationError):
        IngestionStackSpec(**as_spec_fields(VALID | bad))


def test_plan_refuses_bad_inputs_with_the_modules_messages(inputs_root, terraform, tf_env):
    # GIVEN a terraform.tfvars.json with every mistake of BAD_INPUTS at once
    tfvars = dict(VALID)
    for bad, _ in BAD_INPUTS:
        subs = {**tfvars.get("sqs_subscribers", {"idp-kit-ingest": {}}), **bad.get("sqs_subscribers", {})}
        tfvars |= bad | ({"sqs_subscribers": subs} if "sqs_subscribers" in bad else {})
    # WHEN it is planned THEN each mistake is reported once, with its message, and nothing else is
    errors, _ = plan(terraform, tf_env, inputs_root, tfvars)
    assert sorted(errors) == sorted(message for _, message in BAD_INPUTS)


@pytest.mark.parametrize("bad,message", APART, ids=["+".join(b) for b, _ in APART])
def test_plan_refuses_inputs_other_checks_refer_to(inputs_root, terraform, tf_env, bad, message):
    errors, _ = plan(terraform, tf_env, inputs_root, VALID | bad)
    assert sorted(errors) == sorted(message if isinstance(message, list) else [message])


def test_without_a_completion_topic_the_module_plans_no_callback_queue(plan_root, terraform, tf_env):
    # GIVEN the default spec without a completion topic, its callers signing their requests (SigV4); WHEN it is planned
    spec = IngestionStackSpec(completion_topic_name=None, api_auth="iam", lambda_zip_base64sha256=ZIP_HASH, **VALID)
    errors, summary = plan(terraform, tf_env, plan_root, to_tfvars(spec))
    # THEN it plans the bucket (6 and its notification, no KMS), topic + policy, 2 x 5 per subscriber, 3 tables, the role
    # with its job and self-assume policies: no completion topic, callback queue, alarm or publish policy; and the API
    # function alone (role, its own and log policies, log group, function) behind the HTTP API (integration, two routes,
    # access log group, stage, one permission): no authorizer, no callback deliverer
    assert errors == [] and summary.get("add") == 6 + 1 + 2 + 2 * 5 + 3 + 3 + 5 + 7


def test_without_the_api_the_module_plans_the_ingestion_path_and_data_layer_only(plan_root, terraform, tf_env):
    # GIVEN the default spec with api_enabled false, no secret and no zip anywhere; WHEN it is planned
    spec = IngestionStackSpec(databricks_external_id="0000-test", api_enabled=False, lambda_zip_path="missing/idp_kit_lambda.zip")
    errors, summary = plan(terraform, tf_env, plan_root, to_tfvars(spec))
    # THEN it plans what the stack had before the API's compute: no function, role, log group or HTTP API
    assert errors == [] and summary.get("add") == 6 + 1 + 2 + 2 * 5 + 3 + 6 + 4
