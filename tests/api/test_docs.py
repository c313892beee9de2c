"""The API's OpenAPI docs in a real browser: Swagger UI served from this machine, nothing
fetched from anywhere else."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
from playwright.sync_api import Page, Request

from .conftest import Api


def test_the_docs_list_both_endpoints_offline(api: Api, page: Page) -> None:
    asked: list[str] = []

    def note(request: Request) -> None:
        asked.append(request.url)

    page.on("request", note)
    page.goto(f"{api.url}/docs")
    page.get_by_text("/detect-language").wait_for(timeout=30_000)
    page.get_by_text("/asr", exact=True).click()  # open it: its parameters show
    for parameter in ("encode", "task", "language", "output", "word_timestamps", "diarize"):
        page.locator(f'tr[data-param-name="{parameter}"]').wait_for(timeout=10_000)
    hosts = {urlparse(url).netloc for url in asked if not url.startswith("data:")}
    assert hosts == {urlparse(api.url).netloc}, asked
    schema = httpx.get(f"{api.url}/openapi.json").json()
    assert {"/asr", "/detect-language"} <= set(schema["paths"])
