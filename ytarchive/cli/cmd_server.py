"""Commands: server (arrive with the issue that implements them)."""
