"""End-to-end checks of the email, spreadsheet, slides and Markdown parsers through `parse_bytes`: the corpus samples
against their expected values, attachments as child documents, and inputs nobody here wrote (seeded fuzzing,
hostile MIME, hostile workbooks).

The fast per-function tests live beside the code: nbs/13b_email_parser.ipynb, 13c_spreadsheet_parser.ipynb,
13d_slides_parser.ipynb and 12d_markdown_parser.ipynb.
"""
from __future__ import annotations

import io
import json
import random
import time
import tracemalloc
import zipfile
from pathlib import Path

import pptx
import pytest
import xlsxwriter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from pptx.util import Inches

import idp_kit.parsers  # noqa: F401  (registers the built-in formats)
from idp_kit.canonical_schema import (CanonicalDocument, DocumentStatus, ParentRef, SourceMetadata, Table,
                                      document_id_for)
from idp_kit.parsers.detection import EMAIL, PPTX, detect_content_type
from idp_kit.parsers.email import EmailLimits, parse_email
from idp_kit.parsers.registry import child_source
from idp_kit.parsers.registry import parse_bytes, parse_file
from idp_kit.parsers.slides import parse_pptx  # noqa: F401  (registers PPTX)
from idp_kit.parsers.spreadsheet import parse_xlsx

SAMPLES = Path(__file__).resolve().parents[1] / "nbs" / "samples"
EXPECTED = SAMPLES / "expected"


def _expected(name: str) -> dict:
    return json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))


def _src(name: str) -> SourceMetadata:
    return SourceMetadata(uri=f"s3://landing/incoming/{name}", bucket="landing", key=f"incoming/{name}")


# --- email -------------------------------------------------------------------------------------------------------


def test_email_sample_matches_its_expected_values():
    # GIVEN the corpus email and its expected values WHEN it is parsed from a file
    exp, doc = _expected("email_with_attachments.eml"), parse_file(SAMPLES / "email_with_attachments.eml")
    # THEN it is an email, its header fields are as expected and its body text is in the document
    assert (doc.status, doc.source.content_type, doc.parser.name) == (DocumentStatus.parsed, exp["content_type"],
                                                                      "email")
    fields = {f.name: f.value for f in doc.fields}
    assert {k: fields.get(k) for k in exp["fields"]} == exp["fields"]
    for text in exp["text_contains"]: assert text in doc.text, text
    assert doc.elements[0].text == exp["fields"]["subject"]


def test_each_attachment_becomes_its_own_document_linked_to_the_parent():
    # GIVEN the parsed corpus email
    data = (SAMPLES / "email_with_attachments.eml").read_bytes()
    parent, children = parse_bytes(data, _src("mail.eml")), parse_email(data).children
    exp = _expected("email_with_attachments.eml")["children"]
    assert [(c.name, c.declared_content_type) for c in children] == [(e["name"], e["content_type"]) for e in exp]
    ids = set()
    for i, (child, e) in enumerate(zip(children, exp)):
        # WHEN each child is parsed from its derived source, as the pipeline does
        assert child.data == (SAMPLES / e["same_as"]).read_bytes()
        src = child_source(parent.source, child, i)
        doc = parse_bytes(child.data, src)
        ref = ParentRef(document_id=parent.document_id, revision_id=parent.revision_id, part=child.name, index=i)
        doc = doc.model_copy(update={"parent": ref})
        # THEN it is parsed by its own parser, with its own id and revision, and round-trips with its parent link
        assert (doc.status, doc.source.content_type) == (DocumentStatus.parsed, e["content_type"]), doc.errors
        assert doc.document_id == document_id_for(src.uri) != parent.document_id
        assert doc.revision_id != parent.revision_id
        assert src.uri.startswith("s3://landing/incoming/mail.eml#attachment=")
        assert CanonicalDocument.model_validate_json(doc.model_dump_json()) == doc
        ids.add(doc.document_id)
    assert len(ids) == len(children)
    # AND re-parsing the same message gives the same child ids
    again = [document_id_for(child_source(parent.source, c, i).uri) for i, c in enumerate(parse_email(data).children)]
    assert set(again) == ids


def test_a_forwarded_message_is_a_child_email_whose_attachments_are_grandchildren():
    from email.message import EmailMessage
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "a@x.example", "inner"
    inner.set_content("see attachment")
    pdf = (SAMPLES / "invoice.pdf").read_bytes()
    inner.add_attachment(pdf, maintype="application", subtype="pdf", filename="inv.pdf")
    outer = EmailMessage(); outer["From"], outer["Subject"] = "b@x.example", "Fwd: inner"; outer.set_content("FYI")
    outer.add_attachment(inner)
    child = parse_email(outer.as_bytes()).children[0]
    assert (child.name, detect_content_type(child.data, child.name)) == ("part-2.eml", EMAIL)
    grandchild = parse_email(child.data).children[0]
    assert (grandchild.name, grandchild.data) == ("inv.pdf", (SAMPLES / "invoice.pdf").read_bytes())
    src = child_source(child_source(_src("m.eml"), child, 0), grandchild, 0)
    assert src.uri == "s3://landing/incoming/m.eml#attachment=0/part-2.eml/attachment=0/inv.pdf"


def test_email_detection_uses_bytes_and_the_eml_name_only_as_a_tie_breaker():
    data = (SAMPLES / "email_with_attachments.eml").read_bytes()
    assert detect_content_type(data, "mail.txt") == detect_content_type(data) == EMAIL
    weak = b"From: ap@x.example\nSubject: hello\n\nbody\n"
    assert (detect_content_type(weak), detect_content_type(weak, "saved.eml")) == ("text/plain", EMAIL)
    for name in ("letter.txt", "meeting_notes.md", "bank_statement.csv", "remittance_advice.html"):
        assert detect_content_type((SAMPLES / name).read_bytes(), name) != EMAIL, name


def test_an_mbox_becomes_one_child_per_message():
    head = (b"From ap@x.example Mon Mar  2 09:00:00 2026\nFrom: ap@x.example\nSubject: m%d\n"
            b"Date: Mon, 02 Mar 2026 09:00:0%d +0100\n\n")
    box = b"".join(head % (i, i) + b">From the desk of AP\nbody %d\n\n" % i for i in range(3))
    doc = parse_bytes(box, _src("box.mbox"))
    assert (doc.status, doc.source.content_type) == (DocumentStatus.parsed, EMAIL)
    children = parse_email(box).children
    assert [c.name for c in children] == ["message-1.eml", "message-2.eml", "message-3.eml"]
    assert parse_email(children[1].data).elements[-1].text == "From the desk of AP\nbody 1"


def test_hostile_mime_is_refused_quickly_with_too_large():
    many = b"From: a@x\nContent-Type: multipart/mixed; boundary=X\n\n" + b"--X\n\nx\n" * 200_000 + b"--X--\n"
    deep = (b"From: a@x\nContent-Type: multipart/mixed; boundary=b0\n\n"
            + b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(900))
            + b"x\n")
    for data, message in ((many, "MIME delimiter lines"), (deep, "nested")):
        started = time.perf_counter()
        doc = parse_bytes(data, _src("evil.eml"))
        assert (doc.status, doc.errors[0].code.value) == (DocumentStatus.failed, "too_large")
        assert message in doc.errors[0].message
        assert time.perf_counter() - started < 10
    with pytest.raises(Exception, match="decodes to more than"):
        parse_email((SAMPLES / "email_with_attachments.eml").read_bytes(), EmailLimits(max_decoded_bytes=5_000))


# --- spreadsheets ------------------------------------------------------------------------------------------------


def _same_value(text: str, want: object) -> bool:
    "A cell's text against an expected JSON value (numbers compared as numbers; a percentage as its fraction)."
    if isinstance(want, str): return text == want
    if text.endswith("%"): return abs(float(text[:-1]) / 100 - want) < 0.001
    return float(text) == want


def test_spreadsheet_sample_matches_its_expected_tables():
    exp, doc = _expected("expenses.xlsx"), parse_file(SAMPLES / "expenses.xlsx")
    assert (doc.status, doc.source.content_type, doc.parser.name) == (DocumentStatus.parsed, exp["content_type"],
                                                                      "spreadsheet")
    assert len(doc.pages) == exp["pages"]
    tables = [e for e in doc.elements if isinstance(e, Table)]
    for t, want in zip(tables, exp["tables"], strict=True):
        page = t.page
        fields = {f.name: f.value for f in doc.fields if f.page == page}
        assert next(e.text for e in doc.elements if e.page == page and e.type == "title") == want["sheet"]
        assert (int(fields["row_count"]), int(fields["column_count"])) == (want["row_count"], want["column_count"])
        assert sum(all(c.is_header for c in r.cells) for r in t.rows) == want.get("header_rows", 1)
        for row, want_row in zip(t.rows, want["rows"]):
            cells = [c.text for c in row.cells]
            # a merged cell stands for the cells it covers: compare against the expected row without them
            merged = [m for m in want.get("merged", []) if m["row"] == t.rows.index(row)]
            covered = {m["col"] + k for m in merged for k in range(1, m["col_span"])}
            expected = [v for j, v in enumerate(want_row) if j not in covered]
            assert all(_same_value(a, b) for a, b in zip(cells, expected, strict=True)), (cells, expected)
        for m in want.get("merged", []):
            cell = t.rows[m["row"]].cells[m["col"]]
            assert (cell.text, cell.row_span, cell.col_span) == (m["text"], m["row_span"], m["col_span"])
        for f in want.get("formulas", []):  # each formula's cell holds its cached value (these grids start at A1)
            col, row = coordinate_from_string(f["cell"])
            assert _same_value(t.rows[row - 1].cells[column_index_from_string(col) - 1].text, f["value"]), f
    for text in exp["text_contains"]: assert text in doc.text


def _book(build) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    build(wb)
    wb.close()
    return buf.getvalue()


def _far_corner(wb):
    ws = wb.add_worksheet("Far")
    ws.write(0, 0, "start"); ws.write(1_048_575, 16_383, "corner")


def _one_string_everywhere(wb):
    ws, s = wb.add_worksheet("S"), "x" * 10_000
    for r in range(5_000): ws.write_row(r, 0, [s] * 10)


@pytest.mark.parametrize("build", [_far_corner, _one_string_everywhere],
                         ids=["far-corner-cell", "shared-string-everywhere"])
def test_small_hostile_workbooks_cost_little_time_and_memory(build):
    # GIVEN a small workbook that makes a dense reader allocate gigabytes (measured in 13c_spreadsheet_parser)
    data = _book(build)
    assert len(data) < 200_000
    # WHEN it is parsed THEN it takes under 5 s and 200 MB of Python memory, and the kept rows are bounded
    tracemalloc.start()
    started = time.perf_counter()
    try: content = parse_xlsx(data)
    finally: _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
    assert time.perf_counter() - started < 5 and peak < 200 * 1024 * 1024, peak
    assert all(len(t.rows) <= 1000 for t in content.elements if isinstance(t, Table))


# --- slides ------------------------------------------------------------------------------------------------------


def test_a_deck_is_parsed_by_the_slides_parser_with_a_page_per_slide():
    prs = pptx.Presentation()
    for i in range(3):
        s = prs.slides.add_slide(prs.slide_layouts[1])
        s.shapes.title.text, s.placeholders[1].text = f"Topic {i}", f"Point {i}"
    s.notes_slide.notes_text_frame.text = "closing remark"
    buf = io.BytesIO(); prs.save(buf)
    doc = parse_bytes(buf.getvalue(), _src("deck.pptx"))
    assert (doc.status, doc.source.content_type, doc.parser.name) == (DocumentStatus.parsed, PPTX, "slides")
    assert doc.metrics.pages == 3
    assert [e.text for e in doc.elements if e.page == 3] == ["Topic 2", "Point 2", "Notes", "closing remark"]
    assert {(f.name, f.page) for f in doc.fields} >= {("notes", 3), ("slides", None)}


# --- inputs nobody here wrote ------------------------------------------------------------------------------------


def _deck() -> bytes:
    prs = pptx.Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[5]); s.shapes.title.text = "Table"
    t = s.shapes.add_table(2, 2, Inches(1), Inches(1.5), Inches(6), Inches(1)).table
    t.cell(0, 0).text, t.cell(1, 0).text = "a", "b"; t.cell(0, 0).merge(t.cell(0, 1))
    buf = io.BytesIO(); prs.save(buf)
    return buf.getvalue()


def _mutate(rng: random.Random, data: bytes) -> bytes:
    "A seeded corruption: bytes overwritten, a truncation, an insertion, or one XML part of a ZIP damaged."
    b, kind = bytearray(data), rng.choice(["flip", "truncate", "insert", "xml"])
    if kind == "flip":
        for _ in range(rng.randint(1, 20)): b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == "truncate": b = b[:rng.randrange(len(b))]
    elif kind == "insert":
        i = rng.randrange(len(b)); b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
    elif data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z: parts = {n: bytearray(z.read(n)) for n in z.namelist()}
        part = parts[rng.choice(sorted(n for n in parts if n.endswith(".xml")))]
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(part))
            junk = rng.choice([b"<", b">", b'"', b'r="ZZ9"', b"</c>", b"", b"&", b"<row>", b't="s"'])
            part[i:i + rng.randint(1, 30)] = junk
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, v in parts.items(): z.writestr(n, bytes(v))
        b = bytearray(buf.getvalue())
    return bytes(b)


@pytest.mark.parametrize("name", ["email_with_attachments.eml", "expenses.xlsx", "deck.pptx", "meeting_notes.md"])
def test_corrupted_documents_become_records_never_parser_errors(name: str):
    # GIVEN 80 seeded corruptions of a document
    data = _deck() if name == "deck.pptx" else (SAMPLES / name).read_bytes()
    rng, outcomes = random.Random(f"formats-{name}"), set()
    for _ in range(80):
        # WHEN each is parsed THEN it is a record (parsed, failed or unsupported), never a parser crash
        doc = parse_bytes(_mutate(rng, data), _src(name))
        code = doc.errors[0].code.value if doc.errors else None
        assert code != "parser_error", doc.errors[0].message
        assert doc.status == DocumentStatus.parsed or doc.errors[0].message
        outcomes.add(doc.status)
    assert DocumentStatus.parsed in outcomes  # the mutations are not all fatal: the test exercises the parsers too
