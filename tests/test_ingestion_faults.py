"""Fault tests of the ingestion job on a real local stack (moto + Sail), at small sizes (the benchmark takes the large
ones): `kill -9` at random points, a poison message walking to the DLQ, two concurrent pollers, and replay and
redrive bringing failed documents to success once the cause is fixed."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from idp_kit.local import LocalStack
from idp_kit.redrive import redrive
from idp_kit.replay import ReplayFilter, replay
from idp_kit.settings import AwsClients, Settings
from idp_kit.sqs_batch_ingestion import run_poller
from idp_kit.tracking import RunStatus, ensure_tables

pytestmark = pytest.mark.slow

BASE = Settings(wait_time_s=0, visibility_timeout_s=4, max_receive_count=3, retry_backoff_s=0, micro_batch_messages=8,
                micro_batch_wait_s=0.3, provisioner="boto3")


@pytest.fixture(scope="module")
def stack():
    with LocalStack(BASE) as s:
        yield s


@pytest.fixture
def aws(stack) -> AwsClients:
    clients = AwsClients(stack.settings, stack.boto3_session())
    run_poller(stack.settings, stack.spark(), session=stack.boto3_session())  # whatever an earlier test left settles first
    return clients


_REGISTERED: set[str] = set()

def rows(stack: LocalStack, settings: Settings, sql: str) -> list[dict[str, Any]]:
    "Rows of `sql` on the test's session (which registers the schema's tables first: Sail keeps a catalog per session)."
    if settings.delta_schema not in _REGISTERED: ensure_tables(stack.spark(), settings); _REGISTERED.add(settings.delta_schema)
    return [r.asDict() for r in stack.spark().sql(sql.replace("{schema}", settings.delta_schema)).collect()]


def depth(aws: AwsClients, queue: str) -> int:
    url = aws("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
    a = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in a["Attributes"].values())


def poll_process(stack: LocalStack, settings: Settings, *args: str) -> subprocess.Popen:
    "`idp-kit poll` in a process of its own, joined to the stack with `settings`."
    from idp_kit.local import stack_env
    env = {**os.environ, **stack.env(), **stack_env(settings)}
    command = Path(sys.executable).parent / "idp-kit"  # the installed console script, as a scheduler runs it
    return subprocess.Popen([str(command), "poll", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline: raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def test_kill_9_at_random_points_then_a_restart_stores_every_revision_exactly_once(stack, aws):
    settings = stack.settings.replace(delta_schema="fault_kill")
    # GIVEN 80 uploads on the queue
    keys = [f"incoming/kill/{i:02d}.txt" for i in range(80)]
    for i, k in enumerate(keys): aws("s3").put_object(Bucket=settings.bucket, Key=k, Body=f"revision of {k}".encode())
    # WHEN the poller is killed with SIGKILL three times, at random moments of its work (seeded: reproducible)
    rng, started = random.Random(7), lambda: rows(stack, settings, "SELECT COUNT(*) AS n FROM {schema}.ingestion_runs")[0]["n"]
    for i in range(3):
        proc = poll_process(stack, settings, "--continuous")
        wait_until(lambda: started() > i, 120, "the run to start")  # its run row is written: it is receiving
        time.sleep(rng.uniform(0.0, 2.5))
        proc.send_signal(signal.SIGKILL); proc.wait()
    # AND a healthy run starts once the killed runs' messages are visible again (their visibility runs out: nobody extends it)
    url = aws("sqs").get_queue_url(QueueName=settings.ingest_queue)["QueueUrl"]
    in_flight = lambda: int(aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"])
    wait_until(lambda: in_flight() == 0, 60, "the killed runs' messages to become visible")
    final = run_poller(settings, stack.spark(), session=stack.boto3_session())
    # THEN every revision is stored exactly once, and every message settled
    assert final.status == RunStatus.succeeded
    res = rows(stack, settings, "SELECT object_key, COUNT(*) AS n FROM {schema}.document_results GROUP BY object_key")
    assert sorted(r["object_key"] for r in res) == keys and {r["n"] for r in res} == {1}
    meta = rows(stack, settings, "SELECT object_key, status FROM {schema}.raw_ingestion_metadata WHERE object_key LIKE 'incoming/kill/%'")
    assert len(meta) == 80 and {m["status"] for m in meta} <= {"processed", "duplicate"}, meta
    assert depth(aws, settings.ingest_queue) == 0
    # AND no run is left `running`: the final run's sweep abandoned the killed ones
    runs = rows(stack, settings, "SELECT status, stop_reason FROM {schema}.ingestion_runs")
    assert not [r for r in runs if r["status"] == "running"], runs
    assert sum(r["status"] == "abandoned" for r in runs) == 3, runs


def test_a_poison_message_reaches_the_dlq_after_max_receive_count_attempts_each_recorded_then_redrive_fixes_it(stack, aws):
    settings = stack.settings.replace(delta_schema="fault_poison")
    # GIVEN queues emptied of what earlier tests left (a killed run's messages reach maxReceiveCount and move on their own)
    for q in (settings.ingest_queue, settings.dlq_name(settings.ingest_queue)):
        aws("sqs").purge_queue(QueueUrl=aws("sqs").get_queue_url(QueueName=q)["QueueUrl"])
    # AND an upload that cannot be read (a bucket policy denies it: transient, retried)
    key = "incoming/poison/locked.txt"
    aws("s3").put_object(Bucket=settings.bucket, Key=key, Body=b"locked away")
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                    "Resource": f"arn:aws:s3:::{settings.bucket}/{key}"}]}
    aws("s3").put_bucket_policy(Bucket=settings.bucket, Policy=json.dumps(deny))
    try:
        # WHEN the job runs until SQS gives up on the message
        statuses = []
        for _ in range(settings.max_receive_count + 1):
            run = run_poller(settings, stack.spark(), session=stack.boto3_session())
            statuses.append((run.retrying, run.dead_lettered))
    finally:
        aws("s3").delete_bucket_policy(Bucket=settings.bucket)
    # THEN each attempt was recorded: retrying twice, dead_lettered on the third; then the DLQ holds it
    assert statuses[:3] == [(1, 0), (1, 0), (0, 1)], statuses
    [m] = rows(stack, settings, "SELECT status, error_code, deliveries, receive_count FROM {schema}.raw_ingestion_metadata")
    assert m == {"status": "dead_lettered", "error_code": "access_denied", "deliveries": 3, "receive_count": 3}
    assert depth(aws, settings.dlq_name(settings.ingest_queue)) == 1 and depth(aws, settings.ingest_queue) == 0
    # WHEN the cause is fixed (the policy is gone) and the DLQ is redriven
    report = redrive(settings, stack.spark(), session=stack.boto3_session())
    assert (report.status, report.moved, report.method) == ("succeeded", 1, "receive_send_delete")
    run = run_poller(settings, stack.spark(), session=stack.boto3_session())
    # THEN the document is stored, and the redrive is recorded as a run
    assert run.processed == 1
    assert rows(stack, settings, "SELECT status FROM {schema}.document_results") == [{"status": "parsed"}]
    assert rows(stack, settings, "SELECT mode, status FROM {schema}.ingestion_runs WHERE mode = 'redrive'") == [{"mode": "redrive", "status": "succeeded"}]


def test_two_concurrent_pollers_lose_and_duplicate_nothing(stack, aws):
    settings = stack.settings.replace(delta_schema="fault_two")
    # GIVEN 60 uploads (and the same bytes twice under 5 keys: duplicates to race on)
    keys = [f"incoming/two/{i:02d}.txt" for i in range(60)]
    for i, k in enumerate(keys): aws("s3").put_object(Bucket=settings.bucket, Key=k, Body=f"two pollers {i % 55}".encode())
    # WHEN two pollers drain the queue at once, each in its own process
    procs = [poll_process(stack, settings) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    summaries = [json.loads(o[0]) for o in outs]
    # THEN together they settled every message once, and stored each revision once
    assert sum(s["messages"] for s in summaries) >= 60 and depth(aws, settings.ingest_queue) == 0
    meta = rows(stack, settings, "SELECT object_key, status FROM {schema}.raw_ingestion_metadata WHERE object_key LIKE 'incoming/two/%'")
    assert sorted(m["object_key"] for m in meta) == keys and {m["status"] for m in meta} <= {"processed", "duplicate"}
    res = rows(stack, settings, "SELECT object_key, revision_id FROM {schema}.document_results")
    assert len(res) == 60 and len({r["object_key"] for r in res}) == 60  # one result per document revision (keys differ: documents differ)


def test_replay_brings_a_failed_document_to_success_once_the_object_exists(stack, aws):
    settings = stack.settings.replace(delta_schema="fault_replay")
    # GIVEN an event for an object that does not exist yet: a permanent failure (object_missing), settled and deleted
    url = aws("sqs").get_queue_url(QueueName=settings.ingest_queue)["QueueUrl"]
    body = json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                    "eventTime": "2026-01-01T00:00:00.000Z",
                                    "s3": {"bucket": {"name": settings.bucket}, "object": {"key": "manual/late.txt", "size": 4}}}]})
    aws("sqs").send_message(QueueUrl=url, MessageBody=body)
    first = run_poller(settings, stack.spark(), session=stack.boto3_session())
    assert (first.failed, first.deleted) == (1, 1)
    # WHEN the cause is fixed — the object arrives (outside the watched prefix: no event of its own) — and the failure is replayed
    aws("s3").put_object(Bucket=settings.bucket, Key="manual/late.txt", Body=b"late")
    report = replay(settings, stack.spark(), ReplayFilter(statuses=["failed"], error_codes=["object_missing"], key_prefix="manual/"),
                    session=stack.boto3_session())
    assert (report.status, report.sent) == ("succeeded", 1)
    again = run_poller(settings, stack.spark(), session=stack.boto3_session())
    # THEN the document is stored, and replaying the now-settled message once more changes nothing
    assert again.processed == 1
    assert rows(stack, settings, "SELECT object_key, status FROM {schema}.document_results") == [{"object_key": "manual/late.txt", "status": "parsed"}]
    replay(settings, stack.spark(), ReplayFilter(key_prefix="manual/", statuses=["processed"]), session=stack.boto3_session())
    third = run_poller(settings, stack.spark(), session=stack.boto3_session())
    assert (third.processed, third.duplicates) == (0, 1)
    assert rows(stack, settings, "SELECT COUNT(*) AS n FROM {schema}.document_results") == [{"n": 1}]


def test_sigterm_stops_a_continuous_run_gracefully(stack, aws):
    settings = stack.settings.replace(delta_schema="fault_sigterm")
    # GIVEN a continuous run working on a queue
    for i in range(5): aws("s3").put_object(Bucket=settings.bucket, Key=f"incoming/term/{i}.txt", Body=f"term {i}".encode())
    proc = poll_process(stack, settings, "--continuous")
    wait_until(lambda: rows(stack, settings, "SELECT COUNT(*) AS n FROM {schema}.document_results")[0]["n"] == 5, 120, "the uploads to be stored")
    # WHEN the scheduler cancels it (SIGTERM)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    # THEN it exits 0 with its summary: stopped by the signal, everything settled, the run closed
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert (summary["status"], summary["stop_reason"], summary["processed"], summary["deleted"]) == ("succeeded", "signal", 5, 5)
    assert rows(stack, settings, f"SELECT status FROM {{schema}}.ingestion_runs WHERE run_id = '{summary['run_id']}'") == [{"status": "succeeded"}]
    # AND its JSON logs on stderr carry the run id
    assert any(json.loads(line).get("run_id") == summary["run_id"] for line in err.splitlines() if line.startswith("{"))
