"""``manage.py serve``: the development server it runs answers without delay."""

import socket
import threading

from django.core.servers.basehttp import WSGIRequestHandler

from idmimport.management.commands.serve import NoDelayWSGIServer


def test_accepted_connections_have_nagle_off():
    # given: the server of `serve` on a free loopback port
    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    accepted = []

    def accept_one():
        connection, _ = server.get_request()
        accepted.append(connection)

    thread = threading.Thread(target=accept_one)
    thread.start()
    # when: a client connects
    client = socket.create_connection(server.server_address, timeout=5)
    thread.join(timeout=5)
    # then: the server side of the connection sends small writes at once
    try:
        (connection,) = accepted
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for sock in (*accepted, client):
            sock.close()
        server.server_close()
