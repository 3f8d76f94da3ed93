"""Jinja2 rendering for the console (autoescaped; no inline script or style: the CSP forbids both)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Response

from vault.lib.clock import as_utc
from vault.web.i18n import LANGUAGES, pick_language, translator

if TYPE_CHECKING:
    from litestar import Request

    from vault.access.sessions import ConsoleSession

TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "vault_lang"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html",)), auto_reload=False)
_env.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
KST = timezone(timedelta(hours=9))


def _kst(value: datetime | None) -> str:
    return as_utc(value).astimezone(KST).strftime("%Y-%m-%d %H:%M:%S") if value else ""


_env.filters["kst"] = _kst
_env.filters["kstdate"] = lambda value: as_utc(value).astimezone(KST).strftime("%Y-%m-%d")


def language(request: Request[Any, Any, Any]) -> str:
    """The UI language of this request."""
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(request: Request[Any, Any, Any], template: str, *, status: int = 200,
           user: ConsoleSession | None = None, **context: Any) -> Response[str]:
    """Render ``template`` with the common context: texts, language, the user and their CSRF token."""
    lang = language(request)
    if user is None:
        user = request.scope["state"].get("console_session")
    html = _env.get_template(template).render(
        t=translator(lang), lang=lang, languages=LANGUAGES, user=user, csrf=user.csrf_token if user else "",
        path=request.url.path, query=request.url.query, **context)
    return Response(html, status_code=status, media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store", "Vary": "Cookie, HX-Request"})
