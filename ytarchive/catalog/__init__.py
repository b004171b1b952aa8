"""The catalog: append-only Parquet tables under <archive>/catalog, read through DuckDB views."""

from ytarchive.catalog._catalog import Catalog
from ytarchive.catalog._schema import LIST_COLUMNS, STATS_KEYS, STATUSES, TABLES, VIEWS

__all__ = ["Catalog", "TABLES", "VIEWS", "STATUSES", "LIST_COLUMNS", "STATS_KEYS"]
