"""The reliability tests' HTTP client (`live.call`): what a broken answer looks like to the load loops."""

import socket
import threading

import pytest

from . import live


def _server_that_breaks_off(body: bytes) -> tuple[socket.socket, threading.Thread]:
    """Answers one request with a Content-Length longer than what it sends, then closes: a worker
    killed in the middle of writing its answer."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2194\r\n\r\n" + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_an_answer_that_breaks_off_is_a_transport_error():
    listener, thread = _server_that_breaks_off(b'{"data": [')
    try:
        with pytest.raises(OSError, match="IncompleteRead"):  # what the load loops count as an error
            live.call(listener.getsockname()[1], "GET", "/api/v1/questions", timeout=5)
    finally:
        thread.join(5)
        listener.close()
