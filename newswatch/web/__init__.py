"""The HTTP API (`/api/v1/…`), Atom feeds, the login and set-up pages, and `/healthz`.

The shell's web layer: it may import every stage; nothing imports it. `app.create_app` builds
the FastAPI application from a `context.WebContext`; `server.WebServer` serves it with uvicorn
on the caller's asyncio loop (the service's, in `newswatch run`). DESIGN "HTTP API and web
interface (contract)" is the contract; README "HTTP API" shows it with curl.
"""
