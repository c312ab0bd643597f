"""Shared fixtures: start Flatline processes on port 0 and read their first events."""
import json
import os
import signal
import socket
import subprocess
import threading

import pytest

FLATLINE = os.environ.get("FLATLINE_BIN", "")


def _first_event(process, want, timeout=20.0):
    """Reads JSON event lines from a child's stdout until one of type `want` arrives."""
    result = {}
    seen = []

    def reader():
        for line in process.stdout:
            seen.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == want:
                result["event"] = event
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if "event" not in result:
        raise AssertionError(f"no '{want}' event within {timeout}s; saw: {seen}")
    # Keep draining so the child never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return result["event"]


def stop_process(process):
    """Ends a child started with start_new_session: SIGTERM to its group, SIGKILL if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def flatline_api():
    """A `flatline proxy --api 127.0.0.1:0` process; yields (host, port)."""
    assert FLATLINE, "set FLATLINE_BIN to the flatline executable"
    process = subprocess.Popen(
        [FLATLINE, "proxy", "--api", "127.0.0.1:0", "--events", "jsonl"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        event = _first_event(process, "api-listening")
        host, port = event["address"].rsplit(":", 1)
        yield host, int(port)
    finally:
        stop_process(process)


@pytest.fixture
def echo_server():
    """A TCP echo server on 127.0.0.1 port 0; yields its port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve(conn):
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
