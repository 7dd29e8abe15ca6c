"""The sample corpus of issue 8: every document is what its expected file says, checked against the bytes.

GIVEN a sample made by `tools/make_samples.py` and its `nbs/samples/expected/<name>.json`, THEN the file exists, is
small, is listed in `nbs/samples/README.md`, is detected as the content type it claims, and every expected value
that can be read without the kit's own parsers (PDF text and form fields through PDFium, the email through the
standard library, the workbook's XML, the images' headers) is really in it. Regenerating the corpus reproduces the
committed bytes (for the raster and ReportLab files: when the library versions are the ones recorded).
"""
from __future__ import annotations

import email
import importlib.metadata
import importlib.util
import io
import json
import re
import zipfile
from datetime import date, datetime, timedelta
from email import policy
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from idp_kit.parsers import detect_content_type

ROOT = Path(__file__).resolve().parents[1]
SAMPLES, EXPECTED_DIR = ROOT / "nbs" / "samples", ROOT / "nbs" / "samples" / "expected"
CORPUS = ["scanned_invoice.png", "scanned_letter_2p.pdf", "table_report.pdf", "email_with_attachments.eml",
          "expenses.xlsx", "application_form.pdf", "receipt_photo.jpg"]
REQUIRED_KEYS = {"document_class", "language", "content_type", "text_contains", "pii", "routing"}
OPTIONAL_KEYS = {"pages", "fields", "key_values", "tables", "children", "reference_text"}
CLASSES = {"invoice", "receipt", "letter", "form", "report", "email", "spreadsheet"}
PII_TYPES = {"email", "phone", "iban", "person"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@cache
def expected(name: str) -> dict:
    return json.loads((EXPECTED_DIR / f"{name}.json").read_text(encoding="utf-8"))


def data(name: str) -> bytes: return (SAMPLES / name).read_bytes()


def generator():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "tools" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- readers independent of idp_kit's parsers -----------------------------------------------------------------


def pdf_text(name: str) -> list[str]:
    "The text layer of each page, through PDFium."
    pdf = pdfium.PdfDocument(data(name))
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def form_values(name: str) -> dict[str, str | bool]:
    "Every AcroForm widget's field name and value (checkboxes as booleans), through PDFium's form API."
    pdf = pdfium.PdfDocument(data(name))
    pdf.init_forms()
    page, out = pdf[0], {}
    for i in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        annot = pdfium_c.FPDFPage_GetAnnot(page, i)
        name_, value = (_utf16(fn, pdf.formenv, annot) for fn in (pdfium_c.FPDFAnnot_GetFormFieldName,
                                                                  pdfium_c.FPDFAnnot_GetFormFieldValue))
        kind = pdfium_c.FPDFAnnot_GetFormFieldType(pdf.formenv, annot)
        checkbox = kind == pdfium_c.FPDF_FORMFIELD_CHECKBOX
        out[name_] = bool(pdfium_c.FPDFAnnot_IsChecked(pdf.formenv, annot)) if checkbox else value
        pdfium_c.FPDFPage_CloseAnnot(annot)
    return out


def _utf16(fn, formenv, annot) -> str:
    import ctypes
    size = fn(formenv, annot, None, 0)
    buf = ctypes.create_string_buffer(size)
    fn(formenv, annot, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size)
    return buf.raw[:size - 2].decode("utf-16-le")


def message() -> email.message.EmailMessage:
    return email.message_from_bytes(data("email_with_attachments.eml"), policy=policy.default)


def email_text() -> str:
    msg = message()
    body = msg.get_body(("plain",)).get_content()
    return "\n".join([*(f"{k}: {v}" for k, v in msg.items()), body])


def xlsx_sheets(raw: bytes) -> dict[str, dict]:
    "Each sheet's cells {ref: (value, formula)}, dimension and merged ranges, read from the package's XML."
    z = zipfile.ZipFile(io.BytesIO(raw))
    strings = ["".join(t.text or "" for t in si.iter(f"{MAIN}t"))
               for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).iter(f"{MAIN}si")]
    book = ElementTree.fromstring(z.read("xl/workbook.xml"))
    sheets = {}
    for i, sheet in enumerate(book.iter(f"{MAIN}sheet"), 1):
        root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{i}.xml"))
        cells = {}
        for c in root.iter(f"{MAIN}c"):
            v, f = c.find(f"{MAIN}v"), c.find(f"{MAIN}f")
            value = None if v is None else strings[int(v.text)] if c.get("t") == "s" else float(v.text)
            cells[c.get("r")] = (value, None if f is None else f.text)
        sheets[sheet.get("name")] = {"cells": cells, "dimension": root.find(f"{MAIN}dimension").get("ref"),
                                     "merged": [m.get("ref") for m in root.iter(f"{MAIN}mergeCell")]}
    return sheets


def document_text(name: str) -> str:
    "All the text a reader can get from the sample without OCR; for scans, the reference text drawn on them."
    if name.endswith((".png", ".jpg")) or name == "scanned_letter_2p.pdf":
        return "\n".join(expected(name)["reference_text"])
    if name == "email_with_attachments.eml": return email_text()
    if name == "expenses.xlsx":
        sheets = xlsx_sheets(data(name)).values()
        return "\n".join(str(v) for s in sheets for v, _ in s["cells"].values() if v is not None)
    text = "\n".join(pdf_text(name))
    if name == "application_form.pdf": text += "\n" + "\n".join(str(v) for v in form_values(name).values())
    return text


# ---- every sample: present, listed, documented, detected -----------------------------------------------------


def test_every_expected_file_belongs_to_a_sample():
    assert sorted(p.name for p in EXPECTED_DIR.iterdir()) == sorted(f"{n}.json" for n in CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_sample_exists_is_small_and_listed(name: str):
    assert (SAMPLES / name).is_file() and 0 < (SAMPLES / name).stat().st_size < 50 * 1024
    assert f"| `{name}` |" in (SAMPLES / "README.md").read_text(encoding="utf-8"), f"{name} is not in the README table"


@pytest.mark.parametrize("name", CORPUS)
def test_expected_file_has_the_documented_keys(name: str):
    e = expected(name)
    assert REQUIRED_KEYS <= set(e) <= REQUIRED_KEYS | OPTIONAL_KEYS, set(e) ^ REQUIRED_KEYS
    assert e["document_class"] in CLASSES and e["language"] == "en" and e["text_contains"]
    for key, value in e.get("fields", {}).items():
        if key.endswith("_date"): date.fromisoformat(value)
        if key in ("subtotal", "tax", "total"): assert re.fullmatch(r"\d+\.\d{2}", value), (key, value)
        if key == "currency": assert re.fullmatch(r"[A-Z]{3}", value)
    for item in e["pii"]: assert set(item) == {"type", "value"} and item["type"] in PII_TYPES


@pytest.mark.parametrize("name", CORPUS)
def test_content_type_is_what_detection_says(name: str):
    assert detect_content_type(data(name), name) == expected(name)["content_type"]
    assert detect_content_type(data(name)) == expected(name)["content_type"], "detected from the bytes, not the name"


@pytest.mark.parametrize("name", CORPUS)
def test_expected_text_and_pii_are_in_the_document(name: str):
    text = document_text(name)
    missing = [s for s in expected(name)["text_contains"] if s not in text]
    missing += [p["value"] for p in expected(name)["pii"] if p["value"] not in text]
    assert not missing, missing


def iban_is_valid(value: str) -> bool:
    raw = value.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", raw): return False
    return int("".join(str(int(c, 36)) for c in raw[4:] + raw[:4])) % 97 == 1


def test_pii_values_are_well_formed_and_some_documents_have_none():
    items = [p for n in CORPUS for p in expected(n)["pii"]]
    assert {p["type"] for p in items} == PII_TYPES
    assert all(iban_is_valid(p["value"]) for p in items if p["type"] == "iban")
    assert all(re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", p["value"]) for p in items if p["type"] == "email")
    assert all(re.fullmatch(r"\+\d{2} [\d ]{6,14}\d", p["value"]) for p in items if p["type"] == "phone")
    assert {n for n in CORPUS if not expected(n)["pii"]} == {"table_report.pdf", "receipt_photo.jpg"}


def test_iban_check_rejects_a_typo():
    good = expected("application_form.pdf")["key_values"]["iban"]
    assert iban_is_valid(good) and not iban_is_valid(good[:-1] + str((int(good[-1]) + 1) % 10))


# ---- per format: the structure the expected file promises ------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in CORPUS if n.endswith(".pdf")])
def test_pdf_page_count(name: str):
    assert len(pdfium.PdfDocument(data(name))) == expected(name)["pages"]


def test_scanned_letter_is_images_only():
    pdf = pdfium.PdfDocument(data("scanned_letter_2p.pdf"))
    for i in range(len(pdf)):
        page = pdf[i]
        assert page.get_textpage().get_text_range() == "", "a scan has no text layer"
        objects = list(page.get_objects())
        assert [o.type for o in objects] == [pdfium_c.FPDF_PAGEOBJ_IMAGE]
        assert objects[0].get_filters() == ["CCITTFaxDecode"]
        ink = page.render(scale=0.5, grayscale=True).to_pil().convert("L")
        mean = sum(ink.histogram()[i] * i for i in range(256)) / (ink.width * ink.height)
        assert 235 < mean < 254, "mostly white paper, some ink"


def test_scanned_invoice_is_a_greyscale_200_dpi_a4_scan():
    im = Image.open(io.BytesIO(data("scanned_invoice.png")))
    assert im.mode == "L" and im.size == (1654, 2339) and tuple(round(d) for d in im.info["dpi"]) == (200, 200)
    assert data("scanned_invoice.png")[24] == 2, "IHDR bit depth: 2-bit greyscale"
    assert len(im.getcolors()) == 4


def test_receipt_photo_is_a_colour_jpeg():
    im = Image.open(io.BytesIO(data("receipt_photo.jpg")))
    assert im.format == "JPEG" and im.mode == "RGB" and 300 < im.width < im.height < 1000


def test_table_report_has_the_merged_header_over_three_columns():
    pdf = pdfium.PdfDocument(data("table_report.pdf"))
    text = pdf[0].get_textpage()
    table = expected("table_report.pdf")["tables"][0]
    assert all(cell in text.get_text_range() for row in table["rows"] for cell in row)

    def centre(word: str) -> float:
        search = text.search(word, match_case=True, match_whole_word=True)
        start, count = search.get_next()
        boxes = [text.get_charbox(i) for i in range(start, start + count)]
        return (boxes[0][0] + boxes[-1][2]) / 2
    assert abs(centre("Amount (NOK)") - centre("VAT")) < 3, "the merged cell is centred over Net | VAT | Gross"
    assert centre("Net") < centre("VAT") < centre("Gross") and centre("Invoices") < centre("Net")
    assert [m["col_span"] for m in table["merged"]] == [1, 1, 3]


def test_form_fields_are_the_expected_key_values():
    assert form_values("application_form.pdf") == expected("application_form.pdf")["key_values"]


def test_email_headers_parts_and_attachments():
    raw, msg, e = data("email_with_attachments.eml"), message(), expected("email_with_attachments.eml")
    assert b"\r\n" in raw and b"Subject: February close: AP report and =?utf-8?q?Zo=C3=AB" in raw, "RFC 2047 subject"
    assert b"filename*=utf-8''Expenses%20%E2%80%93%20Zo%C3%AB%20M%C3%BCller.xlsx" in raw, "RFC 2231 file name"
    fields = e["fields"]
    assert [str(msg[h]) for h in ("From", "To", "Cc", "Subject", "Message-ID")] == \
        [fields[k] for k in ("from", "to", "cc", "subject", "message_id")]
    assert parsedate_to_datetime(msg["Date"]).isoformat() == fields["date"]
    alternative = next(msg.iter_parts())
    assert msg.get_content_type() == "multipart/mixed" and alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    attachments = list(msg.iter_attachments())
    assert [{"name": a.get_filename(), "content_type": a.get_content_type()} for a in attachments] == \
        [{k: c[k] for k in ("name", "content_type")} for c in e["children"]]
    assert [a.get_content() for a in attachments] == [data(c["same_as"]) for c in e["children"]]


def serial(d: str) -> float: return float((date.fromisoformat(d) - date(1899, 12, 30)).days)


def test_workbook_sheets_cells_formulas_and_merges():
    sheets, e = xlsx_sheets(data("expenses.xlsx")), expected("expenses.xlsx")
    assert list(sheets) == [t["sheet"] for t in e["tables"]] and len(sheets) == e["pages"]
    for t in e["tables"]:
        s = sheets[t["sheet"]]
        assert s["dimension"] == f"A1:{'ABCDEFGH'[t['column_count'] - 1]}{t['row_count']}"
        for r, row in enumerate(t["rows"], 1):
            for c, want in enumerate(row):
                got = s["cells"].get(f"{'ABCDEFGH'[c]}{r}", (None, None))[0]
                if isinstance(want, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", want): want = serial(want)
                ok = got == pytest.approx(want) if isinstance(want, float) else got == (want or None)
                assert ok, (t["sheet"], r, c, got, want)
        for f in t.get("formulas", []):
            assert s["cells"][f["cell"]] == (pytest.approx(f["value"]), f["formula"]), "formula with its cached value"
        assert s["merged"] == [f"A{m['row'] + 1}:{'ABCDEFGH'[m['col'] + m['col_span'] - 1]}{m['row'] + m['row_span']}"
                               for m in t.get("merged", [])]
    amounts = [v for ref, (v, _) in sheets["Expenses"]["cells"].items() if re.fullmatch(r"D[2-7]", ref)]
    assert f"{sum(amounts):.2f}" == e["fields"]["total"]


def test_invoice_fields_add_up():
    f = expected("scanned_invoice.png")["fields"]
    assert sum(float(i["amount"]) for i in f["line_items"]) == pytest.approx(float(f["subtotal"]))
    assert float(f["subtotal"]) + float(f["tax"]) == pytest.approx(float(f["total"]))
    for i in f["line_items"]: assert float(i["quantity"]) * float(i["unit_price"]) == pytest.approx(float(i["amount"]))


# ---- the generator reproduces the corpus ------------------------------------------------------------------------

# which library's version decides each file's bytes (the email embeds the report and the workbook)
DEPENDS_ON = {"scanned_invoice.png": "pillow", "scanned_letter_2p.pdf": "pillow", "receipt_photo.jpg": "pillow",
              "table_report.pdf": "reportlab", "application_form.pdf": "reportlab", "expenses.xlsx": "xlsxwriter",
              "email_with_attachments.eml": ("reportlab", "xlsxwriter")}


def test_generator_is_deterministic_and_reproduces_the_committed_corpus():
    gen = generator()
    first, second = gen.build(), gen.build()
    assert first == second, "two runs in one process differ: an unseeded random choice or a timestamp crept in"
    assert set(first) == set(CORPUS) | {f"expected/{n}.json" for n in CORPUS}
    same_versions = {lib for lib, v in gen.MADE_WITH.items() if importlib.metadata.version(lib) == v}
    for rel, made in first.items():
        libs = DEPENDS_ON.get(rel, ())
        if set([libs] if isinstance(libs, str) else libs) <= same_versions:
            assert made == (SAMPLES / rel).read_bytes(), f"{rel} differs from tools/make_samples.py's output: rerun it"
