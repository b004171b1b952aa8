"""Prefect tasks: thin wrappers over ytarchive functions, carrying retries and policies."""
