#!/usr/bin/env python3
"""Make issue 8's sample corpus in `nbs/samples/`: scans, a table report, a form, an email and a workbook.

Run from the repository root: `.venv/bin/python tools/make_samples.py [OUT_DIR]` (default `nbs/samples`).
It writes seven documents and, under `OUT_DIR/expected/`, one JSON file per document with what is true of it.
Everything is drawn here, so the corpus is ours to license (see `nbs/samples/README.md`).

Determinism: every random choice comes from `random.Random(SEED)`; dates, ids, MIME boundaries and PDF ids are
fixed. Re-running gives byte-identical files with the same library versions (`MADE_WITH`). The raster files
(PNG, JPEG, the image-only PDF) depend on the FreeType, zlib and libjpeg-turbo that Pillow bundles; the two
born-digital PDFs on ReportLab's writer (run with `invariant=1`, so no timestamps or random ids); the workbook on
XlsxWriter (fixed created date; its ZIP entries are always dated 1980-01-01); the email on nothing but the
standard library and the bytes of the two files it attaches.

Needs Pillow, ReportLab and XlsxWriter (dev dependencies), and the DejaVu fonts (Debian `fonts-dejavu-core`; set
`IDP_SAMPLE_FONTS` to another folder holding `DejaVuSans.ttf` and friends).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sys
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

SEED = 20260302
MADE_WITH = {"pillow": "13.0.0", "reportlab": "5.1.0", "xlsxwriter": "3.3.1"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FONT_DIR = Path(os.environ.get("IDP_SAMPLE_FONTS", "/usr/share/fonts/truetype/dejavu"))
FONTS = {"sans": "DejaVuSans.ttf", "sans-bold": "DejaVuSans-Bold.ttf", "serif": "DejaVuSerif.ttf",
         "serif-bold": "DejaVuSerif-Bold.ttf", "mono": "DejaVuSansMono.ttf", "mono-bold": "DejaVuSansMono-Bold.ttf"}

# ---------------------------------------------------------------------------------------------------------------
# Made-up parties. IBANs get real ISO 13616 check digits; phone numbers come from ranges set aside for drama
# (Ofcom's 020 7946 0xxx, the Bundesnetzagentur's 030 23125 xxx) or repeat the existing samples' Oslo number.


def iban(country: str, bban: str) -> str:
    "An IBAN with valid check digits (ISO 13616 mod 97-10) for `bban`, printed in groups of four."
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    raw = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


KESTREL = {"name": "Kestrel Print & Design GmbH", "street": "Oranienstraße 185", "city": "10999 Berlin, Germany",
           "vat": "DE298765431", "contact": "Jonas Albrecht", "email": "jonas.albrecht@kestrel-print.example",
           "phone": "+49 30 23125 417", "iban": iban("DE", "760200700024681357"), "bic": "KESTDEB1XXX"}
AUDITOR = {"name": "Whitcombe & Hale LLP", "street": "14 Ludgate Hill", "city": "London EC4M 7AA",
           "person": "Eleanor Hale", "email": "eleanor.hale@whitcombe-hale.example", "phone": "+44 20 7946 0321"}
FJORD = ["Fjord Financial Services AS", "Attn: Accounts Payable", "Karl Johans gate 7", "0154 Oslo, Norway"]


def money(x: float) -> str: return f"{x:,.2f}"


# ---------------------------------------------------------------------------------------------------------------
# Raster pages: a white sheet addressed in millimetres, then the defects a scanner or a phone adds.


def font(face: str, px: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / FONTS[face]
    if not path.is_file():
        sys.exit(f"font {path} not found: install the DejaVu fonts (Debian: fonts-dejavu-core) or set IDP_SAMPLE_FONTS")
    return ImageFont.truetype(str(path), px)


class Sheet:
    "A white greyscale page `width_mm` x `height_mm` drawn at `dpi`; coordinates in millimetres from the top left."

    def __init__(self, width_mm: float, height_mm: float, dpi: int):
        self.dpi = dpi
        self.image = Image.new("L", (self.px(width_mm), self.px(height_mm)), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[str] = []  # the text drawn, in reading order: the OCR reference

    def px(self, mm: float) -> int: return round(mm / 25.4 * self.dpi)

    def text(self, x: float, y: float, s: str, pt: float = 10, face: str = "sans", anchor: str = "la",
             ink: int = 20, record: bool = True) -> None:
        self.draw.text((self.px(x), self.px(y)), s, fill=ink, font=font(face, round(pt / 72 * self.dpi)), anchor=anchor)
        if record: self.lines.append(s)

    def row(self, y: float, cells: list[tuple[float, str, str]], pt: float = 10, face: str = "sans") -> None:
        "Draw `cells` (x, text, anchor) on one line and record them as one reference line."
        for x, s, anchor in cells: self.text(x, y, s, pt, face, anchor, record=False)
        self.lines.append(" ".join(s for _, s, _ in cells))

    def rule(self, x0: float, y0: float, x1: float, y1: float, width_mm: float = 0.3, ink: int = 40) -> None:
        self.draw.line([(self.px(x0), self.px(y0)), (self.px(x1), self.px(y1))], fill=ink,
                       width=max(1, self.px(width_mm)))


def noise(size: tuple[int, int], rng: random.Random, amplitude: int) -> Image.Image:
    "Seeded triangular noise around 128 (two uniform fields averaged), at most +-`amplitude` grey levels."
    u1, u2 = (Image.frombytes("L", size, rng.randbytes(size[0] * size[1])) for _ in range(2))
    return ImageChops.add(u1, u2, scale=2).point(lambda v: round(128 + (v - 128) * amplitude / 128))


def dust(image: Image.Image, rng: random.Random, count: int) -> None:
    "Specks and short hairs, as dust on a scanner's glass leaves them."
    d = ImageDraw.Draw(image)
    for _ in range(count):
        x, y, r = rng.randrange(image.width), rng.randrange(image.height), rng.choice((1, 1, 1, 2, 3))
        if rng.random() < 0.15: d.line([(x, y), (x + rng.randint(-25, 25), y + rng.randint(-25, 25))], fill=90, width=1)
        else: d.ellipse([x, y, x + r, y + r], fill=rng.randint(40, 140))


def scanned(page: Image.Image, rng: random.Random, angle: float, blur: float, amplitude: int,
            quality: int) -> Image.Image:
    "`page` as a flatbed scanner returns it: skewed, softened, noisy and through a JPEG stage."
    img = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(blur))
    img = ImageChops.add(img, noise(img.size, rng, amplitude), scale=1, offset=-128)
    buf = io.BytesIO(); img.save(buf, "JPEG", quality=quality); buf.seek(0)
    return Image.open(buf).convert("L")


def cleaned(img: Image.Image, white: int = 200) -> Image.Image:
    "A scanner's 'remove background' pass: near-white becomes white, the rest is kept at 4 grey levels (2 bits)."
    return img.point(lambda v: 255 if v >= white else v // 85 * 85)


# ---------------------------------------------------------------------------------------------------------------
# 1. scanned_invoice.png


INVOICE_ITEMS = [("Annual report, A4, 48 pages, 250 copies", 250, 6.40), ("Business cards, 4 designs x 500", 4, 39.50),
                 ("Roll-up banner 85 x 200 cm", 2, 89.00), ("Layout revisions (hours)", 6, 72.00)]


def invoice_page() -> Sheet:
    "The invoice Kestrel Print & Design sends Fjord's Hamburg branch, drawn on A4 at 200 dpi."
    s, k = Sheet(210, 297, 200), KESTREL
    s.text(20, 18, k["name"], 15, "sans-bold")
    for i, line in enumerate([k["street"], k["city"], f"VAT ID {k['vat']}"]): s.text(20, 27 + i * 5, line, 9)
    s.text(190, 18, "INVOICE", 22, "sans-bold", "ra")
    meta = [("Invoice number:", "KPD-2026-0187"), ("Invoice date:", "10 Feb 2026"), ("Due date:", "12 Mar 2026"),
            ("Customer no.:", "C-10442"), ("Currency:", "EUR")]
    for i, (key, value) in enumerate(meta): s.row(45 + i * 6, [(118, key, "la"), (190, value, "ra")], 10)
    s.text(20, 52, "Bill to", 10, "sans-bold")
    bill_to = ["Fjord Financial Services AS", "Niederlassung Hamburg", "Große Elbstraße 14", "22767 Hamburg, Germany"]
    for i, line in enumerate(bill_to): s.text(20, 58 + i * 5, line, 10)
    cols = [(20, "la"), (122, "ra"), (152, "ra"), (190, "ra")]
    top = 92
    s.rule(18, top - 2, 192, top - 2, 0.4)
    s.row(top, [(x, h, a) for (x, a), h in zip(cols, ["Description", "Qty", "Unit price", "Amount"])], 10, "sans-bold")
    s.rule(18, top + 6, 192, top + 6, 0.3)
    subtotal = 0.0
    for i, (desc, qty, price) in enumerate(INVOICE_ITEMS):
        y = top + 9 + i * 7
        s.row(y, [(x, v, a) for (x, a), v in zip(cols, [desc, str(qty), money(price), money(qty * price)])], 10)
        subtotal += qty * price
    y = top + 9 + len(INVOICE_ITEMS) * 7
    s.rule(18, y, 192, y, 0.3)
    vat = round(subtotal * 0.19, 2)
    totals = [("Subtotal", money(subtotal), "sans"), ("VAT 19%", money(vat), "sans"),
              ("Total due (EUR)", money(subtotal + vat), "sans-bold")]
    for i, (key, value, face) in enumerate(totals):
        s.row(y + 4 + i * 7, [(118, key, "la"), (190, value, "ra")], 11, face)
    s.rule(116, y + 17, 192, y + 17, 0.3)
    foot = y + 36
    s.text(20, foot, "Payment terms", 10, "sans-bold")
    terms = ["Payable within 30 days of the invoice date without deduction. Please quote the invoice number.",
             f"Bank: Spreewald Handelsbank  IBAN {k['iban']}  BIC {k['bic']}",
             f"Questions about this invoice: {k['contact']}, {k['email']}, phone {k['phone']}"]
    for i, line in enumerate(terms): s.text(20, foot + 6 + i * 5.5, line, 9)
    s.text(105, 280, "Kestrel Print & Design GmbH · Amtsgericht Charlottenburg HRB 211984 · Page 1 of 1",
           7, anchor="ma")
    return s


def make_scanned_invoice(rng: random.Random) -> tuple[bytes, list[str]]:
    s = invoice_page()
    dust(s.image, rng, 60)
    img = cleaned(scanned(s.image, rng, angle=0.8, blur=0.7, amplitude=8, quality=60))
    buf = io.BytesIO(); img.save(buf, "PNG", bits=2, dpi=(200, 200), optimize=True)
    return buf.getvalue(), s.lines


# ---------------------------------------------------------------------------------------------------------------
# 7. receipt_photo.jpg


RECEIPT_ITEMS = [("2 x Cappuccino", 96.00), ("1 x Cinnamon bun", 42.00), ("1 x Club sandwich", 119.00)]


def receipt_paper() -> Sheet:
    "A café's thermal-printer receipt, 58 mm wide, drawn at 200 dpi."
    s = Sheet(58, 118, 200)
    for y, line, face in [(6, "HARBOUR STREET CAFE", "mono-bold"), (11, "Bryggen 12, 5003 Bergen", "mono"),
                          (15, "Org.no. 998 877 665 MVA", "mono")]:
        s.text(29, y, line, 8.5, face, "ma")
    s.text(4, 21, "-" * 30, 8, "mono", record=False)
    s.text(4, 25, "Receipt no. 40213", 8.5, "mono")
    s.text(4, 29.5, "Date: 03 Feb 2026  14:27", 8.5, "mono")
    s.text(4, 34, "-" * 30, 8, "mono", record=False)
    for i, (item, amount) in enumerate(RECEIPT_ITEMS):
        s.row(38 + i * 4.5, [(4, item, "la"), (54, money(amount), "ra")], 8.5, "mono")
    total = sum(a for _, a in RECEIPT_ITEMS)
    s.text(4, 52, "-" * 30, 8, "mono", record=False)
    s.row(56, [(4, "TOTAL NOK", "la"), (54, money(total), "ra")], 10, "mono-bold")
    s.row(62, [(4, "Card (contactless)", "la"), (54, money(total), "ra")], 8.5, "mono")
    s.row(66.5, [(4, "incl. VAT 15%", "la"), (54, money(round(total * 15 / 115, 2)), "ra")], 8.5, "mono")
    s.text(4, 71, "-" * 30, 8, "mono", record=False)
    s.text(29, 76, "Thank you - welcome back!", 8.5, "mono", "ma")
    return s


def make_receipt_photo(rng: random.Random) -> tuple[bytes, list[str]]:
    "The receipt photographed on a dark table: rotated, unevenly lit, soft, noisy, in colour, as a phone JPEG."
    s = receipt_paper()
    paper = s.image.crop((0, 0, s.image.width, s.px(84)))
    table = Image.linear_gradient("L").resize((paper.width + 160, paper.height + 160)).point(lambda v: 70 + v // 8)
    table.paste(paper.point(lambda v: v * 232 // 255 + 12), (80, 80))
    img = table.rotate(-2.2, resample=Image.Resampling.BICUBIC, fillcolor=70)
    light = Image.linear_gradient("L").rotate(90).resize(img.size).point(lambda v: 200 + v * 55 // 255)
    img = ImageChops.multiply(img, light).filter(ImageFilter.GaussianBlur(0.9))
    img = ImageChops.add(img, noise(img.size, rng, 10), scale=1, offset=-128)
    img = ImageOps.colorize(img, black=(22, 18, 14), white=(255, 250, 238))
    img = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
    buf = io.BytesIO(); img.save(buf, "JPEG", quality=55, subsampling=2, optimize=True)
    return buf.getvalue(), s.lines


# ---------------------------------------------------------------------------------------------------------------
# 2. scanned_letter_2p.pdf: two image-only pages (CCITT G4, as an office scanner's black-and-white mode makes)


def letter_pages() -> list[Sheet]:
    "An auditor's two-page confirmation request to Fjord, on A4 at 200 dpi."
    a, pages = AUDITOR, [Sheet(210, 297, 200), Sheet(210, 297, 200)]
    p = pages[0]
    p.text(20, 18, a["name"], 16, "serif-bold")
    p.text(20, 26, f"Chartered Accountants · {a['street']} · {a['city']}", 9, "serif")
    for i, line in enumerate(FJORD): p.text(20, 45 + i * 5.5, line, 11, "serif")
    p.text(190, 45, "2 March 2026", 11, "serif", "ra")
    p.text(20, 78, "Re: Audit confirmation of balances as at 31 December 2025", 11, "serif-bold")
    body = ["Dear Ms Solberg,",
            "",
            "As part of our audit of the financial statements of Fjord Financial Services AS for",
            "the year ended 31 December 2025, we ask you to confirm directly to us the balances",
            "owed to the suppliers listed on the second page of this letter. The request is made",
            "with the consent of your board.",
            "",
            "Please compare the amounts with your accounts payable ledger. Where they agree, sign",
            "the confirmation slip and return it to us; where they differ, state the amount in your",
            "records and explain the difference, for example invoices in transit or credit notes",
            "not yet booked.",
            "",
            "This is not a request for payment. Please do not send any remittance to our office.",
            "",
            "We would be grateful for your reply by 20 March 2026. Our reference is",
            "WH/FJ/2025/114."]
    for i, line in enumerate(body):
        if line: p.text(20, 92 + i * 6.5, line, 11, "serif")
    p.text(105, 282, "Page 1 of 2", 9, "serif", "ma")
    p = pages[1]
    p.text(20, 18, "Fjord Financial Services AS · confirmation of balances (continued)", 9, "serif")
    p.text(20, 32, "Balances per our records at 31 December 2025", 11, "serif-bold")
    p.rule(20, 40, 190, 40)
    p.row(42, [(22, "Supplier", "la"), (188, "Balance (CHF)", "ra")], 11, "serif-bold")
    p.rule(20, 49, 190, 49)
    balances = [("Northwind Office Supplies GmbH", "3,210.73"), ("Helvetia Präzisionsteile AG", "1,250.00")]
    for i, (who, amount) in enumerate(balances): p.row(52 + i * 7, [(22, who, "la"), (188, amount, "ra")], 11, "serif")
    p.rule(20, 66, 190, 66)
    for i, line in enumerate(["If you have any questions, please call me or write to me.", "", "Yours sincerely,"]):
        if line: p.text(20, 78 + i * 6.5, line, 11, "serif")
    p.text(20, 108, a["person"], 11, "serif-bold")
    for i, line in enumerate(["Partner, Whitcombe & Hale LLP", f"Phone {a['phone']}", f"Email {a['email']}"]):
        p.text(20, 114 + i * 6, line, 11, "serif")
    p.rule(20, 150, 190, 150, 0.2)
    p.text(20, 156, "Confirmation slip: we confirm the balances above.", 11, "serif")
    p.text(20, 176, "Signature: ______________________    Date: ______________", 11, "serif")
    p.text(105, 282, "Page 2 of 2", 9, "serif", "ma")
    return pages


def g4_strip(page: Image.Image) -> bytes:
    "`page` (mode 1) as one CCITT Group 4 strip, through Pillow's libtiff encoder."
    buf = io.BytesIO()
    page.save(buf, "TIFF", compression="group4", tiffinfo={278: page.height})
    tif = Image.open(io.BytesIO(buf.getvalue()))
    (offset,), (count,) = tif.tag_v2[273], tif.tag_v2[279]
    return buf.getvalue()[offset:offset + count]


def image_only_pdf(pages: list[Image.Image], dpi: int, info: dict[str, str]) -> bytes:
    "A PDF whose pages are only G4 images, written object by object like a scanner's firmware does."
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for img in pages:
        data, (w, h) = g4_strip(img), img.size
        pw, ph = w * 72 / dpi, h * 72 / dpi
        n = len(objects) + 1
        kids.append(f"{n} 0 R")
        content = f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im0 Do Q".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] /Resources << /XObject << "
                       f"/Im0 {n + 2} 0 R >> >> /Contents {n + 1} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
        objects.append(f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
                       f"/BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns {w} /Rows {h} "
                       f"/BlackIs1 true >> /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    objects.append(("<< " + " ".join(f"/{k} ({v})" for k, v in info.items()) + " >>").encode())
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out)); out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    doc_id = hashlib.md5(bytes(out)).hexdigest()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R "
            f"/ID [<{doc_id}> <{doc_id}>] >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def make_scanned_letter(rng: random.Random) -> tuple[bytes, list[str]]:
    sheets, bitonal = letter_pages(), []
    for i, s in enumerate(sheets):
        dust(s.image, rng, 40)
        grey = scanned(s.image, rng, angle=(-0.45, 0.6)[i], blur=0.6, amplitude=10, quality=60)
        bitonal.append(grey.point(lambda v: 0 if v < 150 else 255).convert("1", dither=Image.Dither.NONE))
    info = {"Producer": "idp_kit tools/make_samples.py (scanner-style image-only PDF)", "Creator": "Scan to PDF",
            "CreationDate": "D:20260302101500+01'00'"}
    return image_only_pdf(bitonal, 200, info), [line for s in sheets for line in s.lines]


# ---------------------------------------------------------------------------------------------------------------
# 3. table_report.pdf: born digital, a ruled table with a two-row header and merged header cells (ReportLab)


REPORT_ROWS = [("Northwind Office Supplies GmbH", 3, 24960.00), ("Kestrel Print & Design GmbH", 2, 31180.00),
               ("Helvetia Präzisionsteile AG", 1, 13500.00), ("Bergen Facility Services AS", 4, 18240.00),
               ("Oslo Kontorrenhold AS", 2, 7320.00)]


def report_table() -> list[list[str]]:
    "The report's table as text: two header rows, one row per supplier, a total row (NOK, VAT 25%)."
    rows = [["Supplier", "Invoices", "Amount (NOK)", "", ""], ["", "", "Net", "VAT", "Gross"]]
    for who, n, net in REPORT_ROWS: rows.append([who, str(n), money(net), money(net * 0.25), money(net * 1.25)])
    net = sum(r[2] for r in REPORT_ROWS)
    rows.append(["Total", str(sum(r[1] for r in REPORT_ROWS)), money(net), money(net * 0.25), money(net * 1.25)])
    return rows


def make_table_report() -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    styles, buf = getSampleStyleSheet(), io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, invariant=1, title="Accounts payable by supplier, February 2026",
                            author="Fjord Financial Services AS", subject="Monthly AP report",
                            creator="idp_kit make_samples")
    table = Table(report_table(), colWidths=[62 * mm, 20 * mm, 28 * mm, 24 * mm, 28 * mm], repeatRows=2)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1)),
        ("SPAN", (2, 0), (4, 0)), ("BACKGROUND", (0, 0), (-1, 1), colors.Color(0.85, 0.85, 0.85)),
        ("FONTNAME", (0, 0), (-1, 1), "Helvetica-Bold"), ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("ALIGN", (0, 0), (-1, 1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story = [Paragraph("Accounts payable by supplier, February 2026", styles["Title"]),
             Paragraph("Fjord Financial Services AS, Oslo. Invoices received and approved between 1 and 28 February "
                       "2026, in Norwegian kroner. Amounts in other currencies were converted at the rate on the "
                       "invoice date.", styles["BodyText"]), Spacer(1, 6 * mm), table, Spacer(1, 6 * mm),
             Paragraph("Prepared by Accounts Payable on 2 March 2026. The five suppliers above account for all "
                       "invoices approved in the period.", styles["BodyText"])]
    doc.build(story)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# 6. application_form.pdf: an AcroForm with filled text fields and checkboxes (ReportLab's acroForm)


FORM_TEXT = [("company_name", "Company name", KESTREL["name"]), ("vat_number", "VAT number", KESTREL["vat"]),
             ("street", "Street", KESTREL["street"]), ("city", "Postcode and city", KESTREL["city"]),
             ("contact_name", "Contact person", KESTREL["contact"]), ("contact_email", "Email", KESTREL["email"]),
             ("contact_phone", "Phone", KESTREL["phone"]), ("iban", "IBAN", KESTREL["iban"]),
             ("start_date", "Supply start date (YYYY-MM-DD)", "2026-03-01")]
FORM_CHECKS = [("accept_terms", "I accept Fjord's supplier terms (version 2025-11)", True),
               ("paper_invoices", "Send purchase orders on paper instead of by email", False)]


def make_application_form() -> bytes:
    from reportlab.lib.colors import black, white
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas
    buf, (_, height) = io.BytesIO(), A4
    c = Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle("Supplier registration form"); c.setAuthor("Fjord Financial Services AS")
    c.setFont("Helvetica-Bold", 18); c.drawString(56, height - 70, "Supplier registration form")
    c.setFont("Helvetica", 10)
    c.drawString(56, height - 90, "Fjord Financial Services AS, Accounts Payable, Karl Johans gate 7, 0154 Oslo")
    c.drawString(56, height - 104, "Complete every field and return the form to ap@fjord.example.")
    y = height - 140
    for name, label, value in FORM_TEXT:
        c.setFont("Helvetica", 10); c.drawString(56, y + 6, label)
        c.acroForm.textfield(name=name, tooltip=label, value=value, x=230, y=y, width=300, height=20,
                             fontName="Helvetica",
                             fontSize=10, borderColor=black, fillColor=white, textColor=black, forceBorder=True)
        y -= 32
    y -= 8
    for name, label, checked in FORM_CHECKS:
        c.acroForm.checkbox(name=name, tooltip=label, checked=checked, x=56, y=y, size=14, buttonStyle="check",
                            borderColor=black, fillColor=white, textColor=black, forceBorder=True)
        c.setFont("Helvetica", 10); c.drawString(80, y + 3, label)
        y -= 26
    c.setFont("Helvetica", 8)
    c.drawString(56, 40, "Form AP-7 (rev. 2025-11). Data is processed under Fjord's privacy notice.")
    c.showPage(); c.save()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# 5. expenses.xlsx: two sheets, a header row, dates, numbers, formulas with cached values, a merged title (XlsxWriter)


EXPENSES = [(date(2026, 2, 2), "Travel", "Flight Zürich-Oslo, economy", 286.40, "R-01"),
            (date(2026, 2, 2), "Taxi", "Airport to office", 58.00, "R-02"),
            (date(2026, 2, 3), "Meals", "Lunch with auditors", 74.90, "R-03"),
            (date(2026, 2, 3), "Hotel", "Hotel Bryggen, 2 nights", 312.00, "R-04"),
            (date(2026, 2, 4), "Meals", "Dinner, client meeting", 96.50, "R-05"),
            (date(2026, 2, 5), "Travel", "Airport express train", 21.60, "R-06")]
CATEGORIES = ["Travel", "Taxi", "Meals", "Hotel"]


def expense_total(category: str | None = None) -> float:
    return round(sum(e[3] for e in EXPENSES if category in (None, e[1])), 2)


def make_expenses() -> bytes:
    import xlsxwriter
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"title": "Travel expense claim February 2026", "author": "Zoë Müller",
                       "company": "Fjord Financial Services AS", "created": datetime(2026, 3, 1, 8, 0, 0)})
    bold, day = wb.add_format({"bold": True}), wb.add_format({"num_format": "yyyy-mm-dd"})
    eur, pct = wb.add_format({"num_format": "#,##0.00"}), wb.add_format({"num_format": "0.0%"})
    ws = wb.add_worksheet("Expenses")
    ws.write_row(0, 0, ["Date", "Category", "Description", "Amount (EUR)", "Receipt"], bold)
    for r, (d, cat, desc, amount, receipt) in enumerate(EXPENSES, 1):
        ws.write_datetime(r, 0, datetime(d.year, d.month, d.day), day)
        ws.write_row(r, 1, [cat, desc]); ws.write_number(r, 3, amount, eur); ws.write_string(r, 4, receipt)
    last = len(EXPENSES) + 1
    ws.write_string(last, 0, "Total", bold)
    ws.write_formula(last, 3, f"=SUM(D2:D{last})", eur, expense_total())
    ws.set_column(0, 0, 12); ws.set_column(2, 2, 30); ws.set_column(3, 3, 14)
    sm = wb.add_worksheet("Summary")
    sm.merge_range(0, 0, 0, 2, "Travel expense claim – Zoë Müller, February 2026", bold)
    sm.write_row(2, 0, ["Category", "Amount (EUR)", "Share"], bold)
    for r, cat in enumerate(CATEGORIES, 3):
        sm.write_string(r, 0, cat)
        sm.write_formula(r, 1, f'=SUMIF(Expenses!B2:B{last},"{cat}",Expenses!D2:D{last})', eur, expense_total(cat))
        sm.write_formula(r, 2, f"=B{r + 1}/B{len(CATEGORIES) + 4}", pct, expense_total(cat) / expense_total())
    total_row = len(CATEGORIES) + 3
    sm.write_string(total_row, 0, "Total", bold)
    sm.write_formula(total_row, 1, f"=SUM(B4:B{total_row})", eur, expense_total())
    sm.set_column(0, 0, 14); sm.set_column(1, 1, 14)
    wb.close()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# 4. email_with_attachments.eml: multipart/mixed(alternative(plain, html), PDF, XLSX), RFC 2047 and RFC 2231


EMAIL_PDF_NAME, EMAIL_XLSX_NAME = "AP by supplier, Feb 2026.pdf", "Expenses – Zoë Müller.xlsx"
EMAIL_SUBJECT = "February close: AP report and Zoë's expenses (Zürich trip)"


def make_email(pdf: bytes, xlsx: bytes) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Ingrid Solberg <ingrid.solberg@fjord.example>"
    msg["To"] = "Northwind Accounts <accounts@northwind.example>"
    msg["Cc"] = "Lars Berg <lars.berg@fjord.example>, Zoë Müller <zoe.mueller@fjord.example>"
    msg["Subject"] = EMAIL_SUBJECT
    msg["Date"] = format_datetime(datetime(2026, 3, 2, 9, 14, 5, tzinfo=timezone(timedelta(hours=1))))
    msg["Message-ID"] = "<20260302091405.4F2A17@mail.fjord.example>"
    plain = ("Hello,\n\nAttached are the accounts payable report for February 2026 and Zoë's expense claim for the "
             "Zürich trip.\nThe expenses total EUR 849.40; please check the hotel invoice against receipt R-04.\n\n"
             "Kind regards,\nIngrid Solberg\nAccounts Payable, Fjord Financial Services AS\nPhone +47 22 00 00 00\n")
    html = ("<html><body><p>Hello,</p><p>Attached are the <b>accounts payable report</b> for February 2026 and "
            "Zo&euml;'s expense claim for the Z&uuml;rich trip.<br>The expenses total <b>EUR 849.40</b>; please check "
            "the hotel invoice against receipt R-04.</p><p>Kind regards,<br>Ingrid Solberg<br>Accounts Payable, Fjord "
            "Financial Services AS<br>Phone +47 22 00 00 00</p></body></html>\n")
    msg.set_content(plain)
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=EMAIL_PDF_NAME)
    msg.add_attachment(xlsx, maintype="application", subtype=XLSX.split("/")[1], filename=EMAIL_XLSX_NAME)
    for part in list(msg.walk())[1:]: del part["MIME-Version"]  # the stdlib repeats it on parts; mail clients do not
    msg.set_boundary("=_idpkit_mixed_7f3a9c")
    msg.get_payload()[0].set_boundary("=_idpkit_alt_51e0b2")
    return msg.as_bytes()


# ---------------------------------------------------------------------------------------------------------------
# Expected values: what is true of each document (documented in nbs/samples/README.md)


def pii(kind: str, value: str) -> dict[str, str]: return {"type": kind, "value": value}


def expected_values(lines: dict[str, list[str]]) -> dict[str, dict]:
    k, a = KESTREL, AUDITOR
    subtotal = round(sum(q * p for _, q, p in INVOICE_ITEMS), 2)
    vat = round(subtotal * 0.19, 2)
    table = report_table()
    receipt_total = sum(a for _, a in RECEIPT_ITEMS)
    return {
        "scanned_invoice.png": {
            "document_class": "invoice", "language": "en", "content_type": "image/png", "pages": 1,
            "fields": {"invoice_number": "KPD-2026-0187", "invoice_date": "2026-02-10", "due_date": "2026-03-12",
                       "vendor": k["name"], "customer": "Fjord Financial Services AS", "currency": "EUR",
                       "subtotal": f"{subtotal:.2f}", "tax": f"{vat:.2f}", "total": f"{subtotal + vat:.2f}",
                       "line_items": [{"description": d, "quantity": str(q), "unit_price": f"{p:.2f}",
                                       "amount": f"{q * p:.2f}"} for d, q, p in INVOICE_ITEMS]},
            "key_values": {"Invoice number": "KPD-2026-0187", "Invoice date": "10 Feb 2026", "Due date": "12 Mar 2026",
                           "Customer no.": "C-10442", "Currency": "EUR"},
            "tables": [{"page": 1, "row_count": 5, "column_count": 4, "header_rows": 1,
                        "rows": [["Description", "Qty", "Unit price", "Amount"],
                                 [INVOICE_ITEMS[0][0], "250", "6.40", "1,600.00"]]}],
            "text_contains": ["KPD-2026-0187", "Kestrel Print & Design GmbH", "Total due (EUR)", money(subtotal + vat)],
            "reference_text": lines["scanned_invoice.png"],
            "pii": [pii("person", k["contact"]), pii("email", k["email"]), pii("phone", k["phone"]),
                    pii("iban", k["iban"])],
            "routing": {"parser": "image", "decided_by": "default"}},
        "scanned_letter_2p.pdf": {
            "document_class": "letter", "language": "en", "content_type": "application/pdf", "pages": 2,
            "fields": {"letter_date": "2026-03-02", "sender": a["name"], "recipient": "Fjord Financial Services AS"},
            "text_contains": ["Audit confirmation", "WH/FJ/2025/114", "Yours sincerely,", "3,210.73"],
            "reference_text": lines["scanned_letter_2p.pdf"],
            "pii": [pii("person", a["person"]), pii("person", "Solberg"), pii("phone", a["phone"]),
                    pii("email", a["email"])],
            "routing": {"parser": "pdf", "decided_by": "default"}},
        "table_report.pdf": {
            "document_class": "report", "language": "en", "content_type": "application/pdf", "pages": 1,
            "tables": [{"page": 1, "row_count": len(table), "column_count": 5, "header_rows": 2, "rows": table[:4],
                        "merged": [{"row": 0, "col": 0, "row_span": 2, "col_span": 1, "text": "Supplier"},
                                   {"row": 0, "col": 1, "row_span": 2, "col_span": 1, "text": "Invoices"},
                                   {"row": 0, "col": 2, "row_span": 1, "col_span": 3, "text": "Amount (NOK)"}]}],
            "text_contains": ["Accounts payable by supplier, February 2026", "Helvetia Präzisionsteile AG",
                              table[-1][4]],
            "pii": [], "routing": {"parser": "pdf", "decided_by": "default"}},
        "email_with_attachments.eml": {
            "document_class": "email", "language": "en", "content_type": "message/rfc822",
            "fields": {"from": "Ingrid Solberg <ingrid.solberg@fjord.example>",
                       "to": "Northwind Accounts <accounts@northwind.example>",
                       "cc": "Lars Berg <lars.berg@fjord.example>, Zoë Müller <zoe.mueller@fjord.example>",
                       "subject": EMAIL_SUBJECT, "date": "2026-03-02T09:14:05+01:00",
                       "message_id": "<20260302091405.4F2A17@mail.fjord.example>"},
            "text_contains": ["accounts payable report for February 2026", "EUR 849.40", "receipt R-04"],
            "children": [{"name": EMAIL_PDF_NAME, "content_type": "application/pdf", "same_as": "table_report.pdf"},
                         {"name": EMAIL_XLSX_NAME, "content_type": XLSX, "same_as": "expenses.xlsx"}],
            "pii": [pii("person", "Ingrid Solberg"), pii("person", "Lars Berg"), pii("person", "Zoë Müller"),
                    pii("email", "ingrid.solberg@fjord.example"), pii("email", "accounts@northwind.example"),
                    pii("email", "lars.berg@fjord.example"), pii("email", "zoe.mueller@fjord.example"),
                    pii("phone", "+47 22 00 00 00")],
            "routing": {"parser": "email", "decided_by": "default"}},
        "expenses.xlsx": {
            "document_class": "spreadsheet", "language": "en", "content_type": XLSX, "pages": 2,
            "fields": {"total": f"{expense_total():.2f}", "currency": "EUR"},
            "tables": [{"sheet": "Expenses", "row_count": len(EXPENSES) + 2, "column_count": 5, "header_rows": 1,
                        "rows": [["Date", "Category", "Description", "Amount (EUR)", "Receipt"],
                                 [EXPENSES[0][0].isoformat(), *EXPENSES[0][1:]]],
                        "formulas": [{"cell": f"D{len(EXPENSES) + 2}", "formula": f"SUM(D2:D{len(EXPENSES) + 1})",
                                      "value": expense_total()}]},
                       {"sheet": "Summary", "row_count": len(CATEGORIES) + 4, "column_count": 3,
                        "rows": [["Travel expense claim – Zoë Müller, February 2026", "", ""], ["", "", ""],
                                 ["Category", "Amount (EUR)", "Share"], ["Travel", expense_total("Travel"),
                                                                         expense_total("Travel") / expense_total()]],
                        "merged": [{"row": 0, "col": 0, "row_span": 1, "col_span": 3,
                                    "text": "Travel expense claim – Zoë Müller, February 2026"}],
                        "formulas": [{"cell": "B4", "formula": f'SUMIF(Expenses!B2:B{len(EXPENSES) + 1},"Travel",'
                                      f"Expenses!D2:D{len(EXPENSES) + 1})", "value": expense_total("Travel")}]}],
            "text_contains": ["Hotel Bryggen, 2 nights", "Flight Zürich-Oslo, economy"],
            "pii": [pii("person", "Zoë Müller")],
            "routing": {"parser": "spreadsheet", "decided_by": "default"}},
        "application_form.pdf": {
            "document_class": "form", "language": "en", "content_type": "application/pdf", "pages": 1,
            "key_values": {**{name: value for name, _, value in FORM_TEXT},
                           **{name: on for name, _, on in FORM_CHECKS}},
            "fields": {"vendor": k["name"]},
            "text_contains": ["Supplier registration form", "Postcode and city", "I accept Fjord's supplier terms"],
            "pii": [pii("person", k["contact"]), pii("email", k["email"]), pii("phone", k["phone"]),
                    pii("iban", k["iban"]), pii("email", "ap@fjord.example")],
            "routing": {"parser": "pdf", "decided_by": "default"}},
        "receipt_photo.jpg": {
            "document_class": "receipt", "language": "en", "content_type": "image/jpeg", "pages": 1,
            "fields": {"receipt_number": "40213", "receipt_date": "2026-02-03", "vendor": "HARBOUR STREET CAFE",
                       "currency": "NOK", "total": f"{receipt_total:.2f}",
                       "tax": f"{round(receipt_total * 15 / 115, 2):.2f}"},
            "text_contains": ["TOTAL NOK", money(receipt_total), "03 Feb 2026"],
            "reference_text": lines["receipt_photo.jpg"],
            "pii": [], "routing": {"parser": "image", "decided_by": "default"}},
    }


def build() -> dict[str, bytes]:
    "Every sample and expected file, as {relative path: bytes}; nothing is written."
    rng = random.Random(SEED)
    invoice, invoice_lines = make_scanned_invoice(rng)
    letter, letter_lines = make_scanned_letter(rng)
    receipt, receipt_lines = make_receipt_photo(rng)
    report, xlsx = make_table_report(), make_expenses()
    files = {"scanned_invoice.png": invoice, "scanned_letter_2p.pdf": letter, "table_report.pdf": report,
             "email_with_attachments.eml": make_email(report, xlsx), "expenses.xlsx": xlsx,
             "application_form.pdf": make_application_form(), "receipt_photo.jpg": receipt}
    lines = {"scanned_invoice.png": invoice_lines, "scanned_letter_2p.pdf": letter_lines,
             "receipt_photo.jpg": receipt_lines}
    for name, values in expected_values(lines).items():
        files[f"expected/{name}.json"] = (json.dumps(values, ensure_ascii=False, indent=2) + "\n").encode()
    return files


def main(out: Path) -> None:
    for rel, data in build().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{len(data):>7}  {rel}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "nbs/samples"))
