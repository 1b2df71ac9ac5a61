"""A long PDF rendered in parts, in parallel processes, joined and numbered afterwards.

WeasyPrint lays out one document on one core; a dossier's case log of 1,500 entries is most of its time. The caller
renders the HTML of each part (the front matter, then slices of the case log) and this module renders them in a pool
of processes, joins them with pypdf and stamps "Page i of n" on every page. No Django here: the pool's processes
start from a fork server that has imported only this module (WeasyPrint, pypdf), and they fetch nothing but data:
URIs and the static files the parent resolved for them. Same HTML → same bytes (no dates, ids or random names).
"""

import io
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

# Helvetica (a standard PDF font: nothing to embed) widths per 1,000 units of the characters of the page label.
_HELVETICA = {" ": 278, "P": 667, "a": 556, "g": 556, "e": 556, "o": 556, "f": 278, **dict.fromkeys("0123456789", 556)}
LABEL_SIZE = 8  # pt, as the running header
LABEL_GREY = 0.333  # #555, as the running header
LABEL_RIGHT = 14 / 25.4 * 72  # the pages' right margin (14 mm)
LABEL_BASELINE = 8 / 25.4 * 72  # in the bottom margin (18 mm)
FONT_KEY = "/TPLabel"


class _Fetcher(URLFetcher):
    """data: URIs, and the static files the parent resolved; nothing else."""

    def __init__(self, resources: dict[str, tuple[bytes, str]]):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, fail_on_errors=True)
        self.resources = resources

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url in self.resources:
            content, content_type = self.resources[url]
            return URLFetcherResponse(url, content, headers={"Content-Type": content_type})
        raise ValueError(f"the PDF renderer does not fetch {url!r}")


def render_part(html: str, base_url: str, resources: dict[str, tuple[bytes, str]]) -> bytes:
    return HTML(string=html, base_url=base_url, url_fetcher=_Fetcher(resources)).write_pdf()


def _label_width(text: str) -> float:
    return sum(_HELVETICA.get(ch, 556) for ch in text) * LABEL_SIZE / 1000


def join_and_number(parts: list[bytes], *, metadata_from: int = 0) -> tuple[bytes, int]:
    """The parts' pages in order, each stamped "Page i of n" at the bottom right; the metadata of one part."""
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    total = len(writer.pages)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    save = DecodedStreamObject()
    save.set_data(b"q\n")
    save_ref = writer._add_object(save)
    for number, page in enumerate(writer.pages, start=1):
        label = f"Page {number} of {total}"
        x = float(page.mediabox.right) - LABEL_RIGHT - _label_width(label)
        y = float(page.mediabox.bottom) + LABEL_BASELINE
        stamp = DecodedStreamObject()
        stamp.set_data(
            f"Q q {LABEL_GREY} {LABEL_GREY} {LABEL_GREY} rg BT {FONT_KEY} {LABEL_SIZE} Tf {x:.2f} {y:.2f} Td ({label}) Tj ET Q\n".encode()
        )
        contents = page.get("/Contents")
        existing = list(contents.get_object()) if isinstance(contents.get_object(), ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([save_ref, *existing, writer._add_object(stamp)])
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else DictionaryObject()
        fonts[NameObject(FONT_KEY)] = font
        resources[NameObject("/Font")] = fonts
        page[NameObject("/Resources")] = resources
    metadata = PdfReader(io.BytesIO(parts[metadata_from])).metadata
    if metadata:
        writer.add_metadata({key: str(value) for key, value in metadata.items()})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), total


_POOL_CONTEXT = None


def _context():
    """A fork server that has imported this module only: safe to use from threaded or daemonic parents (gunicorn,
    Celery's prefork children) and quick to fork from."""
    global _POOL_CONTEXT
    if _POOL_CONTEXT is None:
        _POOL_CONTEXT = get_context("forkserver")
        _POOL_CONTEXT.set_forkserver_preload([__name__])
    return _POOL_CONTEXT


def render_parts(htmls: list[str], base_url: str, resources: dict, *, workers: int | None = None) -> list[bytes]:
    """Each HTML rendered to PDF bytes, in order: in this process for one part, else in a pool of processes."""
    workers = max(1, min(len(htmls), workers or os.cpu_count() or 1))
    if workers == 1:
        return [render_part(html, base_url, resources) for html in htmls]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        return list(pool.map(render_part, htmls, [base_url] * len(htmls), [resources] * len(htmls)))
