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

KINDS = {1: "HELLO", 2: "CALL", 3: "MESSAGE", 4: "END", 5: "CANCEL", 6: "WINDOW"}


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


path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if os.path.exists(path):
    os.unlink(path)
srv.bind(path)
srv.listen(1)
srv.settimeout(20)
conn, _ = srv.accept()
hello = field(2, 1) + field(8, field(1, 1) + field(2, 1) + field(3, b"napd") + field(4, b"0.2.0-old"))
conn.sendall(struct.pack(">I", len(hello)) + hello)
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
