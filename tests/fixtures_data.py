"""Fixtures that build small image folders on the fly (no real data, no network)."""
