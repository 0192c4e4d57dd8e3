"""Drives a command through a pseudo-terminal of a given size, as a person
at a terminal would: waits for a prompt, types lines, collects the screen
output and the exit status.

  stream_tty.py ROWS COLS LINE1 [LINE2...] -- COMMAND...
Each LINE is typed (with a carriage return) after the output has been quiet
for a moment; the output and then "EXIT <status>" are printed."""
import fcntl, os, pty, select, struct, sys, termios, time

sep = sys.argv.index("--")
rows, cols = int(sys.argv[1]), int(sys.argv[2])
lines, cmd = sys.argv[3:sep], sys.argv[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
out = b""

def pump(quiet, limit):
    """Reads until the output has been quiet for `quiet` s (bounded)."""
    global out
    end, last = time.time() + limit, time.time()
    while time.time() < end and time.time() - last < quiet:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            d = os.read(fd, 4096)
        except OSError:
            return False
        if not d:
            return False
        out += d
        last = time.time()
    return True

pump(1.0, 15)
for line in lines:
    os.write(fd, line.encode() + b"\r")
    if not pump(0.7, 15):
        break
pump(0.5, 15)
deadline = time.time() + 20
while time.time() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    pump(0.1, 1)
else:
    os.kill(pid, 9)
    done, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("\nEXIT %d" % (os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)))
