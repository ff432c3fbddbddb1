"""Shared logic for the deep-metric-learning replication notebooks."""

__version__ = "0.1.0"
