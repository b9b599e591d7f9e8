"""Cadenza: open-source marketing automation."""

__version__ = "0.1.0"
