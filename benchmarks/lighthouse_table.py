"""The table benchmarks/lighthouse.sh prints from Lighthouse's JSON reports: one row per page,
the four category scores out of 100; with --details, every audit below a full score in the
categories that missed their goal."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

CATEGORIES = [("performance", "rendimiento", 98), ("accessibility", "accesibilidad", 100),
              ("best-practices", "buenas prácticas", 100), ("seo", "SEO", 95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder")
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()
    reports = sorted(Path(args.folder).glob("*.json"), key=lambda p: int(p.stem))
    rows, misses = [], []
    for path in reports:
        report = json.loads(path.read_text())
        name_file = path.with_suffix(".name")
        name = name_file.read_text().strip() if name_file.exists() else report["finalDisplayedUrl"]
        scores = []
        for key, _label, goal in CATEGORIES:
            score = report["categories"][key]["score"]
            value = None if score is None else round(score * 100)
            scores.append(value)
            if value is None or value < goal:
                misses.append((name, key))
        rows.append((name, scores, report))
    width = max([len(r[0]) for r in rows] + [len("página")])
    header = f"| {'página':<{width}} | " + " | ".join(label for _k, label, _g in CATEGORIES) + " |"
    print(header)
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(label) + 2) for _k, label, _g in CATEGORIES) + "|")
    for name, scores, _report in rows:
        cells = " | ".join(f"{'—' if s is None else s:>{len(label)}}" for s, (_k, label, _g) in zip(scores, CATEGORIES, strict=True))
        print(f"| {name:<{width}} | {cells} |")
    print("goal: " + ", ".join(f"{label} ≥ {goal}" for _k, label, goal in CATEGORIES))
    if not args.details:
        return
    for name, _scores, report in rows:
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
                if not isinstance(items, list):
                    items = []
                for item in items[:6]:
                    if not isinstance(item, dict):
                        continue
                    node = item.get("node") or {}
                    text = node.get("snippet") or item.get("url") or item.get("description") or ""
                    extra = node.get("explanation", "").replace("\n", " ")[:200]
                    print(f"      - {str(text)[:160]} {extra}")


if __name__ == "__main__":
    main()
