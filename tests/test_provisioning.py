"""The boto3 provisioner against moto: it deploys the whole spec, a second run changes nothing, drift is converged,
the wiring delivers (with filters), and the inventory compares deployments and finds leftovers."""
from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from urllib.parse import unquote_plus

import boto3
import pytest

from idp_kit.infra_spec import (IngestionStackSpec, SubscriberSpec, callback_queue_name, databricks_job_completion_policy,
                                databricks_job_kms_policy, databricks_job_policy, spec_from_settings)
from idp_kit.inventory import describe_stack, leftovers
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.provisioning import (JOB_COMPLETION_POLICY, JOB_KMS_POLICY, JOB_POLICY, PUBLIC_ACCESS_BLOCK, SELF_ASSUME_POLICY,
                                  alarm_names, bucket_policy, provision, role_trust_policy)
from idp_kit.settings import Settings, aws_client

PDF_FILTER = {"Records": {"s3": {"object": {"key": [{"suffix": ".pdf"}]}}}}
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def moto():
    "Settings pointing at a fresh in-process moto server (in-process servers share one state: it is reset first)."
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server, endpoint = start_moto()
    yield Settings(aws_endpoint_url=endpoint, bucket="prov-test", status_table="prov-status")
    stop_moto(server)


@pytest.fixture
def moto_processes():
    "Start moto servers in processes of their own (independent state); all stopped at the end."
    procs: list[subprocess.Popen] = []

    def start() -> Settings:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        procs.append(subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and procs[-1].poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5): return Settings(aws_endpoint_url=f"http://127.0.0.1:{port}")
            except OSError: time.sleep(0.1)
        pytest.fail(f"moto did not start on port {port}")
    yield start
    for p in procs: p.terminate(); p.wait(10)


def full_spec(settings: Settings, **overrides) -> IngestionStackSpec:
    "Three subscribers (one raw and filtered to PDFs), the role, suffixes, an alarm topic, tags."
    subs = {"idp-kit-ingest": SubscriberSpec(), "idp-kit-audit": SubscriberSpec(visibility_timeout_seconds=60, max_receive_count=2),
            "pdfs": SubscriberSpec(filter_policy=PDF_FILTER, raw_message_delivery=True, message_retention_seconds=3600)}
    return spec_from_settings(settings, **({"databricks_external_id": "acct", "sqs_subscribers": subs, "watched_suffixes": (".pdf", ".txt"),
                                            "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:alarms", "tags": {"env": "test"},
                                            "noncurrent_version_expiration_days": 9, "abort_incomplete_multipart_upload_days": 2} | overrides))


# Everything the spec names ---------------------------------------------------------------------------------------

def test_provision_deploys_every_resource_of_the_spec(moto, session):
    # GIVEN a spec using every option, KMS keys included
    spec = full_spec(moto, bucket_kms_key_arn=KEY, topic_kms_master_key_id="alias/idp-kit", status_table_kms_key_arn=KEY)
    # WHEN it is provisioned
    res = provision(moto, session=session, spec=spec)
    inv = describe_stack(spec, session, moto)
    # THEN the bucket is versioned, SSE-KMS with a bucket key, private, with both lifecycle rules and one notification per suffix
    b = inv.bucket
    assert b.versioning == {"Status": "Enabled"} and b.public_access_block == PUBLIC_ACCESS_BLOCK
    assert b.encryption == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY.replace(
        "us-east-1", "{region}").replace("123456789012", "{account}")}, "BucketKeyEnabled": True}]
    assert {r["ID"]: r for r in b.lifecycle["Rules"]}["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 9}
    assert {r["ID"]: r for r in b.lifecycle["Rules"]}["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert [[r["Value"] for r in n["Filter"]["Key"]["FilterRules"]] for n in b.notifications["TopicConfigurations"]] == \
        [["incoming/", ".pdf"], ["incoming/", ".txt"]]
    assert b.tags == {"idp-kit": "ingestion", "env": "test"}
    # AND the topic is encrypted; queues are SSE with the subscriber's timings, DLQs keep dead letters 14 days
    assert inv.topic.attributes["KmsMasterKeyId"] == "alias/idp-kit"
    audit, pdfs_dlq = inv.queues["idp-kit-audit"].attributes, inv.queues["pdfs-dlq"].attributes
    assert (audit["VisibilityTimeout"], audit["RedrivePolicy"]["maxReceiveCount"], audit["SqsManagedSseEnabled"]) == ("60", 2, "true")
    assert (inv.queues["pdfs"].attributes["MessageRetentionPeriod"], pdfs_dlq["MessageRetentionPeriod"]) == ("3600", "1209600")
    # AND the subscriptions carry raw delivery and the filter with its scope
    subs = {s.attributes["Endpoint"].rsplit(":", 1)[-1]: s.attributes for s in inv.subscriptions}
    assert (subs["pdfs"]["RawMessageDelivery"], subs["pdfs"]["FilterPolicy"], subs["pdfs"]["FilterPolicyScope"]) == ("true", PDF_FILTER, "MessageBody")
    assert "FilterPolicy" not in subs["idp-kit-ingest"] and subs["idp-kit-ingest"]["RawMessageDelivery"] == "false"
    # AND the status table: on demand, PITR, TTL, the spec's KMS key, the owner index over every attribute
    t, key = inv.tables["prov-status"], KEY.replace("us-east-1", "{region}").replace("123456789012", "{account}")
    assert t.table["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST"}
    assert t.continuous_backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert t.ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert t.table["SSEDescription"]["KMSMasterKeyArn"] == key
    (index,) = t.table["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["Projection"]) == ("owner-created_at-index", {"ProjectionType": "ALL"})
    assert index["KeySchema"] == [{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "created_at", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in t.table["AttributeDefinitions"]} == {"document_id": "S", "owner": "S", "created_at": "S"}
    # AND the API keys table (PITR as the status table) and the idempotency table (none), keyed and expiring as the API expects
    keys, idem = inv.tables["idp-kit-api-keys"], inv.tables["idp-kit-idempotency"]
    assert (keys.table["KeySchema"], keys.ttl["AttributeName"]) == ([{"AttributeName": "key_hash", "KeyType": "HASH"}], "expires_at")
    assert (idem.table["KeySchema"], idem.ttl["AttributeName"]) == ([{"AttributeName": "id", "KeyType": "HASH"}], "expiration")
    recovery = lambda x: x.continuous_backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert (recovery(keys), recovery(idem)) == ("ENABLED", "DISABLED")
    assert {x.table["SSEDescription"]["KMSMasterKeyArn"] for x in (keys, idem)} == {key}
    assert {x.table["BillingModeSummary"]["BillingMode"] for x in (keys, idem)} == {"PAY_PER_REQUEST"}
    # AND the completion topic (AWS managed key) with its callback queue: raw, filtered on has_callback, with a DLQ
    assert inv.completion_topic.attributes["KmsMasterKeyId"] == "alias/aws/sns"
    callbacks = res.callback_queue
    assert (callbacks.name, callbacks.dlq_name) == ("idp-kit-document-completed-callbacks", "idp-kit-document-completed-callbacks-dlq")
    cb = subs["idp-kit-document-completed-callbacks"]
    assert (cb["RawMessageDelivery"], cb["FilterPolicy"], cb["FilterPolicyScope"]) == ("true", {"has_callback": ["true"]}, "MessageAttributes")
    assert cb["TopicArn"] == "arn:aws:sns:{region}:{account}:idp-kit-document-completed" == res.completion_topic_arn.replace(
        "us-east-1", "{region}").replace("123456789012", "{account}")
    q = inv.queues[callbacks.name].attributes
    assert (q["RedrivePolicy"]["deadLetterTargetArn"], q["SqsManagedSseEnabled"], q["MaximumMessageSize"]) == (
        "arn:aws:sqs:{region}:{account}:idp-kit-document-completed-callbacks-dlq", "true", "262144")
    assert q["Policy"]["Statement"][0]["Condition"] == {"ArnEquals": {"aws:sourcearn": [cb["TopicArn"]]}}
    assert res.api_keys_table_arn.endswith(":table/idp-kit-api-keys") and res.idempotency_table_arn.endswith(":table/idp-kit-idempotency")
    # AND the alarms, two per subscriber, notify the alarm topic
    assert sorted(inv.alarms) == sorted(alarm_names(spec)) and res.alarm_names == tuple(alarm_names(spec))
    assert {a.alarm["AlarmActions"][0] for a in inv.alarms.values()} == {"arn:aws:sns:{region}:{account}:alarms"}
    assert res.bucket_arn == "arn:aws:s3:::prov-test" and res.status_table_arn.endswith(":table/prov-status")


def test_the_role_holds_exactly_the_templated_policy(moto, session):
    # GIVEN a spec with the role and a bucket key
    spec = full_spec(moto, bucket_kms_key_arn=KEY)
    res = provision(moto, session=session, spec=spec)
    iam = aws_client(moto, "iam", session)
    # THEN its inline policies are the rendered templates, exactly, and nothing is attached
    arns = [res.queue(q).arn for q in sorted(spec.sqs_subscribers)]
    assert iam.get_role_policy(RoleName=spec.databricks_role_name, PolicyName=JOB_POLICY)["PolicyDocument"] == \
        databricks_job_policy(spec, arns, res.status_table_arn)
    assert iam.get_role_policy(RoleName=spec.databricks_role_name, PolicyName=JOB_COMPLETION_POLICY)["PolicyDocument"] == \
        databricks_job_completion_policy(spec, res.completion_topic_arn)
    assert iam.get_role_policy(RoleName=spec.databricks_role_name, PolicyName=JOB_KMS_POLICY)["PolicyDocument"] == \
        databricks_job_kms_policy(spec, "us-east-1")
    assert sorted(iam.list_role_policies(RoleName=spec.databricks_role_name)["PolicyNames"]) == \
        sorted([JOB_POLICY, JOB_KMS_POLICY, JOB_COMPLETION_POLICY, SELF_ASSUME_POLICY])
    assert iam.list_attached_role_policies(RoleName=spec.databricks_role_name)["AttachedPolicies"] == []
    # AND the trust admits Databricks' principal with the external id, and the role itself
    role = iam.get_role(RoleName=spec.databricks_role_name)["Role"]
    assert role["AssumeRolePolicyDocument"] == role_trust_policy(spec, "123456789012") and role["Arn"] == res.role_arn
    # WHEN the spec drops the bucket key and the completion topic THEN the KMS and completion policies go
    changes = provision(moto, session=session, spec=full_spec(moto, completion_topic_name=None)).changes
    assert f"deleted policy {JOB_KMS_POLICY} from role {spec.databricks_role_name}" in changes
    assert f"deleted policy {JOB_COMPLETION_POLICY} from role {spec.databricks_role_name}" in changes


def test_without_a_spec_the_settings_name_the_stack_and_no_role_is_made(moto, session):
    res = provision(moto, session=session)
    assert (res.role_arn, res.bucket, res.status_table, [q.name for q in res.queues]) == (None, "prov-test", "prov-status",
                                                                                          ["idp-kit-ingest", "idp-kit-audit"])
    assert res.ingest_queue == "idp-kit-ingest"


# Idempotence and drift ------------------------------------------------------------------------------------------------

def test_a_second_run_changes_nothing(moto, session):
    spec = full_spec(moto)
    first = provision(moto, session=session, spec=spec)
    assert first.changes
    again = provision(moto, session=session, spec=spec)
    assert again.changes == ()
    assert again == first.model_copy(update={"changes": ()})


def test_drift_is_converged_and_listed(moto, session):
    # GIVEN a deployed stack, then changed behind the provisioner's back
    spec = full_spec(moto)
    res = provision(moto, session=session, spec=spec)
    s3, sns, ddb = (aws_client(moto, s, session) for s in ("s3", "sns", "dynamodb"))
    iam, cw = aws_client(moto, "iam", session), aws_client(moto, "cloudwatch", session)
    s3.delete_public_access_block(Bucket="prov-test")
    s3.delete_bucket_lifecycle(Bucket="prov-test")
    s3.put_bucket_notification_configuration(Bucket="prov-test", NotificationConfiguration={})
    sns.set_topic_attributes(TopicArn=res.topic_arn, AttributeName="Policy", AttributeValue=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish", "Resource": res.topic_arn}]}))
    sns.set_subscription_attributes(SubscriptionArn=res.queue("pdfs").subscription_arn, AttributeName="FilterPolicy", AttributeValue="")
    ddb.update_continuous_backups(TableName="prov-status", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    iam.put_role_policy(RoleName=spec.databricks_role_name, PolicyName=JOB_POLICY, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    cw.put_metric_alarm(**{**alarm_kwargs(cw, "pdfs-dlq-depth"), "Threshold": 50.0})
    sns.tag_resource(ResourceArn=res.topic_arn, Tags=[{"Key": "idp-kit", "Value": "other"}])
    # WHEN provisioned again THEN each drift is put back, and said
    fixed = provision(moto, session=session, spec=spec)
    assert sorted(fixed.changes) == sorted([
        "blocked public access to prov-test", "set lifecycle rules of prov-test", "set topic policy",
        "set notification idp-kit-object-created.pdf, idp-kit-object-created.txt on prov-test (S3 sends s3:TestEvent)",
        "set FilterPolicyScope of the subscription of pdfs", "set FilterPolicy of the subscription of pdfs",  # moto drops the scope too
        "enabled point-in-time recovery of table prov-status",
        f"put policy {JOB_POLICY} on role {spec.databricks_role_name}", "updated alarm pdfs-dlq-depth",
        "set tags of topic idp-kit-object-created: ['idp-kit']"])
    # AND a third run finds nothing to do, and the inventory is the one of a fresh deployment
    assert provision(moto, session=session, spec=spec).changes == ()


def alarm_kwargs(cw, name: str) -> dict:
    "The `put_metric_alarm` arguments that recreate alarm `name` as it is."
    a = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    keys = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions", "MetricName",
            "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData")
    return {k: a[k] for k in keys if k in a}


def test_other_notification_entries_of_the_bucket_are_kept(moto, session):
    # GIVEN a bucket whose notification configuration already has someone else's entry
    provision(moto, session=session)
    s3, sns = aws_client(moto, "s3", session), aws_client(moto, "sns", session)
    theirs = {"Id": "theirs", "TopicArn": sns.create_topic(Name="theirs")["TopicArn"], "Events": ["s3:ObjectRemoved:*"],
              "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "exports/"}]}}}  # AWS refuses entries that overlap ours
    config = s3.get_bucket_notification_configuration(Bucket="prov-test")
    config.pop("ResponseMetadata")
    s3.put_bucket_notification_configuration(Bucket="prov-test", NotificationConfiguration={
        "TopicConfigurations": config["TopicConfigurations"] + [theirs]})
    # WHEN the spec changes our entries THEN theirs stays
    provision(moto, session=session, spec=spec_from_settings(moto, create_databricks_role=False, watched_suffixes=(".pdf",)))
    ids = [c["Id"] for c in s3.get_bucket_notification_configuration(Bucket="prov-test")["TopicConfigurations"]]
    assert sorted(ids) == ["idp-kit-object-created.pdf", "theirs"]


# Plain HTTP and the TLS-only policy -------------------------------------------------------------------------------------

def test_the_tls_only_policy_is_skipped_on_plain_http_because_it_refuses_everything_there(moto, session):
    # GIVEN the stack the settings name on moto (an emulator endpoint: the spec leaves the TLS-only policy out)
    res = provision(moto, session=session)
    assert "TLS-only policy of bucket prov-test: bucket_require_tls is false (the endpoint is plain HTTP)" in res.skipped
    s3 = aws_client(moto, "s3", session)
    s3.put_object(Bucket="prov-test", Key="incoming/ok.txt", Body=b"ok")
    # WHEN the TLS-only policy is put anyway THEN every object request is refused: the local stack would be unusable
    s3.put_bucket_policy(Bucket="prov-test", Policy=json.dumps(bucket_policy(spec_from_settings(moto, create_databricks_role=False))))
    with pytest.raises(Exception, match="403|Forbidden|AccessDenied"): s3.put_object(Bucket="prov-test", Key="incoming/x.txt", Body=b"x")
    with pytest.raises(Exception, match="403|Forbidden|AccessDenied"): s3.get_object(Bucket="prov-test", Key="incoming/ok.txt")


# The wiring delivers ------------------------------------------------------------------------------------------------------

def drain(sqs, url: str) -> list[dict]:
    "Every message body in `url`, unwrapped from the SNS envelope when there is one."
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        bodies = [json.loads(m["Body"]) for m in msgs]
        out += [json.loads(b["Message"]) if b.get("Type") == "Notification" else b for b in bodies]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out


def test_uploads_reach_the_subscribers_they_should_and_no_other(moto, session):
    # GIVEN the full spec: suffixes .pdf and .txt watched; "pdfs" filtered to PDFs, raw
    res = provision(moto, session=session, spec=full_spec(moto))
    s3, sqs = aws_client(moto, "s3", session), aws_client(moto, "sqs", session)
    # WHEN objects arrive inside and outside the prefix, with watched and unwatched suffixes
    for key in ("incoming/a.pdf", "incoming/b.txt", "incoming/c.docx", "outside/d.pdf"): s3.put_object(Bucket="prov-test", Key=key, Body=b"x")
    # THEN each subscriber sees the watched ones its filter admits; the raw subscriber gets the S3 event itself
    got = {q.name: sorted(unquote_plus(r["s3"]["object"]["key"]) for b in drain(sqs, q.url) for r in b.get("Records", [])) for q in res.queues}
    assert got == {"idp-kit-ingest": ["incoming/a.pdf", "incoming/b.txt"], "idp-kit-audit": ["incoming/a.pdf", "incoming/b.txt"],
                   "pdfs": ["incoming/a.pdf"]}


def test_only_completions_with_a_callback_reach_the_callback_queue(moto, session):
    # GIVEN the stack with its completion topic
    res = provision(moto, session=session, spec=full_spec(moto))
    sns, sqs = aws_client(moto, "sns", session), aws_client(moto, "sqs", session)
    # WHEN the pipeline announces three finished documents: with a callback, without, and without saying
    flag = lambda v: {"has_callback": {"DataType": "String", "StringValue": v}}
    for doc, attributes in (("a", flag("true")), ("b", flag("false")), ("c", {})):
        sns.publish(TopicArn=res.completion_topic_arn, Message=json.dumps({"document_id": doc}), MessageAttributes=attributes)
    # THEN the callback queue holds only the first, as published (raw delivery: no SNS envelope)
    assert drain(sqs, res.callback_queue.url) == [{"document_id": "a"}]


def test_without_a_completion_topic_there_is_no_callback_queue_nor_publish_policy(moto, session):
    # GIVEN the settings saying there is no completion topic ("" in IDP_COMPLETION_TOPIC)
    spec = spec_from_settings(moto.replace(completion_topic=""), databricks_external_id="acct")
    # WHEN provisioned THEN the tables are there, but no completion topic, callback queue, alarm or publish policy
    res = provision(moto, session=session, spec=spec)
    assert (res.completion_topic_arn, res.callback_queue, spec.completion_topic_name) == (None, None, None)
    assert not [a for a in res.alarm_names if "completed" in a] and res.api_keys_table_arn
    policies = aws_client(moto, "iam", session).list_role_policies(RoleName=spec.databricks_role_name)["PolicyNames"]
    assert JOB_COMPLETION_POLICY not in policies and JOB_POLICY in policies
    assert aws_client(moto, "sns", session).list_topics()["Topics"] == [{"TopicArn": res.topic_arn}]
    assert describe_stack(spec, session, moto).completion_topic is None


# The inventory -------------------------------------------------------------------------------------------------------------

def test_two_deployments_of_one_spec_have_equal_inventories(moto_processes, session):
    # GIVEN two moto servers with independent state, and one spec deployed on each
    a, b = moto_processes(), moto_processes()
    spec = full_spec(a)
    for target in (a, b): provision(target, session=session, spec=spec)
    # THEN their inventories are equal, although generated ids differ between them
    ia, ib = describe_stack(spec, session, a), describe_stack(spec, session, b)
    assert ia.differences(ib) == [] and ia == ib
    sub_arns = [{s["SubscriptionArn"] for s in aws_client(t, "sns", session).list_subscriptions()["Subscriptions"]} for t in (a, b)]
    assert not sub_arns[0] & sub_arns[1]
    # WHEN one of them drifts THEN the difference is listed with its path and both values
    sqs = aws_client(b, "sqs", session)
    sqs.set_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="idp-kit-audit")["QueueUrl"], Attributes={"VisibilityTimeout": "61"})
    diff = describe_stack(spec, session, b).differences(ia)
    assert "queues.idp-kit-audit.attributes.VisibilityTimeout: '61' != '60'" in diff


def test_the_inventory_sees_what_the_spec_does_not_name(moto, session):
    # GIVEN a deployment, plus an extra subscription to its topic and an extra alarm on one of its queues
    spec = full_spec(moto)
    res = provision(moto, session=session, spec=spec)
    before = describe_stack(spec, session, moto)
    sqs, sns, cw = aws_client(moto, "sqs", session), aws_client(moto, "sns", session), aws_client(moto, "cloudwatch", session)
    extra = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="extra")["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=res.topic_arn, Protocol="sqs", Endpoint=extra)
    cw.put_metric_alarm(AlarmName="extra-alarm", Namespace="AWS/SQS", MetricName="NumberOfMessagesSent", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
                        Dimensions=[{"Name": "QueueName", "Value": "idp-kit-ingest"}])
    # THEN both show as differences
    diff = describe_stack(spec, session, moto).differences(before)
    assert any(d.startswith("subscriptions[0].attributes.Endpoint: 'arn:aws:sqs:{region}:{account}:extra'") for d in diff), diff
    assert any(d.startswith("alarms.extra-alarm.alarm.AlarmName: 'extra-alarm' != '<absent>'") for d in diff), diff


def teardown(spec: IngestionStackSpec, settings: Settings, session: boto3.Session) -> None:
    "Delete everything `spec` names (a test's stand-in for `terraform destroy`)."
    s3, sns, sqs = (aws_client(settings, s, session) for s in ("s3", "sns", "sqs"))
    ddb, iam, cw = (aws_client(settings, s, session) for s in ("dynamodb", "iam", "cloudwatch"))
    versions = s3.list_object_versions(Bucket=spec.bucket_name)
    for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        s3.delete_object(Bucket=spec.bucket_name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=spec.bucket_name)
    for topic in (spec.topic_name, spec.completion_topic_name):
        sns.delete_topic(TopicArn=f"arn:aws:sns:us-east-1:123456789012:{topic}")
    for q in [*spec.sqs_subscribers, callback_queue_name(spec)]:
        for name in (q, q + spec.dlq_suffix): sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    for table in (spec.status_table_name, spec.api_keys_table_name, spec.idempotency_table_name): ddb.delete_table(TableName=table)
    for p in iam.list_role_policies(RoleName=spec.databricks_role_name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=spec.databricks_role_name, PolicyName=p)
    iam.delete_role(RoleName=spec.databricks_role_name)
    cw.delete_alarms(AlarmNames=alarm_names(spec))


def test_leftovers_lists_what_remains_and_nothing_after_a_full_teardown(moto, session):
    # GIVEN nothing deployed THEN nothing is left
    spec = full_spec(moto)
    assert leftovers(spec, session, moto) == []
    # WHEN deployed (with an object in the bucket) THEN every resource is listed
    provision(moto, session=session, spec=spec)
    aws_client(moto, "s3", session).put_object(Bucket="prov-test", Key="incoming/a.pdf", Body=b"x")
    left = leftovers(spec, session, moto)
    assert [x.split(" ")[0] for x in left].count("sqs") == 8 and len(left) == 1 + 2 + 4 + 8 + 3 + 1 + 8, left
    assert {x for x in left if x.startswith("dynamodb")} == {"dynamodb table prov-status", "dynamodb table idp-kit-api-keys",
                                                             "dynamodb table idp-kit-idempotency"}
    # WHEN everything but the alarms is torn down THEN the alarms are what is left
    aws_client(moto, "cloudwatch", session).put_metric_alarm(  # an alarm on a spec queue under another name is found too
        AlarmName="renamed", Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold", Dimensions=[{"Name": "QueueName", "Value": "pdfs"}])
    teardown(spec, moto, session)
    assert leftovers(spec, session, moto) == ["cloudwatch alarm renamed"]
