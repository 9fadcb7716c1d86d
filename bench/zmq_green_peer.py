"""pyzmq's zmq.green peers of bench/zmq_green.c: REQ/REP round trips/s,
PUSH/PULL and PUB/SUB messages/s (streams: best of 3, as STREAM_TRIES in
zmq_common.h), REQ/REP latency p50/p99 under 100 client greenlets (a REQ
socket each, one REP server greenlet); 64-byte messages, every end a
greenlet of one thread, inproc and tcp loopback. Output "name value unit".
usage: python3 zmq_green_peer.py [round trips] [stream messages] [latency rounds/client]"""
import sys
import time

import gevent
import zmq.green as zmq

nrt = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
nmsg = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
nlat = int(sys.argv[3]) if len(sys.argv) > 3 else 20
CLIENTS = 100
now = time.perf_counter
ctx = zmq.Context()
serial = [0]
MSG = b"x" * 64


def out(name, value, unit):
    print("%s %.6g %s" % (name, value, unit), flush=True)


def bind(s, transport):
    """Bind S to a fresh inproc name or a free tcp port: the endpoint."""
    serial[0] += 1
    if transport == "inproc":
        ep = "inproc://peer-%d" % serial[0]
        s.bind(ep)
        return ep
    s.bind("tcp://127.0.0.1:*")
    return s.getsockopt(zmq.LAST_ENDPOINT).decode()


def pair(ta, tb, transport, hwm=None):
    a, b = ctx.socket(ta), ctx.socket(tb)
    a.linger = b.linger = 0
    if hwm is not None:
        for s in (a, b):
            s.sndhwm = s.rcvhwm = hwm
    b.connect(bind(a, transport))
    return a, b


def reqrep(transport, n):
    rep, req = pair(zmq.REP, zmq.REQ, transport)

    def server():
        for _ in range(n):
            rep.send(rep.recv())
    srv = gevent.spawn(server)
    t0 = now()
    for _ in range(n):
        req.send(MSG)
        req.recv()
    t = now() - t0
    srv.join()
    rep.close()
    req.close()
    return n / t


def pushpull(transport, n):
    push, pull = pair(zmq.PUSH, zmq.PULL, transport)

    def sender():
        for _ in range(n):
            push.send(MSG)
    snd = gevent.spawn(sender)
    pull.recv()
    t0 = now()
    for _ in range(n - 1):
        pull.recv()
    t = now() - t0
    snd.join()
    push.close()
    pull.close()
    return (n - 1) / t


def pubsub(transport, n):
    """As bench/zmq_green.c: 1-byte hellos until the subscriber saw one (the
    slow joiner), then N 64-byte messages, no high-water mark."""
    pub, sub = pair(zmq.PUB, zmq.SUB, transport, hwm=0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    ready = [False]

    def sender():
        while not ready[0]:
            pub.send(b"h")
            gevent.sleep(0.001)
        for _ in range(n):
            pub.send(MSG)
    snd = gevent.spawn(sender)
    while len(sub.recv()) == 1:  # hellos until the first real message
        ready[0] = True
    got = 0
    t0 = now()
    while got < n - 1:
        if len(sub.recv()) != 1:  # a late hello does not count
            got += 1
    t = now() - t0
    snd.join()
    pub.close()
    sub.close()
    return (n - 1) / t


def latency(transport, rounds):
    rep = ctx.socket(zmq.REP)
    rep.linger = 0
    ep = bind(rep, transport)
    lat = []

    def server():  # also answers the warm-ups
        for _ in range(CLIENTS * (rounds + 1)):
            rep.send(rep.recv())

    def client():
        s = ctx.socket(zmq.REQ)
        s.linger = 0
        s.connect(ep)
        s.send(MSG)  # untimed: the connection's set-up is not a round trip
        s.recv()
        for _ in range(rounds):
            t0 = now()
            s.send(MSG)
            s.recv()
            lat.append((now() - t0) * 1e6)
        s.close()
    srv = gevent.spawn(server)
    gevent.joinall([gevent.spawn(client) for _ in range(CLIENTS)])
    srv.join()
    rep.close()
    lat.sort()
    return lat[len(lat) // 2], lat[len(lat) * 99 // 100]


for tr in ("inproc", "tcp"):
    out("zmqgreen_reqrep_" + tr, reqrep(tr, nrt), "rt/s")
for tr in ("inproc", "tcp"):  # best of 3, as STREAM_TRIES in zmq_common.h
    out("zmqgreen_pushpull_" + tr, max(pushpull(tr, nmsg) for _ in range(3)), "msg/s")
    out("zmqgreen_pubsub_" + tr, max(pubsub(tr, nmsg) for _ in range(3)), "msg/s")
for tr in ("inproc", "tcp"):
    p50, p99 = latency(tr, nlat)
    out("zmqgreen_lat50_" + tr, p50, "us")
    out("zmqgreen_lat99_" + tr, p99, "us")
ctx.term()
