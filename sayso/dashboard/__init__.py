"""The team's web UI (server-rendered, Litestar). For now only the landing page."""
