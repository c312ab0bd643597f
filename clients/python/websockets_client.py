"""An external heartbeat client for Flatline scenarios, built on Python's `websockets` library.

Written the way its documentation says: `async for ws in connect(...)` reconnects by itself, RFC 6455
pings keep the connection alive (ping_interval / ping_timeout), and the loop body catches
ConnectionClosed and continues. It prints its events in Flatline's schema, one JSON object per line
on stdout; the pings it sends are not printed (the proxy sees them).

What the library does, and this client therefore does too:
- after a connection that was open is lost, it connects again at once, with no delay;
- after a failed attempt it waits a random delay between 0 and `initial_delay`, then `min_delay`,
  growing by `factor` up to `max_delay` (its `backoff()`; 5 s / 3.1 s / 90 s / 1.618 by default,
  scaled down here by the --backoff-* options so that scenarios stay short).

Usage: websockets_client.py URL [--interval S] [--timeout S] [--close-timeout S] [--open-timeout S]
                            [--backoff-initial S] [--backoff-min S] [--backoff-max S]
"""
import argparse
import asyncio
import json
import signal
import sys
import time

from websockets.asyncio.client import connect
from websockets.client import backoff, process_exception
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

START = time.monotonic()


def emit(event_type, **fields):
    record = {"t": round((time.monotonic() - START) * 1000, 3), "src": "client", "type": event_type}
    record.update(fields)
    print(json.dumps(record), flush=True)


class Counters:
    conn = 0
    attempt = 0


class ObservedConnect(connect):
    """The library's `connect`, unchanged, except that each attempt is announced before it starts."""

    async def connect(self):
        Counters.conn += 1
        emit("connecting", conn=Counters.conn, attempt=Counters.attempt)
        return await super().connect()


def reason_of(error):
    sent = error.sent
    if isinstance(error, ConnectionClosedOK):
        return "peer-closed"
    if sent is not None and sent.code == 1011 and "keepalive" in sent.reason:
        return "heartbeat-timeout"
    return "peer-closed"


async def run(args):
    def failed(error):
        # Called by the library for an attempt that failed; None means "retry".
        emit("disconnected", conn=Counters.conn, reason="connect-failed",
             detail=f"{type(error).__name__}: {error}")
        Counters.attempt += 1
        return process_exception(error)

    def delays():
        # The library's own backoff generator; each delay it hands out is announced.
        for delay in backoff(args.backoff_initial, args.backoff_min, args.backoff_max, args.backoff_factor):
            emit("reconnect-scheduled", attempt=Counters.attempt, delay_ms=round(delay * 1000, 3))
            yield delay

    async for ws in ObservedConnect(
        args.url,
        ping_interval=None if args.no_keepalive else args.interval,
        ping_timeout=None if args.no_keepalive else args.timeout,
        close_timeout=args.close_timeout,
        open_timeout=args.open_timeout,
        process_exception=failed,
        reconnect_delays=delays,
    ):
        emit("connected", conn=Counters.conn, attempt=Counters.attempt)
        Counters.attempt = 0
        try:
            async for _ in ws:
                emit("message-received", conn=Counters.conn)
        except ConnectionClosed as error:
            emit("disconnected", conn=Counters.conn, reason=reason_of(error), detail=str(error))
            continue
        emit("disconnected", conn=Counters.conn, reason="peer-closed", detail="closed cleanly")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--close-timeout", type=float, default=0.1)
    parser.add_argument("--open-timeout", type=float, default=1.0)
    parser.add_argument("--backoff-initial", type=float, default=0.5)
    parser.add_argument("--backoff-min", type=float, default=0.31)
    parser.add_argument("--backoff-max", type=float, default=9.0)
    parser.add_argument("--backoff-factor", type=float, default=1.618)
    # A common mistake, for the negative scenarios: keepalive switched off (ping_interval=None),
    # often to silence "keepalive ping timeout" errors; a dead link is then never noticed.
    parser.add_argument("--no-keepalive", action="store_true")
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
