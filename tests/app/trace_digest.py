#!/usr/bin/env python3
"""End to end: the trace psample writes holds exactly the draws it sampled.

usage: trace_digest.py TRACE [--warmup N] -- command...

Runs the command (psample ... --force), then reads TRACE the way arviz.from_netcdf does
(root groups, then xarray.open_dataset per group with the h5netcdf and netcdf4 engines),
and recomputes from the file the "draws digest" psample printed: FNV-1a 64 over every
quantity's draws (lp__ from sample_stats, then each posterior variable element in output
order; each as a chain-major float64 array), then over each chain's sample statistics rows
(lp, acceptance_rate, step_size, tree_depth, n_steps, diverging, energy, energy_error as
float64). Equal digests mean every draw and statistic in the file is bit-identical to what
the sampler produced. Also checks the groups, dtypes and run metadata.
"""
import re
import subprocess
import sys

import h5py
import numpy as np
import xarray as xr

OFFSET = 0xCBF29CE484222325
PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * PRIME) & MASK
    return h


def creation_order(group):
    names = []
    group.id.links.iterate(lambda n: names.append(n.decode()) or None,
                           idx_type=h5py.h5.INDEX_CRT_ORDER)
    return names


def main():
    args = sys.argv[1:]
    split = args.index("--")
    opts, cmd = args[:split], args[split + 1:]
    path = opts[0]
    warmup = int(opts[opts.index("--warmup") + 1]) if "--warmup" in opts else None
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    m = re.search(r"^draws digest: ([0-9a-f]{16})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        print("command failed:", " ".join(cmd), p.stdout[-2000:], p.stderr[-2000:], sep="\n")
        return 1
    printed = m.group(1)
    failures = []
    with h5py.File(path, "r") as f:
        groups = creation_order(f)
        want = ["posterior", "sample_stats", "constant_data"]
        if warmup is not None:
            want += ["warmup_posterior", "warmup_sample_stats"]
        if sorted(groups) != sorted(want):
            failures.append(f"root groups are {groups}, expected {want}")
        var_order = [n for n in creation_order(f["posterior"])
                     if n not in ("chain", "draw") and not re.search(r"_dim_\d+$", n)]
        for key in ("psample_config", "psample_seed", "psample_stop_reason",
                    "psample_warmup_draws", "inference_library"):
            if key not in f.attrs:
                failures.append(f"root attribute {key} is missing")
    # The data file's arrays are in constant_data, as the data file says.
    data = xr.open_dataset(path, group="constant_data", engine="h5netcdf")
    config_attr = h5py.File(path, "r").attrs["psample_config"]
    m = re.search(r'\[data\]\nfile = "([^"]+)"', config_attr)
    if m:
        import json
        with open(m.group(1)) as f:
            raw = json.load(f)
        for k, v in raw.items():
            if k not in data or not np.array_equal(data[k].values, np.array(v)):
                failures.append(f"constant_data/{k} differs from the data file")
    for engine in ("h5netcdf", "netcdf4"):
        post = xr.open_dataset(path, group="posterior", engine=engine)
        stats = xr.open_dataset(path, group="sample_stats", engine=engine)
        if stats["diverging"].dtype != bool:
            failures.append(f"{engine}: diverging decodes as {stats['diverging'].dtype}")
        n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
        hashes = []
        quantities = [stats["lp"].values]
        for name in var_order:
            v = post[name].values.reshape(n_chains, n_draws, -1)
            quantities += [v[:, :, e] for e in range(v.shape[2])]
        for q in quantities:
            hashes.append(fnv1a(OFFSET, np.ascontiguousarray(q, dtype="<f8").tobytes()))
        draws = fnv1a(OFFSET, np.array(hashes, dtype="<u8").tobytes())
        digest = fnv1a(OFFSET, np.array([draws], dtype="<u8").tobytes())
        cols = ["lp", "acceptance_rate", "step_size", "tree_depth", "n_steps", "diverging",
                "energy", "energy_error"]
        for c in range(n_chains):
            rows = np.stack([stats[k].values[c].astype("<f8") for k in cols], axis=1)
            chain_hash = fnv1a(OFFSET, np.ascontiguousarray(rows).tobytes())
            digest = fnv1a(digest, np.array([chain_hash], dtype="<u8").tobytes())
        got = f"{digest:016x}"
        print(f"{engine}: {n_chains} chains x {n_draws} draws, digest {got}, printed {printed}")
        if got != printed:
            failures.append(f"{engine}: digest of the trace {got} differs from the run's {printed}")
        if warmup is not None:
            wpost = xr.open_dataset(path, group="warmup_posterior", engine=engine)
            if wpost.sizes["draw"] != warmup:
                failures.append(f"{engine}: {wpost.sizes['draw']} warmup draws, expected {warmup}")
    for fl in failures:
        print("FAILED:", fl)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
