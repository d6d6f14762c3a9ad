#!/usr/bin/env python3
"""A napd that speaks protocol 1.1, for test-upload.sh: it listens on SOCKET,
takes one connection, says HELLO as 1.1 ("napd", minor 1), answers nothing,
and writes the frames it received to OUT, one line each: the kind's name,
with " from_caller" when field 10 is set. Standard library only.

Usage: old-peer.py SOCKET OUT"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import field, frame, parse  # noqa: E402: the encoding helpers, shared

KINDS = {1: "HELLO", 2: "CALL", 3: "MESSAGE", 4: "END", 5: "CANCEL", 6: "WINDOW"}


path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if os.path.exists(path):
    os.unlink(path)
srv.bind(path)
srv.listen(1)
srv.settimeout(20)
conn, _ = srv.accept()
hello = field(2, 1) + field(8, field(1, 1) + field(2, 1) + field(3, b"napd") + field(4, b"0.2.0-old"))
conn.sendall(frame(hello))
conn.settimeout(5)
buf, seen = b"", []
try:
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            f, buf = parse(buf[4:4 + n]), buf[4 + n:]
            seen.append(KINDS.get(f.get(2, 0), "KIND%d" % f.get(2, 0)) + (" from_caller" if f.get(10) else ""))
except socket.timeout:
    seen.append("TIMEOUT")
with open(out, "w") as fh:
    fh.write("\n".join(seen) + "\n")
