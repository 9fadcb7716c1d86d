"""The seed article's first server, ported to Python 3: the stdlib
SimpleXMLRPCServer, one request at a time. Usage: xmlrpc_simple.py PORT"""
import socketserver
import sys
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler

socketserver.TCPServer.request_queue_size = 10000  # the article's backlog fix


def add(a, b):
    return a + b


def gen(n):
    return "0" * n


server = SimpleXMLRPCServer(("127.0.0.1", int(sys.argv[1])), SimpleXMLRPCRequestHandler,
                            False)
server.register_function(add, "add")
server.register_function(gen, "gen")
server.serve_forever()
