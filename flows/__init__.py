"""Prefect flows composing the tasks: archive (videos, playlists), recovery, subscriptions."""
