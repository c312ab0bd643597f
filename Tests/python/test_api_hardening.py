"""The control API and the proxy hold under hostile clients: parser errors close, too many
connections do not spin, descriptors running out does not spin."""
import os
import resource
import signal
import socket
import subprocess
import time

from conftest import FLATLINE, _first_event, stop_process as stop


def start_proxy(nofile=None):
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    process = subprocess.Popen(
        [FLATLINE, "proxy", "--api", "127.0.0.1:0", "--events", "jsonl"],
        stdout=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=limit,
    )
    event = _first_event(process, "api-listening")
    host, port = event["address"].rsplit(":", 1)
    return process, host, int(port)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(host, port, path):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return s.recv(65536).decode(errors="replace")


def test_a_request_the_parser_rejects_is_answered_and_closed():
    process, host, port = start_proxy()
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            data = b""
            s.settimeout(5)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break  # closed: what the test wants
                data += chunk
            assert b"400" in data
    finally:
        stop(process)


def test_running_out_of_descriptors_does_not_spin():
    process, host, port = start_proxy(nofile=64)
    sockets = []
    try:
        for _ in range(100):
            try:
                sockets.append(socket.create_connection((host, port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)  # let it hit EMFILE
        before = cpu_seconds(process.pid)
        time.sleep(2.0)
        used = cpu_seconds(process.pid) - before
        assert used < 0.6, f"the proxy used {used:.2f} s of CPU in 2 s while out of descriptors"
    finally:
        for s in sockets:
            s.close()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if "200" in get(host, port, "/version"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the API did not come back once descriptors were free")
    finally:
        stop(process)


def test_the_proxy_out_of_descriptors_reports_and_does_not_spin():
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(512)
    up_port = upstream.getsockname()[1]

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    process = subprocess.Popen(
        [FLATLINE, "proxy", "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{up_port}", "--events", "jsonl"],
        stdout=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=limit,
    )
    lines = []
    try:
        first = _first_event_collecting(process, "listening", lines)
        port = int(first["listen"].rsplit(":", 1)[1])
        sockets = []
        for _ in range(60):
            try:
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        before = cpu_seconds(process.pid)
        time.sleep(2.0)
        used = cpu_seconds(process.pid) - before
        assert used < 0.6, f"the proxy used {used:.2f} s of CPU in 2 s while out of descriptors"
        for s in sockets:
            s.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any('"accept-failed"' in line or '"upstream-failed"' in line for line in lines):
            time.sleep(0.1)
        assert any('"accept-failed"' in line or '"upstream-failed"' in line for line in lines), "running out of descriptors was not reported"
    finally:
        stop(process)
        upstream.close()


def _first_event_collecting(process, want, lines, timeout=20.0):
    """Like conftest's _first_event, but keeps every line in `lines` (read on a thread)."""
    import json
    import threading
    found = {}
    ready = threading.Event()

    def reader():
        for line in process.stdout:
            lines.append(line)
            if not ready.is_set():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("type") == want:
                    found["event"] = event
                    ready.set()

    threading.Thread(target=reader, daemon=True).start()
    assert ready.wait(timeout), f"no '{want}' event; saw {lines}"
    return found["event"]


def test_an_unreachable_api_is_one_clear_line():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    result = subprocess.run([FLATLINE, "fault", "list", "--api", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the control API" in lines[0] and "connection refused" in lines[0], result.stderr


def test_a_proxy_on_every_interface_says_so():
    process = subprocess.Popen(
        [FLATLINE, "proxy", "--listen", "0:0", "--upstream", "127.0.0.1:9", "--events", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        event = _first_event(process, "listening")
        assert event["listen"].startswith("0.0.0.0:") and not event["listen"].endswith(":0")
        assert "every interface" in event.get("warning", "")
    finally:
        stop(process)
        warning = process.stderr.read()
        assert "warning: proxy flatline is listening on every interface" in warning
