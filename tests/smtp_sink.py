"""A real SMTP server for tests (the smallest that Django's SMTP backend talks to), and a black hole
that accepts connections and never answers (an SMTP server that hangs)."""

import socket
import threading


class SmtpSink:
    """Accepts every mail on 127.0.0.1:`port` and keeps the raw messages in `messages`."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.messages: list[dict] = []
        self._stopped = threading.Event()

    def start(self) -> "SmtpSink":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")

        def reply(line: str) -> None:
            conn.sendall(line.encode() + b"\r\n")

        sender, recipients = "", list[str]()
        with conn, reader:
            reply("220 sink ESMTP")
            for raw in reader:
                command = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    reply("250 sink")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(), []
                    reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    reply("250 OK")
                elif verb == "DATA":
                    reply("354 end with .")
                    lines = []
                    for data in reader:
                        if data in (b".\r\n", b".\n"):
                            break
                        lines.append(data[1:] if data.startswith(b"..") else data)
                    self.messages.append({"from": sender, "to": recipients, "data": b"".join(lines).decode()})
                    reply("250 queued")
                elif verb == "QUIT":
                    reply("221 bye")
                    return
                else:  # RSET, NOOP, ...
                    reply("250 OK")


class BlackHole:
    """Listens on 127.0.0.1:`port`, accepts, and never says a word (until closed)."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()
