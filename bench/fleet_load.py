#!/usr/bin/env python3
"""The fleet benchmark's load generator: COUNT simulated hosts, each with its own TLS
connection to central holding the feed long-poll as an agent does (bench_fleet.py runs it as a
process of its own, so that its CPU and memory are not the benchmark's).

    fleet_load.py PORT CA IDENTITIES COUNT FIRST_ADDRESS ADDRESSES WAIT

IDENTITIES: a file of "CERT KEY" lines, the host certificates the simulated hosts share
(simulated host i presents identity i mod their number). Host i binds its socket to
127.0.0.(FIRST_ADDRESS + i mod ADDRESSES): central admits at most 1,024 connections per
address. Each host: GET the feed without `since` (answered at once), then forever GET it with
`since` = the version and `wait` = WAIT, as lockboxd's agent does (agent_link.c: 25 s).

Prints one JSON line a second: {"open", "polls", "changed", "errors", "ready"}; "ready" once
every host has sent its first long-poll. SIGTERM ends it (exit 0); an error on a host's
connection is counted and the host reconnects after a second.
"""

import asyncio
import json
import signal
import ssl
import sys

OPENING_AT_ONCE = 64  # handshakes in flight: central drops one that takes over 30 s


class Stats:
    def __init__(self):
        self.open = self.polls = self.changed = self.errors = self.started = 0
        self.last_error = None

    def line(self, count):
        return json.dumps({"open": self.open, "polls": self.polls, "changed": self.changed,
                           "errors": self.errors, "ready": self.started >= count,
                           "last_error": self.last_error})


async def read_reply(reader):
    """One HTTP/1.1 reply with a Content-Length (what lockboxd sends): (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise RuntimeError("a reply without Content-Length: %r" % lines[0])
    return status, await reader.readexactly(length)


async def feed_call(reader, writer, since, wait):
    query = "?since=%s&wait=%d" % (since, wait) if since else ""
    writer.write(("GET /v1/hosts/self/requests%s HTTP/1.1\r\nHost: central\r\n\r\n" % query)
                 .encode())
    status, body = await read_reply(reader)
    if status != 200:
        raise RuntimeError("feed: %d %s" % (status, body[:200]))
    return json.loads(body)["version"]


async def simulated_host(index, args, contexts, opening, stats):
    address = "127.0.0.%d" % (args["first"] + index % args["addresses"])
    context = contexts[index % len(contexts)]
    first = True
    while True:
        writer = None
        try:
            async with opening:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", args["port"], ssl=context, server_hostname="127.0.0.1",
                    local_addr=(address, 0))
                stats.open += 1
                version = await feed_call(reader, writer, None, 0)
            if first:
                stats.started += 1
                first = False
            while True:
                new = await feed_call(reader, writer, version, args["wait"])
                stats.polls += 1
                stats.changed += new != version
                version = new
        except asyncio.CancelledError:
            raise
        except Exception as e:  # counted, then the host connects again as an agent would
            stats.errors += 1
            stats.last_error = "%s: %s" % (type(e).__name__, e)
            await asyncio.sleep(1.0)
        finally:
            if writer is not None:
                stats.open -= 1
                writer.transport.abort()


def load_contexts(ca, identities):
    contexts = []
    with open(identities) as f:
        for line in f:
            if not line.strip():
                continue
            crt, key = line.split()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(ca)
            ctx.load_cert_chain(crt, key)
            contexts.append(ctx)
    return contexts


async def main(argv):
    port, ca, identities, count, first, addresses, wait = argv
    args = {"port": int(port), "first": int(first), "addresses": int(addresses),
            "wait": int(wait)}
    count = int(count)
    contexts = load_contexts(ca, identities)
    stats = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    opening = asyncio.Semaphore(OPENING_AT_ONCE)
    hosts = [asyncio.create_task(simulated_host(i, args, contexts, opening, stats))
             for i in range(count)]
    while not stop.is_set():
        print(stats.line(count), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    for task in hosts:
        task.cancel()
    await asyncio.gather(*hosts, return_exceptions=True)
    print(stats.line(count), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
