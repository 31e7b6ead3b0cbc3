"""Running the gateway process."""

from __future__ import annotations

import uvicorn

from core.settings import Settings
from gateway.app import create_app


def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the app on one worker until interrupted."""
    uvicorn.run(
        create_app(settings),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level="info",
        # Request lines stay out of the log: less noise, and nothing sensitive
        # in a query string can leak there.
        access_log=False,
    )
