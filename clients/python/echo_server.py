"""A WebSocket server of the kind people write, on Python's `websockets`: it echoes every message
(so JSON heartbeats come back) and answers pings (the library does). For scenarios that put
Flatline's proxy in front of a server that is not the built-in one.

Usage: echo_server.py PORT
"""
import asyncio
import signal
import sys

import websockets


async def echo(connection):
    try:
        async for message in connection:
            await connection.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None):
        print(f"serving on 127.0.0.1:{port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
