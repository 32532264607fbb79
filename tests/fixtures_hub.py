"""Fixtures for the loopback Hub server."""
