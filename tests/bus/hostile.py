#!/usr/bin/env python3
"""Hostile clients of the nap bus, for tests/bus/test-*.sh (standard library only).

    hostile.py SOCK fd-flood N SECONDS      hold N connections open, report how they ended
    hostile.py SOCK partial N SECONDS       N connections each send all but 1 byte of a
                                            4 MiB frame, then wait (at most SECONDS)
    hostile.py SOCK no-read MIB             send MIB Pings of 1 MiB without reading, then read
    hostile.py SOCK bad-utf8                a CALL whose service name is not UTF-8
    hostile.py SOCK stream-deadline RUNS MS  RUNS streams past a deadline of MS ms, no local
                                            deadline: count the END statuses and messages
    hostile.py SOCK end0 MESSAGE            HELLO, then END call id 0 with MESSAGE

Each prints one line of key=value results; the shell tests check them.
"""
import collections
import socket
import struct
import sys
import time

HELLO, CALL, MESSAGE, END, CANCEL = 1, 2, 3, 4, 5


def varint(n):
    out = b""
    while n >= 0x80:
        out, n = out + bytes([n & 0x7F | 0x80]), n >> 7
    return out + bytes([n])


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    return varint(num << 3 | 2) + varint(len(value)) + value


def read_varint(buf, i):
    n = shift = 0
    while buf[i] & 0x80:
        n, shift, i = n | (buf[i] & 0x7F) << shift, shift + 7, i + 1
    return n | buf[i] << shift, i + 1


def parse(buf):
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        val, i = read_varint(buf, i)
        if key & 7 == 2:
            val, i = buf[i:i + val], i + val
        fields[key >> 3] = val
    return fields


def frame(body):
    return struct.pack(">I", len(body)) + body


def hello(name=b"hostile"):
    return frame(field(2, HELLO) + field(8, field(1, 1) + field(3, name)))


def call(call_id, service, method, payload=b"", timeout_ms=0):
    body = field(1, call_id) + field(2, CALL) + field(3, service)
    if method:
        body += field(4, method)
    if timeout_ms:
        body += field(5, timeout_ms)
    if payload:
        body += field(8, payload)
    return frame(body)


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def frames(sock, limit_s=10):
    """Yields napd's frames as dicts until EOF or limit_s."""
    buf, end = b"", time.monotonic() + limit_s
    while time.monotonic() < end:
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            yield parse(buf[4:4 + n])
            buf = buf[4 + n:]
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            return
        if not chunk:
            return
        buf += chunk


def conn_end(sock, limit_s=10):
    """The END call id 0 napd sent (status, message bytes), or (None, b'') at EOF."""
    for f in frames(sock, limit_s):
        if f.get(2) == END and f.get(1, 0) == 0:
            return f.get(6, 0), f.get(7, b"")
    return None, b""


def fd_flood(path, n, seconds):
    socks, failed = [], 0
    for _ in range(n):
        try:
            socks.append(connect(path))
            socks[-1].sendall(hello())
        except OSError:
            failed += 1
    ended = collections.Counter()
    time.sleep(seconds)
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1 << 16)
        except BlockingIOError:
            data = None
        if data is None:
            ended["open"] += 1
            continue
        st = None
        buf = data
        while len(buf) >= 4:
            m = struct.unpack(">I", buf[:4])[0]
            f = parse(buf[4:4 + m])
            buf = buf[4 + m:]
            if f.get(2) == END and f.get(1, 0) == 0:
                st = f.get(6, 0)
        ended["end%d" % st if st is not None else "hello-only"] += 1
    for s in socks:
        s.close()
    print("connected=%d failed=%d %s" % (len(socks), failed,
                                         " ".join("%s=%d" % kv for kv in sorted(ended.items()))))


def partial(path, n, seconds):
    socks = []
    body = 4 * 1024 * 1024
    for _ in range(n):
        s = connect(path)
        s.sendall(hello())
        s.sendall(struct.pack(">I", body))
        socks.append(s)
    sent = 0
    for s in socks:
        try:
            s.sendall(b"\x00" * (body - 1))
            sent += 1
        except OSError:
            pass
    print("sent=%d" % sent, flush=True)
    start = time.monotonic()
    statuses, late = collections.Counter(), 0.0
    for s in socks:
        st, msg = conn_end(s, max(0.1, seconds - (time.monotonic() - start)))
        statuses["end%s" % st] += 1
        if st is not None:
            late = max(late, time.monotonic() - start)
            statuses[msg.decode("utf-8", "replace").split(":")[0][:30].replace(" ", "_")] += 1
        s.close()
    print("after_s=%.1f %s" % (late, " ".join("%s=%d" % kv for kv in sorted(statuses.items()))))


def no_read(path, mib):
    s = connect(path)
    s.sendall(hello())
    payload = field(1, b"x" * (1 << 20))  # PingRequest{payload: 1 MiB}
    sent = 0
    s.settimeout(5)
    try:
        for i in range(mib):
            s.sendall(call(i + 1, b"nap.Control", 0, payload))
            sent += 1
    except OSError:
        pass
    time.sleep(1)
    replies, st, msg = 0, None, b""
    for f in frames(s, 20):
        if f.get(2) == END and f.get(1, 0) == 0:
            st, msg = f.get(6, 0), f.get(7, b"")
            break
        if f.get(2) == END:
            replies += 1
    print("sent=%d replies=%d end0=%s message=%s" %
          (sent, replies, st, msg.decode("utf-8", "replace").replace(" ", "_")))


def bad_utf8(path):
    s = connect(path)
    s.sendall(hello() + call(1, b"nap.\xff\xfeEvil", 0))
    out = []
    for f in frames(s, 5):
        st, msg = f.get(6, 0), f.get(7, b"")
        try:
            msg.decode("utf-8")
            ok = "utf8"
        except UnicodeDecodeError:
            ok = "NOT-UTF8"
        out.append("id%d:kind%d:status%d:%s" % (f.get(1, 0), f.get(2, 0), st, ok))
    print(" ".join(out))


def stream_deadline(path, runs, ms):
    s = connect(path)
    s.sendall(hello())
    # EchoStream{payload "x", count 1000, interval 5 ms}: runs past the deadline.
    req = field(1, b"x") + field(2, 1000) + field(3, 5)
    for i in range(runs):
        s.sendall(call(i + 1, b"nap.Echo", 1, req, ms))
    results = collections.Counter()
    done = 0
    for f in frames(s, 10 + runs * ms / 1000):
        if f.get(2) == END:
            st = f.get(6, 0)
            msg = f.get(7, b"").decode("utf-8", "replace")
            results["status%d" % st] += 1
            results["msg:" + msg.replace(" ", "_")] += 1
            done += 1
            if done == runs:
                break
    print(" ".join("%s=%d" % kv for kv in sorted(results.items())))


def end0(path, message):
    s = connect(path)
    s.sendall(hello() + frame(field(2, END) + field(6, 10) + field(7, message.encode())))
    time.sleep(0.5)
    s.close()
    print("sent")


def main():
    path, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if what == "fd-flood":
        fd_flood(path, int(args[0]), float(args[1]))
    elif what == "partial":
        partial(path, int(args[0]), float(args[1]))
    elif what == "no-read":
        no_read(path, int(args[0]))
    elif what == "bad-utf8":
        bad_utf8(path)
    elif what == "stream-deadline":
        stream_deadline(path, int(args[0]), int(args[1]))
    elif what == "end0":
        end0(path, args[0])
    else:
        sys.exit("unknown: " + what)


if __name__ == "__main__":
    main()
