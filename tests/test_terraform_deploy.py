"""The kit's Terraform module applied to moto over HTTP: three subscribers (one filtered on the key prefix), objects put
into the bucket reach exactly the queues they should, completion messages with a callback (and only those) reach the
callback queue, the boto3 provisioner creates the same stack (compared resource by resource, setting by setting: the
API's tables and owner index, the completion topic and callback queue included), and `terraform destroy` leaves nothing. Also the local stack's provisioner choice
(`auto` is Terraform when it is installed, boto3 otherwise, and says so).

One Terraform apply costs about a minute on moto (the AWS provider's own propagation waits: see
docs/terraform_on_moto.md), so this is one scenario with several checks rather than several applies."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import boto3
import pytest

from idp_kit.deployment import choose_provisioner
from idp_kit.events import decode_body
from idp_kit.infra_spec import IngestionStackSpec, SubscriberSpec
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


def three_subscribers() -> IngestionStackSpec:
    return IngestionStackSpec(
        bucket_name="idp-kit-tf-fanout", force_destroy=True, databricks_external_id="test-external-id",
        bucket_require_tls=False,  # moto is served over plain HTTP, where a TLS-only policy refuses every request
        watched_suffixes=(".txt", ".pdf"),  # one notification per suffix
        sqs_subscribers={"idp-kit-ingest": SubscriberSpec(), "idp-kit-audit": SubscriberSpec(raw_message_delivery=True),
                         "idp-kit-invoices": SubscriberSpec(filter_policy=INVOICES_ONLY, max_receive_count=3)})


def clients(endpoint: str) -> dict:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return {s: session.client(s, endpoint_url=endpoint) for s in ("s3", "sns", "sqs", "dynamodb", "iam", "cloudwatch")}


def received(sqs, url: str, want: int, timeout: float = 15.0) -> list[str]:
    "Object keys of the S3 events in queue `url` (test events skipped), received until `want` arrived or `timeout` passed."
    keys, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in msgs:
            keys += [r.ref.key for r in decode_body(m["Body"]).records]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(keys) >= want and not msgs: break
    return sorted(keys)


def test_terraform_fans_out_through_filters_matches_boto3_and_destroys_everything(moto_endpoint, terraform_ready, tmp_path):
    spec, aws = three_subscribers(), clients(moto_endpoint)
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
    # WHEN objects land inside and outside the watched prefix, with watched and other suffixes
    for key in ("incoming/letter.txt", "incoming/invoices/inv 1.pdf", "elsewhere/ignored.txt", "incoming/photo.png"):
        aws["s3"].put_object(Bucket=spec.bucket_name, Key=key, Body=key.encode())
    # THEN every unfiltered subscriber gets both watched objects, the filtered one only the invoice, nobody the rest
    sqs = aws["sqs"]
    assert received(sqs, out["queues"]["idp-kit-ingest"]["url"], 2) == ["incoming/invoices/inv 1.pdf", "incoming/letter.txt"]
    assert received(sqs, out["queues"]["idp-kit-audit"]["url"], 2) == ["incoming/invoices/inv 1.pdf", "incoming/letter.txt"]
    assert received(sqs, out["queues"]["idp-kit-invoices"]["url"], 1) == ["incoming/invoices/inv 1.pdf"]
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
