"""Route handlers of the browser-facing app: static assets (vendored, served from the package) and the console."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from litestar.static_files import create_static_files_router

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).parent / "static"


def web_handlers() -> list[ControllerRouterHandler]:
    """Everything the console adds to the app."""
    static = create_static_files_router(
        path="/console/static", directories=[STATIC_DIR], include_in_schema=False, name="console-static",
        cache_control=None,
    )
    return [static]
