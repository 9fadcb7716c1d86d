"""gevent peers of bench/switch.c, spawn.c, sync.c: same shapes, same output
("name value unit"). usage: python3 gevent_peer.py [scale]  (1.0 = full)"""
import sys
import time

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.queue import Queue

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
now = time.perf_counter


def out(name, value, unit):
    print("%s %.6g %s" % (name, value, unit), flush=True)


def switch(rounds):
    def yielder():
        for _ in range(rounds):
            gevent.sleep(0)
    a, b = gevent.spawn(yielder), gevent.spawn(yielder)
    t0 = now()
    gevent.joinall([a, b])
    return (now() - t0) * 1e9 / (2 * rounds)


def spawn_join(n):
    def noop():
        return None
    for _ in range(1000):
        gevent.spawn(noop).join()
    t0 = now()
    for _ in range(n):
        gevent.spawn(noop).join()
    return (now() - t0) * 1e9 / n


def queue_pairs(n):
    q = Queue(1)

    def producer():
        for i in range(n):
            q.put(i + 1)

    def consumer():
        for _ in range(n):
            q.get()
    t0 = now()
    gevent.joinall([gevent.spawn(producer), gevent.spawn(consumer)])
    return n / (now() - t0)


def pool_imap(n):
    p = Pool(10)
    t0 = now()
    got = sum(1 for _ in p.imap_unordered(lambda x: x, range(n)))
    assert got == n
    return n / (now() - t0)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def event_wake(n):
    ev, done = Event(), Event()
    woke = [0]

    def waiter():
        ev.wait()
        woke[0] += 1
        done.wait()
    gs = [None] * n
    before = rss_kib()
    for i in range(n):
        gs[i] = gevent.spawn(waiter)
    gevent.sleep(0)
    out("gevent_rss_per_greenlet_100k", (rss_kib() - before) / n, "KiB")
    t0 = now()
    ev.set()
    while woke[0] < n:
        gevent.sleep(0)
    t = now() - t0
    done.set()
    gevent.joinall(gs)
    return t * 1e3


out("gevent_switch", switch(int(100000 * scale) + 1), "ns")
out("gevent_spawn_join", spawn_join(int(100000 * scale) + 1), "ns")
out("gevent_queue_pairs", queue_pairs(int(100000 * scale) + 1), "pairs/s")
out("gevent_pool_imap", pool_imap(int(50000 * scale) + 1), "items/s")
out("gevent_event_wake_100k", event_wake(100000), "ms")
