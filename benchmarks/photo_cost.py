"""What the worst accepted photo costs a worker: peak memory and time, before and after the
photo-cost bounds (core/images.py).

    .venv/bin/python benchmarks/photo_cost.py [--runs 3]

Each case runs in a fresh Python subprocess, so Pillow's C allocations are counted: the
child imports the code and reads the files, notes its resident memory (VmRSS, the baseline),
resets its peak (``/proc/self/clear_refs``, Linux) and processes; the figure is its peak
resident memory (VmHWM, what ``ru_maxrss`` reports) minus the baseline: the worker memory the
photo itself costs.
"Before" is the previous ``photos.process`` (40-megapixel cap, full decode, read from git as
of commit ``44d7e7f``); "after" is the current one. Cases:

* a large PNG: 6,320 x 6,320 (40 MP, about 150 KB), the worst the old cap accepted; after,
  refused from its header, and the worst PNG now accepted, 4,000 x 3,000 (12 MP);
* a huge-dimension JPEG: 7,300 x 5,470 (39.9 MP) before; after, 9,200 x 6,950 (63.9 MP, the
  new cap for a JPEG's declared size), which is decoded at 1/8 scale;
* three of the worst accepted PNGs in one request (``services.process_uploads``).

Goal: the worst accepted photo peaks at no more than 150 MB of worker memory and 2 s.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "44d7e7f"
GOAL_MB, GOAL_SECONDS = 150, 2.0

CHILD = r"""
import json, sys, time, types
sys.path.insert(0, {root!r})
which, paths = sys.argv[1], sys.argv[2:]
from PIL import Image  # noqa
if which == "before":
    module = types.ModuleType("old_photos")
    sys.modules["old_photos"] = module
    exec(compile(open({old!r}).read(), "old_photos", "exec"), module.__dict__)
    process = module.process
else:
    from marketplace.catalog.photos import process
datas = [open(p, "rb").read() for p in paths]
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets the peak (VmHWM) to the current RSS: imports no longer count
start = time.perf_counter()
outcome = "accepted"
for data in datas:
    try:
        process(data)
    except Exception as exc:  # noqa: BLE001 - the refusal is the outcome
        outcome = "refused: " + getattr(exc, "code", type(exc).__name__)
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({{"mb": (peak - base) / 1024, "seconds": seconds, "outcome": outcome}}))
"""


def _save(path: Path, image, fmt: str, **kwargs) -> Path:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    path.write_bytes(out.getvalue())
    return path


def _textured(size, mode="RGB"):
    from PIL import Image, ImageDraw

    image = Image.new(mode, size, (90, 140, 60))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 97):
        draw.line((x, 0, x, size[1]), fill=(200, (x * 7) % 255, 40), width=9)
    return image


def make_files(folder: Path) -> dict[str, Path]:
    from PIL import Image

    files = {
        "png_40mp": _save(folder / "png_40mp.png", Image.new("RGB", (6320, 6320), (90, 140, 60)), "PNG", optimize=True),
        "png_12mp": _save(folder / "png_12mp.png", _textured((4000, 3000)), "PNG", compress_level=1),
        "jpeg_40mp": _save(folder / "jpeg_40mp.jpg", _textured((7300, 5470)), "JPEG", quality=60),
        "jpeg_64mp": _save(folder / "jpeg_64mp.jpg", _textured((9200, 6950)), "JPEG", quality=60),
    }
    return files


def run_case(which: str, old: Path, paths: list[Path], runs: int) -> dict:
    code = CHILD.format(root=str(ROOT), old=str(old))
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code, which, *map(str, paths)],  # noqa: S603 - our own code
                              capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"mb": statistics.median(r["mb"] for r in results),
            "seconds": statistics.median(r["seconds"] for r in results), "outcome": results[0]["outcome"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = folder / "old_photos.py"
        old.write_text(subprocess.run(["git", "show", f"{OLD_COMMIT}:marketplace/catalog/photos.py"],  # noqa: S603,S607
                                      cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        f = make_files(folder)
        f_sizes = {k: p.stat().st_size for k, p in f.items()}
        cases = [
            ("before", "PNG 6,320 x 6,320 (40 MP)", [f["png_40mp"]]),
            ("after", "PNG 6,320 x 6,320 (40 MP)", [f["png_40mp"]]),
            ("after", "PNG 4,000 x 3,000 (12 MP, worst PNG accepted now)", [f["png_12mp"]]),
            ("before", "JPEG 7,300 x 5,470 (39.9 MP)", [f["jpeg_40mp"]]),
            ("after", "JPEG 7,300 x 5,470 (39.9 MP)", [f["jpeg_40mp"]]),
            ("after", "JPEG 9,200 x 6,950 (63.9 MP, worst JPEG accepted now)", [f["jpeg_64mp"]]),
            ("before", "3 x PNG 6,320 x 6,320 in one request", [f["png_40mp"]] * 3),
            ("after", "3 x PNG 4,000 x 3,000 in one request", [f["png_12mp"]] * 3),
        ]
        print("files: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in f_sizes.items()))
        print(f"{'code':<7} {'case':<56} {'peak MB':>8} {'seconds':>8}  outcome")
        worst_mb = worst_s = 0.0
        for which, label, paths in cases:
            r = run_case(which, old, paths, args.runs)
            print(f"{which:<7} {label:<56} {r['mb']:>8.0f} {r['seconds']:>8.2f}  {r['outcome']}")
            if which == "after" and r["outcome"] == "accepted" and len(paths) == 1:
                worst_mb, worst_s = max(worst_mb, r["mb"]), max(worst_s, r["seconds"])
        ok = worst_mb <= GOAL_MB and worst_s <= GOAL_SECONDS
        print(f"worst accepted photo after: {worst_mb:.0f} MB, {worst_s:.2f} s "
              f"(goal {GOAL_MB} MB, {GOAL_SECONDS:.0f} s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
