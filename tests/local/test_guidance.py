"""What a new user is told while a deployment runs, and whether the README is enough to write a
bundle: a wrong HEALTH_CHECK_PATH named, each hook reported as it starts and ends, no group
left behind by a refused deployment, and the README's bundle section deployed as written."""

import json
import os
import re
import socket
import subprocess
import time
import unittest

from harness import (BINARY, SOURCE_DIR, LocalTestCase, http_get, make_bundle, replace_in,
                     wait_until)


def failing_install(path):
    """Bundle edit: AfterInstall fails."""
    replace_in(os.path.join(path, "scripts", "after_install.sh"), "set -euo pipefail",
               "set -euo pipefail\necho 'this revision does not install' >&2\nexit 1")


def api(server, path):
    status, body = http_get(server.url + path)
    if status != 200:
        raise AssertionError(f"GET {path} answered {status}: {body}")
    return json.loads(body)


def readme_bundle_files():
    """{relative path: text} of every file the README's "Bundles" section spells out, each
    given as a line "`path`:" followed by a fenced block."""
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    section = readme.split("\n## Bundles\n", 1)[1].split("\n## ", 1)[0]
    files = dict(re.findall(r"^`([^`]+)`:\n\n```[a-z]*\n(.*?)^```$", section, re.M | re.S))
    return files


class GuidanceTest(LocalTestCase):
    def test_the_readme_bundle_section_is_enough_to_deploy_a_new_bundle(self):
        files = readme_bundle_files()
        self.assertIn("mybundle/appspec.yml", files)
        self.assertIn("params.json", files)
        for name, text in files.items():
            path = os.path.join(self.tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)  # as a reader would save it: not executable
        # The README's LISTEN may be taken on this machine; everything else is as written.
        params_path = os.path.join(self.tmp, "params.json")
        params = json.loads(files["params.json"])
        readme_listen = params["LISTEN"]
        params["LISTEN"] = self.listen
        with open(params_path, "w") as f:
            json.dump(params, f)

        done = self.cli("deploy", "--params", params_path, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr + self.server.log()[-3000:])
        status, body = http_get(f"http://{self.listen}/")
        self.assertEqual((status, body), (200, "hello from mybundle\n"))
        with open(os.path.join(SOURCE_DIR, "README.md")) as f:
            self.assertIn(f"curl http://{readme_listen}/", f.read(), "the README's own address")

    def test_a_wrong_health_path_is_named_on_every_channel(self):
        bundle = make_bundle(1, self.tmp)
        # examples/hello answers /healthz; /health is a 404 there. TIMEOUT ends the test: the
        # point is the hint, logged after three rounds of the same answer (launch and install
        # come first, and a loaded machine makes them slow), and carried by the failure
        # however TIMEOUT strikes in the health gate (between rounds, or during one).
        code, result, done = self.deploy(self.params(bundle, HEALTH_CHECK_PATH="/health",
                                                     TIMEOUT=30))
        hint = ("GET /health answered 404 on every green: set HEALTH_CHECK_PATH to a path your "
                "service answers with 2xx")
        self.assertEqual(code, 1, done.stdout + done.stderr)
        self.assertIn(hint, done.stdout, "the deploy command's progress names it")
        self.assertIn(hint, self.server.log(), "the server's log names it")
        self.assertIn(hint, result["error"], "the failure names it")
        self.assertTrue(result["instances"])
        self.assert_no_process_of([i["id"] for i in result["instances"]])
        self.assertEqual(api(self.server, "/api/status")["groups"], [],
                         "nothing serves, so there is no group")

    def test_each_hook_is_reported_as_it_starts_and_ends(self):
        def slow_after_install(path):
            replace_in(os.path.join(path, "scripts", "after_install.sh"), "set -euo pipefail",
                       "set -euo pipefail\nsleep 3")
        bundle = make_bundle(1, self.tmp, slow_after_install)
        env = dict(os.environ, BLUEGREEN_SERVER=self.server.url)
        deploy = subprocess.Popen([BINARY, "deploy", "--params", self.params(bundle)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        try:
            def running_id():
                groups = api(self.server, "/api/status")["groups"]
                return groups and groups[0]["running"] and groups[0]["running"]["deploymentId"]
            deployment_id = wait_until(running_id, timeout=60)

            # While AfterInstall runs, the record says so, per instance, and the log already
            # has its start (install has not ended yet).
            def after_install_running():
                record = api(self.server, f"/api/deployments/{deployment_id}")
                hooks = [h for h in record["runningHooks"] if h["lifecycleEvent"] == "AfterInstall"]
                return record if len(hooks) == 2 else None
            record = wait_until(after_install_running, timeout=60, interval=0.05)
            self.assertEqual(record["phase"], "install")
            self.assertEqual({h["script"] for h in record["runningHooks"]},
                             {"scripts/after_install.sh"})
            self.assertEqual(len([h for h in record["hooks"]
                                  if h["lifecycleEvent"] == "BeforeInstall"]), 2,
                             "results of the hooks that ended are in the record already")
            logs = api(self.server, f"/api/deployments/{deployment_id}/logs")["events"]
            started = [e for e in logs
                       if e["message"] == "AfterInstall (scripts/after_install.sh) started"]
            self.assertEqual(len(started), 2, logs)
            self.assertTrue(any(e["message"].startswith("BeforeInstall passed in") for e in logs),
                            "earlier hooks' results are in the log before install ends")
        finally:
            stdout, stderr = deploy.communicate(timeout=120)
        self.assertEqual(deploy.returncode, 0, stdout + stderr)

        logs = api(self.server, f"/api/deployments/{deployment_id}/logs")["events"]
        for instance in {e["instanceId"] for e in started}:
            lines = [e for e in logs if e.get("instanceId") == instance
                     and e["message"].startswith("AfterInstall")]
            self.assertEqual(len(lines), 2, f"one start, one end, nothing twice: {lines}")
            self.assertIn("passed in", lines[1]["message"])
            self.assertGreater(lines[1]["at"], lines[0]["at"], "each line has its own time")
        self.assertIn("AfterInstall (scripts/after_install.sh) started", stdout)
        self.assertIn("AfterInstall (scripts/after_install.sh) started", self.server.log())
        final = api(self.server, f"/api/deployments/{deployment_id}")
        self.assertEqual(final["runningHooks"], [])
        self.assertEqual(len([h for h in final["hooks"] if h["lifecycleEvent"] == "AfterInstall"]),
                         2)

    def test_a_deployment_refused_for_its_listen_port_leaves_no_group(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = self.cli("deploy", "--params", self.params(make_bundle(1, self.tmp),
                                                              LISTEN=f"127.0.0.1:{port}"))
            self.assertNotEqual(done.returncode, 0)
            self.assertIn(f"LISTEN 127.0.0.1:{port}", done.stderr)
            self.assertEqual(api(self.server, "/api/status")["groups"], [])
            status = self.cli("status")
            self.assertNotIn("web", status.stdout)

        # The group comes to be once a fleet serves it, on the port it asked for.
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp),
                                                     LISTEN=f"127.0.0.1:{port}"))
        self.assertEqual(code, 0, done.stderr)
        groups = api(self.server, "/api/status")["groups"]
        self.assertEqual([(g["group"], g["listen"]) for g in groups], [("web", f"127.0.0.1:{port}")])

    def test_a_first_deployment_that_fails_leaves_no_group_and_no_listener(self):
        code, result, done = self.deploy(self.params(make_bundle(1, self.tmp, failing_install)))
        self.assertNotEqual(code, 0)
        self.assertEqual(result["status"], "failed", done.stderr)
        self.assertEqual(api(self.server, "/api/status")["groups"], [])
        host, port = self.listen.rsplit(":", 1)
        with socket.socket() as probe:
            self.assertNotEqual(probe.connect_ex((host, int(port))), 0,
                                "the LISTEN of a group nothing serves still accepts connections")
        # The next deployment of the group opens it again.
        code, result, done = self.deploy(self.params(make_bundle(2, self.tmp)))
        self.assertEqual(code, 0, done.stderr)
        self.assert_serves(2)


if __name__ == "__main__":
    unittest.main()
