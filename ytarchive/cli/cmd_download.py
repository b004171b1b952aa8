"""Commands: download (arrive with the issue that implements them)."""
