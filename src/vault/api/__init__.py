"""HTTP API (Litestar): thin controllers over domain services."""
