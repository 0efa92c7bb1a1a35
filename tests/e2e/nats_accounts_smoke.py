"""Checks the local stack's NATS server at the protocol level (standard library only):
an anonymous client and a wrong password are refused, a service's user is admitted
and may use JetStream through its own inbox, but may not publish another service's
facts nor listen to the replies of another.

Environment (from .local/stack.env): CEP_NATS_URL, CEP_BENEFICIARIES__NATS__USER,
CEP_BENEFICIARIES__NATS__PASSWORD.
"""

import json
import os
import socket
import sys
from urllib.parse import urlparse

checks = 0


def check(condition, what):
    global checks
    if not condition:
        sys.exit(f"FAIL: {what}")
    checks += 1
    print(f"  ok  {what}")


class Nats:
    """One NATS protocol connection, in verbose mode (+OK or -ERR after each op)."""

    def __init__(self, url):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port or 4222), timeout=5)
        self.buf = b""
        line = self.line()
        if not line.startswith("INFO "):
            sys.exit(f"FAIL: expected INFO from nats-server, got {line!r}")
        self.info = json.loads(line[5:])

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                return "<closed>"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def send(self, op):
        self.sock.sendall(op.encode() + b"\r\n")
        return self.line()

    def connect(self, **credentials):
        options = {"verbose": True, "pedantic": False, "lang": "python", "version": "smoke",
                   "protocol": 1, **credentials}
        return self.send("CONNECT " + json.dumps(options))

    def close(self):
        self.sock.close()


def main():
    url = os.environ.get("CEP_NATS_URL", "nats://127.0.0.1:4222")
    user = os.environ["CEP_BENEFICIARIES__NATS__USER"]
    password = os.environ["CEP_BENEFICIARIES__NATS__PASSWORD"]

    anonymous = Nats(url)
    check(anonymous.info.get("auth_required") is True, "the server requires authentication")
    reply = anonymous.connect()
    check(reply == "-ERR 'Authorization Violation'", f"an anonymous client is refused ({reply})")
    anonymous.close()

    impostor = Nats(url)
    reply = impostor.connect(user=user, **{"pass": password + "x"})
    check(reply == "-ERR 'Authorization Violation'", f"a wrong password is refused ({reply})")
    impostor.close()

    service = Nats(url)
    reply = service.connect(user=user, **{"pass": password})
    check(reply == "+OK", f"{user} is admitted with its password ({reply})")
    # nothing is published on the service's own subjects: the stream keeps real facts only
    reply = service.send("PUB cep.journeys.smoke-test 0\r\n")
    check("Permissions Violation for Publish" in reply, f"{user} may not publish cep.journeys.* ({reply})")
    reply = service.send("SUB _INBOX.> 1")
    check("Permissions Violation for Subscription" in reply, f"{user} may not listen to every inbox ({reply})")
    reply = service.send(f"SUB _INBOX_{user}.> 2")
    check(reply == "+OK", f"{user} may listen to its own inbox ({reply})")
    reply = service.send(f"PUB $JS.API.INFO _INBOX_{user}.smoke 0\r\n")
    check(reply == "+OK", f"{user} may ask JetStream for its account ({reply})")
    reply = service.line()
    check(reply.startswith(f"MSG _INBOX_{user}.smoke 2 "), f"JetStream answers in {user}'s inbox ({reply})")
    answer = json.loads(service.line())
    check(answer.get("type") == "io.nats.jetstream.api.v1.account_info_response" and "error" not in answer,
          f"JetStream is enabled for {user} ({answer.get('type')})")
    check(service.send("PING") == "PONG", f"{user} is still connected")
    service.close()
    print(f"nats accounts smoke test: {checks} checks passed")


if __name__ == "__main__":
    main()
