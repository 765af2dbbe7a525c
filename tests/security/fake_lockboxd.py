"""A misbehaving stand-in for lockboxd's login socket (SOCK_SEQPACKET, one JSON message each
way), for the PAM module's failure tests.

  python3 fake_lockboxd.py MODE SOCKET LOG [OPTIONS_JSON]

MODE: silent      accept and read the request, never answer (the connection stays open)
      slow        answer a valid reply after `delay` seconds
      close       read the request, then close without an answer
      reply       answer with `body` (a string sent as is, one message) — malformed replies
      huge        answer with one message of `size` bytes (default 1 MiB)
Every request message is appended to LOG as one JSON line ({"message": text}).
The socket is mode 0600 and listened on by this process (root): the module's peer check passes.
"""

import json
import os
import socket
import sys
import threading
import time

MODE, PATH, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
OPTIONS = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
_lock = threading.Lock()
_held = []  # silent mode keeps its connections open

VALID = '{"status":200,"allowed":true,"request":null}'


def log_request(data):
    with _lock, open(LOG, "a") as f:
        f.write(json.dumps({"message": data.decode("utf-8", "replace")}) + "\n")


def serve(conn):
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            log_request(data)
            if MODE == "silent":
                _held.append(conn)
                return
            if MODE == "close":
                return
            if MODE == "slow":
                time.sleep(OPTIONS.get("delay", 30))
                conn.send(VALID.encode())
            elif MODE == "reply":
                conn.send(OPTIONS.get("body", VALID).encode())
            elif MODE == "huge":
                conn.send(b"{" + b" " * (OPTIONS.get("size", 1 << 20) - 2) + b"}")
    except OSError:
        pass  # the client gave up: that is what these modes provoke
    finally:
        if MODE != "silent":
            conn.close()


def main():
    if os.path.exists(PATH):
        os.unlink(PATH)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    srv.bind(PATH)
    os.chmod(PATH, 0o600)
    srv.listen(64)
    open(PATH + ".ready", "w").close()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
