#!/usr/bin/env python3
"""Determinism across layouts: the same configuration and seed must give the same
"draws digest" (every kept draw and sample statistic) at every rank and thread count.

usage: run_layouts.py PSAMPLE MPIEXEC CONFIG LAYOUTS -- [--set ...]
LAYOUTS: comma-separated RANKSxTHREADS, e.g. 1x1,2x1,4x1,1x2
"""
import os
import re
import subprocess
import sys
import tempfile

SCRATCH = tempfile.mkdtemp(prefix="psample_layouts_")


def digest(psample, mpiexec, config, ranks, threads, extra):
    trace = os.path.join(SCRATCH, f"trace_{ranks}x{threads}.h5")
    cmd = [mpiexec, "-n", str(ranks), "--oversubscribe", psample, config, "--force",
           "--set", f"output.file={trace}", "--set", f"parallel.threads={threads}"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if os.path.exists(trace):
        os.remove(trace)
    m = re.search(r"^draws digest: ([0-9a-f]{16})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        print("command failed:", " ".join(cmd))
        print(p.stdout[-3000:])
        print(p.stderr[-3000:])
        sys.exit(1)
    return m.group(1)


def main():
    args = sys.argv[1:]
    split = args.index("--")
    psample, mpiexec, config, layouts = args[:split]
    extra = args[split + 1:]
    results = []
    for layout in layouts.split(","):
        ranks, threads = (int(x) for x in layout.split("x"))
        d = digest(psample, mpiexec, config, ranks, threads, extra)
        results.append((layout, d))
        print(f"{layout:>6}: {d}")
    # The digest must depend on the draws: another seed gives another digest.
    other = digest(psample, mpiexec, config, 1, 1, extra + ["--set", "sampler.seed=987654"])
    print(f"other seed: {other}")
    failed = False
    if len({d for _, d in results}) != 1:
        print("FAILED: the draws differ between layouts " + ", ".join(
            f"{l}={d}" for l, d in results))
        failed = True
    if other == results[0][1]:
        print("FAILED: a different seed gave the same digest")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
