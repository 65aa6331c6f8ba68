#!/usr/bin/python3
"""The chaos suite: faults under load, each scenario checked by the independent verifier.

For every scenario it starts `meldpunt-chaos load` (cases at a steady rate, a ledger line per
OK), injects the scenario's faults through tests/harness/stack.py while the load runs, brings
everything back, then runs `meldpunt-chaos verify` on that scenario's ledger and prints one row
of the table. Exit status 0 when every scenario passed, 1 when one did not, 2 on bad usage.

    tools/chaos/chaos.py run [--short] [--cluster] [--scenarios a,b] [--state-dir D]
                             [--bin-dir B] [--config-dir C]
    tools/chaos/chaos.py list

With --cluster the stack has the production shape (three Kafka nodes, Redis with a replica and
three Sentinels: stack.py start-infra --cluster) and the scenarios are the cluster's. The run
then takes place in a network namespace of its own (unshare --net, its loopback only), where the
partition scenario may change iptables without touching the machine's.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(TOOLS_DIR))
HARNESS_DIR = os.path.join(REPO_ROOT, "tests", "harness")
STACK = [sys.executable, os.path.join(HARNESS_DIR, "stack.py")]
CONFIG_DIR = os.path.join(TOOLS_DIR, "config")
SERVICES = ["intake", "routing", "deadline_watch", "notification"]
CASE_TOPIC = "meldpunt.case-events.v1"
# The services that consume the case log (DeadLetter.service on meldpunt.case-events.dlq.v1).
CASE_LOG_CONSUMERS = ["intake", "routing", "deadline-watch", "notification"]


def say(msg):
    print("chaos: %s" % msg, flush=True)


class Fault(Exception):
    pass


class Run:
    """One chaos run: the stack in `state_dir`, the binaries under `bin_dir`."""

    def __init__(self, args):
        self.short = args.short
        self.cluster = getattr(args, "cluster", False)
        self.state_dir = os.path.abspath(args.state_dir)
        self.bin_dir = os.path.abspath(args.bin_dir)
        self.config_dir = os.path.abspath(args.config_dir)
        self.chaos_bin = os.path.join(self.bin_dir, "tools", "chaos", "meldpunt-chaos")
        self.meldctl = os.path.join(self.bin_dir, "tools", "meldctl", "meldctl")
        self.events = []  # (seconds since scenario start, what happened)
        self.t0 = time.monotonic()

    # -- the stack --------------------------------------------------------------------------
    def stack(self, *argv, check=True):
        cmd = STACK + [argv[0], "--state-dir", self.state_dir] + list(argv[1:])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise Fault("stack.py %s failed: %s" % (" ".join(argv), p.stderr.strip()[-2000:]))
        return p

    def state(self):
        with open(os.path.join(self.state_dir, "stack.json")) as f:
            return json.load(f)

    def mark(self, what):
        at = time.monotonic() - self.t0
        self.events.append((round(at, 1), what))
        say("  %6.1fs %s" % (at, what))

    def start(self):
        say("starting a fresh stack in %s" % self.state_dir)
        self.stack("start-infra", "--fresh", "--quiet", *(["--cluster"] if self.cluster else []))
        self.stack("start-services", "--bin-dir", self.bin_dir, "--config-dir", self.config_dir,
                   "--cwd", REPO_ROOT, "--quiet")

    def stop(self):
        self.stack("stop", check=False)

    def kill(self, name, down_for):
        self.stack("stop-service", "--name", name, "--signal", "KILL")
        self.mark("kill -9 %s" % name)
        time.sleep(down_for)
        self.stack("restart-service", "--name", name)
        self.mark("%s back" % name)

    def sigterm(self, name):
        self.stack("restart-service", "--name", name, "--signal", "TERM")
        self.mark("SIGTERM %s, restarted" % name)

    def pause(self, name, seconds):
        self.stack("signal-service", "--name", name, "--signal", "STOP")
        self.mark("SIGSTOP %s" % name)
        time.sleep(seconds)
        self.stack("signal-service", "--name", name, "--signal", "CONT")
        self.mark("SIGCONT %s" % name)

    def replica(self, name, up):
        if up:
            self.stack("start-services", "--bin-dir", self.bin_dir, "--config-dir", self.config_dir,
                       "--cwd", REPO_ROOT, "--services", name, "--instance", "2", "--quiet")
            self.mark("%s-2 started" % name)
        else:
            self.stack("stop-service", "--name", name + "-2", "--signal", "TERM")
            self.mark("%s-2 stopped" % name)

    def redis_cli(self, *argv):
        host, port = self.state()["redis"].rsplit(":", 1)
        p = subprocess.run(["redis-cli", "-h", host, "-p", port] + list(argv),
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise Fault("redis-cli %s: %s" % (" ".join(argv), p.stderr.strip()))
        return p.stdout.strip()

    def webhook_sink(self, method, body=None):
        import urllib.request
        req = urllib.request.Request(self.state()["webhook"] + "/_sink/respond", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        urllib.request.urlopen(req, timeout=10).read()

    def ensure_all_running(self):
        """Every process of the stack runs again (a scenario may have left one down)."""
        st = self.state()
        for name, rec in st.get("processes", {}).items():
            if name.endswith("-2"):
                if rec.get("pid"):
                    self.stack("stop-service", "--name", name, check=False)
                continue
            if not rec.get("pid"):
                self.stack("restart-service", "--name", name)
                self.mark("%s restarted (was down)" % name)

    # -- one scenario -----------------------------------------------------------------------
    def injected_ledger(self, name):
        """The ledger of the cases a scenario makes unhandleable (not held to the rules)."""
        return os.path.join(self.state_dir, "ledgers", name + ".injected.jsonl")

    def scenario(self, name, fault, rate, seconds, settle, allow_dead_letter=False,
                 fault_after=5, injected=False, undecodable=False, check=None, nearby=False):
        """`injected`: the fault wrote injected_ledger(name), every case of which must be
        dead-lettered by notification; `undecodable`: every service that consumes the case log
        must dead-letter each undecodable record written during the scenario. Any other case-event
        dead letter of the scenario fails it. `check(ledger lines, load summary)`: the scenario's
        own rules, a list of failures (empty when they hold). `nearby`: every case has a point,
        reports in groups of likely duplicates (meldpunt-chaos load --nearby), and the verifier
        holds the links and the duplicate letters to the routing rules' radius."""
        say("scenario %s: %d cases/s for %ds" % (name, rate, seconds))
        self.events = []
        self.t0 = time.monotonic()
        since_ms = int(time.time() * 1000)
        ledger = os.path.join(self.state_dir, "ledgers", name + ".jsonl")
        os.makedirs(os.path.dirname(ledger), exist_ok=True)
        for path in (ledger, self.injected_ledger(name)):
            if os.path.exists(path):
                os.remove(path)
        intake = self.state()["services"]["intake"]["grpc"]
        load = subprocess.Popen(
            [self.chaos_bin, "load", "--intake", intake, "--ledger", ledger,
             "--key-prefix", "%s-%d" % (name, int(time.time())), "--rate", str(rate),
             "--seconds", str(seconds)] + (["--nearby"] if nearby else []),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        error = None
        try:
            time.sleep(fault_after)
            fault()
        except Fault as e:
            error = str(e)
            say("  fault injection failed: %s" % e)
        out, err = load.communicate()
        self.mark("load done")
        try:
            self.ensure_all_running()
        except Fault as e:
            error = error or str(e)
        try:
            summary = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            summary = {"error": err.strip()[-500:]}
        cmd = [self.chaos_bin, "verify", "--stack", os.path.join(self.state_dir, "stack.json"),
               "--ledger", ledger, "--settle", str(settle)]
        if allow_dead_letter:
            cmd.append("--allow-dead-letter")
        cmd += ["--since-ms", str(since_ms)]
        ledgers_dir = os.path.dirname(ledger)
        for f in sorted(os.listdir(ledgers_dir)):
            if f.endswith(".injected.jsonl"):
                path = os.path.join(ledgers_dir, f)
                mine = injected and path == self.injected_ledger(name)
                cmd += ["--injected" if mine else "--other-injected", path]
        if injected and not os.path.exists(self.injected_ledger(name)):
            error = error or "no injected cases (%s)" % self.injected_ledger(name)
        if undecodable:
            cmd += ["--undecodable-dead-letters", ",".join(CASE_LOG_CONSUMERS)]
        if nearby:
            cmd += ["--duplicate-radius", str(duplicate_radius(self.config_dir))]
        p = subprocess.run(cmd, capture_output=True, text=True)
        try:
            result = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {"passed": False, "failures": [p.stderr.strip()[-500:]]}
        self.mark("verified")
        if check is not None:
            lines = []
            if os.path.exists(ledger):
                with open(ledger) as f:
                    lines = [json.loads(x) for x in f if x.strip()]
            for failure in check(lines, summary):
                result["passed"] = False
                result.setdefault("failures", []).append(failure)
        if error:
            result["passed"] = False
            result.setdefault("failures", []).insert(0, "fault: " + error)
        row = {"scenario": name, "load": summary, "verify": result, "events": self.events,
               "nearby": nearby}
        print_row(row)
        return row


def duplicate_radius(config_dir):
    """The radius_m of the duplicates rule in the routing rules the stack's routing reads."""
    rules = None
    with open(os.path.join(config_dir, "routing.yaml")) as f:
        for line in f:
            m = re.match(r"\s*rules_file:\s*(\S+)", line)
            if m:
                rules = m.group(1)
    if rules is None:
        raise Fault("%s/routing.yaml names no rules_file" % config_dir)
    with open(rules if os.path.isabs(rules) else os.path.join(REPO_ROOT, rules)) as f:
        for line in f:
            m = re.match(r"duplicates:.*\bradius_m:\s*([0-9.]+)", line)
            if m:
                return float(m.group(1))
    raise Fault("%s has no duplicates rule with radius_m" % rules)


def print_row(row):
    v, l = row["verify"], row["load"]
    say("  %s: %s" % (row["scenario"], "PASSED" if v.get("passed") else "FAILED"))
    say("    load: %s" % json.dumps(l))
    say("    verify: %s" % json.dumps({k: x for k, x in v.items() if k != "failures"}))
    for f in v.get("failures", []):
        say("    failure: %s" % f)


def dead_letter_text(v):
    """The scenario's case-event dead letters: "service/reason n, ..." ("0" without any)."""
    letters = v.get("dead_letters") or {}
    if not letters:
        return "0"
    return ", ".join("%s %d" % (k, n) for k, n in sorted(letters.items()))


def table(rows):
    head = ("| scenario | acknowledged | found | dispatched once | clocks right | acks delivered "
            "| repeats absorbed | violations | retried submits | lag p50 / max (s) | settled (s) "
            "| case-event dead letters | result |")
    lines = [head, "|" + " --- |" * 13]
    for r in rows:
        v, l = r["verify"], r["load"]
        acks = "%s" % v.get("acks_delivered", "?")
        if v.get("acks_dead_lettered"):
            acks += " (%d dead-lettered)" % v["acks_dead_lettered"]
        row = "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f / %.1f | %.0f | %s | %s |"
        name = r["scenario"]
        if "linked" in v and (v.get("linked") or r.get("nearby")):
            name += " (%d linked, %d duplicate letters)" % (v["linked"],
                                                            v.get("duplicate_letters", 0))
        lines.append(row % (
            name, v.get("acknowledged", "?"), v.get("found", "?"),
            v.get("dispatched_once", "?"), v.get("clocks_right", "?"), acks,
            v.get("repeats_absorbed", "?"), v.get("violations", "?"), l.get("retries", "?"),
            v.get("lag_p50_s", 0), v.get("lag_max_s", 0), v.get("settled_after_s", 0),
            dead_letter_text(v), "pass" if v.get("passed") else "FAIL"))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The scenarios: (name, description, function(run, short) -> row)


def s_kill_services(run, short):
    rounds = 1 if short else 3

    def fault():
        for _ in range(rounds):
            for name in SERVICES:
                run.kill(name, down_for=2)
                time.sleep(3)
    return run.scenario("kill-services", fault, rate=10, seconds=(35 if short else 90),
                        settle=150)


def assignments(run, name):
    """How often the service's log says it was given partitions (its log is appended to)."""
    try:
        with open(os.path.join(run.state_dir, "logs", name + ".log"), errors="replace") as f:
            return sum(1 for line in f if '"kafka partitions assigned"' in line)
    except OSError:
        return 0


def s_nearby_reports(run, short):
    # Routing killed again and again, each time shortly after it got its partitions back, while it
    # catches up on the reports that came in while it was down (the killed member keeps them
    # until its session times out): nearby reports of different partitions in flight together, a
    # batch cut off between its records and its save, its cases handled again.
    delays = [0.05, 0.3, 0.1, 1] if short else [0.05, 0.3, 0.1, 1, 0.02, 0.5, 0.2, 2]

    def fault():
        for after in delays:
            seen = assignments(run, "routing")
            run.kill("routing", down_for=1)
            end = time.monotonic() + 30
            while assignments(run, "routing") <= seen and time.monotonic() < end:
                time.sleep(0.01)
            if assignments(run, "routing") <= seen:
                raise Fault("routing got no partitions within 30 s of its restart")
            time.sleep(after)
            run.mark("routing has its partitions; %.2f s later:" % after)
    return run.scenario("nearby-reports", fault, rate=40, seconds=(35 if short else 70),
                        settle=180, nearby=True)


def s_sigterm_services(run, short):
    def fault():
        for name in SERVICES:
            run.sigterm(name)
            time.sleep(3)
    return run.scenario("sigterm-services", fault, rate=10, seconds=40, settle=150)


def s_zombie_routing(run, short):
    def fault():
        run.stack("signal-service", "--name", "routing", "--signal", "STOP")
        run.mark("SIGSTOP routing")
        run.replica("routing", up=True)
        time.sleep(18)  # past the 10 s consumer session timeout: routing-2 takes over
        run.stack("signal-service", "--name", "routing", "--signal", "CONT")
        run.mark("SIGCONT routing (the zombie wakes)")
        time.sleep(10)
        run.replica("routing", up=False)
    return run.scenario("zombie-routing", fault, rate=10, seconds=50, settle=150)


def s_kafka_kill(run, short):
    return run.scenario("kafka-kill", lambda: run.kill("kafka", down_for=5), rate=10, seconds=45,
                        settle=180)


def s_kafka_stop(run, short):
    return run.scenario("kafka-stop", lambda: run.pause("kafka", 20), rate=10, seconds=45,
                        settle=180)


def s_redis_kill(run, short):
    return run.scenario("redis-kill", lambda: run.kill("redis", down_for=3), rate=10, seconds=40,
                        settle=180)


def s_redis_flushall(run, short):
    def fault():
        run.redis_cli("FLUSHALL")
        run.mark("FLUSHALL")
        # No operator: each service notices the loss by itself (its marker key is gone) and
        # rebuilds from the log (DESIGN.md section 4). The scenario only watches the markers come
        # back; the verifier checks that nothing was lost and no letter went twice.
        start = time.monotonic()
        pending = {"intake": "mp:intake:intact", "notification": "mp:notify:intact",
                   "deadline-watch": "mp:deadline:intact"}
        while pending and time.monotonic() - start < 170:
            for name, key in list(pending.items()):
                if run.redis_cli("EXISTS", key) == "1":
                    run.mark("%s rebuilt by itself after %.1f s" % (name, time.monotonic() - start))
                    del pending[name]
            time.sleep(0.5)
        if pending:
            raise Fault("not rebuilt by themselves within 170 s: %s" % ", ".join(sorted(pending)))
    return run.scenario("redis-flushall", fault, rate=10, seconds=40, settle=180)


def s_sinks_down(run, short):
    down = 30 if short else 150

    def fault():
        run.stack("stop-service", "--name", "smtp_sink", "--signal", "KILL")
        run.webhook_sink("POST", {"status": 503, "count": 1000000})
        run.mark("SMTP sink down, webhook sink answers 503")
        time.sleep(down)
        run.stack("restart-service", "--name", "smtp_sink")
        run.webhook_sink("DELETE")
        run.mark("sinks back")
    # Retries last about a minute (tools/chaos/config/notification.yaml): a longer outage ends
    # in the dead-letter topic, visible to ops, which passes only here.
    return run.scenario("sinks-down", fault, rate=5, seconds=down + 20, settle=180,
                        allow_dead_letter=not short)


def s_poison(run, short):
    def fault():
        kafka = run.state()["kafka"]
        poison = os.path.join(run.state_dir, "poison")
        for key, value in (("MP-POISON0000001", b"\x00\x01garbage that is not an envelope"),
                           ("MP-POISON0000002", b"\x0a\x03abc"),  # an envelope with an id only
                           ("", b"\x0a\xff\xff\xff\xff\x0f")):  # a length past the end
            with open(poison, "wb") as f:
                f.write(value)
            # A file argument is one message, whatever bytes it holds.
            cmd = ["kcat", "-P", "-b", kafka, "-t", CASE_TOPIC] + (["-k", key] if key else [])
            p = subprocess.run(cmd + [poison], capture_output=True)
            if p.returncode != 0:
                raise Fault("kcat: %s" % p.stderr.decode(errors="replace").strip())
        run.mark("3 poison records written to %s" % CASE_TOPIC)
    # Each service that consumes the case log sets each of them aside ("cannot be decoded").
    return run.scenario("poison-record", fault, rate=10, seconds=25, settle=150, undecodable=True)


# Not valid protobuf (a length past the end): notification's record of the case's submission.
UNREADABLE = "\nzunreadable: written by tools/chaos (unhandleable-event)"


def s_unhandleable(run, short):
    name = "unhandleable-event"
    count = 3

    def fault():
        # A few cases submitted like the load's (their own ledger), then notification's record of
        # each submission made unreadable once notification has stored it. Every later event of
        # these cases that notification handles (routing, the answer clock's warning, breach and
        # escalation) fails with DATA_LOSS, which can never succeed: dead-lettered at once.
        ledger = run.injected_ledger(name)
        p = subprocess.run(
            [run.chaos_bin, "load", "--intake", run.state()["services"]["intake"]["grpc"],
             "--ledger", ledger, "--key-prefix", "%s-injected-%d" % (name, int(time.time())),
             "--rate", "2", "--seconds", str(count / 2), "--workers", "1"],
            capture_output=True, text=True)
        if p.returncode != 0:
            raise Fault("injecting cases: %s" % (p.stderr or p.stdout).strip()[-500:])
        with open(ledger) as f:
            case_ids = [json.loads(line)["case_id"] for line in f if line.strip()]
        if len(case_ids) != count:
            raise Fault("injected %d cases, not %d" % (len(case_ids), count))
        run.mark("%d cases injected: %s" % (count, " ".join(case_ids)))
        for case_id in case_ids:
            key = "mp:notify:case:{%s}" % case_id
            end = time.monotonic() + 30
            while run.redis_cli("HEXISTS", key, "submitted") != "1":
                if time.monotonic() > end:
                    raise Fault("notification did not store the submission of %s" % case_id)
                time.sleep(0.1)
            run.redis_cli("HSET", key, "submitted", UNREADABLE)
        run.mark("notification's record of their submission made unreadable")
    return run.scenario(name, fault, rate=10, seconds=45, settle=150, injected=True)


def s_rebalance_storm(run, short):
    def fault():
        end = time.monotonic() + 45
        up = False
        while time.monotonic() < end:
            up = not up
            for name in ("routing", "deadline_watch", "notification"):
                run.replica(name, up)
            time.sleep(4)
        if up:
            for name in ("routing", "deadline_watch", "notification"):
                run.replica(name, False)
    return run.scenario("rebalance-storm", fault, rate=10, seconds=60, settle=180)


SCENARIOS = [
    ("kill-services", "kill -9 each service in turn (3 rounds; 1 in --short)", s_kill_services),
    ("poison-record", "undecodable records written into the case topic", s_poison),
    ("nearby-reports", "reports in groups of likely duplicates, routing killed 8 times (4 in "
     "--short): each linked once, to a nearby master, no cycle, no pair missed, the letter "
     "naming the master's reference", s_nearby_reports),
    ("unhandleable-event", "3 cases whose events notification can never handle (its record of "
     "their submission made unreadable): dead-lettered, the rest flows", s_unhandleable),
    ("sigterm-services", "graceful SIGTERM and restart of each service", s_sigterm_services),
    ("zombie-routing", "SIGSTOP routing past its session timeout, a replacement, SIGCONT",
     s_zombie_routing),
    ("kafka-kill", "kill -9 of the Kafka broker, restarted after 5 s", s_kafka_kill),
    ("kafka-stop", "SIGSTOP of the Kafka broker for 20 s", s_kafka_stop),
    ("redis-kill", "kill -9 of Redis (AOF on), restarted after 3 s", s_redis_kill),
    ("redis-flushall", "FLUSHALL of Redis; the services notice and rebuild by themselves",
     s_redis_flushall),
    ("sinks-down", "SMTP sink killed and webhooks answering 503 for 150 s (30 s in --short)",
     s_sinks_down),
    ("rebalance-storm", "replicas of routing, deadline-watch and notification added and removed "
     "every 4 s for 45 s", s_rebalance_storm),
]
SHORT = ["kill-services", "poison-record", "nearby-reports"]


# ---------------------------------------------------------------------------------------------
# The cluster's scenarios (--cluster): three Kafka nodes (kafka1..3, each broker and controller),
# replication factor 3 and min.insync.replicas 2; Redis primary, replica and three Sentinels.

def now_ms():
    return int(time.time() * 1000)


def harness():
    """tests/harness/stack.py as a module (where the Kafka jars and Java are)."""
    sys.path.insert(0, HARNESS_DIR)
    import stack  # noqa: E402
    return stack


def kafka_view(run):
    """The quorum's leader and each case-log partition's leader and ISR (KafkaCluster.java)."""
    h = harness()
    cmd = [h.find_java(), "-Xmx256m", "-cp", os.path.join(h.default_kafka_cache(), "*"),
           os.path.join(TOOLS_DIR, "KafkaCluster.java"), run.state()["kafka"], CASE_TOPIC]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    if p.returncode != 0:
        raise Fault("the cluster did not describe itself: %s" % p.stderr.strip()[-500:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def wait_until(check, seconds, what):
    """Calls check() every half second until it is true (a Fault counts as not yet); a Fault
    saying `what` when `seconds` pass first."""
    end = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Fault:
            pass
        if time.monotonic() > end:
            raise Fault("%s within %d s" % (what, seconds))
        time.sleep(0.5)


def partition_leader(run, partition=0):
    return kafka_view(run)["partitions"]["%s/%d" % (CASE_TOPIC, partition)]["leader"]


def wait_isr_full(run, timeout=180):
    """Until every partition of the case log has a leader and all three replicas in sync."""
    end = time.monotonic() + timeout
    while True:
        try:
            view = kafka_view(run)
            if view["partitions"] and all(p["leader"] >= 0 and len(p["isr"]) == 3
                                          for p in view["partitions"].values()):
                run.mark("every partition's ISR full again")
                return view
        except Fault:
            pass
        if time.monotonic() > end:
            raise Fault("the case log's ISR was not full within %ds" % timeout)
        time.sleep(2)


def redis_primary(run):
    """The stack's process name of the Redis primary the Sentinels name now."""
    st = run.state()
    for sentinel in st["redis_sentinels"].split(","):
        host, port = sentinel.rsplit(":", 1)
        p = subprocess.run(["redis-cli", "-h", host, "-p", port, "SENTINEL",
                            "get-master-addr-by-name", st["redis_master_name"]],
                           capture_output=True, text=True, timeout=10)
        parts = p.stdout.split()
        if p.returncode == 0 and len(parts) == 2:
            address = "%s:%s" % (parts[0], parts[1])
            for name in ("redis", "redis_replica"):
                if st["processes"].get(name, {}).get("endpoint") == address:
                    return name
    raise Fault("no sentinel named the Redis primary")


def c_leader_kill(run, short):
    def fault():
        leader = partition_leader(run)
        run.kill("kafka%d" % leader, down_for=10)
        wait_isr_full(run)
    return run.scenario("leader-kill", fault, rate=10, seconds=45, settle=180)


def c_two_brokers_down(run, short):
    window = {}

    def fault():
        leader = partition_leader(run)
        victims = [leader] + [n for n in (1, 2, 3) if n != leader][:1]
        for n in victims:
            run.stack("stop-service", "--name", "kafka%d" % n, "--signal", "KILL")
        window["down_ms"] = now_ms()
        run.mark("kill -9 kafka%d and kafka%d (the leader of partition 0 among them)"
                 % tuple(victims))
        time.sleep(25)
        window["up_ms"] = now_ms()
        for n in victims:
            run.stack("restart-service", "--name", "kafka%d" % n)
            run.mark("kafka%d back" % n)
        wait_isr_full(run)

    def check(lines, summary):
        # An OK needs the record on two brokers: none can be answered while one broker runs (a
        # second of grace for answers already on their way at the kill).
        if "down_ms" not in window:
            return ["the brokers were not stopped"]
        inside = [l for l in lines
                  if window["down_ms"] + 1000 < l["ok_ms"] < window.get("up_ms", now_ms())]
        failures = []
        if inside:
            failures.append("%d submissions answered OK while two of three brokers were down "
                            "(first: %s)" % (len(inside), inside[0]["key"]))
        if not summary.get("errors", {}).get("14"):
            failures.append("no submission was answered UNAVAILABLE while two brokers were down "
                            "(errors: %s)" % json.dumps(summary.get("errors", {})))
        return failures
    return run.scenario("two-brokers-down", fault, rate=10, seconds=60, settle=240, check=check)


def c_controller_failover(run, short):
    def fault():
        controller = kafka_view(run)["controller"]
        run.stack("stop-service", "--name", "kafka%d" % controller, "--signal", "KILL")
        run.mark("kill -9 kafka%d, the active controller" % controller)
        wait_until(lambda: kafka_view(run)["controller"] not in (-1, controller), 60,
                   "no new controller")
        run.mark("kafka%d is the controller" % kafka_view(run)["controller"])
        time.sleep(5)
        run.stack("restart-service", "--name", "kafka%d" % controller)
        run.mark("kafka%d back" % controller)
        wait_isr_full(run)
    return run.scenario("controller-failover", fault, rate=10, seconds=45, settle=180)


def c_rolling_restart(run, short):
    def fault():
        for n in (1, 2, 3):
            run.stack("restart-service", "--name", "kafka%d" % n, "--signal", "TERM")
            run.mark("kafka%d restarted (SIGTERM)" % n)
            wait_isr_full(run)
    return run.scenario("rolling-restart", fault, rate=10, seconds=75, settle=180)


def c_redis_failover(run, short):
    def fault():
        primary = redis_primary(run)
        run.stack("stop-service", "--name", primary, "--signal", "KILL")
        run.mark("kill -9 %s, the Redis primary" % primary)
        wait_until(lambda: redis_primary(run) != primary, 60,
                   "the sentinels named no new primary")
        run.mark("the sentinels promoted %s" % redis_primary(run))
        time.sleep(5)
        run.stack("restart-service", "--name", primary)
        run.mark("%s back, as a replica" % primary)
    return run.scenario("redis-failover", fault, rate=10, seconds=50, settle=180)


def replication_link_port(run, replica, primary):
    """The local port of the replica's replication connection to the primary (ss -tnp)."""
    st = run.state()
    pid = st["processes"][replica]["pid"]
    primary_port = st["processes"][primary]["endpoint"].rsplit(":", 1)[1]
    p = subprocess.run(["ss", "-Htnp"], capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 6 and "pid=%d," % pid in line and cols[4].endswith(":" + primary_port):
            return int(cols[3].rsplit(":", 1)[1])
    raise Fault("%s has no connection to %s" % (replica, primary))


def c_redis_failover_behind(run, short):
    def fault():
        if not os.environ.get("MELDPUNT_CHAOS_NETNS"):
            raise Fault("needs the run's own network namespace (chaos.py run --cluster)")
        primary = redis_primary(run)
        replica = "redis_replica" if primary == "redis" else "redis"
        # Nothing of the primary's stream reaches the replica any more (dropped before its
        # socket, so not even the kernel holds it): the services' writes of the next seconds are
        # on the primary only, each answered OK by it.
        rule = ["INPUT", "-p", "tcp", "--dport", str(replication_link_port(run, replica, primary)),
                "-j", "DROP"]
        iptables("-A", *rule)
        try:
            run.mark("the replication stream to %s cut" % replica)
            time.sleep(4)
            run.stack("stop-service", "--name", primary, "--signal", "KILL")
            run.mark("kill -9 %s, the primary, with writes the replica never got" % primary)
            # Cut until the promotion: the dead primary's kernel would still flush the rest.
            wait_until(lambda: redis_primary(run) == replica, 60,
                       "the sentinels did not promote %s" % replica)
        finally:
            subprocess.run(["iptables", "-D"] + rule, capture_output=True)
        run.mark("the sentinels promoted %s: the writes it missed are gone" % replica)
        time.sleep(5)
        run.stack("restart-service", "--name", primary)
        run.mark("%s back, as a replica" % primary)
    return run.scenario("redis-failover-behind", fault, rate=10, seconds=50, settle=180)


CGROUP_ROOT = "/sys/fs/cgroup/unified"


def listening_ports(pid_list):
    """The TCP ports the processes listen on (ss -ltnp)."""
    p = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True)
    ports = set()
    for line in p.stdout.splitlines():
        if any("pid=%d," % pid in line for pid in pid_list):
            ports.add(int(line.split()[3].rsplit(":", 1)[1]))
    return sorted(ports)


def iptables(*argv):
    subprocess.run(["iptables"] + list(argv), check=True, capture_output=True, text=True)


def c_broker_isolated(run, short):
    def fault():
        if not os.environ.get("MELDPUNT_CHAOS_NETNS"):
            raise Fault("needs the run's own network namespace (chaos.py run --cluster)")
        leader = partition_leader(run)
        name = "kafka%d" % leader
        pid = run.state()["processes"][name]["pid"]
        pids = [int(x) for x in subprocess.run(["pgrep", "-s", str(pid)], capture_output=True,
                                               text=True).stdout.split()] or [pid]
        ports = listening_ports(pids)
        if not ports:
            raise Fault("%s listens on no port" % name)
        # Everything the broker sends is dropped (its processes in a cgroup of their own, matched
        # on OUTPUT), and everything sent to its ports: cut off from the other nodes and the
        # clients alike, while it keeps running and believes itself the leader.
        group = "meldpunt-chaos-" + name
        path = os.path.join(CGROUP_ROOT, group)
        os.makedirs(path, exist_ok=True)
        for p in pids:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(p))
        rules = [["OUTPUT", "-m", "cgroup", "--path", group, "-j", "DROP"]]
        rules += [["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"] for port in ports]
        try:
            for rule in rules:
                iptables("-A", *rule)
            run.mark("%s (leader of partition 0) cut off: ports %s" % (name, ports))
            time.sleep(30)
        finally:
            for rule in rules:
                subprocess.run(["iptables", "-D"] + rule, capture_output=True)
            for p in pids:
                try:
                    with open(os.path.join(CGROUP_ROOT, "cgroup.procs"), "w") as f:
                        f.write(str(p))
                except OSError:
                    pass
            try:
                os.rmdir(path)
            except OSError:
                pass
        run.mark("%s connected again" % name)
        wait_isr_full(run)
    return run.scenario("broker-isolated", fault, rate=10, seconds=60, settle=240)


CLUSTER_SCENARIOS = [
    ("leader-kill", "kill -9 of the case log's partition-0 leader, back after 10 s",
     c_leader_kill),
    ("two-brokers-down", "kill -9 of two of three brokers for 25 s: UNAVAILABLE, never OK; "
     "every OK survives", c_two_brokers_down),
    ("controller-failover", "kill -9 of the active KRaft controller, back once another leads",
     c_controller_failover),
    ("rolling-restart", "SIGTERM and restart of each broker in turn, each once the ISR is full",
     c_rolling_restart),
    ("redis-failover", "kill -9 of the Redis primary; the Sentinels promote the replica; the old "
     "primary back as a replica", c_redis_failover),
    ("redis-failover-behind", "the replication stream to the Redis replica cut for 4 s, then the "
     "primary killed: the promoted replica lacks the last writes, which the services must not "
     "have committed", 
     c_redis_failover_behind),
    ("broker-isolated", "the partition-0 leader cut off from everyone by iptables for 30 s "
     "(in the run's own network namespace)", c_broker_isolated),
]
CLUSTER_SHORT = ["leader-kill"]


def main(argv):
    parser = argparse.ArgumentParser(prog="chaos.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run scenarios on a fresh stack of their own")
    p.add_argument("--short", action="store_true",
                   help="the test command's version: %s, shorter" % ", ".join(SHORT))
    p.add_argument("--cluster", action="store_true",
                   help="the production shape (stack.py start-infra --cluster) and its scenarios, "
                        "in a network namespace of the run's own")
    p.add_argument("--redis-wait-replicas", type=int,
                   help="with --cluster: the services' redis.wait_replicas (default 1; 0 shows "
                        "what a failover loses without WAIT)")
    p.add_argument("--scenarios", help="comma-separated names (default: all, or the short set)")
    p.add_argument("--state-dir",
                   help="the stack's folder (default: build/chaos-stack, with --cluster "
                        "build/chaos-cluster)")
    p.add_argument("--bin-dir", default=os.path.join(REPO_ROOT, "build"))
    p.add_argument("--config-dir", default=CONFIG_DIR,
                   help="the services' configuration files (default: tools/chaos/config)")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.add_argument("--json", help="also write the rows as JSON to this file")
    sub.add_parser("list", help="the scenarios")
    args = parser.parse_args(argv)
    if args.command == "list":
        for title, scenarios, short in (("one node", SCENARIOS, SHORT),
                                        ("--cluster", CLUSTER_SCENARIOS, CLUSTER_SHORT)):
            print("%s:" % title)
            for name, text, _ in scenarios:
                print("  %-20s %s%s" % (name, text, "  [short]" if name in short else ""))
        return 0
    if args.cluster and not os.environ.get("MELDPUNT_CHAOS_NETNS"):
        # Again, inside a network namespace of its own with only its loopback up: the stack, the
        # load and the verifier all live there, and iptables rules stay there.
        env = dict(os.environ, MELDPUNT_CHAOS_NETNS="1")
        inner = [sys.executable, os.path.abspath(__file__)] + argv
        cmd = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        return subprocess.call(cmd + inner, env=env)
    if args.cluster:
        # A submission that cannot reach two in-sync replicas answers UNAVAILABLE within 5 s,
        # before the load's 10 s call deadline.
        os.environ.setdefault("MELDPUNT_KAFKA_PRODUCE_TIMEOUT", "5s")
        if args.redis_wait_replicas is not None:
            os.environ["MELDPUNT_REDIS_WAIT_REPLICAS"] = str(args.redis_wait_replicas)
    if not args.state_dir:
        args.state_dir = os.path.join(REPO_ROOT, "build",
                                      "chaos-cluster" if args.cluster else "chaos-stack")
    scenarios, short = (CLUSTER_SCENARIOS, CLUSTER_SHORT) if args.cluster else (SCENARIOS, SHORT)
    by_name = {n: f for n, _, f in scenarios}
    names = (args.scenarios.split(",") if args.scenarios
             else short if args.short else [n for n, _, _ in scenarios])
    unknown = [n for n in names if n not in by_name]
    if unknown:
        print("chaos.py: unknown scenario(s): %s (see chaos.py list)" % ", ".join(unknown),
              file=sys.stderr)
        return 2
    run = Run(args)
    if not os.access(run.chaos_bin, os.X_OK):
        print("chaos.py: %s not built" % run.chaos_bin, file=sys.stderr)
        return 2
    rows = []
    started = time.monotonic()
    try:
        run.start()
        for name in names:
            try:
                rows.append(by_name[name](run, args.short))
            except Fault as e:
                rows.append({"scenario": name, "load": {},
                             "verify": {"passed": False, "failures": [str(e)]}, "events": []})
                print_row(rows[-1])
    finally:
        if not args.keep:
            run.stop()
    print()
    print(table(rows))
    print()
    say("%d scenario(s) in %.0f s" % (len(rows), time.monotonic() - started))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["verify"].get("passed") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
