"""pyzmq's zmq.green peers of bench/zmq_green.c: REQ/REP round trips/s and
PUSH/PULL messages/s, 64-byte messages, both ends greenlets of one thread,
inproc and tcp loopback. Output "name value unit".
usage: python3 zmq_green_peer.py [round trips] [stream messages]"""
import sys
import time

import gevent
import zmq.green as zmq

nrt = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
nmsg = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
now = time.perf_counter
ctx = zmq.Context()
serial = [0]
MSG = b"x" * 64


def out(name, value, unit):
    print("%s %.6g %s" % (name, value, unit), flush=True)


def pair(ta, tb, transport):
    a, b = ctx.socket(ta), ctx.socket(tb)
    a.linger = b.linger = 0
    serial[0] += 1
    if transport == "inproc":
        ep = "inproc://peer-%d" % serial[0]
        a.bind(ep)
    else:
        a.bind("tcp://127.0.0.1:*")
        ep = a.getsockopt(zmq.LAST_ENDPOINT).decode()
    b.connect(ep)
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


for tr in ("inproc", "tcp"):
    out("zmqgreen_reqrep_" + tr, reqrep(tr, nrt), "rt/s")
for tr in ("inproc", "tcp"):  # best of 3, as STREAM_TRIES in zmq_common.h
    out("zmqgreen_pushpull_" + tr, max(pushpull(tr, nmsg) for _ in range(3)), "msg/s")
ctx.term()
