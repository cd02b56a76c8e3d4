"""The HTTP adapter: FastAPI app factory, the jobs API, the envelope."""

from scrapejobs.web.app import create_app

__all__ = ["create_app"]
