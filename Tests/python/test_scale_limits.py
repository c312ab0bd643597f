"""A client count the process's descriptors cannot hold is refused before anything starts, with the
numbers and the way out (exit 2) — never an EMFILE storm in the middle of a run."""
import os
import subprocess
import tempfile
import textwrap

from conftest import FLATLINE

MANY = textwrap.dedent("""\
    name: many
    client:
      count: 1000
      heartbeat: {dialect: json, interval: 1s, timeout: 500ms}
    server: {dialect: json}
    timeline:
      - wait: 10ms
    """)


def run_with_limit(path, limit):
    # As an unprivileged user (root may be able to raise its hard limit); bash's 'ulimit -n' sets soft and hard.
    command = ["bash", "-c", f'ulimit -n {limit} && exec "$0" run --no-record "$1"', FLATLINE, path]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_count_beyond_the_descriptors_is_refused_with_the_numbers():
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "many.yaml")
        with open(path, "w") as file:
            file.write(MANY)
        os.chmod(path, 0o644)
        result = run_with_limit(path, 2000)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "1000 clients need about 6064 open files" in result.stdout
        assert "may open 2000" in result.stdout
        assert "lower the count to 322" in result.stdout
        assert "server: {process: true}" in result.stdout
        # Nothing ran: no server, no client.
        assert "client connected" not in result.stdout
        # Within the budget it runs (a server process and no close grace: 4 each).
        with open(path, "w") as file:
            file.write(MANY.replace("count: 1000", "count: 400").replace("timeout: 500ms}", "timeout: 500ms, close-grace: 0ms}")
                       .replace("server: {dialect: json}", "server: {dialect: json, process: true}"))
        result = run_with_limit(path, 2000)
        assert result.returncode == 0, result.stdout + result.stderr
