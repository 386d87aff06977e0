"""Sayso: self-hostable user feedback, wire-compatible with Usero's public API."""

__version__ = "0.1.0"
