#!/usr/bin/env python3
"""Resume refuses what it cannot continue exactly, with a message saying why, and
recovers from a crash through a periodic checkpoint.

usage: resume_refuse.py PSAMPLE MPIEXEC MODEL_SO DATA_JSON WORKDIR

Cases (each checks the exit status and the message):
  - resume without any checkpoint;
  - a changed key (sampler.draws), and a changed seed;
  - a changed model library file, and a changed data file;
  - a damaged checkpoint (cut short, and a flipped byte), and one of an older format;
  - `run` over an existing checkpoint without --force;
  - a crash: every rank killed (SIGKILL) in the middle of sampling, with a checkpoint at
    every sync point; `resume` then ends with the uninterrupted run's draws digest.
"""
import os
import re
import shutil
import subprocess
import sys


def main():
    psample, mpiexec, model_so, data_json, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "model.so")
    data = os.path.join(work, "data.json")
    shutil.copy(model_so, model)
    shutil.copy(data_json, data)
    config = os.path.join(work, "refuse.toml")
    with open(config, "w") as f:
        f.write(f'[model]\nlibrary = "{model}"\n[data]\nfile = "{data}"\n'
                '[sampler]\nchains = 4\nwarmup = 200\ndraws = 300\nseed = 11\n'
                '[output]\nfile = "trace.h5"\n')
    trace = os.path.join(work, "trace.h5")
    ckpt = trace + ".ckpt"
    failures = []

    def run(args, ranks=2, env=None, expect=None, has=()):
        e = dict(os.environ)
        e.update(env or {})
        cmd = [mpiexec, "-n", str(ranks), "--oversubscribe", psample] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=e)
        ok = expect is None or p.returncode == expect
        for h in has:
            ok = ok and h in p.stderr + p.stdout
        print(f"{'ok' if ok else 'FAILED'}: {' '.join(args)} -> exit {p.returncode}")
        if not ok:
            failures.append(f"{' '.join(args)}: exit {p.returncode} (expected {expect}), "
                            f"expected text {list(has)}\n{p.stderr[-1500:]}")
        return p

    def interrupted(at="150"):
        for f in (trace, ckpt):
            if os.path.exists(f):
                os.remove(f)
        run([config, "--force"], env={"PSAMPLE_TEST_SIGNAL_AT": at}, expect=3,
            has=["stopped by SIGUSR1", "psample resume"])

    for f in (trace, ckpt):
        if os.path.exists(f):
            os.remove(f)
    run(["resume", config], expect=1, has=["there is no checkpoint", ckpt])

    interrupted()
    run(["resume", config, "--set", "sampler.draws=400"], expect=1,
        has=["differs from the one checkpoint", "sampler.draws is now 400 (the run had 300)",
             "psample run --force"])
    run(["resume", config, "--set", "sampler.seed=12"], expect=1,
        has=["sampler.seed is 12, but the run being resumed used 11"])
    run([config], expect=1, has=["a checkpoint of an earlier run exists", "psample resume"])

    with open(model, "ab") as f:
        f.write(b"\0")
    run(["resume", config], expect=1, has=["the model file", "changed since checkpoint"])
    shutil.copy(model_so, model)
    with open(data, "a") as f:
        f.write("\n ")
    run(["resume", config], expect=1, has=["the data file", "changed since checkpoint"])
    shutil.copy(data_json, data)

    size = os.path.getsize(ckpt)
    with open(ckpt, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x40]))
    run(["resume", config], expect=2, has=["is damaged"])
    interrupted()
    with open(ckpt, "r+b") as f:
        f.truncate(size - 100)
    run(["resume", config], expect=2, has=["is damaged"])
    # A checkpoint of an older format (version 2, before the population section): refused
    # with a message that names both versions.
    interrupted()
    with open(ckpt, "r+b") as f:
        f.seek(8)
        f.write((2).to_bytes(8, "little"))
    run(["resume", config], expect=2,
        has=["has format version 2", "reads version 3 only", "written by an older psample"])

    # A crash with a checkpoint at every sync point: all ranks die inside a trace append
    # (the first sampling append after warmup); resume finishes with the reference digest.
    ref = run([config, "--force", "--set", "output.file=reference.h5"], expect=0)
    want = re.search(r"draws digest: (\w+)", ref.stdout)
    for f in (trace, ckpt):
        if os.path.exists(f):
            os.remove(f)
    run([config, "--force", "--set", "output.checkpoint_seconds=0.000001"],
        env={"PSAMPLE_FAULT": "trace_append_kill"}, expect=None)
    if not os.path.exists(ckpt):
        failures.append("no checkpoint survived the crash")
    p = run(["resume", config, "--set", "output.checkpoint_seconds=0.000001"], ranks=3,
            expect=0)
    got = re.search(r"draws digest: (\w+)", p.stdout)
    if not want or not got or want.group(1) != got.group(1):
        failures.append(f"after the crash the digest is {got and got.group(1)}, "
                        f"expected {want and want.group(1)}")
    else:
        print(f"ok: crash recovery gives the reference digest {want.group(1)}")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
