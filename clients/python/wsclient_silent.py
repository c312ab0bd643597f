"""The shortest real client: Python's websocket-client keeping a connection with RFC 6455 pings and
reconnecting by itself — `run_forever(ping_interval=…, ping_timeout=…, reconnect=…)` — and printing
nothing at all. Flatline judges it from the outside (the proxy's observations of its connections).

Usage: wsclient_silent.py URL [--interval S] [--timeout S] [--reconnect S]
SIGINT/SIGTERM close it.
"""
import argparse
import signal
import sys

import websocket


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=0.2)
    parser.add_argument("--reconnect", type=float, default=0.2)
    args = parser.parse_args()
    app = websocket.WebSocketApp(args.url)

    def close(*_):
        app.keep_running = False
        app.close()
        sys.exit(0)

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    app.run_forever(ping_interval=args.interval, ping_timeout=args.timeout, reconnect=args.reconnect)


if __name__ == "__main__":
    main()
