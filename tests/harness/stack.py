#!/usr/bin/python3
"""Starts, watches and stops a local Meldpunt stack on loopback.

The stack is Redis, one Apache Kafka broker (KRaft, combined broker and controller), an SMTP sink
(smtp_sink.py; Mailpit with --mail-sink mailpit, for the benchmarks), a webhook sink and, on
request, the four service binaries and the Open311 gateway. Every process runs in its own session
and outlives this script; everything about a stack lives in one state folder, described by
STATE/stack.json. Used by tools/dev (the developer's stack) and by the CTest fixtures (one state
folder per fixture). See tests/harness/README.md.

  stack.py start-infra     --state-dir D [--redis-port N] [--key-store-port N] [--kafka-port N] [--smtp-port N]
                           [--webhook-port N] [--kafka-cache DIR] [--fresh]
                           [--secure-kafka [--kafka-departments a,b]]
                           [--mail-sink python|mailpit [--mailpit PATH]]
  stack.py start-services  --state-dir D --bin-dir B --config-dir C [--services a,b] [--fixed-ports]
                           (--services intake,open311,...: the gateway after the intake it calls)
  stack.py stop-service    --state-dir D --name S [--signal TERM|KILL]
  stack.py restart-service --state-dir D --name S [--signal TERM|KILL]
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
    with open(log, "ab") as f:
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        f.write(("==== stack.py %s: %s\n" % (stamp, " ".join(rec["cmd"]))).encode())
        f.flush()
        p = subprocess.Popen(rec["cmd"], stdin=subprocess.DEVNULL, stdout=f,
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


def probe(rec):
    ready = rec.get("ready", {})
    kind = ready.get("kind")
    try:
        if kind == "redis":
            with socket.create_connection((LOOPBACK, ready["port"]), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
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
    return {"dir": kdir, "data": data, "log": log, "props": props, "log4j": log4j,
            "tools_log4j": tools_log4j}


def start_kafka_format(java, cache, kf, d, sec=None):
    """Formats the KRaft log folder once; returns a Popen to wait on, or None if already done.
    With `sec` the SCRAM users go into the first metadata (KIP-900), before the broker starts."""
    if os.path.exists(os.path.join(kf["data"], "meta.properties")):
        return None
    shutil.rmtree(kf["data"], ignore_errors=True)  # a half-finished earlier format
    cluster_id = new_cluster_id()
    write_file(os.path.join(kf["dir"], "cluster.id"), cluster_id + "\n")
    cmd = [java, "-Xmx256m", "-Dlog4j.configuration=file:" + kf["tools_log4j"],
           "-cp", os.path.join(cache, "*"), "kafka.tools.StorageTool", "format",
           "-t", cluster_id, "-c", kf["props"]]
    for name, password in sorted((sec or {}).get("passwords", {}).items()):
        cmd += ["--add-scram", "%s=[name=%s,password=%s]" % (SASL_MECHANISM, name, password)]
    out = open(os.path.join(d, "logs", "kafka-format.log"), "wb")
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


def redis_conf_lines(port, data_dir):
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
        "",
    ])


def infra_records(d, ports, java, cache, kf, mailpit=None):
    logs = os.path.join(d, "logs")
    mail = os.path.join(d, "mail")
    hooks = os.path.join(d, "webhooks")
    redis_dir = os.path.join(d, "redis")
    os.makedirs(redis_dir, exist_ok=True)
    redis_conf = os.path.join(redis_dir, "redis.conf")
    write_file(redis_conf, redis_conf_lines(ports["redis"], redis_dir))
    # The key store of the reporters' data keys: a Redis of its own, so that losing or flushing
    # the derived state (rebuilt from the log) never erases anyone.
    keys_dir = os.path.join(d, "key-store")
    os.makedirs(keys_dir, exist_ok=True)
    keys_conf = os.path.join(keys_dir, "redis.conf")
    write_file(keys_conf, redis_conf_lines(ports["key_store"], keys_dir))
    kafka_cmd = [java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                 "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                 "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                 "-Dlog4j.configuration=file:" + kf["log4j"], "-Dkafka.logs.dir=" + logs,
                 "-cp", os.path.join(cache, "*"), "kafka.Kafka", kf["props"]]
    py_unset = ["PYTHONPATH", "PYTHONHOME"]
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
    if mailpit:
        recs["smtp_sink"] = mailpit_record(d, ports, mailpit)
    return recs


def print_summary(st):
    for key in ("redis", "key_store", "kafka", "smtp", "smtp_dir", "smtp_api", "webhook",
                "webhook_dir"):
        if key in st:
            print("  %-15s %s" % (key, st[key]))
    for name, svc in st.get("services", {}).items():
        if svc.get("http"):
            print("  %-15s http://%s  admin http://%s" % (name, svc["http"], svc["admin"]))
        else:
            print("  %-15s grpc %s  admin http://%s" % (name, svc["grpc"], svc["admin"]))
    print("  %-15s %s" % ("state", state_path(st["state_dir"])), flush=True)


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


def cmd_start_infra(args):
    d = os.path.abspath(args.state_dir)
    if args.fresh:
        cmd_stop(argparse.Namespace(state_dir=d, wipe=True))
    with state_lock(d), interruptible():
        st = load_state(d)
        procs = (st or {}).get("processes", {})
        alive = [n for n in INFRA if is_alive(procs.get(n))]
        if st and len(alive) == len(INFRA):
            say("infra already running in %s" % d)
            if not args.quiet:
                print_summary(st)
            return 0
        started = []
        ctx = {"st": st}
        t0 = time.monotonic()
        try:
            if st and alive and all(n in procs for n in INFRA):
                # Part of a recorded stack is up: bring back the rest exactly as recorded.
                dead = [n for n in INFRA if n not in alive]
                say("infra partly running in %s; restarting %s" % (d, ", ".join(dead)))
                for n in dead:
                    spawn(procs[n])
                    started.append(n)
                    save_state(d, st)
                wait_ready([(n, procs[n]) for n in dead])
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
        "smtp": pick_port("smtp sink", args.smtp_port, port_of(prev.get("smtp")), taken),
        "webhook": pick_port("webhook sink", args.webhook_port, port_of(prev.get("webhook")),
                             taken),
    }
    mailpit = None
    if getattr(args, "mail_sink", "python") == "mailpit":
        ports["smtp_api"] = pick_port("mailpit api", 0, port_of(prev.get("smtp_api")), taken)
        mailpit = os.path.abspath(args.mailpit or default_mailpit())
        if not os.access(mailpit, os.X_OK):
            raise StackError("%s not found: run tools/setup (or pass --mailpit)" % mailpit)
    cache = os.path.abspath(args.kafka_cache or default_kafka_cache())
    jar = os.path.join(cache, "kafka_2.13-%s.jar" % kafka_version())
    if not os.path.isfile(jar):
        raise StackError("%s not found: run tools/setup (or pass --kafka-cache)" % jar)
    if not shutil.which("redis-server"):
        raise StackError("redis-server not found: run tools/setup")
    java = find_java()
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
    if mailpit:
        # smtp_dir holds Mailpit's database, not .eml files: read the mail through smtp_api.
        st["mail_sink"] = "mailpit"
        st["smtp_api"] = "http://%s:%d" % (LOOPBACK, ports["smtp_api"])
    if sec:
        st["kafka_security"] = security_record(sec)
    ctx["st"] = st
    kf = kafka_files(d, ports["kafka"], ports["kafka_controller"], sec)
    recs = infra_records(d, ports, java, cache, kf, mailpit)
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
        needed = (["redis", "key_store", "kafka"] if any(b not in GATEWAYS for b in bases) else []) \
            + (["smtp_sink", "webhook_sink"] if "notification" in bases else [])
        down = [n for n in needed if not is_alive(procs.get(n))]
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
        taken = {port_of(st.get(k)) for k in ("redis", "kafka", "kafka_controller", "smtp",
                                               "smtp_api", "webhook")}
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
                    "MELDPUNT_PRIVACY_KEY_STORE_ADDRESS": st["key_store"],
                    "MELDPUNT_GRPC_LISTEN": grpc,
                    "MELDPUNT_ADMIN_LISTEN": admin,
                }
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
            spawn(rec)
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


def ordered_names(st):
    procs = st.get("processes", {})
    services = [n for n in reversed(START_ORDER) if n in procs]
    infra = [n for n in ("webhook_sink", "smtp_sink", "kafka", "key_store", "redis")
             if n in procs]
    others = [n for n in procs if n not in services and n not in infra]
    return services + others, infra


def cmd_stop(args):
    d = os.path.abspath(args.state_dir)
    if not os.path.isdir(d):
        say("nothing to stop in %s" % d)
        return 0
    with state_lock(d):
        st = load_state(d)
        if st:
            first, then = ordered_names(st)
            running = [n for n in first + then if is_alive(st["processes"][n])]
            # Services first, so they can drain while Kafka and Redis are still there.
            for group in (first, then):
                stop_records(d, st, group)
            if running:
                say("stopped %s" % ", ".join(running))
            else:
                say("nothing running in %s" % d)
        else:
            say("nothing to stop in %s" % d)
    if getattr(args, "wipe", False):
        for sub in ("redis", "key-store", "kafka", "mail", "webhooks", "logs"):
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
    first, then = ordered_names(st)
    all_alive = True
    for name in list(reversed(then)) + list(reversed(first)):
        rec = st["processes"][name]
        alive = is_alive(rec)
        all_alive = all_alive and alive
        endpoint = rec.get("endpoint", "")
        svc = st.get("services", {}).get(name)
        if svc:
            endpoint = ("http %s admin %s" % (svc["http"], svc["admin"]) if svc.get("http")
                        else "grpc %s admin %s" % (svc["grpc"], svc["admin"]))
        print("%-15s %-8s %-6s %s" % (name, rec.get("pid") or "-", "alive" if alive else "dead",
                                      endpoint))
    return 0 if all_alive else 3


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
    p.add_argument("--kafka-port", type=int, default=0)
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
    p.add_argument("--mail-sink", choices=["python", "mailpit"], default="python",
                   help="the SMTP sink: smtp_sink.py, which stores each message as files in "
                        "D/mail (the tests read them), or Mailpit (the benchmarks; its HTTP API "
                        "on a port of its own, recorded as smtp_api)")
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
        p.add_argument("--name", required=True, help="a service or redis/kafka/smtp_sink/webhook_sink")
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
