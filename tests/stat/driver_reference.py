#!/usr/bin/env python3
"""End to end: psample (the MPI driver, with its pooled adaptation) recovers a posteriordb
reference posterior, judged in Monte Carlo standard errors (DESIGN.md Section 12).

usage: driver_reference.py REFERENCE_JSON -- command...

The command's summary table is parsed; for every reference column,
z = (mean - ref_mean) / sqrt(mcse^2 + ref_mcse^2). The test fails when any |z| > 4.5
(probability about 7e-6 per column under the null) or when more columns have |z| > 3 than
a binomial bound allows (P(|z| > 3) = 0.0027 per column; the bound is the smallest k with
P(X > k) < 1e-4). With 10 columns the false-failure rate is below 2e-4.
"""
import json
import math
import subprocess
import sys


def binomial_bound(n, p, alpha=1e-4):
    k, tail = 0, 1.0
    while True:
        tail -= math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if tail < alpha:
            return k
        k += 1


def main():
    args = sys.argv[1:]
    split = args.index("--")
    ref_path, cmd = args[0], args[split + 1:]
    if not __import__("os").path.exists(ref_path):
        print(f"SKIP: {ref_path} is absent")
        return 77
    ref = json.load(open(ref_path))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        print("command failed:", " ".join(cmd), p.stdout, p.stderr, sep="\n")
        return 1
    rows = {}
    in_table = False
    for line in p.stdout.splitlines():
        f = line.split()
        if f[:3] == ["mean", "mcse", "sd"]:
            in_table = True
            continue
        if in_table:
            if not f:
                break
            rows[f[0]] = dict(zip(["mean", "mcse", "sd", "q05", "q50", "q95", "ess_bulk",
                                   "ess_tail", "rhat"], map(float, f[1:10])))
    failures, over3 = [], 0
    names = ref["names"]
    for i, name in enumerate(names):
        if name not in rows:
            failures.append(f"{name} is missing from the summary table")
            continue
        r = rows[name]
        z = (r["mean"] - ref["mean"][i]) / math.hypot(r["mcse"], ref["mcse_mean"][i])
        over3 += abs(z) > 3
        flag = "  <-- |z| > 4.5" if abs(z) > 4.5 else ""
        print(f"{name:>12}: mean {r['mean']:9.4g} ref {ref['mean'][i]:9.4g} "
              f"z {z:+6.2f}  ess_bulk {r['ess_bulk']:6.0f} r_hat {r['rhat']:.3f}{flag}")
        if abs(z) > 4.5:
            failures.append(f"mean of {name} is {r['mean']}, expected {ref['mean'][i]} "
                            f"+/- 4.5 MCSE ({math.hypot(r['mcse'], ref['mcse_mean'][i]):.3g})")
    bound = binomial_bound(len(names), 0.0027)
    if over3 > bound:
        failures.append(f"{over3} of {len(names)} columns have |z| > 3 (at most {bound})")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
