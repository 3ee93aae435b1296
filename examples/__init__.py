"""Examples that import from the repository root (``python -m ...`` there, or pytest); not installed."""
