"""PDF rendering with WeasyPrint, locked down: no network; only data: URIs and the project's own static files."""

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from . import pdf_parts

STATIC_PREFIX = "file:///static/"
# What a failed rendering can raise. WeasyPrint's fatal fetch error is a BaseException, so `except Exception` misses it.
RENDER_ERRORS = (Exception, FatalURLFetchingError)


class LockedURLFetcher(URLFetcher):
    """WeasyPrint follows every URL in the HTML; this one answers only data: URIs and our static files."""

    def __init__(self):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, fail_on_errors=True)

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(STATIC_PREFIX):
            found = finders.find(url[len(STATIC_PREFIX) :])
            if found:
                # Without a Content-Type WeasyPrint takes a stylesheet for text/plain and drops it.
                content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
                return URLFetcherResponse(url, Path(found).read_bytes(), headers={"Content-Type": content_type})
        raise ValueError(f"the PDF renderer does not fetch {url!r}")


@dataclass(frozen=True)
class RenderedPDF:
    filename: str
    content_type: str
    content: bytes
    page_count: int


def render_pdf(template_name: str, context: dict, *, filename: str) -> RenderedPDF:
    """Render a template to a PDF. Templates refer to static files by relative path (`pdf/dossier.css`)."""
    html = render_to_string(template_name, context)
    try:
        document = HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=LockedURLFetcher()).render()
    except FatalURLFetchingError as exc:
        # A BaseException in WeasyPrint: turn it into an ordinary error so callers can mark the job failed.
        raise ValueError(f"a resource of the PDF could not be loaded: {exc.__cause__ or exc}") from exc
    return RenderedPDF(filename, "application/pdf", document.write_pdf(), len(document.pages))


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


_LINKED = re.compile(r"""(?:href|src)=["']([^"'#]+)["']""")


def _static_resources(htmls: list[str]) -> dict[str, tuple[bytes, str]]:
    """The static files the HTML links to, read here for the rendering processes (which have no Django)."""
    resources = {}
    for html in htmls:
        for link in set(_LINKED.findall(html)):
            if ":" in link:
                continue  # data: URIs are read by the renderer; anything else is refused there
            found = finders.find(link)
            if found:
                content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
                resources[STATIC_PREFIX + link] = (Path(found).read_bytes(), content_type)
    return resources


def render_pdf_parts(template_name: str, contexts: list[dict], *, filename: str) -> RenderedPDF:
    """Render a long document as parts (one context each), in parallel processes, joined and numbered "Page i of n"
    (trainingportal/core/pdf_parts.py). The parts depend on the data only, never on the machine: same data, same
    bytes."""
    htmls = [render_to_string(template_name, context) for context in contexts]
    try:
        parts = pdf_parts.render_parts(htmls, STATIC_PREFIX, _static_resources(htmls), workers=settings.PDF_WORKERS)
    except (FatalURLFetchingError, pdf_parts.PartRenderError) as exc:
        raise ValueError(f"a resource of the PDF could not be loaded: {exc.__cause__ or exc}") from exc
    content, pages = pdf_parts.join_and_number(parts)
    return RenderedPDF(filename, "application/pdf", content, pages)
