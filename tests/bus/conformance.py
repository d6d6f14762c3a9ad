#!/usr/bin/env python3
"""Conformance of napd to docs/protocol.md, written from the page, in Python.

Usage: conformance.py DESCRIPTOR_SET DOC
  DESCRIPTOR_SET  the .proto files compiled by `protoc-c -o` (FileDescriptorSet)
  DOC             docs/protocol.md (section 15's client is run from it)
Environment: NAP_SOCKET (napd's socket; napd runs the echo plugin and has
socket_mode 0666), NAPD_LOG (napd's log, for what the page says napd logs).

Every frame napd sends is decoded with python3-protobuf, which refuses a
string that is not UTF-8, so any such frame fails the test. Prints TAP.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import time

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SOCK = os.environ["NAP_SOCKET"]
LOG = os.environ.get("NAPD_LOG", "")
_pool = descriptor_pool.DescriptorPool()
for _f in descriptor_pb2.FileDescriptorSet.FromString(open(sys.argv[1], "rb").read()).file:
    _pool.Add(_f)
_factory = message_factory.MessageFactory(_pool)


def msg(name):
    return _factory.GetPrototype(_pool.FindMessageTypeByName(name))


Frame, Hello = msg("nap.bus.Frame"), msg("nap.bus.Hello")
PingRequest, PingReply = msg("nap.PingRequest"), msg("nap.PingReply")
ListPluginsReply, AppRequest = msg("nap.ListPluginsReply"), msg("nap.AppRequest")
EchoMessage, EchoStreamRequest = msg("nap.EchoMessage"), msg("nap.EchoStreamRequest")
SumChunk, SumReply = msg("nap.SumChunk"), msg("nap.SumReply")
HELLO, CALL, MESSAGE, END, CANCEL, WINDOW = 1, 2, 3, 4, 5, 6
OK, CANCELLED, INVALID_ARGUMENT, DEADLINE_EXCEEDED = 0, 1, 3, 4
PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION = 7, 8, 9
UNIMPLEMENTED = 12
FRAME_MAX, MESSAGE_MAX, NAME_MAX = 4 * 1024 * 1024, 4096, 255
STREAM_WINDOW = 256 * 1024  # NAP_STREAM_WINDOW (1.2)

count = failed = 0
BAD = []  # frames from napd that a conforming decoder refused


def ok(cond, what, detail=""):
    global count, failed
    count += 1
    if cond:
        print("ok %d - %s" % (count, what))
    else:
        failed += 1
        print("not ok %d - %s" % (count, what))
        if detail:
            print("#   " + str(detail).replace("\n", "\n#   "))
    sys.stdout.flush()
    return cond


def prefix(body):
    return struct.pack(">I", len(body)) + body


def hello_frame(major=1, minor=1, name="conformance", **extra):
    h = Hello(protocol_major=major, protocol_minor=minor, peer_name=name, **extra)
    return prefix(Frame(kind=HELLO, payload=h.SerializeToString()).SerializeToString())


def call_frame(call_id, service, method, request=b"", timeout_ms=0):
    if not isinstance(request, bytes):
        request = request.SerializeToString()
    return prefix(Frame(call_id=call_id, kind=CALL, service=service, method=method,
                        timeout_ms=timeout_ms, payload=request).SerializeToString())


class Conn:
    """One connection; frames are read with their arrival time."""

    def __init__(self, hello=True, minor=1):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(SOCK)
        self.buf = b""
        self.eof = False
        if hello:
            self.send(hello_frame(minor=minor))

    def send(self, data):
        self.s.sendall(data)

    def frame(self, timeout=5.0):
        """The next frame as a Frame, or None at EOF / timeout."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    try:
                        return Frame.FromString(body)
                    except Exception as e:  # noqa: BLE001: any decode error fails
                        BAD.append("%r: %r" % (e, body[:200]))
                        return Frame(kind=0)
            left = end - time.monotonic()
            if self.eof or left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buf += chunk

    def until(self, pred, timeout=5.0):
        """Frames up to the first for which pred is true (that one last)."""
        out, end = [], time.monotonic() + timeout
        while True:
            f = self.frame(max(0.01, end - time.monotonic()))
            if f is None:
                return out, None
            out.append(f)
            if pred(f):
                return out, f

    def end_of(self, call_id, timeout=5.0):
        return self.until(lambda f: f.kind == END and f.call_id in (call_id, 0), timeout)

    def conn_end(self, timeout=5.0):
        """napd's END call id 0, after which napd must close (EOF)."""
        _, f = self.until(lambda f: f.kind == END and f.call_id == 0, timeout)
        rest = self.frame(2.0)
        return f, rest is None and self.eof

    def close(self):
        self.s.close()


def refused(data, status, text, what, hello=True, timeout=5.0):
    """Sends data; napd answers END 0 with status and a message containing text, then EOF."""
    c = Conn(hello)
    c.send(data)
    f, closed = c.conn_end(timeout)
    good = f is not None and f.status == status and text in f.message
    ok(good and closed, what, "got %s, closed=%s" % (f, closed))
    c.close()
    return f


def ping(c, call_id, payload=b"hi"):
    c.send(call_frame(call_id, "nap.Control", 0, PingRequest(payload=payload), 5000))
    _, f = c.end_of(call_id)
    return f


def log_has(pattern, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if LOG and re.search(pattern, open(LOG, errors="replace").read()):
            return True
        time.sleep(0.05)
    return False


def s1_transport():
    c = Conn()
    # Full duplex: HELLO and three CALLs in one write, answered on one connection.
    c.send(b"".join(call_frame(i, "nap.Control", 0, PingRequest(payload=b"%d" % i)) for i in (1, 2, 3)))
    got = {}
    for _ in range(3):
        _, f = c.until(lambda f: f.kind == END)
        if f is not None:
            got[f.call_id] = PingReply.FromString(f.payload).payload
    ok(got == {1: b"1", 2: b"2", 3: b"3"}, "s1: several calls in flight on one connection, sent before napd's HELLO was read", got)
    c.close()


def s2_framing():
    refused(struct.pack(">I", FRAME_MAX + 1), INVALID_ARGUMENT,
            "malformed frame: frame of %d bytes is over the limit of %d" % (FRAME_MAX + 1, FRAME_MAX),
            "s2: a length over NAP_FRAME_MAX: END 0 INVALID_ARGUMENT without waiting for the body")
    refused(prefix(b"\xff\xff\xff"), INVALID_ARGUMENT, "is not a nap.bus.Frame",
            "s2: a body that is not a Frame: END 0 INVALID_ARGUMENT")
    refused(struct.pack(">I", 0), INVALID_ARGUMENT, "malformed frame",
            "s2: a length of 0 is an empty Frame, KIND_UNSPECIFIED: a protocol error")
    refused(prefix(Frame(kind=4, status=17).SerializeToString()), INVALID_ARGUMENT, "unknown status 17",
            "s2: a status outside 0..16: END 0 INVALID_ARGUMENT")
    refused(prefix(Frame(kind=4, message="x" * (MESSAGE_MAX + 1)).SerializeToString()),
            INVALID_ARGUMENT, "malformed frame", "s2: a message over NAP_MESSAGE_MAX: malformed")
    # A conforming encoder cannot make this frame: it is built by hand.
    body = b"\x08\x01\x10\x02\x1a\x06nap.\xff\xfe"
    refused(prefix(body), INVALID_ARGUMENT,
            "malformed frame: service (field 3) is not UTF-8",
            "s2: a CALL whose service is not UTF-8: malformed, and napd's answer is UTF-8")
    # A frame that stops arriving: END 0 DEADLINE_EXCEEDED after NAP_FRAME_TIMEOUT_MS.
    c = Conn()
    c.send(struct.pack(">I", 100) + b"\x08")
    t0 = time.monotonic()
    f, closed = c.conn_end(15)
    took = time.monotonic() - t0
    ok(f is not None and f.status == DEADLINE_EXCEEDED and "NAP_FRAME_TIMEOUT_MS" in f.message
       and 9.0 <= took <= 13.0 and closed,
       "s2: a frame not whole after NAP_FRAME_TIMEOUT_MS (10 s): END 0 DEADLINE_EXCEEDED (%.1f s)" % took, f)
    c.close()
    # EOF in the middle of a frame: napd drops the connection and goes on.
    c = Conn()
    c.send(struct.pack(">I", 50) + b"\x08\x01")
    c.close()
    c = Conn()
    ok(ping(c, 1) is not None, "s2: EOF in the middle of a frame affects no other connection")
    c.close()


def s3_hello():
    c = Conn(hello=False)
    f = c.frame()
    h = Hello.FromString(f.payload) if f is not None and f.kind == HELLO else None
    ok(h is not None and h.protocol_major == 1 and h.peer_name == "napd" and h.peer_version,
       "s3: napd's first frame is its HELLO, before it reads anything: major 1, peer_name napd", f)
    c.close()
    refused(call_frame(1, "nap.Control", 0), FAILED_PRECONDITION,
            "the first frame on a nap connection must be a HELLO",
            "s3: a CALL before the HELLO: END 0 FAILED_PRECONDITION", hello=False)
    refused(prefix(Frame(call_id=1, kind=CANCEL).SerializeToString()), FAILED_PRECONDITION,
            "must be a HELLO", "s3: a CANCEL before the HELLO: END 0 FAILED_PRECONDITION", hello=False)
    refused(hello_frame(major=2, minor=0), FAILED_PRECONDITION,
            "peer speaks nap protocol 2.0, this side speaks 1.",
            "s3: protocol_major 2: END 0 FAILED_PRECONDITION naming both versions", hello=False)
    refused(prefix(Frame(kind=HELLO).SerializeToString()), FAILED_PRECONDITION,
            "peer speaks nap protocol 0.0", "s3: a HELLO without payload reads as 0.0 and is refused",
            hello=False)
    refused(prefix(Frame(kind=HELLO, payload=b"\xff\xff").SerializeToString()), INVALID_ARGUMENT,
            "not a nap.bus.Hello", "s3: a HELLO payload that is not a Hello: INVALID_ARGUMENT", hello=False)
    bad = b"\x08\x01\x1a\x02\xff\xfe"  # Hello{major 1, peer_name "\xff\xfe"}, built by hand
    refused(prefix(Frame(kind=HELLO, payload=bad).SerializeToString()), INVALID_ARGUMENT,
            "HELLO refused: nap.bus.Hello.peer_name is not UTF-8",
            "s3: a HELLO string that is not UTF-8: INVALID_ARGUMENT", hello=False)
    refused(hello_frame(), INVALID_ARGUMENT, "a second HELLO on one connection",
            "s3: a second HELLO: END 0 INVALID_ARGUMENT")
    c = Conn(hello=False)
    c.send(hello_frame(minor=99))
    ok(ping(c, 1) is not None, "s3/s11: a HELLO with another minor version (1.99) is accepted")
    c.close()
    # The order of checks (s3): an oversized length is refused even before the HELLO.
    refused(struct.pack(">I", FRAME_MAX + 1), INVALID_ARGUMENT, "over the limit",
            "s3: the frame's length is checked before the HELLO rule", hello=False)


def s4_kinds():
    for kind, name in ((CALL, "CALL"), (MESSAGE, "MESSAGE"), (CANCEL, "CANCEL")):
        extra = {"service": "nap.Control"} if kind == CALL else {}
        refused(prefix(Frame(kind=kind, **extra).SerializeToString()), INVALID_ARGUMENT,
                "without a call id", "s4: a %s without call_id: malformed" % name)
    refused(prefix(Frame(call_id=1, kind=CALL).SerializeToString()), INVALID_ARGUMENT,
            "CALL without a valid service name", "s4: a CALL without service: malformed")
    refused(call_frame(1, "n" * (NAME_MAX + 1), 0), INVALID_ARGUMENT,
            "CALL without a valid service name", "s4: a service over NAP_NAME_MAX: malformed")
    refused(prefix(Frame(call_id=1, kind=9).SerializeToString()), INVALID_ARGUMENT,
            "unknown frame kind 9", "s4: an unknown kind: malformed")
    # Unused fields are ignored (s2 and s4 agree).
    c = Conn()
    c.send(prefix(Frame(call_id=77, kind=CANCEL, service="x\u00e9", method=3, timeout_ms=9,
                        payload=b"junk").SerializeToString()))
    c.send(prefix(Frame(call_id=5, kind=MESSAGE, payload=b"stray").SerializeToString()))
    ok(ping(c, 1) is not None, "s4: fields a kind does not use are ignored; a MESSAGE for no call is ignored")
    c.close()


def s5_calls():
    c = Conn()
    f = ping(c, 1, b"hello")
    r = PingReply.FromString(f.payload) if f is not None and f.status == OK else None
    ok(r is not None and r.payload == b"hello" and r.protocol_major == 1,
       "s5: unary Ping: one END OK whose payload is a PingReply echoing the payload", f)
    c.send(call_frame(2, "nap.Control", 1))
    _, f = c.end_of(2)
    ok(f is not None and f.status == OK and any(p.name == "echo" for p in ListPluginsReply.FromString(f.payload).plugins),
       "s5: ListPlugins (method 1) with an empty payload lists the echo plugin", f)
    c.send(call_frame(3, "nap.Control", 99))
    _, f = c.end_of(3)
    ok(f is not None and f.status == UNIMPLEMENTED and f.message, "s5: a method index past the end: UNIMPLEMENTED, the connection stays", f)
    c.send(call_frame(4, "nap.Nothing", 0))
    _, f = c.end_of(4)
    ok(f is not None and f.status == UNIMPLEMENTED and "nap.Nothing" in f.message, "s5: an unknown service: UNIMPLEMENTED naming it", f)
    # Server streaming through napd to the plugin: MESSAGEs, then END OK.
    c.send(call_frame(5, "nap.Echo", 1, EchoStreamRequest(payload=b"s", count=4), 5000))
    frames, f = c.end_of(5)
    msgs = [EchoMessage.FromString(m.payload).payload for m in frames if m.kind == MESSAGE and m.call_id == 5]
    ok(msgs == [b"s"] * 4 and f is not None and f.status == OK and not f.payload,
       "s5: a server stream: 4 MESSAGEs in order, then END OK with no payload", (msgs, f))
    # Calls complete in any order: a slow stream does not hold up a Ping.
    c.send(call_frame(6, "nap.Echo", 1, EchoStreamRequest(payload=b"x", count=3, interval_ms=200), 5000))
    c.send(call_frame(7, "nap.Control", 0, PingRequest(payload=b"fast")))
    order = [f.call_id for f in c.until(lambda f: f.kind == END and f.call_id == 6)[0] if f.kind == END]
    ok(order == [7, 6], "s5: frames of different calls interleave; the Ping ends before the slow stream", order)
    # A reused call id of a call in flight closes the connection.
    c.send(call_frame(8, "nap.Echo", 1, EchoStreamRequest(count=50, interval_ms=100), 10000))
    c.send(call_frame(8, "nap.Control", 0))
    f, closed = c.conn_end()
    ok(f is not None and f.status == INVALID_ARGUMENT and "reused" in f.message and closed,
       "s5: reusing the id of a call in flight: END 0 INVALID_ARGUMENT", f)
    c.close()


def s6_deadlines():
    c = Conn()
    for i in range(1, 21):
        c.send(call_frame(i, "nap.Echo", 1, EchoStreamRequest(payload=b"d", count=1000, interval_ms=5), 50))
    ends = []
    while len(ends) < 20:
        _, f = c.until(lambda f: f.kind == END)
        if f is None:
            break
        ends.append(f)
    want = "deadline of 50 ms exceeded (nap.Echo method 1)"
    ok(len(ends) == 20 and all(f.status == DEADLINE_EXCEEDED and f.message == want for f in ends),
       "s6: 20 streams past a 50 ms deadline all end DEADLINE_EXCEEDED, '%s'" % want,
       [(f.status, f.message) for f in ends if f.status != DEADLINE_EXCEEDED or f.message != want][:5])
    c.close()


def s7_cancellation():
    c = Conn()
    c.send(call_frame(1, "nap.Echo", 1, EchoStreamRequest(payload=b"c", count=1000, interval_ms=10), 0))
    c.until(lambda f: f.kind == MESSAGE and f.call_id == 1)
    c.send(prefix(Frame(call_id=1, kind=CANCEL).SerializeToString()))
    c.send(prefix(Frame(call_id=12345, kind=CANCEL).SerializeToString()))  # unknown: ignored
    time.sleep(0.5)
    c.send(call_frame(2, "nap.Control", 0))
    frames, f = c.end_of(2)
    ends1 = [x for x in frames if x.kind == END and x.call_id == 1]
    ok(f is not None and f.call_id == 2 and not ends1,
       "s7: no END follows a CANCEL; a CANCEL for an unknown id is ignored", ends1)
    c.close()


def s8_status():
    c = Conn()
    c.send(call_frame(1, "nap.Control", 4, AppRequest(app="no-such-app"), 5000))
    _, f = c.end_of(1, 10)
    ok(f is not None and 0 <= f.status <= 16 and (f.status == OK or f.message),
       "s8: every END has a status in 0..16 and a failed one a message for a person", f)
    c.close()


def s9_end0():
    c = Conn()
    c.send(prefix(Frame(kind=END, status=10, message="conformance: going away\nforged line").SerializeToString()))
    frames, _ = c.until(lambda f: False, 3)
    ok(c.eof and [f.kind for f in frames] == [HELLO], "s9: a client's END 0 ends its connection (napd closes, sends nothing more)", frames)
    ok(log_has(r"info: client pid \d+ uid \d+: closed the connection: ABORTED: conformance: going away\?forged line"),
       "s9: napd logs a client's END 0 at info with status and message, control characters as '?'")
    c.close()


def s10_access():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a peer that is not allowed: nobody, not in allow_users
        os.close(r)
        try:
            os.setgid(65534)
            os.setgroups([])
            os.setuid(65534)
            c = Conn(hello=False)  # napd refuses before it reads anything
            f, closed = c.conn_end()
            os.write(w, b"%d %d %s" % (f.status if f else -1, closed, (f.message if f else "").encode()))
        except Exception as e:  # noqa: BLE001
            os.write(w, b"-2 0 " + repr(e).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 8192).decode()
    os.waitpid(pid, 0)
    os.close(r)
    ok(out.startswith("%d 1 napd refuses uid 65534" % PERMISSION_DENIED),
       "s10: a uid that is not allowed gets napd's HELLO, then END 0 PERMISSION_DENIED naming it", out)


def s11_versions():
    c = Conn()
    # Unknown fields are skipped: field 15 (varint) in a CALL.
    body = Frame(call_id=1, kind=CALL, service="nap.Control").SerializeToString() + b"\x78\x07"
    c.send(prefix(body))
    _, f = c.end_of(1)
    ok(f is not None and f.status == OK, "s11: unknown fields in a Frame are skipped", f)
    c.close()


def s12_limits():
    c = Conn()
    c.send(call_frame(1, "nap.Control", 4, b"\x0a\x03\xff\xfe\xfd", 5000))  # AppRequest{app: not UTF-8}
    _, f = c.end_of(1)
    ok(f is not None and f.call_id == 1 and f.status == INVALID_ARGUMENT and "not UTF-8" in f.message,
       "s12: a nap.Control request string that is not UTF-8: INVALID_ARGUMENT, the connection stays", f)
    ok(ping(c, 2) is not None, "s12: ... and the connection still serves")
    c.close()
    # A client that does not read: cut off at NAP_OUTPUT_MAX with END 0 after the frame it is in.
    c = Conn()
    big = PingRequest(payload=b"o" * (1 << 20))
    c.s.settimeout(5)
    try:
        for i in range(1, 101):
            c.send(call_frame(i, "nap.Control", 0, big))
    except OSError:
        pass
    time.sleep(0.5)
    f, closed = c.conn_end(20)
    ok(f is not None and f.status == RESOURCE_EXHAUSTED and "NAP_OUTPUT_MAX" in f.message and closed,
       "s12: 64 MiB of unread output: END 0 RESOURCE_EXHAUSTED naming NAP_OUTPUT_MAX, then EOF", f)
    c.close()
    ok(log_has(r"notice: client .*: connection closed: the peer does not read"),
       "s12: ... logged at notice")


def s13_services():
    c = Conn()
    c.send(call_frame(1, "nap.Echo", 0, EchoMessage(payload=b"e")))
    _, f = c.end_of(1)
    ok(f is not None and f.status == OK and EchoMessage.FromString(f.payload).payload == b"e",
       "s13: nap.Echo method 0 (Echo) through napd to the plugin", f)
    c.close()


def s14_worked_example():
    # The two frames in one write(), as the page prints them.
    doc = open(sys.argv[2]).read()
    sec = doc[doc.index("## 14."):doc.index("## 15.")]
    block = sec[sec.index("in one `write()`"):]
    block = block[block.index("```") + 3:]
    raw = bytes.fromhex(block[:block.index("```")].replace("\n", " "))
    c = Conn(hello=False)
    c.send(raw)
    f = c.frame()
    ok(f is not None and f.kind == HELLO and Hello.FromString(f.payload).protocol_major == 1,
       "s14: napd answers the example's bytes with its HELLO")
    _, f = c.end_of(1)
    r = PingReply.FromString(f.payload) if f is not None and f.status == OK else None
    ok(r is not None and r.payload == b"hi" and r.protocol_major == 1 and r.uptime_ms > 0,
       "s14: ... then END id 1 OK with PingReply{payload 'hi', protocol_major 1, uptime_ms}", f)
    c.close()


def s15_python_client():
    doc = open(sys.argv[2]).read()
    sec = doc[doc.index("## 15."):doc.index("## 16.")]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, NAP_SOCKET=SOCK))
    ok(p.returncode == 0 and re.match(r"napd \S+, protocol 1\.\d+, up \d+ ms", p.stdout),
       "s15: the page's standard-library client pings napd", p.stdout + p.stderr)


def request_frame(call_id, request=b"", end=False):
    """A caller's MESSAGE (one more request) or END (half-close), 1.2."""
    if not isinstance(request, bytes):
        request = request.SerializeToString()
    kind = END if end else MESSAGE
    return prefix(Frame(call_id=call_id, kind=kind, payload=request, from_caller=True).SerializeToString())


def s17_streams():
    # The page's byte-by-byte Sum, sent as printed.
    doc = open(sys.argv[2]).read()
    sec = doc[doc.index("#### Byte by byte: a Sum"):doc.index("### Ordering and concurrency")]
    block = sec[sec.index("```") + 3:]
    raw = bytes.fromhex(block[:block.index("```")].replace("\n", " "))
    c = Conn(hello=False)
    c.send(raw)
    f = c.frame()
    h = Hello.FromString(f.payload) if f is not None and f.kind == HELLO else None
    ok(h is not None and h.protocol_minor >= 2, "s5/1.2: napd announces protocol_minor 2 or more", h)
    frames, f = c.end_of(1)
    wins = [(x.call_id, x.credit) for x in frames if x.kind == WINDOW]
    r = SumReply.FromString(f.payload) if f is not None and f.status == OK else None
    ok(wins == [(1, 4)] and r is not None and (r.bytes, r.messages, r.adler32) == (4, 2, 0x03d8018b),
       "s5/1.2: the page's Sum, byte by byte: WINDOW id 1 credit 4, then END OK SumReply{4, 2, 0x03d8018b}",
       (wins, r, f))
    c.close()
    # A 1.1 client never receives a WINDOW; its one request is the whole stream.
    c = Conn()
    c.send(call_frame(1, "nap.Echo", 2, SumChunk(data=b"xyz"), 5000))
    frames, f = c.end_of(1)
    r = SumReply.FromString(f.payload) if f is not None and f.status == OK else None
    ok(r is not None and (r.bytes, r.messages) == (3, 1) and not [x for x in frames if x.kind == WINDOW],
       "s5/1.2: a 1.1 client's call of Sum: its request is the whole stream, answered, no WINDOW", (frames, f))
    c.send(call_frame(2, "nap.Echo", 3, EchoMessage(payload=b"hi"), 5000))
    frames, f = c.end_of(2)
    msgs = [EchoMessage.FromString(x.payload).payload for x in frames if x.kind == MESSAGE]
    ok(msgs == [b"hi"] and f is not None and f.status == OK and not [x for x in frames if x.kind == WINDOW],
       "s5/1.2: ... and of Chat: one answer, END OK, no WINDOW", (frames, f))
    c.close()
    # A 1.2 client that keeps within its credit sends 1.25 MiB to a handler
    # that takes 2 ms per chunk: WINDOW frames let it through.
    c = Conn(minor=2)
    chunk = SumChunk(data=b"z" * 65536, delay_ms=2).SerializeToString()
    c.send(call_frame(1, "nap.Echo", 2, SumChunk(delay_ms=2), 10000))
    credit, sent, granted, over = STREAM_WINDOW, 0, 0, False
    for _ in range(20):
        while credit < len(chunk):
            f = c.frame(5)
            if f is None or f.kind == END:
                break
            if f.kind == WINDOW and f.call_id == 1:
                credit += f.credit
                granted += f.credit
        if credit < len(chunk):
            over = True
            break
        c.send(request_frame(1, chunk))
        credit -= len(chunk)
        sent += len(chunk)
    c.send(request_frame(1, end=True))
    frames, f = c.end_of(1, 10)
    granted += sum(x.credit for x in frames if x.kind == WINDOW)
    r = SumReply.FromString(f.payload) if f is not None and f.status == OK else None
    ok(not over and r is not None and r.bytes == 20 * 65536 and r.messages == 21 and granted >= sent - STREAM_WINDOW,
       "s5/1.2: a caller within its credit streams 1.25 MiB to a slow handler (%d bytes granted by WINDOW)" % granted,
       (over, r, f))
    # A caller that ignores its credit: the call ends RESOURCE_EXHAUSTED, the connection stays.
    c.send(call_frame(2, "nap.Echo", 2, SumChunk(delay_ms=200), 10000))
    for _ in range(20):
        c.send(request_frame(2, chunk))
    frames, f = c.end_of(2, 10)
    ok(f is not None and f.call_id == 2 and f.status == RESOURCE_EXHAUSTED and "over the credit left" in f.message,
       "s5/1.2: a caller past its credit: END RESOURCE_EXHAUSTED for that call", f)
    ok(ping(c, 3) is not None, "s5/1.2: ... and the connection stays")
    # One request message bigger than NAP_STREAM_WINDOW is past any first credit.
    c.send(call_frame(4, "nap.Echo", 2, SumChunk(), 10000))
    c.send(request_frame(4, SumChunk(data=b"b" * (STREAM_WINDOW + 1))))
    _, f = c.end_of(4)
    ok(f is not None and f.status == RESOURCE_EXHAUSTED, "s5/1.2: a request message over NAP_STREAM_WINDOW: RESOURCE_EXHAUSTED", f)
    # A MESSAGE after the half-close.
    c.send(call_frame(5, "nap.Echo", 2, SumChunk(delay_ms=300), 10000))
    c.send(request_frame(5, end=True))
    c.send(request_frame(5, SumChunk(data=b"late")))
    _, f = c.end_of(5)
    ok(f is not None and f.status == INVALID_ARGUMENT and "after the caller's half-close" in f.message,
       "s5/1.2: a request message after the half-close: END INVALID_ARGUMENT", f)
    # Bidirectional: each request is answered as it is taken, END after the half-close.
    c.send(call_frame(6, "nap.Echo", 3, EchoMessage(payload=b"a"), 5000))
    c.send(request_frame(6, EchoMessage(payload=b"b")))
    c.send(request_frame(6, EchoMessage(payload=b"c")))
    c.send(request_frame(6, end=True))
    frames, f = c.end_of(6)
    msgs = [EchoMessage.FromString(x.payload).payload for x in frames if x.kind == MESSAGE and x.call_id == 6]
    ok(msgs == [b"a", b"b", b"c"] and f is not None and f.status == OK,
       "s5/1.2: Chat, bidirectional: a, b, c answered in order, then END OK", (msgs, f))
    # A WINDOW for a call napd never made, a request for no call: ignored.
    c.send(prefix(Frame(call_id=99, kind=WINDOW, credit=10).SerializeToString()))
    c.send(request_frame(98, SumChunk(data=b"stray")))
    ok(ping(c, 7) is not None, "s4/1.2: a WINDOW or a caller's MESSAGE for no call in flight is ignored")
    c.close()
    refused(prefix(Frame(kind=END, from_caller=True).SerializeToString()), INVALID_ARGUMENT,
            "without a call id", "s4/1.2: a caller's END (from_caller) without a call id: malformed")
    refused(prefix(Frame(kind=WINDOW, credit=5).SerializeToString()), INVALID_ARGUMENT,
            "without a call id", "s4/1.2: a WINDOW without a call id: malformed")


def main():
    for test in (s1_transport, s2_framing, s3_hello, s4_kinds, s5_calls, s6_deadlines,
                 s7_cancellation, s8_status, s9_end0, s10_access, s11_versions, s12_limits,
                 s13_services, s14_worked_example, s15_python_client, s17_streams):
        try:
            test()
        except Exception as e:  # noqa: BLE001: a crash is a failure of that section
            ok(False, "%s ran to the end" % test.__name__, repr(e))
    c = Conn()
    ok(ping(c, 1) is not None, "s16: napd still serves after all of the above")
    ok(not BAD, "every frame napd sent decodes with a conforming (UTF-8 checking) decoder", BAD[:3])
    c.close()
    print("1..%d" % count)
    print("# %d passed, %d failed" % (count - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
