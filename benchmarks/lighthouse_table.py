"""The table benchmarks/lighthouse.sh prints from Lighthouse's JSON reports (<page>-<run>.json):
one row per page, each category's median score out of 100 over the runs, and the range of the
performance score; with --details, every audit below a full score in the page's median run."""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

CATEGORIES = [("performance", "rendimiento", 98), ("accessibility", "accesibilidad", 100),
              ("best-practices", "buenas prácticas", 100), ("seo", "SEO", 95)]


def _score(report: dict, key: str) -> int | None:
    score = report["categories"][key]["score"]
    return None if score is None else round(score * 100)


def _median(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known)) if known else None


def _details(name: str, report: dict) -> None:
    print(f"\n## {name}  ({report['finalDisplayedUrl']})")
    for key, _label, _goal in CATEGORIES:
        for ref in report["categories"][key]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if audit.get("score") is None or audit["score"] >= 1 or audit.get("scoreDisplayMode") in (
                    "notApplicable", "informative", "manual"):
                continue
            if key == "performance" and ref.get("weight", 0) == 0 and audit["score"] >= 0.9:
                continue
            line = f"  [{key}] {audit['id']}: {audit['title']} (score {audit['score']}"
            if audit.get("displayValue"):
                line += f", {audit['displayValue']}"
            print(line + ")")
            items = (audit.get("details") or {}).get("items") or []
            for item in (items if isinstance(items, list) else [])[:6]:
                if not isinstance(item, dict):
                    continue
                node = item.get("node") or {}
                text = node.get("snippet") or item.get("url") or item.get("description") or ""
                extra = node.get("explanation", "").replace("\n", " ")[:200]
                print(f"      - {str(text)[:160]} {extra}")


def cpu_slowdown(benchmark_index: float) -> float:
    """The CPU slowdown that makes this machine Lighthouse's reference phone, from its
    benchmark index: the formula of Lighthouse's CPU throttling calculator (1,533 -> 4x,
    1,300 -> 3x, 800 -> 2x, 150 -> 1x; never below 1x)."""
    if benchmark_index >= 1300:
        factor = 3 + (benchmark_index - 1300) / 233
    elif benchmark_index >= 800:
        factor = 2 + (benchmark_index - 800) / 500
    else:
        factor = 1 + (benchmark_index - 150) / 650
    return round(max(1.0, factor), 1)


def calibrate(folder: Path) -> None:
    indices = [json.loads(p.read_text())["environment"]["benchmarkIndex"] for p in folder.glob("calibration-*.json")]
    print(cpu_slowdown(statistics.median(indices)) if indices else 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder")
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--calibrate", action="store_true", help="print the CPU slowdown for calibration-*.json")
    args = parser.parse_args()
    folder = Path(args.folder)
    if args.calibrate:
        calibrate(folder)
        return
    runs: dict[int, list[dict]] = defaultdict(list)
    for path in folder.glob("*-*.json"):
        page, _run = path.stem.split("-")
        runs[int(page)].append(json.loads(path.read_text()))
    rows = []
    for page in sorted(runs):
        name_file = folder / f"{page}.name"
        reports = runs[page]
        name = name_file.read_text().strip() if name_file.exists() else reports[0]["finalDisplayedUrl"]
        medians = [_median([_score(r, key) for r in reports]) for key, _l, _g in CATEGORIES]
        performance = [s for s in (_score(r, "performance") for r in reports) if s is not None]
        spread = f"{min(performance)}–{max(performance)}" if performance else "—"
        # The run whose performance is the median one, for --details.
        typical = sorted(reports, key=lambda r: _score(r, "performance") or 0)[len(reports) // 2]
        rows.append((name, medians, spread, len(reports), typical))
    width = max([len(r[0]) for r in rows] + [len("página")])
    labels = [label for _k, label, _g in CATEGORIES] + ["rendimiento (rango)"]
    print(f"| {'página':<{width}} | " + " | ".join(labels) + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(label) + 2) for label in labels) + "|")
    for name, medians, spread, _n, _typical in rows:
        cells = [f"{'—' if s is None else s:>{len(label)}}" for s, label in zip(medians, labels, strict=False)]
        cells.append(f"{spread:>{len(labels[-1])}}")
        print(f"| {name:<{width}} | " + " | ".join(cells) + " |")
    count = max((r[3] for r in rows), default=0)
    indices = [r["environment"]["benchmarkIndex"] for reports in runs.values() for r in reports]
    slowdown_file = folder / "cpu-slowdown"
    slowdown = slowdown_file.read_text().strip() if slowdown_file.exists() else "4"
    print(f"median of {count} run(s) per page; CPU slowdown {slowdown}x; benchmark index "
          f"{round(min(indices)) if indices else '—'}–{round(max(indices)) if indices else '—'}")
    print("goal: " + ", ".join(f"{label} ≥ {goal}" for _k, label, goal in CATEGORIES))
    if args.details:
        for name, _medians, _spread, _n, typical in rows:
            _details(name, typical)


if __name__ == "__main__":
    main()
