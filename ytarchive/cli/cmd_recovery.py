"""Commands: recovery (arrive with the issue that implements them)."""
