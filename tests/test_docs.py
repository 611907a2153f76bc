"""The pages of the repository stand on their own: README.md (short enough to read to the
end), CONTRACT.md and docs/ link only to files of the repository that exist, and the
contract covers every layer module ``Layers`` exports."""
import re
from pathlib import Path

import pytest

import Layers

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", "CONTRACT.md", *sorted(str(p.relative_to(ROOT))
                                             for p in (ROOT / "docs").glob("*.md"))]
README_LINES = 300
# This machine's checkout: it does not exist in a clone.
MACHINE = re.compile(r"/work/")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(page):
    return [t.split("#")[0] for t in LINK.findall((ROOT / page).read_text())
            if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_is_short_enough_to_read_to_the_end():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_LINES, f"README.md has {lines} lines; move reference to docs/"


@pytest.mark.parametrize("page", PAGES)
def test_page_names_no_path_of_this_machine(page):
    lines = (ROOT / page).read_text().splitlines()
    outside = [f"{page}:{n}: {line.strip()}" for n, line in enumerate(lines, 1)
               if MACHINE.search(line)]
    assert not outside, "paths of this machine:\n" + "\n".join(outside)


@pytest.mark.parametrize("page", PAGES)
def test_page_links_resolve_inside_the_repository(page):
    folder = (ROOT / page).parent
    targets = {t: (folder / t).resolve() for t in relative_links(page)}
    missing = [t for t, path in targets.items() if not path.exists()]
    outside = [t for t, path in targets.items() if ROOT.resolve() not in path.parents
               and path != ROOT.resolve()]
    assert not missing, f"{page} links to missing files: {missing}"
    assert not outside, f"{page} links outside the repository: {outside}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t).resolve() for t in relative_links("README.md")}
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from README.md: {sorted(pages - linked)}"


def test_readme_links_the_contract():
    assert "(CONTRACT.md)" in (ROOT / "README.md").read_text()


def test_contract_names_every_layer_module():
    contract = (ROOT / "CONTRACT.md").read_text()
    modules = [name for name in Layers.__all__ if (ROOT / "Layers" / f"{name}.py").is_file()]
    assert len(modules) == len(Layers.__all__)
    missing = [f"Layers/{name}.py" for name in modules if f"Layers/{name}.py" not in contract]
    assert not missing, f"CONTRACT.md does not mention {missing}"
