"""The deforestation check (``marketplace/traceability/forest.py``) of 10,000 plots against
generated 30 m rasters that cover a department: time and peak memory.

    .venv/bin/python benchmarks/plot_checks.py [--plots 10000] [--keep]

The project ships no real layers, so the benchmark writes its own, in a temporary folder (and
says where with ``--keep``): a forest-cover 2020 map (JRC GFC2020 style, 1 forest / 0
non-forest) and a tree-cover-loss map (Hansen ``lossyear`` style, 0 or year - 2000, no-data 255
over a cloud-like band), both uint8 on Hansen's 1 arc-second grid (about 31 m) over the extent
of Caquetá (76.35°W-71.35°W, 0.75°S-2.95°N: 18,000 x 13,320 pixels, 240 million per map, 240 MB
each uncompressed) written as tiled (512 x 512) DEFLATE GeoTIFFs, block by block, so neither
the disk nor the writer's memory holds a whole map. Forest is drawn in patches of about 2 km
with ragged pixel edges; loss is scattered over about 3 % of pixels, years 2001-2024.
Protected areas: three park-like polygons of 5,000 vertices and 150 small reserves of 48.

The plots, seeded: 30 % points with a declared area of 0.5-4 ha (checked as a disc), 70 %
irregular polygons (8-14 vertices) of about 3-40 ha, spread over the department.

The check runs in a fresh Python process: it imports the code and builds the plots, notes its
resident memory (VmRSS), resets its peak (``/proc/self/clear_refs``, Linux) and times
``check_many``; it reports the process's peak resident memory (VmHWM, what ``ru_maxrss``
reports) and that peak minus the baseline (the memory the check itself costs). The machine's
load average and the CPU it spent on everything else during the run are printed too: the
machine is often shared, and then the time is pessimistic.

Goal: 10,000 plots in under 60 s and under 500 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

GOAL_SECONDS, GOAL_MB = 60, 500
RES = 1 / 3600
WEST, EAST, SOUTH, NORTH = -76.35, -71.35, -0.75, 2.95
BLOCK = 512
NODATA = 255
SEED = 17


def _grid() -> tuple[int, int]:
    return round((EAST - WEST) / RES), round((NORTH - SOUTH) / RES)


def write_layers(folder: Path) -> tuple[Path, Path]:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    width, height = _grid()
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8",
               "crs": "EPSG:4326", "transform": from_origin(WEST, NORTH, RES, RES), "nodata": NODATA,
               "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate",
               "BIGTIFF": "IF_SAFER"}
    # forest in patches of 64 x 64 pixels (about 2 km): 65 % of them forest
    patches = np.random.default_rng(SEED).random((height // 64 + 2, width // 64 + 2)) < 0.65
    forest_path, loss_path = folder / "forest2020.tif", folder / "lossyear.tif"
    with rasterio.open(forest_path, "w", **profile) as forest, rasterio.open(loss_path, "w", **profile) as loss:
        for r0 in range(0, height, BLOCK):
            for c0 in range(0, width, BLOCK):
                h, w = min(BLOCK, height - r0), min(BLOCK, width - c0)
                rng = np.random.default_rng((SEED, r0, c0))
                rows = (np.arange(r0, r0 + h)[:, None] + rng.integers(0, 6, (h, 1))) // 64
                cols = (np.arange(c0, c0 + w)[None, :] + rng.integers(0, 6, (1, w))) // 64
                block = patches[rows, cols].astype("uint8")
                years = np.where(rng.random((h, w)) < 0.03, rng.integers(1, 25, (h, w)), 0).astype("uint8")
                # a cloud-like band without data in the loss map, about 2 % of the department
                lat = NORTH - (np.arange(r0, r0 + h) + 0.5) * RES
                years[(np.abs(lat - 1.0) < 0.04), :] = NODATA
                forest.write(block, 1, window=Window(c0, r0, w, h))
                loss.write(years, 1, window=Window(c0, r0, w, h))
    return forest_path, loss_path


def protected_areas():
    import numpy as np
    from shapely.geometry import Polygon

    rng = np.random.default_rng(SEED + 1)
    areas = []
    for lon, lat, radius, vertices in [(-72.6, 0.6, 0.9, 5000), (-75.3, 1.6, 0.35, 5000), (-74.2, 2.6, 0.25, 5000)] + [
            (rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH), rng.uniform(0.005, 0.03), 48) for _ in range(150)]:
        angles = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
        r = radius * (1 + 0.08 * np.sin(7 * angles) + 0.02 * rng.standard_normal(vertices))
        areas.append(Polygon(np.column_stack([lon + r * np.cos(angles), lat + r * np.sin(angles)])).buffer(0))
    return areas


def make_plots(count: int):
    from decimal import Decimal

    import numpy as np
    from shapely.geometry import Point, Polygon

    from marketplace.traceability.forest import PlotShape

    rng = np.random.default_rng(SEED + 2)
    plots = []
    for _ in range(count):
        lon, lat = rng.uniform(WEST + 0.02, EAST - 0.02), rng.uniform(SOUTH + 0.02, NORTH - 0.02)
        if rng.random() < 0.3:
            plots.append(PlotShape(Point(round(lon, 6), round(lat, 6)), Decimal(str(round(rng.uniform(0.5, 4), 2)))))
            continue
        n = int(rng.integers(8, 15))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        radius_m = math.sqrt(rng.uniform(3, 40) * 10_000 / math.pi)
        r = radius_m * rng.uniform(0.7, 1.2, n) / 111_320
        plots.append(PlotShape(Polygon(np.round(np.column_stack(
            [lon + r * np.cos(angles) / math.cos(math.radians(lat)), lat + r * np.sin(angles)]), 6))))
    return plots


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise RuntimeError(field)


def child(folder: Path, count: int) -> None:
    from collections import Counter

    from marketplace.traceability.forest import Layers, check_many

    plots = make_plots(count)
    layers = Layers(folder / "forest2020.tif", folder / "lossyear.tif", protected_areas())
    peak_before = _status("VmHWM")
    base = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak is now the current RSS
    cpu = time.process_time()
    start = time.perf_counter()
    results = check_many(plots, layers)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = _status("VmHWM")
    print(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu, "peak_mb": max(peak, peak_before) / 1024,
        "check_mb": (peak - base) / 1024, "base_mb": base / 1024,
        "verdicts": Counter(r.verdict for r in results),
        "loss_ha": float(sum(r.loss_ha or 0 for r in results)),
        "protected": sum(1 for r in results if r.protected_ha > 0),
    }))


def main() -> None:
    from _machine import machine_busy_seconds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated rasters and print where")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.plots)
        return
    folder = Path(tempfile.mkdtemp(prefix="plot_checks-"))
    try:
        width, height = _grid()
        start = time.perf_counter()
        forest_path, loss_path = write_layers(folder)
        print(f"rasters: {width:,} x {height:,} pixels (1 arc-second) over Caquetá, generated in "
              f"{time.perf_counter() - start:.0f} s; on disk forest {forest_path.stat().st_size / 2**20:.0f} MB, "
              f"loss {loss_path.stat().st_size / 2**20:.0f} MB (tiled DEFLATE; "
              f"{width * height / 2**20:.0f} MB each uncompressed)")
        load = os.getloadavg()
        busy = machine_busy_seconds()
        done = subprocess.run([sys.executable, __file__, "--child", str(folder), "--plots", str(args.plots)],  # noqa: S603 - our own code
                              capture_output=True, text=True, check=True)
        busy = machine_busy_seconds() - busy if busy is not None else None
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"machine: {os.cpu_count()} CPUs, load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
              + (f"; during the check the machine spent {busy:.0f} CPU s, {busy - r['cpu_seconds']:.0f} of them "
                 "on other work" if busy is not None else ""))
        print(f"plots: {args.plots:,}; verdicts {r['verdicts']}; {r['protected']} overlap protected areas; "
              f"loss on 2020 forest after 2020: {r['loss_ha']:,.1f} ha in all")
        print(f"check_many: {r['seconds']:.1f} s ({r['cpu_seconds']:.1f} CPU s, "
              f"{1000 * r['seconds'] / args.plots:.2f} ms a plot); peak memory {r['peak_mb']:.0f} MB "
              f"(process; {r['check_mb']:.0f} MB above the {r['base_mb']:.0f} MB after imports and plots)")
        ok = r["seconds"] <= GOAL_SECONDS and r["peak_mb"] <= GOAL_MB
        print(f"goal: under {GOAL_SECONDS} s and {GOAL_MB} MB: {'met' if ok else 'NOT met'}")
    finally:
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
