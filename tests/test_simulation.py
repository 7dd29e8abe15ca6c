"""`idp-kit simulate` end to end, as a user runs it: the issue's "Done when" checks on a fresh local stack."""
from __future__ import annotations

import json

import pytest

from conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    # GIVEN a fresh working directory; WHEN the user runs the simulation with --json
    import subprocess
    from conftest import idp_kit_command
    proc = subprocess.run([str(idp_kit_command()), "simulate", "--json"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path_factory.mktemp("sim"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_nothing_lost_or_duplicated(report):
    assert report["ok"] is True
    assert report["lost_revisions"] == [] and report["duplicated_results"] == []
    assert report["duplicated_metadata"] == [] and not any(report["lost_events"].values())
    assert all(sum(d.values()) == 0 for d in report["queues_left"].values()), report["queues_left"]


def test_every_revision_has_one_result_row(report):
    samples = [p for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md"]
    assert report["uploads"] == len(samples) + 2  # the first sample again (same bytes), and a text sample revised
    attachments = 2  # the sample email's two attachments are documents of their own, one row each
    assert report["distinct_revisions"] == len(samples) + 1
    assert report["table_rows"]["document_results"] == sum(report["documents_by_status"].values()) == len(samples) + 1 + attachments


def test_bad_files_are_recorded_with_their_error(report):
    by_key = {f["key"].rsplit("/", 1)[-1]: (f["status"], f["error_code"]) for f in report["failures"]}
    assert by_key["corrupt_truncated.pdf"] == ("failed", "corrupt")
    assert by_key["encrypted.pdf"] == ("failed", "encrypted")
    assert by_key["empty.txt"] == ("failed", "empty")
    assert "scanned_receipt.png" not in by_key  # a blank 2x2 scan: OCR'd, parsed, no text
    assert all(f["error_message"] for f in report["failures"])


def test_duplicate_upload_is_recorded_not_reparsed(report):
    first = sorted(p.name for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md")[0]
    assert report["duplicates"] == [f"incoming/{first}"]
    ingest = report["messages_by_status"]["idp-kit-ingest"]
    assert ingest["duplicate"] == 1 and ingest["ignored"] == 1  # the duplicate, and the s3:TestEvent


def test_new_content_under_an_old_key_is_a_new_revision(report):
    [(key, n)] = report["revisions"].items()
    assert n == 2 and key.endswith((".txt", ".md"))
    assert key not in report["duplicates"]


def test_every_message_has_one_metadata_row_per_queue(report):
    # the ingest queue and the audit queue each received every upload, plus the s3:TestEvent
    for queue, statuses in report["messages_by_status"].items():
        assert sum(statuses.values()) == report["uploads"] + 1, (queue, statuses)
    assert report["table_rows"]["raw_ingestion_metadata"] == 2 * (report["uploads"] + 1)


def test_readable_summary(idp_kit, tmp_path):
    proc = idp_kit("simulate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nothing lost, nothing duplicated" in proc.stdout
    assert "documents by status:" in proc.stdout and "Delta rows:" in proc.stdout
