"""docs/cli/ is generated from the commands' --help: a test fails when a page is out of date."""

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_pages_are_up_to_date():
    proc = subprocess.run([sys.executable, str(DOCS / "make_cli_pages.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_command_has_a_page_with_plain_help():
    index = (DOCS / "cli" / "index.md").read_text()
    for page in ("export-wifo.md", "export-wifo2.md", "export-numpy.md", "export-hdf5.md", "card.md", "plot.md"):
        assert f"]({page})" in index
        text = (DOCS / "cli" / page).read_text()
        assert "Usage: wirelessdata " in text and "--help" in text
        assert not any(c in text for c in "╭│╰\x1b"), page  # no rich boxes, no ANSI escapes
