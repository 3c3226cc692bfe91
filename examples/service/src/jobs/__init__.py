"""In-process background jobs."""
