"""PDF rendering with WeasyPrint, locked down: no network; only data: URIs and the project's own static files."""

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

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
