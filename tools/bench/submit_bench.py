#!/usr/bin/python3
"""SubmitCase against its raw ceiling, with ghz (run by `tools/dev bench submit`).

Three max-rate runs on a bare gRPC server of the same service, three on the real intake (each OK
a durable Kafka append, acks=all), then three fixed-rate runs on the intake at half its median max
rate. Prints every run and then each figure as the median of the three with min-max, as markdown.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CALL = "meldpunt.intake.v1.Intake.SubmitCase"
# A fresh request key per call ({{.UUID}}): every call is a new case.
DATA = {
    "submittingSystem": "bench",
    "requestKey": "bench-{{.UUID}}",
    "draft": {
        "kind": "REPORT",
        "channel": "WEB",
        "category": "street-lighting",
        "description": "Street light out in front of number 12",
        "location": {"postcode": "9000"},
        "reporter": {"name": "Jan Peeters", "email": "jan.peeters@example.org",
                     "language": "NL"},
    },
}


def ghz(args, target, out, rps=0):
    cmd = [args.ghz, "--insecure", "--proto",
           os.path.join(args.proto_root, "meldpunt/intake/v1/intake.proto"),
           "--import-paths", args.proto_root, "--call", CALL, "-d", json.dumps(DATA),
           "-c", str(args.concurrency), "--connections", str(args.connections),
           "-z", "%ds" % args.seconds, "-O", "json", "-o", out]
    if rps:
        cmd += ["--rps", str(rps)]
    subprocess.run(cmd + [target], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        report = json.load(f)
    latencies = sorted(d["latency"] for d in report.get("details", []) if d.get("status") == "OK")
    codes = report.get("statusCodeDistribution", {})
    ok = codes.get("OK", 0)

    def pct(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100.0))] / 1e6

    return {"rps_ok": ok / (report["total"] / 1e9), "ok": ok,
            "errors": {k: v for k, v in codes.items() if k != "OK"},
            "p50": pct(50), "p99": pct(99), "p999": pct(99.9)}


def summary(runs, key):
    values = [r[key] for r in runs]
    med = statistics.median(values)
    return med, min(values), max(values)


def fmt(t, digits=0):
    med, lo, hi = t
    f = "%%.%df" % digits
    return "%s (%s-%s)" % (f % med, f % lo, f % hi)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ghz", required=True)
    p.add_argument("--proto-root", required=True)
    p.add_argument("--bare", required=True)
    p.add_argument("--intake", required=True)
    p.add_argument("--out", required=True, help="folder for ghz's JSON reports")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--connections", type=int, default=4)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results = {"bare": [], "intake": [], "fixed": []}
    for name, target in (("bare", args.bare), ("intake", args.intake)):
        for i in range(3):
            r = ghz(args, target, os.path.join(args.out, "%s-%d.json" % (name, i)))
            results[name].append(r)
            print("%-7s max rate run %d: %.0f OK/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
                  "errors %s" % (name, i + 1, r["rps_ok"], r["p50"], r["p99"], r["p999"],
                                 r["errors"] or "none"), flush=True)
    half = int(summary(results["intake"], "rps_ok")[0] / 2)
    for i in range(3):
        r = ghz(args, args.intake, os.path.join(args.out, "fixed-%d.json" % i), rps=half)
        results["fixed"].append(r)
        print("intake at %d/s run %d: %.0f OK/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
              "errors %s" % (half, i + 1, r["rps_ok"], r["p50"], r["p99"], r["p999"],
                             r["errors"] or "none"), flush=True)
    bare = summary(results["bare"], "rps_ok")
    intake = summary(results["intake"], "rps_ok")
    ratios = [i["rps_ok"] / b["rps_ok"] for i, b in zip(results["intake"], results["bare"])]
    print()
    print("| figure (median of 3, min-max) | value |")
    print("| --- | --- |")
    print("| bare gRPC server, SubmitCase max rate (OK/s) | %s |" % fmt(bare))
    print("| intake SubmitCase max rate, durable (OK/s) | %s |" % fmt(intake))
    print("| ratio intake / bare (per run pair) | %.3f (%.3f-%.3f) |" % (
        statistics.median(ratios), min(ratios), max(ratios)))
    print("| intake latency at max rate p50 / p99 / p99.9 (ms) | %s / %s / %s |" % (
        fmt(summary(results["intake"], "p50"), 1), fmt(summary(results["intake"], "p99"), 1),
        fmt(summary(results["intake"], "p999"), 1)))
    print("| intake at %d/s (half the max): p50 / p99 / p99.9 (ms) | %s / %s / %s |" % (
        half, fmt(summary(results["fixed"], "p50"), 1), fmt(summary(results["fixed"], "p99"), 1),
        fmt(summary(results["fixed"], "p999"), 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
