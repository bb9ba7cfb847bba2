"""The architecture checker against small trees, each made to break one rule: a check that
cannot fail proves nothing, so each rule is shown to catch its violation and to keep quiet
on a tree that keeps it."""

import os
import shutil
import subprocess
import tempfile
import unittest

import architecture


class Tree:
    """A source tree of four modules in three layers, with a fake, and the model the
    configuration would write for it (the same shape as <build>/architecture.json)."""

    def __init__(self, root):
        self.root = root
        self.data = {"source_dir": root, "layers": ["core", "engine", "adapters+proxy", "frontends"],
                     "targets": {}}
        self.write("src/core/error.h", "#pragma once\n#include <string>\n")
        self.module("core", "core", [])
        self.write("src/engine/ports.h", '#pragma once\n#include "core/error.h"\n')
        self.write("src/engine/executor.cpp", '#include "engine/ports.h"\n')
        self.write("src/engine/fakes.h", '#pragma once\n#include "engine/ports.h"\n')
        self.write("src/engine/fakes.cpp", '#include "engine/fakes.h"\n')
        self.write("src/engine/executor_test.cpp", '#include "engine/fakes.h"\n#include "support.h"\n')
        self.module("engine", "engine", ["bg_core"], test_deps=["bg_cloud_testing"],
                    sources=["executor.cpp"])
        self.target("bg_engine_testing", "STATIC_LIBRARY", "src/engine", ["fakes.cpp"], ["bg_engine"],
                    test_only=True)
        self.write("tests/support/support.h", "#pragma once\n")
        self.target("bg_cloud_testing", "STATIC_LIBRARY", "tests", [], ["bg_core"], test_only=True,
                    include_dirs=[os.path.join(root, "tests/support")])
        self.write("src/adapters/local/fleet.h", '#pragma once\n#include "engine/ports.h"\n')
        self.module("local", "adapters/local", ["bg_engine"])
        self.write("src/proxy/proxy.h", '#pragma once\n#include "engine/ports.h"\n#include "core/error.h"\n')
        self.module("proxy", "proxy", ["bg_engine", "bg_core"], uses_only=["engine/ports.h"])
        self.write("src/frontends/cli/cli.h", '#pragma once\n#include "adapters/local/fleet.h"\n'
                   '#include "proxy/proxy.h"\n')
        self.write("src/frontends/cli/cli_main.cpp", '#include "frontends/cli/cli.h"\n')
        self.module("cli", "frontends/cli", ["bg_local", "bg_proxy"])
        self.target("app", "EXECUTABLE", "src/frontends/cli", ["cli_main.cpp"], ["bg_cli"])

    def document(self, *rows):
        """ARCHITECTURE.md with a folder table of these (folder, may depend on) rows."""
        self.write("ARCHITECTURE.md", "| folder | job | may depend on |\n|---|---|---|\n" + "".join(
            f"| `src/{folder}` | its job | {deps} |\n" for folder, deps in rows))

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def target(self, name, kind, folder, sources, links, test_only=False, include_dirs=None):
        info = {"type": kind, "dir": folder, "sources": sources, "links": list(links)}
        if test_only:
            info["test_only"] = True
        if include_dirs:
            info["include_dirs"] = include_dirs
        self.data["targets"][name] = info
        return info

    def module(self, name, folder, deps, test_deps=(), sources=(), uses_only=()):
        info = self.target(f"bg_{name}", "STATIC_LIBRARY", f"src/{folder}", list(sources), deps)
        info.update(module=name, deps=list(deps), test_deps=list(test_deps), uses_only=list(uses_only))

    def declare(self, module, dep):
        for key in ("deps", "links"):
            self.data["targets"][f"bg_{module}"][key].append(dep)

    def findings(self):
        return architecture.check(architecture.Model(self.data))


class CheckerTest(unittest.TestCase):
    def setUp(self):
        root = tempfile.mkdtemp(prefix="bluegreen-architecture-")
        self.addCleanup(shutil.rmtree, root)
        self.tree = Tree(root)

    def assert_one_finding(self, kind, *words):
        findings = self.tree.findings()
        self.assertEqual(len(findings), 1, findings)
        self.assertTrue(findings[0].startswith(kind + ":"), findings)
        for word in words:
            self.assertIn(word, findings[0])

    def test_a_tree_that_keeps_every_rule_has_no_finding(self):
        self.assertEqual(self.tree.findings(), [])
        self.tree.document(("core", "the standard library"), ("engine", "core"),
                           ("adapters/local", "engine (ports only), yaml-cpp"), ("proxy", "core, engine"),
                           ("frontends/cli", "adapters/local, proxy"))
        self.assertEqual(self.tree.findings(), [])

    def test_an_include_of_a_higher_layer_is_a_layer_finding(self):
        self.tree.write("src/core/error.h", '#pragma once\n#include "engine/ports.h"\n')
        self.tree.declare("core", "bg_engine")
        self.assertCountEqual(self.tree.findings(), [
            "layer: src/core/error.h includes engine/ports.h: core (core) may not use engine "
            "(engine, a higher layer)",
            "layer: src/core/CMakeLists.txt declares bg_engine (engine) in DEPS, a higher layer "
            "than core",
            "cycle: bg_core -> bg_engine -> bg_core"])

    def test_an_include_of_a_module_not_in_deps_is_undeclared(self):
        self.tree.write("src/proxy/proxy.cpp", '#include "adapters/local/fleet.h"\n')
        self.assert_one_finding("undeclared", "src/proxy/proxy.cpp", "adapters/local/fleet.h",
                                "src/proxy/CMakeLists.txt", "bg_local")

    def test_a_main_may_include_what_its_executable_links(self):
        self.tree.write("src/frontends/cli/cli_main.cpp",
                        '#include "frontends/cli/cli.h"\n#include "engine/ports.h"\n')
        self.assert_one_finding("undeclared", "cli_main.cpp", "app's links")
        self.tree.data["targets"]["app"]["links"].append("bg_engine")
        self.assertEqual(self.tree.findings(), [])

    def test_a_header_outside_uses_only_is_found(self):
        self.tree.write("src/engine/executor.h", '#pragma once\n#include "engine/ports.h"\n')
        self.tree.write("src/proxy/proxy.cpp", '#include "proxy/proxy.h"\n#include "engine/executor.h"\n')
        self.assert_one_finding("undeclared", "src/proxy/proxy.cpp includes engine/executor.h",
                                "USES_ONLY allows only engine/ports.h of bg_engine")
        self.tree.data["targets"]["bg_proxy"]["uses_only"] = ["engine/port.h"]
        self.assertIn("undeclared: src/proxy/CMakeLists.txt names src/engine/port.h in USES_ONLY, "
                      "which does not exist", self.tree.findings())

    def test_a_declared_module_that_nothing_includes_is_unused(self):
        self.tree.declare("proxy", "bg_local")
        self.assert_one_finding("unused", "src/proxy/CMakeLists.txt", "bg_local", "DEPS")

    def test_a_test_dep_that_no_test_includes_is_unused(self):
        self.tree.write("src/engine/executor_test.cpp", '#include "engine/fakes.h"\n')
        self.assert_one_finding("unused", "bg_cloud_testing", "TEST_DEPS")

    def test_modules_that_use_each_other_are_a_cycle(self):
        self.tree.write("src/adapters/local/fleet.h", '#pragma once\n#include "engine/ports.h"\n'
                        '#include "proxy/proxy.h"\n')
        self.tree.write("src/proxy/proxy.cpp", '#include "adapters/local/fleet.h"\n')
        self.tree.declare("local", "bg_proxy")
        self.tree.declare("proxy", "bg_local")
        self.assert_one_finding("cycle", "bg_local -> bg_proxy -> bg_local")

    def test_product_code_that_includes_a_fake_is_found(self):
        self.tree.write("src/engine/executor.cpp", '#include "engine/fakes.h"\n')
        self.assert_one_finding("test code", "src/engine/executor.cpp includes engine/fakes.h")

    def test_a_main_that_includes_a_fake_is_found(self):
        self.tree.write("src/frontends/cli/cli_main.cpp",
                        '#include "frontends/cli/cli.h"\n#include "engine/fakes.h"\n')
        self.assert_one_finding("test code", "src/frontends/cli/cli_main.cpp includes engine/fakes.h")

    def test_another_modules_fake_needs_its_testing_library_in_test_deps(self):
        self.tree.write("src/adapters/local/fleet_test.cpp", '#include "engine/fakes.h"\n')
        self.assert_one_finding("undeclared", "fleet_test.cpp", "bg_engine_testing in TEST_DEPS")
        self.tree.data["targets"]["bg_local"]["test_deps"].append("bg_engine_testing")
        self.assertEqual(self.tree.findings(), [])

    def test_a_product_library_that_compiles_a_fake_is_found(self):
        self.tree.data["targets"]["bg_engine"]["sources"].append("fakes.cpp")
        self.assert_one_finding("test code", "bg_engine compiles src/engine/fakes.cpp")

    def test_a_product_binary_that_links_a_test_library_is_found(self):
        self.tree.declare("local", "bg_engine_testing")
        self.assertCountEqual(self.tree.findings(), [
            "test code: app links the test-only bg_engine_testing "
            "(app -> bg_cli -> bg_local -> bg_engine_testing)",
            "test code: src/adapters/local/CMakeLists.txt declares the test-only bg_engine_testing "
            "in DEPS"])

    def test_architecture_md_that_disagrees_with_deps_is_found(self):
        self.tree.document(("core", "engine"), ("engine", "core"), ("proxy", "core, engine"),
                           ("frontends/cli", "adapters/local, proxy"))
        self.assertCountEqual(self.tree.findings(), [
            "document: ARCHITECTURE.md says src/core may depend on engine; its DEPS say no module",
            "document: ARCHITECTURE.md's folder table has no row for src/adapters/local"])

    def test_a_module_outside_every_layer_is_found(self):
        self.tree.write("src/tools/tool.h", "#pragma once\n")
        self.tree.module("tools", "tools", [])
        self.assert_one_finding("layer", "src/tools is in none of the layers")


@unittest.skipUnless(shutil.which("c++") and shutil.which("nm"), "needs c++ and nm")
class SymbolsTest(unittest.TestCase):
    """The symbol check on real objects: a binary with a fake linked in, and one without."""

    def test_a_binary_that_holds_a_fakes_code_is_found(self):
        root = tempfile.mkdtemp(prefix="bluegreen-architecture-")
        self.addCleanup(shutil.rmtree, root)
        tree = Tree(root)
        build = os.path.join(root, "build")
        os.makedirs(build)
        tree.write("fake.cpp", "int fake_fleet_launch() { return 7; }\n")
        tree.write("with.cpp", "int fake_fleet_launch();\nint main() { return fake_fleet_launch(); }\n")
        tree.write("without.cpp", "int main() { return 0; }\n")

        def run(*args):
            subprocess.run(args, cwd=root, check=True)

        run("c++", "-c", "fake.cpp", "-o", "fake.o")
        run("ar", "rcs", "build/libbg_engine_testing.a", "fake.o")
        run("c++", "with.cpp", "build/libbg_engine_testing.a", "-o", "build/with")
        run("c++", "without.cpp", "-o", "build/without")
        model = architecture.Model(tree.data)

        def findings(binary):
            with open(os.path.join(build, "architecture_files.json"), "w", encoding="utf-8") as f:
                f.write('{"app": "%s", "bg_engine_testing": "%s"}' % (
                    os.path.join(build, binary), os.path.join(build, "libbg_engine_testing.a")))
            return architecture.check_symbols(model, build)

        self.assertEqual(findings("without"), [])
        found = findings("with")
        self.assertEqual(len(found), 1, found)
        self.assertIn("app defines 1 symbols of the test-only bg_engine_testing", found[0])


if __name__ == "__main__":
    unittest.main()
