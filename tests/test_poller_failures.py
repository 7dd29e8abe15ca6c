"""The poller on its failure paths, against a real local stack (moto + Sail): transient fetch errors, partly failed
deletes, poison messages, vanished and oversized objects — and the `idp-kit local up` → `poll` → `local down` path."""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
import subprocess
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import FIXTURES
from idp_kit.local import LocalStack, _listening, _pid_alive
from idp_kit.settings import Settings, aws_client_kwargs
from idp_kit.sqs_batch_ingestion import JobContext, process_micro_batch, run_poller
from idp_kit.sqs_transport import Held, Inbox, QueueRef
from idp_kit.tracking import MessageStatus, ensure_tables, merge_results

pytestmark = pytest.mark.slow

EVENTS = FIXTURES / "events"
FIXTURE_BUCKET = "idp-kit-direct"  # the bucket the direct-to-SQS captures name


# ---------------------------------------------------------------- one stack for the module, a clean queue per test

class Aws:
    "The stack's clients and a few queue helpers."
    def __init__(self, stack: LocalStack) -> None:
        self.stack, self.session = stack, stack.boto3_session()
        kw = aws_client_kwargs(stack.settings)
        self.s3, self.sqs = self.session.client("s3", **kw), self.session.client("sqs", **kw)
        self.bucket, self.stranded = stack.settings.bucket, 0
        self.queue_url = self.sqs.get_queue_url(QueueName=stack.settings.ingest_queue)["QueueUrl"]

    def depth(self) -> int:
        "Messages on the ingest queue, visible or in flight (less any a failed earlier test left in flight)."
        a = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]) - self.stranded

    def drain(self) -> None:
        "Delete every visible message (PurgeQueue is allowed once a minute, in moto as in AWS)."
        self.stranded = 0
        while msgs := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        self.stranded = self.depth()

    def send_fixture_body(self, name: str) -> str:
        "Send the Body of a saved message, its bucket renamed to the stack's; returns the new message id."
        body = json.loads((EVENTS / name).read_text())["Body"].replace(FIXTURE_BUCKET, self.bucket)
        return self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]


@pytest.fixture(scope="module")
def stack():
    with LocalStack(Settings(wait_time_s=0)) as s:  # wait 0: a drained queue ends the run at once
        yield s


@pytest.fixture
def aws(stack) -> Aws:
    a = Aws(stack)
    a.drain()  # the s3:TestEvent from provisioning, and anything a failed test left behind
    return a


def isolated(stack: LocalStack, name: str, **update: Any) -> Settings:
    "Settings with their own schema and their own Delta files (the DDL puts every schema's tables under delta_location)."
    return stack.settings.model_copy(update={"delta_schema": name, "delta_location": f"{stack.settings.delta_location}/{name}", **update})


def rows(stack: LocalStack, sql: str) -> list[dict[str, Any]]:
    return [r.asDict() for r in stack.spark().sql(sql).collect()]


def poll(stack: LocalStack, settings: Settings, session: boto3.Session | None = None):
    return run_poller(settings, stack.spark(), session=session or stack.boto3_session())


def held(settings: Settings, queue_url: str, msg: dict[str, Any]) -> Held:
    "A message as the job holds it."
    return Held(QueueRef(settings.ingest_queue, queue_url), msg, datetime.now(timezone.utc), time.monotonic() + 30)


def context(stack: LocalStack, settings: Settings, s3: Any) -> JobContext:
    return JobContext.create(settings, stack.spark(), s3, str(uuid.uuid4()))


def capture_receipts(session: boto3.Session) -> dict[str, str]:
    "MessageId -> ReceiptHandle of every message clients of `session` receive (boto3's event hooks, no patching)."
    seen: dict[str, str] = {}
    def hook(parsed: dict[str, Any], **_: Any) -> None:
        for m in parsed.get("Messages", []): seen[m["MessageId"]] = m["ReceiptHandle"]
    session.events.register("after-call.sqs.ReceiveMessage", hook)
    return seen


# ---------------------------------------------------------------- transient fetch failures

DENY_GET = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyGet", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::{bucket}/*"}]}


def test_denied_fetch_is_retried_and_later_processed_once(stack, aws):
    settings = isolated(stack, "pf_retry")
    key, body = "incoming/retry me.txt", b"Quarterly report\n\nAll good."
    # GIVEN an upload whose object cannot be read yet (a bucket policy denies s3:GetObject: moto answers 403)
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=body)
    aws.s3.put_bucket_policy(Bucket=aws.bucket, Policy=json.dumps(DENY_GET).replace("{bucket}", aws.bucket))
    session = stack.boto3_session()
    receipts = capture_receipts(session)
    try:
        # WHEN the poller runs
        first = poll(stack, settings, session)
    finally:
        aws.s3.delete_bucket_policy(Bucket=aws.bucket)
    # THEN the record is `retrying`, with the error, and its message is not deleted (it is in flight)
    assert (first.status, first.messages, first.retrying, first.processed, first.deleted) == ("succeeded", 1, 1, 0, 0)
    [row] = rows(stack, f"SELECT message_id, status, error_message, deliveries FROM {settings.delta_schema}.raw_ingestion_metadata")
    assert row["status"] == "retrying" and row["deliveries"] == 1
    assert key in row["error_message"] and ("403" in row["error_message"] or "AccessDenied" in row["error_message"]), row["error_message"]
    assert aws.depth() == 1
    assert rows(stack, f"SELECT * FROM {settings.delta_schema}.document_results") == []

    # WHEN its visibility expires (forced to 0 here) and a healthy run polls again
    aws.sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=receipts[row["message_id"]], VisibilityTimeout=0)
    second = poll(stack, settings)
    # THEN it is processed and acknowledged: one metadata row (error cleared, two deliveries), one result row
    assert (second.status, second.messages, second.processed, second.retrying, second.deleted) == ("succeeded", 1, 1, 0, 1)
    meta = rows(stack, f"SELECT message_id, status, error_code, error_message, deliveries, receive_count FROM {settings.delta_schema}.raw_ingestion_metadata")
    assert meta == [{"message_id": row["message_id"], "status": "processed", "error_code": None, "error_message": None,
                     "deliveries": 2, "receive_count": 2}]
    res = rows(stack, f"SELECT object_key, status, revision_id FROM {settings.delta_schema}.document_results")
    assert res == [{"object_key": key, "status": "parsed", "revision_id": hashlib.sha256(body).hexdigest()}]
    assert aws.depth() == 0


def closed_port() -> int:
    "A loopback port nothing listens on."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_unreachable_s3_leaves_the_message_for_a_retry(stack, aws):
    settings = isolated(stack, "pf_unreachable")
    ensure_tables(stack.spark(), settings)
    # GIVEN an S3 endpoint that refuses connections, and a received message naming an object
    s3 = stack.boto3_session().client("s3", endpoint_url=f"http://127.0.0.1:{closed_port()}", region_name=settings.aws_region,
                                      config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    body = json.loads((EVENTS / "sqs_direct_put_key_with_spaces.json").read_text())["Body"].replace(FIXTURE_BUCKET, aws.bucket)
    msg = {"MessageId": "m-unreachable", "ReceiptHandle": "rh-unreachable", "Body": body, "Attributes": {"ApproximateReceiveCount": "1"}}
    # WHEN the micro-batch is processed
    h = held(settings, aws.queue_url, msg)
    out = process_micro_batch([h], context(stack, settings, s3))
    # THEN the record is retrying with the connection error, and the message is not one to delete
    [rec] = out.records
    assert rec.status == MessageStatus.retrying and not out.settled(h) and out.results == []
    assert "incoming/red flower.pdf" in rec.error_message and "connect" in rec.error_message.lower(), rec.error_message
    # AND its error code says the fetch failed transiently, not that a parser crashed
    assert rec.error_code == "fetch_failed"
    # AND on the last delivery SQS allows, the same failure is recorded as dead_lettered (SQS moves it to the DLQ next)
    last = held(settings, aws.queue_url, msg | {"Attributes": {"ApproximateReceiveCount": str(settings.max_receive_count)}})
    out = process_micro_batch([last], context(stack, settings, s3))
    assert (out.records[0].status, out.settled(last)) == (MessageStatus.dead_lettered, False)


# ---------------------------------------------------------------- DeleteMessageBatch partly failing

def test_acknowledging_reports_a_partly_failed_delete(aws):
    # GIVEN one received message, and a receipt handle SQS does not know
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="to delete")
    [msg] = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    calls: list[list[str]] = []
    sqs = aws.session.client("sqs", **aws_client_kwargs(aws.stack.settings))
    sqs.meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", lambda params, **_: calls.append([e["Id"] for e in params["Entries"]]))
    # WHEN both are deleted in one batch (moto answers the bogus one in Failed[], code ReceiptHandleIsInvalid)
    settings = aws.stack.settings
    inbox = Inbox(sqs, [QueueRef(settings.ingest_queue, aws.queue_url)], settings)
    result = inbox.ack([held(settings, aws.queue_url, msg), held(settings, aws.queue_url, msg | {"ReceiptHandle": "no-such-receipt-handle"})])
    # THEN one is deleted, one is reported failed after one retry of that entry alone, and nothing raised
    assert result == (1, 1)
    assert [len(c) for c in calls] == [2, 1]  # the failed entry alone is retried
    assert aws.depth() == 0


def test_a_failed_delete_is_counted_and_its_redelivery_recognised(stack, aws):
    settings = isolated(stack, "pf_delete")
    # GIVEN two uploads, and an SQS that rejects the delete of the first entry of every DeleteMessageBatch
    for name in ("a", "b"): aws.s3.put_object(Bucket=aws.bucket, Key=f"incoming/delete-{name}.txt", Body=f"document {name}".encode())
    session = stack.boto3_session()
    receipts, rejected = capture_receipts(session), {}
    def reject_first(params: dict[str, Any], **_: Any) -> None:
        first = params["Entries"][0]
        if first["Id"] == "0":
            rejected.setdefault("handle", first["ReceiptHandle"]); first["ReceiptHandle"] = "rejected-" + first["ReceiptHandle"][:8]
    session.events.register("before-parameter-build.sqs.DeleteMessageBatch", reject_first)
    # WHEN the poller runs
    first = poll(stack, settings, session)
    # THEN it does not crash: both are committed, one delete succeeded, one is counted as failed, the run succeeded
    assert (first.status, first.messages, first.processed, first.deleted, first.delete_failures) == ("succeeded", 2, 2, 1, 1)
    assert aws.depth() == 1
    [undeleted] = [mid for mid, h in receipts.items() if h == rejected["handle"]]

    # WHEN the undeleted message comes back
    aws.sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=rejected["handle"], VisibilityTimeout=0)
    second = poll(stack, settings)
    # THEN it is recognised as a redelivery of a settled record: acknowledged, not processed again
    assert (second.status, second.messages, second.redeliveries, second.processed, second.duplicates, second.deleted) == ("succeeded", 1, 1, 0, 0, 1)
    meta = rows(stack, f"SELECT message_id, status, deliveries FROM {settings.delta_schema}.raw_ingestion_metadata ORDER BY deliveries")
    assert [(m["status"], m["deliveries"]) for m in meta] == [("processed", 1), ("processed", 2)] and meta[1]["message_id"] == undeleted
    assert rows(stack, f"SELECT COUNT(*) AS n FROM {settings.delta_schema}.document_results") == [{"n": 2}]
    assert aws.depth() == 0


def test_a_crash_between_the_two_commits_settles_as_processed_on_redelivery(stack, aws):
    settings = isolated(stack, "pf_half_commit")
    ensure_tables(stack.spark(), settings)
    # GIVEN a message whose batch committed its result row and then died before the metadata commit and the delete
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/half-committed.txt", Body=b"committed once")
    [msg] = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=1, AttributeNames=["All"])["Messages"]
    out = process_micro_batch([held(settings, aws.queue_url, msg)], context(stack, settings, aws.s3))
    merge_results(stack.spark(), settings, out.results)
    aws.sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    # WHEN SQS redelivers it to a healthy run
    run = poll(stack, settings)
    # THEN the message finds its own revision stored and settles as processed — not as a duplicate of itself
    assert (run.processed, run.duplicates, run.deleted) == (1, 0, 1)
    assert rows(stack, f"SELECT status, error_message FROM {settings.delta_schema}.raw_ingestion_metadata") == [{"status": "processed", "error_message": None}]
    assert rows(stack, f"SELECT message_id FROM {settings.delta_schema}.document_results") == [{"message_id": msg["MessageId"]}]
    assert aws.depth() == 0


# ---------------------------------------------------------------- poison messages

def test_poison_messages_are_settled_without_crashing(stack, aws):
    settings = isolated(stack, "pf_poison")
    # GIVEN the object the good record of a partly-bad message names (its own upload event is drained: only the
    # crafted message refers to it)
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/red flower.pdf", Body=b"content of incoming/red flower.pdf")  # the ETag the fixture names
    aws.drain()
    # AND a queue holding: a non-JSON body, an SNS envelope whose Message is not JSON, a message whose second record
    # has no key, an ObjectRemoved event, and a real upload
    not_json = aws.send_fixture_body("malformed_body_not_json.json")
    sns_not_json = aws.send_fixture_body("malformed_sns_message_not_json.json")
    partly_bad = aws.send_fixture_body("malformed_record_missing_key.json")
    removed = aws.send_fixture_body("sqs_direct_removed_delete.json")
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/poison-good.txt", Body=b"A good document among bad ones.")
    assert aws.depth() == 5
    # WHEN one run polls
    run = poll(stack, settings)
    # THEN every record is settled, every message acknowledged, and the run succeeded
    assert (run.status, run.messages, run.records) == ("succeeded", 5, 6)
    assert (run.malformed, run.removed, run.ignored, run.processed, run.failed, run.retrying) == (3, 1, 0, 2, 0, 0)
    assert (run.deleted, run.delete_failures) == (5, 0)
    assert aws.depth() == 0
    meta = {(m["message_id"], m["record_index"]): m for m in rows(stack, f"SELECT * FROM {settings.delta_schema}.raw_ingestion_metadata")}
    assert len(meta) == 6
    assert (meta[(not_json, 0)]["status"], meta[(not_json, 0)]["error_code"]) == ("malformed", "malformed_message")
    assert meta[(not_json, 0)]["raw_body"] == "incoming/red flower.pdf was uploaded"  # kept for replay
    assert (meta[(sns_not_json, 0)]["status"], meta[(sns_not_json, 0)]["error_code"]) == ("malformed", "malformed_message")
    assert (meta[(removed, 0)]["status"], meta[(removed, 0)]["error_code"]) == ("removed", "object_removed")  # the document is marked deleted
    # AND the good sibling of the record without a key is processed
    assert (meta[(partly_bad, 0)]["status"], meta[(partly_bad, 0)]["object_key"]) == ("processed", "incoming/red flower.pdf")
    assert (meta[(partly_bad, 1)]["status"], meta[(partly_bad, 1)]["error_code"]) == ("malformed", "malformed_record")
    assert all(m["error_message"] for m in meta.values() if m["status"] != "processed")
    res = rows(stack, f"SELECT object_key FROM {settings.delta_schema}.document_results ORDER BY object_key")
    assert [r["object_key"] for r in res] == ["incoming/poison-good.txt", "incoming/red flower.pdf"]


def test_values_s3_cannot_hold_are_malformed_records_not_a_crash(stack, aws):
    settings = isolated(stack, "pf_out_of_range")
    # GIVEN one message whose records break S3's limits (huge size, lone surrogate, CRLF ETag, empty key, bad
    # sequencer, bad bucket) beside a good record, and the object the good record names
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/poison-sibling.txt", Body=b"The sibling survives.")
    aws.drain()
    mid = aws.send_fixture_body("malformed_record_values_out_of_range.json")
    # WHEN one run polls
    run = poll(stack, settings)
    # THEN the run succeeds, the six bad records are malformed with their reason, the good one is processed
    # (its ETag differs from the crafted one, so it is the key's current content), and the message is acknowledged
    assert (run.status, run.records, run.malformed, run.processed, run.retrying, run.deleted) == ("succeeded", 7, 6, 1, 0, 1)
    meta = rows(stack, f"SELECT record_index, status, error_code, error_message FROM {settings.delta_schema}.raw_ingestion_metadata "
                       f"WHERE message_id = '{mid}' ORDER BY record_index")
    assert [m["status"] for m in meta] == ["malformed"] * 6 + ["processed"]
    assert "size input should be less than or equal to" in meta[0]["error_message"] and "bucket" in meta[5]["error_message"]
    assert aws.depth() == 0


def test_visibility_is_extended_while_a_message_is_held(stack, aws):
    # GIVEN a job whose messages are received with a 2 s visibility timeout
    settings = stack.settings.replace(visibility_timeout_s=2)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="slow work")
    inbox = Inbox(aws.sqs, [QueueRef(settings.ingest_queue, aws.queue_url)], settings, until_empty=False).start()
    [h] = inbox.take(10, 10**9, 0.5)
    # WHEN the work takes three times as long
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        # THEN no other consumer can receive it meanwhile: the keeper extends its visibility
        assert aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=0).get("Messages", []) == []
        time.sleep(0.5)
    assert inbox.stats.visibility_calls >= 3
    # AND once the job stops without finishing it, the message is released at once, not after its timeout
    assert inbox.close() == 1
    again = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["MessageId"] for m in again] == [h.message_id]
    aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=again[0]["ReceiptHandle"])


# ---------------------------------------------------------------- objects gone or changed before the poll

def test_object_deleted_before_the_poll_fails_as_missing(stack, aws):
    settings = isolated(stack, "pf_missing")
    # GIVEN an upload whose object is deleted (unversioned bucket) before the poller gets to it
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/gone before poll.txt", Body=b"short-lived")
    aws.s3.delete_object(Bucket=aws.bucket, Key="incoming/gone before poll.txt")
    # WHEN the poller runs
    run = poll(stack, settings)
    # THEN the creation is failed with object_missing (the key shows a delete marker; moto's creation events name no
    # version), the removal is recorded, both are acknowledged, and there is no result row
    assert (run.status, run.failed, run.removed, run.retrying, run.deleted) == ("succeeded", 1, 1, 0, 2)
    meta = rows(stack, f"SELECT status, error_code, error_message FROM {settings.delta_schema}.raw_ingestion_metadata ORDER BY status")
    assert [(m["status"], m["error_code"]) for m in meta] == [("failed", "object_missing"), ("removed", "object_removed")]
    assert "incoming/gone before poll.txt" in meta[0]["error_message"]
    assert rows(stack, f"SELECT * FROM {settings.delta_schema}.document_results") == []
    assert aws.depth() == 0


def test_overwritten_object_on_the_versioned_bucket_is_stored_per_version(stack, aws):
    settings = isolated(stack, "pf_overwrite")
    # GIVEN a key of the (versioned) landing bucket uploaded twice before the poll; moto's events carry no versionId,
    # so the first event names an ETag the key no longer has
    key, old, new = "incoming/overwritten.txt", b"first draft", b"final version"
    for body in (old, new): aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=body)
    # WHEN the poller runs
    run = poll(stack, settings)
    # THEN each event is stored with the content it named: the older bytes under the older event, never the newer
    assert (run.status, run.processed, run.ignored, run.failed, run.duplicates, run.deleted) == ("succeeded", 2, 0, 0, 0, 2)
    meta = rows(stack, f"SELECT etag, revision_id FROM {settings.delta_schema}.raw_ingestion_metadata")
    assert sorted((m["etag"], m["revision_id"]) for m in meta) == sorted((hashlib.md5(b).hexdigest(), hashlib.sha256(b).hexdigest()) for b in (old, new))
    res = rows(stack, f"SELECT etag, revision_id FROM {settings.delta_schema}.document_results")
    assert sorted((r["etag"], r["revision_id"]) for r in res) == sorted((m["etag"], m["revision_id"]) for m in meta)


def s3_put_event(bucket: str, key: str, etag: str, size: int) -> str:
    "An S3 ObjectCreated:Put event body as moto sends it straight to SQS (no versionId, key form-encoded)."
    from urllib.parse import quote_plus
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-25T19:40:41.118Z",
                                    "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                                                                             "object": {"key": quote_plus(key), "size": size, "eTag": etag}}}]})


def test_overwritten_object_on_an_unversioned_bucket_is_ingested_once(stack, aws):
    settings = isolated(stack, "pf_superseded")
    # GIVEN an unversioned bucket whose key was overwritten before the poll, and an event for each write
    bucket, key, old, new = "pf-unversioned", "incoming/overwritten.txt", b"first draft", b"final version"
    aws.s3.create_bucket(Bucket=bucket)
    for body in (old, new):
        etag = aws.s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=s3_put_event(bucket, key, etag, len(body)))
    # WHEN the poller runs
    run = poll(stack, settings)
    # THEN the stale event (whose bytes are gone) ingests the key's current content, saying so, and the newer
    # event finds that revision stored: one result row, nothing parsed twice, both acknowledged
    assert (run.status, run.processed, run.duplicates, run.failed, run.deleted) == ("succeeded", 1, 1, 0, 2)
    meta = rows(stack, f"SELECT status, etag, error_message FROM {settings.delta_schema}.raw_ingestion_metadata ORDER BY status DESC")
    assert [(m["status"], m["etag"]) for m in meta] == [("processed", hashlib.md5(new).hexdigest()), ("duplicate", hashlib.md5(new).hexdigest())]
    assert f"the event named ETag {hashlib.md5(old).hexdigest()}" in meta[0]["error_message"]
    assert rows(stack, f"SELECT revision_id FROM {settings.delta_schema}.document_results") == [{"revision_id": hashlib.sha256(new).hexdigest()}]
    assert aws.depth() == 0


def test_one_event_for_two_quick_writes_loses_nothing(stack, aws):
    settings = isolated(stack, "pf_single_event")
    # GIVEN an unversioned bucket, two quick writes to one key, and a single event naming the first write (S3 may coalesce)
    bucket, key, old, new = "pf-unversioned-one", "incoming/coalesced.txt", b"draft", b"the final words"
    aws.s3.create_bucket(Bucket=bucket)
    etag = aws.s3.put_object(Bucket=bucket, Key=key, Body=old)["ETag"].strip('"')
    aws.s3.put_object(Bucket=bucket, Key=key, Body=new)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=s3_put_event(bucket, key, etag, len(old)))
    # WHEN the poller runs
    run = poll(stack, settings)
    # THEN the surviving content is stored (not dropped as superseded)
    assert (run.processed, run.ignored, run.deleted) == (1, 0, 1)
    assert rows(stack, f"SELECT revision_id, status FROM {settings.delta_schema}.document_results") == [
        {"revision_id": hashlib.sha256(new).hexdigest(), "status": "parsed"}]


def test_oversized_object_is_a_failed_revision_with_its_full_hash(stack, aws):
    settings = isolated(stack, "pf_large", max_document_bytes=1000)
    # GIVEN an object five times the configured limit
    content = b"".join(b"line %05d of a long text document\n" % i for i in range(150))
    assert len(content) > 5 * 1000
    aws.s3.put_object(Bucket=aws.bucket, Key="incoming/too large.txt", Body=content)
    # WHEN the poller runs
    run = poll(stack, settings)
    # THEN it is a result row failed with too_large whose revision is the SHA-256 of the whole content; acknowledged
    assert (run.status, run.failed, run.deleted, run.retrying) == ("succeeded", 1, 1, 0)
    res = rows(stack, f"SELECT status, error_code, error_message, revision_id, object_key FROM {settings.delta_schema}.document_results")
    assert [(r["status"], r["error_code"], r["revision_id"], r["object_key"]) for r in res] == [
        ("failed", "too_large", hashlib.sha256(content).hexdigest(), "incoming/too large.txt")]
    assert "1000" in res[0]["error_message"] and "IDP_MAX_DOCUMENT_BYTES" in res[0]["error_message"]
    meta = rows(stack, f"SELECT status, error_code, revision_id FROM {settings.delta_schema}.raw_ingestion_metadata")
    assert meta == [{"status": "failed", "error_code": "too_large", "revision_id": hashlib.sha256(content).hexdigest()}]
    assert aws.depth() == 0


# ---------------------------------------------------------------- the CLI path without Databricks

@pytest.fixture(scope="module")
def cli_stack(tmp_path_factory):
    "`idp-kit local up` in a fresh state dir; yields (base env, status JSON); `local down` at the end whatever happened."
    from conftest import idp_kit_command
    state_dir = tmp_path_factory.mktemp("cli-state")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "AWS_"))} | {"IDP_STATE_DIR": str(state_dir)}
    up = subprocess.run([str(idp_kit_command()), "local", "up"], capture_output=True, text=True, timeout=120, env=base_env)
    assert up.returncode == 0, up.stderr[-3000:]
    status = json.loads(up.stdout)
    yield base_env, status
    subprocess.run([str(idp_kit_command()), "local", "down"], capture_output=True, text=True, timeout=60, env=base_env)


def test_cli_local_up_reports_a_running_stack_and_its_env(cli_stack):
    base_env, status = cli_stack
    # GIVEN `idp-kit local up` in a fresh state dir; THEN it reports a running stack and the env that joins it
    assert (status["status"], status["action"]) == ("running", "started")
    env = status["env"]
    assert env["IDP_STATE_DIR"] == base_env["IDP_STATE_DIR"] and env["AWS_ENDPOINT_URL"] == status["moto_endpoint"]
    assert env["IDP_SPARK_REMOTE"] == status["spark_remote"] and _pid_alive(status["pid"])


def test_cli_poll_of_a_missing_queue_is_a_clear_error(cli_stack, idp_kit):
    base_env, status = cli_stack
    # WHEN the user polls a queue that does not exist
    proc = idp_kit("poll", "--queue", "no-such-queue", env=base_env | status["env"], timeout=120)
    # THEN the CLI says so in one line (like its other usage errors: exit 2, `idp-kit: ...`), without a traceback
    assert proc.returncode == 2 and "no-such-queue" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]


def test_cli_local_up_is_ready_for_uploads(cli_stack):
    base_env, status = cli_stack
    # GIVEN only `idp-kit local up` (the README offers no other set-up command to a user without Databricks)
    env = status["env"]
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])
    s3, sqs = (session.client(s, endpoint_url=env["AWS_ENDPOINT_URL"]) for s in ("s3", "sqs"))
    # THEN the landing bucket and the ingest queue exist
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    queues = [u.rsplit("/", 1)[-1] for u in sqs.list_queues().get("QueueUrls", [])]
    assert env["IDP_BUCKET"] in buckets and env["IDP_INGEST_QUEUE"] in queues, (
        f"after `idp-kit local up` moto has buckets {buckets} and queues {queues}: nothing provisions the stack")


def test_cli_upload_poll_down(cli_stack, idp_kit):
    base_env, status = cli_stack
    # GIVEN the shell variables `idp-kit local env` prints (what `eval "$(idp-kit local env)"` would export)
    exports = idp_kit("local", "env", env=base_env, timeout=60)
    assert exports.returncode == 0, exports.stderr[-3000:]
    pairs = [shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in exports.stdout.splitlines() if line.startswith("export ")]
    # (and, for AWS CLI v1, which ignores AWS_ENDPOINT_URL for SQS, an alias passing --endpoint-url)
    assert any(l.startswith("alias aws-local='aws --endpoint-url '") for l in exports.stdout.splitlines()), exports.stdout
    env = base_env | dict(pairs) | {"IDP_WAIT_TIME_S": "0"}
    assert dict(pairs) == status["env"]
    # AND a document uploaded with plain boto3, configured only by that env
    boto_env = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    s3 = boto3.Session(aws_access_key_id=boto_env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=boto_env["AWS_SECRET_ACCESS_KEY"],
                       region_name=env["AWS_DEFAULT_REGION"]).client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    s3.put_object(Bucket=env["IDP_BUCKET"], Key="incoming/cli upload.txt", Body=b"Uploaded from the command line.\n\nSecond paragraph.")
    # WHEN the user runs `idp-kit poll` with that env
    proc = idp_kit("poll", env=env, timeout=180)
    # THEN it exits 0 and prints the run summary: the upload processed, the s3:TestEvent ignored, both deleted
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert (summary["status"], summary["queue_name"], summary["mode"]) == ("succeeded", env["IDP_INGEST_QUEUE"], "ingest")
    assert {k: summary[k] for k in ("messages", "processed", "ignored", "failed", "retrying", "deleted", "delete_failures")} == {
        "messages": 2, "processed": 1, "ignored": 1, "failed": 0, "retrying": 0, "deleted": 2, "delete_failures": 0}
    assert Path(env["IDP_DELTA_LOCATION"], env["IDP_DELTA_SCHEMA"], "document_results", "_delta_log").is_dir()

    # WHEN the user stops the stack
    down = idp_kit("local", "down", env=base_env, timeout=60)
    # THEN it stops the daemon: no process, no listening port, no state file, and status says down
    assert down.returncode == 0, down.stderr[-3000:]
    assert json.loads(down.stdout)["action"] == "stopped (SIGTERM)"
    assert not _pid_alive(status["pid"])
    assert not any(_listening(status[p]) for p in ("moto_port", "spark_port"))
    serving = subprocess.run(["pgrep", "-f", f"idp_kit.local serve --state-dir {base_env['IDP_STATE_DIR']}"], capture_output=True, text=True)
    assert serving.stdout.split() == [], f"daemon processes still running: {serving.stdout}"
    after = idp_kit("local", "status", env=base_env, timeout=60)
    assert json.loads(after.stdout)["status"] == "down"
