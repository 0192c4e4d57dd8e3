"""Watch fan-out latency: N watchers on one collection, then W writes, each
stamped with its send time; prints p50/p99/max delivery latency over all
(watcher, event) pairs.  Usage: watch_latency.py PORT WATCHERS WRITES"""
import asyncio
import json
import sys
import time

PORT, N, WRITES = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
PATH = "/api/v1/namespaces/default/configmaps"
lat = []


async def watcher(rv, ready, done):
    r, w = await asyncio.open_connection("127.0.0.1", PORT)
    w.write(f"GET {PATH}?watch=1&resourceVersion={rv}&labelSelector=lat%3D1 HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    await w.drain()
    while (await r.readline()) not in (b"\r\n", b""):
        pass
    ready()
    got = 0
    while got < WRITES:
        size = int((await r.readline()).strip(), 16)
        data = await r.readexactly(size + 2)
        now = time.time()
        for line in data.split(b"\n"):
            if line.strip():
                ev = json.loads(line)
                sent = float(ev["object"]["data"]["sent"])
                lat.append(now - sent)
                got += 1
    w.close()
    done()


async def main():
    r, w = await asyncio.open_connection("127.0.0.1", PORT)
    w.write(f"GET {PATH}?limit=1 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
    raw = await r.read()
    body = raw.split(b"\r\n\r\n", 1)[1]
    if b"\r\n" in body[:10]:
        body = body.split(b"\r\n", 1)[1]
    rv = json.loads(body[: body.rfind(b"}") + 1])["metadata"]["resourceVersion"]
    ready_n = 0
    done_n = 0
    all_ready = asyncio.Event()
    all_done = asyncio.Event()

    def ready():
        nonlocal ready_n
        ready_n += 1
        if ready_n == N:
            all_ready.set()

    def done():
        nonlocal done_n
        done_n += 1
        if done_n == N:
            all_done.set()

    tasks = [asyncio.create_task(watcher(rv, ready, done)) for _ in range(N)]
    await asyncio.wait_for(all_ready.wait(), 60)
    for i in range(WRITES):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"lat-{time.time_ns()}", "labels": {"lat": "1"}},
                           "data": {"sent": repr(time.time())}})
        cr, cw = await asyncio.open_connection("127.0.0.1", PORT)
        cw.write((f"POST {PATH} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode())
        await cw.drain()
        await cr.read()
        cw.close()
        await asyncio.sleep(0.2)
    await asyncio.wait_for(all_done.wait(), 60)
    for t in tasks:
        t.cancel()
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"watch fan-out: {N} watchers x {WRITES} events = {len(lat)} deliveries; "
          f"latency p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]*1000:.1f} ms")


asyncio.run(main())
