"""`python app.py --demo` listens on this machine only unless told
otherwise: the demo's passwords are public (README, issue 23)."""
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def started_at(tmp_path, database_url, args, env_host=None):
    """The address `python app.py ARGS` says it serves on, once it answers there."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PBFORMS_HOST"}
    env.update(PBFORMS_DATABASE_URL=database_url, PBFORMS_SECRET_KEY="start-test",
               PBFORMS_INSTANCE=str(tmp_path / "instance"), PBFORMS_PORT=str(port))
    if env_host:
        env["PBFORMS_HOST"] = env_host
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
        return re.search(r"已启动：http://([^:/]+):", log_path.read_text()).group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("args, env_host, shown", [
    (["--demo"], None, "127.0.0.1"),
    (["--demo", "--host", "0.0.0.0"], None, "localhost"),
    (["--demo"], "0.0.0.0", "localhost"),
    ([], None, "localhost"),
])
def test_the_demo_listens_on_this_machine_unless_told_otherwise(tmp_path, database_url, args, env_host, shown):
    assert started_at(tmp_path, database_url, args, env_host) == shown


def test_the_readme_starts_the_demo_on_this_machine_only():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^    .*app\.py --demo --host 127\.0\.0\.1$", readme, re.M)
