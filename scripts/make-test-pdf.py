#!/usr/bin/env python3
"""Writes tests/fixtures/knowledge/policy.pdf: a minimal two-page PDF 1.4 (Helvetica
text, one content stream per page, a correct cross-reference table), the fixture of the
knowledge base's PDF tests. Run from the repository root; the output is deterministic."""

import pathlib

PAGES = [
    ["Returns policy", "Returns within 30 days of delivery are accepted.",
     "The refund goes back to the card you paid with."],
    ["Warranty", "Every appliance has a two year warranty from the date of purchase."],
]


def content(lines):
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "16 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def build():
    objects = []  # bodies, object n at index n-1
    page_ids = [3 + 2 * i for i in range(len(PAGES))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(PAGES)} >>".encode())
    font_id = 3 + 2 * len(PAGES)
    for i, lines in enumerate(PAGES):
        stream = content(lines)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> /Contents {page_ids[i] + 1} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    path = pathlib.Path("tests/fixtures/knowledge/policy.pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build())
    print(f"wrote {path} ({path.stat().st_size} bytes)")
