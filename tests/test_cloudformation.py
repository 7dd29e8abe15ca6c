"""The CloudFormation template: equal to what its generator writes, clean under cfn-lint and checkov, refusing bad
parameters, and deployed on moto with three subscribers (one filtered): staged in S3 (it is over the inline limit),
events fan out as the template says, moto's gaps are exactly the ones the kit lists, the stack is the boto3
provisioner's setting by setting (but for named differences), the API's functions, roles and event source are there
with the API (the HTTP API is a listed gap of moto's CloudFormation), and deleting it leaves nothing but the deployment
bucket."""
from __future__ import annotations

import json
import logging
import subprocess
import zipfile
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import FIXTURES, REPO
from idp_kit.cloudformation import (INLINE_TEMPLATE_LIMIT, MOTO_CFN_GAPS, MOTO_NOT_FILLED, STAGED_TEMPLATE_LIMIT, TEMPLATE_PATH,
                                    WHOLE_RESOURCE, _GAPS, _Clients, _Stack, delete_cloudformation, deploy_cloudformation,
                                    load_template, parameters_for, render_template, resolve_template, template_bucket_name,
                                    template_source, template_yaml)
from idp_kit.events import decode_body
from idp_kit.infra_spec import (LAMBDA_HANDLERS, IngestionStackSpec, api_function_policy, authorizer_function_policy,
                                callbacks_function_policy, lambda_logs_policy)
from idp_kit.inventory import describe_stack
from idp_kit.local import LocalStack
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.provisioning import alarm_names, provision
from idp_kit.settings import Settings

# moto warns for each resource type its CloudFormation skips: exactly the gaps these tests assert, one by one
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* but it's not supported by moto's CloudFormation")

TEMPLATE = REPO / "infra" / "aws" / "cloud_storage_ingestion.yaml"
REGION = "us-east-1"
DEPLOYMENT_BUCKET = template_bucket_name("123456789012", REGION)  # where the kit stages the template on moto's account
INVOICES = {"Records": {"s3": {"object": {"key": [{"prefix": "incoming/invoices/"}]}}}}


def three_subscribers(**overrides) -> IngestionStackSpec:
    "The spec these tests deploy: ingest (SNS envelope), audit (raw), invoices (raw, filtered on the key prefix)."
    subscribers = {"idp-kit-ingest": {}, "idp-kit-audit": {"raw_message_delivery": True},
                   "idp-kit-invoices": {"filter_policy": INVOICES, "raw_message_delivery": True}}
    return IngestionStackSpec(sqs_subscribers=subscribers, databricks_external_id="123456789012", tags={"team": "docs"},
                              **({"api_enabled": False} | overrides))


def with_the_api(tmp_path: Path, **overrides) -> IngestionStackSpec:
    "`three_subscribers` with the API's compute, its code a stand-in zip (moto stores functions, never runs them)."
    code = tmp_path / "idp_kit_lambda.zip"
    with zipfile.ZipFile(code, "w") as z:
        for handler in LAMBDA_HANDLERS.values(): z.writestr(handler.rsplit(".", 1)[0].replace(".", "/") + ".py", "def handler(e, c): pass\n")
    return three_subscribers(api_enabled=True, api_signing_secret="s" * 32, lambda_zip_path=str(code), **overrides)


def tool(name: str) -> Path:
    "A command-line tool installed beside the running interpreter; a missing one fails loudly, never skips."
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        pytest.fail(f"{name} is not installed beside {sys.executable}: install the dev tools (cfn-lint, checkov)")
    return exe


# ---------------------------------------------------------------- the file


def test_committed_template_is_the_generated_one():
    # GIVEN the committed template and the generator in nbs/08_cloudformation.ipynb; THEN they are the same text
    assert TEMPLATE.resolve() == TEMPLATE_PATH.resolve()
    assert TEMPLATE.read_text() == template_yaml(), ("infra/aws/cloud_storage_ingestion.yaml is stale: run `python -c "
                                                     "'from idp_kit.cloudformation import *; write_template()'`")
    assert load_template(TEMPLATE.read_text()) == render_template()


def test_template_is_over_the_inline_limit_and_within_the_staged_one():
    # GIVEN the committed file; THEN it must be staged in S3 (over 51,200 bytes: the kit and `deploy --s3-bucket` do),
    # and CloudFormation takes it from there (1 MB at most)
    size = len(TEMPLATE.read_bytes())
    assert INLINE_TEMPLATE_LIMIT < size <= STAGED_TEMPLATE_LIMIT, size
    assert "--s3-bucket" in TEMPLATE.read_text().split("\n", 5)[3]  # the header's deploy command says so


def test_cfn_lint_finds_nothing():
    # WHEN cfn-lint checks the template (errors and warnings); THEN it reports nothing
    proc = subprocess.run([str(tool("cfn-lint")), "--", str(TEMPLATE)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_checkov_fails_nothing_and_every_skip_says_why():
    # WHEN checkov scans the template (offline: --skip-download)
    command = [str(tool("checkov")), "-f", str(TEMPLATE), "--framework", "cloudformation", "--skip-download",
               "-o", "json"]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=600).stdout)
    summary, results = report["summary"], report["results"]
    # THEN no check fails, the template parsed, and every skip is one written in the template with a reason
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0), results.get("failed_checks")
    assert summary["passed"] > 0
    written = {(name, s["id"]) for name, r in render_template()["Resources"].items()
               for s in r.get("Metadata", {}).get("checkov", {}).get("skip", []) if len(s["comment"]) > 20}
    assert {(c["resource"].rsplit(".", 1)[-1], c["check_id"]) for c in results["skipped_checks"]} == written


def test_spec_the_template_refuses_is_refused_before_a_stack_exists(moto):
    # GIVEN a spec the template's constraints refuse (copied past the spec's own validators, as a hand-edited one would be)
    spec = three_subscribers().model_copy(update={"bucket_kms_key_arn": "my-key"})
    # WHEN it is deployed; THEN the kit refuses it, naming the parameter, and creates no stack
    with pytest.raises(ValueError, match="BucketKmsKeyArn='my-key'"):
        deploy_cloudformation(spec, moto.session, moto.endpoint, "refused", REGION)
    assert moto.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_more_subscribers_than_slots_are_refused():
    spec = IngestionStackSpec(sqs_subscribers={f"q{i}": {} for i in range(6)}, ingest_subscriber="q0",
                              create_databricks_role=False, api_enabled=False)
    with pytest.raises(ValueError, match="6 sqs_subscribers but the template has 5 slots"): parameters_for(spec)


# ---------------------------------------------------------------- on moto


class Moto:
    "A moto server of its own, and clients for it."
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def leftovers(self) -> dict[str, list]:
        "Everything of the kinds the stack creates that exists now (but the deployment bucket, which is no stack's)."
        sns, cfn = self.client("sns"), self.client("cloudformation")
        buckets = [b for b in self.client("s3").list_buckets()["Buckets"] if b["Name"] != DEPLOYMENT_BUCKET]
        return {"buckets": buckets, "topics": sns.list_topics()["Topics"],
                "subscriptions": sns.list_subscriptions()["Subscriptions"],
                "queues": self.client("sqs").list_queues().get("QueueUrls", []),
                "tables": self.client("dynamodb").list_tables()["TableNames"],
                "roles": self.client("iam").list_roles()["Roles"],
                "alarms": self.client("cloudwatch").describe_alarms()["MetricAlarms"],
                "functions": self.client("lambda").list_functions()["Functions"],
                "event_source_mappings": self.client("lambda").list_event_source_mappings()["EventSourceMappings"],
                "log_groups": self.client("logs").describe_log_groups()["logGroups"],
                "stacks": [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]}


def reset(endpoint: str) -> None:
    "Empty moto: servers in one process share its backends, so each test starts from nothing and leaves nothing."
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()


@pytest.fixture
def moto() -> Iterator[Moto]:
    logging.getLogger("moto").setLevel(logging.ERROR)  # "No Moto CloudFormation support for ...": the gaps tested here
    server, endpoint = start_moto()  # patched as the local stack's daemon is (SQS keeps RedriveAllowPolicy, keys keep '/'), empty
    try: yield Moto(endpoint)
    finally:
        reset(endpoint)
        stop_moto(server)


def receive(sqs, url: str, want: int, deadline_s: float = 15) -> list[dict]:
    "The message bodies on queue `url` (parsed), polling until `want` S3 events arrived or the deadline passed."
    bodies, end = [], time.monotonic() + deadline_s
    while sum(len(decode_body(b).refs) for b in bodies) < want and time.monotonic() < end:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def keys(bodies: list[dict]) -> list[str]:
    "The object keys (decoded, as the poller reads them) of the S3 events in `bodies`."
    return sorted(ref.key for b in bodies for ref in decode_body(b).refs)


@pytest.mark.slow
def test_moto_still_lacks_every_gap_the_kit_lists(moto, tmp_path):
    # GIVEN the template deployed on moto, with the API's compute, and with the kit's filling turned off
    deploy_cloudformation(with_the_api(tmp_path), moto.session, moto.endpoint, "raw", REGION, fill_moto_gaps=False)
    c = _Clients(moto.session, moto.endpoint, REGION)
    stack = _Stack(c, "raw")
    # WHEN each listed gap is probed on every resource that has it
    probed = {(kind, prop): [_GAPS[(kind, prop)].probe(c, t) for t in stack.targets(kind)
                             if prop == WHOLE_RESOURCE or prop in t.props]
              for kind, props in MOTO_CFN_GAPS.items() for prop in props}
    # THEN every one is in the template and missing on moto (a gap moto closed fails here: drop it from the list).
    # Most are missing on every resource; the IAM one only where a list holds AWS::NoValue: the job's policy (the unused
    # queue slots) and the API function's (the unused readable-bucket slots), not the others
    assert {k: v for k, v in probed.items() if not v or all(v)} == {}
    assert {k: v for k, v in probed.items() if any(v)} == {
        ("AWS::IAM::Policy", "PolicyDocument"): [False, True, True, False, True, True, True, True, True]}
    # AND after the kit fills them (a second stack), every fillable probe holds: what moto skipped is now there
    subscribers = {"a": {}, "b": {}, "c": {"filter_policy": INVOICES}}
    other = IngestionStackSpec(bucket_name="idp-kit-landing-2", topic_name="t2", status_table_name="table-2",
                               api_keys_table_name="keys-2", idempotency_table_name="idempotency-2", completion_topic_name="done-2",
                               databricks_role_name="role-2", databricks_external_id="123456789012",
                               sqs_subscribers=subscribers, ingest_subscriber="a", api_enabled=False)
    filled = deploy_cloudformation(other, moto.session, moto.endpoint, "filled", REGION)
    filled_stack = _Stack(c, "filled")
    applies = lambda prop, t: prop == WHOLE_RESOURCE or prop in t.props
    unheld = [(kind, t.logical_id) for (kind, prop), gap in _GAPS.items() if gap.fill
              for t in filled_stack.targets(kind) if applies(prop, t) and not gap.probe(c, t)]
    assert unheld == [] and len(filled.moto_gaps_filled) > 20


@pytest.mark.slow
def test_the_gap_the_kit_leaves_is_still_unfillable(moto):
    # GIVEN a bucket on moto with the template's TLS-only bucket policy, resolved for it
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="tls-only")
    resolved = resolve_template(render_template(), parameters_for(three_subscribers(bucket_name="tls-only")))
    policy = resolved.resources["BucketPolicy"]["Properties"]["PolicyDocument"]
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(policy))
    # WHEN an object is written under it; THEN moto refuses (so the kit does not apply the policy on moto)
    with pytest.raises(ClientError, match="403|Forbidden"):
        s3.put_object(Bucket="tls-only", Key="incoming/a.pdf", Body=b"x")
    http_api = [(f"AWS::ApiGatewayV2::{k}", WHOLE_RESOURCE) for k in ("Api", "Integration", "Authorizer", "Route", "Stage")]
    assert list(MOTO_NOT_FILLED) == [("AWS::S3::BucketPolicy", WHOLE_RESOURCE), ("AWS::DynamoDB::Table", "SSESpecification"),
                                     ("AWS::Lambda::Function", "LoggingConfig"), ("AWS::Lambda::Permission", WHOLE_RESOURCE), *http_api]
    # (moto's SQS dropping RedriveAllowPolicy is a gap of its SQS API, patched for every path: tests/test_moto_fidelity.py)


def test_moto_cannot_encrypt_a_table_after_creating_it(moto):
    # GIVEN a table moto made unencrypted (as its CloudFormation does with the template's SSESpecification)
    ddb = moto.client("dynamodb")
    ddb.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    # WHEN it is asked to encrypt it, as the kit would fill the gap
    ddb.update_table(TableName="plain", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    # THEN it answers as if it had, and the table stays unencrypted: why the kit leaves this gap (MOTO_NOT_FILLED)
    assert "SSEDescription" not in ddb.describe_table(TableName="plain")["Table"]


@pytest.mark.slow
def test_moto_enforces_neither_parameter_constraints_nor_rules_nor_stack_tags(moto):
    # GIVEN parameters CloudFormation refuses (a timeout out of range; an ingest subscriber that is no subscriber)
    refused = {"Subscriber1VisibilityTimeout": "99999", "IngestSubscriber": "nobody"}
    params = parameters_for(three_subscribers()) | refused
    cfn, sqs = moto.client("cloudformation"), moto.client("sqs")
    # WHEN they are sent to moto directly, without the kit's check
    source = template_source(_Clients(moto.session, moto.endpoint, REGION), TEMPLATE.read_text(), "unchecked")
    cfn.create_stack(StackName="unchecked", **source, Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                     Tags=[{"Key": "team", "Value": "docs"}])
    # THEN moto creates the stack anyway, and its resources lack the stack's tags: why the kit checks parameters itself
    assert cfn.describe_stacks(StackName="unchecked")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    url = sqs.get_queue_url(QueueName="idp-kit-ingest")["QueueUrl"]
    assert "team" not in sqs.list_queue_tags(QueueUrl=url).get("Tags", {})


def aws_shaped_event(*object_keys: str) -> dict:
    "An S3 event as AWS sends it (the documented fixture), naming `object_keys` (AWS leaves '/' unencoded)."
    record = json.loads((FIXTURES / "events" / "s3_event_versioned_multiple_records.json").read_text())["Records"][0]
    named = lambda k: {**record, "s3": {**record["s3"], "object": {**record["s3"]["object"], "key": k}}}
    return {"Records": [named(k) for k in object_keys]}


@pytest.mark.slow
def test_events_fan_out_through_the_stack_and_deleting_it_leaves_nothing(moto):
    # GIVEN the three-subscriber stack deployed on moto, moto's gaps filled from the template
    dep = deploy_cloudformation(three_subscribers(force_destroy=True), moto.session, moto.endpoint, "fanout", REGION)
    left = {g.split(" (")[0] for g in dep.moto_gaps_not_filled}
    assert left == {"BucketPolicy: AWS::S3::BucketPolicy", *(f"{t}: AWS::DynamoDB::Table.SSESpecification"
                                                             for t in ("StatusTable", "ApiKeysTable", "IdempotencyTable"))}
    # AND the template went by TemplateURL: staged in the deployment bucket, byte for byte the committed file
    assert dep.template_url.startswith(f"https://{DEPLOYMENT_BUCKET}.s3.{REGION}.amazonaws.com/fanout/")
    staged = moto.client("s3").get_object(Bucket=DEPLOYMENT_BUCKET, Key=dep.template_url.split(".amazonaws.com/", 1)[1])
    assert staged["Body"].read() == TEMPLATE.read_bytes()
    queues, s3, sqs = dep.queues(), moto.client("s3"), moto.client("sqs")
    assert list(queues) == ["idp-kit-ingest", "idp-kit-audit", "idp-kit-invoices"]
    assert all(q["subscription_arn"] for q in queues.values())
    # WHEN documents land under the watched prefix (two invoices, one other) and one outside it
    inside = ["incoming/invoices/inv 001.pdf", "incoming/invoices/inv-002.pdf", "incoming/letters/letter.docx"]
    for key in inside + ["outgoing/report.pdf"]:
        s3.put_object(Bucket=dep.outputs["BucketName"], Key=key, Body=b"%PDF-1.4")
    # THEN the unfiltered subscribers get every document under the prefix, in either envelope, and nothing else
    audit = receive(sqs, queues["idp-kit-audit"]["url"], len(inside))
    assert keys(audit) == sorted(inside)
    assert keys(receive(sqs, queues["idp-kit-ingest"]["url"], len(inside))) == sorted(inside)
    # AND the filtered one exactly the invoices (event keys as AWS writes them: form-encoded, '/' kept), no test event
    sent = [r["s3"]["object"]["key"] for b in audit for r in b.get("Records", [])]
    assert "incoming/invoices/inv-002.pdf" in sent and "incoming/invoices/inv+001.pdf" in sent
    assert keys(receive(sqs, queues["idp-kit-invoices"]["url"], 2)) == ["incoming/invoices/inv 001.pdf", "incoming/invoices/inv-002.pdf"]
    # WHEN one of them is deleted (its only version, deleted for good: ObjectRemoved:Delete)
    letter = "incoming/letters/letter.docx"
    only = s3.list_object_versions(Bucket=dep.outputs["BucketName"], Prefix=letter)["Versions"][0]["VersionId"]
    s3.delete_object(Bucket=dep.outputs["BucketName"], Key=letter, VersionId=only)
    # THEN the ingest queue gets its removal, as the job reads it: the notification holds both NOTIFICATION_EVENTS
    refs = [ref for b in receive(sqs, queues["idp-kit-ingest"]["url"], 1) for ref in decode_body(b).refs]
    assert [(ref.event_name, ref.key) for ref in refs] == [("ObjectRemoved:Delete", letter)]
    # WHEN S3 events as AWS sends them are published to the topic (one of them a two-record message)
    sns = moto.client("sns")
    for event in (aws_shaped_event("incoming/invoices/inv-003.pdf"), aws_shaped_event("incoming/letters/a.pdf"),
                  aws_shaped_event("incoming/letters/b.pdf", "incoming/invoices/inv-004.pdf")):
        sns.publish(TopicArn=dep.outputs["TopicArn"], Message=json.dumps(event))
    # THEN moto's SNS applies the body filter through the Records list: the filtered queue gets exactly the messages
    # with an invoice among their records (the two-record message whole), the unfiltered ones all three
    invoices = keys(receive(sqs, queues["idp-kit-invoices"]["url"], 3))
    assert invoices == ["incoming/invoices/inv-003.pdf", "incoming/invoices/inv-004.pdf", "incoming/letters/b.pdf"]
    assert len(keys(receive(sqs, queues["idp-kit-ingest"]["url"], 4))) == 4
    # WHEN the stack is deleted (emptying the versioned bucket, as force_destroy does)
    removed = delete_cloudformation(moto.session, moto.endpoint, "fanout", REGION, empty_bucket=True)
    # THEN nothing of it is left: bucket, topics, subscriptions, queues, tables, role, alarms, stack; the deployment
    # bucket stays (stacks share it, and it holds what was deployed)
    assert "Subscription3: AWS::SNS::Subscription" in removed and "DlqDepthAlarm3: AWS::CloudWatch::Alarm" in removed
    assert "CallbackSubscription: AWS::SNS::Subscription" in removed and "CallbackDlqDepthAlarm: AWS::CloudWatch::Alarm" in removed
    assert {k: v for k, v in moto.leftovers().items() if v} == {}
    assert [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]] == [DEPLOYMENT_BUCKET]


@pytest.mark.slow
def test_the_settings_output_configures_the_kit(moto, monkeypatch):
    # GIVEN a deployed stack's IdpKitSettings output as the environment
    dep = deploy_cloudformation(three_subscribers(), moto.session, moto.endpoint, "settings", REGION)
    for k, v in dep.settings().items(): monkeypatch.setenv(k, v)
    # WHEN the kit reads its settings; THEN they name the stack's bucket, queues and table
    s = Settings()
    assert (s.bucket, s.ingest_queue) == ("idp-kit-landing", "idp-kit-ingest")
    assert s.status_table == "idp-kit-document-status"
    assert (s.api_keys_table, s.idempotency_table, s.completion_topic) == ("idp-kit-api-keys", "idp-kit-idempotency",
                                                                           "idp-kit-document-completed")
    assert s.subscriber_queues == ("idp-kit-ingest", "idp-kit-audit", "idp-kit-invoices")
    url = dep.queues()["idp-kit-ingest"]["url"]
    assert dep.settings()["IDP_INGEST_QUEUE_URL"] == dep.outputs["IngestQueueUrl"] == url


@pytest.mark.slow
def test_deleting_a_stack_whose_bucket_holds_objects_is_refused(moto):
    # GIVEN a deployed stack with a document in its bucket
    deploy_cloudformation(three_subscribers(), moto.session, moto.endpoint, "full", REGION)
    moto.client("s3").put_object(Bucket="idp-kit-landing", Key="incoming/a.pdf", Body=b"x")
    # WHEN it is deleted without emptying the bucket
    with pytest.raises(ValueError, match="still holds objects.*empty_bucket=True"):
        delete_cloudformation(moto.session, moto.endpoint, "full", REGION)
    # THEN the kit refuses before deleting anything (moto would keep the bucket and report DELETE_COMPLETE)
    stack = moto.client("cloudformation").describe_stacks(StackName="full")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.slow
def test_the_stack_is_the_boto3_provisioners_but_for_named_differences(moto):
    # GIVEN one spec (no stack tags: moto does not propagate them) deployed by CloudFormation on moto, gaps filled,
    # and by the boto3 provisioner on a moto of its own (another process: moto's state is per process)
    spec = three_subscribers(bucket_require_tls=False).model_copy(update={"tags": {}})
    dep = deploy_cloudformation(spec, moto.session, moto.endpoint, "compared", REGION)
    with LocalStack(provision=False) as other:
        provision(other.settings, session=other.boto3_session(), spec=spec)
        differences = describe_stack(spec, moto.session, other.settings).differences(describe_stack(spec, moto.session, moto.endpoint))
    # THEN they differ only where the template says less, or moto cannot follow it: the alarms' descriptions (left out
    # of the template), the notification's id (CloudFormation has no Id for it: AWS generates one) and the tables'
    # encryption (MOTO_NOT_FILLED); the API's tables, owner index, completion topic, callback queue and subscription,
    # and the job's policies are the same setting by setting
    fields = {d.split(": ")[0] for d in differences}
    named = {f"alarms.{a}.alarm.AlarmDescription" for a in alarm_names(spec)} | {"bucket.notifications.TopicConfigurations[0].Id"}
    unencrypted = {f"tables.{t}.table.SSEDescription.{k}" for t in ("idp-kit-document-status", "idp-kit-api-keys", "idp-kit-idempotency")
                   for k in ("KMSMasterKeyArn", "SSEType", "Status")}
    assert fields == named | unencrypted, sorted(fields ^ (named | unencrypted))
    # AND the callback queue gets exactly the completions that ask for a callback, raw
    sns, sqs = moto.client("sns"), moto.client("sqs")
    for doc, flag in (("a", "true"), ("b", "false")):
        sns.publish(TopicArn=dep.outputs["CompletionTopicArn"], Message=json.dumps({"document_id": doc}),
                    MessageAttributes={"has_callback": {"DataType": "String", "StringValue": flag}})
    got = sqs.receive_message(QueueUrl=dep.outputs["CompletionCallbackQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [json.loads(m["Body"]) for m in got.get("Messages", [])] == [{"document_id": "a"}]


@pytest.mark.slow
def test_the_api_functions_deploy_with_their_roles_and_event_source_and_the_http_api_is_a_listed_gap(moto, tmp_path):
    # GIVEN the stack with the API's compute deployed on moto (the zip uploaded beside the template), gaps filled
    spec = with_the_api(tmp_path, force_destroy=True, callbacks_batch_size=4)
    dep = deploy_cloudformation(spec, moto.session, moto.endpoint, "api", REGION)
    # THEN the three functions run their handlers, as their own roles, with the stack's settings (the secret where it signs)
    lam, iam = moto.client("lambda"), moto.client("iam")
    settings = dep.settings()
    for function, logical in (("api", "ApiFunction"), ("authorizer", "AuthorizerFunction"), ("callbacks", "CallbacksFunction")):
        config = lam.get_function(FunctionName=dep.outputs[f"{logical}Name"])["Configuration"]
        assert (config["Handler"], config["Runtime"], config["Role"]) == (LAMBDA_HANDLERS[function], "python3.12",
                                                                          dep.outputs[f"{logical}RoleArn"])
        env = {k: str(v) for k, v in config["Environment"]["Variables"].items()}  # moto keeps a Number parameter a number
        assert {k: env[k] for k in settings} == settings and ("IDP_API_SIGNING_SECRET" in env) == (function != "authorizer")
        assert json.loads(env["IDP_API_ROUTES"]) == ["default"]
    # AND each role holds exactly the policies rendered from the templates (moto's null for an unused slot filled)
    arn = lambda kind, name: f"arn:aws:{kind}:{REGION}:123456789012:{name}"
    tables = {t: arn("dynamodb", f"table/{n}") for t, n in (("status_table", "idp-kit-document-status"),
                                                           ("api_keys_table", "idp-kit-api-keys"), ("idempotency_table", "idp-kit-idempotency"))}
    logs = lambda name: lambda_logs_policy(arn("logs", f"log-group:/aws/lambda/{name}"))
    wanted = {"idp-kit-api": {"idp-kit-api-function": api_function_policy(spec, tables | {"ingest_queue": arn("sqs", "idp-kit-ingest")}),
                              "idp-kit-api-logs": logs("idp-kit-api")},
              "idp-kit-api-authorizer": {"idp-kit-authorizer-function": authorizer_function_policy(tables["api_keys_table"]),
                                         "idp-kit-authorizer-logs": logs("idp-kit-api-authorizer")},
              "idp-kit-api-callbacks": {"idp-kit-callbacks-function": callbacks_function_policy(
                  tables["status_table"], dep.outputs["CompletionCallbackQueueArn"]), "idp-kit-callbacks-logs": logs("idp-kit-api-callbacks")}}
    for role, policies in wanted.items():
        assert {p: iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
                for p in iam.list_role_policies(RoleName=role)["PolicyNames"]} == policies
    # AND the callback queue feeds the deliverer, reporting partial failures
    mapping, = lam.list_event_source_mappings()["EventSourceMappings"]
    assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["FunctionResponseTypes"]) == (
        dep.outputs["CompletionCallbackQueueArn"], 4, ["ReportBatchItemFailures"])
    found = moto.client("logs").describe_log_groups()["logGroups"]
    groups = {g["logGroupName"]: int(g["retentionInDays"]) for g in found}  # moto answers the parameter's text, "30"
    assert groups == {g: 30 for g in ("/aws/lambda/idp-kit-api", "/aws/lambda/idp-kit-api-authorizer",
                                      "/aws/lambda/idp-kit-api-callbacks", "/aws/apigateway/idp-kit-api")}
    # AND the zip went to the deployment bucket, under its SHA-256
    code = moto.client("s3").list_objects_v2(Bucket=DEPLOYMENT_BUCKET, Prefix="api/idp_kit_lambda-")["Contents"]
    assert len(code) == 1 and code[0]["Size"] == Path(spec.lambda_zip_path).stat().st_size
    # AND what moto's CloudFormation cannot make is listed, not hidden: the HTTP API, the invoke permissions, the log config
    left = {g.split(" (")[0] for g in dep.moto_gaps_not_filled}
    http_api = {"HttpApi: AWS::ApiGatewayV2::Api", "ApiIntegration: AWS::ApiGatewayV2::Integration",
                "ApiKeyAuthorizer: AWS::ApiGatewayV2::Authorizer", "ProxyRoute: AWS::ApiGatewayV2::Route",
                "OpenApiRoute: AWS::ApiGatewayV2::Route", "ApiStage: AWS::ApiGatewayV2::Stage",
                "ApiPermission: AWS::Lambda::Permission", "AuthorizerPermission: AWS::Lambda::Permission",
                *(f"{f}: AWS::Lambda::Function.LoggingConfig" for f in ("ApiFunction", "AuthorizerFunction", "CallbacksFunction"))}
    assert http_api <= left
    # WHEN the stack is deleted THEN nothing of it is left, the functions, their roles and log groups included
    delete_cloudformation(moto.session, moto.endpoint, "api", REGION, empty_bucket=True)
    assert {k: v for k, v in moto.leftovers().items() if v} == {}
