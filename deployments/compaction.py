"""The compact-catalog deployment's entrypoint (prefect.yaml); its flow is in flows/compaction."""

from __future__ import annotations

from flows.compaction import compact_catalog_flow

__all__ = ["compact_catalog_flow"]
