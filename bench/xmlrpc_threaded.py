"""The seed article's second server, ported to Python 3: SimpleXMLRPCServer
with ThreadingMixIn, one thread per connection. Usage: xmlrpc_threaded.py PORT"""
import socketserver
import sys
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler

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
