"""docs/architecture.md names every module of the package (issue 17: "a reader can name the
one file that owns each idea"): a new module must be added there, a removed one taken out."""

from __future__ import annotations

import re
from pathlib import Path

import blurvid

PACKAGE = Path(blurvid.__file__).resolve().parent
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_every_module_is_described_in_architecture_md():
    text = DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z_]+\.py)`", text))
    files = {p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert files - listed == set(), "modules missing from docs/architecture.md"
    assert listed - files == set(), "docs/architecture.md names modules that do not exist"
