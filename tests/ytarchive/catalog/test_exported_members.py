"""The catalog's public names are its __all__, and the README documents exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import ytarchive.catalog
from ytarchive.catalog import Catalog

README = Path(__file__).resolve().parents[3] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else None]


def test_the_public_names_are_the_exported_ones() -> None:
    public = [name for name in dir(ytarchive.catalog) if not name.startswith("_")]
    assert public == sorted(ytarchive.catalog.__all__)


def test_the_readme_documents_every_exported_name_and_no_other() -> None:
    section = _section("Python use of the catalog")
    documented = re.findall(r"^- `(\w+)[`(]", section, re.MULTILINE)
    assert sorted(documented) == sorted(ytarchive.catalog.__all__)


def test_the_readme_names_every_public_method_of_catalog() -> None:
    section = _section("Python use of the catalog")
    methods = {n for n in vars(Catalog) if not n.startswith("_") and callable(getattr(Catalog, n))}
    named = set(re.findall(r"`(\w+)\(", section)) - {"Catalog"}
    assert named == methods
