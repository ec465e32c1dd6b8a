"""Benchmark: the consolidated route planner against CVRPLIB best-known solutions.

For each vendored instance (benchmarks/data/cvrplib) it runs ``plan_routes`` with fixed cost
0, cost per distance 1 and as many vehicles as customers (the fleet is not the limit; the
capacity is), and prints the gap to the best-known cost. The goal: gap <= 5 % within 10 s.
The best-known costs are recomputed from the .sol routes with the same parser and distance
convention before they are used.

    .venv/bin/python benchmarks/route_planner.py            # --seconds 10
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.logistics.routing import plan_routes  # noqa: E402
from tests.logistics import cvrplib  # noqa: E402

INSTANCES = ["E-n13-k4", "P-n16-k8", "B-n31-k5", "A-n32-k5", "M-n101-k10", "X-n101-k25"]
GAP_GOAL = Decimal(5)
SECONDS_GOAL = 10.0
# Building the model and reading the seed plan come on top of the solver's time limit.
SECONDS_SLACK = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="solver time limit")
    parser.add_argument("instances", nargs="*", default=INSTANCES)
    args = parser.parse_args()

    notes = []
    header = (
        f"{'instance':<12} {'customers':>9} {'best known':>10} {'ours':>8} {'gap %':>7} "
        f"{'routes':>6} {'seconds':>7}  result"
    )
    print(header)
    print("-" * len(header))
    failures = 0
    for name in args.instances:
        instance, solution = cvrplib.load(name)
        recomputed = cvrplib.route_cost(solution.routes, instance.distances)
        if recomputed != solution.cost:
            notes.append(f"{name}: .sol says Cost {solution.cost}, its routes cost {recomputed}")
        best = recomputed
        plan = plan_routes(
            instance.distances,
            instance.demands,
            instance.capacity,
            max_vehicles=instance.customers,
            fixed_cost_per_route=Decimal(0),
            cost_per_distance=Decimal(1),
            time_limit_s=args.seconds,
        )
        gap = (plan.cost - best) * 100 / best
        ok = gap <= GAP_GOAL and plan.solve_seconds <= SECONDS_GOAL + SECONDS_SLACK
        failures += not ok
        print(
            f"{name:<12} {instance.customers:>9} {best:>10} {plan.cost:>8} {gap:>7.2f} "
            f"{len(plan.routes):>6} {plan.solve_seconds:>7.2f}  {'PASS' if ok else 'FAIL'}",
            flush=True,
        )
    print(
        f"\ngoal: gap <= {GAP_GOAL} % within {SECONDS_GOAL:g} s (+{SECONDS_SLACK:g} s to build"
        f" the model); solver time limit {args.seconds:g} s, one thread,"
        " fixed cost 0, cost per distance 1, max_vehicles = customers"
    )
    print("best known costs: recomputed from the .sol routes;", end=" ")
    print("all match the stated Cost" if not notes else "differences:")
    for note in notes:
        print("  " + note)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
