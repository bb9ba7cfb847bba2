"""Revisions that try to reach outside what they were given: a bundle whose links leave the
instance once its files are placed, a directory bundle with a link out, a COMMIT_ID shaped like
a git option, a git repository whose own configuration names commands. Each deployment fails
(or succeeds without running anything of the repository's), names the cause, changes nothing
outside the instance, and version 1 keeps serving."""

import io
import os
import stat
import subprocess
import tarfile
import unittest

from harness import LocalTestCase, make_bundle, replace_in


def tar_of(directory, path, extra):
    """Packs `directory` into the tar file `path`, then adds `extra` [(TarInfo, bytes or None)]."""
    with tarfile.open(path, "w") as tar:
        tar.add(directory, arcname=".")
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def git(repo, *args):
    subprocess.run(["git", "-C", repo, "-c", "user.name=test", "-c", "user.email=t@example.com",
                    *args], check=True, capture_output=True)


class HostileBundleTest(LocalTestCase):
    def setUp(self):
        super().setUp()
        code, self.first, _ = self.deploy(self.params(make_bundle(1, self.tmp)))
        self.assertEqual(code, 0, self.first)
        self.victim = os.path.join(self.tmp, "victim")
        with open(self.victim, "w") as f:
            f.write("original\n")
        os.chmod(self.victim, 0o644)

    def assert_refused(self, code, result, done, *words):
        self.assertEqual(code, 1, done.stdout + done.stderr)
        self.assertEqual(result["status"], "failed", result)
        for word in words:
            self.assertIn(word, result["error"])
        self.assert_serves(1)
        self.assert_no_process_of([i["id"] for i in result.get("instances") or []])
        self.assert_victim_untouched()

    def assert_victim_untouched(self):
        with open(self.victim) as f:
            self.assertEqual(f.read(), "original\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.victim).st_mode), 0o644)

    def test_a_link_that_leaves_the_instance_once_placed_is_refused(self):
        # d1/d2/d3/d4/l -> ../../../.. stays inside the bundle; copied to `/` it points four
        # levels above the instance root. A file written through it and a permission applied
        # through it would land outside.
        escape = f"bluegreen-escape-{os.getpid()}"
        outside = os.path.join(os.path.dirname(self.tmp), escape)
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", outside]))
        instance_to_tmp = os.path.relpath(self.tmp, os.path.dirname(self.tmp))

        def hostile(path):
            replace_in(os.path.join(path, "appspec.yml"),
                       "    destination: /opt/hello\n",
                       "    destination: /opt/hello\n"
                       "  - source: d1/d2/d3/d4\n    destination: /\n"
                       f"  - source: payload\n    destination: /l/{escape}\n")
            replace_in(os.path.join(path, "appspec.yml"), "permissions:\n",
                       f"permissions:\n  - object: /l/{instance_to_tmp}/victim\n    mode: 777\n")
            with open(os.path.join(path, "payload"), "w") as f:
                f.write("written outside\n")
        directory = make_bundle(2, self.tmp, hostile)
        link = tarfile.TarInfo("d1/d2/d3/d4/l")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../.."
        bundle = tar_of(directory, os.path.join(self.tmp, "hostile.tar"), [(link, None)])

        code, result, done = self.deploy(self.params(bundle))
        self.assert_refused(code, result, done, "symlink /l -> ../../../..", "outside the instance")
        self.assertFalse(os.path.exists(outside), "a file was written outside the instance")

    def test_a_directory_bundle_with_an_absolute_link_is_refused(self):
        def link_to_etc(path):
            os.symlink("/etc", os.path.join(path, "app", "etc"))
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp, link_to_etc)))
        self.assert_refused(code, result, done, "app/etc", "absolute")

    def test_a_commit_id_shaped_like_an_option_reaches_no_git(self):
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp),
                                                     COMMIT_ID=f"--output={self.victim}"))
        self.assertNotEqual(code, 0, done.stdout + done.stderr)
        self.assertIn("COMMIT_ID", done.stdout + done.stderr)
        self.assert_serves(1)
        self.assert_victim_untouched()

    def test_a_repository_runs_none_of_its_own_commands(self):
        repo = make_bundle(2, self.tmp)
        marker = os.path.join(self.tmp, "repository-ran")
        script = os.path.join(self.tmp, "mark.sh")
        with open(script, "w") as f:
            f.write(f"#!/bin/sh\necho \"$0 $*\" >> '{marker}'\ncat\n")
        os.chmod(script, 0o755)
        with open(os.path.join(repo, ".gitattributes"), "w") as f:
            f.write("* filter=evil diff=evil\n")
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "v2")
        hooks = os.path.join(repo, ".git", "hooks")
        for hook in ("post-checkout", "post-merge", "reference-transaction", "post-index-change"):
            with open(os.path.join(hooks, hook), "w") as f:
                f.write(f"#!/bin/sh\ntouch '{marker}'\n")
            os.chmod(os.path.join(hooks, hook), 0o755)
        for key in ("filter.evil.smudge", "filter.evil.process", "diff.evil.textconv",
                    "core.fsmonitor", "core.sshCommand"):
            git(repo, "config", key, script)
        git(repo, "config", "filter.evil.required", "true")

        code, result, done = self.deploy(self.params(repo, COMMIT_ID="HEAD"))
        self.assertEqual(code, 0, done.stdout + done.stderr + self.server.log()[-3000:])
        self.assert_serves(2)
        self.assertFalse(os.path.exists(marker), "the repository ran a command of its own")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give the repository away")
    def test_a_repository_owned_by_another_user_is_refused(self):
        repo = make_bundle(2, self.tmp)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "v2")
        subprocess.run(["chown", "-R", "nobody", repo], check=True)
        code, result, done = self.deploy(self.params(repo, COMMIT_ID="HEAD"))
        self.assert_refused(code, result, done, "is owned by nobody", "refused")


if __name__ == "__main__":
    unittest.main()
