"""Every saved event under tests/fixtures/events decodes to exactly the object references listed here.

GIVEN a saved SQS message, SNS notification, S3 event or EventBridge event (captured from moto 5.2.5, or
copied from the AWS documentation; see tests/fixtures/events/README.md), WHEN `decode_event_file` reads it,
THEN it yields these references — and `object_ref_json` prints them as these JSON lines (the path of
`idp-kit events decode FILE`).
"""
from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path

import pytest

from idp_kit.events import (OBJECT_REF_JSON_KEYS, EventFileError, compare_sequencers, decode_event_file, is_object_created,
                            is_object_removed, object_ref_json, read_event_file, sequencer_key)

FIXTURES = Path(__file__).parent / "fixtures" / "events"

# moto's objects: (key, etag, size), the same content in every bucket
SPACES = ("incoming/red flower.pdf", "e11c6a90aa1a1cff675ab9c1ddf5cea3", 34)
PLUS = ("incoming/c++ notes+v2.txt", "3167afa592acc4d78aa53fba7fa79a98", 36)
NON_ASCII = ("incoming/café/naïve résumé 日本.txt", "ae0ac05debdbbb849fd3c011d40598e9", 52)
NESTED = ("incoming/2026/05/invoices/acme/inv-001.pdf", "79fedfadf3a92533b5129d31b2679245", 53)
MULTIPART = ("incoming/big scan.pdf", "16329fb6004d64a4fbc5bbb983fa0528-2", 5243904)


def moto_ref(bucket: str, obj: tuple[str, str, int], event_name: str, time: str) -> tuple:
    "A reference as moto produces it: no version id, no sequencer."
    key, etag, size = obj
    return (bucket, key, None, etag, size, event_name, time, None)


def through_sns(obj: tuple[str, str, int], event_name: str, time: str) -> list[tuple]:
    return [moto_ref("idp-kit-landing", obj, event_name, time)]


# fixture file -> references, as (bucket, key, version_id, etag, size, event_name, event_time, sequencer)
EXPECTED: dict[str, list[tuple]] = {
    # moto: S3 -> SNS -> SQS, enveloped and raw (the same S3 event, so the same references)
    **{f"sqs_sns_{road}_test_event.json": [] for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_put_key_with_spaces.json": through_sns(SPACES, "ObjectCreated:Put", "2026-11-25T19:40:38.963Z") for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_put_key_with_plus.json": through_sns(PLUS, "ObjectCreated:Put", "2026-11-25T19:40:42.262Z") for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_put_key_non_ascii.json": through_sns(NON_ASCII, "ObjectCreated:Put", "2026-11-25T19:40:45.553Z") for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_put_nested_folders.json": through_sns(NESTED, "ObjectCreated:Put", "2026-11-25T19:40:48.902Z") for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_multipart_put.json": through_sns(MULTIPART, "ObjectCreated:Put", "2026-11-25T19:40:52.406Z") for road in ("envelope", "raw")},
    **{f"sqs_sns_{road}_multipart_complete.json": through_sns(MULTIPART, "ObjectCreated:CompleteMultipartUpload", "2026-11-25T19:40:52.410Z") for road in ("envelope", "raw")},
    "sns_notification_put_key_with_spaces.json": through_sns(SPACES, "ObjectCreated:Put", "2026-11-25T19:40:38.963Z"),
    # moto: S3 -> SQS directly
    "sqs_direct_test_event.json": [],
    "sqs_direct_put_key_with_spaces.json": [moto_ref("idp-kit-direct", SPACES, "ObjectCreated:Put", "2026-11-25T19:40:41.118Z")],
    "sqs_direct_put_key_with_plus.json": [moto_ref("idp-kit-direct", PLUS, "ObjectCreated:Put", "2026-11-25T19:40:44.416Z")],
    "sqs_direct_put_key_non_ascii.json": [moto_ref("idp-kit-direct", NON_ASCII, "ObjectCreated:Put", "2026-11-25T19:40:47.737Z")],
    "sqs_direct_put_nested_folders.json": [moto_ref("idp-kit-direct", NESTED, "ObjectCreated:Put", "2026-11-25T19:40:51.086Z")],
    "sqs_direct_multipart_put.json": [moto_ref("idp-kit-direct", MULTIPART, "ObjectCreated:Put", "2026-11-25T19:40:54.807Z")],
    "sqs_direct_multipart_complete.json": [moto_ref("idp-kit-direct", MULTIPART, "ObjectCreated:CompleteMultipartUpload", "2026-11-25T19:40:54.808Z")],
    "sqs_direct_removed_delete.json": [moto_ref("idp-kit-direct", SPACES, "ObjectRemoved:Delete", "2026-11-25T19:40:56.061Z")],
    "sqs_direct_versioned_bucket_put.json": [("idp-kit-versioned", "incoming/contract.pdf", None, "6654c734ccab8f440ff0825eb443dc7f", 2,
                                              "ObjectCreated:Put", "2026-11-25T19:40:58.261Z", None)],
    "sqs_direct_copy.json": [("idp-kit-direct", "incoming/copy of inv.pdf", None, NESTED[1], 53, "ObjectCreated:Copy", "2026-11-25T19:40:59.519Z", None)],
    "receive_message_response_two_messages.json": [moto_ref("idp-kit-direct", PLUS, "ObjectCreated:Put", "2026-11-25T19:40:44.416Z"),
                                                   moto_ref("idp-kit-direct", NESTED, "ObjectCreated:Put", "2026-11-25T19:40:51.086Z")],
    # moto: S3 -> EventBridge -> SQS (key verbatim; moto's reason "ObjectCreated" maps to ObjectCreated:*)
    "sqs_eventbridge_moto_object_created.json": [("idp-kit-eb", "incoming/red flower+c++.pdf", "f7a472e0-64c3-4f74-b46a-55778b8b0fd9",
                                                  "2fc4ddaa1c378ef0a54726e992c707d4", 2, "ObjectCreated:*", "2026-11-25T19:41:01.000Z", "617f08299329d189")],
    "sqs_eventbridge_moto_object_tags_added.json": [("idp-kit-eb", "incoming/red flower+c++.pdf", "f7a472e0-64c3-4f74-b46a-55778b8b0fd9",
                                                     "2fc4ddaa1c378ef0a54726e992c707d4", 2, "ObjectTagging:Put", "2026-11-25T19:41:01.000Z", "617f08299329d189")],
    # AWS documentation examples
    "s3_test_event_doc.json": [],
    "s3_event_doc_put_versioned.json": [("amzn-s3-demo-bucket", "HappyFace.jpg", "096fKKXTRTtl3on89fVO.nfljtsv6qko", "d41d8cd98f00b204e9800998ecf8427e",
                                         1024, "ObjectCreated:Put", "1970-01-01T00:00:00.000Z", "0055AED6DCD90281E5")],
    "eventbridge_doc_object_created.json": [("amzn-s3-demo-bucket1", "example-key", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "b1946ac92492d2347c6235b4d2611184",
                                             5, "ObjectCreated:Put", "2021-11-12T00:00:00.000Z", "617f08299329d189")],
    "eventbridge_doc_object_deleted_delete_marker.json": [("amzn-s3-demo-bucket1", "example-key", "1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF", "d41d8cd98f00b204e9800998ecf8427e",
                                                           None, "ObjectRemoved:DeleteMarkerCreated", "2021-11-12T00:00:00.000Z", "617f0837b476e463")],
    "eventbridge_doc_object_deleted_lifecycle.json": [("amzn-s3-demo-bucket1", "example-key", "mtB0cV.jejK63XkRNceanNMC.qXPWLeK", "d41d8cd98f00b204e9800998ecf8427e",
                                                       None, "LifecycleExpiration:DeleteMarkerCreated", "2021-11-12T00:00:00.000Z", "617b398000000000")],
    # crafted on the documented shape: eventVersion 2.5, versioned bucket, real-looking sequencers, AWS key encoding
    "s3_event_versioned_multiple_records.json": [
        ("idp-kit-landing", "incoming/red flower.pdf", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "1b2cf535f27731c974343645a3985328", 10240,
         "ObjectCreated:Put", "2026-05-04T10:00:00.000Z", "0066A1B2C3D4E5F601"),
        ("idp-kit-landing", "incoming/red flower.pdf", "8u1hd7y8dP.vxtk2hVtHyBgLzDwvu6QJ", "c8c9a2ef8d1a8d1f35e1b2b5f7c3f6a1-4", 20971520,
         "ObjectCreated:CompleteMultipartUpload", "2026-05-04T10:00:01.250Z", "0066A1B2C3D4E5F70A"),
        ("idp-kit-landing", "incoming/red flower.pdf", "Uj0QFJc7bFPRqe7RrF7sIvT4Rb0B7vMA", None, None,
         "ObjectRemoved:DeleteMarkerCreated", "2026-05-04T10:00:02.500Z", "0066A1B2C3D4E5F8")],
    "s3_event_unversioned_removed_delete.json": [("idp-kit-landing", "incoming/2026/05/invoiceé +1.pdf", None, None, None,
                                                  "ObjectRemoved:Delete", "2026-05-04T10:05:00.000Z", "0066A1B2C3D4E5F9AB")],
}

# fixture file -> what the error must say
MALFORMED: dict[str, str] = {
    "malformed_file_not_json.json": "file is not JSON",
    "malformed_body_not_json.json": "body is not JSON",
    "malformed_sns_message_not_json.json": "SNS envelope's Message is not JSON",
    "malformed_body_unknown_shape.json": "JSON but not an S3 event, S3 test event, SNS notification, EventBridge event or API submission",
    "malformed_record_missing_key.json": "message 0 record 1: record has no s3.object.key",
    "malformed_record_values_out_of_range.json": "message 0 record 0: record has an invalid field: size input should be less than or equal to 5497558138880",
}


def as_tuple(ref) -> tuple:
    d = json.loads(object_ref_json(ref))
    return tuple(d[k] for k in OBJECT_REF_JSON_KEYS)


def test_every_fixture_has_an_expectation_and_a_readme_entry():
    files = {p.name for p in FIXTURES.glob("*.json")}
    assert files == set(EXPECTED) | set(MALFORMED)
    assert not set(EXPECTED) & set(MALFORMED)
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert [f for f in sorted(files) if f"`{f}`" not in readme] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_decodes_to_exact_refs(name):
    refs = decode_event_file(FIXTURES / name)
    assert [as_tuple(r) for r in refs] == EXPECTED[name]
    assert all(r.event_time.tzinfo is not None and r.event_time.utcoffset() == timezone.utc.utcoffset(None) for r in refs)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_lines_are_one_json_object_per_ref(name):
    lines = [object_ref_json(r) for r in decode_event_file(FIXTURES / name)]
    assert all("\n" not in line for line in lines)
    assert [json.loads(line) for line in lines] == [dict(zip(OBJECT_REF_JSON_KEYS, t)) for t in EXPECTED[name]]


def test_cli_line_is_exact():
    [ref] = decode_event_file(FIXTURES / "sqs_sns_envelope_put_key_with_plus.json")
    assert object_ref_json(ref) == ('{"bucket": "idp-kit-landing", "key": "incoming/c++ notes+v2.txt", "version_id": null, '
                                    '"etag": "3167afa592acc4d78aa53fba7fa79a98", "size": 36, "event_name": "ObjectCreated:Put", '
                                    '"event_time": "2026-11-25T19:40:42.262Z", "sequencer": null}')


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_fixture_says_what_is_wrong(name):
    with pytest.raises(EventFileError) as e:
        decode_event_file(FIXTURES / name)
    assert MALFORMED[name] in str(e.value)
    assert str(e.value).startswith(str(FIXTURES / name))


def test_missing_file():
    with pytest.raises(EventFileError, match="no such file"):
        decode_event_file(FIXTURES / "does-not-exist.json")


@pytest.mark.parametrize("case", ["test_event", "put_key_with_spaces", "put_key_with_plus", "put_key_non_ascii", "put_nested_folders",
                                  "multipart_put", "multipart_complete"])
def test_sns_envelope_and_raw_delivery_give_identical_refs(case):
    enveloped = read_event_file(FIXTURES / f"sqs_sns_envelope_{case}.json")
    raw = read_event_file(FIXTURES / f"sqs_sns_raw_{case}.json")
    assert [m.envelope for m in enveloped + raw] == ["sns", "direct"]
    assert enveloped[0].kind == raw[0].kind
    assert enveloped[0].refs == raw[0].refs


@pytest.mark.parametrize("name", ["sqs_direct_test_event.json", "sqs_sns_envelope_test_event.json", "sqs_sns_raw_test_event.json", "s3_test_event_doc.json"])
def test_test_events_are_recognised_not_errors(name):
    [message] = read_event_file(FIXTURES / name)
    assert (message.kind, message.records) == ("test_event", [])
    assert message.test_event_bucket in ("idp-kit-landing", "idp-kit-direct", "amzn-s3-demo-bucket")


def test_moto_sends_put_and_complete_for_one_multipart_upload():
    "A free duplicate: the poller must treat these as the same object, not two documents."
    [put] = decode_event_file(FIXTURES / "sqs_direct_multipart_put.json")
    [complete] = decode_event_file(FIXTURES / "sqs_direct_multipart_complete.json")
    assert (put.uri, put.etag, put.size) == (complete.uri, complete.etag, complete.size)
    assert (put.event_name, complete.event_name) == ("ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload")
    assert is_object_created(put) and is_object_created(complete)


def test_created_and_removed_classification_over_fixtures():
    refs = {name: decode_event_file(FIXTURES / name) for name in EXPECTED}
    removed = sorted(name for name, rs in refs.items() if any(is_object_removed(r) for r in rs))
    assert removed == ["eventbridge_doc_object_deleted_delete_marker.json", "eventbridge_doc_object_deleted_lifecycle.json",
                       "s3_event_unversioned_removed_delete.json", "s3_event_versioned_multiple_records.json", "sqs_direct_removed_delete.json"]
    neither = sorted(name for name, rs in refs.items() for r in rs if not is_object_created(r) and not is_object_removed(r))
    assert neither == ["sqs_eventbridge_moto_object_tags_added.json"]


def test_sequencers_order_the_events_of_one_key_whatever_the_arrival_order():
    put, complete, marker = decode_event_file(FIXTURES / "s3_event_versioned_multiple_records.json")
    for arrival in ([marker, put, complete], [complete, marker, put], [put, complete, marker]):
        assert sorted(arrival, key=lambda r: sequencer_key(r.sequencer)) == [put, complete, marker]
    assert compare_sequencers(marker.sequencer, complete.sequencer) == 1  # 16 digits vs 18: right-padded
    # moto sends no sequencer: such an event never proves it is newer
    [moto_put] = decode_event_file(FIXTURES / "sqs_direct_put_key_with_spaces.json")
    assert moto_put.sequencer is None and compare_sequencers(moto_put.sequencer, put.sequencer) == -1
