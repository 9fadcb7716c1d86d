#!/usr/bin/env python3
"""A 7/MDP client and echo worker written from rfc 7/MDP with python3-zmq,
sharing no code with libgzmq: the other end of tests/test_mdp.c's
interoperability runs.

  mdp_peer.py client ENDPOINT SERVICE N   send N requests (multipart bodies)
                                          and check each echo; prints
                                          "client: N ok" and exits 0
  mdp_peer.py worker ENDPOINT SERVICE     an echo worker; heartbeats every
                                          $GZ_MDP_HEARTBEAT s (default 2.5),
                                          reconnects after 3 missed; runs
                                          until SIGTERM, then prints
                                          "worker: N served"
"""
import os
import signal
import sys
import time

import zmq

C_CLIENT = b"MDPC01"
W_WORKER = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = (bytes([i]) for i in range(1, 6))


def client(endpoint, service, n):
    ctx = zmq.Context.instance()
    # A DEALER, so the empty delimiter frame REQ would add is sent by hand,
    # as the spec draws it.
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    service = service.encode()
    for i in range(n):
        body = [b"%d" % i, os.urandom(i % 7), b"x" * (i % 300)]
        sock.send_multipart([b"", C_CLIENT, service] + body)
        if not poller.poll(10000):
            sys.exit("client: no reply to request %d" % i)
        reply = sock.recv_multipart()
        if reply[:3] != [b"", C_CLIENT, service]:
            sys.exit("client: bad envelope %r" % reply[:3])
        if reply[3:] != body:
            sys.exit("client: request %d: reply differs" % i)
    print("client: %d ok" % n, flush=True)


def worker(endpoint, service):
    interval = float(os.environ.get("GZ_MDP_HEARTBEAT", "2.5"))
    liveness_max = 3
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    ctx = zmq.Context.instance()
    served = 0
    sock = None

    def connect():
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(endpoint)
        s.send_multipart([b"", W_WORKER, READY, service.encode()])
        return s

    sock = connect()
    liveness = liveness_max
    heartbeat_at = time.monotonic() + interval
    while not stop:
        try:
            ready = sock.poll(int(max(0.0, heartbeat_at - time.monotonic()) * 1000) + 1)
        except zmq.ZMQError:
            continue  # EINTR from the signal
        if ready:
            msg = sock.recv_multipart()
            liveness = liveness_max
            if len(msg) < 3 or msg[0] != b"" or msg[1] != W_WORKER:
                continue
            if msg[2] == REQUEST and len(msg) >= 5 and msg[4] == b"":
                sock.send_multipart([b"", W_WORKER, REPLY, msg[3], b""] + msg[5:])
                served += 1
            elif msg[2] == DISCONNECT:
                sock.close()
                sock = connect()
        if time.monotonic() >= heartbeat_at:
            liveness -= 1
            if liveness <= 0:
                sock.close()
                sock = connect()
                liveness = liveness_max
            else:
                sock.send_multipart([b"", W_WORKER, HEARTBEAT])
            heartbeat_at = time.monotonic() + interval
    sock.send_multipart([b"", W_WORKER, DISCONNECT])
    sock.close()
    print("worker: %d served" % served, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
