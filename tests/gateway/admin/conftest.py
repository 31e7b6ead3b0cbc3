"""The admin pages under test: a live gateway, Debian's Chromium driven by Playwright, and
screenshots of every page written to ``tests/artefacts/admin/`` (not committed)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
)

from core.auth import DEV_USERS
from core.settings import Settings
from registry.schemas import AccessPolicy
from tests.factories import manifest
from tests.gateway.conftest import LiveGateway, seed, serve
from tools.demo.specs import DEMO_ADD
from tools.spec import ToolContext

ARTEFACTS = Path(__file__).parents[2] / "artefacts" / "admin"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


async def _echo(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"sum": arguments["a"] + arguments["b"]}


# A tool whose review policy asks a person to approve each call.
GUARDED = dataclasses.replace(DEMO_ADD, name="test.guarded", handler=_echo, title="Guarded add")
TOOLS = {DEMO_ADD.name: DEMO_ADD, GUARDED.name: GUARDED}
POLICIES = {GUARDED.name: AccessPolicy(human_approval=True)}


@pytest.fixture
async def live(gateway_settings: Settings) -> AsyncIterator[LiveGateway]:
    """The demo world plus a human-approval tool, served on a loopback port."""
    await seed(gateway_settings, TOOLS, POLICIES)
    async with serve(gateway_settings, tools=TOOLS) as gateway:
        yield gateway


@dataclasses.dataclass
class UserPage:
    """One person's browser tab (own cookies), with what the page did that it must not."""

    page: Page
    context: BrowserContext
    base_url: str
    dialogs: list[str] = dataclasses.field(default_factory=list)
    console_errors: list[str] = dataclasses.field(default_factory=list)

    async def goto(self, path: str) -> None:
        response = await self.page.goto(self.base_url + path)
        assert response is not None

    async def sign_in(self, user: str, next_path: str = "/admin") -> None:
        """Through the dev-mode picker, as a person would."""
        await self.goto(f"/admin/login?next={next_path}")
        await self.page.get_by_role("button", name=DEV_USERS[user].name).click()
        await self.page.wait_for_url(re.compile(re.escape(self.base_url + next_path) + r"(\?.*)?$"))

    async def shot(self, name: str) -> Path:
        """A full-page screenshot, kept as a test artefact."""
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        # A CSP violation or a failed load shows as a console error; an alert() as a dialog.
        assert self.dialogs == []
        assert self.console_errors == []


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def open_tab(browser: Browser, live: LiveGateway) -> AsyncIterator[Any]:
    """``await open_tab()``: a fresh tab with cookies of its own, on the live gateway."""
    contexts: list[BrowserContext] = []

    async def opener() -> UserPage:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        tab = UserPage(page, context, live.url)

        async def on_dialog(dialog: Dialog) -> None:
            tab.dialogs.append(dialog.message)
            await dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tab.console_errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        return tab

    yield opener
    for context in contexts:
        await context.close()


async def submit(live: LiveGateway, user: str, tool_manifest: dict[str, Any]) -> dict[str, Any]:
    """Submit a version through the REST API, as a publisher's CI would."""
    response = await live.http.post("/api/v1/tools", json={"manifest": tool_manifest}, headers=live.auth(user))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def version(live: LiveGateway, name: str, number: int) -> dict[str, Any]:
    response = await live.http.get(f"/api/v1/tools/{name}/versions/{number}", headers=live.auth("erin"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def lookup_manifest(*, order_id_description: str = "The order's id.", description: str = "Looks up an order by its id.") -> dict[str, Any]:
    changed = manifest(description=description)
    changed["inputSchema"]["properties"]["order_id"]["description"] = order_id_description
    return changed


def page_form(html: str) -> dict[str, str]:
    """The CSRF token of the first form on a page (for plain HTTP tests)."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, "the page has no CSRF-protected form"
    return {"csrf_token": found.group(1)}


async def sign_in_http(http: httpx.AsyncClient, user: str) -> None:
    """Sign a plain HTTP client in through the dev picker (cookies kept by the client)."""
    login = await http.get("/admin/login")
    response = await http.post("/admin/login/dev", data={"user": user, **page_form(login.text)})
    assert response.status_code == 303, response.text
