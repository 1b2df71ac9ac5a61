"""The locked-down WeasyPrint URL fetcher: data: URIs and our own static files only, never the network or the disk."""

import base64
import socket
import subprocess

import pytest
from django.core.exceptions import SuspiciousFileOperation
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from trainingportal.core.pdf import STATIC_PREFIX, LockedURLFetcher, absolute_url

REFUSED = (ValueError, SuspiciousFileOperation)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the PDF renderer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "https://example.com/x.png",
        "//example.com/x.png",
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "file:///static/../../../../etc/passwd",
        "file:///static//etc/passwd",
        "file:///static/pdf/../../../../../etc/passwd",
        "file:///static/pdf/does-not-exist.css",
        "file:///work/main/static/pdf/dossier.css",
    ],
)
def test_fetcher_refuses_network_and_arbitrary_files(url):
    with pytest.raises(REFUSED):
        LockedURLFetcher().fetch(url)


def test_fetcher_allows_data_uris():
    payload = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    url = "data:image/svg+xml;base64," + base64.b64encode(payload).decode()

    response = LockedURLFetcher().fetch(url)

    assert response.read() == payload
    assert response.content_type == "image/svg+xml"


def test_fetcher_serves_our_static_stylesheet():
    response = LockedURLFetcher().fetch(f"{STATIC_PREFIX}pdf/dossier.css")

    assert b"@page" in response.read()


def test_fetcher_labels_the_stylesheet_as_css():
    # WeasyPrint ignores a stylesheet that is not text/css ("Unsupported stylesheet type text/plain").
    response = LockedURLFetcher().fetch(f"{STATIC_PREFIX}pdf/dossier.css")

    assert response.content_type == "text/css"


def test_rendering_applies_the_static_stylesheet(tmp_path):
    html = '<html><head><link rel="stylesheet" href="pdf/dossier.css"></head><body><h1>Dossier</h1></body></html>'
    path = tmp_path / "out.pdf"
    path.write_bytes(HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=LockedURLFetcher()).write_pdf())

    text = subprocess.run(["/usr/bin/pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout

    assert "trainingportal verification dossier" in text  # the @page header from dossier.css


@pytest.mark.parametrize("src", ["http://example.com/x.png", "file:///etc/passwd"])
def test_rendering_html_that_points_outside_fails_without_connecting(src):
    # fail_on_errors: a template that refers to anything but data: or static files is a bug to notice, not to skip.
    html = f'<p>x</p><img src="{src}">'

    with pytest.raises(FatalURLFetchingError) as exc_info:
        HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=LockedURLFetcher()).write_pdf()

    assert "does not fetch" in str(exc_info.value.__cause__)


def test_absolute_url_uses_site_url(settings):
    settings.SITE_URL = "https://portal.example.org/"

    assert absolute_url("/verify/ABC/") == "https://portal.example.org/verify/ABC/"
