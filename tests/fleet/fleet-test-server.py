#!/usr/bin/env python3
"""fleet-test-server: a TEST FIXTURE that speaks fleet's API v1 and runs units.

NOT fleet. fleet cannot be installed here, so nap's scheduler-fleet plugin is
tested against this server: it answers the v1 API (under /fleet/v1/ and
/v1-alpha/) the way a real fleetd v1.0.0 was observed to answer, schedules
units onto simulated machines honouring [X-Fleet], and *executes* the units
it is given on this host, the way systemd would (Exec lines split with
systemd's rules, never through a shell; specifiers; Environment=; BindsTo
stop propagation; ...). See tests/fleet/README.md for what is and is not
covered.

  fleet-test-server.py --listen unix:///path/fleet.sock | http://127.0.0.1:PORT
                       [--machines "m1:role=web,region=a m2:role=web"]
                       [--state-dir DIR] [--placement-delay-ms 100]
                       [--page-size 100] [--timeout-stop-sec 5]
                       [--timeout-start-sec 90] [--no-exec]
                       [--pass-env NAME]... [--host-unit NAME]... [-v]

Prints one line "listening on URL" on stdout when ready. SIGTERM/SIGINT stop
every running unit (ExecStop, SIGTERM, SIGKILL, ExecStopPost) and exit 0.
Python 3 standard library only.
"""

import argparse
import base64
import fnmatch
import hashlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER_VERSION = "fleetd/v1.0.0"
DESIRED_STATES = ("inactive", "loaded", "launched")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Units that are not fleet units but that a unit may depend on: treated as
# always active on every simulated machine (extend with --host-unit).
HOST_UNITS = {"docker.service", "docker.socket", "etcd.service", "etcd2.service",
              "etcd-member.service", "flanneld.service", "fleet.service",
              "containerd.service"}
HOST_UNIT_SUFFIXES = (".target", ".mount", ".device", ".slice")

LOCK = threading.RLock()          # one lock for the whole registry
CHANGED = threading.Condition(LOCK)  # notified on every state change
OPTS = None                       # parsed command line
SERVER = None                     # the Fleet instance
_log_lock = threading.Lock()


def log(msg):
    if OPTS is not None and OPTS.verbose:
        with _log_lock:
            sys.stderr.write("fleet-test-server: %s\n" % msg)
            sys.stderr.flush()


def changed():
    with LOCK:
        CHANGED.notify_all()


# ===========================================================================
# systemd syntax: time spans, word splitting, escapes, specifiers, env
# ===========================================================================

_TIME_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1,
               "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
               "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
               "d": 86400, "day": 86400, "days": 86400, "": 1}


def parse_timespan(text):
    """systemd time span → seconds (float), None for 0/infinity (no limit)."""
    t = text.strip()
    if t in ("infinity", ""):
        return None
    total, i = 0.0, 0
    while i < len(t):
        while i < len(t) and t[i].isspace():
            i += 1
        j = i
        while j < len(t) and (t[j].isdigit() or t[j] == "."):
            j += 1
        if j == i:
            raise ValueError("bad time span %r" % text)
        num = float(t[i:j])
        k = j
        while k < len(t) and t[k].isalpha():
            k += 1
        unit = t[j:k]
        if unit not in _TIME_UNITS:
            raise ValueError("bad time unit %r in %r" % (unit, text))
        total += num * _TIME_UNITS[unit]
        i = k
    return None if total == 0 else total


def parse_bool(text):
    t = text.strip().lower()
    if t in ("1", "yes", "y", "true", "t", "on"):
        return True
    if t in ("0", "no", "n", "false", "f", "off"):
        return False
    raise ValueError("bad boolean %r" % text)


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", '"': '"', "'": "'", "s": " "}


def _cunescape_one(s, i):
    """s[i] follows a backslash; returns (text, next index). Strict, like
    systemd's cunescape_one: unknown escapes are errors."""
    if i >= len(s):
        raise ValueError("trailing backslash")
    c = s[i]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 1
    if c == "x" and len(s) >= i + 3:
        return chr(int(s[i + 1:i + 3], 16)), i + 3
    if c == "u" and len(s) >= i + 5:
        return chr(int(s[i + 1:i + 5], 16)), i + 5
    if c == "U" and len(s) >= i + 9:
        return chr(int(s[i + 1:i + 9], 16)), i + 9
    if c in "01234567" and len(s) >= i + 3 and all(x in "01234567" for x in s[i:i + 3]):
        return chr(int(s[i:i + 3], 8)), i + 3
    raise ValueError("invalid escape sequence \\%s" % c)


def split_words(s, relax=False):
    """systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) in a
    loop: whitespace separates words, '...' and "..." group (also mid-word),
    backslash escapes are C escapes. relax=True keeps unknown escapes."""
    words, i, n = [], 0, len(s)
    while True:
        while i < n and s[i] in " \t\n\r":
            i += 1
        if i >= n:
            return words
        word, quote = [], None
        while i < n:
            c = s[i]
            if quote is None and c in " \t\n\r":
                break
            if c == quote:
                quote = None
                i += 1
            elif quote is None and c in "'\"":
                quote = c
                i += 1
            elif c == "\\":
                try:
                    ch, i = _cunescape_one(s, i + 1)
                except ValueError:
                    if not relax:
                        raise
                    ch, i = s[i:i + 2], i + 2
                word.append(ch)
            else:
                word.append(c)
                i += 1
        if quote is not None:
            raise ValueError("unbalanced quotes")
        words.append("".join(word))


def unit_name_parts(name):
    """(prefix, instance or None, suffix) of 'p@i.service' / 'p.service'."""
    base, _, suffix = name.rpartition(".")
    if "@" in base:
        prefix, _, inst = base.partition("@")
        return prefix, inst, suffix
    return base, None, suffix


def _unescape_name(s):
    # systemd unit-name unescaping: '-' is '/', \xHH is a byte.
    out, i = [], 0
    while i < len(s):
        if s.startswith("\\x", i) and len(s) >= i + 4:
            out.append(chr(int(s[i + 2:i + 4], 16)))
            i += 4
        else:
            out.append("/" if s[i] == "-" else s[i])
            i += 1
    return "".join(out)


def _user():
    import pwd
    try:
        pw = pwd.getpwuid(os.getuid())
        return pw.pw_name, pw.pw_dir, pw.pw_shell
    except KeyError:
        return str(os.getuid()), "/", "/bin/sh"


def expand_specifiers(text, name, machine):
    """%n %N %p %P %i %I %H %m %b %l %t %T %V %u %U %h %s %v %% as systemd
    does; anything else is an error (systemd refuses the line too)."""
    prefix, inst, suffix = unit_name_parts(name)
    table = {"n": name, "N": name[:-(len(suffix) + 1)], "p": prefix,
             "P": _unescape_name(prefix), "i": inst or "",
             "I": _unescape_name(inst or ""),
             "H": machine.hostname if machine else socket.gethostname(),
             "m": machine.id if machine else "", "b": SERVER.boot_id if SERVER else "",
             "t": "/run", "T": "/tmp", "V": "/var/tmp", "%": "%",
             "u": _user()[0], "U": str(os.getuid()), "h": _user()[1], "s": _user()[2],
             "v": os.uname().release,
             "l": (machine.hostname if machine else socket.gethostname()).split(".")[0]}
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "%":
            if i + 1 >= len(text) or text[i + 1] not in table:
                raise ValueError("unknown specifier %r" % text[i:i + 2])
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def replace_env(word, env):
    """systemd replace_env(flags=0): ${NAME} is replaced (empty if unset),
    $$ becomes $, a bare $NAME inside a word stays literal."""
    out, i = [], 0
    while i < len(word):
        c = word[i]
        if c == "$" and i + 1 < len(word) and word[i + 1] == "$":
            out.append("$")
            i += 2
        elif c == "$" and i + 1 < len(word) and word[i + 1] == "{":
            j = word.find("}", i + 2)
            if j < 0:           # unterminated: systemd keeps it as is
                out.append(word[i:])
                break
            out.append(env.get(word[i + 2:j], ""))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def replace_env_argv(argv, env):
    """systemd replace_env_argv: a word that is exactly $NAME becomes the
    value split at whitespace (quotes in the value honoured); other words
    get replace_env()."""
    out = []
    for w in argv:
        if len(w) > 1 and w[0] == "$" and w[1] not in "{$":
            val = env.get(w[1:])
            if val is not None:
                out.extend(split_words(val, relax=True))
            continue
        out.append(replace_env(w, env))
    return out


class ExecCommand:
    """One Exec*= line: prefixes, argv (specifiers expanded, not yet env)."""

    def __init__(self, raw, name, machine):
        self.raw = raw
        text = expand_specifiers(raw, name, machine)
        self.ignore_failure = self.separate_argv0 = False
        self.no_env = False
        i = 0
        while i < len(text) and text[i] in "-@:+!":
            c = text[i]
            if c == "-":
                self.ignore_failure = True
            elif c == "@":
                self.separate_argv0 = True
            elif c == ":":
                self.no_env = True
            i += 1                      # '+' and '!' (privileges) are ignored
        self.argv = split_words(text[i:])
        if not self.argv:
            raise ValueError("empty command line")
        if self.separate_argv0 and len(self.argv) < 2:
            raise ValueError("'@' needs a path and an argv[0]")

    def resolve(self, env):
        """(path, argv) with environment variables substituted."""
        argv = list(self.argv) if self.no_env else replace_env_argv(self.argv, env)
        if not argv:
            raise ValueError("command line empty after variable expansion")
        path = argv[0]
        if self.separate_argv0:
            argv = argv[1:]
        if "/" not in path:
            for d in env.get("PATH", DEFAULT_PATH).split(":"):
                cand = os.path.join(d, path)
                if os.access(cand, os.X_OK) and not os.path.isdir(cand):
                    path = cand
                    break
        return path, argv


# ===========================================================================
# unit files: the API's options, and what a service unit says
# ===========================================================================

def options_to_unitfile(options):
    """Serialise options the way fleet writes a unit file (sections in the
    order they first appear)."""
    sections = []
    for o in options:
        if o["section"] not in sections:
            sections.append(o["section"])
    parts = []
    for sec in sections:
        lines = ["[%s]" % sec] + ["%s=%s" % (o["name"], o["value"])
                                  for o in options if o["section"] == sec]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def unit_hash(options):
    return hashlib.sha1(options_to_unitfile(options).encode()).hexdigest()


def option_values(options, section, name):
    """All values of one option in order; an empty value resets the list,
    as systemd does for list-type settings."""
    vals = []
    for o in options:
        if o["section"] == section and o["name"] == name:
            if o["value"] == "":
                vals = []
            else:
                vals.append(o["value"])
    return vals


def option_last(options, section, name, default=None):
    vals = [o["value"] for o in options if o["section"] == section and o["name"] == name]
    return vals[-1] if vals else default


def xfleet_values(options, name, unit_name):
    """Values of an [X-Fleet] option, whitespace-separated words, with fleet's
    specifier expansion (%n %p %i ...)."""
    out = []
    for v in option_values(options, "X-Fleet", name):
        try:
            v = expand_specifiers(v, unit_name, None)
        except ValueError:
            pass
        out.extend(split_words(v, relax=True))
    return out


class ServiceConfig:
    """What a .service unit says, parsed for one placement (specifiers need
    the machine). Any error makes the unit's loadState 'error'."""

    def __init__(self, name, options, machine):
        self.name = name
        self.warnings = []
        svc = lambda n: option_values(options, "Service", n)
        last = lambda sec, n, d=None: option_last(options, sec, n, d)

        def names(n):
            out = []
            for v in option_values(options, "Unit", n):
                out.extend(split_words(expand_specifiers(v, name, machine), relax=True))
            return out
        self.requires, self.bindsto = names("Requires"), names("BindsTo")
        self.wants, self.partof = names("Wants"), names("PartOf")
        self.after, self.before = names("After"), names("Before")
        self.type = last("Service", "Type", "simple")
        if self.type not in ("simple", "exec", "oneshot", "forking", "notify", "idle", "dbus"):
            raise ValueError("unknown Type=%s" % self.type)
        if self.type in ("forking", "notify", "dbus", "idle"):
            self.warnings.append("Type=%s is run like Type=simple by the test server" % self.type)
        mk = lambda n: [ExecCommand(v, name, machine) for v in svc(n)]
        self.start_pre, self.start = mk("ExecStartPre"), mk("ExecStart")
        self.start_post, self.stop = mk("ExecStartPost"), mk("ExecStop")
        self.stop_post = mk("ExecStopPost")
        if not self.start and self.type != "oneshot":
            raise ValueError("Service has no ExecStart= setting, which is only allowed "
                             "for Type=oneshot services. Refusing.")
        if len(self.start) > 1 and self.type != "oneshot":
            raise ValueError("Service has more than one ExecStart= setting, which is "
                             "only allowed for Type=oneshot services. Refusing.")
        self.remain = parse_bool(last("Service", "RemainAfterExit", "no"))
        self.env = {}
        for v in svc("Environment"):
            for w in split_words(expand_specifiers(v, name, machine), relax=True):
                k, eq, val = w.partition("=")
                if not eq or not k:
                    self.warnings.append("invalid environment assignment %r, ignoring" % w)
                else:
                    self.env[k] = val
        self.env_files = [expand_specifiers(v, name, machine) for v in svc("EnvironmentFile")]
        ts = last("Service", "TimeoutSec")
        start_t = last("Service", "TimeoutStartSec", ts)
        stop_t = last("Service", "TimeoutStopSec", ts)
        self.timeout_start = (parse_timespan(start_t) if start_t is not None
                              else OPTS.timeout_start_sec or None)
        self.timeout_stop = (parse_timespan(stop_t) if stop_t is not None
                             else OPTS.timeout_stop_sec or None)
        self.restart = last("Service", "Restart", "no")
        if self.restart not in ("no", "on-success", "on-failure", "on-abnormal",
                                "on-abort", "on-watchdog", "always"):
            raise ValueError("unknown Restart=%s" % self.restart)
        self.restart_sec = parse_timespan(last("Service", "RestartSec", "100ms")) or 0
        # systemd's start limit: StartLimitIntervalSec= and StartLimitBurst=
        # in [Unit] (older: StartLimitInterval= in [Service]); 10 s and 5.
        sli = last("Unit", "StartLimitIntervalSec", last("Service", "StartLimitInterval", "10s"))
        self.start_limit_interval = parse_timespan(sli) or 0
        self.start_limit_burst = int(last("Unit", "StartLimitBurst",
                                          last("Service", "StartLimitBurst", "5")))
        self.success_status = {0}
        for v in svc("SuccessExitStatus"):
            for w in v.split():
                if w.isdigit():
                    self.success_status.add(int(w))
        self.kill_mode = last("Service", "KillMode", "control-group")
        ks = last("Service", "KillSignal", "SIGTERM")
        self.kill_signal = getattr(signal, ks if ks.startswith("SIG") else "SIG" + ks, None)
        if not isinstance(self.kill_signal, int):
            raise ValueError("unknown KillSignal=%s" % ks)
        wd = last("Service", "WorkingDirectory")
        self.workdir_optional = bool(wd and wd.startswith("-"))
        self.workdir = expand_specifiers(wd.lstrip("-"), name, machine) if wd else None
        for o in options:
            if o["section"] == "Service" and o["name"] in ("User", "Group", "ExecReload",
                                                           "LimitNOFILE", "MemoryLimit"):
                self.warnings.append("%s= is ignored by the test server" % o["name"])


# ===========================================================================
# machines
# ===========================================================================

class Machine:
    def __init__(self, name, metadata):
        self.name = self.hostname = name
        self.id = hashlib.sha1(("fleet-test-server:" + name).encode()).hexdigest()[:32]
        self.metadata = metadata

    def to_json(self):
        d = {"id": self.id, "primaryIP": "127.0.0.1"}
        if self.metadata:
            d["metadata"] = dict(self.metadata)
        return d


def parse_machines(spec):
    machines = []
    for item in spec.split():
        name, _, meta = item.partition(":")
        md = {}
        for kv in filter(None, meta.split(",")):
            k, eq, v = kv.partition("=")
            if not eq or not k:
                raise ValueError("bad metadata %r in --machines (want key=value)" % kv)
            md[k] = v
        if not name:
            raise ValueError("empty machine name in --machines")
        machines.append(Machine(name, md))
    if not machines:
        raise ValueError("--machines names no machine")
    if len({m.name for m in machines}) != len(machines):
        raise ValueError("duplicate machine name in --machines")
    return machines


# ===========================================================================
# execution: one Runner per placed unit, playing systemd's part
# ===========================================================================

class Runner:
    """A unit loaded on one simulated machine. Its thread runs start → run →
    stop cycles; other threads ask with start()/stop(). All state is read
    and written under LOCK."""

    def __init__(self, unit, machine):
        self.name, self.machine, self.hash = unit.name, machine, unit.hash
        self.options = unit.options
        self.load, self.active, self.sub = "loaded", "inactive", "dead"
        # What fleet's agent last published to /state (see state_json).
        self.published, self.published_at = None, 0.0
        self.placed_at = time.monotonic()
        self.hide_at = None           # DELETE: leaves /state from then on
        self.stop_at = None           # --delete-lag-ms: when the agent acts on it
        self.start_not_before = 0.0   # --stale-failed-ms after a failed run
        self.stale = False            # reports systemd's failed state from before
        self.want_start = False       # a start job is queued or running
        self.stop_requested = False   # stop the current cycle
        self.explicit_stop = False
        self.thread = None
        self.phase = "idle"           # idle|deps|starting|running|stopping|restart-wait
        self.procs = []               # live Popen objects (main and control)
        self.pgids = set()            # every process group started (the "cgroup")
        self.runs = 0
        self.logf = None
        self.cfg = None
        self.unit, self.retired = unit, False
        self.exec_enabled = not OPTS.no_exec
        self.load_error = None
        if not self.name.endswith(".service"):
            self.load_error = "only .service units are executed by the test server"
            self.exec_enabled = False
        else:
            try:
                self.cfg = ServiceConfig(self.name, self.options, machine)
            except (ValueError, KeyError) as e:
                self.load, self.load_error = "error", str(e)
        self.unit_dir = os.path.join(OPTS.state_dir, "units", machine.name, self.name)
        os.makedirs(self.unit_dir, exist_ok=True)
        with open(os.path.join(self.unit_dir, self.name), "w") as f:
            f.write(options_to_unitfile(self.options))
        # loaded: inactive/dead, or the load error (fleet-like: only a
        # steady state the unit reaches is published)
        if self.load == "error" or OPTS.transient_states:
            self.publish()

    # ---- state, as reported in /state ----
    def set_state(self, active, sub):
        with LOCK:
            self.active, self.sub = active, sub
            self.publish()
            CHANGED.notify_all()
        self.note("state %s/%s" % (active, sub))

    def publish(self):
        """What fleet's agent reports: without --transient-states, the last
        state that is neither activating nor deactivating (a real fleet
        showed a unit first as active/running, never activating, and kept a
        stale active/running while it stopped)."""
        if OPTS.transient_states or self.load == "error" or \
                self.active not in ("activating", "deactivating"):
            if self.published != (self.load, self.active, self.sub):
                self.published = (self.load, self.active, self.sub)
                self.published_at = time.monotonic()

    def visible(self, now):
        """Listed in /state: from --state-delay-ms after placement, until
        its unit is deleted (fleet drops the state at once, even while the
        unit still stops; a late agent may publish it again)."""
        if now - self.placed_at < OPTS.state_delay_ms / 1000.0 and not self.stale:
            return False
        if self.hide_at is not None and now >= self.hide_at:
            # a late agent publishes what it still does with a deleted unit
            return (self.stop_at is not None and now < self.stop_at and
                    self.published_at > self.hide_at and self.published is not None)
        return self.published is not None

    def state_json(self):
        load, active, sub = self.published or (self.load, self.active, self.sub)
        return {"hash": self.hash, "machineID": self.machine.id, "name": self.name,
                "systemdActiveState": active, "systemdLoadState": load,
                "systemdSubState": sub}

    def superseded(self):
        """A unit of the same name runs on this machine since this one was
        deleted or replaced: in systemd they are one unit, one after the
        other, so what this one does no longer reaches the units bound to
        the name. (Call with LOCK.)"""
        return self.retired and any(
            r is not self and not r.retired and r.name == self.name
            for r in SERVER.runners_on(self.machine))

    def starting(self):
        return self.want_start and self.phase in ("idle", "deps", "starting", "restart-wait")

    def running(self):
        return self.thread is not None

    # ---- requests from other threads (call with or without LOCK) ----
    def start(self, why=""):
        with LOCK:
            if self.want_start and self.thread is not None and not self.stop_requested:
                return
            self.want_start = True
            if why:
                self.note(why)
            if self.thread is None:
                self.stop_requested = False
                self.thread = threading.Thread(target=self._thread, daemon=True,
                                               name="unit " + self.name)
                self.thread.start()
            CHANGED.notify_all()

    def stop(self, explicit=True):
        with LOCK:
            self.want_start = False
            if self.thread is not None:
                self.stop_requested = True
                self.explicit_stop = self.explicit_stop or explicit
            CHANGED.notify_all()

    def restart(self):
        with LOCK:
            if self.thread is not None:
                self.stop_requested = True
                self.explicit_stop = True
            self.want_start = False
        self.start("restarted with a unit it depends on")

    # ---- logging into the per-run log file ----
    def note(self, msg):
        line = "%s [fleet-test-server] %s: %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.name, msg)
        if self.logf is not None:
            try:
                self.logf.write(line.encode())
                self.logf.flush()
            except (OSError, ValueError):
                pass
        log("%s@%s: %s" % (self.name, self.machine.name, msg))

    def _open_log(self):
        with LOCK:
            SERVER.log_seq[self.name] = SERVER.log_seq.get(self.name, 0) + 1
            n = SERVER.log_seq[self.name]
        logdir = os.path.join(OPTS.state_dir, "logs")
        path = os.path.join(logdir, "%s.%d.log" % (self.name, n))
        if self.logf is not None:
            self.logf.close()
        self.logf = open(path, "ab", buffering=0)
        link = os.path.join(logdir, self.name + ".log")
        tmp = link + ".tmp"
        try:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(os.path.basename(path), tmp)
            os.replace(tmp, link)
        except OSError:
            pass
        return path

    # ---- the thread ----
    def _thread(self):
        while True:
            with LOCK:
                if not self.want_start or SERVER.shutting_down:
                    self.thread, self.phase, self.want_start = None, "idle", False
                    CHANGED.notify_all()
                    return
                self.stop_requested = self.explicit_stop = False
            try:
                self._cycle()
            except Exception as e:  # a bug in the fixture must be visible
                self.note("internal error: %r" % e)
                import traceback
                traceback.print_exc()
                with LOCK:
                    self.want_start = False
                self.set_state("failed", "failed")

    def _cycle(self):
        """One start → run → stop cycle (several if Restart= applies)."""
        self.runs += 1
        path = self._open_log()
        self.note("start requested (run %d on machine %s, %s); log %s" % (
            self.runs, self.machine.name, self.machine.id, path))
        for w in (self.cfg.warnings if self.cfg else []):
            self.note("warning: " + w)
        if self.load_error:
            self.note("not started: " + self.load_error)
            with LOCK:
                self.want_start = False
            return
        if not self.exec_enabled:        # --no-exec: pretend
            self.set_state("active", "running")
            with LOCK:
                self.phase = "running"
                while not self.stop_requested:
                    CHANGED.wait(1)
            self.set_state("inactive", "dead")
            with LOCK:
                self.want_start = False
            return
        with LOCK:
            self.phase = "deps"
        dep = self._wait_dependencies()
        if dep is not None:
            self.note(dep)
            with LOCK:
                self.want_start = False
            self.set_state("inactive", "dead")
            return
        result = self._run_service()
        self._after_cycle(result)

    # ---- dependencies: Requires/BindsTo/Wants pull in, After orders ----
    def _dep_units(self):
        c = self.cfg
        hard = list(dict.fromkeys(c.requires + c.bindsto))
        soft = [d for d in dict.fromkeys(c.wants) if d not in hard]
        return hard, soft

    def _wait_dependencies(self):
        """None when this unit may start, else why it may not."""
        hard, soft = self._dep_units()
        with LOCK:
            # ordering: my After=, and Before=me in the other units
            after = set(self.cfg.after)
            for r in SERVER.runners_on(self.machine):
                if r.cfg and self.name in r.cfg.before:
                    after.add(r.name)
            for d in hard + soft:
                r = SERVER.runner_of(d, self.machine)
                if r is None:
                    if SERVER.is_host_unit(d):
                        continue
                    if d in hard:
                        return ("dependency failed: unit %s not found on machine %s "
                                "(not a fleet unit placed here, nor a host unit)"
                                % (d, self.machine.name))
                    continue
                if r.active not in ("active", "activating") and not r.starting():
                    self.note("pulling in %s" % d)
                    r.start("pulled in by " + self.name)
            while True:
                if self.stop_requested:
                    return "start cancelled"
                waiting = [r for r in SERVER.runners_on(self.machine)
                           if r.name in after and r.name != self.name
                           and (r.starting() or r.active == "activating")]
                if not waiting:
                    break
                CHANGED.wait(0.5)
            for d in hard:
                r = SERVER.runner_of(d, self.machine)
                if r is not None and d in after and r.active != "active":
                    return "dependency failed: %s is %s/%s" % (d, r.active, r.sub)
        return None

    # ---- processes ----
    def _spawn(self, cmd, env, what):
        path, argv = cmd.resolve(env)
        self.note("%s: %s" % (what, json.dumps([path] + argv[1:] if not cmd.separate_argv0
                                               else [path] + argv)))
        cwd = self.cfg.workdir or self.unit_dir
        if self.cfg.workdir and not os.path.isdir(cwd):
            if not self.cfg.workdir_optional:
                raise OSError("WorkingDirectory %s does not exist (status 200/CHDIR)" % cwd)
            cwd = self.unit_dir
        self.logf.flush()
        p = subprocess.Popen(argv, executable=path, env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL, stdout=self.logf,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             close_fds=True)
        with LOCK:
            self.procs.append(p)
            self.pgids.add(p.pid)
        return p

    def _reap(self, p):
        with LOCK:
            if p in self.procs:
                self.procs.remove(p)

    def _wait_proc(self, p, deadline, interruptible=True):
        """Wait for p; returns its exit status, 'timeout' or 'stopped'."""
        while True:
            try:
                rc = p.wait(0.02)
                self._reap(p)
                return rc
            except subprocess.TimeoutExpired:
                pass
            if interruptible and self.stop_requested:
                return "stopped"
            if deadline is not None and time.monotonic() > deadline:
                return "timeout"

    def _run_control(self, cmd, env, deadline, what, interruptible=True):
        """Run a control command to completion. Returns (ok, detail)."""
        try:
            p = self._spawn(cmd, env, what)
        except (OSError, ValueError) as e:
            self.note("%s failed to execute: %s (status 203/EXEC)" % (what, e))
            return cmd.ignore_failure, "exit-code"
        rc = self._wait_proc(p, deadline, interruptible)
        if rc in ("timeout", "stopped"):
            self.note("%s %s; killing it" % (what, "timed out" if rc == "timeout" else
                                            "interrupted by a stop"))
            self._kill_group(p, signal.SIGKILL)
            p.wait()
            self._reap(p)
            return False, rc
        self.note("%s exited, status %s%s" % (what, self._status(rc),
                                              " (failure ignored: '-')" if rc and
                                              cmd.ignore_failure else ""))
        if rc == 0 or cmd.ignore_failure:
            return True, "success"
        return False, "exit-code" if rc > 0 else "signal"

    @staticmethod
    def _status(rc):
        return "%d" % rc if rc >= 0 else "signal %s" % signal.Signals(-rc).name

    def _kill_group(self, p, sig):
        try:
            os.killpg(p if isinstance(p, int) else p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _live_groups(self, groups):
        """The process groups (our stand-in for the unit's cgroup) that still
        have a process; reaps our own exited children first."""
        for p in list(self.procs):
            if p.poll() is not None:
                self._reap(p)
        live = []
        for g in groups:
            try:
                os.killpg(g, 0)
                live.append(g)
            except (ProcessLookupError, PermissionError):
                pass
        return live

    def _env(self, extra=None):
        env = {"PATH": DEFAULT_PATH, "INVOCATION_ID": uuid.uuid4().hex}
        for k in OPTS.pass_env:
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.cfg.env)
        for f in self.cfg.env_files:
            optional = f.startswith("-")
            f = f.lstrip("-")
            try:
                with open(f) as fh:
                    for line in fh:
                        line = line.strip()
                        if not line or line[0] in "#;":
                            continue
                        k, eq, v = line.partition("=")
                        if eq:
                            v = v.strip()
                            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                                v = v[1:-1]
                            env[k.strip()] = v
            except OSError as e:
                if not optional:
                    raise OSError("EnvironmentFile %s: %s" % (f, e))
        if extra:
            env.update(extra)
        return env

    # ---- the service state machine ----
    def _run_service(self):
        """Run one cycle; returns the result: 'success', 'exit-code',
        'signal', 'timeout', 'resources' or 'stopped' (explicit stop)."""
        c = self.cfg
        with LOCK:
            self.phase = "starting"
        deadline = time.monotonic() + c.timeout_start if c.timeout_start else None
        try:
            env = self._env()
        except OSError as e:
            self.note("failed: %s" % e)
            return self._stop_sequence("resources", reached_running=False, main=None)
        result, main, main_rc = "success", None, None
        if c.start_pre:
            self.set_state("activating", "start-pre")
        for cmd in c.start_pre:
            ok, detail = self._run_control(cmd, env, deadline, "ExecStartPre")
            if not ok:
                return self._stop_sequence("stopped" if detail == "stopped" else detail,
                                           reached_running=False, main=None)
        if self.stop_requested:
            return self._stop_sequence("stopped", reached_running=False, main=None)
        if c.type == "oneshot":
            self.set_state("activating", "start")
            for cmd in c.start:
                ok, detail = self._run_control(cmd, env, deadline, "ExecStart")
                if not ok:
                    return self._stop_sequence(detail, reached_running=False, main=None)
        else:
            try:
                main = self._spawn(c.start[0], env, "ExecStart")
            except (OSError, ValueError) as e:
                self.note("ExecStart failed to execute: %s (status 203/EXEC)" % e)
                return self._stop_sequence("exit-code", reached_running=False, main=None)
        env_post = dict(env, MAINPID=str(main.pid)) if main else env
        if c.start_post:
            self.set_state("activating", "start-post")
            for cmd in c.start_post:
                ok, detail = self._run_control(cmd, env_post, deadline, "ExecStartPost")
                if not ok:
                    return self._stop_sequence(detail, reached_running=True, main=main)
        if c.type == "oneshot":
            if c.remain:
                self.set_state("active", "exited")
                with LOCK:
                    self.phase = "running"
                    while not self.stop_requested:
                        CHANGED.wait(1)
                return self._stop_sequence("stopped", reached_running=True, main=None)
            return self._stop_sequence("success", reached_running=True, main=None)
        self.set_state("active", "running")
        with LOCK:
            self.phase = "running"
        rc = self._wait_proc(main, None)
        if rc == "stopped":
            return self._stop_sequence("stopped", reached_running=True, main=main)
        main_rc = rc
        if rc >= 0 and rc in c.success_status or rc < 0 and -rc in (
                signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            result = "success"
        else:
            result = "exit-code" if rc > 0 else "signal"
        self.note("main process exited, status %s" % self._status(rc))
        return self._stop_sequence(result, reached_running=True, main=None, main_rc=main_rc)

    def _stop_sequence(self, result, reached_running, main, main_rc=None):
        """ExecStop (if the unit got running), SIGTERM/SIGKILL what is left,
        ExecStopPost; then the final state."""
        c = self.cfg
        with LOCK:
            self.phase = "stopping"
            explicit = self.explicit_stop
        if result == "stopped" and explicit:
            self._stop_dependents_first()
        stop_deadline = lambda: (time.monotonic() + c.timeout_stop) if c.timeout_stop else None
        try:
            env = self._env()
        except OSError:
            env = {"PATH": DEFAULT_PATH}
        if main is not None and main.poll() is None:
            env["MAINPID"] = str(main.pid)
        if reached_running and c.stop:
            self.set_state("deactivating", "stop")
            for cmd in c.stop:
                ok, detail = self._run_control(cmd, env, stop_deadline(), "ExecStop",
                                               interruptible=False)
                if not ok and result in ("success", "stopped"):
                    result = detail if detail != "stopped" else "exit-code"
        groups = self._live_groups(list(self.pgids))
        if c.kill_mode == "process":
            groups = [main.pid] if main is not None and main.pid in groups else []
        if groups and c.kill_mode != "none":
            self.set_state("deactivating", "stop-sigterm")
            for g in groups:
                self._kill_group(g, c.kill_signal)
            dl = stop_deadline()
            while self._live_groups(groups) and (dl is None or time.monotonic() < dl):
                time.sleep(0.02)
            left = self._live_groups(groups)
            if left:
                self.set_state("deactivating", "stop-sigkill")
                self.note("TimeoutStopSec expired; sending SIGKILL")
                for g in left:
                    self._kill_group(g, signal.SIGKILL)
                if result in ("success", "stopped"):
                    result = "timeout"
                end = time.monotonic() + 5
                while self._live_groups(left) and time.monotonic() < end:
                    time.sleep(0.02)
        if main is not None and main.returncode is not None:
            main_rc = main.returncode if main_rc is None else main_rc
        # systemd judges the main process's exit status after a stop too:
        # `docker run` exits 143 after `docker stop`, which fails the unit
        # unless SuccessExitStatus=143 (a clean SIGTERM death does not).
        if result == "stopped" and main_rc is not None and main_rc > 0 and \
                main_rc not in c.success_status:
            self.note("main process exited, status %d, after the stop" % main_rc)
            result = "exit-code"
        if c.stop_post:
            self.set_state("deactivating", "stop-post")
            code = ("exited" if main_rc is not None and main_rc >= 0 else
                    "killed" if main_rc is not None else "")
            status = ("" if main_rc is None else str(main_rc) if main_rc >= 0
                      else signal.Signals(-main_rc).name[3:])
            penv = dict(env, SERVICE_RESULT="success" if result == "stopped" else result,
                        EXIT_CODE=code, EXIT_STATUS=status)
            penv.pop("MAINPID", None)
            for cmd in c.stop_post:
                ok, detail = self._run_control(cmd, penv, stop_deadline(), "ExecStopPost",
                                               interruptible=False)
        if c.kill_mode != "none":       # final-sigkill: whatever is left in the "cgroup"
            for g in self._live_groups(list(self.pgids)):
                self._kill_group(g, signal.SIGKILL)
            for p in list(self.procs):
                p.wait()
                self._reap(p)
            self.pgids.clear()
        if result in ("success", "stopped"):
            self.set_state("inactive", "dead")
        else:
            self.note("failed with result '%s'" % result)
            self.set_state("failed", "failed")
        return result

    def _stop_dependents_first(self):
        """An explicit stop of this unit stops the units that BindsTo=,
        Requires= or PartOf= it; those ordered After= it stop first."""
        with LOCK:
            deps = [r for r in SERVER.runners_on(self.machine) if r is not self and r.cfg
                    and self.name in (r.cfg.bindsto + r.cfg.requires + r.cfg.partof)
                    and r.running()] if not self.superseded() else []
            for r in deps:
                r.note("stopping: %s is being stopped" % self.name)
                r.stop(explicit=True)
            first = [r for r in deps if self.name in r.cfg.after
                     or (self.cfg and r.name in self.cfg.before)]
            end = time.monotonic() + 2 * (OPTS.timeout_stop_sec or 10) + 10
            while any(r.running() for r in first) and time.monotonic() < end:
                CHANGED.wait(0.2)

    def _after_cycle(self, result):
        """BindsTo propagation and Restart=."""
        c = self.cfg
        with LOCK:
            stopped_on_purpose = result == "stopped" or self.stop_requested
            want_restart = (not stopped_on_purpose and not SERVER.shutting_down and
                            self.want_start and (
                                c.restart == "always" or
                                c.restart == "on-success" and result == "success" or
                                c.restart == "on-failure" and result != "success" or
                                c.restart == "on-abnormal" and result in ("signal", "timeout") or
                                c.restart == "on-abort" and result == "signal"))
            if want_restart:
                now = time.monotonic()
                self.restarts = [t for t in getattr(self, "restarts", [])
                                 if now - t < c.start_limit_interval]
                if c.start_limit_burst and len(self.restarts) >= c.start_limit_burst:
                    want_restart = False
                    self.note("start request repeated too quickly, refusing to start "
                              "(start-limit-hit)")
                    self.active, self.sub = "failed", "failed"
                    self.publish()
                else:
                    self.restarts.append(now)
            bound = [r for r in SERVER.runners_on(self.machine) if r is not self and r.cfg
                     and r.running() and (self.name in r.cfg.bindsto or want_restart and
                                          self.name in r.cfg.requires + r.cfg.partof)]
            if self.superseded():
                bound = []
            if not want_restart:
                if not stopped_on_purpose:   # stop() or restart() already decided
                    self.want_start = False
                for r in bound:
                    r.note("stopping: bound unit %s went %s" % (self.name, self.active))
                    r.stop(explicit=True)
                return
            self.phase = "restart-wait"
            self.active, self.sub = "activating", "auto-restart"
            self.publish()
            CHANGED.notify_all()
        self.note("scheduling restart in %.1fs (Restart=%s)" % (c.restart_sec, c.restart))
        end = time.monotonic() + c.restart_sec
        with LOCK:
            for r in bound:
                r.note("restarting with %s" % self.name)
                r.restart()
            while time.monotonic() < end and not self.stop_requested:
                CHANGED.wait(max(0.01, end - time.monotonic()))
            if self.stop_requested:
                self.want_start = False
                self.active, self.sub = "inactive", "dead"
                self.publish()
                CHANGED.notify_all()


# ===========================================================================
# the registry and the scheduler (fleet's engine, simplified)
# ===========================================================================

class Unit:
    def __init__(self, name, options, desired):
        self.name = name
        self.set_options(options)
        self.desired = desired
        self.machine = None
        self.desired_since = time.monotonic()

    def set_options(self, options):
        self.options = options
        self.hash = unit_hash(options)

    def to_json(self):
        lagging = (self.machine is not None and time.monotonic() - getattr(
            self, "placed_at", 0) < OPTS.current_state_lag_ms / 1000.0)
        d = {"name": self.name, "desiredState": self.desired,
             "currentState": (self.desired if self.machine and self.desired != "inactive"
                              and not lagging else "inactive"),
             "options": [{k: v for k, v in o.items() if v != ""} for o in self.options]}
        if self.machine:
            d["machineID"] = self.machine.id
        return d


class Fleet:
    def __init__(self, machines):
        self.machines = sorted(machines, key=lambda m: m.id)
        self.units = {}            # name → Unit
        self.runners = []          # Runners, including those still stopping after a DELETE
        self.log_seq = {}
        self.boot_id = uuid.uuid4().hex
        self.shutting_down = False
        self.host_units = set(HOST_UNITS) | set(OPTS.host_unit)
        # (machine id, unit name) -> (active, sub) a stopped unit left in
        # systemd: a failed unit stays failed until it starts again.
        self.last_final = {}
        self.api_down_until = 0.0  # /_test/api: answer 503 until then
        self.down_after_puts = None  # (PUTs to go, down_ms)

    # ---- lookups (call with LOCK) ----
    def runners_on(self, machine):
        return [r for r in self.runners if r.machine is machine]

    def runner_of(self, name, machine):
        """The live runner of fleet unit NAME if it is placed on MACHINE."""
        u = self.units.get(name)
        if u is None:
            # deleted, but the machine's agent has not acted on it yet
            now = time.monotonic()
            for r in self.runners:
                if r.name == name and r.machine is machine and r.retired and \
                        r.stop_at is not None and now < r.stop_at:
                    return r
            return None
        if u.machine is not machine:
            return None
        return self.current_runner(u)

    def is_host_unit(self, name):
        return name in self.host_units or name.endswith(HOST_UNIT_SUFFIXES)

    def current_runner(self, unit):
        for r in self.runners:
            if r.unit is unit and r.machine is unit.machine and not r.retired:
                return r
        return None

    def states(self):
        """UnitStates: a runner is visible from placement until it has
        stopped after its unit was unscheduled or deleted."""
        now = time.monotonic()
        return sorted((r.state_json() for r in self.runners if r.visible(now)),
                      key=lambda s: (s["name"], s["machineID"]))

    # ---- changes from the API (call with LOCK) ----
    def put(self, name, options, desired):
        u = self.units.get(name)
        if u is None:
            self.units[name] = Unit(name, options, desired)
        else:
            if options is not None and options != u.options:
                self._unschedule(u)
                u.set_options(options)
            if desired != u.desired:
                u.desired_since = time.monotonic()
            u.desired = desired
        CHANGED.notify_all()

    def delete(self, name):
        u = self.units.pop(name)
        lag = OPTS.delete_lag_ms / 1000.0
        r = self.current_runner(u)
        if r is not None and lag > 0:
            # fleet drops the state at once, but the machine's agent acts
            # on the DELETE late: a unit it was about to start starts, and
            # is stopped only then
            now = time.monotonic()
            r.retired, r.hide_at, r.stop_at = True, now, now + lag
            r.note("deleted; the agent acts on it in %.1f s" % lag)
            if u.desired == "launched" and not r.running() and \
                    getattr(u, "started_for", None) != u.desired_since:
                r.start("started by a late agent")
            u.machine = None
            CHANGED.notify_all()
            return
        self._unschedule(u)
        if r is not None:
            r.hide_at = time.monotonic()
        CHANGED.notify_all()

    def _unschedule(self, u):
        r = self.current_runner(u)
        if r is not None:
            r.retired = True
            r.stop(explicit=True)
        u.machine = None
        u.desired_since = time.monotonic()

    # ---- the reconciler thread ----
    def reconcile_forever(self):
        while True:
            with LOCK:
                if self.shutting_down:
                    return
                self.reconcile()
                CHANGED.wait(0.05)

    def reconcile(self):
        now = time.monotonic()
        delay = OPTS.placement_delay_ms / 1000.0
        for u in sorted(self.units.values(), key=lambda u: u.name):
            if u.desired == "inactive" and u.machine is not None:
                self._unschedule(u)
            if u.desired in ("loaded", "launched") and u.machine is None and \
                    now - u.desired_since >= delay:
                m = self.place(u)
                if m is not None:
                    u.machine, u.placed_at = m, now
                    r = Runner(u, m)
                    self.runners.append(r)
                    r.note("placed on machine %s (%s)" % (m.name, m.id))
                    old = self.last_final.pop((m.id, u.name), None)
                    if old is not None and old[0] == "failed":
                        # systemd still has the unit, failed: fleet reports
                        # that first, then starts the new one
                        r.active, r.sub = old
                        r.stale = True  # the agent reports it at once
                        r.publish()
                        r.start_not_before = now + OPTS.stale_failed_ms / 1000.0
                        r.note("still failed from before (reported %d ms before the "
                               "start)" % OPTS.stale_failed_ms)
                    u.started_for = None
                    CHANGED.notify_all()
            if u.machine is None:
                continue
            r = self.current_runner(u)
            if r is None:
                continue
            if u.desired == "launched" and getattr(u, "started_for", None) != \
                    u.desired_since and now >= r.start_not_before:
                u.started_for = u.desired_since
                r.start()
            elif u.desired == "loaded" and getattr(u, "started_for", None) is not None:
                u.started_for = None
                r.stop(explicit=True)
        # runners of deleted / unscheduled / replaced units leave once stopped
        for r in list(self.runners):
            if r.retired and r.stop_at is not None and now >= r.stop_at:
                r.stop_at = None
                r.note("the agent acts on the DELETE")
                r.stop(explicit=True)
            if r.retired and r.stop_at is None and not r.running():
                r.note("gone from machine %s, leaving systemd's %s/%s" % (
                    r.machine.name, r.active, r.sub))
                self.runners.remove(r)
                self.last_final[(r.machine.id, r.name)] = (r.active, r.sub)
                CHANGED.notify_all()

    def place(self, u):
        """A machine for u honouring [X-Fleet], or None (stays unplaced)."""
        opts = u.options
        cands = list(self.machines)
        for mid in xfleet_values(opts, "MachineID", u.name):
            cands = [m for m in cands if m.id == mid]
        for peer in xfleet_values(opts, "MachineOf", u.name):
            pu = self.units.get(peer)
            if pu is None or pu.machine is None:
                return None
            cands = [m for m in cands if m is pu.machine]
        want = {}
        for kv in xfleet_values(opts, "MachineMetadata", u.name):
            k, _, v = kv.partition("=")
            want.setdefault(k, set()).add(v)
        cands = [m for m in cands if all(m.metadata.get(k) in vs for k, vs in want.items())]
        mine = xfleet_values(opts, "Conflicts", u.name)

        def conflicts(m):
            for o in self.units.values():
                if o is u or o.machine is not m:
                    continue
                if any(fnmatch.fnmatchcase(o.name, g) for g in mine) or any(
                        fnmatch.fnmatchcase(u.name, g)
                        for g in xfleet_values(o.options, "Conflicts", o.name)):
                    return True
            return False
        cands = [m for m in cands if not conflicts(m)]
        if not cands:
            return None
        load = lambda m: sum(1 for o in self.units.values() if o.machine is m)
        return min(cands, key=lambda m: (load(m), m.id))

    def shutdown(self):
        """Stop every unit (dependents first, via the stop ordering)."""
        with LOCK:
            self.shutting_down = True
            for r in self.runners:
                r.stop(explicit=True)
            end = time.monotonic() + 3 * (OPTS.timeout_stop_sec or 10) + 15
            while any(r.running() for r in self.runners) and time.monotonic() < end:
                CHANGED.wait(0.1)


# ===========================================================================
# the HTTP API
# ===========================================================================

class ApiError(Exception):
    def __init__(self, code, message=""):
        Exception.__init__(self, message)
        self.code, self.message = code, message


def go_json(obj):
    """JSON the way Go's encoding/json writes it (compact, sorted struct
    fields here, and &<> escaped)."""
    s = json.dumps(obj, separators=(",", ":"), sort_keys=True)
    return s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def decode_page_token(value):
    """fleet's PageToken: URL-safe base64 (padded) of two little-endian
    uint16, Limit then Page. Errors worded like Go's."""
    for i, ch in enumerate(value):
        if ch == "=":
            rest = value[i:]
            if i % 4 < 2 or rest.strip("=") or len(value) % 4 or len(rest) > 2:
                raise ApiError(400, "illegal base64 data at input byte %d" % i)
            break
        if ch not in _B64URL:
            raise ApiError(400, "illegal base64 data at input byte %d" % i)
    if len(value) % 4:
        raise ApiError(400, "illegal base64 data at input byte %d" % (len(value) // 4 * 4))
    raw = base64.urlsafe_b64decode(value)
    if len(raw) < 4:
        raise ApiError(400, "EOF" if not raw else "unexpected EOF")
    limit = raw[0] | raw[1] << 8
    page = raw[2] | raw[3] << 8
    if limit != OPTS.page_size:
        raise ApiError(400, "token limit must be %d" % OPTS.page_size)
    if page == 0:
        raise ApiError(400, "token page must be greater than zero")
    return page


def encode_page_token(page):
    lim = OPTS.page_size
    return base64.urlsafe_b64encode(bytes([lim & 255, lim >> 8, page & 255, page >> 8])).decode()


def paginate(items, query, key):
    tokens = query.get("nextPageToken", [])
    if len(tokens) > 1:
        raise ApiError(400, "too many values for page token")
    page = decode_page_token(tokens[0]) if tokens else 1
    lim = OPTS.page_size
    start, stop = (page - 1) * lim, page * lim
    out = {}
    if start < len(items):
        out[key] = items[start:stop]
        if stop < len(items):
            out["nextPageToken"] = encode_page_token(page + 1)
    return out


def validate_name(name):
    """fleet's ValidateName (systemd's unit_name_is_valid)."""
    valid_types = ("service", "socket", "busname", "target", "snapshot", "device", "mount",
                   "automount", "swap", "timer", "path", "slice", "scope")
    if not name:
        raise ApiError(400, "unit name cannot be empty")
    if len(name) > 256:
        raise ApiError(400, "unit name exceeds maximum length (256)")
    dot = name.rfind(".")
    if dot < 0:
        raise ApiError(400, 'unit name must contain "."')
    if dot == len(name) - 1:
        raise ApiError(400, 'unit name cannot end in "."')
    if name[dot + 1:] not in valid_types:
        raise ApiError(400, 'invalid unit type: "%s"' % name[dot + 1:])
    for ch in name[:dot]:
        if not (ch.isascii() and ch.isalnum()) and ch not in ":-_.\\@":
            raise ApiError(400, "invalid character '%s' in unit name" % ch)
    if name.startswith("@"):
        raise ApiError(400, 'unit name cannot start in "@"')


def validate_options(name, options):
    """fleet's ValidateOptions, plus what this fixture refuses."""
    peers = xfleet_values(options, "MachineOf", name)
    conflicts = xfleet_values(options, "Conflicts", name)
    for p in peers:
        for c in conflicts:
            if fnmatch.fnmatchcase(p, c):
                raise ApiError(400, 'unresolvable requirements: peer "%s" matches '
                                    'conflict "%s"' % (p, c))
    has_id = bool(xfleet_values(options, "MachineID", name))
    is_global = any(parse_bool_safe(v) for v in option_values(options, "X-Fleet", "Global"))
    if has_id and peers:
        raise ApiError(400, "MachineID cannot be used with Peers")
    if has_id and conflicts:
        raise ApiError(400, "MachineID cannot be used with Conflicts")
    if has_id and is_global:
        raise ApiError(400, "MachineID cannot be used with Global")
    if is_global and peers:
        raise ApiError(400, "Global cannot be used with Peers")
    if is_global and conflicts:
        raise ApiError(400, "Global cannot be used with Conflicts")
    if is_global:
        raise ApiError(400, "Global=true units are not supported by the fleet test server")


def parse_bool_safe(v):
    try:
        return parse_bool(v)
    except ValueError:
        return False


def decode_unit_body(body):
    """Go's json.Decoder.Decode into schema.Unit: the first JSON value,
    field names matched case-insensitively, types checked."""
    text = body.decode("utf-8", "replace").lstrip(" \t\r\n")
    if not text:
        raise ApiError(400, "unable to decode body: EOF")
    try:
        obj, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text):
            raise ApiError(400, "unable to decode body: unexpected EOF")
        raise ApiError(400, "unable to decode body: invalid character %s %s" % (
            json.dumps(text[e.pos]).replace('"', "'"), e.msg.lower()))
    gotype = lambda v: ("object" if isinstance(v, dict) else "array" if isinstance(v, list)
                        else "string" if isinstance(v, str) else "bool" if isinstance(v, bool)
                        else "number")
    bad = lambda v, t, f: ApiError(400, "unable to decode body: json: cannot unmarshal %s "
                                        "into Go struct field %s of type %s" % (gotype(v), f, t))
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ApiError(400, "unable to decode body: json: cannot unmarshal %s into Go "
                            "value of type schema.Unit" % gotype(obj))
    out = {}
    for k, v in obj.items():
        lk = k.lower()
        if lk in ("name", "desiredstate", "currentstate", "machineid"):
            if v is not None and not isinstance(v, str):
                raise bad(v, "string", "Unit." + k)
            out[lk] = v or ""
        elif lk == "options":
            if v is None:
                continue
            if not isinstance(v, list):
                raise bad(v, "[]*schema.UnitOption", "Unit.options")
            opts = []
            for o in v:
                if o is None:
                    continue
                if not isinstance(o, dict):
                    raise bad(o, "schema.UnitOption", "Unit.options")
                d = {"section": "", "name": "", "value": ""}
                for ok_, ov in o.items():
                    if ok_.lower() in d:
                        if ov is not None and not isinstance(ov, str):
                            raise bad(ov, "string", "UnitOption." + ok_)
                        d[ok_.lower()] = ov or ""
                opts.append(d)
            out["options"] = opts
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_VERSION
    sys_version = ""

    def version_string(self):
        return SERVER_VERSION

    def address_string(self):
        return str(self.client_address[0]) if self.client_address else "unix"

    def log_message(self, fmt, *args):
        log("http: " + fmt % args)

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, code, obj=None):
        body = b"" if obj is None else go_json(obj).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _raw(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self):
        try:
            body = self._body()
            self.route(self.command, body)
        except ApiError as e:
            self._send(e.code, {"error": {"code": e.code, "message": e.message}})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a fixture bug: answer 500 and show it
            import traceback
            traceback.print_exc()
            self._send(500, {"error": {"code": 500, "message": "fleet-test-server: %r" % e}})

    do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def route(self, method, body):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path == "/_test/api":
            return self.test_control(method, query)
        if path == "/":
            raise ApiError(405)
        if time.monotonic() < SERVER.api_down_until:
            raise ApiError(503, "fleet server unable to communicate with etcd")
        for prefix in ("/fleet/v1", "/v1-alpha"):
            if path == prefix:
                raise ApiError(405)
            if not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:]
            if rest in ("discovery", "discovery.json"):
                if method != "GET":
                    raise ApiError(400, "only HTTP GET supported against this resource")
                return self._raw(200, SERVER_DISCOVERY)
            if rest == "machines":
                if method == "GET":
                    with LOCK:
                        items = [m.to_json() for m in SERVER.machines]
                    return self._send(200, paginate(items, query, "machines"))
                raise ApiError(405, "only GET supported against this resource")
            if rest == "units":
                if method != "GET":
                    raise ApiError(405, "only GET supported against this resource")
                with LOCK:
                    items = [u.to_json() for _, u in sorted(SERVER.units.items())]
                return self._send(200, paginate(items, query, "units"))
            if rest.startswith("units/") and "/" not in rest[6:] and rest[6:]:
                return self.unit_item(method, rest[6:], body)
            if rest == "state":
                if method != "GET":
                    raise ApiError(405, "only GET supported against this resource")
                mid = (query.get("machineID") or [""])[0]
                uname = (query.get("unitName") or [""])[0]
                with LOCK:
                    items = [s for s in SERVER.states()
                             if (not mid or s["machineID"] == mid)
                             and (not uname or s["name"] == uname)]
                return self._send(200, paginate(items, query, "states"))
            if rest.startswith("state/") and "/" not in rest[6:] and rest[6:]:
                if method != "GET":
                    raise ApiError(405, "only GET supported against this resource")
                with LOCK:
                    items = [s for s in SERVER.states() if s["name"] == rest[6:]]
                if not items and OPTS.fleet_like:
                    # fleetd v1.0.0 crashes here: the client gets no answer
                    self.close_connection = True
                    return None
                if not items:
                    raise ApiError(404, "unit state does not exist")
                return self._send(200, items[0])
            break
        raise ApiError(404)

    def test_control(self, method, query):
        """Not fleet: POST /_test/api?down_ms=N makes the API answer 503
        "unable to communicate with etcd" for N ms, as fleetd does while it
        restarts (-1: until told otherwise, 0: answer again); with
        after_puts=K, only once K more PUTs have been answered. The units
        keep running, as on real machines."""
        if method != "POST":
            raise ApiError(405, "only POST supported against this resource")
        try:
            ms = int((query.get("down_ms") or ["0"])[0])
            after = int((query.get("after_puts") or ["0"])[0])
        except ValueError:
            raise ApiError(400, "down_ms and after_puts must be numbers")
        with LOCK:
            if after > 0:
                SERVER.down_after_puts = (after, ms)
            else:
                SERVER.down_after_puts = None
                SERVER.api_down_until = (float("inf") if ms < 0 else
                                         time.monotonic() + ms / 1000.0)
        log("API down for %s%s" % ("good" if ms < 0 else "%d ms" % ms,
                                   " after %d PUTs" % after if after > 0 else ""))
        return self._send(204)

    def unit_item(self, method, name, body):
        if method == "GET":
            with LOCK:
                u = SERVER.units.get(name)
                if u is None:
                    raise ApiError(404, "unit does not exist")
                return self._send(200, u.to_json())
        if method == "DELETE":
            with LOCK:
                if name not in SERVER.units:
                    raise ApiError(404, "unit does not exist")
                SERVER.delete(name)
            return self._send(204)
        if method != "PUT":
            raise ApiError(405, "only GET, PUT and DELETE supported against this resource")
        ctypes = self.headers.get_all("Content-Type") or []
        if len(ctypes) != 1:
            raise ApiError(415, "expected 1 Content-Type, got %d" % len(ctypes))
        if ctypes[0].split(";", 1)[0].strip() != "application/json":
            raise ApiError(415, "only acceptable Content-Type is application/json")
        su = decode_unit_body(body)
        if su.get("name") and su["name"] != name:
            raise ApiError(400, 'name in URL "%s" differs from unit name in request body '
                                '"%s"' % (name, su["name"]))
        validate_name(name)
        desired = su.get("desiredstate", "")
        options = su.get("options") or []
        with LOCK:
            existing = SERVER.units.get(name)
            if existing is None and not options:
                raise ApiError(409, "unit does not exist and options field empty")
            if existing is not None and not desired:
                raise ApiError(409, "must provide DesiredState to update existing unit")
            if existing is None and not desired:
                raise ApiError(400, "desiredState is required to create a unit (the fleet "
                                    "test server refuses what fleet would store and break)")
            if desired not in DESIRED_STATES:
                raise ApiError(400, 'invalid desiredState "%s": must be inactive, loaded or '
                                    'launched (fleet answers 204 and breaks the unit; the '
                                    'fleet test server refuses)' % desired)
            if options:
                validate_options(name, options)
            _, inst, _ = unit_name_parts(name)
            if inst == "" and desired != "inactive":
                raise ApiError(400, 'unit "%s" is a template: it can be stored (inactive) but '
                                    'not loaded or launched; PUT an instance such as '
                                    '"%s" instead' % (name, name.replace("@.", "@1.")))
            replaced = existing is not None and options and options != existing.options
            SERVER.put(name, options if options else None, desired)
            if SERVER.down_after_puts is not None:
                left, ms = SERVER.down_after_puts
                SERVER.down_after_puts = (left - 1, ms) if left > 1 else None
                if left <= 1:
                    SERVER.api_down_until = (float("inf") if ms < 0 else
                                             time.monotonic() + ms / 1000.0)
                    log("API down now (after the PUT of %s)" % name)
        return self._send(201 if existing is None or replaced else 204)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


SERVER_DISCOVERY = b""


def load_discovery():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        with open(os.path.join(here, "fleet-v1-discovery.json"), "rb") as f:
            return f.read()
    except OSError:   # an equivalent minimal document
        return go_json({"kind": "discovery#restDescription", "discoveryVersion": "v1",
                        "id": "fleet:v1", "name": "schema", "version": "v1",
                        "title": "fleet API", "basePath": "/fleet/v1/",
                        "rootUrl": "$ENDPOINT/", "servicePath": "fleet/v1/",
                        "protocol": "rest"}).encode()


# ===========================================================================
# main
# ===========================================================================

def main():
    global OPTS, SERVER, SERVER_DISCOVERY
    ap = argparse.ArgumentParser(
        description="fleet API v1 TEST SERVER (a fixture, not fleet): schedules units on "
                    "simulated machines and runs them on this host like systemd.")
    ap.add_argument("--listen", required=True,
                    help="unix:///path/fleet.sock or http://127.0.0.1:PORT (0 = any port)")
    ap.add_argument("--machines", default="m1",
                    help='simulated machines: "NAME[:k=v,k=v] ..." (default: m1)')
    ap.add_argument("--state-dir", help="unit working dirs and logs (default: a temp dir)")
    ap.add_argument("--placement-delay-ms", type=int, default=None,
                    help="how long after a PUT a unit is placed (default 100; fleet: ~1 s)")
    ap.add_argument("--state-delay-ms", type=int, default=None,
                    help="a placed unit shows in /state only this late (default 0; fleet: ~3 s)")
    ap.add_argument("--current-state-lag-ms", type=int, default=None,
                    help="currentState stays inactive this long after placement "
                         "(default 0; fleet: 1-3 s)")
    ap.add_argument("--delete-lag-ms", type=int, default=None,
                    help="a machine acts on a DELETE this late; a unit it was about to "
                         "start starts meanwhile (default 0; fleet: up to ~5 s)")
    ap.add_argument("--stale-failed-ms", type=int, default=None,
                    help="a unit submitted again where it had failed reports the old "
                         "failed/failed this long before it starts (default 500)")
    ap.add_argument("--transient-states", action="store_true", default=None,
                    help="report activating/deactivating in /state (fleet does not)")
    ap.add_argument("--fleet-like", action="store_true",
                    help="the delays and omissions of a real fleet v1.0.0 (placement 1 s, "
                         "/state 3 s, currentState lag 2 s, DELETE lag 4.8 s, no "
                         "transient states, GET state/NAME of a unit without state "
                         "closes the connection); single options override")
    ap.add_argument("--page-size", type=int, default=100,
                    help="items per page of /units, /state, /machines (default 100)")
    ap.add_argument("--timeout-stop-sec", type=float, default=5.0,
                    help="default TimeoutStopSec (default 5; 0 = none)")
    ap.add_argument("--timeout-start-sec", type=float, default=90.0,
                    help="default TimeoutStartSec (default 90; 0 = none)")
    ap.add_argument("--no-exec", action="store_true",
                    help="do not run anything: launched units just report active/running")
    ap.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                    help="pass this variable of the server's environment to units")
    ap.add_argument("--host-unit", action="append", default=[], metavar="NAME",
                    help="a non-fleet unit that dependencies treat as active "
                         "(docker.service and a few more are built in)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    OPTS = ap.parse_args()
    fleet = {"placement_delay_ms": 1000, "state_delay_ms": 3000, "current_state_lag_ms": 2000,
             "delete_lag_ms": 4800, "stale_failed_ms": 2000, "transient_states": False}
    plain = {"placement_delay_ms": 100, "state_delay_ms": 0, "current_state_lag_ms": 0,
             "delete_lag_ms": 0, "stale_failed_ms": 500, "transient_states": True}
    for k, v in (fleet if OPTS.fleet_like else plain).items():
        if getattr(OPTS, k) is None:
            setattr(OPTS, k, v)
    if not 1 <= OPTS.page_size <= 65535:
        ap.error("--page-size must be 1..65535")
    try:
        machines = parse_machines(OPTS.machines)
    except ValueError as e:
        ap.error(str(e))
    if not OPTS.state_dir:
        OPTS.state_dir = tempfile.mkdtemp(prefix="fleet-test-server.")
    OPTS.state_dir = os.path.abspath(OPTS.state_dir)
    os.makedirs(os.path.join(OPTS.state_dir, "logs"), exist_ok=True)
    os.makedirs(os.path.join(OPTS.state_dir, "units"), exist_ok=True)
    SERVER_DISCOVERY = load_discovery()
    SERVER = Fleet(machines)

    if OPTS.listen.startswith("unix://"):
        path = OPTS.listen[len("unix://"):]
        if os.path.exists(path):
            import stat
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
            else:
                ap.error("%s exists and is not a socket" % path)
        httpd = UnixHTTPServer(path, Handler)
        where = "unix://" + path
    elif OPTS.listen.startswith("http://"):
        hp = urllib.parse.urlsplit(OPTS.listen)
        httpd = ThreadingHTTPServer((hp.hostname or "127.0.0.1", hp.port or 0), Handler)
        httpd.daemon_threads = True
        where = "http://%s:%d" % (hp.hostname or "127.0.0.1", httpd.server_address[1])
    else:
        ap.error("--listen wants unix:///path or http://HOST:PORT")

    stop_event = threading.Event()

    def on_signal(signum, frame):
        stop_event.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True, name="http").start()
    threading.Thread(target=SERVER.reconcile_forever, daemon=True, name="reconciler").start()
    log("machines: " + ", ".join("%s=%s %s" % (m.name, m.id, m.metadata) for m in machines))
    log("state dir: " + OPTS.state_dir)
    print("listening on " + where, flush=True)
    while not stop_event.wait(0.5):
        pass
    log("shutting down: stopping every unit")
    SERVER.shutdown()
    httpd.shutdown()
    httpd.server_close()
    if OPTS.listen.startswith("unix://"):
        try:
            os.unlink(OPTS.listen[len("unix://"):])
        except OSError:
            pass
    log("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
