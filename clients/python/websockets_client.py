"""An external heartbeat client for Flatline scenarios, built on Python's `websockets` library.

It keeps a connection open with RFC 6455 pings (ping_interval / ping_timeout), reconnects after a
fixed delay, and prints its events in Flatline's schema, one JSON object per line on stdout.
Usage: websockets_client.py URL [--interval S] [--timeout S] [--close-timeout S] [--delay S]
"""
import argparse
import asyncio
import json
import signal
import sys
import time

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

START = time.monotonic()


def emit(event_type, **fields):
    record = {"t": round((time.monotonic() - START) * 1000, 3), "src": "client", "type": event_type}
    record.update(fields)
    print(json.dumps(record), flush=True)


async def run(args):
    attempt = 0
    conn = 0
    while True:
        conn += 1
        emit("connecting", conn=conn, attempt=attempt)
        try:
            async with websockets.connect(
                args.url,
                ping_interval=args.interval,
                ping_timeout=args.timeout,
                close_timeout=args.close_timeout,
                open_timeout=args.open_timeout,
            ) as ws:
                emit("connected", conn=conn, attempt=attempt)
                attempt = 0
                async for _ in ws:
                    emit("message-received", conn=conn)
            reason, detail = "peer-closed", "closed cleanly"
        except ConnectionClosed as error:
            sent = error.sent
            if sent is not None and sent.code == 1011 and "keepalive" in sent.reason:
                reason = "heartbeat-timeout"
            elif error.rcvd is None and sent is None:
                reason = "peer-closed"
            else:
                reason = "peer-closed"
            detail = str(error)
        except (OSError, asyncio.TimeoutError, InvalidHandshake) as error:
            reason, detail = "connect-failed", f"{type(error).__name__}: {error}"
        emit("disconnected", conn=conn, reason=reason, detail=detail)
        attempt += 1
        emit("reconnect-scheduled", attempt=attempt, delay_ms=args.delay * 1000)
        await asyncio.sleep(args.delay)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--close-timeout", type=float, default=0.1)
    parser.add_argument("--open-timeout", type=float, default=1.0)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    task = loop.create_task(run(args))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        emit("closed", by="user")
    return 0


if __name__ == "__main__":
    sys.exit(main())
