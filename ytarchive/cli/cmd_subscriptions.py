"""Commands: subscriptions (arrive with the issue that implements them)."""
