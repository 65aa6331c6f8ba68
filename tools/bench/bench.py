#!/usr/bin/python3
"""Every benchmark beside its raw baseline, run on stacks of its own (`tools/dev bench`).

  bench.py all [--runs 3]        every part below, then docs/benchmarks.md written anew
  bench.py submit|pipeline|baselines|deadline|notification|routing|open311 [--runs 3]
                                 one part, printed only
  bench.py submit|pipeline --compare-bin-dir DIR [--compare-label L]
                                 run i of this build and of the binaries under DIR taking turns,
                                 each on a fresh stack; the figures side by side

Each figure is the median of `--runs` runs (at least three for the document) with min-max. The
services, Redis and Kafka run on loopback on this machine, started by tests/harness/stack.py with
fresh state and stopped afterwards; the raw baselines run in the same invocation against the same
servers: a bare gRPC server of the same service under the same ghz command, a bare librdkafka
producer loop (acks=all, idempotent, the same record size) and consumer, redis-benchmark.
"""
import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STACK = os.path.join(ROOT, "tests", "harness", "stack.py")
CONFIG = os.path.join(ROOT, "deploy", "config")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
HAND_MARK = "<!-- Everything below this line is written by hand; tools/dev bench keeps it. -->"
RAW_TOPIC = "meldpunt.bench.raw.v1"
SERVICES = ["intake", "routing", "deadline_watch", "notification"]

# The SubmitCase every ghz and submit_load call makes; a fresh request key per call: a new case
# each.
CALL = "meldpunt.intake.v1.Intake.SubmitCase"
DRAFT = {
    "kind": "REPORT",
    "channel": "WEB",
    "category": "street-lighting",
    "description": "Street light out in front of number 12",
    "location": {"postcode": "9000"},
    "reporter": {"name": "Jan Peeters", "email": "jan.peeters@example.org", "language": "NL"},
}


# With --geo: what a city app sends, a point (a random one in a square of about 10 by 6 km, to
# the metre) besides the postcode; routing then searches each report's duplicates within 50 m.
GEO_LOCATION = {"postcode": "9000", "hasCoordinates": True,
                "latitude": "51.0{{randomInt 10000 99999}}",
                "longitude": "3.7{{randomInt 10000 99999}}"}


def say(msg):
    print("bench: %s" % msg, flush=True)


# ----------------------------------------------------------------------------- figures

def med(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (statistics.median(values), min(values), max(values))


def fmt(t, digits=0, unit=""):
    if t is None:
        return "n/a"
    m, lo, hi = t
    f = "{:,.%df}" % digits
    if lo == hi:
        return f.format(m) + unit
    return "%s%s (%s-%s)" % (f.format(m), unit, f.format(lo), f.format(hi))


class Report:
    """Sections of markdown, in order, plus a summary of figures against their targets."""

    def __init__(self):
        self.sections = []
        self.summary = []  # (figure, value text, target text)

    def section(self, title, text, rows, header=("figure (median of runs, min-max)", "value")):
        lines = ["## " + title, ""]
        if text:
            lines += [text, ""]
        lines.append("| %s |" % " | ".join(header))
        lines.append("|" + " --- |" * len(header))
        for row in rows:
            lines.append("| %s |" % " | ".join(row))
        lines.append("")
        self.sections.append("\n".join(lines))
        print("\n".join(lines), flush=True)

    def target(self, figure, value, target):
        self.summary.append((figure, value, target))


# ----------------------------------------------------------------------------- processes

def stack_json(d):
    with open(os.path.join(d, "stack.json")) as f:
        return json.load(f)


@contextlib.contextmanager
def stack(d, services=None, config_dir=CONFIG, build=None, mail_sink="python"):
    """A fresh Redis, Kafka and sinks (and `services`, the binaries under `build`) in state folder
    `d`, stopped on exit. `mail_sink`: stack.py's --mail-sink (smtp_sink.py "python", Postfix's
    "smtp-sink" or "mailpit")."""
    subprocess.run([STACK, "start-infra", "--quiet", "--fresh", "--state-dir", d, "--mail-sink",
                    mail_sink], check=True, stdout=subprocess.DEVNULL)
    try:
        if services:
            subprocess.run([STACK, "start-services", "--quiet", "--state-dir", d, "--bin-dir",
                            build, "--config-dir", config_dir, "--services", ",".join(services)],
                           check=True, stdout=subprocess.DEVNULL)
        yield stack_json(d)
    finally:
        subprocess.run([STACK, "stop", "--wipe", "--state-dir", d], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def run_json(cmd, **kw):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    return json.loads(out.strip().splitlines()[-1])


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class RssSampler:
    """Samples the resident memory of the named processes every half second while running."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {name: 0.0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.5):
            for name, pid in self.pids.items():
                r = rss_mib(pid)
                if r is not None:
                    self.peak[name] = max(self.peak[name], r)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def stat_seconds(pid, first, last):
    """The sum of /proc/PID/stat's CPU fields first..last-1 (after the command; 11 utime, 12 stime,
    13 cutime, 14 cstime), in seconds; 0 once the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[first:last]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far: its threads, and the children it has reaped
    (Redis's append-only-file rewrites run in a forked child)."""
    return stat_seconds(pid, 11, 15)


def jit_seconds(pid):
    """CPU seconds so far of a JVM's JIT compiler threads (C1 and C2 CompilerThread): a fresh
    broker compiling its hot paths, which a broker in service did long ago."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if "CompilerThre" not in f.read():
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def children_seconds(pid):
    """User + system CPU seconds of the children a process has reaped so far (Redis's
    append-only-file rewrites run in a forked child)."""
    return stat_seconds(pid, 13, 15)


def redis_info(address, field, section="memory"):
    host, port = address.rsplit(":", 1)
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, "info", section], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("redis INFO has no %s" % field)


def redis_commands(address):
    """Calls so far of each command of a Redis (INFO commandstats), without INFO itself."""
    host, port = address.rsplit(":", 1)
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, "info", "commandstats"],
                         check=True, capture_output=True, text=True).stdout
    calls = {}
    for m in re.finditer(r"^cmdstat_([^:]+):calls=(\d+)", out, re.M):
        if m.group(1) != "info":
            calls[m.group(1)] = int(m.group(2))
    return calls


def children_cpu():
    """User + system CPU seconds of this script's children that have ended: between two
    snapshots of a pipeline run, the ghz run that ended in between (the probe runs after the
    second, the broker-counter JVM lives as long as the stack)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def combine(a, b, sign=1):
    """a + sign * b, for numbers and (nested) dicts of numbers; a key missing on one side is 0."""
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        return {k: combine(a.get(k, 0), b.get(k, 0), sign) for k in set(a) | set(b)}
    return a + sign * b


class Counters:
    """What a stack has done so far, read at the edges of a measurement: the CPU seconds of every
    process; the broker's requests by type and the end offset of every topic, from one JVM kept
    for the whole stack (tools/bench/BrokerCounters.java: the broker's own RequestMetrics through
    the Attach API, no port opened, no restart); the commands of both Redis (INFO commandstats);
    the e-mails and webhook calls the sinks took. Owns the helper JVM (a child process)."""

    def __init__(self, st, d):
        self.st = st
        kafka = st["processes"]["kafka"]
        jars = kafka["cmd"][kafka["cmd"].index("-cp") + 1]
        self._log = open(os.path.join(d, "broker-counters.log"), "w")
        self._proc = subprocess.Popen(
            [kafka["cmd"][0], "-Xmx128m",
             "-Dlog4j.configuration=file:" + os.path.join(d, "kafka", "tools-log4j.properties"),
             "-cp", jars, os.path.join(HERE, "BrokerCounters.java"), str(kafka["pid"]),
             st["kafka"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(OSError, ValueError):
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def _ask(self, command):
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("BrokerCounters.java stopped; see %s" % self._log.name)
        return json.loads(line)

    def offsets(self):
        return self._ask("offsets")["offsets"]

    def _sink_counts(self):
        st = self.st
        if st.get("mail_sink") == "mailpit":
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    st["smtp_api"] + "/api/v1/info", timeout=10) as r:
                mails = json.load(r)["RuntimeStats"]["SMTPAccepted"]
        elif st.get("mail_sink") == "smtp-sink":
            mails = smtp_sink_messages(st["processes"]["smtp_sink"]["log"])
        else:
            mails = sum(1 for f in os.listdir(st["smtp_dir"]) if f.endswith(".eml"))
        hooks = sum(1 for f in os.listdir(st["webhook_dir"]) if f.endswith(".json"))
        return mails, hooks

    def snap(self):
        broker = self._ask("snap")
        mails, hooks = self._sink_counts()
        return {"seconds": time.time(),
                "cpu": {n: cpu_seconds(r["pid"]) for n, r in self.st["processes"].items()},
                "jit": jit_seconds(self.st["processes"]["kafka"]["pid"]),
                "redis_rewrites": children_seconds(self.st["processes"]["redis"]["pid"]),
                "requests": broker["requests"], "offsets": broker["offsets"],
                "redis": redis_commands(self.st["redis"]),
                "key_store": redis_commands(self.st["key_store"]),
                "mails": mails, "webhooks": hooks, "load": children_cpu()}

    def wait_quiet(self, quiet=2.0, timeout=240):
        """Until no topic's end offset moved for `quiet` seconds (the pipeline is through)."""
        last, since, deadline = None, time.time(), time.time() + timeout
        while time.time() < deadline:
            now = self.offsets()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= quiet:
                return
            time.sleep(0.5)
        say("the log still grew after %d s" % timeout)


def redis_rewriting(address):
    """Whether the Redis at `address` has a forked child writing (an AOF rewrite or a snapshot)."""
    return any(redis_info(address, field, "persistence")
               for field in ("aof_rewrite_in_progress", "rdb_bgsave_in_progress"))


def rewrite_aof(address, timeout=120):
    """Rewrites the AOF of the Redis at `address` now and waits for it: a rebuild then starts with
    a file no larger than its base, so the rewrite that its own writes would set off (when the
    file has grown by its base's size) does not land, on the two cores the stack shares, in
    whichever rebuild crosses that size. Returns the rewrite's CPU seconds (its child's, from
    the parent's cutime and cstime)."""
    host, port = address.rsplit(":", 1)
    pid = redis_info(address, "process_id", "server")
    before = stat_seconds(pid, 13, 15)
    while redis_rewriting(address):
        time.sleep(0.2)
    subprocess.run(["redis-cli", "-h", host, "-p", port, "bgrewriteaof"], check=True,
                   capture_output=True)
    start = time.time()
    time.sleep(0.2)
    while redis_rewriting(address) or redis_info(address, "aof_rewrite_scheduled", "persistence"):
        if time.time() - start > timeout:
            raise RuntimeError("the AOF rewrite took longer than %d s" % timeout)
        time.sleep(0.2)
    return stat_seconds(pid, 13, 15) - before


def wait_caught_up(admin, redis=None, timeout=180):
    """Until the service's consumers are behind by no record (meldpunt_kafka_consumer_lag, sampled
    every second) and `redis` has no AOF rewrite running, twice in a row: a fixed-rate run
    measures the rate alone, not the catching up after a run at the maximum rate nor the rewrite
    it set off (a forked child that takes most of a core for a few seconds). Returns the seconds
    it waited."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start, zeros = time.time(), 0
    while time.time() - start < timeout:
        with opener.open("http://%s/metrics" % admin, timeout=10) as r:
            text = r.read().decode()
        lag = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("meldpunt_kafka_consumer_lag"))
        quiet = lag == 0 and not (redis and redis_rewriting(redis))
        zeros = zeros + 1 if quiet else 0
        if zeros >= 2:
            return time.time() - start
        time.sleep(1.1)
    say("the consumers were still behind after %d s" % timeout)
    return time.time() - start


def ghz(args, target, out, system, seconds=None, concurrency=50, rps=0):
    """One ghz run of SubmitCase from `system` (max rate, or `rps`); OK/s and OK latencies."""
    draft = dict(DRAFT, location=GEO_LOCATION) if getattr(args, "geo", False) else DRAFT
    data = {"submittingSystem": system, "requestKey": "bench-{{.UUID}}", "draft": draft}
    proto_root = os.path.join(ROOT, "proto")
    cmd = [args.ghz, "--insecure", "--proto",
           os.path.join(proto_root, "meldpunt/intake/v1/intake.proto"), "--import-paths",
           proto_root, "--call", CALL, "-d", json.dumps(data), "-c", str(concurrency),
           "--connections", "4", "-z", "%ds" % (seconds or args.seconds), "-O", "json",
           "-o", out]
    if rps:
        cmd += ["--rps", str(rps)]
    subprocess.run(cmd + [target], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        report = json.load(f)
    latencies = sorted(d["latency"] for d in report.get("details", []) if d.get("status") == "OK")
    ok = report.get("statusCodeDistribution", {}).get("OK", 0)

    def pct(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100.0))] / 1e6

    # ghz cancels the calls in flight when a run ends; they are not counted as OK.
    return {"rps_ok": ok / (report["total"] / 1e9), "ok": ok,
            "p50": pct(50), "p99": pct(99), "p999": pct(99.9)}


def submit_load(args, target, out, system, seconds=None, concurrency=50, rps=0):
    """One run of `tools/bench/submit_load` (the same SubmitCase as ghz's, from gRPC's C++
    callback client): the pipeline's load generator unless --load-generator ghz. Its calls in
    flight at the end are waited for and counted. The same figures as ghz()."""
    request = {"submittingSystem": system, "draft": DRAFT}
    cmd = [os.path.join(args.build, "tools/bench/submit_load"), "--target", target, "--request",
           json.dumps(request), "--seconds", str(seconds or args.seconds), "--concurrency",
           str(concurrency), "--connections", "4", "--rps", str(rps), "--out", out]
    if getattr(args, "geo", False):
        cmd.append("--geo")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        report = json.load(f)
    return {"rps_ok": report["ok_per_second"], "ok": report["ok"], "p50": report["p50_ms"],
            "p99": report["p99_ms"], "p999": report["p999_ms"]}


def load(args, *a, **kw):
    """The pipeline's load: a run of the load generator --load-generator names."""
    return (ghz if args.load_generator == "ghz" else submit_load)(args, *a, **kw)


LOAD_GENERATORS = {"submit_load": "`tools/bench/submit_load` (gRPC's C++ callback client)",
                   "ghz": "ghz"}


# ----------------------------------------------------------------------------- parts

THIS_BUILD = "this build"


def variants(args):
    """(label, binaries, config folder) of each set of binaries a part measures: this build and,
    with --compare-bin-dir, the other set."""
    out = [(THIS_BUILD, args.build, CONFIG)]
    if args.compare_bin_dir:
        out.append((args.compare_label, args.compare_bin_dir, args.compare_config_dir))
    return out


def turns(args):
    """The sessions of a comparison, each on a fresh stack: run i of every set of binaries, the
    order swapped every run (A B, B A, A B) so that neither always comes first; this build opens."""
    vs = variants(args)
    for i in range(args.runs):
        for v in (vs if i % 2 == 0 else vs[::-1]):
            yield i, v


def side_by_side(tables, labels, header):
    """The tables of several sets of binaries as one: each value column once per label, the rows
    matched by their first cell, in the order of the first table."""
    if len(tables) == 1:
        return tables[0], header
    if len(header) == 2:
        head = [header[0]] + list(labels)
    else:
        head = [header[0]] + ["%s (%s)" % (h, label) for h in header[1:] for label in labels]
    by_label = [{row[0]: row for row in t} for t in tables]
    rows = []
    for row in tables[0]:
        cells = [row[0]]
        for j in range(1, len(header)):
            cells += [b[row[0]][j] if row[0] in b else "n/a" for b in by_label]
        rows.append(cells)
    return rows, head


def emit(rep, args, per_variant):
    """Writes the sections (and targets) that each set of binaries produced, side by side.
    per_variant: {label: (sections, targets)}, sections a list of (title, text, rows, header),
    targets a list of (figure, value, target)."""
    labels = list(per_variant)
    first_sections, first_targets = per_variant[labels[0]]
    for k, (title, text, _, header) in enumerate(first_sections):
        rows, head = side_by_side([per_variant[label][0][k][2] for label in labels], labels,
                                  header)
        if len(labels) > 1:
            text = ("%s Columns: %s; run i of each on a fresh stack of its own, the sets of "
                    "binaries taking turns." % (text, ", ".join(
                        "%s (`%s`)" % (label, b) for label, b, _ in variants(args))))
        rep.section(title, text, rows, header=head)
    for k, (figure, value, target) in enumerate(first_targets):
        others = ["%s: %s" % (label, per_variant[label][1][k][1]) for label in labels[1:]]
        rep.target(figure, value + (" (%s)" % "; ".join(others) if others else ""), target)


def warm_seconds(args, default):
    return default if args.warm_seconds is None else args.warm_seconds


def submit_session(args, bin_dir, config_dir, runs, half):
    """One stack with the intake under `bin_dir` beside its bare server: after a warm-up of each,
    `runs` max-rate runs of each in turn, then `runs` runs of the intake at `half` calls per
    second (None: half the median of its max-rate runs)."""
    d = os.path.join(args.build, "bench-stack-submit")
    out = os.path.join(d, "runs")
    with stack(d, ["intake"], config_dir=config_dir, build=bin_dir) as st:
        os.makedirs(out, exist_ok=True)
        bare_log = open(os.path.join(d, "bare.log"), "w")
        bare = subprocess.Popen([os.path.join(bin_dir, "tools/bench/bare_intake_server")],
                                stdout=bare_log, stderr=subprocess.STDOUT)
        try:
            port = None
            for _ in range(100):
                with open(os.path.join(d, "bare.log")) as f:
                    m = re.search(r"^port=(\d+)", f.read(), re.M)
                if m:
                    port = m.group(1)
                    break
                time.sleep(0.1)
            if port is None:
                raise RuntimeError("the bare server printed no port")
            targets = {"bare": "127.0.0.1:" + port, "intake": st["services"]["intake"]["grpc"]}
            runs_ = {"bare": [], "intake": [], "half": []}
            # A warm-up on each (the broker's JIT, connections, the producer id), not counted:
            # a broker fresh from its start is markedly slower for its first minute of load.
            for name, target in targets.items():
                seconds = warm_seconds(args, 20 if name == "intake" else 5)
                if seconds:
                    ghz(args, target, os.path.join(out, "warm-%s.json" % name), "bench-warm",
                        seconds=seconds)
            for i in range(runs):
                for name in ("bare", "intake"):
                    r = ghz(args, targets[name], os.path.join(out, "%s-%d.json" % (name, i)),
                            "bench")
                    runs_[name].append(r)
                    say("submit %s max rate run %d: %.0f OK/s p50 %.1f ms p99 %.1f ms" % (
                        name, i + 1, r["rps_ok"], r["p50"], r["p99"]))
            if half is None:
                half = int(statistics.median(r["rps_ok"] for r in runs_["intake"]) / 2)
            for i in range(runs):
                # The live fold behind after the runs at the maximum rate: caught up first.
                waited = wait_caught_up(st["services"]["intake"]["admin"], st["redis"])
                say("submit: the intake's consumers caught up and Redis's rewrite done in %.0f s"
                    % waited)
                # At a fixed rate the load generator's own CPU is what the intake does not get
                # on the two shared cores: the lighter one unless --load-generator ghz.
                r = load(args, targets["intake"], os.path.join(out, "half-%d.json" % i), "bench",
                         rps=half)
                runs_["half"].append(r)
                say("submit intake at %d/s run %d: p50 %.1f ms p99 %.1f ms p99.9 %.1f ms" % (
                    half, i + 1, r["p50"], r["p99"], r["p999"]))
            probe = run_json([os.path.join(bin_dir, "tools/bench/pipeline_probe"),
                              "--brokers", st["kafka"], "--system", "bench"])
        finally:
            bare.terminate()
            bare.wait()
            bare_log.close()
    runs_["half_rate"] = half
    runs_["record_bytes"] = [probe["submitted_record_bytes"]]
    return runs_


def submit_tables(args, runs, half):
    """The submit section and its target from the runs of one set of binaries."""
    ratio = med([i["rps_ok"] / b["rps_ok"] for i, b in zip(runs["intake"], runs["bare"])])
    hp = {k: med([r[k] for r in runs["half"]]) for k in ("p50", "p99", "p999")}
    mp = {k: med([r[k] for r in runs["intake"]]) for k in ("p50", "p99", "p999")}
    rows = [
        ["**raw baseline**: bare gRPC server of the same service, SubmitCase answered at once "
         "(OK/s)", fmt(med([r["rps_ok"] for r in runs["bare"]]))],
        ["intake SubmitCase, durable (acks=all) and shown by the projection (OK/s)",
         fmt(med([r["rps_ok"] for r in runs["intake"]]))],
        ["ratio intake / bare, per pair of runs", fmt(ratio, 3)],
        ["intake latency at max rate p50 / p99 / p99.9 (ms)",
         " / ".join(fmt(mp[k], 1) for k in ("p50", "p99", "p999"))],
        ["intake at %d/s (half %s): p50 / p99 / p99.9 (ms)" % (
            half, "the max rate of this build's first run" if args.compare_bin_dir else "its max"),
         " / ".join(fmt(hp[k], 1) for k in ("p50", "p99", "p999"))],
        ["CaseSubmitted record on the log (bytes)", fmt(med(runs["record_bytes"]))],
    ]
    text = (
        "ghz (%d concurrent calls over 4 connections, %d s a run, each call a new case) loads "
        "`tools/bench/bare_intake_server` (the same generated service on the same gRPC, "
        "answering at once) and the real intake (`deploy/config/intake.yaml`) on a Redis and "
        "Kafka of its own, after a warm-up of each (%d s on the intake, %d s on the bare "
        "server). Calls still in flight when a run ends are cancelled by ghz and not counted. "
        "The runs at half the intake's maximum rate send the same calls from %s, at that fixed "
        "rate (at most 50 in flight): what the load generator spends of the two cores, the "
        "intake does not get." % (
            50, args.seconds, warm_seconds(args, 20), warm_seconds(args, 5),
            LOAD_GENERATORS[args.load_generator]))
    sections = [("SubmitCase against a bare gRPC server", text, rows,
                 ("figure (median of runs, min-max)", "value"))]
    targets = [("SubmitCase / bare gRPC server", fmt(ratio, 3), "0.35 or better"),
               ("SubmitCase p99 at %d/s, half its maximum rate (ms)" % half, fmt(hp["p99"], 1),
                "15 at most")]
    return sections, targets


def part_submit(args, rep, results):
    """SubmitCase alone: the intake against a bare gRPC server of the same service; with
    --compare-bin-dir each run of both sets of binaries on a fresh stack, taking turns, the
    half-rate runs of both at half the max rate of this build's first run (or --half-rate)."""
    if not args.compare_bin_dir:
        runs = {THIS_BUILD: submit_session(args, args.build, CONFIG, args.runs, args.half_rate)}
    else:
        runs = {label: {"bare": [], "intake": [], "half": [], "record_bytes": []}
                for label, _, _ in variants(args)}
        half = args.half_rate
        for i, (label, bin_dir, config_dir) in turns(args):
            say("submit run %d of %d: %s" % (i + 1, args.runs, label))
            got = submit_session(args, bin_dir, config_dir, 1, half)
            half = got.pop("half_rate")
            for k, v in got.items():
                runs[label][k] += v
        for r in runs.values():
            r["half_rate"] = half
    results["record_bytes"] = int(med(runs[THIS_BUILD]["record_bytes"])[0])
    results["bare_grpc"] = med([r["rps_ok"] for r in runs[THIS_BUILD]["bare"]])
    results["submit"] = med([r["rps_ok"] for r in runs[THIS_BUILD]["intake"]])
    emit(rep, args, {label: submit_tables(args, r, r["half_rate"]) for label, r in runs.items()})


def part_baselines(args, rep, results):
    """The raw ceilings of Kafka and Redis on a stack of their own."""
    d = os.path.join(args.build, "bench-stack-baselines")
    size = results.get("record_bytes", 560)
    kb = os.path.join(args.build, "tools/bench/kafka_baseline")
    with stack(d) as st:
        subprocess.run([kb, "create", "--brokers", st["kafka"], "--topic", RAW_TOPIC,
                        "--partitions", "6"], check=True, stdout=subprocess.DEVNULL)
        p50, unbounded = [], []
        for i in range(args.runs):
            p50.append(run_json([kb, "produce", "--brokers", st["kafka"], "--topic", RAW_TOPIC,
                                 "--messages", "20000", "--bytes", str(size), "--in-flight",
                                 "50"]))
            unbounded.append(run_json([kb, "produce", "--brokers", st["kafka"], "--topic",
                                       RAW_TOPIC, "--messages", "200000", "--bytes", str(size),
                                       "--in-flight", "0"]))
            say("kafka produce run %d: 50 in flight %s/s, unbounded %s/s" % (
                i + 1, p50[-1]["per_second"], unbounded[-1]["per_second"]))
        host, port = st["redis"].rsplit(":", 1)
        lua = re.search(r'constexpr char kClaimLua\[\] = R"lua\((.*?)\)lua";',
                        open(os.path.join(ROOT, "libs/redis/lease_queue.cc")).read(), re.S)
        sha = subprocess.run(["redis-cli", "-h", host, "-p", port, "script", "load",
                              lua.group(1)], check=True, capture_output=True,
                             text=True).stdout.strip()
        zadd, claim = [], []
        for i in range(args.runs):
            zadd.append(redis_benchmark(host, port, [
                "zadd", "mp:{pbench}:timers", "__rand_int__",
                "MP-0000000000000|answer|1|breach|1000|__rand_int__"]))
            claim.append(redis_benchmark(host, port, [
                "evalsha", sha, "2", "mp:{pempty}:timers", "mp:{pempty}:inflight", "1000",
                "30000", "500"]))
            say("redis-benchmark run %d: ZADD %.0f/s, claim %.0f/s" % (i + 1, zadd[-1],
                                                                        claim[-1]))
    results["kafka_50"] = med([r["per_second"] for r in p50])
    results["kafka_unbounded"] = med([r["per_second"] for r in unbounded])
    results["redis_zadd"] = med(zadd)
    results["redis_claim"] = med(claim)
    rows = [
        ["bare librdkafka producer, %d-byte records, at most 50 unacknowledged (like 50 "
         "concurrent SubmitCase calls; records/s)" % size, fmt(results["kafka_50"])],
        ["the same, ack latency p50 / p99 (ms)",
         "%s / %s" % (fmt(med([r["ack_p50_ms"] for r in p50]), 1),
                      fmt(med([r["ack_p99_ms"] for r in p50]), 1))],
        ["bare librdkafka producer, as fast as it takes them (200,000 records; records/s)",
         fmt(results["kafka_unbounded"])],
        ["redis-benchmark ZADD of a timer member, 50 clients (requests/s)",
         fmt(results["redis_zadd"])],
        ["redis-benchmark EVALSHA of the timer claim script on an empty partition (what every "
         "poll costs; requests/s)", fmt(results["redis_claim"])],
    ]
    rep.section("Raw baselines: Kafka and Redis",
                "On a Redis and a Kafka broker of their own, with none of our code in the path "
                "(`tools/bench/kafka_baseline`: librdkafka with the producer settings of "
                "`libs/kafka`: acks=all, idempotent, linger 2 ms, murmur2 partitioner; six "
                "partitions; redis-benchmark with 100,000 requests from 50 clients).", rows)


def redis_benchmark(host, port, command):
    out = subprocess.run(["redis-benchmark", "-h", host, "-p", port, "-n", "100000", "-q",
                          "-r", "1000000"] + command, check=True, capture_output=True,
                         text=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out.replace("\r", "\n"))
    return float(m[-1])


def wait_pipeline(probe_exe, st, system, expected, timeout=240):
    """Probes the log until every case of `system` went through every stage (or timeout)."""
    deadline = time.time() + timeout
    probe = None
    while time.time() < deadline:
        probe = run_json([probe_exe, "--brokers", st["kafka"], "--system", system])
        if probe["submitted"] >= expected and probe["complete"]["missing"] == 0:
            return probe
        time.sleep(3)
    return probe


# The rebuilds (meldctl commands), in the order they run, and the service whose state each makes
# again.
REBUILT_BY = {"rebuild": "intake", "rebuild-timers": "deadline_watch",
              "rebuild-deliveries": "notification"}
REBUILDS = tuple(REBUILT_BY)
SINKS = ("smtp_sink", "webhook_sink")
# The pipeline's SMTP sinks (stack.py --mail-sink), as the tables name them.
MAIL_SINKS = {"smtp-sink": "Postfix's smtp-sink", "mailpit": "Mailpit",
              "python": "SMTP sink (`smtp_sink.py`)"}


def smtp_sink_messages(log):
    """The messages Postfix's smtp-sink has taken: its running counters (-c) go to its log,
    each update "sess=N quit=N mesg=N" ended by a carriage return; the last one counts."""
    with open(log, "rb") as f:
        f.seek(max(0, os.path.getsize(log) - 4096))
        tail = f.read().decode("ascii", "replace")
    counts = re.findall(r"mesg=(\d+)", tail)
    return int(counts[-1]) if counts else 0


def measured(counters, st, probe_exe, system, load):
    """`load()` (a run of the load generator) between two snapshots of the stack, the second once
    the log stopped growing and before pipeline_probe reads the log (its reads are not the
    pipeline's work); then the probe until every case of `system` went through every stage. The
    probe and the window: their difference, with "cases" (the cases of `system`)."""
    before = counters.snap()
    r = load()
    counters.wait_quiet()
    after = counters.snap()
    probe = wait_pipeline(probe_exe, st, system, r["ok"])
    if counters.offsets() != after["offsets"]:
        say("the log grew after it looked quiet: the counts of %s include the probe's reads" %
            system)
        counters.wait_quiet()
        after = counters.snap()
    window = combine(after, before, -1)
    window["cases"] = probe["submitted"]
    return probe, window


def pipeline_session(args, bin_dir, config_dir, runs, rebuild_runs):
    """One stack of the four services under `bin_dir`: a warm-up, a rest, then `runs` runs at the
    fixed rate, at the mid and the calm rate and at the maximum rate, each probed until every case
    went through every stage, then `rebuild_runs` of the rebuilds. What it measured."""
    d = os.path.join(args.build, "bench-stack-pipeline")
    probe_exe = os.path.join(bin_dir, "tools/bench/pipeline_probe")
    data = {"fixed": [], "mid": [], "calm": [], "maxed": [], "fixed_windows": [],
            "max_windows": [],
            "raw": [], "rebuilds": {c: [] for c in REBUILDS}, "aof_rewrites": []}
    with stack(d, SERVICES, config_dir=config_dir, build=bin_dir,
               mail_sink=args.mail_sink) as st, Counters(st, d) as counters:
        pids = {name: st["processes"][name]["pid"] for name in SERVICES + ["kafka", "redis"]}
        intake = st["services"]["intake"]["grpc"]
        out = os.path.join(d, "runs")
        os.makedirs(out, exist_ok=True)
        # Warm-up (not counted): at 150 cases/s through the whole pipeline, then at 300/s
        # until the broker's JIT compiler is done with our load (at most --jit-warm-max
        # seconds): a fresh JVM compiles its hot paths for the first minute or so of traffic,
        # which a broker in service did long ago and which is not what a case costs.
        warm = warm_seconds(args, 15)
        data["jit_warm"] = []  # the compiler's CPU seconds in each 10 s at 300/s
        if warm:
            load(args, intake, os.path.join(out, "warm.json"), "bench-warm", seconds=warm,
                 rps=150)
            kafka_pid = st["processes"]["kafka"]["pid"]
            waited = 0
            while waited < args.jit_warm_max:
                j0 = jit_seconds(kafka_pid)
                load(args, intake, os.path.join(out, "warm.json"), "bench-warm", seconds=10,
                     rps=300)
                waited += 10
                data["jit_warm"].append(jit_seconds(kafka_pid) - j0)
                if data["jit_warm"][-1] < 0.1:  # under 1 % of a core
                    break
            say("warm-up: the broker's JIT compiler used %s s in each 10 s at 300 cases/s" %
                ", ".join("%.2f" % j for j in data["jit_warm"]))
            wait_pipeline(probe_exe, st, "bench-warm", 1, timeout=180)
        time.sleep(5)
        data["rest_rss"] = {name: rss_mib(pid) for name, pid in pids.items()}
        redis_before = redis_info(st["redis"], "used_memory")
        s0 = counters.snap()
        time.sleep(args.rest_seconds)
        data["rest"] = combine(counters.snap(), s0, -1)
        total_cases = 0
        with RssSampler(pids) as sampler:
            for i in range(runs):
                system = "bench-fixed-%d" % i
                probe, window = measured(counters, st, probe_exe, system, lambda: load(
                    args, intake, os.path.join(out, "%s.json" % system), system, rps=args.rate))
                data["fixed"].append(probe)
                data["fixed_windows"].append(window)
                total_cases += probe["submitted"]
                say("pipeline at %d/s run %d: %d submitted, dispatch p50 %.1f p99 %.1f ms, "
                    "complete p99 %.0f ms, %d incomplete; per case %s" % (
                        args.rate, i + 1, probe["submitted"], probe["dispatched"]["p50_ms"],
                        probe["dispatched"]["p99_ms"], probe["complete"]["p99_ms"],
                        probe["complete"]["missing"], per_case_line(window)))
            # Probed rates without counters: the latency of each stage at 500/s and unloaded.
            for key, rate, concurrency in (("mid", args.mid_rate, 50),
                                           ("calm", args.calm_rate, 10)):
                for i in range(runs):
                    system = "bench-%s-%d" % (key, i)
                    r = load(args, intake, os.path.join(out, "%s.json" % system), system,
                             concurrency=concurrency, rps=rate)
                    probe = wait_pipeline(probe_exe, st, system, r["ok"])
                    data[key].append(probe)
                    total_cases += probe["submitted"]
                    say("pipeline at %d/s run %d: dispatch p50 %.1f p99 %.1f ms, complete p99 "
                        "%.0f ms" % (rate, i + 1, probe["dispatched"]["p50_ms"],
                                     probe["dispatched"]["p99_ms"], probe["complete"]["p99_ms"]))
            for i in range(runs):
                system = "bench-max-%d" % i
                probe, window = measured(counters, st, probe_exe, system, lambda: load(
                    args, intake, os.path.join(out, "%s.json" % system), system))
                data["maxed"].append(probe)
                data["max_windows"].append(window)
                total_cases += probe["submitted"]
                say("pipeline at max rate run %d: %d submitted at %.0f/s, pipeline %.0f/s, "
                    "drained %.1f s after the last submit; per case %s" % (
                        i + 1, probe["submitted"], probe.get("submit_per_second", 0),
                        probe.get("pipeline_per_second", 0),
                        probe.get("drained_after_last_submit_ms", 0) / 1000.0,
                        per_case_line(window)))
        time.sleep(3)
        data["peak"] = sampler.peak
        data["total_cases"] = total_cases
        data["redis_per_case"] = [(redis_info(st["redis"], "used_memory") - redis_before) /
                                  max(1, total_cases)]
        # Replay and rebuild against the raw read of the same log.
        kb = os.path.join(args.build, "tools/bench/kafka_baseline")
        meldctl = os.path.join(args.build, "tools/meldctl/meldctl")
        addr = ["--intake", intake, "--deadline", st["services"]["deadline_watch"]["grpc"],
                "--notification", st["services"]["notification"]["grpc"]]
        for i in range(rebuild_runs):
            data["raw"].append(run_json([kb, "consume", "--brokers", st["kafka"], "--topic",
                                         "meldpunt.case-events.v1"]))
            for command in REBUILDS:
                data["aof_rewrites"].append(rewrite_aof(st["redis"]))
                # Each process's CPU over the call, the replay's threads included (a per-thread
                # count would miss them: they end with the replay).
                watched = (REBUILT_BY[command], "redis", "kafka")
                before = {n: cpu_seconds(pids[n]) for n in watched}
                t0 = time.time()
                got = subprocess.run([meldctl] + addr + ["--json", command], check=True,
                                     capture_output=True, text=True).stdout
                seconds = time.time() - t0
                cpu = {n: cpu_seconds(pids[n]) - before[n] for n in watched}
                events = int(json.loads(got).get("events", 0))
                data["rebuilds"][command].append((events, seconds, cpu))
                say("%s run %d: %d events in %.1f s; CPU %s" % (
                    command, i + 1, events, seconds,
                    ", ".join("%s %.2f s" % (n, v) for n, v in cpu.items())))
    return data


def merge_sessions(sessions):
    """The data of several pipeline sessions of one set of binaries as if of one."""
    m = {k: sum((s[k] for s in sessions), []) for k in (
        "fixed", "mid", "calm", "maxed", "fixed_windows", "max_windows", "raw",
        "redis_per_case", "aof_rewrites")}
    m["rebuilds"] = {c: sum((s["rebuilds"][c] for s in sessions), []) for c in REBUILDS}
    m["rest"] = functools.reduce(combine, (s["rest"] for s in sessions))
    m["total_cases"] = sum(s["total_cases"] for s in sessions)
    m["jit_warm"] = [s["jit_warm"][-1] for s in sessions if s.get("jit_warm")]
    names = sessions[0]["peak"]
    m["peak"] = {n: max(s["peak"][n] for s in sessions) for n in names}
    m["rest_rss"] = {n: statistics.median(s["rest_rss"][n] or 0 for s in sessions)
                     for n in names}
    return m


def topic_records(offsets):
    """Records appended (end offsets moved) on the case log, the dispatch feeds and the rest."""
    case = offsets.get("meldpunt.case-events.v1", 0)
    dispatch = sum(n for t, n in offsets.items()
                   if t.startswith("meldpunt.dispatch.") and t.endswith(".v1"))
    return case, dispatch, sum(offsets.values()) - case - dispatch


def per_case_line(w):
    """A window's counts per case, for the progress lines."""
    n = max(1, w["cases"])
    case, dispatch, _ = topic_records(w["offsets"])
    ours = sum(v for k, v in w["cpu"].items() if k not in SINKS)
    sinks = sum(w["cpu"].get(k, 0) for k in SINKS)
    return ("records %.2f, produce %.2f, fetch %.2f, redis commands %.1f, CPU ours %.2f ms, "
            "sinks %.2f ms" % ((case + dispatch) / n, w["requests"].get("Produce", 0) / n,
                               w["requests"].get("Fetch", 0) / n, sum(w["redis"].values()) / n,
                               ours * 1000 / n, sinks * 1000 / n))


def top(counts, n, per, digits=2):
    """The `n` largest of a dict of counts, each divided by `per`, as "name x, name y"."""
    best = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(("%s %." + str(digits) + "f") % (k, v / per) for k, v in best if v > 0)


def count_rows(windows, what):
    """Per-case counts of the runs' windows (median of runs, min-max), what: which runs."""
    def each(f):
        return med([f(w) / max(1, w["cases"]) for w in windows])
    total = functools.reduce(combine, windows)
    cases = max(1, total["cases"])
    # FetchConsumer and FetchFollower split Fetch by who asked: not counted twice.
    other = {k: v for k, v in total["requests"].items()
             if k not in ("Produce", "Fetch", "FetchConsumer", "FetchFollower")}
    rows = [
        ["Kafka records appended per case %s: case log + dispatch feeds (end offsets; "
         "transaction markers included)" % what,
         fmt(each(lambda w: sum(topic_records(w["offsets"])[:2])), 2)],
        ["the same: case log / dispatch feeds / other topics",
         " / ".join("%.2f" % (v / cases) for v in topic_records(total["offsets"]))],
        ["Produce requests per case %s (the broker's RequestMetrics)" % what,
         fmt(each(lambda w: w["requests"].get("Produce", 0)), 2)],
        ["Fetch requests per case %s (consumers; the broker's RequestMetrics)" % what,
         fmt(each(lambda w: w["requests"].get("Fetch", 0)), 2)],
        ["other broker requests per case %s" % what, top(other, 6, cases) or "none"],
        ["Redis commands per case %s (derived state: INFO commandstats)" % what,
         fmt(each(lambda w: sum(w["redis"].values())), 1)],
        ["the same by command", top(total["redis"], 8, cases)],
        ["key store Redis commands per case %s" % what,
         fmt(each(lambda w: sum(w["key_store"].values())), 2)],
        ["e-mails / webhook calls per case %s (the sinks)" % what,
         "%.2f / %.2f" % (total["mails"] / cases, total["webhooks"] / cases)],
    ]
    return rows


def warm_note(m):
    """The JIT compiler's CPU in the last 10 s of each stack's warm-up."""
    warm = m.get("jit_warm") or []
    if not warm:
        return "no warm-up"
    return "its compiler threads used %s s of CPU in the last 10 s of the warm-up" % (
        " / ".join("%.2f" % j for j in warm))


def pipeline_tables(args, m):
    """The pipeline's sections and targets from the (merged) data of one set of binaries."""
    fixed, mid, calm, maxed = m["fixed"], m["mid"], m["calm"], m["maxed"]
    stage = lambda runs, s, k: med([r[s][k] for r in runs])
    sections, targets = [], []
    rows = [
        ["cases per run at %d/s for %d s (all through every stage)" % (args.rate, args.seconds),
         fmt(med([r["submitted"] for r in fixed])) + " (incomplete: %s)" % fmt(
             med([r["complete"]["missing"] for r in fixed]))],
        ["submitted at (cases/s)", fmt(med([r.get("submit_per_second") for r in fixed]))],
    ]
    for s, label in (("routed", "routed (CaseRouted)"),
                     ("dispatched", "dispatched (the record on the department's feed)"),
                     ("clock_set", "clock set (first ClockStarted)"),
                     ("acknowledged", "acknowledgement e-mailed to the reporter "
                                      "(NotificationDelivered)"),
                     ("complete", "all four done")):
        rows.append(["submit to %s p50 / p99 / max (ms)" % label,
                     "%s / %s / %s" % (fmt(stage(fixed, s, "p50_ms"), 1),
                                       fmt(stage(fixed, s, "p99_ms"), 1),
                                       fmt(stage(fixed, s, "max_ms"), 0))])
    rows.append(["every stage done after the last submission (ms; the lag at the end)",
                 fmt(med([r.get("drained_after_last_submit_ms") for r in fixed]))])
    sink = MAIL_SINKS[args.mail_sink]
    sections.append((
        "Full pipeline at %d cases per second" % args.rate,
        "The four services (`deploy/config`) on a Redis, Kafka, %s and webhook sink of "
        "their own, after a warm-up of %d s at 150 cases/s and then at 300 cases/s until the "
        "broker's JIT compiler is done (at most %d s more). %s submits at a fixed rate%s; "
        "`tools/bench/pipeline_probe` then reads the case log and every dispatch feed "
        "(read-committed) until every case of the run was routed, dispatched, had its first "
        "clock started and its acknowledgement delivered. Times are the records' Kafka "
        "timestamps (set when a service appended them; milliseconds) minus the "
        "CaseSubmitted's." % (sink, warm_seconds(args, 15), args.jit_warm_max,
                              LOAD_GENERATORS[args.load_generator],
                              " (`--geo`: every report with a point, searched for duplicates)"
                              if args.geo else ""), rows,
        ("figure (median of runs, min-max)", "value")))

    def stage_rows(runs, rate):
        """A probed rate's rows: the cases of a run and each stage's latencies."""
        rows = [["cases per run at %d/s for %d s" % (rate, args.seconds),
                 fmt(med([r["submitted"] for r in runs]))]]
        for s_, label in (("routed", "routed"), ("dispatched", "dispatched"),
                          ("clock_set", "clock set"),
                          ("acknowledged", "acknowledgement delivered"),
                          ("complete", "all four done")):
            rows.append(["submit to %s p50 / p99 / max (ms)" % label,
                         "%s / %s / %s" % (fmt(stage(runs, s_, "p50_ms"), 1),
                                           fmt(stage(runs, s_, "p99_ms"), 1),
                                           fmt(stage(runs, s_, "max_ms"), 0))])
        return rows

    sections.append(("Full pipeline at %d cases per second" % args.mid_rate,
                     "The same stack and probe at half the fixed rate (50 concurrent calls), "
                     "the rate of the issue's dispatch target.", stage_rows(mid, args.mid_rate),
                     ("figure (median of runs, min-max)", "value")))
    targets.append(("submit to dispatch p99 at %d cases/s (ms)" % args.mid_rate,
                    fmt(stage(mid, "dispatched", "p99_ms"), 1), "50 at most"))
    sections.append(("Full pipeline at %d cases per second" % args.calm_rate,
                     "The same stack and probe at a rate it sustains on this machine (10 "
                     "concurrent calls): the latency of each stage without a backlog.",
                     stage_rows(calm, args.calm_rate),
                     ("figure (median of runs, min-max)", "value")))
    targets.append(("submit to dispatch p99 at %d cases/s (ms)" % args.calm_rate,
                    fmt(stage(calm, "dispatched", "p99_ms"), 1),
                    "(no target; the unloaded latency)"))
    rows = [
        ["cases per run (%s at max rate, 50 concurrent, %d s)" % (args.load_generator,
                                                                  args.seconds),
         fmt(med([r["submitted"] for r in maxed]))],
        ["submitted at (cases/s)", fmt(med([r.get("submit_per_second") for r in maxed]))],
        ["pipeline throughput: cases / (last stage done - first submission) (cases/s)",
         fmt(med([r.get("pipeline_per_second") for r in maxed]))],
        ["every stage done after the last submission (s; the consumer lag at the end)",
         fmt(med([(r.get("drained_after_last_submit_ms") or 0) / 1000.0 for r in maxed]), 1)],
        ["submit to dispatched p50 / p99 (ms)",
         "%s / %s" % (fmt(stage(maxed, "dispatched", "p50_ms"), 1),
                      fmt(stage(maxed, "dispatched", "p99_ms"), 1))],
        ["submit to all four done p50 / p99 (ms)",
         "%s / %s" % (fmt(stage(maxed, "complete", "p50_ms"), 1),
                      fmt(stage(maxed, "complete", "p99_ms"), 1))],
    ]
    sections.append(("Full pipeline at the maximum rate",
                     "The same stack, %s at its maximum rate." % args.load_generator, rows,
                     ("figure (median of runs, min-max)", "value")))
    # Counts and CPU over the same windows: from just before each run's first call until the
    # log stopped growing after it, before the probe reads the log.
    rest, windows = m["rest"], m["fixed_windows"]
    rows = (count_rows(windows, "at {:,}/s".format(args.rate))
            + count_rows(m["max_windows"], "at max rate"))
    rs = max(1e-9, rest["seconds"])
    rows.append(["at rest, per second: Produce / Fetch requests, Redis commands",
                 "%.1f / %.1f, %.1f" % (rest["requests"].get("Produce", 0) / rs,
                                        rest["requests"].get("Fetch", 0) / rs,
                                        sum(rest["redis"].values()) / rs)])
    sections.append((
        "What a case costs in Kafka records, requests and Redis commands",
        "Counted over the runs above, each from just before its first call until no topic's end "
        "offset had moved for 2 s (before `pipeline_probe` reads the log, so its reads are not "
        "counted), divided by the run's cases; median of runs (min-max), breakdowns over all "
        "runs. Records: the end offsets of every topic before and after "
        "(`tools/bench/BrokerCounters.java`, Kafka's admin client). Requests: the broker's own "
        "`kafka.network:type=RequestMetrics,name=RequestsPerSec` Count per request type, read "
        "through JMX in the broker's JVM (the Attach API starts its local agent: no port, no "
        "restart; the broker counts every client's requests, so this needs nothing of the "
        "services). Redis: `INFO commandstats` (INFO itself left out). At rest: %.0f s with no "
        "load after the warm-up." % rest["seconds"], rows,
        ("figure", "value")))
    cpu, wall = functools.reduce(combine, windows)["cpu"], sum(w["seconds"] for w in windows)
    fixed_cases = sum(w["cases"] for w in windows)
    idle = rest["cpu"]

    def cpu_row(label, names):
        busy = sum(cpu.get(n, 0) for n in names)
        at_rest = sum(idle.get(n, 0) for n in names) / rs
        return [label, "%.1f%%" % (at_rest * 100), "%.2f" % (busy * 1000.0 / max(1, fixed_cases)),
                "%.2f" % (max(0.0, busy - at_rest * wall) * 1000.0 / max(1, fixed_cases))]

    ours = [n for n in cpu if n not in SINKS]
    sink_label = {"smtp_sink": "smtp_sink (%s)" % MAIL_SINKS[args.mail_sink]}
    rows = [cpu_row(sink_label.get(n, n), [n]) for n in sorted(cpu, key=lambda n: -cpu[n])]
    ours_row = cpu_row("**CPU per case, our processes** (intake, routing, deadline-watch, "
                       "notification, Kafka, Redis and the key store's Redis; without the sinks "
                       "and the load generator)", ours)
    rows.append(ours_row)
    rows.append(cpu_row("CPU per case, the sinks (SMTP: %s; webhooks: webhook_sink.py)" %
                        MAIL_SINKS[args.mail_sink], SINKS))
    load_ms = sum(w.get("load", 0) for w in windows) * 1000.0 / max(1, fixed_cases)
    rows.append(["CPU per case, the load generator (%s; in neither sum above)" %
                 args.load_generator, "", "%.2f" % load_ms, ""])
    machine = (sum(cpu.values()) * 1000.0 / max(1, fixed_cases)) + load_ms
    cores = os.cpu_count() or 1
    rows.append(["CPU per case, everything on the machine (our processes, the sinks and the "
                 "load generator), and the cases a second its %d cores could carry at that cost"
                 % cores, "", "%.2f (%s cases/s)" % (machine, "{:,.0f}".format(
                     cores * 1000.0 / max(1e-9, machine))), ""])
    per_run = med([sum(w["cpu"].get(n, 0) for n in ours) * 1000.0 / max(1, w["cases"])
                   for w in windows])
    rows.append(["CPU per case, our processes, per run (median, min-max)", "", fmt(per_run, 2),
                 ""])
    rows.append(["of Redis's: its append-only-file rewrites (forked children; one takes 1-3 s "
                 "of a core, and a run has one or none)", "", "%.3f" % (
                     sum(w.get("redis_rewrites", 0) for w in windows) * 1000.0 /
                     max(1, fixed_cases)), ""])
    rows.append(["of Kafka's: its JIT compiler threads (a fresh JVM still compiling)", "",
                 "%.3f" % (sum(w.get("jit", 0) for w in windows) * 1000.0 / max(1, fixed_cases)),
                 ""])
    rows.append(["cases and seconds measured", "", "{:,} cases in {:.0f} s".format(
        fixed_cases, wall), ""])
    sections.append((
        "Where the CPU goes in the pipeline",
        "CPU time (user + system, from /proc) of every process of the stack over the fixed-rate "
        "runs above (each from just before its first call until the log stopped growing), "
        "divided by the cases; and each process at rest (%.0f s with no load). The broker is "
        "warmed until its JIT compiler is done (%s) before anything is measured. The load "
        "generator (%s) is not a process of the stack. The sinks stand in for the mail server "
        "and the departments' systems and share the two cores with everything else." % (
            rest["seconds"], warm_note(m), args.load_generator), rows,
        ("process", "at rest (share of one core)", "CPU ms per case",
         "CPU ms per case above rest")))
    targets.append(("CPU per case, every process of the stack except the load generator and "
                    "the sinks, at {:,}/s (ms)".format(args.rate), ours_row[2],
                    "lower is better"))
    rows = []
    for name in SERVICES + ["kafka", "redis"]:
        rows.append([name, "%.0f MiB" % (m["rest_rss"][name] or 0),
                     "%.0f MiB" % m["peak"][name]])
    sections.append(("Resident memory per process",
                     "VmRSS at rest (after the warm-up) and the peak sampled every 0.5 s during "
                     "the pipeline runs above.", rows,
                     ("process", "at rest", "peak under load")))
    raw = m["raw"]
    if raw:
        rows = [["Redis memory per open case (projection, history, routing state, clocks and "
                 "timers, outbox and deliveries): used_memory growth / cases",
                 "%s bytes ({:,} cases)".format(m["total_cases"]) % fmt(med(m["redis_per_case"]))],
                ["**raw baseline**: reading the case log with a bare librdkafka consumer "
                 "(records/s)", "%s (%s records)" % (
                     fmt(med([r["per_second"] for r in raw])),
                     fmt(med([r["records"] for r in raw])))]]
        labels = {"rebuild": "intake projection (`meldctl rebuild`)",
                  "rebuild-timers": "deadline-watch timers and clocks (`meldctl rebuild-timers`)",
                  "rebuild-deliveries": "notification outbox and deliveries "
                                        "(`meldctl rebuild-deliveries`)"}
        for command, got in m["rebuilds"].items():
            rate = med([e / s for e, s, _ in got if s > 0])
            ratio = fmt(med([(e / s) / r["per_second"] for (e, s, _), r in zip(got, raw)]), 2)
            rows.append(["rebuild of the %s (events/s; whole call)" % labels[command],
                         "%s (%s of the raw read)" % (fmt(rate), ratio)])
            targets.append(("rebuild of the %s against the raw read of the log" %
                            labels[command], ratio, "0.3 or more"))
            names = (REBUILT_BY[command], "redis", "kafka")
            rows.append(["the same, CPU an event of %s, Redis and the broker (µs; the whole "
                         "processes over the call, an append-only-file rewrite included if one "
                         "ran)" % REBUILT_BY[command].replace("_", "-"),
                         " / ".join(fmt(med([c[n] / e * 1e6 for e, _, c in got if e > 0]), 1)
                                    for n in names)])
        if m["aof_rewrites"]:
            rows.append(["Redis's append-only-file rewrite done before each rebuild (CPU s of "
                         "its child)", fmt(med(m["aof_rewrites"]), 2)])
        sections.append(("Redis memory, replay and rebuild",
                         "On the same stack after the pipeline runs; each rebuild clears what "
                         "the service keeps in Redis and folds the whole log again through the "
                         "service's own code. Before each one Redis rewrites its append-only "
                         "file, so that the rewrite a rebuild's writes would set off (once the "
                         "file doubled) does not fall in whichever rebuild crosses that size; "
                         "its cost is the last row.", rows,
                         ("figure (median of runs, min-max)", "value")))
    targets.append(("pipeline throughput (cases/s)",
                    fmt(med([r.get("pipeline_per_second") for r in maxed])),
                    "1,000 or more (3,000 the aim)"))
    targets.append(("submit to dispatch p99 at %d cases/s (ms)" % args.rate,
                    fmt(stage(fixed, "dispatched", "p99_ms"), 1), "(no target; 50 at 500/s)"))
    return sections, targets


def part_pipeline(args, rep, results):
    """The four services end to end, at a fixed rate and at the maximum rate; with
    --compare-bin-dir each run of both sets of binaries on a fresh stack, taking turns."""
    rebuild_runs = 0 if args.no_rebuild else args.runs
    if not args.compare_bin_dir:
        merged = {THIS_BUILD: merge_sessions([pipeline_session(args, args.build, CONFIG,
                                                               args.runs, rebuild_runs)])}
    else:
        sessions = {label: [] for label, _, _ in variants(args)}
        for i, (label, bin_dir, config_dir) in turns(args):
            say("pipeline run %d of %d: %s" % (i + 1, args.runs, label))
            sessions[label].append(pipeline_session(args, bin_dir, config_dir, 1,
                                                    0 if args.no_rebuild else 1))
        merged = {label: merge_sessions(s) for label, s in sessions.items()}
    emit(rep, args, {label: pipeline_tables(args, m) for label, m in merged.items()})


def merge_rows(texts):
    """One markdown row from the same row of several runs: each number as median (min-max)."""
    num = re.compile(r"\d+(?:\.\d+)?")
    values = [[float(x) for x in num.findall(t)] for t in texts]
    it = iter(zip(*values))

    def one(_):
        v = next(it)
        f = lambda x: ("%.1f" % x).rstrip("0").rstrip(".")
        if min(v) == max(v):
            return f(v[0])
        return "%s (%s-%s)" % (f(statistics.median(v)), f(min(v)), f(max(v)))

    return num.sub(one, texts[0])


def merged_table(outputs):
    """Rows (lines starting with '| ') of every run's output, merged by their shape."""
    num = re.compile(r"\d+(?:\.\d+)?")
    rows = {}
    for out in outputs:
        for line in out.splitlines():
            if line.startswith("| "):
                cells = line.strip().strip("|").strip()
                rows.setdefault(num.sub("#", cells), []).append(cells)
    merged = []
    for texts in rows.values():
        if len(texts) == len(outputs):
            merged.append(merge_rows(texts).split(" | "))
    return merged


def fresh_runs(args, name, command):
    """`command(stack)` once per run, each on a fresh Redis, Kafka and sinks; the outputs."""
    outputs = []
    for i in range(args.runs):
        with stack(os.path.join(args.build, "bench-stack-" + name)) as st:
            say("%s run %d of %d" % (name, i + 1, args.runs))
            out = subprocess.run(command(st), check=True, capture_output=True, text=True).stdout
            print(out, flush=True)
            outputs.append(out)
    return outputs


def part_deadline(args, rep, results):
    """deadline_bench on a fresh Redis and Kafka for every run."""
    outputs = fresh_runs(args, "deadline", lambda st: [
        os.path.join(args.build, "tools/bench/deadline_bench"), "--redis", st["redis"],
        "--kafka", st["kafka"], "--policies", os.path.join(CONFIG, "deadline_watch.yaml")
    ] + args.deadline_args)
    rows = merged_table(outputs)
    rep.section(
        "Deadline timers (1,000,000 pending)",
        "`tools/bench/deadline_bench` through the service's own code on a fresh Redis and Kafka "
        "per run: the Lua claim with leases, `FireDue` appending each page of events to the case "
        "log (acks=all) and waiting for every acknowledgement, one thread over six partitions "
        "polling every 100 ms as the shipped configuration does; the rebuild is the service's "
        "own (`TimerRebuild`, as `RebuildTimers` runs it: its clear, then the log with the "
        "shipped policies in runs, one lane per partition, through `BufferedTimerStore`). Lateness is from the instant a timer was due "
        "to Kafka's acknowledgement of its event. The raw Redis baselines are in the table "
        "above.", rows)
    for row in rows:
        if row[0].startswith("Firing lateness"):
            rep.target("deadline lateness p99 with 1,000,000 pending", row[1], "250 ms at most")
        if "due at the same instant" in row[0]:
            rep.target(row[0], row[1], "drained within 5 s")
        if row[0].startswith("Rebuild from the log"):
            rep.target("timers rebuilt from the log of 90,909 complaints (999,999 timers when a "
                       "clock kept one for each warning, breach and step)", row[1],
                       "1,000,000 timers' log within 30 s")


def part_notification(args, rep, results):
    outputs = fresh_runs(args, "notification", lambda st: [
        os.path.join(args.build, "tools/bench/notification_bench"), "--redis", st["redis"],
        "--kafka", st["kafka"], "--webhook", st["webhook"], "--templates",
        os.path.join(ROOT, "services/notification/templates"), "--messages", "3000"])
    rep.section(
        "Notification deliveries to a local webhook sink",
        "`tools/bench/notification_bench` on a fresh Redis, Kafka and webhook sink per run, "
        "through the service's own path: rules, templates and the Redis outbox, then a "
        "dispatcher and 8 senders (Lua claim with a lease, a signed webhook POST, the record "
        "in Redis, `NotificationDelivered` appended with acks=all). The raw baseline POSTs the "
        "same payloads straight to the same sink from 8 threads.", merged_table(outputs))


def part_routing(args, rep, results):
    exe = os.path.join(args.build, "tools/bench/routing_bench")
    if not os.path.exists(exe):
        say("routing_bench not built (libbenchmark-dev missing?); skipped")
        return
    out = subprocess.run([exe, "--benchmark_min_time=1", "--benchmark_repetitions=%d" % max(
        3, args.runs), "--benchmark_format=json"], check=True, capture_output=True,
        text=True).stdout
    data = json.loads(out)
    by = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "iteration":
            by.setdefault(b["run_name"], []).append(b["real_time"] * {
                "ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]])
    what = {"BM_DecidePostcode": "a full decision: district by postcode, 1,000 rules, "
                                 "category fallback, explanation",
            "BM_DecideCoordinates": "the same, district by point-in-polygon over 100 polygons",
            "BM_PickAssignee": "least-loaded member of a team of 5, capacity and skills",
            "BM_BaselineCategoryLookup": "**raw baseline**: a bare std::map category lookup"}
    rows = []
    for name, times in by.items():
        t = med(times)
        rows.append([name, what.get(name, ""), fmt(t, 0, " ns"),
                     "{:,.0f}".format(1e9 / t[0])])
    rep.section("Routing decisions (1,000 rules, 100 districts)",
                "Google Benchmark (`tools/bench/routing_bench`), none of the rules matching, so "
                "each decision walks all 1,000 before the category fallback: the worst case of a "
                "rule file this size.", rows,
                header=("benchmark", "one operation", "time", "per second, one core"))


def vegeta(args, url, out, seconds, concurrency, forms):
    """One vegeta run of POSTs to `url` at the highest rate `concurrency` workers reach, each
    request with its own form and Idempotency-Key (a new case each); 2xx/s and 2xx latencies."""
    import base64
    targets = os.path.join(out + ".targets")
    with open(targets, "w") as f:
        for i, form in enumerate(forms):
            f.write(json.dumps({
                "method": "POST", "url": url,
                "body": base64.b64encode(form.encode()).decode(),
                "header": {"Content-Type": ["application/x-www-form-urlencoded"],
                           "Idempotency-Key": ["bench-%s-%d" % (os.path.basename(out), i)]}}) + "\n")
    attack = subprocess.Popen(
        [args.vegeta, "attack", "-format=json", "-targets=" + targets, "-rate=0",
         "-workers=%d" % concurrency, "-max-workers=%d" % concurrency,
         "-duration=%ds" % seconds, "-keepalive=true", "-timeout=10s"],
        stdout=subprocess.PIPE)
    report = subprocess.run([args.vegeta, "report", "-type=json"], stdin=attack.stdout,
                            check=True, capture_output=True, text=True).stdout
    attack.wait()
    r = json.loads(report)
    codes = r.get("status_codes", {})
    ok = sum(n for code, n in codes.items() if code.startswith("2"))
    seconds_run = (r["duration"] + r.get("wait", 0)) / 1e9
    return {"rps_ok": ok / seconds_run if seconds_run else 0.0, "ok": ok, "codes": codes,
            "p50": r["latencies"]["50th"] / 1e6, "p99": r["latencies"]["99th"] / 1e6}


def part_open311(args, rep, results):
    """POST requests.json through the Open311 gateway, beside a bare handler of the same HTTP
    library (and cpp-httplib's) and beside SubmitCase over gRPC, in the same run."""
    if not os.path.exists(args.vegeta):
        raise RuntimeError("vegeta not installed (tools/setup installs it from the Go module proxy)")
    d = os.path.join(args.build, "bench-stack-open311")
    out = os.path.join(d, "runs")
    concurrency = 50
    # Far above the load: the figures are of the gateway, not of its rate limit.
    os.environ["MELDPUNT_OPEN311_RATE_LIMIT"] = "100000"
    os.environ["MELDPUNT_OPEN311_RATE_BURST"] = "100000"
    form = ("api_key=dev-open311-key&service_code=101&lat=51.0543&long=3.7174&"
            "description=Street+light+out+in+front+of+number+12+(%d)&email=jan.peeters%%40example.org&"
            "first_name=Jan&last_name=Peeters")
    n = 40000  # more than a run sends: every POST a new case
    forms = [form % i for i in range(n)]
    bares = {}
    with stack(d, ["intake", "open311"], build=args.build) as st:
        os.makedirs(out, exist_ok=True)
        procs = []
        try:
            for library in ("beast", "httplib"):
                log = open(os.path.join(d, "bare-%s.log" % library), "w")
                procs.append((subprocess.Popen(
                    [os.path.join(args.build, "tools/bench/bare_http_server"), "--library",
                     library], stdout=log, stderr=subprocess.STDOUT), log))
                port = None
                for _ in range(100):
                    with open(os.path.join(d, "bare-%s.log" % library)) as f:
                        m = re.search(r"^port=(\d+)", f.read(), re.M)
                    if m:
                        port = m.group(1)
                        break
                    time.sleep(0.1)
                if port is None:
                    raise RuntimeError("the bare %s server printed no port" % library)
                bares[library] = "http://127.0.0.1:%s/open311/v2/requests.json" % port
            gateway = "http://%s/open311/v2/requests.json" % st["services"]["open311"]["http"]
            intake = st["services"]["intake"]["grpc"]
            runs = {"beast": [], "httplib": [], "gateway": [], "grpc": []}
            # Warm-ups, not counted (the broker's JIT, connections, the producer id).
            vegeta(args, gateway, os.path.join(out, "warm-gateway"), 15, concurrency, forms)
            ghz(args, intake, os.path.join(out, "warm-grpc.json"), "bench-warm", seconds=5)
            for i in range(args.runs):
                for name in ("beast", "httplib", "gateway"):
                    url = gateway if name == "gateway" else bares[name]
                    r = vegeta(args, url, os.path.join(out, "%s-%d" % (name, i)), args.seconds,
                               concurrency, forms)
                    runs[name].append(r)
                    say("open311 %s run %d: %.0f 2xx/s p50 %.1f ms p99 %.1f ms %s" % (
                        name, i + 1, r["rps_ok"], r["p50"], r["p99"], r["codes"]))
                r = ghz(args, intake, os.path.join(out, "grpc-%d.json" % i), "bench")
                runs["grpc"].append(r)
                say("open311 SubmitCase over gRPC run %d: %.0f OK/s p50 %.1f ms p99 %.1f ms" % (
                    i + 1, r["rps_ok"], r["p50"], r["p99"]))
        finally:
            for proc, log in procs:
                proc.terminate()
                proc.wait()
                log.close()
    fig = {k: med([r["rps_ok"] for r in v]) for k, v in runs.items()}
    lat = {k: {p: med([r[p] for r in v]) for p in ("p50", "p99")} for k, v in runs.items()}
    ratio_grpc = med([g["rps_ok"] / s["rps_ok"] for g, s in zip(runs["gateway"], runs["grpc"])])
    ratio_bare = med([g["rps_ok"] / b["rps_ok"] for g, b in zip(runs["gateway"], runs["beast"])])
    results["open311"] = fig["gateway"]

    def row(label, k):
        return [label, "%s; p50 / p99 %s / %s ms" % (fmt(fig[k]), fmt(lat[k]["p50"], 1),
                                                     fmt(lat[k]["p99"], 1))]
    rows = [
        row("**raw baseline**: bare Boost.Beast handler (the gateway's HTTP server), POST "
            "answered at once (2xx/s)", "beast"),
        row("bare cpp-httplib handler (a thread per connection), POST answered at once (2xx/s)",
            "httplib"),
        row("Open311 gateway `POST requests.json`, each a new case, durable (2xx/s)", "gateway"),
        row("SubmitCase over gRPC to the same intake, each a new case (OK/s)", "grpc"),
        ["ratio gateway / SubmitCase over gRPC, per pair of runs", fmt(ratio_grpc, 3)],
        ["ratio gateway / bare Beast handler, per pair of runs", fmt(ratio_bare, 3)],
    ]
    rep.section(
        "Open311 POST requests against a bare HTTP handler and SubmitCase over gRPC",
        "vegeta (%d workers, keep-alive, %d s a run, each POST a new form with its own "
        "Idempotency-Key) loads `tools/bench/bare_http_server` (the gateway's Beast server, "
        "2 I/O threads and 16 workers, and cpp-httplib, each answering at once) and the gateway "
        "(`deploy/config/open311.yaml`, its rate limit lifted) in front of the intake on a "
        "Redis and Kafka of its own; ghz (%d concurrent calls) sends SubmitCase straight to "
        "the same intake. After a warm-up of each." % (concurrency, args.seconds, concurrency),
        rows)
    rep.target("Open311 POST / SubmitCase over gRPC", fmt(ratio_grpc, 3), "0.5 or better")



PARTS = {"open311": part_open311, "submit": part_submit, "baselines": part_baselines, "pipeline": part_pipeline,
         "deadline": part_deadline, "notification": part_notification, "routing": part_routing}
ORDER = ["submit", "baselines", "pipeline", "deadline", "notification", "routing", "open311"]


def machine():
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // (1024 * 1024)
    versions = []
    for cmd, pat in ((["redis-server", "--version"], r"v=(\S+)"),
                     (["java", "-version"], r'version "([^"]+)"'),
                     (["g++", "--version"], r"\) (\S+)")):
        with contextlib.suppress(Exception):
            p = subprocess.run(cmd, capture_output=True, text=True)
            m = re.search(pat, p.stdout + p.stderr)
            if m:
                versions.append("%s %s" % (cmd[0], m.group(1)))
    return "%d cores (%s), %d GiB, Linux %s; %s; Kafka %s (KRaft, one broker)" % (
        os.cpu_count(), cpu, mem, platform.release(), ", ".join(versions),
        os.environ.get("MELDPUNT_KAFKA_VERSION", "3.7.2"))


def write_doc(rep, args, started):
    hand = ""
    if os.path.exists(DOC):
        text = open(DOC).read()
        if HAND_MARK in text:
            hand = text.split(HAND_MARK, 1)[1]
    lines = [
        "# Benchmarks", "",
        "Written by `tools/dev bench` (`tools/bench/bench.py all --runs %d`) on %s, in %.0f "
        "minutes. Machine: %s. Every figure is the median of %d runs with (min-max); the raw "
        "baselines ran in the same invocation on the same machine. The machine is shared and "
        "noisy: compare ratios and figures of the same run. Benchmarks never run in "
        "`tools/dev test`." % (args.runs, started.strftime("%Y-%m-%d"),
                               (time.time() - started.timestamp()) / 60, machine(), args.runs),
        "",
        "## Against the targets", "",
        "| figure | measured | target on this 2-core machine |", "| --- | --- | --- |"]
    for figure, value, target in rep.summary:
        lines.append("| %s | %s | %s |" % (figure, value, target))
    lines.append("")
    body = "\n".join(lines) + "\n" + "\n".join(rep.sections)
    with open(DOC, "w") as f:
        f.write(body.rstrip() + "\n\n" + HAND_MARK + hand)
    say("wrote %s" % DOC)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=["all"] + ORDER)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10, help="a load run's length")
    p.add_argument("--load-generator", choices=sorted(LOAD_GENERATORS), default="submit_load",
                   help="pipeline, and submit's runs at half the intake's maximum rate: what "
                        "submits the cases; submit_load spends a third of ghz's CPU a call on "
                        "the cores the stack shares (docs/benchmarks.md); the maximum-rate "
                        "runs of submit (the ratio to the bare server) and the Open311 part use "
                        "ghz either way")
    p.add_argument("--rate", type=int, default=1000, help="the pipeline's fixed rate")
    p.add_argument("--mid-rate", type=int, default=500,
                   help="the pipeline's second fixed rate, for the dispatch target at 500/s")
    p.add_argument("--calm-rate", type=int, default=100,
                   help="a fixed rate the pipeline sustains, for its unloaded latency")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--ghz", default=os.path.join(os.environ.get(
        "MELDPUNT_CACHE", os.path.expanduser("~/.cache/meldpunt")), "bin", "ghz"))
    p.add_argument("--vegeta", default=os.path.join(os.environ.get(
        "MELDPUNT_CACHE", os.path.expanduser("~/.cache/meldpunt")), "bin", "vegeta"))
    p.add_argument("--mail-sink", choices=sorted(MAIL_SINKS), default="smtp-sink",
                   help="the pipeline's SMTP sink: Postfix's smtp-sink, which takes every "
                        "message and keeps none (tools/setup installs it); Mailpit, which stores "
                        "and indexes each one; or the tests' smtp_sink.py")
    p.add_argument("--compare-bin-dir", metavar="DIR",
                   help="submit and pipeline: also measure the binaries under DIR (the build "
                        "folder's layout: services/<svc>/meldpunt-<svc>, "
                        "tools/bench/pipeline_probe, ...), each run of both on a fresh stack, "
                        "taking turns; the figures side by side")
    p.add_argument("--compare-label", metavar="LABEL",
                   help="the column of --compare-bin-dir (default: its folder name)")
    p.add_argument("--compare-config-dir", default=CONFIG, metavar="DIR",
                   help="the service configs for --compare-bin-dir (default: deploy/config)")
    p.add_argument("--half-rate", type=int,
                   help="submit: the rate of the latency runs (default: half the intake's "
                        "max rate; with --compare-bin-dir, of this build's first run)")
    p.add_argument("--warm-seconds", type=int,
                   help="every warm-up this long (default: 15 s pipeline, 20 s intake, 5 s bare "
                        "server; shorter only for trying the script)")
    p.add_argument("--jit-warm-max", type=int, default=120,
                   help="pipeline: after the warm-up, at most this long more at 300 cases/s "
                        "until the broker's JIT compiler uses under 1 %% of a core")
    p.add_argument("--rest-seconds", type=int, default=10,
                   help="the pipeline at rest, for the CPU and counts without load")
    p.add_argument("--geo", action="store_true",
                   help="submissions with coordinates (routing's duplicate search on every one)")
    p.add_argument("--no-rebuild", action="store_true",
                   help="pipeline: leave out the rebuilds (for trying the script)")
    p.add_argument("--deadline-args", nargs=argparse.REMAINDER, default=[],
                   help="passed to deadline_bench (e.g. --pending 100000)")
    args = p.parse_args(argv)
    if not os.path.exists(args.ghz):
        print("bench: ghz not installed (tools/setup installs it from the Go module proxy)",
              file=sys.stderr)
        return 1
    if args.compare_bin_dir:
        args.compare_bin_dir = os.path.abspath(args.compare_bin_dir)
        args.compare_label = args.compare_label or os.path.basename(args.compare_bin_dir)
        if args.compare_label == THIS_BUILD:
            print("bench: --compare-label %r is this build's" % THIS_BUILD, file=sys.stderr)
            return 2
    mail_sink = {"mailpit": os.path.join(os.environ.get("MELDPUNT_CACHE", os.path.expanduser(
        "~/.cache/meldpunt")), "bin", "mailpit"),
        "smtp-sink": shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"}.get(args.mail_sink)
    if mail_sink and args.part in ("all", "pipeline") and not os.path.exists(mail_sink):
        print("bench: %s not installed (tools/setup installs it; or --mail-sink python)"
              % mail_sink, file=sys.stderr)
        return 1
    started = datetime.datetime.now()
    rep, results = Report(), {}
    parts = ORDER if args.part == "all" else [args.part]
    for name in parts:
        say("== %s" % name)
        PARTS[name](args, rep, results)
    if args.part == "all":
        if args.runs < 3:
            say("fewer than 3 runs: docs/benchmarks.md left as it is")
        else:
            write_doc(rep, args, started)
    if rep.summary:
        print("\n| figure | measured | target |\n| --- | --- | --- |")
        for row in rep.summary:
            print("| %s | %s | %s |" % row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
