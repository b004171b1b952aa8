"""The names our Prefect objects go by, written once: flows, deployments, pool, limit, run marks.

Plain strings, no imports: every layer reads them (the CLI's help, the recovery plan logic, the
flows that carry them, the deployments that schedule them), and the library must not import
Prefect, flows or deployments. prefect.yaml writes the deployment names too; a test keeps it in
step with DEPLOYMENTS.
"""

from __future__ import annotations

__all__ = [
    "PLAYLIST_FLOW",
    "VIDEOS_FLOW",
    "ARCHIVE_FLOWS",
    "PLAN_FLOW",
    "SYNC_FLOW",
    "REFRESH_FLOW",
    "RETRY_FLOW",
    "COMPACT_FLOW",
    "DEPLOYMENTS",
    "SUBSCRIPTION_PREFIX",
    "POOL_NAME",
    "DOWNLOAD_LIMIT",
    "COMPACTION_LIMIT",
    "ITEMS_ARTIFACT_KEY",
    "ROOT_LABEL",
    "HOST_TAG",
    "PID_TAG",
]

# Flows, as the history and the UI name them
PLAYLIST_FLOW = "archive-playlist"
VIDEOS_FLOW = "archive-videos"
ARCHIVE_FLOWS = (PLAYLIST_FLOW, VIDEOS_FLOW)
# The runs `recovery create` and `storage verify --fix` record; this flow never runs.
PLAN_FLOW = "recovery-plan"
SYNC_FLOW = "sync-subscriptions"
REFRESH_FLOW = "refresh-metadata"
RETRY_FLOW = "retry-failed"
COMPACT_FLOW = "compact-catalog"

# Deployments: prefect.yaml's, each named after its flow (`<flow>/<name>`); and one per
# subscription, `sync-subscriptions/sub-<key>`
DEPLOYMENTS = (SYNC_FLOW, REFRESH_FLOW, RETRY_FLOW, COMPACT_FLOW)
SUBSCRIPTION_PREFIX = "sub-"

# The fleet: the process work pool every deployment runs in, and the global concurrency limit
# that each download occupies one slot of
POOL_NAME = "ytarchive-pool"
DOWNLOAD_LIMIT = "ytarchive-downloads"
COMPACTION_LIMIT = "ytarchive-compaction"  # one slot: one catalog compaction at a time, fleet-wide

# What an archive run writes about itself, for recovery to read back
ITEMS_ARTIFACT_KEY = "archive-items"  # table artifact: the items the run was asked to archive
ROOT_LABEL = "ytarchive.output_dir"  # flow-run label: the archive root, resolved by the run
HOST_TAG = "host:"  # flow-run tag: the host whose process runs it
PID_TAG = "pid:"  # flow-run tag: that process's id
