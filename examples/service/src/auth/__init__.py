"""API authentication."""
