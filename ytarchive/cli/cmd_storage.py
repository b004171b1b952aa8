"""Commands: storage (arrive with the issue that implements them)."""
