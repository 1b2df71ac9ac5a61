import pytest
from playwright.sync_api import expect

from tests.cases.test_import_export import _csv, _day, _row

from .conftest import PHONE
from .test_walkthrough import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROWS = [
    _row(1, findings="First line.\nSecond line of the same cell."),
    _row(2, date="14/03/2024"),
    _row(3, categories="cardiomyopathy;cardiac-magic"),
    _row(4, supervising_mentor="stranger@example.test"),
    _row(5, roles=""),
    _row(6, findings="Patient MRN 12345678, dilated LV."),
    _row(7, date=_day(-3)),
    _row(8),
]


@pytest.mark.parametrize("width", [1280, 390])
def test_screens(new_page, screens, trainee, enrollment, mentor, width):
    page = new_page(**(PHONE if width == 390 else {}))
    sign_in(page, trainee.email)
    page.goto("/cases/io/import/")
    page.screenshot(path=screens / f"import-form-{width}.png", full_page=True)
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "prior-log.csv", "mimeType": "text/csv", "buffer": _csv(ROWS)}]
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Check your import")).to_be_visible()
    page.screenshot(path=screens / f"import-dry-run-errors-{width}.png", full_page=True)
    print(width, "scrollWidth", page.evaluate("document.documentElement.scrollWidth"), "inner", page.evaluate("window.innerWidth"))
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "prior-log.csv", "mimeType": "text/csv", "buffer": _csv([_row(1), _row(2), _row(3)])}]
    )
    page.get_by_role("button", name="Check the file").click()
    page.screenshot(path=screens / f"import-dry-run-clean-{width}.png", full_page=True)
    print(width, "scrollWidth", page.evaluate("document.documentElement.scrollWidth"), "inner", page.evaluate("window.innerWidth"))
    page.get_by_role("button", name="Import 3 entries").click()
    expect(page.get_by_role("status")).to_contain_text("3 entries imported")
    page.screenshot(path=screens / f"import-done-{width}.png", full_page=True)
