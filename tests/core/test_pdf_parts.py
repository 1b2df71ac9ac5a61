"""A long PDF rendered in parts in parallel processes, joined and numbered: the same bytes as rendering the parts
here, in order, numbered across the parts, with the text extractable, and nothing fetched but what the parent
resolved."""

import io
import multiprocessing
import subprocess

import pytest
from pypdf import PdfReader

from trainingportal.core import pdf_parts
from trainingportal.core.pdf import STATIC_PREFIX, _static_resources, render_pdf_parts

CSS = '<link rel="stylesheet" href="pdf/dossier.css">'


def _html(title: str, pages: int) -> str:
    body = "".join(f'<h2 style="break-before: page">{title} {i}</h2><p>Text of {title} {i}.</p>' for i in range(pages))
    return f"<html><head>{CSS}</head><body>{body}</body></html>"


def _text(content: bytes) -> str:
    return subprocess.run(
        ["/usr/bin/pdftotext", "-", "-"], input=content, check=True, capture_output=True
    ).stdout.decode()


def test_parts_rendered_in_processes_are_the_bytes_rendered_here():
    htmls = [_html("Front", 2), _html("Log A", 3), _html("Log B", 1)]
    resources = _static_resources(htmls)
    assert set(resources) == {f"{STATIC_PREFIX}pdf/dossier.css"}

    in_pool = pdf_parts.render_parts(htmls, STATIC_PREFIX, resources, workers=2)
    here = pdf_parts.render_parts(htmls, STATIC_PREFIX, resources, workers=1)

    assert in_pool == here
    assert [len(PdfReader(io.BytesIO(part)).pages) for part in in_pool] == [2, 3, 1]


def test_the_joined_pdf_is_numbered_across_the_parts_and_the_same_every_time():
    htmls = [_html("Front", 2), _html("Log A", 3)]
    parts = pdf_parts.render_parts(htmls, STATIC_PREFIX, _static_resources(htmls), workers=2)

    joined, pages = pdf_parts.join_and_number(parts)

    assert pages == 5 and joined == pdf_parts.join_and_number(parts)[0]
    texts = [page for page in _text(joined).split("\f") if page.strip()]
    assert len(texts) == 5
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of 5" in text
    assert "Front 0" in texts[0] and "Log A 2" in texts[4]


def test_a_document_in_parts_keeps_the_template_and_its_stylesheet(settings, tmp_path):
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "test_part.html").write_text(
        f"<html><head>{CSS}</head><body><h1>Part {{{{ title }}}}</h1></body></html>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    contexts = [{"title": "one"}, {"title": "two"}]
    settings.PDF_WORKERS = 2
    rendered = render_pdf_parts("pdf/test_part.html", contexts, filename="x.pdf")
    assert rendered.page_count == 2
    text = _text(rendered.content)
    assert "Part one" in text and "Part two" in text and "Page 2 of 2" in text


@pytest.mark.parametrize("src", ["file:///etc/passwd", "http://example.com/x.png"])
def test_a_part_fetches_nothing_the_parent_did_not_resolve(src):
    html = f'<html><body><img src="{src}"></body></html>'
    with pytest.raises(pdf_parts.PartRenderError, match="Error fetching"):  # refused in the child process
        pdf_parts.render_parts(["<html><body><p>Front</p></body></html>", html], STATIC_PREFIX, {}, workers=2)


def _render_in_a_daemon(queue):
    htmls = [_html("Front", 1), _html("Log A", 1), _html("Log B", 1)]
    try:
        parts = pdf_parts.render_parts(htmls, STATIC_PREFIX, _static_resources(htmls), workers=2)
        queue.put(("ok", len(parts)))
    except BaseException as exc:
        queue.put(("error", repr(exc)))


def test_parts_render_from_a_daemonic_process_as_celery_prefork_workers_are():
    # multiprocessing refuses children to daemonic processes ("daemonic processes are not allowed to have children"):
    # the parts must not depend on it.
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    daemon = context.Process(target=_render_in_a_daemon, args=(queue,), daemon=True)
    daemon.start()
    result = queue.get(timeout=120)
    daemon.join(timeout=10)
    assert result == ("ok", 3)
