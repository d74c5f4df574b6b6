"""medboard as an HTTP service: cases over HTTP and CDS Hooks (FastAPI; the ``[server]`` extra).

Not yet filled in (issue 12).
"""
