"""The seed article's third server, ported to Python 3: the ThreadingMixIn
server after gevent's monkey.patch_all(), so each "thread" is a greenlet.
Needs Debian's python3-gevent. Usage: xmlrpc_gevent.py PORT"""
from gevent import monkey

monkey.patch_all()

import socketserver  # noqa: E402
import sys  # noqa: E402
from socketserver import ThreadingMixIn  # noqa: E402
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler  # noqa: E402

socketserver.TCPServer.request_queue_size = 10000


class TXMLRPCServer(ThreadingMixIn, SimpleXMLRPCServer):
    pass


def add(a, b):
    return a + b


def gen(n):
    return "0" * n


server = TXMLRPCServer(("127.0.0.1", int(sys.argv[1])), SimpleXMLRPCRequestHandler,
                       False)
server.register_function(add, "add")
server.register_function(gen, "gen")
server.serve_forever()
