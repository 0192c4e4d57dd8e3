"""Loopback helpers for the streaming tests.
  stream_echo.py serve PORTFILE      a TCP server on 127.0.0.1 that answers
                                     each connection with "echo:" + what it
                                     read until the client's half-close
  stream_echo.py ask PORT N BYTES    N connections, each sends BYTES bytes,
                                     half-closes and checks the echo; prints
                                     "ok N" or the first mismatch"""
import os, socket, sys

if sys.argv[1] == "serve":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, sys.argv[2])
    while True:
        c, _ = s.accept()
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
        c.sendall(b"echo:" + data)
        c.close()
else:
    port, n, size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for i in range(n):
        payload = bytes((i + k) % 251 for k in range(size))
        c = socket.create_connection(("127.0.0.1", port), timeout=20)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
        c.close()
        if got != b"echo:" + payload:
            print("mismatch on connection %d: %d bytes back, want %d" % (i, len(got), size + 5))
            sys.exit(1)
    print("ok %d" % n)
