"""Service types read as what a platform offers on its pages, and as what a technology needs on the search form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

#: Page labels do not depend on the database backend: these run once, on SQLite.
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    ("lang", "offered", "needed"),
    [("zh", "提供的服务类型", "所需服务类型"), ("en", "Services offered", "Services needed")],
)
def test_platform_pages_say_offered_and_the_search_form_says_needed(
    small_client: TestClient, lang: str, offered: str, needed: str
) -> None:
    small_client.cookies.set("pm_lang", lang)
    try:
        page = small_client.get("/platforms/1")
        assert page.status_code == 200
        assert offered in page.text and needed not in page.text
        form = small_client.get("/")
        assert form.status_code == 200
        assert needed in form.text and offered not in form.text
    finally:
        small_client.cookies.delete("pm_lang")
