#!/usr/bin/python3
"""CURVE between the demo programs and pyzmq (python3-zmq), on loopback.

Keys are made by pyzmq's zmq.auth.create_certificates. gzmq-reqrep-server
runs with --curve-server-key and --curve-keys; a pyzmq REQ client whose key
is in the directory gets its echo, one with an unknown key sees
EVENT_HANDSHAKE_FAILED_AUTH (status 400) on its own socket monitor and no
reply; gzmq-reqrep-client with a known key gets every reply, with an unknown
one none. Then the pipeline (sink, ventilator, worker) under CURVE, and a
worker with an unknown key that gets no task; the --reliable pipeline; bad
options. Run by tests/test_programs.c:
    curve_check.py BUILD_DIR
Prints "curve-check: N passed, M failed"; exit 0 only if none failed.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

BIN = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build", "bin")
LIMIT = 20  # seconds: a watchdog per step, never a timing assertion
passed = failed = 0
procs = []


def check(ok, what):
    global passed, failed
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def start(name, *args):
    """Start gzmq-NAME ARGS; its output in a file. Returns (proc, outpath)."""
    out = tempfile.NamedTemporaryFile("w+", prefix="gzmq-curve-", delete=False)
    p = subprocess.Popen([os.path.join(BIN, "gzmq-" + name), *args],
                         stdout=out, stderr=subprocess.STDOUT)
    procs.append(p)
    return p, out.name


def endpoint(p, path):
    end = time.monotonic() + LIMIT
    while time.monotonic() < end and p.poll() is None:
        m = re.search(r"bound to (\S+)", open(path).read())
        if m:
            return m.group(1)
        time.sleep(0.02)
    raise SystemExit("no 'bound to' line from %s:\n%s" % (p.args[0], open(path).read()))


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(LIMIT)
    except subprocess.TimeoutExpired:
        p.kill()
        return -1


def curve_req(ctx, ep, cert, server_public):
    pub, sec = zmq.auth.load_certificate(cert)
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    s.rcvtimeo = LIMIT * 1000
    s.curve_publickey, s.curve_secretkey = pub, sec
    s.curve_serverkey = server_public
    mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED |
                               zmq.EVENT_HANDSHAKE_FAILED_AUTH |
                               zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    s.connect(ep)
    return s, mon


def first_event(mon):
    if not mon.poll(LIMIT * 1000):
        return None, None
    ev = recv_monitor_message(mon)
    return ev["event"], ev["value"]


def main():
    if not zmq.has("curve"):
        print("SKIPPED: libzmq has no CURVE")
        print("curve-check: 0 passed, 0 failed")
        return 0
    d = tempfile.mkdtemp(prefix="gzmq-curve-")
    try:
        return run(d)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)


def run(d):
    for sub in ("server", "allowed", "others"):
        os.mkdir(os.path.join(d, sub))
    server_key, _ = zmq.auth.create_certificates(os.path.join(d, "server"), "server")
    _, known = zmq.auth.create_certificates(os.path.join(d, "allowed"), "client")
    _, stranger = zmq.auth.create_certificates(os.path.join(d, "others"), "stranger")
    server_public, _ = zmq.auth.load_certificate(server_key)
    allowed = os.path.join(d, "allowed")

    # ---- gzmq-reqrep-server and pyzmq clients
    srv, srv_out = start("reqrep-server", "--bind", "tcp://127.0.0.1:*",
                         "--curve-server-key", server_key, "--curve-keys", allowed)
    ep = endpoint(srv, srv_out)
    ctx = zmq.Context()
    s, mon = curve_req(ctx, ep, known, server_public)
    event, _ = first_event(mon)
    check(event == zmq.EVENT_HANDSHAKE_SUCCEEDED, "pyzmq client with an allowed key: handshake succeeded")
    s.send(b"hello over curve")
    try:
        reply = s.recv()
    except zmq.Again:
        reply = None
    check(reply == b"hello over curve", "pyzmq client with an allowed key: echoed")
    s.close()
    mon.close()

    s, mon = curve_req(ctx, ep, stranger, server_public)
    event, value = first_event(mon)
    check(event == zmq.EVENT_HANDSHAKE_FAILED_AUTH and value == 400,
          "pyzmq client with an unknown key: HANDSHAKE_FAILED_AUTH 400 (got %s %s)" % (event, value))
    # A refused REQ has no peer: its send may wait too, so both are bounded.
    s.rcvtimeo = s.sndtimeo = 300
    try:
        s.send(b"let me in")
        s.recv()
        check(False, "pyzmq client with an unknown key: no reply")
    except zmq.Again:
        check(True, "pyzmq client with an unknown key: no reply")
    s.close()
    mon.close()

    # The same server without a key, and with the wrong server key: refused.
    plain = ctx.socket(zmq.REQ)
    plain.linger = 0
    pmon = plain.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED |
                                    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                    zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    plain.connect(ep)
    event, _ = first_event(pmon)
    check(event is not None and event != zmq.EVENT_HANDSHAKE_SUCCEEDED,
          "a client without CURVE does not get through")
    plain.close()
    pmon.close()
    ctx.term()

    # gzmq-reqrep-client: the same rules from C.
    r = subprocess.run([os.path.join(BIN, "gzmq-reqrep-client"), "--connect", ep,
                        "--requests", "200", "--concurrency", "4",
                        "--curve-server-key", server_key, "--curve-client-key", known],
                       capture_output=True, text=True, timeout=LIMIT * 3)
    check(r.returncode == 0 and "200 requests, 4 concurrent" in r.stdout,
          "gzmq-reqrep-client with an allowed key: 200 replies")
    r = subprocess.run([os.path.join(BIN, "gzmq-reqrep-client"), "--connect", ep,
                        "--requests", "1", "--timeout", "1",
                        "--curve-server-key", server_key, "--curve-client-key", stranger],
                       capture_output=True, text=True, timeout=LIMIT * 3)
    check(r.returncode == 1 and "no reply within 1 s" in r.stderr,
          "gzmq-reqrep-client with an unknown key: no reply, exit 1")
    rc = stop(srv)
    out = open(srv_out).read()
    os.unlink(srv_out)
    check(rc == 0 and re.search(r"^gzmq-reqrep-server: served 201 requests$", out, re.M),
          "gzmq-reqrep-server exits 0 having served 201 requests:\n" + out)

    # ---- the pipeline under CURVE: sink and ventilator share the server key.
    sink, sink_out = start("sink", "--bind", "tcp://127.0.0.1:*", "--tasks", "50",
                           "--curve-server-key", server_key, "--curve-keys", allowed)
    sep = endpoint(sink, sink_out)
    vent, vent_out = start("ventilator", "--bind", "tcp://127.0.0.1:*", "--tasks", "50",
                           "--ms", "1", "--workers", "1",
                           "--curve-server-key", server_key, "--curve-keys", allowed)
    vep = endpoint(vent, vent_out)
    # A worker with an unknown key first: refused, the ventilator keeps waiting.
    bad, bad_out = start("worker", "--pull", vep, "--push", sep,
                         "--curve-server-key", server_key, "--curve-client-key", stranger)
    time.sleep(0.3)
    check(vent.poll() is None and "sent" not in open(vent_out).read(),
          "the ventilator does not count a worker with an unknown key")
    good, good_out = start("worker", "--pull", vep, "--push", sep,
                           "--curve-server-key", server_key, "--curve-client-key", known)
    try:
        src, vrc = sink.wait(LIMIT * 3), vent.wait(LIMIT * 3)
    except subprocess.TimeoutExpired:
        src = vrc = -1
    for w in (bad, good):
        stop(w)
    sink_text, good_text, bad_text = (open(p).read() for p in (sink_out, good_out, bad_out))
    check(src == 0 and vrc == 0 and "50 tasks, each exactly once" in sink_text,
          "pipeline under CURVE: 50 tasks, each exactly once:\n" + sink_text)
    check("did 50 tasks" in good_text and "did 0 tasks" in bad_text,
          "the allowed worker did every task, the unknown one none:\n" + good_text + bad_text)
    for p in (sink_out, vent_out, good_out, bad_out):
        os.unlink(p)

    # ---- --reliable: the sink also connects to the ventilator, with a key
    # the ventilator's --curve-keys allows.
    cargs = ["--curve-server-key", server_key, "--curve-keys", allowed]
    vent, vent_out = start("ventilator", "--reliable", "--bind", "tcp://127.0.0.1:*",
                           "--tasks", "30", "--ms", "1", "--workers", "1", *cargs)
    vep = endpoint(vent, vent_out)
    sink, sink_out = start("sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                           "--tasks", "30", "--ventilator", vep, *cargs,
                           "--curve-client-key", known)
    sep = endpoint(sink, sink_out)
    good, good_out = start("worker", "--reliable", "--pull", vep, "--push", sep,
                           "--curve-server-key", server_key, "--curve-client-key", known)
    try:
        src, vrc = sink.wait(LIMIT * 3), vent.wait(LIMIT * 3)
    except subprocess.TimeoutExpired:
        src = vrc = -1
    stop(good)
    sink_text = open(sink_out).read()
    check(src == 0 and vrc == 0 and "30 tasks, each exactly once" in sink_text,
          "reliable pipeline under CURVE: 30 tasks, each exactly once:\n" + sink_text)
    for p in (sink_out, vent_out, good_out):
        os.unlink(p)

    # ---- bad CURVE options: exit 2 with a message
    for args, want in (
            (["--curve-keys", allowed], "needs --curve-server-key"),
            (["--curve-server-key", os.path.join(d, "missing")], "cannot use --curve-server-key"),
            (["--curve-server-key", os.path.join(allowed, "client.key")], None),
            (["--curve-server-key", server_key, "--curve-keys", os.path.join(d, "nodir")],
             "cannot use --curve-keys")):
        if want is None:  # a public-only certificate cannot serve
            os.rename(os.path.join(allowed, "client.key_secret"), os.path.join(d, "moved"))
            want = "has no secret key"
        r = subprocess.run([os.path.join(BIN, "gzmq-reqrep-server"), "--bind",
                            "tcp://127.0.0.1:*", *args],
                           capture_output=True, text=True, timeout=LIMIT)
        check(r.returncode == 2 and want in r.stderr,
              "gzmq-reqrep-server %s: exit 2, '%s'" % (" ".join(args[:1]), want))
    print("curve-check: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
