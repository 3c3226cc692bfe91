"""billing-service: usage-based billing for the public API."""
