#!/usr/bin/env python3
"""Checkpoint and resume: runs interrupted by a signal and resumed (on the same or other
numbers of ranks, possibly several times) must produce the trace of an uninterrupted run,
bit for bit, and the same "draws digest".

usage: resume.py PSAMPLE MPIEXEC CONFIG WORKDIR PLAN -- [--set ...]

PLAN: the uninterrupted run's ranks, then each leg of the interrupted run as
RANKS[:SIGNAL_AT[@RANK]], comma separated; e.g. "2;2:150,3:450@1,1" runs the reference on
2 ranks, then starts on 2 ranks and signals at iteration 150, resumes on 3 ranks and
signals rank 1 only at iteration 450, and resumes on 1 rank to the end. Every leg but the
last must stop with exit status 3 and leave a checkpoint; the last must finish (exit 0)
and remove it.
"""
import os
import re
import subprocess
import sys

import h5py
import numpy as np


def run(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def digest_of(p):
    m = re.search(r"^draws digest: ([0-9a-f]{16})$", p.stdout, re.M)
    return m.group(1) if m else None


def compare_traces(a, b):
    problems = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        if sorted(fa.keys()) != sorted(fb.keys()):
            return [f"groups {sorted(fa.keys())} vs {sorted(fb.keys())}"]
        for g in fa:
            if sorted(fa[g].keys()) != sorted(fb[g].keys()):
                problems.append(f"{g}: datasets differ")
                continue
            for d in fa[g]:
                x, y = fa[g][d][()], fb[g][d][()]
                if x.shape != y.shape:
                    problems.append(f"{g}/{d}: shape {x.shape} vs {y.shape}")
                elif x.tobytes() != y.tobytes():
                    n = int(np.sum(x != y)) if x.dtype.kind in "fiub" else -1
                    problems.append(f"{g}/{d}: {n} values differ")
        for key in ("psample_stop_reason", "psample_warmup_draws"):
            if fa.attrs.get(key) != fb.attrs.get(key):
                problems.append(f"attribute {key}: {fa.attrs.get(key)} vs {fb.attrs.get(key)}")
    return problems


def main():
    args = sys.argv[1:]
    split = args.index("--")
    psample, mpiexec, config, workdir, plan = args[:split]
    extra = args[split + 1:]
    os.makedirs(workdir, exist_ok=True)
    ref_ranks, legs = plan.split(";")
    ref = os.path.join(workdir, "reference.h5")
    base = [psample, config] + extra
    p = run([mpiexec, "-n", ref_ranks, "--oversubscribe"] + base +
            ["--force", "--set", f"output.file={ref}"])
    want = digest_of(p)
    if p.returncode != 0 or want is None:
        print("reference run failed", p.stdout[-2000:], p.stderr[-2000:], sep="\n")
        return 1
    print(f"reference on {ref_ranks} ranks: digest {want}")
    trace = os.path.join(workdir, "interrupted.h5")
    ckpt = trace + ".ckpt"
    for f in (trace, ckpt):
        if os.path.exists(f):
            os.remove(f)
    legs = legs.split(",")
    failures = []
    got = None
    for i, leg in enumerate(legs):
        ranks, _, at = leg.partition(":")
        first = i == 0
        cmd = [mpiexec, "-n", ranks, "--oversubscribe", psample]
        cmd += [config] if first else ["resume", config]
        cmd += extra + ["--set", f"output.file={trace}"]
        if first:
            cmd += ["--force"]
        p = run(cmd, {"PSAMPLE_TEST_SIGNAL_AT": at} if at else None)
        last = i == len(legs) - 1
        what = f"leg {i + 1} ({'run' if first else 'resume'} on {ranks} ranks" + \
            (f", signal at {at})" if at else ")")
        print(f"{what}: exit {p.returncode}")
        if last:
            if p.returncode != 0:
                failures.append(f"{what} failed:\n{p.stderr[-2000:]}")
                break
            got = digest_of(p)
            if os.path.exists(ckpt):
                failures.append("the checkpoint was not removed after the run finished")
        else:
            if p.returncode != 3:
                failures.append(f"{what} exited {p.returncode}, expected 3:\n{p.stderr[-2000:]}")
                break
            if "stopped by" not in p.stderr or not os.path.exists(ckpt):
                failures.append(f"{what}: no checkpoint message or file")
                break
    if not failures:
        print(f"resumed run: digest {got}")
        if got != want:
            failures.append(f"digest {got} after resuming differs from the uninterrupted {want}")
        failures += compare_traces(ref, trace)
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
