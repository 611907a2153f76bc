"""The pages of the repository stand on their own: README.md and CONTRACT.md point only
inside the repository, and the contract covers every layer module ``Layers`` exports."""
import re
from pathlib import Path

import pytest

import Layers

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", "CONTRACT.md"]
# A parent directory or this machine's checkout: neither exists in a clone.
OUTSIDE = re.compile(r"\.\./|/work/")
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES)
def test_page_points_only_inside_the_repository(page):
    lines = (ROOT / page).read_text().splitlines()
    outside = [f"{page}:{n}: {line.strip()}" for n, line in enumerate(lines, 1)
               if OUTSIDE.search(line)]
    assert not outside, "paths outside the repository:\n" + "\n".join(outside)


@pytest.mark.parametrize("page", PAGES)
def test_page_links_resolve(page):
    targets = [t.split("#")[0] for t in LINK.findall((ROOT / page).read_text())
               if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"{page} links to missing files: {missing}"


def test_readme_links_the_contract():
    assert "(CONTRACT.md)" in (ROOT / "README.md").read_text()


def test_contract_names_every_layer_module():
    contract = (ROOT / "CONTRACT.md").read_text()
    modules = [name for name in Layers.__all__ if (ROOT / "Layers" / f"{name}.py").is_file()]
    assert len(modules) == len(Layers.__all__)
    missing = [f"Layers/{name}.py" for name in modules if f"Layers/{name}.py" not in contract]
    assert not missing, f"CONTRACT.md does not mention {missing}"

