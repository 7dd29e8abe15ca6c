"""Slower, end-to-end checks of idp_kit.parsers: every sample, hostile inputs, and concurrency.

The fast per-parser tests live next to the code in the parser chapters (nbs/11_content_detection.ipynb to nbs/14_parsers.ipynb).
"""
from __future__ import annotations

import io
import random
import threading
import zipfile
from pathlib import Path

import pytest

from idp_kit.canonical_schema import CanonicalDocument, DocumentStatus, ErrorCode, ListItem, SourceMetadata, Table, Title, document_id_for
from idp_kit.parsers import (CSV, DOCX, EMPTY, HTML, XLSX, MARKDOWN, MAX_CSV_ROWS, MAX_EXPANDED_BYTES, PDF, TEXT, detect_content_type,
                             parse_bytes, parse_file)

SAMPLES = Path(__file__).resolve().parents[1] / "nbs" / "samples"

# GIVEN each sample, THEN this status, error code and detected type
EXPECTED = {
    "invoice.pdf": ("parsed", None, PDF),
    "owner_password_only.pdf": ("parsed", None, PDF),
    "encrypted.pdf": ("failed", "encrypted", PDF),
    "corrupt_truncated.pdf": ("failed", "corrupt", PDF),
    "Résumé – Zoë Müller.docx": ("parsed", None, DOCX),
    "remittance_advice.html": ("parsed", None, HTML),
    "letter.txt": ("parsed", None, TEXT),
    "meeting_notes.md": ("parsed", None, MARKDOWN),
    "bank_statement.csv": ("parsed", None, CSV),
    "empty.txt": ("failed", "empty", EMPTY),
    "scanned_receipt.png": ("parsed", None, "image/png"),
    "scanned_invoice.png": ("parsed", None, "image/png"),
    "receipt_photo.jpg": ("parsed", None, "image/jpeg"),
    "scanned_letter_2p.pdf": ("parsed", None, PDF),
    "table_report.pdf": ("parsed", None, PDF),
    "application_form.pdf": ("parsed", None, PDF),
    "email_with_attachments.eml": ("parsed", None, "message/rfc822"),
    "expenses.xlsx": ("parsed", None, XLSX),
}

BLANK = {"scanned_receipt.png"}  # a 2x2 image: OCR reads it and finds no text


def test_every_sample_is_expected():
    on_disk = {p.name for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md"}
    assert on_disk == set(EXPECTED), "a sample was added or removed: update EXPECTED and nbs/samples/README.md"


def test_samples_are_small():
    sizes = {p.name: p.stat().st_size for p in SAMPLES.iterdir()}
    assert max(sizes.values()) < 50 * 1024 and sum(sizes.values()) < 400 * 1024, sizes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_status_and_round_trip(name: str):
    status, code, ctype = EXPECTED[name]
    doc = parse_file(SAMPLES / name)
    assert (doc.status.value, doc.errors[0].code.value if doc.errors else None, doc.source.content_type) == (status, code, ctype)
    assert doc.document_id == document_id_for((SAMPLES / name).resolve().as_uri())
    assert doc.source.size == (SAMPLES / name).stat().st_size and doc.revision_id == doc.source.sha256
    assert CanonicalDocument.model_validate_json(doc.model_dump_json()) == doc
    if status == "parsed" and name in BLANK:
        assert doc.pages and not doc.elements and doc.pages[0].text_source.startswith("ocr:")  # read, and nothing on it
    elif status == "parsed":
        assert doc.elements and doc.pages and doc.metrics.elements == len(doc.elements) and doc.classification.method == "content_type"
    else:
        assert not doc.elements and doc.errors[0].message


def test_pdf_contents():
    doc = parse_file(SAMPLES / "invoice.pdf")
    assert [p.number for p in doc.pages] == [1, 2, 3] and all(p.width and p.height for p in doc.pages)
    assert "Total due: CHF 3,210.73" in doc.text
    assert {e.page for e in doc.elements} == {1, 2, 3}
    assert "PDFium cannot open the PDF" in parse_file(SAMPLES / "encrypted.pdf").errors[0].message


def test_docx_contents_and_non_ascii_name():
    doc = parse_file(SAMPLES / "Résumé – Zoë Müller.docx")
    assert doc.source.uri.startswith("file:///") and "%20%E2%80%93%20" in doc.source.uri
    assert [e.text for e in doc.elements if isinstance(e, Title)] == ["Zoë Müller", "Profile", "Skills", "Career highlights", "Experience", "Languages"]
    assert sum(isinstance(e, ListItem) and e.ordered for e in doc.elements) == 3
    assert [len(e.rows) for e in doc.elements if isinstance(e, Table)] == [4, 2]


def test_html_and_csv_contents():
    html = parse_file(SAMPLES / "remittance_advice.html")
    assert "Zürcher Kantonalbank" in html.text and "analytics" not in html.text
    csv_doc = parse_file(SAMPLES / "bank_statement.csv")
    table = csv_doc.elements[0]
    assert table.rows[1].cells[2].text == "Northwind Office Supplies GmbH" and table.rows[3].cells[4].text == "378,00"


def _src(name: str = "doc") -> SourceMetadata:
    return SourceMetadata(uri=f"s3://bucket/incoming/{name}", bucket="bucket", key=f"incoming/{name}")


def test_truncated_and_bit_flipped_files_never_raise():
    rnd = random.Random(7)
    for name in ["invoice.pdf", "Résumé – Zoë Müller.docx", "remittance_advice.html", "bank_statement.csv", "meeting_notes.md"]:
        data = (SAMPLES / name).read_bytes()
        variants = [data[:n] for n in range(1, len(data), max(len(data) // 25, 1))]
        for _ in range(25):
            b = bytearray(data)
            for _ in range(20): b[rnd.randrange(len(b))] = rnd.randrange(256)
            variants.append(bytes(b))
        for v in variants:
            doc = parse_bytes(v, _src(name))
            assert doc.status in set(DocumentStatus)
            assert all(e.code != ErrorCode.parser_error for e in doc.errors), (name, len(v), doc.errors)


def test_binary_garbage_is_unsupported():
    doc = parse_bytes(random.Random(1).randbytes(100_000), _src("blob.pdf"))
    assert (doc.status, doc.errors[0].code, doc.source.declared_content_type) == (DocumentStatus.unsupported, ErrorCode.unsupported_type, PDF)


def test_deeply_nested_html():
    n = 100_000
    data = b"<!DOCTYPE html><html><body>" + b"<div>" * n + b"<p>bottom</p>" + b"</div>" * n + b"<p>after</p></body></html>"
    doc = parse_bytes(data, _src("deep.html"))
    assert doc.status == DocumentStatus.parsed and [e.text for e in doc.elements] == ["bottom", "after"]


def test_zip_bomb_docx_is_too_large_without_inflating():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            chunk = bytes(8 * 1024 * 1024)
            for _ in range(MAX_EXPANDED_BYTES // len(chunk) + 1): f.write(chunk)
    assert len(buf.getvalue()) < 2 * 1024 * 1024
    doc = parse_bytes(buf.getvalue(), _src("bomb.docx"))
    assert (doc.status, doc.errors[0].code) == (DocumentStatus.failed, ErrorCode.too_large)
    assert "possible zip bomb" in doc.errors[0].message


def test_large_csv_keeps_a_bounded_table_but_counts_every_row():
    rows = 200_000
    data = ("invoice;vendor;amount\n" + "".join(f"INV-{i};Vendor {i % 97};{i}.25\n" for i in range(rows))).encode()
    doc = parse_bytes(data, _src("big.csv"))
    fields = {f.name: f.value for f in doc.fields}
    assert (fields["row_count"], fields["rows_kept"], fields["truncated"]) == (str(rows), str(MAX_CSV_ROWS), "true")
    assert len(doc.elements[0].rows) == MAX_CSV_ROWS + 1 and len(doc.model_dump_json()) < 2_000_000


def test_invalid_utf8_after_valid_text_is_corrupt():
    data = ("Invoice from Zürich\n" * 10_000).encode() + b"\xff\xfe tail"
    doc = parse_bytes(data, _src("notes.txt"))
    assert (doc.status, doc.errors[0].code) == (DocumentStatus.failed, ErrorCode.corrupt)
    assert f"invalid UTF-8 at byte {len(data) - 7}" in doc.errors[0].message


def test_size_limit_from_parameter_and_file_not_read():
    data = (SAMPLES / "invoice.pdf").read_bytes()
    assert parse_bytes(data, _src("invoice.pdf"), max_bytes=len(data) - 1).errors[0].code == ErrorCode.too_large
    assert parse_bytes(data, _src("invoice.pdf"), max_bytes=len(data)).status == DocumentStatus.parsed
    doc = parse_file(SAMPLES / "invoice.pdf", max_bytes=1024)
    assert (doc.errors[0].code, doc.errors[0].stage, doc.revision_id) == (ErrorCode.too_large, "fetch", None)


def test_pdfs_parse_consistently_from_threads():
    data = (SAMPLES / "invoice.pdf").read_bytes()
    expected = parse_bytes(data, _src("invoice.pdf")).text
    results: list[str] = []
    def work() -> None:
        for _ in range(5): results.append(parse_bytes(data, _src("invoice.pdf")).text)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert results == [expected] * 20


def test_detection_ignores_the_name_for_binary_types():
    pdf = (SAMPLES / "invoice.pdf").read_bytes()
    assert detect_content_type(b"\r\n\r\n" + pdf, "x.bin") == PDF  # junk before the header
    assert detect_content_type((SAMPLES / "scanned_receipt.png").read_bytes(), "receipt.docx") == "image/png"
