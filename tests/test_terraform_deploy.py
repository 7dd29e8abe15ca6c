"""The kit's Terraform module applied to moto over HTTP: three subscribers (one filtered on the key prefix), objects put
into the bucket and the removal of one reach exactly the queues they should, completion messages with a callback (and
only those) reach the callback queue, the API's compute is there as declared (three functions with their handlers,
roles, policies, environment and log groups; the HTTP API's routes, authorizer, throttled stage and access log; the
callback queue's event source), the boto3 provisioner creates the same stack but for that compute (compared resource by
resource, setting by setting: the API's tables and owner index, the completion topic and callback queue included), and
`terraform destroy` leaves nothing.
Also the local stack's provisioner choice (`auto` is Terraform when it is installed, boto3 otherwise, and says so).

moto creates Lambda functions without running them (no Docker here), so the functions' code is a stand-in zip: what is
checked is the infrastructure, and `tests/test_build.py` checks the real zip imports.

One Terraform apply costs about a minute on moto (the AWS provider's own propagation waits: see
docs/terraform_on_moto.md), so this is one scenario with several checks rather than several applies."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from idp_kit.canonical_schema import ObjectRef
from idp_kit.deployment import choose_provisioner
from idp_kit.events import decode_body, is_object_created, is_object_removed
from idp_kit.infra_spec import (ACCESS_LOG_FORMAT, LAMBDA_HANDLERS, IngestionStackSpec, SubscriberSpec, api_function_policy,
                                authorizer_function_policy, callbacks_function_policy, lambda_logs_policy)
from idp_kit.inventory import describe_stack, leftovers
from idp_kit.local import LocalStack
from idp_kit.provisioning import provision
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.terraform import apply_local, destroy_local, find_terraform

pytestmark = pytest.mark.slow

REGION = "us-east-1"
INVOICES_ONLY = {"Records": {"s3": {"object": {"key": [{"prefix": "incoming/invoices/"}]}}}}


@pytest.fixture
def moto_endpoint():
    "A moto server of this test's own, on a free loopback port, emptied first (moto keeps its state per process)."
    server, endpoint = start_moto()  # patched as the local stack's daemon is: the provider waits on attributes stock moto drops
    yield endpoint
    stop_moto(server)


@pytest.fixture
def terraform_ready():
    "Terraform is required here: missing, the test fails and says what to install. Without a provider mirror, init uses the registry."
    if find_terraform() is None: pytest.fail("terraform is not on the PATH: install Terraform >= 1.9 (the infrastructure tests need it)")


def stand_in_zip(path: Path) -> tuple[Path, str]:
    "A small zip holding the three handlers' module paths (moto stores code, never runs it) and its base64sha256."
    with zipfile.ZipFile(path, "w") as z:
        for handler in LAMBDA_HANDLERS.values(): z.writestr(handler.rsplit(".", 1)[0].replace(".", "/") + ".py", "def handler(e, c): pass\n")
    return path, base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def three_subscribers(lambda_zip: Path) -> IngestionStackSpec:
    return IngestionStackSpec(
        bucket_name="idp-kit-tf-fanout", force_destroy=True, databricks_external_id="test-external-id",
        bucket_require_tls=False,  # moto is served over plain HTTP, where a TLS-only policy refuses every request
        watched_suffixes=(".txt", ".pdf"),  # one notification per suffix
        sqs_subscribers={"idp-kit-ingest": SubscriberSpec(), "idp-kit-audit": SubscriberSpec(raw_message_delivery=True),
                         "idp-kit-invoices": SubscriberSpec(filter_policy=INVOICES_ONLY, max_receive_count=3)},
        api_signing_secret="s" * 40, lambda_zip_path=str(lambda_zip), callbacks_timeout_seconds=60, callbacks_batch_size=5,
        api_throttling_burst_limit=50, api_throttling_rate_limit=20, databricks_warehouse_id="wh-1")


def clients(endpoint: str) -> dict:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return {s: session.client(s, endpoint_url=endpoint) for s in ("s3", "sns", "sqs", "dynamodb", "iam", "cloudwatch", "lambda",
                                                                  "apigatewayv2", "logs")}


def received(sqs, url: str, want: int, timeout: float = 15.0,
             kind: Callable[[ObjectRef], bool] = is_object_created) -> list[str]:
    "Keys of the `kind` S3 events in queue `url` (others skipped), received until `want` arrived or `timeout` passed."
    keys, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in msgs:
            keys += [ref.key for ref in decode_body(m["Body"]).refs if kind(ref)]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(keys) >= want and not msgs: break
    return sorted(keys)


def check_the_api(aws: dict, out: dict, spec: IngestionStackSpec) -> None:
    "The API's compute as Terraform made it on moto: functions, roles and their policies, HTTP API, event source."
    lam, iam, api = aws["lambda"], aws["iam"], aws["apigatewayv2"]
    functions = out["lambda_functions"]
    assert sorted(functions) == ["api", "authorizer", "callbacks"]
    settings = out["idp_kit_settings"]
    for name, f in functions.items():
        config = lam.get_function(FunctionName=f["name"])["Configuration"]
        assert (config["Handler"], config["Runtime"], config["Role"], config["Architectures"], config["MemorySize"]) == (
            LAMBDA_HANDLERS[name], "python3.12", f["role_arn"], ["x86_64"], 512)
        env = config["Environment"]["Variables"]
        # every function reads the stack's settings; the secret goes only where it signs, the warehouse everywhere
        assert {k: env[k] for k in settings} == settings and env["IDP_DATABRICKS_WAREHOUSE_ID"] == "wh-1"
        assert ("IDP_API_SIGNING_SECRET" in env) == (name != "authorizer")
        assert aws["logs"].describe_log_groups(logGroupNamePrefix=f["log_group"])["logGroups"][0]["retentionInDays"] == 30
    assert settings["IDP_API_URL"] == out["api_url"].rstrip("/") and settings["IDP_API_AUTH"] == "api_key"
    assert lam.get_function(FunctionName=functions["callbacks"]["name"])["Configuration"]["Timeout"] == 60
    # each role holds exactly its templated policies (rendered by Python here, by Terraform there)
    arn = lambda kind, name: f"arn:aws:{kind}:us-east-1:123456789012:{name}"
    arns = {"status_table": arn("dynamodb", "table/idp-kit-document-status"), "api_keys_table": arn("dynamodb", "table/idp-kit-api-keys"),
            "idempotency_table": arn("dynamodb", "table/idp-kit-idempotency"), "ingest_queue": arn("sqs", "idp-kit-ingest")}
    logs = lambda name: lambda_logs_policy(arn("logs", f"log-group:/aws/lambda/{name}"))
    wanted = {"api": {"idp-kit-api-function": api_function_policy(spec, arns), "idp-kit-api-logs": logs("idp-kit-api")},
              "authorizer": {"idp-kit-authorizer-function": authorizer_function_policy(arns["api_keys_table"]),
                             "idp-kit-authorizer-logs": logs("idp-kit-api-authorizer")},
              "callbacks": {"idp-kit-callbacks-function": callbacks_function_policy(arns["status_table"], out["completion_callback_queue_arn"]),
                            "idp-kit-callbacks-logs": logs("idp-kit-api-callbacks")}}
    for name, policies in wanted.items():
        role = functions[name]["name"]
        assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == sorted(policies)
        assert {p: iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"] for p in policies} == policies
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    # the HTTP API: the two routes, the API-key authorizer (moto has no GetAuthorizers: read by id), the throttled stage
    routes = {r["RouteKey"]: r for r in api.get_routes(ApiId=out["api_id"])["Items"]}
    assert sorted(routes) == ["ANY /v1/{proxy+}", "GET /v1/openapi.json"]
    assert (routes["ANY /v1/{proxy+}"]["AuthorizationType"], routes["GET /v1/openapi.json"]["AuthorizationType"]) == ("CUSTOM", "NONE")
    authorizer = api.get_authorizer(ApiId=out["api_id"], AuthorizerId=routes["ANY /v1/{proxy+}"]["AuthorizerId"])
    assert (authorizer["AuthorizerType"], authorizer["IdentitySource"], authorizer["AuthorizerResultTtlInSeconds"],
            authorizer["AuthorizerPayloadFormatVersion"], authorizer["EnableSimpleResponses"]) == (
        "REQUEST", ["$request.header.x-api-key"], 300, "2.0", True)
    integration = api.get_integration(ApiId=out["api_id"], IntegrationId=routes["ANY /v1/{proxy+}"]["Target"].split("/")[1])
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    stage = api.get_stage(ApiId=out["api_id"], StageName="$default")
    assert (stage["AutoDeploy"], stage["DefaultRouteSettings"]["ThrottlingBurstLimit"], stage["DefaultRouteSettings"]["ThrottlingRateLimit"]) == (True, 50, 20)
    assert json.loads(stage["AccessLogSettings"]["Format"]) == ACCESS_LOG_FORMAT
    # the callback queue: read by the deliverer in batches, partial failures reported, visible again after 6 x its timeout
    # (moto filters mappings by the function as it was named at creation: Terraform names it by ARN, so filter by queue)
    mapping, = lam.list_event_source_mappings(EventSourceArn=out["completion_callback_queue_arn"])["EventSourceMappings"]
    assert (mapping["FunctionArn"], mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (
        functions["callbacks"]["arn"], 5, ["ReportBatchItemFailures"])
    visibility = aws["sqs"].get_queue_attributes(QueueUrl=out["completion_callback_queue_url"], AttributeNames=["VisibilityTimeout"])
    assert visibility["Attributes"]["VisibilityTimeout"] == "360"


def test_terraform_fans_out_through_filters_matches_boto3_and_destroys_everything(moto_endpoint, terraform_ready, tmp_path):
    code, code_hash = stand_in_zip(tmp_path / "idp_kit_lambda.zip")
    spec, aws = three_subscribers(code), clients(moto_endpoint)
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    # GIVEN the module applied to moto with three subscribers, one filtered to incoming/invoices/
    out = apply_local(spec, tmp_path / "terraform", moto_endpoint, REGION)
    assert sorted(out["queues"]) == sorted(spec.sqs_subscribers)
    assert out["idp_kit_settings"]["IDP_INGEST_QUEUE_URL"] == out["queues"]["idp-kit-ingest"]["url"]
    assert out["databricks_role_arn"].endswith(":role/idp-kit-databricks-job")
    settings = out["idp_kit_settings"]
    assert (settings["IDP_API_KEYS_TABLE"], settings["IDP_IDEMPOTENCY_TABLE"], settings["IDP_COMPLETION_TOPIC"]) == (
        out["api_keys_table_name"], out["idempotency_table_name"], "idp-kit-document-completed")
    assert out["completion_topic_arn"].endswith(":idp-kit-document-completed")
    assert out["completion_callback_dlq_arn"].endswith(":idp-kit-document-completed-callbacks-dlq")
    # AND the API's compute is there, as declared
    check_the_api(aws, out, spec)
    assert lam_code_hash(aws, out) == code_hash
    # WHEN objects land inside and outside the watched prefix, with watched and other suffixes
    for key in ("incoming/letter.txt", "incoming/invoices/inv 1.pdf", "elsewhere/ignored.txt", "incoming/photo.png"):
        aws["s3"].put_object(Bucket=spec.bucket_name, Key=key, Body=key.encode())
    # THEN every unfiltered subscriber gets both watched objects, the filtered one only the invoice, nobody the rest
    sqs = aws["sqs"]
    assert received(sqs, out["queues"]["idp-kit-ingest"]["url"], 2) == ["incoming/invoices/inv 1.pdf", "incoming/letter.txt"]
    assert received(sqs, out["queues"]["idp-kit-audit"]["url"], 2) == ["incoming/invoices/inv 1.pdf", "incoming/letter.txt"]
    assert received(sqs, out["queues"]["idp-kit-invoices"]["url"], 1) == ["incoming/invoices/inv 1.pdf"]
    # WHEN the letter is deleted (its only version, deleted for good: ObjectRemoved:Delete)
    only = aws["s3"].list_object_versions(Bucket=spec.bucket_name, Prefix="incoming/letter.txt")["Versions"][0]
    aws["s3"].delete_object(Bucket=spec.bucket_name, Key="incoming/letter.txt", VersionId=only["VersionId"])
    # THEN its removal reaches the unfiltered subscribers (the ingest queue among them), not the invoices one
    for queue in ("idp-kit-ingest", "idp-kit-audit"):
        assert received(sqs, out["queues"][queue]["url"], 1, kind=is_object_removed) == ["incoming/letter.txt"]
    assert received(sqs, out["queues"]["idp-kit-invoices"]["url"], 0, timeout=2, kind=is_object_removed) == []
    # WHEN the pipeline announces two finished documents, one whose caller asked for a callback
    for doc, flag in (("a", "true"), ("b", "false")):
        aws["sns"].publish(TopicArn=out["completion_topic_arn"], Message=json.dumps({"document_id": doc}),
                           MessageAttributes={"has_callback": {"DataType": "String", "StringValue": flag}})
    # THEN the callback queue holds that one only, as published (raw delivery)
    got = sqs.receive_message(QueueUrl=out["completion_callback_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [json.loads(m["Body"]) for m in got.get("Messages", [])] == [{"document_id": "a"}]
    # AND the DLQs got nothing
    for q in out["queues"].values():
        attrs = sqs.get_queue_attributes(QueueUrl=q["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
    # WHEN the boto3 provisioner deploys the same spec on another moto (a process of its own: moto's state is per process)
    with LocalStack(provision=False) as other:
        provision(other.settings, session=other.boto3_session(), spec=spec)
        # THEN the two stacks are the same, resource by resource and setting by setting
        assert describe_stack(spec, session, other.settings).differences(describe_stack(spec, session, moto_endpoint)) == []
    # WHEN the stack is destroyed (with an object still in the versioned bucket)
    destroy_local(tmp_path / "terraform")
    # THEN nothing of it is left
    assert leftovers(spec, session, moto_endpoint) == []
    assert aws["s3"].list_buckets()["Buckets"] == []
    assert aws["sns"].list_topics()["Topics"] == []
    assert aws["sqs"].list_queues().get("QueueUrls", []) == []
    assert aws["dynamodb"].list_tables()["TableNames"] == []
    assert [r["RoleName"] for r in aws["iam"].list_roles()["Roles"] if r["RoleName"].startswith("idp-kit")] == []
    assert aws["cloudwatch"].describe_alarms()["MetricAlarms"] == []
    assert aws["lambda"].list_functions()["Functions"] == [] and aws["apigatewayv2"].get_apis()["Items"] == []
    assert aws["logs"].describe_log_groups()["logGroups"] == []


def lam_code_hash(aws: dict, out: dict) -> str:
    "The CodeSha256 Lambda holds for the API function: the zip's base64sha256 (Terraform's source_code_hash)."
    return aws["lambda"].get_function(FunctionName=out["lambda_functions"]["api"]["name"])["Configuration"]["CodeSha256"]


def test_auto_provisioner_prefers_terraform_and_says_when_it_falls_back(monkeypatch, tmp_path):
    # GIVEN terraform on the PATH, auto picks it with nothing to explain
    assert choose_provisioner("auto") == ("terraform", None)
    # GIVEN a PATH without terraform, auto falls back to boto3 and says why
    monkeypatch.setenv("PATH", str(tmp_path))
    method, note = choose_provisioner("auto")
    assert method == "boto3" and "terraform was not found" in note and "install Terraform" in note


def test_local_up_without_terraform_falls_back_to_boto3_and_says_so(idp_kit, tmp_path):
    # GIVEN a PATH with the kit's environment but no terraform, and no provisioner chosen
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "AWS_"))}
    env |= {"PATH": str(Path(sys.executable).parent), "IDP_STATE_DIR": str(tmp_path / "state")}
    try:
        # WHEN the stack is brought up
        up = idp_kit("local", "up", env=env, timeout=120)
        assert up.returncode == 0, up.stderr[-2000:]
        report = json.loads(up.stdout)
        # THEN it was provisioned with boto3, and the answer says why
        assert report["provisioner"] == "boto3" and "terraform was not found" in report["note"]
        assert report["provisioned"]["queues"][0]["name"] == "idp-kit-ingest"
    finally:
        idp_kit("local", "down", env=env, timeout=60)
