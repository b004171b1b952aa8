"""Deployment helpers: the work pool, the pull step, subscriptions as deployments, `serve`."""
