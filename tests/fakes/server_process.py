"""`bluegreen server` as a test runs it: its own state directory, the environment it is given
(a world's cloud), its standard error in server.log beside the state directory, and the admin
URL it prints once it listens (on 127.0.0.1, a free port)."""
import json
import os
import re
import select
import signal
import subprocess
import urllib.request

# Requests to the loopback admin API never go through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerProcess:
    def __init__(self, cli, state_dir, env):
        self.cli = cli
        self.state_dir = state_dir
        self.env = {k: v for k, v in env.items() if v is not None}
        self.log_path = os.path.join(os.path.dirname(state_dir), "server.log")
        self.process = None
        self.url = None

    def start(self):
        """Starts the server and waits (30 s at most) for its admin URL."""
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [self.cli, "server", "--state-dir", self.state_dir, "--admin", "127.0.0.1:0"],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                env=self.env)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise AssertionError(f"the server did not start: {line!r}\n{self.log()}")
        self.url = match.group(1)
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def dashboard_view(self, deployment_id):
        """The deployment as the dashboard receives it: the first `deployment` event of its
        event stream."""
        with _OPENER.open(f"{self.url}/api/stream?deployment={deployment_id}",
                          timeout=10) as stream:
            event = None
            for _ in range(1000):
                line = stream.readline().decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "deployment":
                    return json.loads(line.split(":", 1)[1])
        raise AssertionError("no deployment event in the dashboard's stream")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""
