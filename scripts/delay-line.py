#!/usr/bin/env python3
"""A delay line between two TAP devices, and the probes that measure it.

The kernel of the machines this project benchmarks on has no netem queueing
discipline, so the latency benchmark delays frames in user space: each zone's
bridge reaches the router through a pair of TAP devices, and this process
forwards every Ethernet frame from one to the other after holding it for a
set time (first in, first out, in both directions).

  delay-line.py line TAP_A TAP_B      forward between two new TAP devices;
                                      commands on stdin, one per line:
                                        hold MS   hold every frame MS ms from now on
                                        stats     print one JSON line and start counting again
                                      exits when stdin closes, and the TAPs go with it
  delay-line.py connect IP PORT N     N TCP connect times to IP:PORT, as a JSON list of ms
  delay-line.py sink PORT             accept connections one after another, read each to its end
  delay-line.py blast IP PORT SECONDS send as fast as possible; prints {"bytes", "seconds"}
  delay-line.py release-times         the release rule on JSON rows from stdin (for the tests)

Node cannot create a TAP device (TUNSETIFF is an ioctl), Python's fcntl can.
"""
import ctypes
import errno
import fcntl
import json
import os
import select
import socket
import struct
import sys
import time
from collections import deque

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
PR_SET_TIMERSLACK = 29
FRAME_MAX = 65536


def release_time(arrival_ns, hold_ns, previous_release_ns):
    """When a frame leaves: its arrival plus the hold, but never before the frame ahead of it (FIFO)."""
    return max(arrival_ns + hold_ns, previous_release_ns)


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(p / 100.0 * len(sorted_values)))]


class Direction:
    """Frames read from one TAP waiting to be written to the other."""

    def __init__(self, source, sink):
        self.source, self.sink = source, sink
        self.queue = deque()
        self.last_release = 0
        self.reset()

    def reset(self):
        self.frames = 0
        self.bytes = 0
        self.dropped = 0
        self.late_ns = []

    def read_all(self, hold_ns):
        while True:
            try:
                frame = os.read(self.source, FRAME_MAX)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EBADFD, errno.EIO):
                    # The device went away (its namespace was deleted): nothing left to forward.
                    raise SystemExit(0)
                raise
            now = time.monotonic_ns()
            self.last_release = release_time(now, hold_ns, self.last_release)
            self.queue.append((self.last_release, frame))

    def release_due(self, now):
        while self.queue and self.queue[0][0] <= now:
            due, frame = self.queue.popleft()
            try:
                os.write(self.sink, frame)
                self.frames += 1
                self.bytes += len(frame)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EIO):
                    raise
                self.dropped += 1
            # Lateness: how long after its due time the frame really left (the line's own jitter).
            if len(self.late_ns) < 200000:
                self.late_ns.append(time.monotonic_ns() - due)

    def next_due(self):
        return self.queue[0][0] if self.queue else None


def line(tap_a, tap_b):
    try:
        # Timers fire within 1 ns of their due time instead of the default 50 us slack.
        ctypes.CDLL(None).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except Exception:
        pass
    try:
        # Real-time priority: on a busy machine the line must not wait for a core behind the members it
        # delays. It blocks in select between frames, and the kernel's RT throttling bounds it anyway.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        realtime = True
    except (AttributeError, PermissionError, OSError):
        realtime = False
    fa, fb = open_tap(tap_a), open_tap(tap_b)
    directions = [Direction(fa, fb), Direction(fb, fa)]
    by_source = {fa: directions[0], fb: directions[1]}
    stdin = sys.stdin.fileno()
    hold_ns = 0
    started = time.monotonic()
    print(json.dumps({"ready": [tap_a, tap_b], "realtime": realtime}), flush=True)
    pending = b""
    while True:
        dues = [d.next_due() for d in directions if d.next_due() is not None]
        timeout = None
        if dues:
            timeout = max(0.0, (min(dues) - time.monotonic_ns()) / 1e9)
        readable, _, _ = select.select([fa, fb, stdin], [], [], timeout)
        for fd in readable:
            if fd == stdin:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    command, pending = pending.split(b"\n", 1)
                    words = command.decode().split()
                    if words[:1] == ["hold"]:
                        hold_ns = int(float(words[1]) * 1e6)
                        print(json.dumps({"hold_ms": hold_ns / 1e6}), flush=True)
                    elif words[:1] == ["stats"]:
                        late = sorted(x for d in directions for x in d.late_ns)
                        elapsed = time.monotonic() - started
                        print(json.dumps({
                            "hold_ms": hold_ns / 1e6,
                            "realtime": realtime,
                            "seconds": elapsed,
                            "frames": sum(d.frames for d in directions),
                            "bytes": sum(d.bytes for d in directions),
                            "dropped": sum(d.dropped for d in directions),
                            "late_p50_us": percentile(late, 50) / 1e3,
                            "late_p99_us": percentile(late, 99) / 1e3,
                            "late_max_us": (late[-1] if late else 0) / 1e3,
                        }), flush=True)
                        for d in directions:
                            d.reset()
                        started = time.monotonic()
            else:
                by_source[fd].read_all(hold_ns)
        now = time.monotonic_ns()
        for d in directions:
            d.release_due(now)


def connect_times(ip, port, count):
    times = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        started = time.perf_counter()
        s.connect((ip, port))
        times.append((time.perf_counter() - started) * 1e3)
        s.close()
        time.sleep(0.01)
    print(json.dumps(times), flush=True)


def sink(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(64)
    print(json.dumps({"listening": port}), flush=True)
    while True:
        conn, _ = server.accept()
        while conn.recv(1 << 20):
            pass
        conn.close()


def blast(ip, port, seconds):
    s = socket.create_connection((ip, port), timeout=10)
    block = b"\0" * (1 << 16)
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        sent += s.send(block)
    s.shutdown(socket.SHUT_WR)
    print(json.dumps({"bytes": sent, "seconds": time.perf_counter() - started}), flush=True)


def release_times():
    """Rows of [arrival_ns, hold_ns] in arrival order on stdin; prints the release time of each."""
    previous = 0
    out = []
    for arrival, hold in json.load(sys.stdin):
        previous = release_time(arrival, hold, previous)
        out.append(previous)
    print(json.dumps(out))


def main(argv):
    if argv[:1] == ["line"] and len(argv) == 3:
        return line(argv[1], argv[2])
    if argv[:1] == ["connect"] and len(argv) == 4:
        return connect_times(argv[1], int(argv[2]), int(argv[3]))
    if argv[:1] == ["sink"] and len(argv) == 2:
        return sink(int(argv[1]))
    if argv[:1] == ["blast"] and len(argv) == 4:
        return blast(argv[1], int(argv[2]), float(argv[3]))
    if argv == ["release-times"]:
        return release_times()
    sys.stderr.write(__doc__)
    sys.exit(2)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
