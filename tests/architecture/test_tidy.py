"""scripts/tidy on a file made to hold a finding, and on one that holds none: the finding
fails the run and is named, with its check, on the summary line; a clean file passes."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("BLUEGREEN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

BROKEN = """struct Base {
  virtual ~Base() = default;
  virtual int run();
};
struct Derived : Base {
  virtual int run();  // overrides without saying so: modernize-use-override
};
"""
CLEAN = """struct Base {
  virtual ~Base() = default;
  virtual int run();
};
struct Derived : Base {
  int run() override;
};
"""


class TidyTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="bluegreen-tidy-")
        self.addCleanup(shutil.rmtree, self.root)
        # The tree's checks, wherever the temporary folder is.
        shutil.copy(os.path.join(SOURCE_DIR, ".clang-tidy"), self.root)

    def tidy(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        # Absolute paths, as CMake writes them.
        with open(os.path.join(self.root, "compile_commands.json"), "w", encoding="utf-8") as f:
            json.dump([{"directory": self.root, "file": path,
                        "command": f"c++ -std=c++23 -c {path} -o /dev/null"}], f)
        run = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "tidy"), "--build-dir", self.root,
                              "--seconds", "120", path], capture_output=True, text=True, timeout=180)
        return run.returncode, run.stdout.strip().splitlines()[-1]

    def test_a_finding_fails_the_run_and_is_named(self):
        code, summary = self.tidy("broken.cpp", BROKEN)
        self.assertEqual(code, 1, summary)
        self.assertIn("broken.cpp [modernize-use-override]", summary)

    def test_a_clean_file_passes(self):
        code, summary = self.tidy("clean.cpp", CLEAN)
        self.assertEqual(code, 0, summary)
        self.assertTrue(summary.endswith("no finding"), summary)


if __name__ == "__main__":
    unittest.main()
