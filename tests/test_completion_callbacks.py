"""The callback deliverer against moto in this process: documents finished through `PipelineStatus.report` publish to
the provisioned completion topic, its filtered subscription fills the callback queue, and the deliverer POSTs to a
receiver on 127.0.0.1 — signed, retried with backoff under one delivery id, given up on a 4xx, partial batches on
Lambda."""
from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import idp_kit
from idp_kit.callback_signing import callback_secret, verify_signature
from idp_kit.completion_callbacks import (LOCAL_POLICY, CallbackDeliverer, DeliveryOutcome, DeliveryReport,
                                          deliver_pending, handler, run_callback_loop, use_deliverer)
from idp_kit.document_status import ProcessingStatus, SourceObject, StatusRecord, StatusStore
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.pipeline_status import PipelineStatus
from idp_kit.provisioning import ProvisionedResources, provision
from idp_kit.settings import MOTO_CREDENTIALS, AwsClients, Settings
from idp_kit.tracking import IngestionRecord

SECRET = "callback-tests-signing-secret-0123456789"
FINISHED_AT = datetime(2026, 11, 26, tzinfo=timezone.utc)


@dataclass
class Stack:
    settings: Settings
    clients: AwsClients
    resources: ProvisionedResources

    @property
    def callback_url(self) -> str: return self.resources.callback_queue.url


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    "An empty moto in this process, provisioned: bucket, status table, completion topic, filtered callback queue."
    server, endpoint = start_moto()
    for k, v in MOTO_CREDENTIALS.items(): monkeypatch.setenv(k, v)
    settings = Settings(aws_endpoint_url=endpoint, api_signing_secret=SECRET)
    try: yield Stack(settings, AwsClients(settings), provision(settings))
    finally: stop_moto(server)


@dataclass
class Call:
    path: str
    headers: Message
    body: bytes


class Receiver:
    "A callback receiver on 127.0.0.1 answering with `codes` in turn (then 200), recording every call."
    def __init__(self, *codes: int) -> None:
        self.codes, self.calls, self.called = list(codes), [], threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.calls.append(Call(self.path, self.headers, self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(outer.codes.pop(0) if outer.codes else 200)
                self.send_header("Content-Length", "0"); self.end_headers()
                outer.called.set()
            def log_message(self, *args: Any) -> None: pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None: self.server.shutdown(); self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []
    def make(*codes: int) -> Receiver:
        made.append(Receiver(*codes)); return made[-1]
    yield make
    for r in made: r.close()


def submit(stack: Stack, document_id: str, callback_url: str | None, owner: str = "alice") -> None:
    "What the API writes at submit: a QUEUED status item with its owner and callback URL."
    src = SourceObject(bucket=stack.settings.bucket, key=f"incoming/api/{document_id}.pdf")
    rec = StatusRecord(document_id=document_id, status=ProcessingStatus.QUEUED, owner=owner, callback_url=callback_url,
                       source=src)
    StatusStore(stack.settings, stack.clients).create(rec)


def finish(stack: Stack, *document_ids: str) -> PipelineStatus:
    "What the poller does once a batch is committed: report each document parsed, publish its completion."
    status = PipelineStatus(stack.settings, stack.clients)
    records = [IngestionRecord(queue_name=stack.settings.ingest_queue, message_id=f"m-{d}", status="processed",
                               revision_id=f"rev-{d}", bucket=stack.settings.bucket, object_key=f"incoming/api/{d}.pdf",
                               event_time=FINISHED_AT, document_id=d) for d in document_ids]
    results = [{"document_id": d, "revision_id": f"rev-{d}", "status": "parsed"} for d in document_ids]
    status.report(records, results, [])
    return status


def depth(stack: Stack, url: str) -> tuple[int, int]:
    "(visible, in flight) messages of the queue at `url`."
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = stack.clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attrs[names[0]]), int(attrs[names[1]])


def recorded(client: Any, event: str) -> list[dict[str, Any]]:
    "Every request's parameters for `event` (e.g. `sqs.ChangeMessageVisibility`) made through `client`."
    seen: list[dict[str, Any]] = []
    client.meta.events.register(f"provide-client-params.{event}", lambda params, **_: seen.append(dict(params)))
    return seen


def test_a_finished_document_with_a_callback_gets_exactly_one_signed_post_with_its_delivery_id(stack, receiver):
    # GIVEN a document submitted with a callback URL, finished by the poller
    hook = receiver(200)
    submit(stack, "doc-1", hook.url + "/hooks/idp?tenant=7")
    assert finish(stack, "doc-1").published == 1
    received: list[str] = []
    stack.clients("sqs").meta.events.register("after-call.sqs.ReceiveMessage", lambda parsed, **_: received.extend(
        m["MessageId"] for m in parsed.get("Messages", [])))

    # WHEN the local deliverer drains the callback queue
    report = deliver_pending(stack.settings, stack.clients, policy=LOCAL_POLICY)

    # THEN the receiver got one POST, signed with alice's callback secret, carrying the SQS message id
    assert (report.batches, report.outcomes) == (1, {DeliveryOutcome.delivered: 1})
    assert len(hook.calls) == 1 and len(received) == 1
    call = hook.calls[0]
    assert call.path == "/hooks/idp?tenant=7"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Idp-Delivery-Id"] == received[0]
    assert call.headers["User-Agent"] == f"idp-kit-callbacks/{idp_kit.__version__}"
    verify_signature(callback_secret(SECRET, "alice"), call.headers["Idp-Signature"], call.body)
    with pytest.raises(ValueError, match="does not match"):
        verify_signature(callback_secret(SECRET, "bob"), call.headers["Idp-Signature"], call.body)
    rec = StatusStore(stack.settings, stack.clients).get("doc-1")
    assert json.loads(call.body) == {
        "type": "idp_kit.document_finished", "version": 1, "delivery_id": received[0], "attempt": 1,
        "document_id": "doc-1", "status": "SUCCEEDED", "revision_id": "rev-doc-1", "finished_at": rec.finished_at,
        "error": None, "links": {"self": "/v1/documents/doc-1", "result": "/v1/documents/doc-1/result",
                                 "revisions": "/v1/documents/doc-1/revisions"}}
    # AND the message is gone
    assert depth(stack, stack.callback_url) == (0, 0)


def test_a_receiver_failing_twice_gets_three_attempts_under_one_delivery_id_with_growing_backoff(stack, receiver):
    # GIVEN a receiver that answers 500, 500, then 200
    hook = receiver(500, 500)
    submit(stack, "doc-2", hook.url + "/cb")
    finish(stack, "doc-2")
    deliverer = CallbackDeliverer(stack.settings, stack.clients, LOCAL_POLICY, rng=random.Random(7))
    hides = recorded(stack.clients("sqs"), "sqs.ChangeMessageVisibility")
    operator = AwsClients(stack.settings)("sqs")  # a client of its own: its calls are not recorded

    def attempt() -> dict[DeliveryOutcome, int]:
        return deliver_pending(stack.settings, deliverer=deliverer).outcomes

    # WHEN the first attempt fails, THEN the message is hidden for its backoff (10 s ± 20 %), not redelivered at once
    assert attempt() == {DeliveryOutcome.retry: 1}
    assert deliver_pending(stack.settings, deliverer=deliverer).batches == 0
    assert 8 <= hides[0]["VisibilityTimeout"] <= 12 and hides[0]["QueueUrl"] == stack.callback_url
    # WHEN the backoff is cut short and it fails again, THEN the backoff doubles
    operator.change_message_visibility(QueueUrl=stack.callback_url, ReceiptHandle=hides[0]["ReceiptHandle"],
                                       VisibilityTimeout=0)
    assert attempt() == {DeliveryOutcome.retry: 1}
    assert 16 <= hides[1]["VisibilityTimeout"] <= 24
    # WHEN it is cut short once more, THEN the third attempt is delivered
    operator.change_message_visibility(QueueUrl=stack.callback_url, ReceiptHandle=hides[1]["ReceiptHandle"],
                                       VisibilityTimeout=0)
    assert attempt() == {DeliveryOutcome.delivered: 1}

    # AND all three calls carried the same delivery id, counted their attempts, and were each signed
    assert len(hook.calls) == 3 and len(hides) == 2
    ids = {c.headers["Idp-Delivery-Id"] for c in hook.calls}
    assert len(ids) == 1 and [json.loads(c.body)["attempt"] for c in hook.calls] == [1, 2, 3]
    assert {json.loads(c.body)["delivery_id"] for c in hook.calls} == ids
    for c in hook.calls: verify_signature(callback_secret(SECRET, "alice"), c.headers["Idp-Signature"], c.body)
    assert depth(stack, stack.callback_url) == (0, 0)


def test_a_receiver_answering_404_gets_one_attempt_and_the_message_is_acknowledged(stack, receiver):
    # GIVEN a receiver whose endpoint is gone
    hook = receiver(404)
    submit(stack, "doc-3", hook.url + "/gone")
    finish(stack, "doc-3")

    # WHEN the deliverer drains the queue
    report = deliver_pending(stack.settings, stack.clients, policy=LOCAL_POLICY)

    # THEN it called once, gave up, and left nothing on the queue or its DLQ
    assert report.outcomes == {DeliveryOutcome.gave_up: 1}
    assert len(hook.calls) == 1
    assert depth(stack, stack.callback_url) == (0, 0)
    assert depth(stack, stack.resources.callback_queue.dlq_url) == (0, 0)


def test_only_documents_with_a_callback_reach_the_callback_queue(stack, receiver):
    # GIVEN two finished API documents, one without a callback URL
    hook = receiver()
    published = recorded(stack.clients("sns"), "sns.Publish")
    submit(stack, "doc-quiet", None)
    submit(stack, "doc-loud", hook.url + "/cb")

    # WHEN the poller reports them, THEN both are published, with has_callback saying which has one
    assert finish(stack, "doc-quiet", "doc-loud").published == 2
    flags = {json.loads(p["Message"])["document_id"]: p["MessageAttributes"]["has_callback"]["StringValue"]
             for p in published}
    assert flags == {"doc-quiet": "false", "doc-loud": "true"}

    # AND the subscription's filter policy lets only the one with a callback onto the callback queue
    assert depth(stack, stack.callback_url) == (1, 0)
    report = deliver_pending(stack.settings, stack.clients, policy=LOCAL_POLICY)
    assert report.outcomes == {DeliveryOutcome.delivered: 1}
    assert [json.loads(c.body)["document_id"] for c in hook.calls] == ["doc-loud"]


def test_messages_that_are_not_completion_messages_are_acknowledged_not_sent_to_the_dlq(stack):
    # GIVEN bodies no retry can turn into a completion message
    sqs = stack.clients("sqs")
    no_document = {"type": "idp_kit.document_finished", "version": 1}
    for body in ("not json", json.dumps({"Records": []}), json.dumps(no_document)):
        sqs.send_message(QueueUrl=stack.callback_url, MessageBody=body)

    # WHEN the deliverer drains the queue
    report = deliver_pending(stack.settings, stack.clients, policy=LOCAL_POLICY)

    # THEN each is counted as malformed and deleted: none waits for maxReceiveCount to reach the DLQ
    assert report.outcomes == {DeliveryOutcome.malformed: 3}
    assert depth(stack, stack.callback_url) == (0, 0)
    assert depth(stack, stack.resources.callback_queue.dlq_url) == (0, 0)


def lambda_event(stack: Stack, messages: list[dict[str, Any]]) -> dict[str, Any]:
    "The SQS event source's event for `messages`, received from the callback queue."
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": {"ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"]},
                         "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                         "eventSourceARN": stack.resources.callback_queue.arn, "awsRegion": stack.settings.aws_region}
                        for m in messages]}


def test_the_lambda_handler_reports_only_the_callbacks_to_retry_as_batch_item_failures(stack, receiver):
    # GIVEN a batch of three: a callback to a receiver answering 503, a deleted document's, and a malformed message
    hook = receiver(503)
    submit(stack, "doc-busy", hook.url + "/cb")
    submit(stack, "doc-gone", hook.url + "/cb")
    finish(stack, "doc-busy", "doc-gone")
    StatusStore(stack.settings, stack.clients).deleted("doc-gone", "alice")
    sqs = stack.clients("sqs")
    sqs.send_message(QueueUrl=stack.callback_url, MessageBody="not json")
    messages = sqs.receive_message(QueueUrl=stack.callback_url, MaxNumberOfMessages=10,
                                   MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert len(messages) == 3
    busy = next(m["MessageId"] for m in messages if '"doc-busy"' in m["Body"])
    hides = recorded(sqs, "sqs.ChangeMessageVisibility")

    # WHEN the Lambda handler runs on it
    use_deliverer(CallbackDeliverer(stack.settings, stack.clients, LOCAL_POLICY, rng=random.Random(3)))
    try: response = handler(lambda_event(stack, messages), None)
    finally: use_deliverer(None)

    # THEN only the 503's message fails, hidden for its backoff on the queue the event's ARN names
    assert response == {"batchItemFailures": [{"itemIdentifier": busy}]}
    assert [c.headers["Idp-Delivery-Id"] for c in hook.calls] == [busy]
    assert len(hides) == 1 and hides[0]["QueueUrl"] == stack.callback_url
    assert 8 <= hides[0]["VisibilityTimeout"] <= 12


def test_the_local_loop_delivers_until_it_is_stopped(stack, receiver):
    # GIVEN the loop `idp-kit serve` runs, started before anything is finished
    hook = receiver()
    stop, reports = threading.Event(), []
    loop = threading.Thread(target=lambda: reports.append(
        run_callback_loop(stack.settings, stack.clients, stop, interval_s=0.05, policy=LOCAL_POLICY)))
    loop.start()
    try:
        # WHEN a document with a callback finishes
        submit(stack, "doc-4", hook.url + "/cb")
        finish(stack, "doc-4")
        # THEN the loop calls its receiver
        assert hook.called.wait(10), "the loop did not deliver within 10 s"
    finally:
        stop.set(); loop.join(10)
    # AND stops when told, reporting what it did
    assert not loop.is_alive()
    assert reports[0].outcomes == {DeliveryOutcome.delivered: 1} and isinstance(reports[0], DeliveryReport)
