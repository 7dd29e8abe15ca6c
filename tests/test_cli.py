"""`idp-kit events decode`, `idp-kit parse --json` and `idp-kit schema`, run as a user runs them, on inputs kept under tests/."""
from __future__ import annotations

import json

from conftest import FIXTURES, REPO

EVENTS = FIXTURES / "events"
DOCS = FIXTURES / "documents"
REF_KEYS = ["bucket", "key", "version_id", "etag", "size", "event_name", "event_time", "sequencer"]


def lines(proc):
    return [json.loads(l) for l in proc.stdout.splitlines()]


def test_events_decode_sns_envelope_prints_decoded_key(idp_kit):
    proc = idp_kit("events", "decode", str(EVENTS / "sqs_sns_envelope_put_key_with_spaces.json"))
    assert proc.returncode == 0, proc.stderr
    [ref] = lines(proc)
    assert list(ref) == REF_KEYS
    assert " " in ref["key"] and "+" not in ref["key"] and "%" not in ref["key"]
    assert ref["event_name"] == "ObjectCreated:Put"


def test_events_decode_envelope_and_raw_agree(idp_kit):
    env = lines(idp_kit("events", "decode", str(EVENTS / "sqs_sns_envelope_put_key_non_ascii.json")))
    raw = lines(idp_kit("events", "decode", str(EVENTS / "sqs_sns_raw_put_key_non_ascii.json")))
    assert env == raw and not env[0]["key"].isascii()


def test_events_decode_several_records_one_line_each(idp_kit):
    refs = lines(idp_kit("events", "decode", str(EVENTS / "s3_event_versioned_multiple_records.json")))
    assert len(refs) == 3 and all(r["version_id"] and r["sequencer"] for r in refs)


def test_events_decode_test_event_prints_nothing_and_says_why(idp_kit):
    proc = idp_kit("events", "decode", str(EVENTS / "sqs_sns_envelope_test_event.json"))
    assert proc.returncode == 0 and proc.stdout == "" and "TestEvent" in proc.stderr


def test_events_decode_malformed_is_a_clear_error(idp_kit):
    proc = idp_kit("events", "decode", str(EVENTS / "malformed_sns_message_not_json.json"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("idp-kit: events decode: ") and "Traceback" not in proc.stderr
    missing = idp_kit("events", "decode", str(EVENTS / "no_such_event.json"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_parse_json_one_document_per_input(idp_kit):
    files = ["purchase_order.html", "shipping_manifest.csv", "text_named_as.pdf", "truncated.docx"]
    proc = idp_kit("parse", "--json", *[str(DOCS / f) for f in files])
    assert proc.returncode == 0, proc.stderr
    docs = lines(proc)
    assert [d["source"]["uri"].rsplit("/", 1)[-1] for d in docs] == files
    html, csv, text, docx = docs
    assert html["status"] == "parsed" and html["source"]["content_type"] == "text/html"
    assert "Purchase order PO-7731" in [e["text"] for e in html["elements"] if e["type"] == "title"]
    table = next(e for e in html["elements"] if e["type"] == "table")
    assert [c["text"] for c in table["rows"][0]["cells"]] == ["Item", "Qty", "Unit price"]
    assert not any("trackPageView" in e["text"] for e in html["elements"])
    assert csv["status"] == "parsed" and next(e for e in csv["elements"] if e["type"] == "table")["rows"][2]["cells"][1]["text"] == "Lyon, FR"
    assert text["status"] == "parsed" and text["source"]["content_type"] == "text/plain"  # the bytes win over the name
    assert docx["status"] == "failed" and docx["errors"][0]["code"] == "corrupt" and docx["errors"][0]["message"]


def test_parse_same_file_twice_same_identity(idp_kit):
    a, b = lines(idp_kit("parse", "--json", str(DOCS / "shipping_manifest.csv"), str(DOCS / "shipping_manifest.csv")))
    assert (a["document_id"], a["revision_id"]) == (b["document_id"], b["revision_id"])


def test_schema_matches_committed_file(idp_kit):
    proc = idp_kit("schema")
    assert proc.returncode == 0
    assert proc.stdout == (REPO / "docs" / "canonical_document.schema.json").read_text()


def test_broken_configuration_is_a_clear_error(idp_kit):
    import os
    proc = idp_kit("sql", "render", env={**os.environ, "IDP_BATCH_SIZE": "50"})
    assert proc.returncode == 2 and proc.stderr.startswith("idp-kit: invalid setting: ") and "IDP_BATCH_SIZE" in proc.stderr
