"""A heartbeat client written the way the seeds write them, on Python's `websocket-client`
(`WebSocketApp` with on_open/on_message/on_error/on_close callbacks), printing Flatline events.

websocket-client calls on_error and then on_close for one failure (websocket-client #971), which
is why the seeds guard their reconnect with a lock. `--no-lock` leaves the lock out: the classic
mistake, for the negative scenarios.

Usage: heartcheck_wsclient.py URL [--interval MS] [--timeout MS] [--delay MS] [--no-lock]
SIGINT/SIGTERM close the client (a manual close never reconnects).
"""
import argparse
import json
import signal
import sys
import threading
import time

import websocket

START = time.monotonic()
LOCK = threading.Lock()  # serialises our own state and output, not the reconnect decision


def emit(event_type, **fields):
    record = {"t": round((time.monotonic() - START) * 1000, 3), "src": "client", "type": event_type}
    record.update(fields)
    with LOCK:
        print(json.dumps(record), flush=True)


class Client:
    def __init__(self, args):
        self.args = args
        self.conn = 0
        self.attempt = 0
        self.lock_reconnect = False
        self.closed_by_user = False
        self.app = None
        self.heartbeat_timer = None
        self.reply_timer = None
        self.seq = 0
        self.sent_at = 0.0

    def create(self):
        self.conn += 1
        conn = self.conn
        emit("connecting", conn=conn, attempt=self.attempt)
        app = websocket.WebSocketApp(
            self.args.url,
            on_open=lambda ws: self.on_open(ws, conn),
            on_message=lambda ws, message: self.on_message(ws, conn, message),
            on_error=lambda ws, error: self.lost(conn, "error", repr(error)),
            on_close=lambda ws, code, reason: self.lost(conn, "peer-closed", f"close {code} {reason or ''}".strip()),
        )
        self.app = app
        threading.Thread(target=app.run_forever, daemon=True).start()

    # The heartCheck of the seeds: reset on every message, send after `interval` of silence,
    # close if no reply within `timeout`.
    def heart_check(self, ws, conn):
        self.cancel_timers()

        def send():
            self.seq += 1
            self.sent_at = time.monotonic()
            try:
                ws.send(json.dumps({"ModeCode": "heart_beat", "msg": int(time.time() * 1000)}))
            except Exception:
                return
            emit("heartbeat-sent", conn=conn, seq=self.seq)
            self.reply_timer = threading.Timer(self.args.timeout / 1000, lambda: ws.close())
            self.reply_timer.daemon = True
            self.reply_timer.start()

        self.heartbeat_timer = threading.Timer(self.args.interval / 1000, send)
        self.heartbeat_timer.daemon = True
        self.heartbeat_timer.start()

    def cancel_timers(self):
        for timer in (self.heartbeat_timer, self.reply_timer):
            if timer is not None:
                timer.cancel()

    def on_open(self, ws, conn):
        emit("connected", conn=conn, attempt=self.attempt)
        self.attempt = 0
        self.heart_check(ws, conn)

    def on_message(self, ws, conn, message):
        try:
            parsed = json.loads(message)
        except (ValueError, TypeError):
            parsed = None
        if isinstance(parsed, dict) and parsed.get("ModeCode") == "heart_beat":
            emit("heartbeat-acked", conn=conn, seq=self.seq, rtt_ms=round((time.monotonic() - self.sent_at) * 1000, 3))
        else:
            emit("message-received", conn=conn, bytes=len(message))
        self.heart_check(ws, conn)

    def lost(self, conn, reason, detail):
        if self.closed_by_user:
            return
        self.cancel_timers()
        emit("disconnected", conn=conn, reason=reason, detail=detail)
        self.reconnect()

    def reconnect(self):
        if self.lock_reconnect and not self.args.no_lock:
            return
        self.lock_reconnect = True
        self.attempt += 1
        emit("reconnect-scheduled", attempt=self.attempt, delay_ms=self.args.delay)

        def again():
            self.lock_reconnect = False
            if not self.closed_by_user:
                self.create()

        timer = threading.Timer(self.args.delay / 1000, again)
        timer.daemon = True
        timer.start()

    def close(self):
        self.closed_by_user = True
        self.cancel_timers()
        emit("closed", by="user")
        if self.app is not None:
            self.app.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=300, help="heartbeat after this many ms of silence")
    parser.add_argument("--timeout", type=float, default=200, help="reply deadline in ms")
    parser.add_argument("--delay", type=float, default=300, help="reconnect delay in ms")
    parser.add_argument("--no-lock", action="store_true", help="the classic mistake: no reconnect lock")
    args = parser.parse_args()
    client = Client(args)
    done = threading.Event()

    def stop(signum, frame):
        client.close()
        done.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    client.create()
    done.wait()
    time.sleep(0.2)


if __name__ == "__main__":
    main()
