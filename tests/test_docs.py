from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    """A broken link, page or API reference in the docs fails the suite."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "dispatch" / "index.html").exists()
    page = (tmp_path / "site" / "reference" / "dispatch" / "index.html").read_text()
    assert "has_listeners" in page  # the API reference was generated from docstrings
