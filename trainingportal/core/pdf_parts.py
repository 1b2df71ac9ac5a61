"""A long PDF rendered in parts, in parallel processes, joined and numbered afterwards.

WeasyPrint lays out one document on one core; a dossier's case log of 1,500 entries is most of its time. The caller
renders the HTML of each part (the front matter, then slices of the case log) and this module renders them in a pool
of child processes, joins them with pypdf and stamps "Page i of n" on every page. No Django here: the children run
this file as a script (WeasyPrint, pypdf) and fetch nothing but data: URIs and the static files the parent resolved
for them. Same HTML → same bytes (no dates, ids or random names).
"""

import io
import os
import pickle  # noqa: S403 - between this process and the child it starts, nothing else
import subprocess
import sys
import threading
from pathlib import Path

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


class PartRenderError(RuntimeError):
    """A part failed in its rendering process; the message carries the original error."""


def _render_in_subprocess(htmls: list[str], base_url: str, resources: dict) -> subprocess.Popen:
    """A plain child process (this file run as a script: WeasyPrint and pypdf only, no Django, no multiprocessing —
    which refuses to start children from Celery's daemonic prefork workers). It reads its parts from stdin and
    writes their PDFs to stdout, pickled: parent and child are the same program."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.payload = pickle.dumps((htmls, base_url, resources), protocol=pickle.HIGHEST_PROTOCOL)
    return process


def render_parts(htmls: list[str], base_url: str, resources: dict, *, workers: int | None = None) -> list[bytes]:
    """Each HTML rendered to PDF bytes, in order. One part, or one worker: here. Otherwise the first part here while
    the others are laid out in up to `workers` child processes started for this document."""
    workers = max(1, min(len(htmls), workers or os.cpu_count() or 1))
    if workers == 1:
        return [render_part(html, base_url, resources) for html in htmls]
    rest = list(range(1, len(htmls)))
    groups = [rest[i::workers] for i in range(min(workers, len(rest)))]
    processes = [_render_in_subprocess([htmls[i] for i in group], base_url, resources) for group in groups]
    outputs: list = [None] * len(processes)

    def collect(n: int) -> None:
        outputs[n] = processes[n].communicate(processes[n].payload)

    threads = [threading.Thread(target=collect, args=(n,), daemon=True) for n in range(len(processes))]
    for thread in threads:
        thread.start()
    try:
        results: dict[int, bytes] = {0: render_part(htmls[0], base_url, resources)}
    finally:
        for thread in threads:
            thread.join()
    for group, process, (stdout, stderr) in zip(groups, processes, outputs, strict=True):
        if process.returncode != 0:
            raise PartRenderError(f"a part of the PDF failed: {stderr.decode(errors='replace').strip()[-2000:]}")
        status, value = pickle.loads(stdout)  # noqa: S301 - our own child process
        if status != "ok":
            raise PartRenderError(value)
        results.update(zip(group, value, strict=True))
    return [results[i] for i in range(len(htmls))]


def _child() -> int:
    htmls, base_url, resources = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our own parent
    try:
        value = ("ok", [render_part(html, base_url, resources) for html in htmls])
    except BaseException as exc:  # WeasyPrint's fatal fetch error is a BaseException
        value = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
