#!/usr/bin/env python3
"""A trace written in pieces (stopped, resumed) against an uninterrupted run's trace.

usage: slurm_compare.py REFERENCE.h5 TRACE.h5 DIGEST

Checks that TRACE has the same groups and, in each of them, the same variables with the
same shapes, dtypes and bytes as REFERENCE (every draw and sample statistic bit for bit;
run metadata such as creation times may differ and is not compared), and recomputes from
TRACE the "draws digest" that the uninterrupted run printed (DIGEST): FNV-1a 64 over every
quantity's draws (lp__ from sample_stats, then each posterior variable element in
creation order, each a chain-major float64 array), then over each chain's sample
statistics rows (the algorithm of tests/app/trace_digest.py, here with h5py alone).
"""
import re
import sys

import h5py
import numpy as np

OFFSET = 0xCBF29CE484222325
PRIME = 0x100000001B3
MASK = (1 << 64) - 1
STATS = ["lp", "acceptance_rate", "step_size", "tree_depth", "n_steps", "diverging",
         "energy", "energy_error"]


def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * PRIME) & MASK
    return h


def creation_order(group):
    names = []
    group.id.links.iterate(lambda n: names.append(n.decode()) or None,
                           idx_type=h5py.h5.INDEX_CRT_ORDER)
    return names


def datasets(f):
    """{path: array} of every dataset in the file."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]
    f.visititems(visit)
    return out


def digest(f):
    post, stats = f["posterior"], f["sample_stats"]
    names = [n for n in creation_order(post)
             if n not in ("chain", "draw") and not re.search(r"_dim_\d+$", n)]
    n_chains, n_draws = stats["lp"].shape
    quantities = [stats["lp"][()]]
    for name in names:
        v = post[name][()].reshape(n_chains, n_draws, -1)
        quantities += [v[:, :, e] for e in range(v.shape[2])]
    hashes = [fnv1a(OFFSET, np.ascontiguousarray(q, dtype="<f8").tobytes()) for q in quantities]
    draws = fnv1a(OFFSET, np.array(hashes, dtype="<u8").tobytes())
    h = fnv1a(OFFSET, np.array([draws], dtype="<u8").tobytes())
    for c in range(n_chains):
        rows = np.stack([stats[k][c].astype("<f8") for k in STATS], axis=1)
        h = fnv1a(h, np.array([fnv1a(OFFSET, np.ascontiguousarray(rows).tobytes())],
                              dtype="<u8").tobytes())
    return f"{h:016x}"


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    ref_path, path, printed = sys.argv[1:]
    failures = []
    with h5py.File(ref_path, "r") as ref, h5py.File(path, "r") as got:
        if sorted(ref.keys()) != sorted(got.keys()):
            failures.append(f"groups {sorted(got.keys())}, expected {sorted(ref.keys())}")
        a, b = datasets(ref), datasets(got)
        if sorted(a) != sorted(b):
            failures.append(f"datasets {sorted(b)}, expected {sorted(a)}")
        same = 0
        for name in sorted(set(a) & set(b)):
            x, y = a[name], b[name]
            if x.shape != y.shape or x.dtype != y.dtype:
                failures.append(f"{name}: {y.dtype}{list(y.shape)}, expected {x.dtype}{list(x.shape)}")
            elif x.tobytes() != y.tobytes():
                diff = np.flatnonzero(x.reshape(-1).view(np.uint8) != y.reshape(-1).view(np.uint8))
                failures.append(f"{name}: {diff.size} bytes differ, the first at byte {diff[0]}")
            else:
                same += 1
        n_chains, n_draws = got["sample_stats/lp"].shape
        d = digest(got) if n_draws > 0 else "none"
        print(f"{path}: {n_chains} chains x {n_draws} draws; {same} of {len(a)} datasets "
              f"bit-identical to {ref_path}; draws digest {d}, uninterrupted run printed {printed}")
        if n_draws == 0:
            failures.append("the trace holds no draws")
        elif d != printed:
            failures.append(f"draws digest of the trace {d}, the uninterrupted run printed {printed}")
    for fl in failures:
        print("FAILED:", fl)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
