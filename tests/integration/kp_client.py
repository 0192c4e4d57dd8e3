#!/usr/bin/env python3
"""The client side of the kube-proxy tests, run inside the client
namespace.
  names HOST PORT N        N TCP connections; prints each greeting, one per line
  refused HOST PORT        exit 0 if the connection is refused within 2 s
  udp HOST PORT N SPORT    N datagrams from source port SPORT; prints the answers
  hold HOST PORT SECONDS   one connection kept open, a line echoed every 0.2 s;
                           exit 0 if every echo came back"""
import socket, sys, time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def greet():
    c = socket.create_connection((host, port), timeout=3)
    f = c.makefile("rb")
    return c, f, f.readline().decode().strip()

if mode == "names":
    for _ in range(int(sys.argv[4])):
        c, f, name = greet()
        print(name)
        c.close()
elif mode == "refused":
    t = time.time()
    try:
        socket.create_connection((host, port), timeout=2).close()
        sys.exit("connected")
    except ConnectionRefusedError:
        sys.exit(0 if time.time() - t < 1.5 else "refused, but slowly")
    except OSError as e:
        sys.exit("not refused: %s" % e)
elif mode == "udp":
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind(("0.0.0.0", int(sys.argv[5])))
    u.settimeout(2)
    for _ in range(int(sys.argv[4])):
        u.sendto(b"hi", (host, port))
        try:
            print(u.recvfrom(2048)[0].decode())
        except socket.timeout:
            print("timeout")
elif mode == "hold":
    c, f, name = greet()
    print(name, flush=True)
    end = time.time() + float(sys.argv[4])
    i = 0
    while time.time() < end:
        msg = ("ping %d\n" % i).encode()
        c.sendall(msg)
        if f.readline() != msg:
            sys.exit("echo lost after %d" % i)
        i += 1
        time.sleep(0.2)
    print("held %d" % i)
