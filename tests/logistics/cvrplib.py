"""Read CVRPLIB instances (TSPLIB format) and their solution files.

Enough of the format for the vendored instances in ``benchmarks/data/cvrplib``:
``NODE_COORD_SECTION`` with ``EUC_2D`` distances (Euclidean, rounded to the nearest integer
per edge, as TSPLIB's nint), ``EXPLICIT`` matrices in ``LOWER_ROW``, ``UPPER_ROW``,
``LOWER_DIAG_ROW``, ``UPPER_DIAG_ROW`` or ``FULL_MATRIX`` order, ``DEMAND_SECTION``,
``DEPOT_SECTION`` (one depot, node 1) and ``CAPACITY``. Solution files give ``Route #k: ...``
lines with customers numbered 1..n-1 (node id - 1, the depot omitted) and ``Cost N``.

Node 1 of the file becomes index 0 (the depot), so a customer's number in a solution file is
its index in the matrix, as ``plan_routes`` numbers stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "cvrplib"


@dataclass(frozen=True)
class Instance:
    name: str
    capacity: int
    distances: list[list[int]]
    demands: list[int]
    comment: str = ""

    @property
    def customers(self) -> int:
        return len(self.demands) - 1


@dataclass(frozen=True)
class Solution:
    routes: list[list[int]]
    cost: int


def read_instance(path: str | Path) -> Instance:
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        first = line.split()[0]
        if first.endswith("_SECTION"):
            current = first
            sections[current] = []
        elif ":" in line and not first[0].isdigit() and not first.startswith("-"):
            key, _, value = line.partition(":")
            header[key.strip().upper()] = value.strip().strip('"').strip()
            current = None
        elif current is not None:
            sections[current].extend(line.split())
        else:
            raise ValueError(f"{path}: unexpected line {raw!r}")

    n = int(header["DIMENSION"])
    kind = header.get("EDGE_WEIGHT_TYPE", "").upper()
    if kind == "EUC_2D":
        distances = _euclidean(_rows(sections["NODE_COORD_SECTION"], 3, n))
    elif kind == "EXPLICIT":
        weights = [int(v) for v in sections["EDGE_WEIGHT_SECTION"]]
        distances = _explicit(weights, header["EDGE_WEIGHT_FORMAT"].upper(), n)
    else:
        raise ValueError(f"{path}: EDGE_WEIGHT_TYPE {kind!r} is not supported")

    demands = [0] * n
    for node, demand in _rows(sections["DEMAND_SECTION"], 2, n):
        demands[int(node) - 1] = int(demand)
    depots = [int(v) for v in sections.get("DEPOT_SECTION", ["1", "-1"])]
    depots = depots[: depots.index(-1)] if -1 in depots else depots
    if depots != [1]:
        raise ValueError(f"{path}: only a single depot at node 1 is supported, not {depots}")
    if demands[0] != 0:
        raise ValueError(f"{path}: the depot has demand {demands[0]}")
    return Instance(
        name=header.get("NAME", Path(path).stem),
        capacity=int(header["CAPACITY"]),
        distances=distances,
        demands=demands,
        comment=header.get("COMMENT", ""),
    )


def read_solution(path: str | Path) -> Solution:
    routes, cost = [], None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if line.lower().startswith("route"):
            routes.append([int(v) for v in line.partition(":")[2].split()])
        elif line.lower().startswith("cost"):
            cost = int(float(line.split()[1]))
    if cost is None:
        raise ValueError(f"{path}: no Cost line")
    return Solution(routes=routes, cost=cost)


def route_cost(routes: list[list[int]], distances: list[list[int]]) -> int:
    """Total distance of routes that each start and end at the depot (index 0)."""
    total = 0
    for route in routes:
        path = [0, *route, 0]
        total += sum(distances[a][b] for a, b in zip(path, path[1:], strict=False))
    return total


def load(name: str) -> tuple[Instance, Solution]:
    return read_instance(DATA / f"{name}.vrp"), read_solution(DATA / f"{name}.sol")


def _rows(values: list[str], width: int, n: int) -> list[list[str]]:
    if len(values) != width * n:
        raise ValueError(f"expected {n} rows of {width} values, got {len(values)} values")
    return [values[k : k + width] for k in range(0, len(values), width)]


def _euclidean(rows: list[list[str]]) -> list[list[int]]:
    points = {int(node) - 1: (float(x), float(y)) for node, x, y in rows}
    n = len(points)
    # TSPLIB's nint: round half up, not Python's round-half-to-even.
    return [[int(math.dist(points[i], points[j]) + 0.5) for j in range(n)] for i in range(n)]


def _explicit(weights: list[int], layout: str, n: int) -> list[list[int]]:
    matrix = [[0] * n for _ in range(n)]
    if layout == "FULL_MATRIX":
        cells = [(i, j) for i in range(n) for j in range(n)]
    elif layout == "LOWER_ROW":
        cells = [(i, j) for i in range(n) for j in range(i)]
    elif layout == "LOWER_DIAG_ROW":
        cells = [(i, j) for i in range(n) for j in range(i + 1)]
    elif layout == "UPPER_ROW":
        cells = [(i, j) for i in range(n) for j in range(i + 1, n)]
    elif layout == "UPPER_DIAG_ROW":
        cells = [(i, j) for i in range(n) for j in range(i, n)]
    else:
        raise ValueError(f"EDGE_WEIGHT_FORMAT {layout!r} is not supported")
    if len(weights) != len(cells):
        raise ValueError(
            f"{layout} of dimension {n} needs {len(cells)} weights, got {len(weights)}"
        )
    for (i, j), weight in zip(cells, weights, strict=True):
        matrix[i][j] = matrix[j][i] = weight
    return matrix
