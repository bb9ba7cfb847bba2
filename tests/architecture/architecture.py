#!/usr/bin/env python3
"""The architecture check: the sources and the build agree with the dependency table.

The table is stated once, in the build: the layers in src/CMakeLists.txt (lowest first) and
each module's DEPS and TEST_DEPS in its folder's CMakeLists.txt (see cmake/Modules.cmake). The
configuration writes it, with every target's links, to <build>/architecture.json; this checks
the sources and the link graph against it. Findings, one line each, name the file or target
and the rule it breaks:

  layer        a file of src/ includes a header of a module of a higher layer, or a module
               declares one in DEPS;
  undeclared   a file includes a header of a module its module (or, for a *_main.cpp, its
               executable) does not declare, or product code includes a header of a module
               its USES_ONLY narrows to other headers (or names a header that does not exist);
  unused       a module declares a module in DEPS (or TEST_DEPS) that none of its product
               (or test) files includes; an executable of src/ links a module its sources
               do not include;
  cycle        the modules' DEPS form a cycle;
  test code    product code includes a test or fake header, a product library compiles a
               fake, or a binary built from src/ links a test-only library;
  document     ARCHITECTURE.md's folder table names, for a module, other modules than its
               DEPS and its executable's links (the "may depend on" column is a reading of
               the table, kept true here);
  symbols      (with --symbols) a binary built from src/ defines a symbol that a test-only
               library defines: a fake was linked into the product.

Usage: architecture.py BUILD_DIR [--symbols]
Exit status 0 when nothing is found, 1 with the findings on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

# Test code that lives in a module's folder: its tests, their header-only helpers (*_test_*.h:
# test worlds, test support) and its fakes (compiled into bg_<module>_testing).
TEST_CODE = re.compile(r"(_test\.cpp|_test_\w+\.h|(^|_)fakes\.(h|cpp)|_test_support\.cpp)$")
MAIN = re.compile(r"_main\.cpp$")
INCLUDE = re.compile(r'^\s*#\s*include\s*(["<])([^">]+)[">]', re.M)
SOURCE = re.compile(r"\.(cpp|h)$")


@dataclasses.dataclass
class Module:
    name: str  # bluegreen_module's NAME; the library is bg_<name>
    folder: str  # below src/, e.g. "frontends/server"
    layer: int | None
    deps: list[str]
    test_deps: list[str]
    uses_only: list[str]  # headers below src/: of their modules, the only ones it includes


class Model:
    """What the configuration declared: layers, modules, targets and their links."""

    def __init__(self, data: dict):
        self.source_dir = data["source_dir"]
        self.src = os.path.join(self.source_dir, "src")
        self.layers = [entry.split("+") for entry in data["layers"]]
        self.targets = data["targets"]
        self.modules: dict[str, Module] = {}  # by library name, bg_<name>
        for target, info in self.targets.items():
            if "module" not in info:
                continue
            folder = os.path.relpath(info["dir"], "src")
            self.modules[target] = Module(info["module"], folder, self.layer_of(folder),
                                          info["deps"], info["test_deps"],
                                          info.get("uses_only", []))
        self.module_by_folder = {m.folder: lib for lib, m in self.modules.items()}
        # Where a header outside src/ belongs: the include folders of test-only libraries.
        self.library_include_dirs = [
            (os.path.normpath(d), target) for target, info in self.targets.items()
            if info.get("test_only") for d in info.get("include_dirs", [])
            if os.path.normpath(d) != self.src]

    def layer_of(self, folder: str) -> int | None:
        top = folder.split("/")[0]
        for index, names in enumerate(self.layers):
            if top in names:
                return index
        return None

    def layer_name(self, index: int | None) -> str:
        return "+".join(self.layers[index]) if index is not None else "no layer"

    def test_only(self, target: str) -> bool:
        return target.startswith("GTest::") or bool(self.targets.get(target, {}).get("test_only"))

    def testing_library(self, lib: str) -> str | None:
        """bg_<module>_testing of a module library, when the module has fakes."""
        name = lib + "_testing"
        return name if name in self.targets else None


def load(build_dir: str) -> Model:
    with open(os.path.join(build_dir, "architecture.json"), encoding="utf-8") as f:
        return Model(json.load(f))


def rel(model: Model, path: str) -> str:
    return os.path.relpath(path, model.source_dir)


def owner_of(model: Model, path: str) -> str | None:
    """The library a header belongs to: a module (its fakes: the module's testing library),
    or a test-only library by its include folder; None for anything else (third party)."""
    folder = os.path.dirname(path)
    if folder.startswith(model.src + os.sep):
        lib = model.module_by_folder.get(os.path.relpath(folder, model.src))
        if lib is None:
            return None
        testing = model.testing_library(lib)
        if testing and TEST_CODE.search(os.path.basename(path)):
            stem = os.path.splitext(path)[0]
            if stem + ".cpp" in sources_of(model, testing):
                return testing
        return lib
    for include_dir, target in model.library_include_dirs:
        if folder == include_dir:
            return target
    return None


def resolve(model: Model, including: str, quote: str, name: str) -> str | None:
    """The file an include names, looked for as the compiler would: beside the including file
    (quoted includes), under src/, then in the test-only libraries' include folders."""
    roots = ([os.path.dirname(including)] if quote == '"' else []) + [model.src] + [
        d for d, _ in model.library_include_dirs]
    for root in roots:
        candidate = os.path.normpath(os.path.join(root, name))
        if os.path.isfile(candidate):
            return candidate
    return None


def module_files(model: Model, module: Module) -> list[str]:
    folder = os.path.join(model.src, module.folder)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if SOURCE.search(f))


def sources_of(model: Model, target: str) -> list[str]:
    """A target's sources as absolute paths (CMake keeps them as written)."""
    info = model.targets[target]
    return [os.path.normpath(os.path.join(model.source_dir, info["dir"], s)) for s in info["sources"]]


def executables_of(model: Model, path: str) -> list[str]:
    return [t for t, info in model.targets.items()
            if info["type"] == "EXECUTABLE" and path in sources_of(model, t)]


def product_executables(model: Model) -> list[str]:
    """Every executable built from src/ ships (bluegreen, bootstrap): the product."""
    return sorted(t for t, info in model.targets.items()
                  if info["type"] == "EXECUTABLE" and info["dir"].startswith("src/")
                  and not t.endswith("_tests"))


def check_includes(model: Model) -> list[str]:
    findings = []
    used_by_product: dict[str, set[str]] = {lib: set() for lib in model.modules}
    used_by_tests: dict[str, set[str]] = {lib: set() for lib in model.modules}
    used_by_executable: dict[str, set[str]] = {}
    for lib, module in sorted(model.modules.items()):
        own = {lib, model.testing_library(lib)} - {None}
        for path in module_files(model, module):
            base = os.path.basename(path)
            role = "test" if TEST_CODE.search(base) else "main" if MAIN.search(base) else "product"
            allowed = own | set(module.deps)
            executables = executables_of(model, path) if role == "main" else []
            for exe in executables:
                allowed |= set(model.targets[exe]["links"])
            if role == "test":
                allowed |= set(module.test_deps)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for quote, name in INCLUDE.findall(text):
                header = resolve(model, path, quote, name)
                owner = header and owner_of(model, header)
                if owner is None:
                    continue
                where = f"{rel(model, path)} includes {name}"
                if role == "test":
                    used_by_tests[lib].add(owner)
                else:
                    if role == "main":
                        for exe in executables:
                            used_by_executable.setdefault(exe, set()).add(owner)
                    else:
                        used_by_product[lib].add(owner)
                    if TEST_CODE.search(os.path.basename(header)) or model.test_only(owner):
                        findings.append(f"test code: {where}, test support, from product code")
                        continue
                if owner in own:
                    continue
                narrowed = [h for h in module.uses_only
                            if owner_of(model, os.path.join(model.src, h)) == owner]
                if role == "product" and narrowed and os.path.relpath(header, model.src) not in narrowed:
                    findings.append(
                        f"undeclared: {where}, but src/{module.folder}/CMakeLists.txt's USES_ONLY "
                        f"allows only {', '.join(narrowed)} of {owner}")
                    continue
                target_module = model.modules.get(owner.removesuffix("_testing"))
                if (target_module and module.layer is not None and target_module.layer is not None
                        and target_module.layer > module.layer):
                    findings.append(
                        f"layer: {where}: {module.folder} ({model.layer_name(module.layer)}) "
                        f"may not use {target_module.folder} ({model.layer_name(target_module.layer)}, "
                        "a higher layer)")
                elif owner not in allowed:
                    declared = " or ".join(f"{exe}'s links" for exe in executables) or (
                        "TEST_DEPS" if role == "test" else "DEPS")
                    findings.append(
                        f"undeclared: {where}, but src/{module.folder}/CMakeLists.txt does not "
                        f"declare {owner} in {declared}")
    for lib, module in sorted(model.modules.items()):
        cmake = f"src/{module.folder}/CMakeLists.txt"
        for dep in module.deps:
            if dep in model.modules and dep not in used_by_product[lib]:
                findings.append(f"unused: {cmake} declares {dep} in DEPS, but no product file of "
                                f"src/{module.folder} includes a header of it")
        for dep in module.test_deps:
            if dep in model.targets and dep not in used_by_tests[lib]:
                findings.append(f"unused: {cmake} declares {dep} in TEST_DEPS, but no test of "
                                f"src/{module.folder} includes a header of it")
    for exe in product_executables(model):
        for dep in model.targets[exe]["links"]:
            if dep in model.modules and dep not in used_by_executable.get(exe, set()):
                findings.append(f"unused: {exe} links {dep}, but its sources include no header of it")
    return findings


def check_declarations(model: Model) -> list[str]:
    findings = []
    for lib, module in sorted(model.modules.items()):
        cmake = f"src/{module.folder}/CMakeLists.txt"
        if module.layer is None:
            findings.append(f"layer: src/{module.folder} is in none of the layers of src/CMakeLists.txt")
            continue
        for dep in module.deps:
            target = model.modules.get(dep)
            if target and target.layer is not None and target.layer > module.layer:
                findings.append(f"layer: {cmake} declares {dep} ({model.layer_name(target.layer)}) in "
                                f"DEPS, a higher layer than {model.layer_name(module.layer)}")
            if model.test_only(dep):
                findings.append(f"test code: {cmake} declares the test-only {dep} in DEPS")
        for header in module.uses_only:
            if not os.path.isfile(os.path.join(model.src, header)):
                findings.append(f"undeclared: {cmake} names src/{header} in USES_ONLY, which does not exist")
        for source in sources_of(model, lib):
            if TEST_CODE.search(os.path.basename(source)):
                findings.append(f"test code: {lib} compiles {rel(model, source)}")
    # Cycles among the modules' DEPS: one finding per strongly connected group, with a path.
    graph = {lib: [d for d in m.deps if d in model.modules] for lib, m in model.modules.items()}
    for group in strongly_connected(graph):
        if len(group) > 1 or group[0] in graph[group[0]]:
            start = group[0]
            chain = link_path(model, start, lambda t, start=start: t == start)
            findings.append("cycle: " + " -> ".join(chain or group))
    return findings


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def link_path(model: Model, start: str, wanted) -> list[str] | None:
    """The first chain of links from `start` to a target for which wanted(target) holds."""
    seen, queue = {start}, [[start]]
    while queue:
        chain = queue.pop(0)
        for dep in model.targets.get(chain[-1], {}).get("links", []):
            if wanted(dep):
                return chain + [dep]
            if dep not in seen and dep in model.targets:
                seen.add(dep)
                queue.append(chain + [dep])
    return None


def check_links(model: Model) -> list[str]:
    findings = []
    for exe in product_executables(model):
        chain = link_path(model, exe, model.test_only)
        if chain:
            findings.append(f"test code: {exe} links the test-only {chain[-1]} ({' -> '.join(chain)})")
    return findings


def defined_symbols(path: str, strong_only: bool) -> set[str]:
    out = subprocess.run(["nm", "--defined-only", "--format=posix", path], check=True,
                         capture_output=True, text=True).stdout
    symbols = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0].endswith(":"):
            continue  # an archive member's heading
        if not strong_only or parts[1] in "TDBR":
            symbols.add(parts[0])
    return symbols


def check_symbols(model: Model, build_dir: str) -> list[str]:
    """No product binary defines a symbol that a test-only library defines (strong symbols
    only: inline functions and template instances may be shared)."""
    with open(os.path.join(build_dir, "architecture_files.json"), encoding="utf-8") as f:
        files = json.load(f)
    findings = []
    testing = {t: defined_symbols(files[t], True) for t in sorted(files)
               if model.targets[t].get("test_only") and os.path.isfile(files[t])}
    for exe in product_executables(model):
        if not os.path.isfile(files[exe]):
            findings.append(f"symbols: {exe} is not built ({files[exe]})")
            continue
        symbols = defined_symbols(files[exe], False)
        for lib, lib_symbols in testing.items():
            shared = sorted(symbols & lib_symbols)
            if shared:
                findings.append(f"symbols: {exe} defines {len(shared)} symbols of the test-only "
                                f"{lib}, e.g. {shared[0]}")
    if not testing:
        findings.append("symbols: no test-only library is built, so there is nothing to compare")
    return findings


def check_document(model: Model) -> list[str]:
    """ARCHITECTURE.md's folder table: one row per module folder, whose "may depend on" cell
    names exactly the module folders of its DEPS and of what the folder's executable links
    (third-party names besides are free)."""
    path = os.path.join(model.source_dir, "ARCHITECTURE.md")
    if not os.path.isfile(path):
        return []
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 3 and re.fullmatch(r"`src/[\w/]+`", cells[0]):
                rows[cells[0].strip("`")[4:]] = cells[2]
    folders = {m.folder for m in model.modules.values()}
    findings = []
    for lib, module in sorted(model.modules.items()):
        cell = rows.get(module.folder)
        if cell is None:
            findings.append(f"document: ARCHITECTURE.md's folder table has no row for src/{module.folder}")
            continue
        named = {f for f in folders if re.search(rf"(?<![\w/]){re.escape(f)}(?![\w/])", cell)}
        links = set(module.deps)
        for exe in product_executables(model):
            if model.targets[exe]["dir"] == f"src/{module.folder}":
                links |= set(model.targets[exe]["links"])  # its *_main.cpp's executable
        declared = {model.modules[d].folder for d in links if d in model.modules} - {module.folder}
        if named != declared:
            findings.append(
                f"document: ARCHITECTURE.md says src/{module.folder} may depend on "
                f"{', '.join(sorted(named)) or 'no module'}; its DEPS say "
                f"{', '.join(sorted(declared)) or 'no module'}")
    return findings


def check(model: Model) -> list[str]:
    return (check_declarations(model) + check_includes(model) + check_links(model)
            + check_document(model))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--symbols"):
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        return 2
    build_dir = argv[1]
    model = load(build_dir)
    findings = check_symbols(model, build_dir) if len(argv) == 3 else check(model)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} architecture findings (the table: src/CMakeLists.txt's layers "
              "and each module's DEPS; see ARCHITECTURE.md)")
        return 1
    if len(argv) == 3:
        print(f"no product binary ({', '.join(product_executables(model))}) holds test code")
    else:
        print(f"{len(model.modules)} modules in {len(model.layers)} layers: every include and "
              "link agrees with the declared dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
