"""Every fenced ``python`` block of README.md and of the pages in docs/ runs as written, so
the pages cannot drift from the code."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page):
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


BLOCKS = [(page, number, code) for page in PAGES
          for number, code in enumerate(blocks(page), 1)]


def test_readme_has_examples():
    assert len(blocks(README)) >= 4


@pytest.mark.parametrize("page, number, code", BLOCKS,
                         ids=[f"{page.relative_to(ROOT)}:{n}" for page, n, _ in BLOCKS])
def test_page_block_runs(page, number, code, monkeypatch):
    monkeypatch.chdir(ROOT)     # the pages say: run from the repository root
    exec(compile(code, f"{page.relative_to(ROOT)} python block {number}", "exec"),
         {"__name__": "__readme__"})
