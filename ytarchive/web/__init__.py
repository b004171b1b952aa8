"""`ytarchive web`: one FastAPI app serving the guide's REST API and the archive's pages."""

from ytarchive.web.app import create_app

__all__ = ["create_app"]
