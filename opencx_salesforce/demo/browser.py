"""A minimal browser for the demo: keeps cookies, follows redirects, reads HTML
forms and submits them as a person would by clicking a button.

The demo connects the plugin through the real OAuth pages (log in, Allow) rather
than around them; this is what lets it do that without a real browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import aiohttp


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)  # submit name -> value
    id: str | None = None


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(
                a.get("action", ""), a.get("method", "get").lower(), id=a.get("id")
            )
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            if kind == "submit":
                self._current.buttons[a["name"]] = a.get("value", "")
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self._current.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


@dataclass
class Page:
    url: str
    status: int
    text: str

    def forms(self) -> list[Form]:
        parser = _FormParser()
        parser.feed(self.text)
        return parser.forms

    def form(self, *, id: str | None = None, has_field: str | None = None) -> Form:
        for form in self.forms():
            if (id is None or form.id == id) and (has_field is None or has_field in form.fields):
                return form
        raise LookupError(f"no such form on {self.url} (id={id}, field={has_field})")


class Browser:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._http = session

    async def get(self, url: str) -> Page:
        async with self._http.get(url, allow_redirects=True) as response:
            return Page(str(response.url), response.status, await response.text())

    async def submit(
        self,
        page: Page,
        form: Form,
        values: dict[str, str] | None = None,
        button: str | None = None,
    ) -> Page:
        data = {**form.fields, **(values or {})}
        if button is not None:
            data[button] = form.buttons.get(button, "")
        url = urljoin(page.url, form.action or page.url)
        async with self._http.request(
            form.method.upper(), url, data=data, allow_redirects=True
        ) as response:
            return Page(str(response.url), response.status, await response.text())
