"""A misbehaving stand-in for lockboxd on a Unix socket, for the PAM module's failure tests.

  python3 fake_lockboxd.py MODE SOCKET LOG [OPTIONS_JSON]

MODE: silent      accept and read the request, never answer (the connection stays open)
      slow        answer a valid reply one byte every `interval` seconds
      close_mid   send the status line, headers and half the body, then close
      close_head  send half a status line and headers, then close
      reply       answer `status` with `body` (a string sent as is) — malformed replies
      endless     announce a huge body and stream it until the client gives up
Every request (method, path, headers, body) is appended to LOG as one JSON line.
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


def log_request(head, body):
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    entry = {"method": method, "path": rest.rsplit(" ", 1)[0], "headers": lines[1:],
             "body": body.decode("utf-8", "replace")}
    with _lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    log_request(head, body)
    return head


def response(status, body):
    reason = {200: "OK", 201: "Created", 302: "Found"}.get(status, "Status")
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        status, reason, len(body))
    for extra in OPTIONS.get("headers", []):
        head += extra + "\r\n"
    return head.encode() + b"\r\n" + body


def serve(conn):
    try:
        if read_request(conn) is None:
            return
        if MODE == "silent":
            _held.append(conn)
            return
        body = OPTIONS.get("body", '{"allowed":true,"request":null}').encode()
        full = response(OPTIONS.get("status", 200), body)
        if MODE == "slow":
            for i in range(len(full)):
                conn.sendall(full[i:i + 1])
                time.sleep(OPTIONS.get("interval", 1.0))
        elif MODE == "close_mid":
            conn.sendall(full[:len(full) - len(body) // 2])
        elif MODE == "close_head":
            conn.sendall(full[:len(full.split(b"\r\n\r\n")[0]) // 2])
        elif MODE == "reply":
            conn.sendall(full)
        elif MODE == "endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000000000\r\n\r\n{\"allowed\":true,\"pad\":\"")
            chunk = b"a" * 65536
            while True:
                conn.sendall(chunk)
    except OSError:
        pass  # the client gave up: that is what these modes provoke
    if MODE != "silent":
        conn.close()


def main():
    if os.path.exists(PATH):
        os.unlink(PATH)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(PATH)
    os.chmod(PATH, 0o666)
    srv.listen(64)
    open(PATH + ".ready", "w").close()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
