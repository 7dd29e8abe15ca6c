"""dispatch=jobs end to end: the ingestion job writes each micro-batch's work units to S3, starts a worker run per route
through the real databricks-sdk against the local stack's Jobs emulator (which runs `idp-kit worker` as a child process),
waits, and settles the messages from the worker's outcomes."""
from __future__ import annotations

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobParameterDefinition, PythonWheelTask, QueueSettings, Task

from idp_kit.local import LocalStack
from idp_kit.settings import AwsClients, Settings
from idp_kit.sqs_batch_ingestion import run_poller
from idp_kit.tracking import MessageStatus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack():
    with LocalStack(Settings(wait_time_s=0, retry_backoff_s=0, provisioner="boto3")) as s:
        yield s


@pytest.fixture(scope="module")
def workspace(stack) -> WorkspaceClient:
    env = stack.env()
    return WorkspaceClient(host=env["DATABRICKS_HOST"], token=env["DATABRICKS_TOKEN"])


def worker_job(w: WorkspaceClient, name: str, parameters: list[str]) -> int:
    "A worker job like the bundle's idp_worker: the idp-kit console script with the units job parameter."
    return w.jobs.create(name=name, max_concurrent_runs=2, queue=QueueSettings(enabled=True),
                         parameters=[JobParameterDefinition(name="units", default="[]")],
                         tasks=[Task(task_key="process", python_wheel_task=PythonWheelTask(
                             package_name="idp_kit", entry_point="idp-kit", parameters=parameters))]).job_id


def rows(stack: LocalStack, settings: Settings, sql: str) -> list[dict]:
    return [r.asDict() for r in stack.spark().sql(sql.replace("{schema}", settings.delta_schema)).collect()]


def test_units_go_to_worker_runs_and_the_messages_settle_from_their_outcomes(stack, workspace, monkeypatch):
    # GIVEN a deployed worker job, the job in dispatch=jobs mode, and uploads (one of them corrupt)
    settings = stack.settings.replace(dispatch="jobs", worker_job="idp-worker-test", delta_schema="dispatch_ok")
    worker_job(workspace, settings.worker_job, ["worker", "--units", "{{job.parameters.units}}"])
    monkeypatch.setenv("DATABRICKS_HOST", workspace.config.host); monkeypatch.setenv("DATABRICKS_TOKEN", workspace.config.token)
    s3 = AwsClients(settings, stack.boto3_session())("s3")
    run_poller(settings.replace(dispatch="inline"), stack.spark(), session=stack.boto3_session())  # the TestEvent
    for i in range(6): s3.put_object(Bucket=settings.bucket, Key=f"incoming/dispatch/{i}.txt", Body=f"dispatched {i}".encode())
    s3.put_object(Bucket=settings.bucket, Key="incoming/dispatch/broken.pdf", Body=b"%PDF-1.7 not really")
    # WHEN the job runs
    run = run_poller(settings, stack.spark(), session=stack.boto3_session())
    # THEN every unit went to a worker run, the outcomes settled the messages, and each row names its worker run
    assert (run.status, run.dispatched, run.processed, run.failed, run.deleted) == ("succeeded", 7, 6, 1, 7)
    meta = rows(stack, settings, "SELECT status, worker_run_id FROM {schema}.raw_ingestion_metadata WHERE object_key LIKE 'incoming/dispatch/%'")
    assert len(meta) == 7 and all(m["worker_run_id"] for m in meta)
    [run_id] = {m["worker_run_id"] for m in meta}  # one route (the ingest queue): one run
    assert workspace.jobs.get_run(run_id).state.result_state.value == "SUCCESS"
    assert rows(stack, settings, "SELECT COUNT(*) AS n FROM {schema}.document_results WHERE status = 'parsed'") == [{"n": 6}]


def test_a_failed_worker_run_leaves_its_messages_for_a_retry(stack, workspace, monkeypatch):
    # GIVEN a worker job whose task fails, and an upload
    settings = stack.settings.replace(dispatch="jobs", worker_job="idp-worker-broken", delta_schema="dispatch_failed")
    worker_job(workspace, settings.worker_job, ["worker", "--units", "s3://no-such-bucket/x.json"])
    monkeypatch.setenv("DATABRICKS_HOST", workspace.config.host); monkeypatch.setenv("DATABRICKS_TOKEN", workspace.config.token)
    s3 = AwsClients(settings, stack.boto3_session())("s3")
    s3.put_object(Bucket=settings.bucket, Key="incoming/dispatch/retry.txt", Body=b"retry me")
    # WHEN the job runs
    run = run_poller(settings, stack.spark(), session=stack.boto3_session())
    # THEN the record is retrying with worker_failed (the run's state in the message), and the message was released, not deleted
    assert (run.status, run.retrying, run.processed, run.deleted, run.released) == ("succeeded", 1, 0, 0, 1)
    [m] = rows(stack, settings, "SELECT status, error_code, error_message FROM {schema}.raw_ingestion_metadata")
    assert (m["status"], m["error_code"]) == (MessageStatus.retrying.value, "worker_failed") and "FAILED" in m["error_message"], m
    # AND with a working worker the same message is processed on its next delivery
    fixed = settings.replace(worker_job="idp-worker-fixed")
    worker_job(workspace, fixed.worker_job, ["worker", "--units", "{{job.parameters.units}}"])
    again = run_poller(fixed, stack.spark(), session=stack.boto3_session())
    assert (again.processed, again.deleted) == (1, 1)


def test_no_worker_job_is_a_clear_failure_not_a_crash(stack, workspace, monkeypatch):
    settings = stack.settings.replace(dispatch="jobs", worker_job="idp-worker-missing", delta_schema="dispatch_missing")
    monkeypatch.setenv("DATABRICKS_HOST", workspace.config.host); monkeypatch.setenv("DATABRICKS_TOKEN", workspace.config.token)
    AwsClients(settings, stack.boto3_session())("s3").put_object(Bucket=settings.bucket, Key="incoming/dispatch/nojob.txt", Body=b"x")
    run = run_poller(settings, stack.spark(), session=stack.boto3_session())
    assert (run.status, run.retrying, run.deleted) == ("succeeded", 1, 0)
    [m] = rows(stack, settings, "SELECT error_message FROM {schema}.raw_ingestion_metadata")
    assert "no Databricks job(s) named 'idp-worker-missing'" in m["error_message"] and "idp-kit deploy databricks" in m["error_message"]
