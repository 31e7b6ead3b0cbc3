"""The admin pages over plain HTTP: sign-in, the dev picker outside dev mode, CSRF, headers,
four eyes against a forged form, errors shown as pages, escaping of audit records."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from core import audit, keys
from core.auth import DevIssuer
from core.db import make_engine, make_sessionmaker, session_scope
from core.settings import Settings
from gateway.admin.web import CONTENT_SECURITY_POLICY
from gateway.app import create_app
from tests.conftest import RunningLifespan
from tests.factories import manifest
from tests.gateway.admin.conftest import page_form, sign_in_http
from tests.gateway.conftest import seed

Clients = Callable[[], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def clients(gateway_settings: Settings) -> AsyncIterator[Clients]:
    """``await clients()``: a new browser-like client (its own cookies) on the seeded app, in process.

    The app starts on the first call, so a test may change the settings before it.
    """
    await seed(gateway_settings)
    async with contextlib.AsyncExitStack() as stack:
        apps: list[Any] = []

        async def open_client() -> httpx.AsyncClient:
            if not apps:
                apps.append(await stack.enter_async_context(RunningLifespan(create_app(gateway_settings))))
            transport = httpx.ASGITransport(app=apps[0])
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=gateway_settings.public_url))

        yield open_client


async def _submit(client: httpx.AsyncClient, issuer: DevIssuer, user: str, tool: dict[str, Any]) -> None:
    response = await client.post("/api/v1/tools", json={"manifest": tool}, headers={"Authorization": f"Bearer {issuer.issue_for(user)}"})
    assert response.status_code == 201, response.text


async def _state(client: httpx.AsyncClient, issuer: DevIssuer, name: str, number: int) -> str:
    response = await client.get(f"/api/v1/tools/{name}/versions/{number}", headers={"Authorization": f"Bearer {issuer.issue_for('erin')}"})
    return str(response.json()["state"])


def _assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


async def test_every_admin_response_has_a_strict_csp_and_the_other_security_headers(clients: Clients) -> None:
    anonymous, erin = await clients(), await clients()
    await sign_in_http(erin, "erin")
    responses = [
        await anonymous.get("/admin/login"),
        await anonymous.get("/admin/audit"),  # a redirect to sign in
        await anonymous.post("/admin/logout"),  # refused: no CSRF token
        await anonymous.get("/admin/static/admin.css"),
        await anonymous.get("/admin/no-such-page"),
        await erin.get("/admin/audit"),
        await erin.get("/admin/usage/calls.png"),
    ]
    assert [r.status_code for r in responses] == [200, 303, 403, 200, 404, 200, 200]
    for response in responses:
        _assert_security_headers(response)
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    chart = responses[6]
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
    assert "<script" not in responses[5].text and " style=" not in responses[5].text


async def test_a_post_without_the_right_csrf_token_is_refused(clients: Clients, issuer: DevIssuer) -> None:
    carol, bob = await clients(), await clients()
    await _submit(carol, issuer, "bob", manifest())
    await sign_in_http(carol, "carol")
    await sign_in_http(bob, "bob")
    form = {"kind": "security", "verdict": "approve", "allowed_groups": "*", "allowed_agents": "*"}
    action = "/admin/tools/acme.lookup/versions/1/signoff"

    missing = await carol.post(action, data=form)
    assert missing.status_code == 403 and "CSRF token is missing or out of date" in missing.text
    wrong = await carol.post(action, data={**form, "csrf_token": "0" * 64})
    # Another person's token is no good either: it is bound to their session.
    borrowed = await carol.post(action, data={**form, **page_form((await bob.get("/admin/reviews")).text)})
    assert wrong.status_code == borrowed.status_code == 403
    assert await _state(carol, issuer, "acme.lookup", 1) == "in_review"
    # Sign-in is protected too: no nonce cookie, no sign-in.
    fresh = await clients()
    assert (await fresh.post("/admin/login/dev", data={"user": "admin", "csrf_token": "0" * 64})).status_code == 403

    page = await carol.get("/admin/tools/acme.lookup/versions/1")
    accepted = await carol.post(action, data={**form, **page_form(page.text)})
    assert accepted.status_code == 303 and accepted.headers["location"].endswith("?notice=signed")
    assert await _state(carol, issuer, "acme.lookup", 1) == "approved"


async def test_the_session_cookie_is_http_only_strict_and_secure_behind_https(gateway_settings: Settings, clients: Clients) -> None:
    gateway_settings.gateway.public_url = "https://tollhouse.example"
    client = await clients()
    login = await client.get("/admin/login")
    signed_in = await client.post("/admin/login/dev", data={"user": "erin", "next": "/admin/audit", **page_form(login.text)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/audit"
    cookie = next(value for value in signed_in.headers.get_list("set-cookie") if value.startswith("tollhouse_admin_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path", "samesite", "max-age"} <= attributes
    assert "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert (await client.get("/admin/audit")).status_code == 200


async def test_the_dev_picker_is_absent_outside_dev_mode(gateway_settings: Settings, clients: Clients) -> None:
    issuer = DevIssuer(gateway_settings.home, gateway_settings.auth)
    # Production shape: the IdP's public key (here, one we hold the private half of).
    public_key = gateway_settings.home / "idp.pub.pem"
    public_key.write_text(keys.public_pem(issuer.public_key))
    gateway_settings.auth.dev_mode = False
    gateway_settings.auth.public_key_path = str(public_key)
    client = await clients()

    login = await client.get("/admin/login")
    assert login.status_code == 200
    assert "dev-picker" not in login.text and "demo user" not in login.text and "DEV MODE" not in login.text
    assert (await client.get("/admin/login/dev")).status_code == 404
    assert (await client.post("/admin/login/dev", data={"user": "admin", **page_form(login.text)})).status_code == 404

    refused = await client.post("/admin/login", data={"token": "not.a.token", **page_form(login.text)})
    assert refused.status_code == 401 and "sign-in refused" in refused.text
    assert "tollhouse_admin_session" not in refused.headers.get("set-cookie", "")
    token = issuer.issue_for("carol")
    signed_in = await client.post("/admin/login", data={"token": token, "next": "/admin/reviews", **page_form(login.text)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/reviews"
    reviews = await client.get("/admin/reviews")
    assert reviews.status_code == 200 and "carol" in reviews.text and token not in reviews.text


async def test_signed_out_people_are_sent_to_sign_in_and_only_back_to_our_pages(clients: Clients) -> None:
    client = await clients()
    away = await client.get("/admin/audit?user=alice")
    assert away.status_code == 303 and away.headers["location"] == "/admin/login?next=%2Fadmin%2Faudit%3Fuser%3Dalice"
    login = await client.get("/admin/login", params={"next": "https://evil.example/"})
    assert "evil.example" not in login.text
    signed_in = await client.post("/admin/login/dev", data={"user": "erin", "next": "//evil.example", **page_form(login.text)})
    assert signed_in.headers["location"] == "/admin"

    client.cookies.clear()
    client.cookies.set("tollhouse_admin_session", "forged.token.value", domain="127.0.0.1", path="/admin")
    stale = await client.get("/admin/reviews")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/admin/login")
    assert 'tollhouse_admin_session=""' in stale.headers["set-cookie"]


async def test_four_eyes_holds_against_a_forged_sign_off(clients: Clients, issuer: DevIssuer) -> None:
    admin = await clients()
    # A high-risk tool needs a platform sign-off, a role the submitting admin holds.
    await _submit(admin, issuer, "admin", manifest("acme.wipe", risk="high"))
    await sign_in_http(admin, "admin")
    page = await admin.get("/admin/tools/acme.wipe/versions/1")
    assert "Record sign-off" not in page.text and "You submitted this version" in page.text
    forged = await admin.post(
        "/admin/tools/acme.wipe/versions/1/signoff",
        data={"kind": "platform", "verdict": "approve", "allowed_groups": "*", "allowed_agents": "*", **page_form(page.text)},
    )
    assert forged.status_code == 403 and "the submitter of a version may not sign it off" in forged.text
    assert await _state(admin, issuer, "acme.wipe", 1) == "in_review"


async def test_business_errors_are_shown_on_the_page_never_as_a_500(clients: Clients, issuer: DevIssuer) -> None:
    carol, alice = await clients(), await clients()
    await _submit(carol, issuer, "bob", manifest())
    await sign_in_http(carol, "carol")
    await sign_in_http(alice, "alice")
    token = page_form((await carol.get("/admin/tools/acme.lookup/versions/1")).text)
    action = "/admin/tools/acme.lookup/versions/1/signoff"

    no_reason = await carol.post(action, data={"kind": "security", "verdict": "reject", **token})
    assert no_reason.status_code == 400 and "a rejection needs a reason" in no_reason.text
    bad_policy = await carol.post(action, data={"kind": "security", "verdict": "approve", "allowed_groups": "", **token})
    assert bad_policy.status_code == 400 and "write * for any" in bad_policy.text
    bad_rate = await carol.post(action, data={"kind": "security", "verdict": "approve", "allowed_groups": "*", "allowed_agents": "*", "rate_limit_per_minute": "lots", **token})
    assert bad_rate.status_code == 400 and "review policy is not valid" in bad_rate.text
    not_required = await carol.post(action, data={"kind": "privacy", "verdict": "approve", "allowed_groups": "*", "allowed_agents": "*", **token})
    assert not_required.status_code == 400 and "not required" in not_required.text
    unknown = await carol.post("/admin/approvals/no-such-id/grant", data=token)
    assert unknown.status_code == 403  # carol is no platform admin: refused before the lookup
    assert (await carol.get("/admin/tools/acme.lookup/versions/9")).status_code == 404

    alice_token = page_form((await alice.get("/admin/reviews")).text)
    suspend = await alice.post("/admin/agents/chat-bot/suspend", data={"reason": "because", **alice_token})
    assert suspend.status_code == 403 and "platform-admin" in suspend.text
    assert (await alice.get("/admin/agents")).status_code == 403
    for response in (no_reason, bad_policy, suspend):
        assert response.headers["content-type"].startswith("text/html")
    assert await _state(carol, issuer, "acme.lookup", 1) == "in_review"


async def test_audit_records_are_escaped_and_bad_filters_are_explained(gateway_settings: Settings, clients: Clients) -> None:
    hostile = "<script>alert(1)</script>"
    engine = make_engine(gateway_settings.database_url)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            await audit.record(session, "decision", user=hostile, agent='"><img src=x onerror=alert(2)>', tool="demo.add",
                               decision="deny", layer="user_scope", reason=hostile, trace_id="ab" * 16, arguments={"q": hostile})
    finally:
        await engine.dispose()
    erin = await clients()
    await sign_in_http(erin, "erin")
    for path in ("/admin/audit?decision=deny", f"/admin/audit/traces/{'ab' * 16}"):
        page = await erin.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    bad_trace = await erin.get("/admin/audit", params={"trace_id": "not-hex"})
    assert bad_trace.status_code == 400 and "32 lowercase hex digits" in bad_trace.text
    bad_time = await erin.get("/admin/audit", params={"since": "yesterday"})
    assert bad_time.status_code == 400 and "since is not a date" in bad_time.text
    after_2000 = await erin.get("/admin/audit", params={"since": "2000-01-01T00:00", "decision": "deny"})
    before_2000 = await erin.get("/admin/audit", params={"until": "2000-01-01T00:00", "decision": "deny"})
    assert "user_scope" in after_2000.text and "No record matches" not in after_2000.text
    assert "user_scope" not in before_2000.text and "No record matches" in before_2000.text
    assert (await erin.get("/admin/usage", params={"days": 0})).status_code == 400
