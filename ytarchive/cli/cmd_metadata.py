"""Commands: metadata (arrive with the issue that implements them)."""
