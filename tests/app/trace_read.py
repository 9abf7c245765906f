#!/usr/bin/env python3
"""Reads a trace written by tests/mpi/test_trace.c the way arviz.from_netcdf does and checks
every value against the closed-form functions of tests/mpi/trace_model.h, restated here.

    trace_read.py PATH CHAINS WARMUP DRAWS [--side FILE] [--complete]

WARMUP = 0 means the trace has no warmup groups. With --side, the warmup and draw counts
are read from the side file of a killed run ("W D": the draws of its last flush) and the
file must hold exactly those. --complete also checks the end-of-run metadata.

Exits 77 (skipped) when h5py, netCDF4, h5netcdf, xarray or numpy is missing.
"""
import argparse
import os
import shutil
import sys
import tempfile

try:
    import h5py
    import netCDF4
    import numpy as np
    import xarray as xr
    import h5netcdf  # noqa: F401  (xarray's engine)
except ImportError as err:
    print(f"skipped: {err}")
    sys.exit(77)

INFERENCE_DATA_GROUPS = {
    "posterior", "sample_stats", "warmup_posterior", "warmup_sample_stats",
    "observed_data", "constant_data", "posterior_predictive", "prior", "prior_predictive",
    "log_likelihood", "predictions", "warmup_posterior_predictive", "predictions_constant_data",
}

VARS = [("mu", ()), ("theta", (3,)), ("Sigma", (2, 3)), ("empty", (0,)), ("big", (40,))]
STATS = {
    "lp": "float64", "acceptance_rate": "float64", "step_size": "float64",
    "tree_depth": "int64", "n_steps": "int64", "diverging": "bool", "energy": "float64",
    "energy_error": "float64",
}
CONFIG = '[sampler]\nchains = 4\n# a config with "quotes" and unicode: \u00e9\n'

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAILED:", message, file=sys.stderr)


def model_value(part, v, c, d, e):
    sign = -1.0 if part else 1.0
    return sign * ((c * 1000000 + d * 1000 + e).astype(np.float64) + (v + 1) * 0.0625)


def expected_stats(part, c, d):
    depth = (c + d + part) % 11
    return {
        "lp": -(c * 1000 + d).astype(np.float64) - 0.25 * part,
        "acceptance_rate": ((c + 3 * d + part) % 101).astype(np.float64) / 100.0,
        "step_size": 0.5 / (c + 1).astype(np.float64) + part,
        "tree_depth": depth,
        "n_steps": (np.int64(1) << depth) - 1,
        "diverging": (c * 7 + d + part) % 13 == 0,
        "energy": d.astype(np.float64) * 0.75 + c.astype(np.float64) + part,
        # C's % truncates towards zero; d >= 0, so numpy's floor modulo agrees.
        "energy_error": ((d % 7) - 3).astype(np.float64) / 8.0 - part,
    }


def same_bits(got, want):
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return False
    if got.dtype.kind == "f":
        return np.array_equal(got.view(np.uint64), want.astype(np.float64).view(np.uint64))
    return np.array_equal(got, want)


def check_group_attrs(ds, where):
    for key in ("created_at", "inference_library", "inference_library_version"):
        check(key in ds.attrs, f"{where}: attribute {key} is missing")
    check(ds.attrs.get("inference_library") == "psample",
          f"{where}: inference_library is {ds.attrs.get('inference_library')!r}")
    check(isinstance(ds.attrs.get("created_at"), str) and len(ds.attrs["created_at"]) >= 19,
          f"{where}: created_at is {ds.attrs.get('created_at')!r}")


def check_coords(ds, where, chains, draws):
    check(ds.sizes.get("chain") == chains, f"{where}: {ds.sizes.get('chain')} chains, expected {chains}")
    check(ds.sizes.get("draw") == draws, f"{where}: {ds.sizes.get('draw')} draws, expected {draws}")
    check(same_bits(ds["chain"].values, np.arange(chains)), f"{where}: chain coordinate")
    check(same_bits(ds["draw"].values, np.arange(draws)), f"{where}: draw coordinate")


def check_posterior(ds, where, part, chains, draws):
    check_coords(ds, where, chains, draws)
    check(set(ds.data_vars) == {name for name, _ in VARS},
          f"{where}: variables {sorted(ds.data_vars)}")
    c = np.arange(chains).reshape(chains, 1)
    d = np.arange(draws).reshape(1, draws)
    for v, (name, shape) in enumerate(VARS):
        if name not in ds:
            continue
        var = ds[name]
        want_dims = ("chain", "draw") + tuple(f"{name}_dim_{i}" for i in range(len(shape)))
        check(var.dims == want_dims, f"{where}/{name}: dims {var.dims}, expected {want_dims}")
        check(var.dtype == np.float64, f"{where}/{name}: dtype {var.dtype}")
        size = int(np.prod(shape)) if shape else 1
        e = np.arange(size).reshape((1, 1) + shape) if shape else np.int64(0)
        cc = c.reshape((chains, 1) + (1,) * len(shape))
        dd = d.reshape((1, draws) + (1,) * len(shape))
        want = model_value(part, v, cc, dd, e) * np.ones((chains, draws) + shape)
        check(same_bits(var.values, want), f"{where}/{name}: values differ from the known function")
        for i, n in enumerate(shape):
            coord = f"{name}_dim_{i}"
            check(coord in ds.coords and same_bits(ds[coord].values, np.arange(n)),
                  f"{where}: coordinate {coord}")


def check_stats(ds, where, part, chains, draws):
    check_coords(ds, where, chains, draws)
    check(set(ds.data_vars) == set(STATS), f"{where}: statistics {sorted(ds.data_vars)}")
    c = np.arange(chains, dtype=np.int64).reshape(chains, 1) * np.ones((1, draws), np.int64)
    d = np.arange(draws, dtype=np.int64).reshape(1, draws) * np.ones((chains, 1), np.int64)
    want = expected_stats(part, c, d)
    for name, dtype in STATS.items():
        if name not in ds:
            continue
        var = ds[name]
        check(var.dims == ("chain", "draw"), f"{where}/{name}: dims {var.dims}")
        check(str(var.dtype) == dtype, f"{where}/{name}: dtype {var.dtype}, expected {dtype}")
        check(same_bits(var.values, want[name]), f"{where}/{name}: values differ from the known function")


def check_data(datasets, engine):
    obs = datasets.get("observed_data")
    check(obs is not None, f"{engine}: observed_data is missing")
    if obs is not None:
        check_group_attrs(obs, f"{engine} observed_data")
        check(same_bits(obs["y"].values, np.array([-2.25, -0.75, 0.75, 2.25])), f"{engine}: observed_data/y")
        check(obs["y"].dims == ("y_dim_0",), f"{engine}: observed_data/y dims {obs['y'].dims}")
        check(obs["N"].dims == () and int(obs["N"].values) == 42 and obs["N"].dtype == np.int64,
              f"{engine}: observed_data/N")
        check(obs["flags"].dtype == bool and list(obs["flags"].values) == [True, False, True],
              f"{engine}: observed_data/flags {obs['flags'].values}")
    const = datasets.get("constant_data")
    check(const is not None, f"{engine}: constant_data is missing")
    if const is not None:
        x = const["X"]
        check(x.dtype == np.int32 and x.dims == ("X_dim_0", "X_dim_1") and
              same_bits(x.values, np.array([[-7, -6, -5], [3, 4, 5]], dtype=np.int32)),
              f"{engine}: constant_data/X")


def check_netcdf_append(path, draws):
    """netCDF-C can append to the file (it needs creation order tracked on every group):
    on a copy, add an attribute and a variable to posterior, then read it with xarray."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "append.h5")
        shutil.copyfile(path, copy)
        try:
            with netCDF4.Dataset(copy, "a") as nc:
                post = nc.groups["posterior"]
                post.setncattr("note", "appended by netCDF-C")
                extra = post.createVariable("extra", "f8", ("chain", "draw"))
                extra[:, :] = 1.5
        except Exception as err:  # noqa: BLE001 (report any failure of the library)
            check(False, f"netCDF4 cannot append to the trace: {err!r}")
            return
        with xr.open_dataset(copy, group="posterior", engine="netcdf4") as ds:
            check(ds.attrs.get("note") == "appended by netCDF-C", "netCDF4-appended attribute")
            check("extra" in ds and ds["extra"].shape[1] == draws and float(ds["extra"].max()) == 1.5,
                  "netCDF4-appended variable")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("chains", type=int)
    parser.add_argument("warmup", type=int)
    parser.add_argument("draws", type=int)
    parser.add_argument("--side")
    parser.add_argument("--complete", action="store_true")
    opts = parser.parse_args()
    path, chains, warmup, draws = opts.path, opts.chains, opts.warmup, opts.draws
    save_warmup = warmup > 0
    complete = opts.complete
    if opts.side:
        with open(opts.side) as f:
            warmup, draws = (int(x) for x in f.read().split())
    print(f"reading {path}: {chains} chains, {warmup} warmup draws, {draws} draws")

    # The root: InferenceData groups only, seen alike by h5py and netCDF-C.
    with h5py.File(path, "r") as f:
        h5_groups = set(f.keys())
        root_attrs = dict(f.attrs)
        check(f["sample_stats/diverging"].dtype == np.int8, "diverging is stored as int8")
        for g in f.values():
            check(g.id.get_create_plist().get_link_creation_order() & h5py.h5p.CRT_ORDER_TRACKED,
                  f"{g.name}: link creation order is tracked")
    with netCDF4.Dataset(path, "r") as nc:
        nc_groups = set(nc.groups)
        check(nc.ncattrs() and "psample_config" in nc.ncattrs(), "netCDF4 sees the root attributes")
    check(h5_groups == nc_groups, f"h5py groups {sorted(h5_groups)}, netCDF4 groups {sorted(nc_groups)}")
    extra = h5_groups - INFERENCE_DATA_GROUPS
    check(not extra, f"root groups that are not InferenceData groups: {sorted(extra)}")
    want_groups = {"posterior", "sample_stats", "observed_data", "constant_data"}
    if save_warmup:
        want_groups |= {"warmup_posterior", "warmup_sample_stats"}
    check(h5_groups == want_groups, f"root groups {sorted(h5_groups)}, expected {sorted(want_groups)}")
    check(root_attrs.get("psample_config") == CONFIG, f"psample_config is {root_attrs.get('psample_config')!r}")
    for key in ("psample_version", "psample_model_source", "psample_layout", "psample_seed",
                "psample_n_chains", "psample_n_ranks", "created_at", "inference_library"):
        check(key in root_attrs, f"root attribute {key} is missing")
    source = root_attrs.get("psample_model_source", "")
    check(len(source) == 100000 and source.startswith("parameters { real mu; }\n"),
          f"psample_model_source: {len(source)} characters")
    check(int(root_attrs.get("psample_seed", 0)) == 18446744073709551557, "psample_seed")
    check(int(root_attrs.get("psample_n_chains", 0)) == chains, "psample_n_chains")
    if complete:
        check(root_attrs.get("psample_stop_reason") == "max_draws",
              f"psample_stop_reason is {root_attrs.get('psample_stop_reason')!r}")
        check(int(root_attrs.get("psample_warmup_draws", -1)) == warmup, "psample_warmup_draws")

    # As arviz.from_netcdf: every root group, through xarray, with either engine.
    for engine in ("h5netcdf", "netcdf4"):
        datasets = {}
        for group in sorted(nc_groups):
            with xr.open_dataset(path, group=group, engine=engine) as ds:
                datasets[group] = ds.load()
        for part, (post, stats, n) in enumerate((("posterior", "sample_stats", draws),
                                                  ("warmup_posterior", "warmup_sample_stats", warmup))):
            if part == 1 and not save_warmup:
                continue
            check_group_attrs(datasets[post], f"{engine} {post}")
            check_group_attrs(datasets[stats], f"{engine} {stats}")
            check_posterior(datasets[post], f"{engine} {post}", part, chains, n)
            check_stats(datasets[stats], f"{engine} {stats}", part, chains, n)
        check_data(datasets, engine)

    check_netcdf_append(path, draws)

    if failures:
        print(f"{len(failures)} checks failed", file=sys.stderr)
        return 1
    print("trace reads back with h5py, netCDF4 and xarray (h5netcdf and netcdf4 engines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
