"""A real uvicorn server on a free loopback port, in the test's event loop.

Litestar's AsyncTestClient runs the app through a blocking portal, one request at a time,
so it cannot show whether one request stalls others; tests about concurrency use this.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from vault.api.app import create_app
from vault.config import Settings


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """Serve the vault app (as `vault serve` does, with the bounded HTTP protocol); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), http="vault.api.limits:BoundedHttpToolsProtocol",
                            lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):  # uvicorn exposes no start event
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "live server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
