"""medboard as an HTTP service: cases over HTTP and CDS Hooks (FastAPI; the ``[server]`` extra).

`medboard.service.app.create_app(settings)` builds the ASGI app; `medboard serve` runs it under
uvicorn. Nothing outside this package (and `medboard.cli.serve`, inside its command) imports
FastAPI or uvicorn, so the core install works without them. See docs/service.md.
"""
