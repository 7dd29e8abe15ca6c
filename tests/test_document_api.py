"""The Document Processing API end to end: the client against the local server (the deployed handlers and authorizer
in worker processes) on a local stack, with the poller in between and Delta as the truth."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from conftest import SAMPLES
from idp_kit.api_keys import ApiKeyStore
from idp_kit.api_server import ApiServer
from idp_kit.canonical_schema import CanonicalDocument
from idp_kit.document_processing_client import (ConflictError, DocumentProcessingClient, NotFinishedError, NotFoundError,
                                                 UnauthenticatedError, ForbiddenError)
from idp_kit.document_status import ProcessingStatus
from idp_kit.local import LocalStack
from idp_kit.settings import MOTO_CREDENTIALS, AwsClients, aws_client
from idp_kit.sqs_batch_ingestion import run_poller
from idp_kit.tracking import table_name


@pytest.fixture(scope="module")
def api():
    "A local stack, the API served on it, and keys for two callers."
    with LocalStack() as stack, ApiServer(stack.env(), workers=2) as server:
        keys = key_store(stack)
        clients = {name: DocumentProcessingClient(server.url, api_key=keys.create(name).key, max_connections=25)
                   for name in ("alice", "bob")}
        yield stack, server, clients


def key_store(stack: LocalStack) -> ApiKeyStore:
    return ApiKeyStore(stack.settings, AwsClients(stack.settings, stack.boto3_session()))


def poll(stack: LocalStack, session: boto3.Session | None = None) -> None:
    run_poller(stack.settings, stack.spark(), max_empty_receives=1, session=session or stack.boto3_session())


def stored_document(stack: LocalStack, document_id: str) -> CanonicalDocument:
    "What Delta holds for the document's current revision."
    q = f"SELECT document_json FROM {table_name(stack.settings, 'document_results')} WHERE document_id = :d"
    rows = stack.spark().sql(q, args={"d": document_id}).collect()
    assert len(rows) == 1, rows
    return CanonicalDocument.model_validate_json(rows[0].document_json)


def test_documents_go_from_queued_through_processing_to_their_outcome_and_results_are_what_delta_holds(api):
    # GIVEN files uploaded through the API (a good PDF, a text letter, a corrupt PDF) and an object submitted by reference
    stack, _, clients = api
    alice = clients["alice"]
    views = {name: alice.submit_file(SAMPLES / name) for name in ("invoice.pdf", "letter.txt", "corrupt_truncated.pdf")}
    s3 = aws_client(stack.settings, "s3", stack.boto3_session())
    s3.put_object(Bucket=stack.settings.bucket, Key="archive/meeting_notes.md", Body=(SAMPLES / "meeting_notes.md").read_bytes())
    views["reference"] = alice.submit_s3(f"s3://{stack.settings.bucket}/archive/meeting_notes.md")
    assert {v.status for v in views.values()} == {ProcessingStatus.QUEUED}
    with pytest.raises(NotFinishedError):
        alice.result(views["letter.txt"].document_id)

    # WHEN the poller runs, and we look at each document's status while its object is being fetched
    seen: dict[str, str] = {}
    keys = {v.source.key: v.document_id for v in views.values()}
    def look(params, **_):
        if (doc := keys.get(params.get("Key"))): seen[doc] = alice.get(doc).status.value
    session = boto3.Session(region_name=stack.settings.aws_region, aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    session.events.register("before-parameter-build.s3.GetObject", look)
    poll(stack, session)

    # THEN each was PROCESSING while fetched, and is finished now with one attempt
    assert set(seen) == set(keys.values()) and set(seen.values()) == {"PROCESSING"}
    final = {name: alice.wait(v.document_id, timeout_s=30) for name, v in views.items()}
    assert {n: v.status for n, v in final.items()} == {"invoice.pdf": ProcessingStatus.SUCCEEDED,
        "letter.txt": ProcessingStatus.SUCCEEDED, "corrupt_truncated.pdf": ProcessingStatus.FAILED,
        "reference": ProcessingStatus.SUCCEEDED}
    assert all(v.attempts == 1 and v.started_at and v.finished_at for v in final.values())
    assert final["corrupt_truncated.pdf"].error.code
    # AND every page walked by the client puts back exactly the document Delta holds
    for name in ("invoice.pdf", "letter.txt", "reference", "corrupt_truncated.pdf"):
        doc_id = final[name].document_id
        assert alice.result(doc_id, page_size=2) == stored_document(stack, doc_id), name
        assert [e for e in alice.iter_results(doc_id, page_size=3)] == stored_document(stack, doc_id).elements
    assert [r.current for r in alice.revisions(final["letter.txt"].document_id).revisions] == [True]


def test_an_idempotency_key_makes_twenty_concurrent_submits_one_document_and_without_it_twenty(api):
    stack, _, clients = api
    carol = DocumentProcessingClient(clients["alice"].base_url, api_key=key_store(stack).create("carol").key,
                                     max_connections=25)
    s3 = aws_client(stack.settings, "s3", stack.boto3_session())
    s3.put_object(Bucket=stack.settings.bucket, Key="archive/letter.txt", Body=(SAMPLES / "letter.txt").read_bytes())
    uri = f"s3://{stack.settings.bucket}/archive/letter.txt"
    with ThreadPoolExecutor(20) as pool:
        keyed = list(pool.map(lambda _: carol.submit_s3(uri, idempotency_key="same-key-20"), range(20)))
        unkeyed = list(pool.map(lambda _: carol.submit_s3(uri), range(20)))
    assert len({v.document_id for v in keyed}) == 1
    assert len({v.document_id for v in unkeyed}) == 20
    listed = {v.document_id for v in carol.iter_documents()}
    assert listed == {v.document_id for v in keyed + unkeyed}  # none lost, none extra


def test_another_caller_can_neither_read_list_page_reprocess_nor_delete_a_document(api):
    stack, _, clients = api
    alice, bob = clients["alice"], clients["bob"]
    doc = alice.submit_file(SAMPLES / "meeting_notes.md")
    poll(stack)
    assert alice.wait(doc.document_id, timeout_s=30).status == ProcessingStatus.SUCCEEDED
    for attempt in (bob.get, bob.result, bob.revisions, bob.reprocess, bob.delete):
        with pytest.raises(NotFoundError):
            attempt(doc.document_id)
    assert doc.document_id not in {v.document_id for v in bob.iter_documents()}
    assert alice.get(doc.document_id).status == ProcessingStatus.SUCCEEDED  # untouched


def test_reprocess_parses_again_and_delete_purges_results_and_status(api):
    stack, _, clients = api
    alice = clients["alice"]
    doc = alice.submit_file(SAMPLES / "letter.txt")
    poll(stack)
    done = alice.wait(doc.document_id, timeout_s=30)
    again = alice.reprocess(doc.document_id)
    assert again.status == ProcessingStatus.QUEUED
    with pytest.raises(ConflictError):
        alice.reprocess(doc.document_id)  # already queued
    poll(stack)
    redone = alice.wait(doc.document_id, timeout_s=30)
    assert (redone.status, redone.revision_id, redone.attempts) == (ProcessingStatus.SUCCEEDED, done.revision_id, 2)
    gone = alice.delete(doc.document_id)
    assert gone.status == ProcessingStatus.DELETED
    with pytest.raises(NotFoundError):
        alice.get(doc.document_id)
    assert doc.document_id in {v.document_id for v in alice.iter_documents(status=ProcessingStatus.DELETED)}
    q = f"SELECT COUNT(*) AS n FROM {table_name(stack.settings, 'document_results')} WHERE document_id = :d"
    assert stack.spark().sql(q, args={"d": doc.document_id}).collect()[0].n == 0
    with pytest.raises(NotFoundError):
        alice.result(doc.document_id)


def test_the_server_refuses_missing_and_unknown_keys_as_the_gateway_would(api):
    _, server, _ = api
    with pytest.raises(UnauthenticatedError):
        DocumentProcessingClient(server.url).get("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ForbiddenError):
        DocumentProcessingClient(server.url, api_key="idpk_" + "A" * 43).get("00000000-0000-0000-0000-000000000000")
    import urllib.request
    doc = json.loads(urllib.request.urlopen(f"{server.url}/v1/openapi.json").read())
    assert doc["openapi"] == "3.1.0"


def test_idp_kit_serve_joins_the_running_stack_prints_its_url_and_stops_cleanly(tmp_path, idp_kit):
    # GIVEN a running local stack in a state directory, and `idp-kit serve` started there as a user would
    import os
    import signal
    import subprocess
    from conftest import idp_kit_command
    with LocalStack(data_dir=tmp_path) as stack:
        env = {**os.environ, "IDP_STATE_DIR": str(tmp_path)}
        serve = subprocess.Popen([str(idp_kit_command()), "serve", "--port", "0"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            url = serve.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), serve.stderr.read()
            # WHEN a document goes through it and the poller
            client = DocumentProcessingClient(url, api_key=key_store(stack).create("dana").key)
            doc = client.submit_file(SAMPLES / "letter.txt")
            poll(stack)
            # THEN it succeeds, its result is what Delta holds, and the key of another stack is refused
            assert client.wait(doc.document_id, timeout_s=30).status == ProcessingStatus.SUCCEEDED
            assert client.result(doc.document_id) == stored_document(stack, doc.document_id)
        finally:
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=30) == 0
