"""The project's modules import each other as a tree: no cycle, not even through an
import inside a function (parsed with ast, not run)."""
import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("Layers", "Optimization", "Data", "Models", "checkpoint", "onnx_export", "_commandline")


def project_modules():
    """``{module name: path}`` of every project module (tests and notebooks aside)."""
    modules = {p.stem: p for p in ROOT.glob("*.py") if p.stem != "conftest"}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def imports(name, path, modules):
    """The project modules that ``name`` imports anywhere in its file."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            # "from Layers import Conv" imports the module Layers.Conv.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph():
    modules = project_modules()
    return {name: imports(name, path, modules) for name, path in modules.items()}


def cycles(edges):
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_lazy_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    assert "checkpoint" in edges["NeuralNetwork"]           # imported inside save and load
    assert "Data.MNIST" in edges["Models.LeNet"]          # imported inside LeNet.train


WORKSHOP = ("checkpoint", "_commandline", "onnx_export")


def in_package(module, packages):
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_core_never_imports_persistence_export_or_the_command_lines():
    """Not even inside a function (issue 27): layers, optimizers, data and models are read
    from the outside; the network reaches persistence only in the classic save/load, and ONNX in export_onnx."""
    edges = graph()
    for module, targets in edges.items():
        if in_package(module, ("Layers", "Optimization", "Data", "Models")):
            assert not {t for t in targets if in_package(t, WORKSHOP)}, module
    assert {t for t in edges["NeuralNetwork"] if in_package(t, WORKSHOP)} == \
        {"checkpoint", "onnx_export"}
    tree = ast.parse((ROOT / "NeuralNetwork.py").read_text())
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(not in_package(ast.unparse(node).split()[1], WORKSHOP) for node in top)
    doors = {(node.name, n.names[0].name) for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef) for n in ast.walk(node)
             if isinstance(n, ast.Import) and in_package(n.names[0].name, WORKSHOP)}
    assert doors == {("save", "checkpoint"), ("load", "checkpoint"),
                     ("export_onnx", "onnx_export")}


def test_the_check_sees_an_import_of_persistence_in_a_layer(tmp_path):
    """The check above would fail on the old Layers/Base.py (``import checkpoint``)."""
    bad = tmp_path / "Base.py"
    bad.write_text("def get_config(self):\n    import checkpoint\n")
    modules = project_modules()
    assert "checkpoint" in imports("Layers.Base", bad, modules)


def test_persistence_imports_no_framework_module():
    """checkpoint knows the framework's classes by name from its one table (FRAMEWORK) and
    imports none of them: the network's save/load may import it without a circle."""
    edges = graph()
    below = {m for m in edges if in_package(m, ("checkpoint",))}
    for module in below:
        assert edges[module] <= below | {"_checks", "_files", "_state"}, (module, edges[module] - below)
    assert not cycles(edges), "a cycle"


def test_the_project_imports_form_a_tree():
    found = cycles(graph())
    assert found == [], f"import cycles: {found}"


def test_every_package_of_the_project_is_read():
    """A new package must join PACKAGES, or its imports would escape the cycle check."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(PACKAGES), packages - set(PACKAGES)
