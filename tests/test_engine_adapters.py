"""Engine adapters reproduce what the engine saw, checked against an independent reader of each engine's output.

GIVEN a real response saved from Amazon Textract (the shared fixtures, from
aws-samples/amazon-textract-response-parser),
Azure AI Document Intelligence or Docling (tests/fixtures/azure, tests/fixtures/docling; see their README.md files),
WHEN the adapter converts it, THEN every line, table cell and key-value pair the engine reported is in the canonical
content, where the engine put it. The oracles are the engines' own readers where one exists: `trp`
(amazon-textract-response-parser) for Textract and `docling-core`'s `DoclingDocument` for Docling; for Azure the
expectations are computed from the JSON in the test itself.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import trp
from docling_core.types.doc import ContentLayer, DoclingDocument, TextItem

from idp_kit.adapters import adapt_file, sniff_engine
from idp_kit.adapters.azure import parse_azure
from idp_kit.adapters.docling import parse_docling
from idp_kit.adapters.textract import parse_textract
from idp_kit.canonical_schema import ErrorCode, Table
from idp_kit.parsers.detection import DocumentError
from idp_kit.parsers.registry import squash

REPO = Path(__file__).resolve().parent.parent
# The shared third-party fixtures, used in place: SHARED_FIXTURES (the Makefile sets it, from beside the repository or
# beside the repository it was cloned from), else a `shared/fixtures` beside a parent folder.
SHARED = (Path(os.environ["SHARED_FIXTURES"]) if os.environ.get("SHARED_FIXTURES")
          else next((p / "shared" / "fixtures" for p in REPO.parents if (p / "shared" / "fixtures").is_dir()), None))
TEXTRACT = SHARED / "textract" if SHARED else None
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def textract_files() -> list[Path]:
    "Every Textract fixture; a missing directory fails the run rather than skipping the promise."
    if TEXTRACT is None or not TEXTRACT.is_dir():
        pytest.fail(f"no shared/fixtures/textract (SHARED_FIXTURES={os.environ.get('SHARED_FIXTURES')!r}): the Textract adapter cannot be checked")
    return sorted(TEXTRACT.glob("*.json"))


def job_status_file(p: Path) -> bool: return "Blocks" not in json.loads(p.read_bytes())


ANALYSED = [p for p in textract_files() if not job_status_file(p)]


def grid(table: Table) -> dict[tuple[int, int], str]:
    "The table as (row, column) -> text, 1-based, every position of a merged region holding the region's text."
    out: dict[tuple[int, int], str] = {}
    for r, row in enumerate(table.rows, 1):
        c = 1
        for cell in row.cells:
            while (r, c) in out: c += 1  # positions covered by a region from a row above
            for dr in range(cell.row_span):
                for dc in range(cell.col_span): out[r + dr, c + dc] = cell.text
            c += cell.col_span
    return out


def norm(s: str) -> str:
    "trp writes a check box in a cell as `SELECTED, `; the adapter as `SELECTED`: compare without the commas."
    return squash(s.replace(",", ""))


@pytest.mark.parametrize("path", ANALYSED, ids=lambda p: p.name)
def test_textract_lines_and_words_match_trp(path: Path):
    doc, content = trp.Document(json.loads(path.read_bytes())), parse_textract(path.read_bytes())
    assert len(content.pages) == len(doc.pages)
    for page, tp in zip(content.pages, doc.pages):
        assert page.text.splitlines() == [line.text for line in tp.lines]
        assert [w.text for w in page.words] == [w.text for line in tp.lines for w in line.words]
        assert all(0 <= w.left + w.width <= 1 and 0 <= w.top + w.height <= 1 and 0 <= w.confidence <= 1
                   for w in page.words)


@pytest.mark.parametrize("path", ANALYSED, ids=lambda p: p.name)
def test_textract_every_table_cell_matches_trp(path: Path):
    doc, content = trp.Document(json.loads(path.read_bytes())), parse_textract(path.read_bytes())
    tables = [e for e in content.elements if e.type == "table"]
    expected = [t for p in doc.pages for t in p.tables]
    assert len(tables) == len(expected)
    for ours, theirs in zip(tables, expected):
        g = grid(ours)
        cells = [c for row in theirs.rows for c in row.cells]
        assert set(g) == {(c.rowIndex, c.columnIndex) for c in cells}  # no position dropped or invented
        for c in cells: assert norm(g[c.rowIndex, c.columnIndex]) == norm(c.mergedText), (c.rowIndex, c.columnIndex)
        headers = {(c.rowIndex, c.columnIndex) for row in theirs.header for c in row}
        ours_headers = {(r, col) for (r, col) in g if _cell_at(ours, r, col).is_header}
        assert headers <= ours_headers  # a region is a header when any of its cells is


def _cell_at(table: Table, r: int, c: int):
    "The canonical cell that covers (r, c)."
    seen: dict[tuple[int, int], object] = {}
    for ri, row in enumerate(table.rows, 1):
        ci = 1
        for cell in row.cells:
            while (ri, ci) in seen: ci += 1
            for dr in range(cell.row_span):
                for dc in range(cell.col_span): seen[ri + dr, ci + dc] = cell
            ci += cell.col_span
    return seen[r, c]


@pytest.mark.parametrize("path", ANALYSED, ids=lambda p: p.name)
def test_textract_every_key_value_matches_trp(path: Path):
    doc, content = trp.Document(json.loads(path.read_bytes())), parse_textract(path.read_bytes())
    ours = Counter((e.page, e.key, e.value) for e in content.elements if e.type == "key_value")
    theirs = Counter((n, squash(f.key.text), squash(f.value.text) if f.value else "")
                     for n, p in enumerate(doc.pages, 1) for f in p.form.fields)
    if not theirs:  # trp reads KEY_VALUE_SET only; older responses use KEY/VALUE blocks: count those directly
        blocks = json.loads(path.read_bytes())["Blocks"]
        assert sum(ours.values()) == sum(1 for b in blocks if b["BlockType"] == "KEY")
    else: assert ours == theirs


# Concrete values read off the documents (the images are in the AWS documentation and the trp repository)
def elements(name: str, kind: str) -> list:
    return [e for e in parse_textract((TEXTRACT / name).read_bytes()).elements if e.type == kind]


def test_textract_employment_application_values():
    kv = {e.key: e.value for e in elements("employment-application.json", "key_value")}
    assert kv == {"Full Name:": "Jane Doe", "Phone Number:": "555-0100",
                  "Home Address:": "123 Any Street, Any Town, USA",
                  "Mailing Address:": "same as home address"}
    (table,) = elements("employment-application.json", "table")
    assert [c.text for c in table.rows[0].cells] == ["Start Date", "End Date", "Employer Name", "Position Held",
                                                     "Reason for leaving"]
    assert [c.text for c in table.rows[3].cells] == ["8/15/2013", "present", "Example Corp.", "Head Baker",
                                                    "N/A, current employer"]


def test_textract_merged_cells_keep_their_spans():
    (table,) = elements("table-example-response.json", "table")
    assert [len(r.cells) for r in table.rows] == [5, 2, 5, 4, 5, 2]
    prev = table.rows[1].cells[0]
    assert (prev.text, prev.col_span, table.rows[2].cells[0].text, table.rows[2].cells[0].row_span) == \
        ("Previous Balance", 4, "2022-01-01", 2)
    assert all(c.is_header for c in table.rows[0].cells) and not any(c.is_header for c in table.rows[1].cells)


def test_textract_two_page_job_keeps_pages_and_check_boxes():
    content = parse_textract((TEXTRACT / "multi-page-forms-samples-2-page.json").read_bytes())
    assert [p.number for p in content.pages] == [1, 2]
    kv = {(e.page, e.key): e.value for e in content.elements if e.type == "key_value"}
    assert kv[1, "First Name:"] == "JANE" and kv[1, "Date of Birth:"] == "10/10/1982"
    assert kv[1, "No"] == "SELECTED"
    assert {e.page for e in content.elements} == {1, 2}


def test_textract_table_title_caption_and_check_box_values():
    (table,) = elements("test-response.json", "table")
    assert table.caption == "Previous Employment History"
    last = [c.text for c in table.rows[-1].cells]
    assert last == ["8/15/2013", "Present", "AnyCompany", "head baker", "N/A, current"]
    kv = {e.key: e.value for e in elements("test-response.json", "key_value")}
    assert (kv["Job fair"], kv["Website"]) == ("SELECTED", "NOT_SELECTED")
    assert kv["Home Address:"] == "123 Any Street, Any Town. USA"


@pytest.mark.parametrize("name, code", [("test-failed-response.json", ErrorCode.engine_failed),
                                        ("test-inprogress-response.json", ErrorCode.engine_incomplete)])
def test_textract_unfinished_jobs_are_refused(name: str, code: ErrorCode):
    with pytest.raises(DocumentError) as e: parse_textract((TEXTRACT / name).read_bytes())
    assert e.value.code == code and "Dummy" in e.value.message


def test_textract_nexttoken_pages_are_one_document():
    "GIVEN one job's result split as GetDocumentAnalysis pages it (blocks cut mid-page), THEN it reads as the whole."
    whole = json.loads((TEXTRACT / "multi-page-forms-samples-2-page.json").read_bytes())
    blocks = whole["Blocks"]
    pages = [{**whole, "Blocks": blocks[i:i + 100], **({"NextToken": f"t{i}"} if i + 100 < len(blocks) else {})}
             for i in range(0, len(blocks), 100)]
    split, joined = parse_textract(json.dumps(pages).encode()), parse_textract(json.dumps(whole).encode())
    assert split.pages == joined.pages and split.elements == joined.elements
    with pytest.raises(DocumentError) as e: parse_textract(json.dumps(pages[:-1]).encode())
    assert e.value.code in (ErrorCode.engine_incomplete, ErrorCode.corrupt)
    with pytest.raises(DocumentError) as e: parse_textract(json.dumps([pages[0], *pages[2:]]).encode())
    assert e.value.code == ErrorCode.corrupt and "refers to block" in e.value.message


# Azure AI Document Intelligence: expectations computed from the JSON itself

AZURE = sorted((FIXTURES / "azure").glob("*.json"))
DOCLING = sorted((FIXTURES / "docling").glob("*.json"))


def test_fixture_readmes_name_every_file():
    "A fixture nobody described (source, license) is refused."
    for folder in ("azure", "docling"):
        readme = (FIXTURES / folder / "README.md").read_text()
        for p in (FIXTURES / folder).glob("*.json"): assert f"`{p.name}`" in readme, p


def azure_result(path: Path) -> dict:
    doc = json.loads(path.read_bytes())
    return doc.get("analyzeResult", doc)


@pytest.mark.parametrize("path", AZURE, ids=lambda p: p.name)
def test_azure_lines_words_and_cells_come_through(path: Path):
    result, content = azure_result(path), parse_azure(path.read_bytes())
    for page, theirs in zip(content.pages, result["pages"]):
        assert page.text.splitlines() == [l["content"] for l in theirs.get("lines", [])]
        assert [w.text for w in page.words] == [w["content"] for w in theirs.get("words", [])]
        assert all(0 <= w.left <= w.left + w.width <= 1.0000001 and 0 <= w.top <= w.top + w.height <= 1.0000001
                   for w in page.words)
    tables = [e for e in content.elements if e.type == "table"]
    assert len(tables) == len(result.get("tables", []))
    for ours, theirs in zip(sorted(tables, key=lambda t: t.text), sorted(
            result.get("tables", []), key=lambda t: "\n".join(c["content"] for c in t["cells"]))):
        g = grid(ours)
        for c in theirs["cells"]:  # every cell, at its position, with its text and header flag
            assert g[c["rowIndex"] + 1, c["columnIndex"] + 1] == squash(c["content"])
            header = _cell_at(ours, c["rowIndex"] + 1, c["columnIndex"] + 1).is_header
            assert header == (c.get("kind") == "columnHeader")
    kvs = [(e.key, e.value) for e in content.elements if e.type == "key_value"]
    pairs = result.get("keyValuePairs", [])
    assert kvs == [(kv["key"]["content"], kv.get("value", {}).get("content", "")) for kv in pairs]


def test_azure_invoice_values():
    content = parse_azure((FIXTURES / "azure" / "prebuilt_invoice_2024_11_30.json").read_bytes())
    fields = {f.name: (f.value, f.confidence) for f in content.fields}
    assert fields["VendorName"] == ("CONTOSO LTD.", 0.956) and fields["SubTotal"] == ("100", 0.973)
    assert fields["ServiceStartDate"][0] == "2019-10-14" and fields["Locale"][0] == "en-US"
    page = content.pages[0]
    assert (page.width, page.height) == (612.0, 792.0)  # 8.5 x 11 inches in points
    amount = next(w for w in page.words if w.text == "$610.00")  # polygon 7.3842,8.0584 .. 7.9181,8.2022 inches
    assert (round(amount.left, 4), round(amount.top, 4)) == (round(7.3842 / 8.5, 4), round(8.0584 / 11, 4))
    items = next(e for e in content.elements if e.type == "table" and e.rows[0].cells[0].text == "DATE")
    assert [c.text for c in items.rows[3].cells] == ["3/6/2021", "C789", "Printing Fee", "10", "pages", "$1.00", "20%",
                                                     "$10.00"]


@pytest.mark.parametrize("body, code", [
    (b'{"status": "running", "createdDateTime": "2024-05-01T10:00:00Z"}', ErrorCode.engine_incomplete),
    (b'{"status": "failed", "error": {"code": "InvalidContent", "message": "The file is corrupted."}}',
     ErrorCode.engine_failed),
    (b'{"status": "succeeded", "analyzeResult": {"pages": [{"pageNumber": 1, "width": 0, "height": 0}]}}',
     ErrorCode.corrupt),
    (b'{"status": "succeeded"}', ErrorCode.corrupt)])
def test_azure_unfinished_failed_and_broken_results(body: bytes, code: ErrorCode):
    with pytest.raises(DocumentError) as e: parse_azure(body)
    assert e.value.code == code


# Docling: the oracle is docling-core itself
@pytest.mark.parametrize("path", DOCLING, ids=lambda p: p.name)
def test_docling_every_text_and_cell_matches_docling_core(path: Path):
    doc, content = DoclingDocument.model_validate_json(path.read_bytes()), parse_docling(path.read_bytes())
    ours = " ".join(e.text for e in content.elements)
    for item, _ in doc.iterate_items(included_content_layers=set(ContentLayer)):
        if isinstance(item, TextItem) and squash(item.text): assert squash(item.text) in ours, item.self_ref
    tables = [e for e in content.elements if e.type == "table"]
    assert len(tables) == len(doc.tables)
    for t, theirs in zip(tables, doc.tables):
        g = grid(t)
        for c in theirs.data.table_cells:
            assert g[c.start_row_offset_idx + 1, c.start_col_offset_idx + 1] == squash(c.text)
    assert [p.number for p in content.pages] == sorted(doc.pages)


def test_docling_structure_values():
    content = parse_docling((FIXTURES / "docling" / "code_and_formula.json").read_bytes())
    titles = [(e.text, e.level, e.page) for e in content.elements if e.type == "title"]
    assert titles == [("JavaScript Code Example", 2, 1), ("Formula", 2, 2)]
    (code,) = [e for e in content.elements if e.type == "code"]
    assert code.text == "function add(a, b) { return a + b; } console.log(add(3, 5));"
    kv = parse_docling((FIXTURES / "docling" / "kv_invoice.json").read_bytes())
    assert [(e.key, e.value) for e in kv.elements if e.type == "key_value"] == [
        ("Invoice No:", "222"), ("Date:", "02 May, 2021"), ("Administrator", "John Doe")]
    newer = b'{"schema_name": "DoclingDocument", "version": "9.0.0", "name": "x"}'
    with pytest.raises(DocumentError) as e: parse_docling(newer)
    assert e.value.code == ErrorCode.corrupt


# The registry: every fixture is recognised as its engine's, and converts to a parsed record
@pytest.mark.parametrize("path, engine", [*((p, "textract") for p in textract_files()), *((p, "azure") for p in AZURE),
                                          *((p, "docling") for p in DOCLING)], ids=lambda x: getattr(x, "name", x))
def test_sniff_and_adapt_file(path: Path, engine: str):
    assert sniff_engine(path.read_bytes()) == engine
    record = adapt_file(path)
    assert record.parser.name == engine and record.classification.label == engine
    expected = "failed" if engine == "textract" and job_status_file(path) else "parsed"
    assert record.status.value == expected, record.errors


def test_adapters_import_without_docling_core_and_say_how_to_install_it(tmp_path: Path):
    "GIVEN an environment without docling-core (the core install), THEN textract/azure work and docling says what to do."
    import subprocess
    import sys
    code = ("import sys; sys.modules['docling_core'] = None\n"
            "from idp_kit.adapters import adapt, adapt_bytes\n"
            "from idp_kit.canonical_schema import SourceMetadata\n"
            f"assert adapt('textract', open({str(TEXTRACT / 'employment-application.json')!r}, 'rb').read()).pages\n"
            "d = adapt_bytes(b'{\"schema_name\": \"DoclingDocument\"}', SourceMetadata(uri='file:///x.json'))\n"
            "print(d.status.value, d.errors[0].code.value, d.errors[0].message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("unsupported unsupported_type") and "pip install 'idp_kit[docling]'" in out.stdout
