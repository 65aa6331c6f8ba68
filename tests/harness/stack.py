#!/usr/bin/python3
"""Starts, watches and stops a local Meldpunt stack on loopback.

The stack is Redis, one Apache Kafka broker (KRaft, combined broker and controller), an SMTP sink
(smtp_sink.py; for the benchmarks Postfix's smtp-sink or Mailpit, --mail-sink), a webhook sink
and, on request, the four service binaries and the Open311 gateway. With --cluster it has the
production shape instead: three Kafka nodes (replication factor 3, min ISR 2) and each Redis with
a replica under three Sentinels. Every process runs in its own session and outlives this
script; everything about a stack lives in one state folder, described by STATE/stack.json. Used by
tools/dev (the developer's stack) and by the CTest fixtures (one state folder per fixture). See
tests/harness/README.md.

  stack.py start-infra     --state-dir D [--redis-port N] [--key-store-port N] [--kafka-port N] [--smtp-port N]
                           [--webhook-port N] [--kafka-cache DIR] [--fresh]
                           [--secure-kafka [--kafka-departments a,b]]
                           [--mail-sink python|smtp-sink|mailpit [--mailpit PATH]]
                           [--cluster [--redis-replica-port N] [--key-store-replica-port N]
                                      [--sentinel-port N]]
  stack.py start-services  --state-dir D --bin-dir B --config-dir C [--services a,b] [--fixed-ports]
                           (--services intake,open311,...: the gateway after the intake it calls)
  stack.py stop-service    --state-dir D --name S [--signal TERM|KILL]
  stack.py restart-service --state-dir D --name S [--signal TERM|KILL]
  stack.py signal-service  --state-dir D --name S --signal STOP|CONT|HUP
  stack.py stop            --state-dir D [--wipe]
  stack.py status          --state-dir D
  stack.py env             --state-dir D [--shell]

Exit status: 0 on success, 1 on failure, 2 on bad usage; status exits 3 when something recorded
is not running.
"""

import argparse
import base64
import contextlib
import datetime
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HARNESS_DIR))
KAFKA_POM = os.path.join(REPO_ROOT, "tools", "kafka", "pom.xml")
DEFAULT_KAFKA_VERSION = "3.7.2"
LOOPBACK = "127.0.0.1"

INFRA = ["redis", "key_store", "kafka", "smtp_sink", "webhook_sink"]
# Signing secret for the webhooks of the development and test configurations: public, loopback only.
DEV_WEBHOOK_SECRET = "meldpunt-development-webhook-secret"
# name -> (binary under --bin-dir, fixed gRPC port (a gateway's: its HTTP port), fixed admin port)
SERVICES = {
    "intake": ("services/intake/meldpunt-intake", 50051, 9101),
    "open311": ("services/open311/meldpunt-open311", 8311, 9105),
    "routing": ("services/routing/meldpunt-routing", 50052, 9102),
    "deadline_watch": ("services/deadline_watch/meldpunt-deadline-watch", 50053, 9103),
    "notification": ("services/notification/meldpunt-notification", 50054, 9104),
}
# The four event services (the default of start-services): each reads the case log with a Kafka
# principal of its own.
SERVICE_ORDER = ["intake", "routing", "deadline_watch", "notification"]
# HTTP gateways: clients of another service's gRPC port, without Kafka or Redis and without a
# Kafka principal. name -> the service it calls (recorded before the gateway starts).
GATEWAYS = {"open311": "intake"}
# The services that open reporters' personal data and so are told where the key store is; the
# others get neither its address nor its Sentinels (as in deploy/: least privilege).
PRIVACY_SERVICES = {"intake", "notification"}
# The order services start in (a gateway right after the service it calls); they stop in reverse.
START_ORDER = ["intake", "open311", "routing", "deadline_watch", "notification"]

# Kafka principals of a secured broker (--secure-kafka): one SCRAM-SHA-512 user per service, per
# department and for ops, and "admin", the super user of the harness's own tooling and the tests.
SERVICE_PRINCIPALS = {"intake": "intake", "routing": "routing",
                      "deadline_watch": "deadline-watch", "notification": "notification"}
SASL_MECHANISM = "SCRAM-SHA-512"
ADMIN_PRINCIPAL = "admin"
OPS_PRINCIPAL = "ops"
BROKER_CERT_SUBJECT = "CN=meldpunt-kafka-broker"
CASE_TOPIC = "meldpunt.case-events.v1"
AUDIT_TOPIC = "meldpunt.audit.v1"
DLQ_TOPIC = "meldpunt.notifications.dlq.v1"
CASE_DLQ_TOPIC = "meldpunt.case-events.dlq.v1"
DISPATCH_PREFIX = "meldpunt.dispatch."
ROUTING_RULES = os.path.join(REPO_ROOT, "deploy", "config", "routing-rules.yaml")

READY_TIMEOUT = {"kafka": 90.0, "service": 60.0, "default": 30.0}
STOP_TIMEOUT = 15.0
KAFKA_STARTED_MARKER = "Kafka Server started"

# Cluster mode (start-infra --cluster): three Kafka nodes, each a broker and a controller, and each
# Redis (the derived state and the key store) a primary with one replica under three Sentinels.
KAFKA_NODES = ["kafka1", "kafka2", "kafka3"]  # node ids 1, 2, 3
SENTINELS = ["sentinel1", "sentinel2", "sentinel3"]
REDIS_MASTER_NAME = "meldpunt"
KEY_STORE_MASTER_NAME = "meldpunt-keys"
# Sentinel's master name -> (the initial primary, its replica), as named in stack.json.
REDIS_GROUPS = {REDIS_MASTER_NAME: ("redis", "redis_replica"),
                KEY_STORE_MASTER_NAME: ("key_store", "key_store_replica")}
REDIS_PRIMARIES = ["redis", "key_store"]
REDIS_REPLICAS = ["redis_replica", "key_store_replica"]
# Data folder and log name of each Redis node (the key store's were named before the cluster).
REDIS_NODE_DIRS = {"redis": "redis", "key_store": "key-store", "redis_replica": "redis-replica",
                   "key_store_replica": "key-store-replica"}
SENTINEL_QUORUM = 2
SENTINEL_DOWN_AFTER_MS = 2000
SENTINEL_FAILOVER_TIMEOUT_MS = 10000
SENTINEL_PARALLEL_SYNCS = 1
CLUSTER_INFRA = (REDIS_PRIMARIES + REDIS_REPLICAS + SENTINELS + KAFKA_NODES
                 + ["smtp_sink", "webhook_sink"])
CLUSTER_DIRS = ([REDIS_NODE_DIRS[n] for n in REDIS_REPLICAS] + SENTINELS + KAFKA_NODES)
KAFKA_CLUSTER_TIMEOUT = 60.0


class StackError(Exception):
    pass


class Interrupted(Exception):
    pass


def say(msg):
    print("stack: %s" % msg, flush=True)


def warn(msg):
    print("stack: %s" % msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# State folder


def state_path(d):
    return os.path.join(d, "stack.json")


def load_state(d):
    try:
        with open(state_path(d), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise StackError("%s is not valid JSON: %s" % (state_path(d), e))


def save_state(d, st):
    # The "services" view repeats the pid of each service: keep it in step with "processes".
    for name, svc in st.get("services", {}).items():
        rec = st.get("processes", {}).get(name)
        if rec is not None:
            svc["log"] = rec.get("log")
            if rec.get("pid"):
                svc["pid"] = rec["pid"]
            else:
                svc.pop("pid", None)
    tmp = state_path(d) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(st, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state_path(d))


@contextlib.contextmanager
def state_lock(d):
    """Serialises the commands that change one state folder."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Processes
#
# Each child is started with start_new_session=True, so its pid is also its process group and
# session id. A record's "starttime" (from /proc) guards against a recycled pid: a process whose
# start time differs is someone else's and is never signalled.

_children = {}  # pid -> Popen, for the children this invocation started (to reap them)


def proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = data[data.rfind(")") + 2:].split()
    return {"state": rest[0], "pgrp": int(rest[2]), "session": int(rest[3]),
            "starttime": int(rest[19])}


def reap():
    for pid, p in list(_children.items()):
        if p.poll() is not None:
            del _children[pid]


def is_alive(rec):
    reap()
    pid = rec.get("pid") if rec else None
    if not pid:
        return False
    st = proc_stat(pid)
    if st is None or st["state"] in ("Z", "X"):
        return False
    return rec.get("starttime") in (None, st["starttime"])


def session_members(rec):
    """Live processes of the record's session (the leader and anything it forked)."""
    reap()
    sid = rec.get("pid") if rec else None
    if not sid:
        return []
    leader = proc_stat(sid)
    if leader is not None and rec.get("starttime") not in (None, leader["starttime"]):
        return []  # the pid now belongs to another process
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is not None and st["session"] == sid and st["state"] not in ("Z", "X"):
            members.append(int(entry))
    return members


def signal_record(rec, sig):
    for pid in session_members(rec):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def terminate(recs, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Signals each record's session, waits for them to go, then kills what is left."""
    recs = [r for r in recs if r and r.get("pid")]
    for rec in recs:
        signal_record(rec, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(session_members(r) for r in recs):
            return
        time.sleep(0.1)
    for rec in recs:
        if session_members(rec):
            warn("pid %d did not stop within %.0fs, killing it" % (rec["pid"], timeout))
            signal_record(rec, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(session_members(r) for r in recs):
        time.sleep(0.1)


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def spawn(rec):
    """Starts the process a record describes and fills in its pid. The record keeps the command,
    the environment overrides and the working folder, so restart-service can start it again."""
    log = rec["log"]
    os.makedirs(os.path.dirname(log), exist_ok=True)
    env = dict(os.environ)
    for key in rec.get("env_unset", []):
        env.pop(key, None)
    env.update(rec.get("env", {}))
    rec["log_offset"] = file_size(log)
    # cmd_extra: arguments of this start only (a cluster's Redis node: its current role).
    cmd = rec["cmd"] + rec.get("cmd_extra", [])
    with open(log, "ab") as f:
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        f.write(("==== stack.py %s: %s\n" % (stamp, " ".join(cmd))).encode())
        f.flush()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, cwd=rec.get("cwd") or None, env=env,
                             start_new_session=True, close_fds=True)
    _children[p.pid] = p
    st = proc_stat(p.pid)
    rec["pid"] = p.pid
    rec["starttime"] = st["starttime"] if st else None
    rec["started_at"] = time.time()
    return rec


def log_tail(rec, lines=40):
    path = rec.get("log")
    try:
        with open(path, "rb") as f:
            f.seek(rec.get("log_offset", 0))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log at %s)" % path
    return "\n".join(data.splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Ports and readiness


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
            return True
        except OSError:
            pass
    # Connections of a stopped process linger in TIME_WAIT and make a test bind fail, while a
    # server (which sets SO_REUSEADDR) can still listen there: only a listener makes it busy.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect((LOOPBACK, port))
            return False
        except ConnectionRefusedError:
            return True
        except OSError:
            return False


def free_port(taken):
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port
    raise StackError("could not find a free port on %s" % LOOPBACK)


def pick_port(what, requested, previous, taken):
    """A requested port must be free; 0 means the previous run's port if free, else any."""
    if requested:
        if requested in taken or not port_is_free(requested):
            raise StackError("port %d for %s is already in use on %s" % (requested, what, LOOPBACK))
        taken.add(requested)
        return requested
    if previous and previous not in taken and port_is_free(previous):
        taken.add(previous)
        return previous
    return free_port(taken)


def pick_listen(name, kind, fixed, prev, taken, args):
    """A loopback host:port for a service's `kind` port ("grpc", "http", "admin"): the fixed one
    with --fixed-ports, else its previous one when free, else a free one; taken from then on."""
    taken.discard(port_of(prev.get(kind)))
    port = pick_port("%s %s" % (name, kind), fixed if args.fixed_ports else 0,
                     port_of(prev.get(kind)), taken)
    return "%s:%d" % (LOOPBACK, port)


def port_of(address):
    if not address:
        return 0
    m = re.search(r":(\d+)/?$", address)
    return int(m.group(1)) if m else 0


_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RedisReplyError(ValueError):
    """An error reply (-ERR ...) of Redis or Sentinel."""


def read_reply(f):
    """One RESP2 reply from a socket file: str, int, None or a list of those."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode("utf-8", errors="replace")
    if kind == b"-":
        raise RedisReplyError(body.decode("utf-8", errors="replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        n = int(body)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise OSError("connection closed")
        return data[:-2].decode("utf-8", errors="replace")
    if kind == b"*":
        n = int(body)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ValueError("not a RESP reply: %r" % line[:40])


def redis_call(port, *args, timeout=1.0):
    """Sends one command to the Redis or Sentinel on a loopback port and returns its reply."""
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    req = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in parts)
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(req)
        with s.makefile("rb") as f:
            return read_reply(f)


def redis_fields(reply):
    """A flat [key, value, ...] reply (SENTINEL MASTER, an entry of SENTINEL REPLICAS) as a dict."""
    return dict(zip(reply[0::2], reply[1::2])) if isinstance(reply, list) else {}


def redis_info(port, section, timeout=1.0):
    """INFO <section> as a dict of its key:value lines."""
    text = redis_call(port, "INFO", section, timeout=timeout) or ""
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def replication_ready(port):
    """A replica is ready once its link to the primary is up; a primary once it answers."""
    info = redis_info(port, "replication")
    return info.get("role") == "master" or info.get("master_link_status") == "up"


def sentinel_ready(ready):
    """A Sentinel is ready when, for each master name, it names one of the two nodes as the
    master, lists the other as its replica and knows the other two Sentinels (a failover needs
    their votes)."""
    port = ready["port"]
    for name, nodes in ready["groups"].items():
        master = redis_call(port, "SENTINEL", "get-master-addr-by-name", name)
        if not master:
            return False
        address = "%s:%s" % (master[0], master[1])
        if address not in nodes:
            return False
        replicas = ["%s:%s" % (r.get("ip"), r.get("port")) for r in
                    map(redis_fields, redis_call(port, "SENTINEL", "replicas", name) or [])]
        if any(n not in replicas for n in nodes if n != address):
            return False
        if len(redis_call(port, "SENTINEL", "sentinels", name) or []) < len(SENTINELS) - 1:
            return False
    return True


def probe(rec):
    ready = rec.get("ready", {})
    kind = ready.get("kind")
    try:
        if kind == "redis" and ready.get("replication"):
            return redis_call(ready["port"], "PING") == "PONG" and replication_ready(ready["port"])
        if kind == "redis":
            with socket.create_connection((LOOPBACK, ready["port"]), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        if kind == "sentinel":
            return sentinel_ready(ready)
        if kind == "smtp":
            with socket.create_connection((LOOPBACK, ready["port"]), timeout=1) as s:
                ok = s.recv(512).startswith(b"220")
                s.sendall(b"QUIT\r\n")
            if ok and ready.get("url"):  # Mailpit: its HTTP API too
                with _no_proxy.open(ready["url"], timeout=2) as r:
                    ok = r.status == 200
            return ok
        if kind == "kafka":
            with socket.create_connection((LOOPBACK, ready["port"]), timeout=1):
                pass
            with open(rec["log"], "rb") as f:
                f.seek(rec.get("log_offset", 0))
                return KAFKA_STARTED_MARKER.encode() in f.read()
        if kind == "http":
            with _no_proxy.open(ready["url"], timeout=2) as r:
                return r.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return True  # no probe: running is ready


def ready_timeout(rec):
    kind = rec.get("role")
    if rec.get("ready", {}).get("kind") == "kafka":
        return READY_TIMEOUT["kafka"]
    return READY_TIMEOUT["service"] if kind == "service" else READY_TIMEOUT["default"]


def wait_ready(named):
    """Waits until every (name, record) answers its probe; raises with the log tail if one dies
    or runs out of time."""
    start = time.monotonic()
    pending = dict(named)
    while pending:
        for name, rec in list(pending.items()):
            if probe(rec):
                say("%s ready (%.1fs)" % (name, time.monotonic() - start))
                del pending[name]
            elif not is_alive(rec):
                raise StackError("%s exited during start-up; last lines of %s:\n%s"
                                 % (name, rec["log"], log_tail(rec)))
            elif time.monotonic() - start > ready_timeout(rec):
                raise StackError("%s not ready after %.0fs; last lines of %s:\n%s"
                                 % (name, ready_timeout(rec), rec["log"], log_tail(rec)))
        if pending:
            time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# Infrastructure


def kafka_version():
    try:
        with open(KAFKA_POM, encoding="utf-8") as f:
            m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", f.read())
            if m:
                return m.group(1).strip()
    except OSError:
        pass
    return DEFAULT_KAFKA_VERSION


def default_kafka_cache():
    cache = os.environ.get("MELDPUNT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                             "meldpunt")
    return os.path.join(cache, "kafka-%s" % kafka_version())


def find_java():
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    java = shutil.which("java")
    if not java:
        raise StackError("java not found: run tools/setup")
    return java


def default_mailpit():
    cache = os.environ.get("MELDPUNT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                             "meldpunt")
    return os.path.join(cache, "bin", "mailpit")


def record_mail_sink(st, mail, ports):
    """What a reader of stack.json needs of a mail sink other than smtp_sink.py, whose messages
    are files in smtp_dir. smtp-sink keeps none: its counters are in its process's log."""
    if not mail:
        return
    st["mail_sink"] = mail[0]
    if mail[0] == "mailpit":
        # smtp_dir holds Mailpit's database, not .eml files: read the mail through smtp_api.
        st["smtp_api"] = "http://%s:%d" % (LOOPBACK, ports["smtp_api"])


def default_smtp_sink():
    return shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def smtp_sink_record(d, ports, binary):
    """Postfix's smtp-sink (Debian's postfix package; tools/setup installs it and leaves Postfix
    itself unconfigured and stopped) as the SMTP sink, for the benchmarks: Postfix's own test
    server for measuring SMTP clients, one event-driven C process that takes each message through
    DATA and the final "." and throws it away. It stores nothing, so the stand-in for the
    municipality's mail server costs the shared cores as little as an SMTP server can. No AUTH
    (-a: it would answer AUTH with 250, not 235; the stack's notification config sends no
    credentials). Its running counters (-c: "sess=N quit=N mesg=N", each update ending in a
    carriage return) go to its log, where the benchmark reads the messages taken. As root it
    needs a user to drop to after binding its port (-u)."""
    drop = ["-u", "nobody"] if os.geteuid() == 0 else []
    return {
        "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["smtp"]),
        "cmd": [binary] + drop + ["-a", "-c", "-h", "meldpunt-sink",
                                  "%s:%d" % (LOOPBACK, ports["smtp"]), "256"],
        "cwd": d, "log": os.path.join(d, "logs", "smtp_sink.log"),
        "ready": {"kind": "smtp", "port": ports["smtp"]},
    }


def mailpit_record(d, ports, binary):
    """Mailpit (tools/setup installs it) as the SMTP sink, for the benchmarks: a mail catcher of
    its own instead of a Python process. SMTP where smtp_sink.py would listen: plain, no
    STARTTLS (the notification service's smtp:// URL asks for none), any sender and recipient,
    AUTH optional and accepted whatever the credentials, like a relay without a password; its HTTP
    API (GET /api/v1/info: "Messages", RuntimeStats.SMTPAccepted) on a loopback port of its own.
    Every message is kept (--max 0), uncompressed, in a SQLite file in D/mail; nothing of it goes
    off the machine (no version check, no reverse DNS). Go's collector runs a quarter as often
    (GOGC=400: some 15 % less CPU per message for a few MiB more heap)."""
    return {
        "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["smtp"]), "env": {"GOGC": "400"},
        "cmd": [binary, "--smtp", "%s:%d" % (LOOPBACK, ports["smtp"]),
                "--listen", "%s:%d" % (LOOPBACK, ports["smtp_api"]),
                "--database", os.path.join(d, "mail", "mailpit.db"), "--max", "0",
                "--compression", "0", "--max-message-size", "64", "--smtp-auth-accept-any",
                "--smtp-auth-allow-insecure", "--smtp-disable-rdns", "--disable-version-check",
                "--label", "meldpunt-stack", "--quiet"],
        "cwd": d, "log": os.path.join(d, "logs", "smtp_sink.log"),
        "ready": {"kind": "smtp", "port": ports["smtp"],
                  "url": "http://%s:%d/readyz" % (LOOPBACK, ports["smtp_api"])},
    }


def sink_python():
    # The sinks need Debian's python3-aiosmtpd, which only the system interpreter sees.
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def new_cluster_id():
    while True:
        raw = secrets.token_bytes(16)
        cid = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        # A leading '-' would read as an option on the command line; zero ids are reserved.
        if not cid.startswith("-") and any(raw):
            return cid


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def listener_lines(port, ctrl_port, sec):
    """The listeners: open (PLAINTEXT everywhere) or, with `sec`, SASL_SSL for clients (SCRAM,
    ACLs, no one in without a user) and SSL with client certificates for the controller (only the
    broker holds one), so that no port of the broker takes an unauthenticated client."""
    if not sec:
        return [
            "listeners=PLAINTEXT://%s:%d,CONTROLLER://%s:%d" % (LOOPBACK, port, LOOPBACK, ctrl_port),
            "advertised.listeners=PLAINTEXT://%s:%d" % (LOOPBACK, port),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
        ]
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="%s" password="%s";' % (ADMIN_PRINCIPAL, sec["passwords"][ADMIN_PRINCIPAL]))
    return [
        "listeners=SASL_SSL://%s:%d,CONTROLLER://%s:%d" % (LOOPBACK, port, LOOPBACK, ctrl_port),
        "advertised.listeners=SASL_SSL://%s:%d" % (LOOPBACK, port),
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "sasl.enabled.mechanisms=%s" % SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol=%s" % SASL_MECHANISM,
        "listener.name.sasl_ssl.%s.sasl.jaas.config=%s" % (SASL_MECHANISM.lower(), jaas),
        "ssl.keystore.type=PEM",
        "ssl.keystore.location=%s" % sec["keystore"],
        "ssl.truststore.type=PEM",
        "ssl.truststore.location=%s" % sec["ca_file"],
        "listener.name.controller.ssl.client.auth=required",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=User:%s;User:%s" % (ADMIN_PRINCIPAL, BROKER_CERT_SUBJECT),
    ]


def kafka_files(d, port, ctrl_port, sec=None):
    kdir = os.path.join(d, "kafka")
    data = os.path.join(kdir, "data")
    log = os.path.join(d, "logs", "kafka.log")
    props = os.path.join(kdir, "server.properties")
    write_file(props, "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@%s:%d" % (LOOPBACK, ctrl_port),
    ] + listener_lines(port, ctrl_port, sec) + [
        "log.dirs=%s" % data,
        "num.partitions=1",
        "default.replication.factor=1",
        "min.insync.replicas=1",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "group.initial.rebalance.delay.ms=0",
        # After a hard kill the restarted broker cannot register until the controller drops
        # its old registration; a short session keeps a chaos restart at a few seconds.
        "broker.session.timeout.ms=4000",
        "broker.heartbeat.interval.ms=500",
        "num.network.threads=2",
        "num.io.threads=4",
        "num.recovery.threads.per.data.dir=1",
        "log.retention.hours=168",
        "",
    ]))
    log4j, tools_log4j = kafka_log4j_files(kdir, log)
    return {"dir": kdir, "data": data, "log": log, "props": props, "log4j": log4j,
            "tools_log4j": tools_log4j}


def kafka_log4j_files(kdir, log):
    """The broker's log4j configuration (everything into `log`) and the short-lived tools' one
    (warnings to stderr)."""
    log4j = os.path.join(kdir, "log4j.properties")
    write_file(log4j, "\n".join([
        "log4j.rootLogger=INFO, file",
        "log4j.appender.file=org.apache.log4j.FileAppender",
        "log4j.appender.file.File=%s" % log,
        "log4j.appender.file.Append=true",
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "log4j.logger.kafka.request.logger=WARN",
        "log4j.logger.org.apache.kafka.clients.NetworkClient=WARN",
        "",
    ]))
    tools_log4j = os.path.join(kdir, "tools-log4j.properties")
    write_file(tools_log4j, "\n".join([
        "log4j.rootLogger=WARN, stderr",
        "log4j.appender.stderr=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stderr.Target=System.err",
        "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "",
    ]))
    return log4j, tools_log4j


def kafka_node_files(d, name, node_id, port, ctrl_port, voters):
    """One node of the cluster (--cluster): broker and controller like the single node, in
    D/<name>/, one of three voters, with replication factor 3 and min ISR 2."""
    kdir = os.path.join(d, name)
    data = os.path.join(kdir, "data")
    log = os.path.join(d, "logs", name + ".log")
    props = os.path.join(kdir, "server.properties")
    write_file(props, "\n".join([
        "process.roles=broker,controller",
        "node.id=%d" % node_id,
        "controller.quorum.voters=%s" % voters,
    ] + listener_lines(port, ctrl_port, None) + [
        "log.dirs=%s" % data,
        "num.partitions=1",
        "default.replication.factor=3",
        "min.insync.replicas=2",
        "unclean.leader.election.enable=false",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=3",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=3",
        "transaction.state.log.min.isr=2",
        "transaction.state.log.num.partitions=4",
        "group.initial.rebalance.delay.ms=0",
        # As for the single node: a broker restarted after a hard kill registers again within
        # seconds; a fenced broker also leaves the in-sync replicas at once.
        "broker.session.timeout.ms=4000",
        "broker.heartbeat.interval.ms=500",
        "num.network.threads=2",
        "num.io.threads=2",
        "num.recovery.threads.per.data.dir=1",
        "log.retention.hours=168",
        "",
    ]))
    log4j, tools_log4j = kafka_log4j_files(kdir, log)
    return {"dir": kdir, "data": data, "log": log, "props": props, "log4j": log4j,
            "tools_log4j": tools_log4j, "format_log": os.path.join(d, "logs",
                                                                   name + "-format.log")}


def formatted_cluster_id(kf):
    """The cluster id in a formatted node's meta.properties, or None."""
    try:
        with open(os.path.join(kf["data"], "meta.properties"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def start_kafka_format(java, cache, kf, d, sec=None, cluster_id=None):
    """Formats the KRaft log folder once; returns a Popen to wait on, or None if already done.
    With `sec` the SCRAM users go into the first metadata (KIP-900), before the broker starts.
    The nodes of a cluster are each formatted with the same `cluster_id`."""
    if os.path.exists(os.path.join(kf["data"], "meta.properties")):
        return None
    shutil.rmtree(kf["data"], ignore_errors=True)  # a half-finished earlier format
    cluster_id = cluster_id or new_cluster_id()
    write_file(os.path.join(kf["dir"], "cluster.id"), cluster_id + "\n")
    cmd = [java, "-Xmx256m", "-Dlog4j.configuration=file:" + kf["tools_log4j"],
           "-cp", os.path.join(cache, "*"), "kafka.tools.StorageTool", "format",
           "-t", cluster_id, "-c", kf["props"]]
    for name, password in sorted((sec or {}).get("passwords", {}).items()):
        cmd += ["--add-scram", "%s=[name=%s,password=%s]" % (SASL_MECHANISM, name, password)]
    out = open(kf.get("format_log") or os.path.join(d, "logs", "kafka-format.log"), "wb")
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
    finally:
        out.close()
    return p


# ---------------------------------------------------------------------------------------------
# A secured Kafka (--secure-kafka): TLS from a CA of the stack's own, SCRAM users, ACLs


def rules_departments(path=ROUTING_RULES):
    """The department ids of a routing rules file (the `- id:` entries of its departments list);
    a plain scan, so the harness needs no YAML library."""
    departments, inside = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if re.match(r"^departments:\s*$", line):
                inside = True
            elif inside and re.match(r"^[A-Za-z_]", line):
                break
            elif inside:
                m = re.match(r"^  - id:\s*([A-Za-z0-9_-]+)\s*$", line)
                if m:
                    departments.append(m.group(1))
    return departments


def department_principal(department):
    return "dept-%s" % department


def run_openssl(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise StackError("openssl %s failed:\n%s" % (args[0], p.stdout.decode(errors="replace")))


def make_certificates(tls):
    """A CA of this stack's own and the broker's certificate for 127.0.0.1 and localhost (also
    its client certificate on the controller listener). Kept across restarts of the folder."""
    ca, ca_key = os.path.join(tls, "ca.pem"), os.path.join(tls, "ca.key")
    cert, key = os.path.join(tls, "broker.pem"), os.path.join(tls, "broker.key")
    keystore = os.path.join(tls, "broker-keystore.pem")
    if all(os.path.isfile(p) for p in (ca, cert, key, keystore)):
        return ca, keystore
    if not shutil.which("openssl"):
        raise StackError("openssl not found: run tools/setup")
    os.makedirs(tls, mode=0o700, exist_ok=True)
    run_openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
                 "-days", "30", "-subj", "/CN=meldpunt-test-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"], tls)
    csr = os.path.join(tls, "broker.csr")
    run_openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", "/" + BROKER_CERT_SUBJECT], tls)
    ext = os.path.join(tls, "broker.ext")
    write_file(ext, "\n".join([
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        "subjectAltName=IP:%s,DNS:localhost" % LOOPBACK,
        "",
    ]))
    run_openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-out", cert,
                 "-days", "30", "-set_serial", str(secrets.randbits(63)), "-extfile", ext], tls)
    with open(key, encoding="ascii") as k, open(cert, encoding="ascii") as c:
        write_file(keystore, k.read() + c.read())  # Kafka's PEM keystore: key, then chain
    for p in (ca_key, key, keystore):
        os.chmod(p, 0o600)
    return ca, keystore


def kafka_principals(departments):
    return ([ADMIN_PRINCIPAL, OPS_PRINCIPAL] + [SERVICE_PRINCIPALS[n] for n in SERVICE_ORDER]
            + [department_principal(x) for x in departments])


def make_passwords(sdir, principals):
    """A random SCRAM password per principal, one file each (0600); existing ones are kept, as the
    formatted broker already knows them."""
    os.makedirs(sdir, mode=0o700, exist_ok=True)
    passwords, files = {}, {}
    for name in principals:
        path = os.path.join(sdir, name + ".password")
        if not os.path.isfile(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
        with open(path, encoding="ascii") as f:
            passwords[name] = f.read().strip()
        files[name] = path
    return passwords, files


def kafka_acls(departments):
    """The ACLs of a secured broker, as "principal resource-type pattern-type name operation"
    (docs/operations.md has them as a table). Services: the case log (read, write, create), the
    audit trail (write), the case log's dead letters (read, write), their consumer groups (prefix
    meldpunt-<service>); routing the dispatch
    feeds; notification the dead letters; each department its own feed and groups "dept-<id>.*";
    ops the audit trail and the dead letters, and Describe for lag."""
    acls = []

    def allow(principal, rtype, pattern, name, *ops):
        acls.extend("User:%s %s %s %s %s" % (principal, rtype, pattern, name, op) for op in ops)

    groups = {"intake": "meldpunt-intake", "routing": "meldpunt-routing",
              "deadline_watch": "meldpunt-deadline-watch", "notification": "meldpunt-notification"}
    for service in SERVICE_ORDER:
        p = SERVICE_PRINCIPALS[service]
        allow(p, "TOPIC", "LITERAL", CASE_TOPIC, "READ", "WRITE", "DESCRIBE", "CREATE")
        allow(p, "TOPIC", "LITERAL", AUDIT_TOPIC, "WRITE", "DESCRIBE", "CREATE")
        allow(p, "TOPIC", "LITERAL", CASE_DLQ_TOPIC, "READ", "WRITE", "DESCRIBE", "CREATE")
        allow(p, "GROUP", "PREFIXED", groups[service], "READ", "DESCRIBE")
    allow(SERVICE_PRINCIPALS["routing"], "TOPIC", "PREFIXED", DISPATCH_PREFIX,
          "WRITE", "DESCRIBE", "CREATE")
    allow(SERVICE_PRINCIPALS["notification"], "TOPIC", "LITERAL", DLQ_TOPIC,
          "WRITE", "DESCRIBE", "CREATE")
    for department in departments:
        p = department_principal(department)
        allow(p, "TOPIC", "LITERAL", "%s%s.v1" % (DISPATCH_PREFIX, department), "READ", "DESCRIBE")
        allow(p, "GROUP", "PREFIXED", p + ".", "READ", "DESCRIBE")
    allow(OPS_PRINCIPAL, "TOPIC", "LITERAL", AUDIT_TOPIC, "READ", "DESCRIBE")
    allow(OPS_PRINCIPAL, "TOPIC", "LITERAL", DLQ_TOPIC, "READ", "DESCRIBE")
    allow(OPS_PRINCIPAL, "TOPIC", "LITERAL", CASE_DLQ_TOPIC, "READ", "DESCRIBE")
    allow(OPS_PRINCIPAL, "TOPIC", "LITERAL", CASE_TOPIC, "DESCRIBE")
    allow(OPS_PRINCIPAL, "GROUP", "PREFIXED", "ops.", "READ", "DESCRIBE")
    allow(OPS_PRINCIPAL, "GROUP", "PREFIXED", "meldpunt-", "DESCRIBE")
    return acls


def kafka_security(d, departments):
    kdir = os.path.join(d, "kafka")
    ca, keystore = make_certificates(os.path.join(kdir, "tls"))
    passwords, files = make_passwords(os.path.join(kdir, "secrets"),
                                      kafka_principals(departments))
    return {"ca_file": ca, "keystore": keystore, "passwords": passwords, "password_files": files,
            "departments": departments}


def client_properties(sec, principal):
    """librdkafka properties of `principal` on the secured broker."""
    return {"security.protocol": "SASL_SSL", "ssl.ca.location": sec["ca_file"],
            "sasl.mechanisms": SASL_MECHANISM, "sasl.username": principal,
            "sasl.password": sec["passwords"][principal]}


def security_record(sec):
    """What stack.json says about a secured broker (tests/testing/stack.h reads it)."""
    return {
        "protocol": "SASL_SSL",
        "sasl_mechanism": SASL_MECHANISM,
        "ca_file": sec["ca_file"],
        "admin": ADMIN_PRINCIPAL,
        "ops": OPS_PRINCIPAL,
        "services": dict(SERVICE_PRINCIPALS),
        "departments": {x: department_principal(x) for x in sec["departments"]},
        "principals": {name: {"password_file": sec["password_files"][name],
                              "password": sec["passwords"][name]}
                       for name in sorted(sec["passwords"])},
        "admin_properties": client_properties(sec, ADMIN_PRINCIPAL),
    }


def apply_kafka_acls(java, cache, kf, st, sec):
    """Creates the ACLs through the admin principal (tests/harness/KafkaAcls.java: one JVM)."""
    kdir = kf["dir"]
    admin_props = os.path.join(kdir, "admin.properties")
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="%s" password="%s";' % (ADMIN_PRINCIPAL, sec["passwords"][ADMIN_PRINCIPAL]))
    write_file(admin_props, "\n".join([
        "bootstrap.servers=%s" % st["kafka"],
        "security.protocol=SASL_SSL",
        "sasl.mechanism=%s" % SASL_MECHANISM,
        "sasl.jaas.config=%s" % jaas,
        "ssl.truststore.type=PEM",
        "ssl.truststore.location=%s" % sec["ca_file"],
        "",
    ]))
    os.chmod(admin_props, 0o600)
    acl_file = os.path.join(kdir, "acls.txt")
    write_file(acl_file, "\n".join(kafka_acls(sec["departments"])) + "\n")
    cmd = [java, "-Xmx256m", "-Dlog4j.configuration=file:" + kf["tools_log4j"],
           "-cp", os.path.join(cache, "*"), os.path.join(HARNESS_DIR, "KafkaAcls.java"),
           admin_props, acl_file]
    with open(os.path.join(st["logs_dir"], "kafka-acls.log"), "ab") as out:
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=180)
        except subprocess.TimeoutExpired:
            raise StackError("creating the Kafka ACLs took over 180s; see %s/kafka-acls.log"
                             % st["logs_dir"])
    if p.returncode != 0:
        with open(os.path.join(st["logs_dir"], "kafka-acls.log"), errors="replace") as f:
            tail = "\n".join(f.read().splitlines()[-30:])
        raise StackError("creating the Kafka ACLs failed (exit %d):\n%s" % (p.returncode, tail))


def redis_conf_lines(port, data_dir, derived=True):
    """A Redis on loopback with AOF. `derived`: the derived state's, whose AOF rewrites write
    their snapshot uncompressed (rdbcompression no): a third less CPU a rewrite and a base file a
    third larger, so half the rewrite CPU per case (docs/operations.md, "Redis"); and whose hashes
    of values up to 1 KiB (a case's state, a clock) are kept as one listpack instead of a hash
    table (hash-max-listpack-value 1024): less memory, and a fifth less of Redis's CPU in a
    projection rebuild. The key store keeps its small file compressed."""
    return "\n".join([
        "bind %s" % LOOPBACK,
        "port %d" % port,
        "protected-mode no",
        "daemonize no",
        "supervised no",
        'logfile ""',
        "dir %s" % data_dir,
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
    ] + (["rdbcompression no", "hash-max-listpack-value 1024"] if derived else []) + [""])


def infra_records(d, ports, java, cache, kf, mail=None):
    logs = os.path.join(d, "logs")
    redis_dir = os.path.join(d, "redis")
    os.makedirs(redis_dir, exist_ok=True)
    redis_conf = os.path.join(redis_dir, "redis.conf")
    write_file(redis_conf, redis_conf_lines(ports["redis"], redis_dir))
    # The key store of the reporters' data keys: a Redis of its own, so that losing or flushing
    # the derived state (rebuilt from the log) never erases anyone.
    keys_dir = os.path.join(d, "key-store")
    os.makedirs(keys_dir, exist_ok=True)
    keys_conf = os.path.join(keys_dir, "redis.conf")
    write_file(keys_conf, redis_conf_lines(ports["key_store"], keys_dir, derived=False))
    kafka_cmd = kafka_command(java, cache, kf, logs, "768m")
    recs = {
        "redis": {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["redis"]),
            "cmd": ["redis-server", redis_conf], "cwd": redis_dir,
            "log": os.path.join(logs, "redis.log"),
            "ready": {"kind": "redis", "port": ports["redis"]},
        },
        "key_store": {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["key_store"]),
            "cmd": ["redis-server", keys_conf], "cwd": keys_dir,
            "log": os.path.join(logs, "key-store.log"),
            "ready": {"kind": "redis", "port": ports["key_store"]},
        },
        "kafka": {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["kafka"]),
            "cmd": kafka_cmd, "cwd": kf["dir"], "log": kf["log"],
            "ready": {"kind": "kafka", "port": ports["kafka"]},
        },
    }
    recs.update(sink_records(d, ports, mail))
    return recs


def kafka_command(java, cache, kf, logs, max_heap):
    return [java, "-Xms256m", "-Xmx" + max_heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            "-Dlog4j.configuration=file:" + kf["log4j"], "-Dkafka.logs.dir=" + logs,
            "-cp", os.path.join(cache, "*"), "kafka.Kafka", kf["props"]]


def sink_records(d, ports, mail_sink=None):
    logs = os.path.join(d, "logs")
    mail = os.path.join(d, "mail")
    hooks = os.path.join(d, "webhooks")
    py_unset = ["PYTHONPATH", "PYTHONHOME"]
    recs = {
        "smtp_sink": {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports["smtp"]),
            "cmd": [sink_python(), os.path.join(HARNESS_DIR, "smtp_sink.py"),
                    "--port", str(ports["smtp"]), "--dir", mail],
            "cwd": d, "env_unset": py_unset, "log": os.path.join(logs, "smtp_sink.log"),
            "ready": {"kind": "smtp", "port": ports["smtp"]},
        },
        "webhook_sink": {
            "role": "infra", "endpoint": "http://%s:%d" % (LOOPBACK, ports["webhook"]),
            "cmd": [sink_python(), os.path.join(HARNESS_DIR, "webhook_sink.py"),
                    "--port", str(ports["webhook"]), "--dir", hooks],
            "cwd": d, "env_unset": py_unset, "log": os.path.join(logs, "webhook_sink.log"),
            "ready": {"kind": "http",
                      "url": "http://%s:%d/healthz" % (LOOPBACK, ports["webhook"])},
        },
    }
    if mail_sink:
        kind, binary = mail_sink
        recs["smtp_sink"] = (mailpit_record if kind == "mailpit" else smtp_sink_record)(
            d, ports, binary)
    return recs


# ---------------------------------------------------------------------------------------------
# The cluster (--cluster): three Kafka nodes, each Redis a primary and a replica under Sentinel


def split_addresses(value):
    """The host:port parts of a comma separated list (one address is a list of one)."""
    return [a.strip() for a in (value or "").split(",") if a.strip()]


def pick_port_run(what, first, previous, taken, count=3):
    """`count` ports: first, first+1, ... when `first` is given (each must be free), else each
    one's previous port when free, else a free one."""
    if first:
        return [pick_port("%s %d" % (what, i + 1), first + i, 0, taken) for i in range(count)]
    return [pick_port("%s %d" % (what, i + 1), 0, previous[i] if i < len(previous) else 0, taken)
            for i in range(count)]


def sentinel_conf_masters(d):
    """Master name -> "ip:port" as the Sentinels' own files of this folder have it. Sentinel
    rewrites its file at every change (the `sentinel monitor` line names the current master);
    the file with the highest config epoch of a master name is the latest word."""
    best = {}
    for name in SENTINELS:
        monitors, epochs = {}, {}
        try:
            with open(os.path.join(d, name, "sentinel.conf"), encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 5 and parts[:2] == ["sentinel", "monitor"]:
                        monitors[parts[2]] = "%s:%s" % (parts[3], parts[4])
                    elif len(parts) >= 4 and parts[:2] == ["sentinel", "config-epoch"]:
                        epochs[parts[2]] = int(parts[3]) if parts[3].isdigit() else 0
        except OSError:
            continue
        for group, address in monitors.items():
            epoch = epochs.get(group, 0)
            if group not in best or epoch > best[group][0]:
                best[group] = (epoch, address)
    return {group: address for group, (_, address) in best.items()}


def starting_masters(d, prev):
    """Master name -> the node (stack.json name) that starts as the master. A stopped cluster
    starts again with the master its Sentinels last named (after a failover: the promoted
    replica), so that the node with the newest writes is not made a replica of one without
    them; a new one starts with the primaries."""
    conf = sentinel_conf_masters(d) if prev.get("cluster") else {}
    masters = {}
    for group, (primary, replica) in REDIS_GROUPS.items():
        promoted = conf.get(group) and conf.get(group) == prev.get(replica)
        masters[group] = replica if promoted else primary
    return masters


def cluster_redis_conf(port, data_dir, master_port=None, derived=True):
    """A node of a primary-and-replica pair: AOF like the single Redis (`derived`: the derived
    state's settings, as redis_conf_lines; the key store's pair keeps the defaults); a replica
    names its master. The initial sync goes at once (no diskless-sync delay), as any node may be
    the master after a failover."""
    text = redis_conf_lines(port, data_dir, derived) + "repl-diskless-sync-delay 0\n"
    if master_port:
        text += "replicaof %s %d\n" % (LOOPBACK, master_port)
    return text


def sentinel_conf(port, sdir, masters):
    """A Sentinel's first configuration: both master names, quorum 2. Sentinel rewrites the file
    as it learns (replicas, the other Sentinels, failovers), so it lives in a folder of its own."""
    lines = ["bind %s" % LOOPBACK, "port %d" % port, "protected-mode no", "daemonize no",
             'logfile ""', "dir %s" % sdir]
    for group, address in masters.items():
        host, mport = address.rsplit(":", 1)
        lines += ["sentinel monitor %s %s %s %d" % (group, host, mport, SENTINEL_QUORUM),
                  "sentinel down-after-milliseconds %s %d" % (group, SENTINEL_DOWN_AFTER_MS),
                  "sentinel failover-timeout %s %d" % (group, SENTINEL_FAILOVER_TIMEOUT_MS),
                  "sentinel parallel-syncs %s %d" % (group, SENTINEL_PARALLEL_SYNCS)]
    return "\n".join(lines) + "\n"


def cluster_records(d, ports, java, cache, kfs, masters, mail=None):
    """The records of a cluster's infra. `masters`: master name -> the node that starts as the
    master (the other of its pair starts as its replica)."""
    logs = os.path.join(d, "logs")
    recs = {}
    address = {n: "%s:%d" % (LOOPBACK, ports[n]) for n in REDIS_PRIMARIES + REDIS_REPLICAS}
    for group, nodes in REDIS_GROUPS.items():
        master = masters[group]
        for name in nodes:
            ndir = os.path.join(d, REDIS_NODE_DIRS[name])
            os.makedirs(ndir, exist_ok=True)
            conf = os.path.join(ndir, "redis.conf")
            write_file(conf, cluster_redis_conf(ports[name], ndir,
                                                None if name == master else ports[master],
                                                derived=group == REDIS_MASTER_NAME))
            recs[name] = {
                "role": "infra", "endpoint": address[name],
                "cmd": ["redis-server", conf], "cwd": ndir,
                "log": os.path.join(logs, REDIS_NODE_DIRS[name] + ".log"),
                "ready": {"kind": "redis", "port": ports[name], "replication": True},
            }
    current = {group: address[masters[group]] for group in REDIS_GROUPS}
    groups = {group: [address[n] for n in nodes] for group, nodes in REDIS_GROUPS.items()}
    for name in SENTINELS:
        sdir = os.path.join(d, name)
        conf = os.path.join(sdir, "sentinel.conf")
        write_file(conf, sentinel_conf(ports[name], sdir, current))
        recs[name] = {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports[name]),
            "cmd": ["redis-server", conf, "--sentinel"], "cwd": sdir,
            "log": os.path.join(logs, name + ".log"),
            "ready": {"kind": "sentinel", "port": ports[name], "groups": groups},
        }
    for name in KAFKA_NODES:
        kf = kfs[name]
        recs[name] = {
            "role": "infra", "endpoint": "%s:%d" % (LOOPBACK, ports[name]),
            "cmd": kafka_command(java, cache, kf, logs, "512m"), "cwd": kf["dir"],
            "log": kf["log"], "ready": {"kind": "kafka", "port": ports[name]},
        }
    recs.update(sink_records(d, ports, mail))
    return recs


def redis_group_of(name):
    return next((g for g, nodes in REDIS_GROUPS.items() if name in nodes), None)


def sentinel_master(st, group):
    """(address, flags) of `group`'s master as the running Sentinels name it (the answer with
    the highest config epoch), else as their files have it (flags ""); (None, "") if neither."""
    best = None
    for address in split_addresses(st.get("redis_sentinels")):
        try:
            f = redis_fields(redis_call(port_of(address), "SENTINEL", "master", group))
        except (OSError, ValueError):
            continue
        if not f.get("ip"):
            continue
        epoch = int(f.get("config-epoch") or 0)
        if best is None or epoch > best[0]:
            best = (epoch, "%s:%s" % (f["ip"], f["port"]), f.get("flags", ""))
    if best:
        return best[1], best[2]
    return sentinel_conf_masters(st["state_dir"]).get(group), ""


def redis_role_args(st, name):
    """The arguments that start Redis node `name` of a cluster again in the role the Sentinels
    give it: --replicaof <master> when another node is the master (so an old primary restarted
    after a failover comes back as a replica, not as a second master), --replicaof no one when it
    is the master itself. While the Sentinels hold the master it is down and its pair is up, a
    failover is under way: wait for it to end (at most the failover timeout) first."""
    group = redis_group_of(name)
    if not st.get("cluster") or group is None:
        return []
    me = st.get(name)
    other = [n for n in REDIS_GROUPS[group] if n != name][0]
    deadline = time.monotonic() + SENTINEL_FAILOVER_TIMEOUT_MS / 1000.0 + 5
    while True:
        master, flags = sentinel_master(st, group)
        if master is None:
            warn("no Sentinel names the master of %s; starting %s as configured" % (group, name))
            return []
        failing_over = set(flags.split(",")) & {"s_down", "o_down", "failover_in_progress"}
        if (master == me and failing_over and is_alive(st["processes"].get(other))
                and time.monotonic() < deadline):
            time.sleep(0.2)
            continue
        break
    if master == me:
        return ["--replicaof", "no", "one"]
    host, port = master.rsplit(":", 1)
    say("%s: the Sentinels name %s the master of %s; starting %s as its replica"
        % (name, master, group, name))
    return ["--replicaof", host, port]


def respawn(st, name, rec):
    """Starts a recorded process again (restart-service, a partly running start-infra)."""
    rec["cmd_extra"] = redis_role_args(st, name)
    if not rec["cmd_extra"]:
        rec.pop("cmd_extra")
    return spawn(rec)


def wait_kafka_cluster(java, cache, kf, st, timeout=KAFKA_CLUSTER_TIMEOUT):
    """Waits until a client that bootstraps from the cluster is told of all three brokers
    (kafka.admin.BrokerApiVersionsCommand from the jars: one short JVM per try)."""
    t0 = time.monotonic()
    want = set(range(1, len(KAFKA_NODES) + 1))
    cmd = [java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
           "-Dlog4j.configuration=file:" + kf["tools_log4j"], "-cp", os.path.join(cache, "*"),
           "kafka.admin.BrokerApiVersionsCommand", "--bootstrap-server", st["kafka"]]
    while True:
        left = timeout - (time.monotonic() - t0)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=max(left, 10))
            out = p.stdout.decode("utf-8", errors="replace")
        except subprocess.TimeoutExpired:
            out = "(no answer within %.0fs)" % max(left, 10)
        seen = {int(x) for x in re.findall(r"\(id: (\d+) rack:", out)}
        elapsed = time.monotonic() - t0
        if want <= seen:
            say("kafka cluster: brokers %s registered (%.1fs)"
                % (",".join(map(str, sorted(seen))), elapsed))
            return
        if elapsed > timeout:
            raise StackError("the Kafka cluster at %s shows brokers {%s}, not {1,2,3}, after %.0fs:"
                             "\n%s" % (st["kafka"], ",".join(map(str, sorted(seen))), elapsed,
                                       "\n".join(out.splitlines()[-20:])))
        time.sleep(1)


def fresh_cluster_infra(d, args, ctx, started):
    """fresh_infra for --cluster: three Kafka nodes, Redis and the key store each with a
    replica, three Sentinels, the sinks."""
    prev = ctx["st"] or {}
    taken = set()
    ports = {}
    for name, requested in (("redis", args.redis_port), ("key_store", args.key_store_port),
                            ("redis_replica", args.redis_replica_port),
                            ("key_store_replica", args.key_store_replica_port)):
        ports[name] = pick_port(name.replace("_", " "), requested, port_of(prev.get(name)), taken)
    run = pick_port_run("sentinel", args.sentinel_port,
                        [port_of(a) for a in split_addresses(prev.get("redis_sentinels"))], taken)
    ports.update(zip(SENTINELS, run))
    prev_nodes = prev.get("kafka_nodes") or {}
    run = pick_port_run("kafka", args.kafka_port,
                        [port_of(prev_nodes.get(n)) for n in KAFKA_NODES], taken)
    ports.update(zip(KAFKA_NODES, run))
    run = pick_port_run("kafka controller", 0, [port_of(a) for a in split_addresses(
        prev.get("kafka_controller"))], taken)
    ports.update(zip([n + "_controller" for n in KAFKA_NODES], run))
    mail = pick_sink_ports(args, prev, taken, ports)
    cache, java = infra_tools(args)
    for sub in ["logs", "mail", "webhooks"] + CLUSTER_DIRS + [
            REDIS_NODE_DIRS[n] for n in REDIS_PRIMARIES]:
        os.makedirs(os.path.join(d, sub), exist_ok=True)

    def at(name):
        return "%s:%d" % (LOOPBACK, ports[name])

    st = {
        "state_dir": d,
        "cluster": True,
        "redis": at("redis"),
        "key_store": at("key_store"),
        "kafka": ",".join(at(n) for n in KAFKA_NODES),
        "kafka_controller": ",".join(at(n + "_controller") for n in KAFKA_NODES),
        "kafka_nodes": {n: at(n) for n in KAFKA_NODES},
        "redis_replica": at("redis_replica"),
        "key_store_replica": at("key_store_replica"),
        "redis_sentinels": ",".join(at(n) for n in SENTINELS),
        "redis_master_name": REDIS_MASTER_NAME,
        "key_store_master_name": KEY_STORE_MASTER_NAME,
        "smtp": at("smtp"),
        "smtp_dir": os.path.join(d, "mail"),
        "webhook": "http://%s" % at("webhook"),
        "webhook_dir": os.path.join(d, "webhooks"),
        "logs_dir": os.path.join(d, "logs"),
        "processes": {},
    }
    record_mail_sink(st, mail, ports)
    ctx["st"] = st
    masters = starting_masters(d, prev)
    voters = ",".join("%d@%s" % (i + 1, at(n + "_controller")) for i, n in enumerate(KAFKA_NODES))
    kfs = {n: kafka_node_files(d, n, i + 1, ports[n], ports[n + "_controller"], voters)
           for i, n in enumerate(KAFKA_NODES)}
    # One cluster id for the three: the one a node was formatted with, else a new one.
    cluster_id = next(filter(None, map(formatted_cluster_id, kfs.values())), None) \
        or new_cluster_id()
    recs = cluster_records(d, ports, java, cache, kfs, masters, mail)
    first = [masters[g] for g in REDIS_GROUPS]
    then = [n for g, nodes in REDIS_GROUPS.items() for n in nodes if n != masters[g]]

    def start(names):
        for name in names:
            st["processes"][name] = spawn(recs[name])
            started.append(name)
            save_state(d, st)

    # Formatting costs a JVM start per node: it runs while Redis and the Sentinels come up.
    fmts = {}
    try:
        for name in KAFKA_NODES:
            p = start_kafka_format(java, cache, kfs[name], d, None, cluster_id)
            if p is not None:
                fmts[name] = p
        start(first + ["smtp_sink", "webhook_sink"])
        start(then)
        # The Sentinels start once the replicas are in sync, so that their first look at each
        # master lists its replica (the next one is 10 s later).
        wait_ready([(n, st["processes"][n]) for n in first + then])
        start(SENTINELS)
        for name in KAFKA_NODES:
            p = fmts.get(name)
            if p is None:
                continue
            rc = p.wait(timeout=90)
            del fmts[name]
            if rc != 0:
                with open(kfs[name]["format_log"], errors="replace") as f:
                    out = f.read()
                shutil.rmtree(kfs[name]["data"], ignore_errors=True)
                raise StackError("formatting the storage of %s failed (exit %d):\n%s"
                                 % (name, rc, out))
        start(KAFKA_NODES)
    finally:
        for p in fmts.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    wait_ready([(n, st["processes"][n]) for n in CLUSTER_INFRA if n not in first + then])
    wait_kafka_cluster(java, cache, kfs[KAFKA_NODES[0]], st)
    return st


def print_summary(st):
    keys = [k for k in ("redis", "redis_replica", "key_store", "key_store_replica",
                        "redis_sentinels", "kafka", "smtp", "smtp_dir", "smtp_api", "webhook",
                        "webhook_dir") if k in st]
    w = max([15] + [len(k) for k in keys])
    for key in keys:
        print("  %-*s %s" % (w, key, st[key]))
    for name, svc in st.get("services", {}).items():
        if svc.get("http"):
            print("  %-*s http://%s  admin http://%s" % (w, name, svc["http"], svc["admin"]))
        else:
            print("  %-*s grpc %s  admin http://%s" % (w, name, svc["grpc"], svc["admin"]))
    print("  %-*s %s" % (w, "state", state_path(st["state_dir"])), flush=True)


@contextlib.contextmanager
def interruptible():
    """Turns SIGTERM/SIGINT into an exception, so a start that is cut short cleans up."""
    def raise_interrupted(signum, _frame):
        raise Interrupted("interrupted by signal %d" % signum)
    old = {s: signal.signal(s, raise_interrupted) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def stop_records(d, st, names):
    recs = [st["processes"][n] for n in names if n in st.get("processes", {})]
    terminate(recs)
    for rec in recs:
        forget_pid(rec)
    save_state(d, st)


def forget_pid(rec):
    """A stopped process keeps its record (for restart-service) but loses its pid."""
    rec.pop("pid", None)
    rec.pop("starttime", None)


def shape_mismatch(d, st, cluster):
    """A folder keeps the shape it was made with (one node or the cluster): a message asking for
    --fresh when `cluster` is the other one, else None."""
    if st and st.get("processes"):
        made_cluster = bool(st.get("cluster"))
    elif os.path.exists(os.path.join(d, "kafka", "data", "meta.properties")):
        made_cluster = False
    elif any(os.path.exists(os.path.join(d, n, "data", "meta.properties")) for n in KAFKA_NODES):
        made_cluster = True
    else:
        return None
    if made_cluster == bool(cluster):
        return None
    return ("the stack in %s was made as %s; start it again %s, or use --fresh (which deletes "
            "its data)" % (d, "a cluster (--cluster)" if made_cluster else "one node",
                           "with --cluster" if made_cluster else "without --cluster"))


def cmd_start_infra(args):
    d = os.path.abspath(args.state_dir)
    if args.cluster and args.secure_kafka:
        warn("--secure-kafka does not go with --cluster: the cluster's Kafka is open (plaintext, "
             "no authentication, no ACLs); a locked broker is the one-node stack's")
        return 2
    if args.fresh:
        cmd_stop(argparse.Namespace(state_dir=d, wipe=True))
    with state_lock(d), interruptible():
        st = load_state(d)
        problem = shape_mismatch(d, st, args.cluster)
        if problem:
            warn("start-infra: %s" % problem)
            return 1
        names = CLUSTER_INFRA if args.cluster else INFRA
        procs = (st or {}).get("processes", {})
        alive = [n for n in names if is_alive(procs.get(n))]
        if st and len(alive) == len(names):
            say("infra already running in %s" % d)
            if not args.quiet:
                print_summary(st)
            return 0
        started = []
        ctx = {"st": st}
        t0 = time.monotonic()
        try:
            if st and alive and all(n in procs for n in names):
                # Part of a recorded stack is up: bring back the rest exactly as recorded (a
                # cluster's Redis node in the role its Sentinels give it).
                dead = [n for n in names if n not in alive]
                say("infra partly running in %s; restarting %s" % (d, ", ".join(dead)))
                for n in dead:
                    respawn(st, n, procs[n])
                    started.append(n)
                    save_state(d, st)
                wait_ready([(n, procs[n]) for n in dead])
                if set(dead) & set(KAFKA_NODES):
                    cache, java = infra_tools(args)
                    wait_kafka_cluster(java, cache, {"tools_log4j": os.path.join(
                        d, KAFKA_NODES[0], "tools-log4j.properties")}, st)
            elif args.cluster:
                st = fresh_cluster_infra(d, args, ctx, started)
            else:
                st = fresh_infra(d, args, ctx, started)
        except (StackError, Interrupted, OSError) as e:
            warn("start-infra failed: %s" % e)
            if started:
                warn("stopping what was started: %s" % ", ".join(started))
                stop_records(d, ctx["st"], started)
            return 1
        say("infra ready in %.1fs" % (time.monotonic() - t0))
        if not st.get("kafka_security"):
            say("NOTE: Kafka on %s is OPEN: plaintext, no authentication, no ACLs (development "
                "on loopback only; start-infra --secure-kafka locks it)" % st["kafka"])
        if not args.quiet:
            print_summary(st)
        return 0


def pick_sink_ports(args, prev, taken, ports):
    """The sinks' ports into `ports`; returns the mail sink as (kind, binary) for Mailpit or
    Postfix's smtp-sink, or None for smtp_sink.py."""
    ports["smtp"] = pick_port("smtp sink", args.smtp_port, port_of(prev.get("smtp")), taken)
    ports["webhook"] = pick_port("webhook sink", args.webhook_port, port_of(prev.get("webhook")),
                                 taken)
    kind = getattr(args, "mail_sink", "python")
    if kind == "mailpit":
        ports["smtp_api"] = pick_port("mailpit api", 0, port_of(prev.get("smtp_api")), taken)
        binary = os.path.abspath(args.mailpit or default_mailpit())
    elif kind == "smtp-sink":
        binary = default_smtp_sink()
    else:
        return None
    if not os.access(binary, os.X_OK):
        raise StackError("%s not found: run tools/setup%s" % (
            binary, " (or pass --mailpit)" if kind == "mailpit" else ""))
    return kind, binary


def infra_tools(args):
    """(the Kafka jar folder, java), once Kafka's jars and redis-server are known to be there."""
    cache = os.path.abspath(args.kafka_cache or default_kafka_cache())
    jar = os.path.join(cache, "kafka_2.13-%s.jar" % kafka_version())
    if not os.path.isfile(jar):
        raise StackError("%s not found: run tools/setup (or pass --kafka-cache)" % jar)
    if not shutil.which("redis-server"):
        raise StackError("redis-server not found: run tools/setup")
    return cache, find_java()


def fresh_infra(d, args, ctx, started):
    """Starts all four from scratch. ctx["st"] is the state being built, for cleanup on failure;
    started lists what is running so far."""
    prev = ctx["st"] or {}
    taken = set()
    ports = {
        "redis": pick_port("redis", args.redis_port, port_of(prev.get("redis")), taken),
        "key_store": pick_port("key store", args.key_store_port, port_of(prev.get("key_store")),
                               taken),
        "kafka": pick_port("kafka", args.kafka_port, port_of(prev.get("kafka")), taken),
        "kafka_controller": pick_port("kafka controller", 0,
                                      port_of(prev.get("kafka_controller")), taken),
    }
    mail = pick_sink_ports(args, prev, taken, ports)
    cache, java = infra_tools(args)
    for sub in ("logs", "mail", "webhooks", "redis", "key-store", "kafka"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    # The broker's storage remembers whether it was formatted with SCRAM users: a folder keeps
    # the kind of broker it was made with.
    formatted = os.path.exists(os.path.join(d, "kafka", "data", "meta.properties"))
    if formatted and bool(prev.get("kafka_security")) != bool(args.secure_kafka):
        raise StackError("the Kafka data in %s was made %s; start it again %s, or use --fresh"
                         % (d, "secured" if prev.get("kafka_security") else "open",
                            "with --secure-kafka" if prev.get("kafka_security")
                            else "without --secure-kafka"))
    sec = None
    if args.secure_kafka:
        departments = ([x.strip() for x in args.kafka_departments.split(",") if x.strip()]
                       if args.kafka_departments is not None else rules_departments())
        if formatted:
            # The formatted broker knows the users it was made with.
            departments = list(prev["kafka_security"].get("departments", {}))
        sec = kafka_security(d, departments)

    st = {
        "state_dir": d,
        "redis": "%s:%d" % (LOOPBACK, ports["redis"]),
        "key_store": "%s:%d" % (LOOPBACK, ports["key_store"]),
        "kafka": "%s:%d" % (LOOPBACK, ports["kafka"]),
        "kafka_controller": "%s:%d" % (LOOPBACK, ports["kafka_controller"]),
        "smtp": "%s:%d" % (LOOPBACK, ports["smtp"]),
        "smtp_dir": os.path.join(d, "mail"),
        "webhook": "http://%s:%d" % (LOOPBACK, ports["webhook"]),
        "webhook_dir": os.path.join(d, "webhooks"),
        "logs_dir": os.path.join(d, "logs"),
        "processes": {},
    }
    record_mail_sink(st, mail, ports)
    if sec:
        st["kafka_security"] = security_record(sec)
    ctx["st"] = st
    kf = kafka_files(d, ports["kafka"], ports["kafka_controller"], sec)
    recs = infra_records(d, ports, java, cache, kf, mail)
    # Formatting Kafka's storage costs a JVM start: do it while the others come up.
    fmt = start_kafka_format(java, cache, kf, d, sec)
    try:
        for name in ("redis", "key_store", "smtp_sink", "webhook_sink"):
            st["processes"][name] = spawn(recs[name])
            started.append(name)
            save_state(d, st)
        if fmt is not None:
            rc = fmt.wait(timeout=60)
            if rc != 0:
                with open(os.path.join(d, "logs", "kafka-format.log"), errors="replace") as f:
                    out = f.read()
                shutil.rmtree(kf["data"], ignore_errors=True)
                raise StackError("formatting Kafka storage failed (exit %d):\n%s" % (rc, out))
            fmt = None
        st["processes"]["kafka"] = spawn(recs["kafka"])
        started.append("kafka")
        save_state(d, st)
    finally:
        if fmt is not None and fmt.poll() is None:
            fmt.kill()
            fmt.wait()
    wait_ready([(n, st["processes"][n]) for n in INFRA])
    if sec:
        t0 = time.monotonic()
        apply_kafka_acls(java, cache, kf, st, sec)
        say("kafka secured: SASL_SSL (%s) with TLS from the stack's own CA, %d principals, ACLs "
            "(%.1fs)" % (SASL_MECHANISM, len(sec["passwords"]), time.monotonic() - t0))
    return st


# ---------------------------------------------------------------------------------------------
# Services


def cmd_start_services(args):
    d = os.path.abspath(args.state_dir)
    bin_dir = os.path.abspath(args.bin_dir)
    config_dir = os.path.abspath(args.config_dir)
    bases = [n.strip() for n in args.services.split(",") if n.strip()]
    unknown = [n for n in bases if n not in SERVICES]
    if unknown:
        warn("unknown service(s): %s (known: %s)" % (", ".join(unknown), ", ".join(START_ORDER)))
        return 2
    # A gateway starts after the service it calls, whatever the order given.
    bases.sort(key=START_ORDER.index)
    if args.instance is not None and (args.instance < 2 or args.fixed_ports):
        warn("--instance must be 2 or more, and cannot go with --fixed-ports")
        return 2
    # A replica runs as <service>-<instance>: same binary and config, its own ports and log.
    suffix = "" if args.instance is None else "-%d" % args.instance
    base_of = {b + suffix: b for b in bases}
    names = list(base_of)
    with state_lock(d), interruptible():
        st = load_state(d)
        if not st:
            warn("no stack in %s: run start-infra first" % d)
            return 1
        procs = st.setdefault("processes", {})
        event_services = any(b not in GATEWAYS for b in bases)
        needed = (["redis", "key_store", "kafka"] if event_services and not st.get("cluster")
                  else []) + (["smtp_sink", "webhook_sink"] if "notification" in bases else [])
        down = [n for n in needed if not is_alive(procs.get(n))]
        if event_services and st.get("cluster"):
            down += cluster_short(procs)
        if down:
            warn("infra not running in %s (%s): run start-infra first" % (d, ", ".join(down)))
            return 1
        # A gateway is given the gRPC address of the service it calls: that one must be running,
        # or be started by this command before it.
        for base in bases:
            upstream = GATEWAYS.get(base)
            if upstream and upstream not in bases and not (
                    is_alive(procs.get(upstream))
                    and st.get("services", {}).get(upstream, {}).get("grpc")):
                warn("%s calls the gRPC port of %s, which is not running in %s: start %s first "
                     "(or both: --services %s,%s)" % (base, upstream, d, upstream, upstream, base))
                return 1

        todo = []
        for name in names:
            if is_alive(procs.get(name)):
                say("%s already running (pid %d)" % (name, procs[name]["pid"]))
            else:
                todo.append(name)
        problems = []
        for name in todo:
            binary = os.path.join(bin_dir, SERVICES[base_of[name]][0])
            config = os.path.join(config_dir, base_of[name] + ".yaml")
            if not os.access(binary, os.X_OK):
                problems.append("binary not found or not executable: %s" % binary)
            if not os.path.isfile(config):
                problems.append("config not found: %s" % config)
        if problems:
            for p in problems:
                warn(p)
            return 1

        services = st.setdefault("services", {})
        taken = {port_of(a) for k in ("redis", "key_store", "redis_replica", "key_store_replica",
                                      "redis_sentinels", "kafka", "kafka_controller", "smtp",
                                      "smtp_api", "webhook") for a in split_addresses(st.get(k))}
        for svc in services.values():
            taken.update({port_of(svc.get(k)) for k in ("grpc", "http", "admin")})
        started = []
        try:
            for name in todo:
                base = base_of[name]
                if base in GATEWAYS:
                    start_gateway(d, st, args, name, base, bin_dir, config_dir, taken)
                    started.append(name)
                    continue
                binary_rel, grpc_fixed, admin_fixed = SERVICES[base]
                prev = services.get(name, {})
                grpc = pick_listen(name, "grpc", grpc_fixed, prev, taken, args)
                admin = pick_listen(name, "admin", admin_fixed, prev, taken, args)
                env = {
                    "MELDPUNT_KAFKA_BROKERS": st["kafka"],
                    "MELDPUNT_REDIS_ADDRESS": st["redis"],
                    "MELDPUNT_GRPC_LISTEN": grpc,
                    "MELDPUNT_ADMIN_LISTEN": admin,
                }
                if base in PRIVACY_SERVICES:
                    env["MELDPUNT_PRIVACY_KEY_STORE_ADDRESS"] = st["key_store"]
                if st.get("cluster"):
                    env.update(cluster_env(st, privacy=base in PRIVACY_SERVICES))
                sec = st.get("kafka_security")
                if sec:
                    # Each service as its own principal (its ACLs), over SASL_SSL.
                    principal = sec["services"][base]
                    env.update({
                        "MELDPUNT_KAFKA_SECURITY_PROTOCOL": sec["protocol"],
                        "MELDPUNT_KAFKA_TLS_CA_FILE": sec["ca_file"],
                        "MELDPUNT_KAFKA_SASL_MECHANISM": sec["sasl_mechanism"],
                        "MELDPUNT_KAFKA_SASL_USERNAME": principal,
                        "MELDPUNT_KAFKA_SASL_PASSWORD_FILE":
                            sec["principals"][principal]["password_file"],
                    })
                if base == "notification":
                    env["MELDPUNT_SMTP_URL"] = "smtp://%s" % st["smtp"]
                    env["MELDPUNT_WEBHOOK_BASE_URL"] = st["webhook"]
                    # Signing secret of the webhooks in the dev and test configs (loopback only).
                    env["MELDPUNT_DEV_WEBHOOK_SECRET"] = DEV_WEBHOOK_SECRET
                rec = {
                    "role": "service", "endpoint": grpc,
                    "cmd": [os.path.join(bin_dir, binary_rel), "--config",
                            os.path.join(config_dir, base + ".yaml")],
                    "cwd": args.cwd or REPO_ROOT, "env": env,
                    "log": os.path.join(d, "logs", name + ".log"),
                    "ready": {"kind": "http", "url": "http://%s/readyz" % admin},
                }
                procs[name] = spawn(rec)
                services[name] = {"grpc": grpc, "admin": admin, "pid": rec["pid"],
                                  "log": rec["log"]}
                started.append(name)
                save_state(d, st)
                say("started %s (pid %d, grpc %s, admin %s)" % (name, rec["pid"], grpc, admin))
            wait_ready([(n, procs[n]) for n in started])
        except (StackError, Interrupted, OSError) as e:
            warn("start-services failed: %s" % e)
            save_state(d, st)
            return 1
        if not args.quiet:
            print_summary(st)
        return 0


def cluster_short(procs):
    """What a cluster lacks for the event services to start: a majority of the Kafka nodes and of
    the Sentinels, and one node of each Redis pair (a failover covers the rest)."""
    short = []
    for names in (KAFKA_NODES, SENTINELS):
        alive = [n for n in names if is_alive(procs.get(n))]
        if len(alive) <= len(names) // 2:
            short.append("%d of %s" % (len(alive), "/".join(names)))
    for nodes in REDIS_GROUPS.values():
        if not any(is_alive(procs.get(n)) for n in nodes):
            short.append(" and ".join(nodes))
    return short


def cluster_env(st, privacy):
    """What a service of a cluster stack is told on top of the one-node variables: all three
    brokers and replication factor 3 for the topics it creates, and the Sentinels that name each
    Redis master it uses (MELDPUNT_REDIS_ADDRESS and MELDPUNT_PRIVACY_KEY_STORE_ADDRESS stay the
    first primaries; the key store's only with `privacy`); a write to the derived state waits for
    one replica (unless the caller's MELDPUNT_REDIS_WAIT_REPLICAS says otherwise)."""
    env = {
        "MELDPUNT_KAFKA_BROKERS": st["kafka"],
        "MELDPUNT_KAFKA_REPLICATION_FACTOR": str(len(KAFKA_NODES)),
        "MELDPUNT_REDIS_SENTINELS": st["redis_sentinels"],
        "MELDPUNT_REDIS_MASTER_NAME": st["redis_master_name"],
        # The caller may say otherwise (the chaos suite shows what happens without it).
        "MELDPUNT_REDIS_WAIT_REPLICAS": os.environ.get("MELDPUNT_REDIS_WAIT_REPLICAS", "1"),
    }
    if privacy:
        env["MELDPUNT_PRIVACY_KEY_STORE_SENTINELS"] = st["redis_sentinels"]
        env["MELDPUNT_PRIVACY_KEY_STORE_MASTER_NAME"] = st["key_store_master_name"]
    return env


def start_gateway(d, st, args, name, base, bin_dir, config_dir, taken):
    """Starts an HTTP gateway (open311): its HTTP and admin ports and the gRPC address of the
    service it calls, nothing of Kafka or Redis. Recorded as services[name] = {"http", "admin"}
    (no "grpc": it serves none)."""
    services, procs = st["services"], st["processes"]
    binary_rel, http_fixed, admin_fixed = SERVICES[base]
    upstream = services.get(GATEWAYS[base], {}).get("grpc")
    if not upstream:
        raise StackError("%s: %s has no recorded gRPC address" % (name, GATEWAYS[base]))
    prev = services.get(name, {})
    http = pick_listen(name, "http", http_fixed, prev, taken, args)
    admin = pick_listen(name, "admin", admin_fixed, prev, taken, args)
    env = {
        "MELDPUNT_HTTP_LISTEN": http,
        "MELDPUNT_ADMIN_LISTEN": admin,
        "MELDPUNT_INTAKE_ADDRESS": upstream,
        # What discovery.json names as the endpoint: where this one listens.
        "MELDPUNT_OPEN311_BASE_URL": "http://%s/open311/v2" % http,
    }
    rec = {
        "role": "service", "endpoint": "http://%s" % http,
        "cmd": [os.path.join(bin_dir, binary_rel), "--config",
                os.path.join(config_dir, base + ".yaml")],
        "cwd": args.cwd or REPO_ROOT, "env": env,
        "log": os.path.join(d, "logs", name + ".log"),
        # Ready once the intake answers its gRPC health check.
        "ready": {"kind": "http", "url": "http://%s/readyz" % admin},
    }
    procs[name] = spawn(rec)
    services[name] = {"http": http, "admin": admin, "pid": rec["pid"], "log": rec["log"]}
    save_state(d, st)
    say("started %s (pid %d, http %s, admin %s, calls %s at %s)"
        % (name, rec["pid"], http, admin, GATEWAYS[base], upstream))


def recorded(d, name):
    """The stack's state and the record of process `name` (None, with a warning, if unknown)."""
    st = load_state(d)
    rec = (st or {}).get("processes", {}).get(name)
    if rec is None:
        warn("no process named %s in %s" % (name, d))
    return st, rec


def cmd_stop_service(args):
    d = os.path.abspath(args.state_dir)
    with state_lock(d):
        st, rec = recorded(d, args.name)
        if rec is None:
            return 1
        if not is_alive(rec):
            say("%s is not running" % args.name)
        else:
            sig = signal.SIGKILL if args.signal == "KILL" else signal.SIGTERM
            pid = rec["pid"]
            terminate([rec], sig)
            say("stopped %s (pid %d, SIG%s)" % (args.name, pid, args.signal))
        forget_pid(rec)
        save_state(d, st)
        return 0


def cmd_restart_service(args):
    d = os.path.abspath(args.state_dir)
    with state_lock(d), interruptible():
        st, rec = recorded(d, args.name)
        if rec is None:
            return 1
        try:
            if is_alive(rec):
                terminate([rec], signal.SIGKILL if args.signal == "KILL" else signal.SIGTERM)
            respawn(st, args.name, rec)
            save_state(d, st)
            wait_ready([(args.name, rec)])
        except (StackError, Interrupted, OSError) as e:
            warn("restart-service failed: %s" % e)
            save_state(d, st)
            return 1
        say("restarted %s (pid %d)" % (args.name, rec["pid"]))
        return 0


def cmd_signal_service(args):
    d = os.path.abspath(args.state_dir)
    with state_lock(d):
        st, rec = recorded(d, args.name)
        if rec is None:
            return 1
        if not is_alive(rec):
            warn("%s is not running" % args.name)
            return 1
        signal_record(rec, getattr(signal, "SIG" + args.signal))
        say("sent SIG%s to %s (pid %d)" % (args.signal, args.name, rec["pid"]))
        return 0


# ---------------------------------------------------------------------------------------------
# Stop, status, env


def stop_stages(st):
    """The recorded processes in the groups they stop in, one group after the other: services
    first (so they can drain while Kafka and Redis are still there), then the infra: in a cluster
    the sinks, the Sentinels (so they start no failover while the rest stops), the replicas, the
    primaries and the Kafka nodes."""
    procs = st.get("processes", {})
    services = [n for n in reversed(START_ORDER) if n in procs]
    if st.get("cluster"):
        infra = [["webhook_sink", "smtp_sink"], list(reversed(SENTINELS)),
                 list(reversed(REDIS_REPLICAS)), list(reversed(REDIS_PRIMARIES)),
                 list(reversed(KAFKA_NODES))]
    else:
        infra = [["webhook_sink", "smtp_sink", "kafka", "key_store", "redis"]]
    infra = [[n for n in group if n in procs] for group in infra]
    known = set(services).union(*infra)
    others = [n for n in procs if n not in known]
    return [services + others] + infra


def cmd_stop(args):
    d = os.path.abspath(args.state_dir)
    if not os.path.isdir(d):
        say("nothing to stop in %s" % d)
        return 0
    with state_lock(d):
        st = load_state(d)
        if st:
            stages = stop_stages(st)
            running = [n for group in stages for n in group if is_alive(st["processes"][n])]
            for group in stages:
                stop_records(d, st, group)
            if running:
                say("stopped %s" % ", ".join(running))
            else:
                say("nothing running in %s" % d)
        else:
            say("nothing to stop in %s" % d)
    if getattr(args, "wipe", False):
        for sub in ["redis", "key-store", "kafka", "mail", "webhooks", "logs"] + CLUSTER_DIRS:
            shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
        for f in ("stack.json", "stack.json.tmp", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(d, f))
        with contextlib.suppress(OSError):
            os.rmdir(d)
        say("wiped %s" % d)
    return 0


def cmd_status(args):
    d = os.path.abspath(args.state_dir)
    st = load_state(d)
    if not st or not st.get("processes"):
        print("no stack in %s" % d)
        return 3
    all_alive = True
    names = list(reversed([n for group in stop_stages(st) for n in group]))
    w = max([15] + [len(n) for n in names])
    for name in names:
        rec = st["processes"][name]
        alive = is_alive(rec)
        all_alive = all_alive and alive
        endpoint = rec.get("endpoint", "")
        svc = st.get("services", {}).get(name)
        if svc:
            endpoint = ("http %s admin %s" % (svc["http"], svc["admin"]) if svc.get("http")
                        else "grpc %s admin %s" % (svc["grpc"], svc["admin"]))
        if alive and st.get("cluster") and redis_group_of(name):
            endpoint += redis_role(rec)
        print("%-*s %-8s %-6s %s" % (w, name, rec.get("pid") or "-",
                                     "alive" if alive else "dead", endpoint))
    return 0 if all_alive else 3


def redis_role(rec):
    """ " master" or " replica of <address> (link up|down)" for a running Redis node."""
    try:
        info = redis_info(rec["ready"]["port"], "replication", timeout=0.5)
    except (OSError, ValueError):
        return ""
    if info.get("role") == "slave":
        return " replica of %s:%s (link %s)" % (info.get("master_host"), info.get("master_port"),
                                                 info.get("master_link_status"))
    return " " + info.get("role", "")


def cmd_env(args):
    d = os.path.abspath(args.state_dir)
    st = load_state(d)
    if not st:
        warn("no stack in %s" % d)
        return 1
    if args.shell:
        pairs = [("MELDPUNT_KAFKA_BROKERS", st.get("kafka")),
                 ("MELDPUNT_REDIS_ADDRESS", st.get("redis")),
                 ("MELDPUNT_PRIVACY_KEY_STORE_ADDRESS", st.get("key_store")),
                 ("MELDPUNT_SMTP_URL", "smtp://%s" % st["smtp"] if st.get("smtp") else None),
                 ("MELDPUNT_SMTP_DIR", st.get("smtp_dir")),
                 ("MELDPUNT_WEBHOOK_BASE_URL", st.get("webhook")),
                 ("MELDPUNT_WEBHOOK_DIR", st.get("webhook_dir"))]
        if st.get("cluster"):
            pairs += [("MELDPUNT_REDIS_SENTINELS", st.get("redis_sentinels")),
                      ("MELDPUNT_REDIS_MASTER_NAME", st.get("redis_master_name")),
                      ("MELDPUNT_PRIVACY_KEY_STORE_SENTINELS", st.get("redis_sentinels")),
                      ("MELDPUNT_PRIVACY_KEY_STORE_MASTER_NAME", st.get("key_store_master_name"))]
        sec = st.get("kafka_security")
        if sec:
            # How to reach the secured broker; the principal (kafka.sasl.username and
            # password_file) is the caller's to choose from stack.json.
            pairs += [("MELDPUNT_KAFKA_SECURITY_PROTOCOL", sec["protocol"]),
                      ("MELDPUNT_KAFKA_TLS_CA_FILE", sec["ca_file"]),
                      ("MELDPUNT_KAFKA_SASL_MECHANISM", sec["sasl_mechanism"])]
        for key, value in pairs:
            if value:
                print("export %s=%s" % (key, shlex.quote(value)))
        return 0
    print(json.dumps(st, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------


def main(argv):
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--state-dir", required=True, help="folder that holds this stack's state")
        p.set_defaults(func=func)
        return p

    p = add("start-infra", cmd_start_infra, "start Redis, Kafka and the sinks")
    p.add_argument("--redis-port", type=int, default=0)
    p.add_argument("--key-store-port", type=int, default=0,
                   help="port of the key store's Redis (0: a free one)")
    p.add_argument("--kafka-port", type=int, default=0,
                   help="the broker's port; with --cluster kafka1's, kafka2 and kafka3 on the "
                        "next two")
    p.add_argument("--cluster", action="store_true",
                   help="the production shape: three Kafka nodes (replication factor 3, min ISR "
                        "2), Redis and the key store each with a replica, three Sentinels")
    p.add_argument("--redis-replica-port", type=int, default=0,
                   help="with --cluster: port of the derived-state Redis's replica")
    p.add_argument("--key-store-replica-port", type=int, default=0,
                   help="with --cluster: port of the key store's replica")
    p.add_argument("--sentinel-port", type=int, default=0,
                   help="with --cluster: sentinel1's port, sentinel2 and sentinel3 on the next two")
    p.add_argument("--smtp-port", type=int, default=0)
    p.add_argument("--webhook-port", type=int, default=0)
    p.add_argument("--kafka-cache", help="folder with the Kafka jars (default: tools/setup's)")
    p.add_argument("--fresh", action="store_true",
                   help="stop any stack in the state folder and wipe its data first")
    p.add_argument("--secure-kafka", action="store_true",
                   help="Kafka with TLS (a CA of the stack's own), SCRAM-SHA-512 principals and "
                        "ACLs instead of an open plaintext broker")
    p.add_argument("--kafka-departments",
                   help="with --secure-kafka: the departments that get a principal, comma "
                        "separated (default: those of deploy/config/routing-rules.yaml)")
    p.add_argument("--mail-sink", choices=["python", "mailpit", "smtp-sink"], default="python",
                   help="the SMTP sink: smtp_sink.py, which stores each message as files in "
                        "D/mail (the tests read them); Mailpit (its HTTP API on a port of its "
                        "own, recorded as smtp_api); or Postfix's smtp-sink (the benchmarks: "
                        "takes every message and keeps none; its counters in its log)")
    p.add_argument("--mailpit", help="the Mailpit binary (default: tools/setup's, "
                                     "$MELDPUNT_CACHE/bin/mailpit)")
    p.add_argument("--quiet", action="store_true", help="do not print the endpoints")

    p = add("start-services", cmd_start_services, "start the service binaries")
    p.add_argument("--bin-dir", required=True, help="the CMake build folder")
    p.add_argument("--config-dir", required=True, help="folder with <service>.yaml")
    p.add_argument("--services", default=",".join(SERVICE_ORDER),
                   help="comma separated, of %s (default: the four event services; the gateway "
                        "open311 needs intake, running or named before it)" % ", ".join(START_ORDER))
    p.add_argument("--fixed-ports", action="store_true",
                   help="use the default ports (gRPC 50051-50054, admin 9101-9104; open311: "
                        "HTTP 8311, admin 9105)")
    p.add_argument("--cwd", help="working folder of the services (default: the repo root)")
    p.add_argument("--instance", type=int,
                   help="start replicas named <service>-N (N >= 2) beside the first ones")
    p.add_argument("--quiet", action="store_true", help="do not print the endpoints")

    p = add("signal-service", cmd_signal_service, "send STOP, CONT or HUP to one process")
    p.add_argument("--name", required=True)
    p.add_argument("--signal", choices=["STOP", "CONT", "HUP"], required=True)

    for name, func, text in (("stop-service", cmd_stop_service, "stop one process"),
                             ("restart-service", cmd_restart_service,
                              "stop (if running) and start one process as recorded")):
        p = add(name, func, text)
        p.add_argument("--name", required=True,
                       help="a service or redis/key_store/kafka/smtp_sink/webhook_sink; in a "
                            "cluster also redis_replica/key_store_replica/sentinel1-3/kafka1-3")
        p.add_argument("--signal", choices=["TERM", "KILL"], default="TERM")

    p = add("stop", cmd_stop, "stop everything in the state folder")
    p.add_argument("--wipe", action="store_true", help="also delete data, mail and logs")
    add("status", cmd_status, "one line per process")
    p = add("env", cmd_env, "print stack.json")
    p.add_argument("--shell", action="store_true", help="print export lines instead")

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StackError as e:
        warn("error: %s" % e)
        return 1
    except Interrupted as e:
        warn(str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
