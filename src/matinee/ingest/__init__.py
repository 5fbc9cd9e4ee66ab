"""Ingest: a master goes in, a packaged CMAF ladder comes out (the first journey)."""
