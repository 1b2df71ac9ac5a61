"""Query counts that do not grow with the data (healthchecks' hc/api/tests/test_list_checks.py).

Every caller states the exact count and lists the expected queries in a comment next to it. On failure the message
is the SQL of both runs, so a new query per row shows up as a block of repeated lines.
"""

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def captured_queries(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Call `fn()`; return what it returned and the SQL of every query it made."""
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return result, [q["sql"] for q in ctx.captured_queries]


def assert_same_query_count(before: list[str], after: list[str], expected: int) -> None:
    """Two runs of the same work, on less and on more data, both made exactly `expected` queries."""
    listing = "\n".join([f"--- before ({len(before)}):", *before, f"--- after ({len(after)}):", *after])
    assert len(before) == len(after), listing
    assert len(after) == expected, listing


def assert_query_count_flat(client, url: str, grow: Callable[[], Any], expected: int):
    """GET `url`, let `grow()` add rows, GET it again: both must take exactly `expected` queries. Returns the second
    response."""

    def get():
        response = client.get(url)
        assert response.status_code == 200, response.content[:500]
        return response

    get()  # warm-up: content types and other first-request caches
    _, before = captured_queries(get)
    grow()
    response, after = captured_queries(get)
    assert_same_query_count(before, after, expected)
    return response
