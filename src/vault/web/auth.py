"""Login for people: password (argon2, lockout), optional TOTP, server-side sessions, CSRF on every form."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect

from vault.access.errors import (
    AccountLockedError,
    CsrfRejectedError,
    InvalidCredentialsError,
    SecondFactorRequiredError,
    SessionExpiredError,
)
from vault.access.principals import login
from vault.access.sessions import check_csrf
from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.errors import VaultError
from vault.web.guard import client_ip, current_user, vault_of
from vault.web.i18n import LANGUAGES
from vault.web.render import LANG_COOKIE, render

if TYPE_CHECKING:
    from vault.access.sessions import ConsoleSession

SESSION_COOKIE = "vault_console"
LOGIN_COOKIE = "vault_login"  # double-submit token for the login form (there is no session yet)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Form = URLEncodedBody[dict[str, str]]


def _secure(request: Request[Any, Any, Any]) -> bool:
    mode = vault_of(request).settings.console.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _cookie(request: Request[Any, Any, Any], key: str, value: str, *, max_age: int | None = None,
            path: str = "/console") -> Cookie:
    return Cookie(key=key, value=value, path=path, httponly=True, samesite="strict", secure=_secure(request),
                  max_age=max_age)


def _safe_next(target: str | None) -> str:
    """Only local console paths are followed after login (no open redirect)."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _to_login(request: Request[Any, Any, Any], reason: str) -> Response[Any]:
    target = f"/console/login?reason={reason}&next={quote(request.url.path)}"
    if request.headers.get("hx-request"):
        return Response("", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


async def console_gate(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Before every console handler: resume the session, require the second factor, check the CSRF token.

    Handlers marked ``opt={"public": True}`` (login, language switch) need no session; ``{"mfa": True}``
    accepts a session still waiting for its TOTP code.
    """
    opt = request.route_handler.opt
    if opt.get("public"):
        return None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return _to_login(request, "login")
    vault = vault_of(request)
    async with vault.db.write() as session:
        current = await vault.console_sessions(session).resume(token, client_ip=client_ip(request))
    if isinstance(current, VaultError):
        return _to_login(request, "expired")
    if current.mfa_pending and not opt.get("mfa"):
        return Redirect("/console/login/totp", status_code=303)
    request.scope["state"]["console_session"] = current
    request.scope["state"]["console_token"] = token
    if request.method not in SAFE_METHODS:
        submitted = request.headers.get("x-csrf-token")
        if submitted is None:
            form = await request.form()
            value = form.get("_csrf")
            submitted = value if isinstance(value, str) else None
        try:
            check_csrf(token, submitted)
        except CsrfRejectedError as exc:
            await vault.audit.record_durable(AuditEvent(
                "console.csrf", Outcome.DENIED, current.principal.actor, client_ip=client_ip(request),
                detail=f"{request.method} {request.url.path}: {exc.detail}"))
            return render(request, "error.html", status=403, message_key="login.csrf", code=exc.code)
    return None


class AuthController(Controller):
    """Log in, second factor, log out, account (TOTP), language."""

    path = "/console"
    include_in_schema = False

    @get("/login", opt={"public": True})
    async def login_form(self, request: Request[Any, Any, Any], reason: FromQuery[str | None] = None) -> Response[str]:
        """The login page (with a fresh double-submit token)."""
        return self._login_page(request, {"expired": "login.expired"}.get(reason or ""), 200)

    def _login_page(self, request: Request[Any, Any, Any], message: str | None, status: int) -> Response[str]:
        token = secrets.token_urlsafe(24)
        resp = render(request, "login.html", status=status, login_csrf=token, message_key=message,
                      next=_safe_next(request.query_params.get("next")), user=None)
        resp.set_cookie(_cookie(request, LOGIN_COOKIE, token, max_age=3600))
        return resp

    @post("/login", opt={"public": True}, status_code=303)
    async def login_submit(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Check the password (lockout after 5 failures, every attempt audited) and open a session."""
        vault = vault_of(request)
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or not secrets.compare_digest(cookie, data.get("_csrf", "")):
            await vault.audit.record_durable(AuditEvent(
                "console.csrf", Outcome.DENIED, Actor(None, "anonymous", "unknown"), client_ip=client_ip(request),
                detail="login form without its token"))
            return self._login_page(request, "login.csrf", 403)
        try:
            principal = await login(vault.db, vault.audit, vault.roles, data.get("name", "")[:100],
                                    data.get("password", "")[:1000], client_ip=client_ip(request))
        except AccountLockedError:
            return self._login_page(request, "login.locked", 403)
        except InvalidCredentialsError:
            return self._login_page(request, "login.failed", 401)
        async with vault.db.write() as session:
            started = await vault.console_sessions(session).start(principal, client_ip=client_ip(request))
        target = "/console/login/totp" if started.session.mfa_pending else _safe_next(data.get("next"))
        resp: Response[Any] = Redirect(target, status_code=303)
        resp.set_cookie(_cookie(request, SESSION_COOKIE, started.token))
        resp.delete_cookie(LOGIN_COOKIE, path="/console")
        return resp

    @get("/login/totp", opt={"mfa": True})
    async def totp_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Ask for the TOTP code of a session waiting for it."""
        if not current_user(request).mfa_pending:
            return Redirect("/console", status_code=303)
        return render(request, "totp.html")

    @post("/login/totp", opt={"mfa": True}, status_code=303)
    async def totp_submit(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Complete the login with a TOTP code (five wrong codes end the session)."""
        vault = vault_of(request)
        token = request.scope["state"]["console_token"]
        async with vault.db.write() as session:
            outcome = await vault.console_sessions(session).second_factor(
                token, data.get("code", ""), client_ip=client_ip(request))
        if isinstance(outcome, SecondFactorRequiredError):
            return render(request, "totp.html", status=401, message_key="totp.failed")
        if isinstance(outcome, SessionExpiredError | VaultError):
            return _to_login(request, "expired")
        return Redirect("/console", status_code=303)

    @post("/logout", opt={"mfa": True}, status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """End the session (audited) and clear the cookie."""
        vault = vault_of(request)
        async with vault.db.write() as session:
            await vault.console_sessions(session).end(request.scope["state"]["console_token"],
                                                      client_ip=client_ip(request))
        resp: Response[Any] = Redirect("/console/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/console")
        return resp

    @get("/account")
    async def account(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The person's account: TOTP state."""
        user = current_user(request)
        vault = vault_of(request)
        async with vault.db.read() as session:
            enabled = await vault.console_sessions(session).totp_enabled(user.principal.id)
        return render(request, "account.html", totp_enabled=enabled, enrollment=None)

    @post("/account/totp", status_code=200)
    async def totp_enroll(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Start TOTP enrollment: show the secret once."""
        user: ConsoleSession = current_user(request)
        vault = vault_of(request)
        async with vault.db.write() as session:
            enrollment = await vault.console_sessions(session).enroll_totp(user.principal)
        return render(request, "account.html", totp_enabled=False, enrollment=enrollment)

    @post("/account/totp/confirm", status_code=200)
    async def totp_confirm(self, request: Request[Any, Any, Any], data: Form) -> Response[str]:
        """Activate TOTP with a first code."""
        user = current_user(request)
        vault = vault_of(request)
        try:
            async with vault.db.write() as session:
                await vault.console_sessions(session).confirm_totp(user.principal, data.get("code", ""),
                                                                   client_ip=client_ip(request))
        except InvalidCredentialsError:
            return render(request, "account.html", status=400, totp_enabled=False, enrollment=None,
                          message_key="totp.failed")
        return render(request, "account.html", totp_enabled=True, enrollment=None,
                      message_key="account.totp_enabled")

    @get("/lang/{lang:str}", opt={"public": True})
    async def set_language(self, request: Request[Any, Any, Any], lang: FromPath[str]) -> Response[Any]:
        """Switch the UI language (a preference cookie) and go back to the page."""
        resp: Response[Any] = Redirect(_safe_next(request.query_params.get("next")), status_code=303)
        if lang in LANGUAGES:
            resp.set_cookie(Cookie(key=LANG_COOKIE, value=lang, path="/console", samesite="strict",
                                   secure=_secure(request), max_age=365 * 86400))
        return resp


def html_error(request: Request[Any, Any, Any], status: int, message_key: str, code: str) -> Response[str]:
    """An error page (or fragment for htmx) in the user's language."""
    template = "error_fragment.html" if request.headers.get("hx-request") else "error.html"
    return render(request, template, status=status, message_key=message_key, code=code)


__all__ = ["SESSION_COOKIE", "AuthController", "console_gate", "html_error"]
