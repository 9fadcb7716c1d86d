#!/usr/bin/env python3
"""Checks gzmq-xmlrpc-server on 127.0.0.1:PORT with Python's own XML-RPC
client (a client we did not write) and raw sockets for the HTTP errors.
Run by tests/test_xmlrpc_server.c; exits non-zero on the first failure."""
import socket
import sys
import xmlrpc.client

port = int(sys.argv[1])
url = "http://127.0.0.1:%d" % port


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


def fault_of(call):
    try:
        call()
    except xmlrpc.client.Fault as f:
        return f
    return None


def raw(data):
    """Send DATA on a new connection, return everything until EOF."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(data)
    out = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        out += d
    c.close()
    return out


s = xmlrpc.client.ServerProxy(url)
check(s.add(3, 5) == 8, "add(3, 5) == 8")
check(s.add(-7, 2) == -5, "add(-7, 2) == -5")
check(s.add(2.5, 1) == 3.5, "add(2.5, 1) == 3.5 (a double)")
check(s.add(0.1, 0.2) == 0.1 + 0.2, "add(0.1, 0.2) exact to the last bit")
check(s.add(2**31 - 1, 1) == 2**31, "add overflowing 32 bits gives a 64-bit int")
check(s.gen(2048) == "0" * 2048, 'gen(2048) == "0" * 2048')
check(s.gen(0) == "", 'gen(0) == ""')
check(s.system.listMethods() == ["add", "gen", "system.listMethods"],
      "system.listMethods")

f = fault_of(lambda: s.nosuchmethod(1))
check(f is not None and f.faultCode == -32601, "unknown method: Fault -32601")
f = fault_of(lambda: s.add(1))
check(f is not None and f.faultCode == -32602, "add with one param: Fault -32602")
f = fault_of(lambda: s.add("a", "b"))
check(f is not None and f.faultCode == -32602, "add of strings: Fault -32602")
f = fault_of(lambda: s.gen(-1))
check(f is not None and f.faultCode == -32602, "gen(-1): Fault -32602")
f = fault_of(lambda: s.gen([1, 2]))
check(f is not None and f.faultCode == -32602, "gen(array): Fault -32602")
check(s.gen(1000000) == "0" * 1000000, "gen(1000000), the default --max-gen")
f = fault_of(lambda: s.gen(16777216))
check(f is not None and f.faultCode == -32602 and
      f.faultString == "gen: n=16777216 exceeds the limit 1000000 (--max-gen)",
      "gen(16777216): Fault -32602 naming --max-gen")

# Keep-alive: the same connection serves many calls (http.client reuses it).
for i in range(100):
    if s.add(i, i) != 2 * i:
        check(False, "keep-alive call %d" % i)
check(True, "100 calls on one kept-alive connection")


def post(body, extra=b""):
    return raw(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\n"
               b"Connection: close\r\n" + extra +
               b"Content-Length: %d\r\n\r\n" % len(body) + body)


def parse_fault(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "a fault travels in a 200 response")
    try:
        xmlrpc.client.loads(body)
    except xmlrpc.client.Fault as f:
        return f
    return None


f = parse_fault(post(b"<methodCall><methodName>add</methodName><params>"))
check(f is not None and f.faultCode == -32700, "truncated XML: Fault -32700")
f = parse_fault(post(b"this is not xml"))
check(f is not None and f.faultCode == -32700, "not XML at all: Fault -32700")
f = parse_fault(post(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>"
                     b"<methodCall><methodName>add</methodName></methodCall>"))
check(f is not None and f.faultCode == -32700, "a DTD is refused: Fault -32700")
f = parse_fault(post(b"<notacall/>"))
check(f is not None and f.faultCode == -32600, "not a methodCall: Fault -32600")

r = raw(b"GARBAGE\x01\x02 / nonsense\r\n\r\n")
check(r.startswith(b"HTTP/1.1 400"), "malformed HTTP: 400")
r = raw(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n")
check(r.startswith(b"HTTP/1.1 413"), "a body over 1 MiB: 413")
r = raw(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 2)
check(r.startswith(b"HTTP/1.1 413"), "a chunked body over 1 MiB: 413")

r = raw(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
check(r.startswith(b"HTTP/1.1 200") and r.endswith(b"Hello from gzmq-xmlrpc-server\n"),
      "GET / answers the fixed body")
r = raw(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n"
        b"Connection: close\r\n\r\n")
check(r.count(b"HTTP/1.1 200") == 2, "two pipelined requests, two answers in order")
# The answers to one read are gathered and written in pieces of 64 KiB at
# most: 60 pipelined gen(n) with growing n (about 150 KiB of answers) come
# back whole and in order, the last one closing the connection.
def gen_request(n, last):
    body = (b"<?xml version='1.0'?><methodCall><methodName>gen</methodName><params>"
            b"<param><value><int>%d</int></value></param></params></methodCall>" % n)
    return (b"POST /RPC2 HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\n" +
            (b"Connection: close\r\n" if last else b"") +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)
r = raw(b"".join(gen_request(2000 + i, i == 59) for i in range(60)))
answers = r.split(b"HTTP/1.1 200")[1:]
check(len(answers) == 60 and
      all(a.count(b"0") >= 2000 + i and b"<string>" + b"0" * (2000 + i) + b"</string>" in a
          for i, a in enumerate(answers)),
      "60 pipelined calls (150 KiB of answers): every answer whole, in order")
r = raw(b"GET /elsewhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
check(r.startswith(b"HTTP/1.1 404"), "GET elsewhere: 404")

# A slow client (half a request) is answered 408 and closed at the request
# timeout; an idle one is closed at the idle timeout.
r = raw(b"POST /RPC2 HTTP/1.1\r\nHost: t\r\n")
check(r.startswith(b"HTTP/1.1 408"), "a request never completed: 408, closed")
r = raw(b"")
check(r == b"", "an idle connection is closed")

check(s.add(3, 5) == 8, "still serving after all that")
print("all checks passed")
