"""The web layer: FastAPI app, pages, API, WebSockets and the `lienthong` command."""
