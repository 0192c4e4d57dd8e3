#!/usr/bin/env python3
"""A backend for the kube-proxy tests, run inside its own network
namespace: on TCP PORT it greets every connection with NAME and then
echoes lines; on UDP PORT it answers every datagram with NAME. Stops by
itself after LIFETIME seconds."""
import socket, sys, threading, time

name, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def tcp():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def serve(c):
    try:
        c.sendall((name + "\n").encode())
        f = c.makefile("rb")
        for line in f:
            c.sendall(line)
    except OSError:
        pass
    finally:
        c.close()

def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", port))
    while True:
        _, addr = u.recvfrom(2048)
        u.sendto(name.encode(), addr)

threading.Thread(target=tcp, daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
time.sleep(lifetime)
