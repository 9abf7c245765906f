#!/usr/bin/env python3
"""DEMetropolisZ's archive, read back from a checkpoint: which states it holds, checked
against the draws of an uninterrupted run of the same seed.

usage: demc_archive.py PSAMPLE MPIEXEC MODEL_SO WORKDIR REF_RANKS RANKS SIGNAL_AT

The model is a 3-d standard normal (the unconstrained and the constrained values are the
same, so archive rows can be compared with posterior draws bit for bit). 5 chains,
warmup 300, draws 200, exchange_every 7, warmup saved in the trace.

1. A reference run on REF_RANKS ranks writes every iteration's state to the trace.
2. The same run on RANKS ranks is stopped by a signal at iteration SIGNAL_AT (after the
   end of warmup) and leaves a checkpoint; its population section holds the archive.
3. The expected archive follows from the rules alone (DESIGN.md Section 7, PyMC's
   DEMetropolisZ): it starts with every chain's initial state; after every iteration that
   is a multiple of exchange_every it gains every chain's current state, in chain order;
   at the end of warmup the first int(0.9 n) of its n rows are dropped. The checkpoint's
   lock-step iteration says how many exchanges had happened.
4. Each archive row must equal, bit for bit, the reference draw of that chain at that
   iteration (warmup_posterior for warmup iterations, posterior after); the initial
   states, which the trace does not hold, are only counted.
"""
import os
import struct
import subprocess
import sys

import h5py
import numpy as np

D, CHAINS, WARMUP, DRAWS, EVERY = 3, 5, 300, 200, 7


def run(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def population_section(path):
    """The population section of a checkpoint (format version 3, src/run/checkpoint.c):
    magic, version, 11 header fields, the config text's length and the text, then the
    section's length and bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"PSCKPT\0\0":
        raise ValueError("not a psample checkpoint")
    version = struct.unpack_from("<Q", data, 8)[0]
    if version != 3:
        raise ValueError(f"checkpoint format version {version}, this test reads 3")
    text_len = struct.unpack_from("<Q", data, 8 + 8 * 12)[0]
    at = 8 + 8 * 13 + text_len
    pop_len = struct.unpack_from("<Q", data, at)[0]
    pop = data[at + 8:at + 8 + pop_len]
    if pop[:8] != b"PSPOPUL\0":
        raise ValueError("the population section does not start with its magic")
    version, kind, dim, chains, iteration, rows = struct.unpack_from("<6Q", pop, 8)
    archive = np.frombuffer(pop, dtype="<f8", count=rows * dim, offset=8 + 48)
    return kind, dim, chains, iteration, archive.reshape(rows, dim)


def expected_rows(iteration):
    """(iteration, chain) of every archive row once `iteration` iterations are done."""
    rows = [(0, c) for c in range(CHAINS)]
    for it in range(1, iteration + 1):
        if it % EVERY == 0:
            rows += [(it, c) for c in range(CHAINS)]
        if it == WARMUP:
            rows = rows[int(0.9 * len(rows)):]
    return rows


def main():
    psample, mpiexec, model_so, work, ref_ranks, ranks, signal_at = sys.argv[1:8]
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "std_normal3.json")
    with open(data, "w") as f:
        f.write(f'{{"D": {D}}}\n')
    config = os.path.join(work, "archive.toml")
    with open(config, "w") as f:
        f.write(f'[model]\nlibrary = "{model_so}"\n[data]\nfile = "{data}"\n'
                f'[sampler]\nalgorithm = "demetropolisz"\nchains = {CHAINS}\n'
                f'warmup = {WARMUP}\ndraws = {DRAWS}\nseed = 2385\n'
                f'de_exchange_every = {EVERY}\n[output]\nsave_warmup = true\n')
    ref = os.path.join(work, "reference.h5")
    p = run([mpiexec, "-n", ref_ranks, "--oversubscribe", psample, config, "--force",
             "--set", f"output.file={ref}"])
    if p.returncode != 0:
        print("FAILED: the reference run failed", p.stderr[-2000:], sep="\n")
        return 1
    trace = os.path.join(work, "stopped.h5")
    ckpt = trace + ".ckpt"
    for f in (trace, ckpt):
        if os.path.exists(f):
            os.remove(f)
    p = run([mpiexec, "-n", ranks, "--oversubscribe", psample, config, "--force",
             "--set", f"output.file={trace}"], {"PSAMPLE_TEST_SIGNAL_AT": signal_at})
    if p.returncode != 3 or not os.path.exists(ckpt):
        print(f"FAILED: the run on {ranks} ranks with a signal at {signal_at} exited "
              f"{p.returncode} (expected 3) or left no checkpoint", p.stderr[-2000:], sep="\n")
        return 1
    failures = []
    kind, dim, chains, iteration, archive = population_section(ckpt)
    at = int(signal_at.split("@")[0])
    print(f"checkpoint: kind {kind}, {chains} chains of {dim}, lock-step iteration "
          f"{iteration}, {len(archive)} archive rows")
    if (kind, dim, chains) != (2, D, CHAINS):
        failures.append(f"population kind/dim/chains {(kind, dim, chains)}, expected "
                        f"(2, {D}, {CHAINS})")
    # The ranks stop together at the exchange that carries the stop: the lock-step
    # iteration is the last exchange before the signal's iteration, after warmup.
    want_iteration = (at // EVERY) * EVERY
    if iteration != want_iteration:
        failures.append(f"lock-step iteration {iteration}, expected {want_iteration} (the "
                        f"last multiple of {EVERY} not after the signal at {at})")
    rows = expected_rows(iteration)
    if len(archive) != len(rows):
        failures.append(f"{len(archive)} archive rows, expected {len(rows)} (initial states, "
                        f"{CHAINS} per exchange, 90% dropped at the end of warmup)")
    with h5py.File(ref, "r") as f:
        warm = f["warmup_posterior"]["x"][()]
        post = f["posterior"]["x"][()]
    bad = 0
    for k, ((it, c), row) in enumerate(zip(rows, archive)):
        if it == 0:
            continue  # an initial state: not in the trace
        draw = warm[c, it - 1] if it <= WARMUP else post[c, it - WARMUP - 1]
        if draw.tobytes() != row.tobytes():
            bad += 1
            if bad <= 5:
                failures.append(f"archive row {k} is {row.tolist()}, expected chain {c}'s "
                                f"state after iteration {it}: {draw.tolist()}")
    if bad:
        failures.append(f"{bad} of {len(rows)} archive rows differ from the reference draws")
    for f in failures:
        print("FAILED:", f)
    if not failures:
        print(f"ok: the {len(rows)} archive rows are the reference states after iterations "
              f"{rows[0][0]} .. {rows[-1][0]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
