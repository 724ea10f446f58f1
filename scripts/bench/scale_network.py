#!/usr/bin/env python3
"""A scale-test road network: the real OpenStreetMap extracts in ../shared/data/osm laid out
side by side along the parallel 60.17 N, each joined to the next by a straight-ish trunk road.

NOT a real network: the cities are real (their roads, tags and limits as mapped, shapes kept in
metres), the trunk roads between them are made up (highway=trunk, ref=SCALE-TEST, a vertex every
40 m, a gentle meander, 95 km between cities). It exists to measure matching and review cost on
routes of 10 to 500 km; accuracy figures come from the real extracts only. Relations (turn
restrictions) are left out.

    pip install osmium==4.3.2
    python3 scripts/bench/scale_network.py OUT.osm.pbf [EXTRACT.osm.pbf ...]

Without extracts named, every *.osm.pbf in ../shared/data/osm is used, largest first.
"""

import glob
import math
import os
import sys

import osmium

LAT = 60.17
GAP_M = 95_000.0
STEP_M = 40.0
ID_STRIDE = 10**11
M_PER_DEG = 111_195.0
DRIVABLE = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
            "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"}


class Reader(osmium.SimpleHandler):
    def __init__(self):
        super().__init__()
        self.nodes, self.ways = {}, []

    def node(self, n):
        if n.location.valid():
            self.nodes[n.id] = (n.location.lon, n.location.lat, {t.k: t.v for t in n.tags})

    def way(self, w):
        self.ways.append((w.id, [r.ref for r in w.nodes], {t.k: t.v for t in w.tags}))


def main(out, extracts):
    if not extracts:
        here = os.path.dirname(os.path.abspath(__file__))
        extracts = sorted(glob.glob(os.path.join(here, "../../../shared/data/osm/*.osm.pbf")), key=os.path.getsize,
                          reverse=True)
    if os.path.exists(out):
        os.remove(out)
    writer = osmium.SimpleWriter(out)
    placed_nodes, placed_ways = [], []
    x_m = 0.0  # metres east of the first city's west edge
    previous_east = None  # (node id, lon, lat) of the previous city's joint
    for k, path in enumerate(extracts):
        r = Reader()
        r.apply_file(path, locations=False)
        used = {n for _, refs, tags in r.ways if tags.get("highway") in DRIVABLE for n in refs if n in r.nodes}
        if not used:
            continue
        lons = [r.nodes[n][0] for n in used]
        lats = [r.nodes[n][1] for n in used]
        c_lat = (min(lats) + max(lats)) / 2
        kx = math.cos(math.radians(c_lat)) / math.cos(math.radians(LAT))
        west = min(lons)
        width_m = (max(lons) - west) * math.cos(math.radians(c_lat)) * M_PER_DEG
        lon0 = 24.0 + x_m / (math.cos(math.radians(LAT)) * M_PER_DEG)

        def place(lon, lat):
            return (lon0 + (lon - west) * kx, LAT + (lat - c_lat))

        base = (k + 1) * ID_STRIDE
        for nid, (lon, lat, tags) in r.nodes.items():
            placed_nodes.append((base + nid, place(lon, lat), tags))
        for wid, refs, tags in r.ways:
            refs = [base + n for n in refs if n in r.nodes]
            if len(refs) >= 2:
                placed_ways.append((base + wid, refs, tags))
        # Joints: the nodes furthest west and furthest east of the largest connected part of
        # the two-way roads (an extract's edges hold cut-off fragments).
        main_roads = largest_part(r)
        w_node = min(main_roads, key=lambda n: r.nodes[n][0])
        e_node = max(main_roads, key=lambda n: r.nodes[n][0])
        if previous_east is not None:
            trunk(placed_nodes, placed_ways, k, previous_east, (base + w_node, *place(*r.nodes[w_node][:2])))
        previous_east = (base + e_node, *place(*r.nodes[e_node][:2]))
        print(f"{os.path.basename(path)}: {len(r.nodes)} nodes, {len(r.ways)} ways, {width_m / 1000:.1f} km wide, "
              f"placed at {x_m / 1000:.0f} km", file=sys.stderr)
        x_m += width_m + GAP_M
    for nid, (lon, lat), tags in sorted(placed_nodes):
        writer.add_node(osmium.osm.mutable.Node(id=nid, location=osmium.osm.Location(lon, lat), tags=tags))
    for wid, refs, tags in sorted(placed_ways):
        writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    writer.close()
    km = sum(1 for _, _, t in placed_ways if t.get("ref") == "SCALE-TEST")
    print(f"{out}: {len(placed_nodes)} nodes, {len(placed_ways)} ways ({km} made-up trunk roads), "
          f"{x_m / 1000:.0f} km east to west", file=sys.stderr)


ONEWAY = {"yes", "1", "-1", "true", "reversible"}


def largest_part(r):
    """The nodes of the largest connected part of the two-way drivable roads (so that a route
    can arrive and leave by the joints in both directions)."""
    parent = {}

    def find(n):
        while parent.setdefault(n, n) != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for _, refs, tags in r.ways:
        two_way = tags.get("oneway") not in ONEWAY and tags.get("junction") != "roundabout"
        if tags.get("highway") in DRIVABLE and not tags["highway"].startswith("motorway") and two_way:
            refs = [n for n in refs if n in r.nodes]
            for a, b in zip(refs, refs[1:]):
                parent[find(a)] = find(b)
    parts = {}
    for n in parent:
        parts.setdefault(find(n), []).append(n)
    return max(parts.values(), key=len)


def trunk(nodes, ways, k, a, b):
    """A made-up trunk road from joint a to joint b: a vertex every STEP_M, a meander of 1.5 km
    over 25 km, both ends on the cities' own nodes."""
    (a_id, a_lon, a_lat), (b_id, b_lon, b_lat) = a, b
    kx = math.cos(math.radians(LAT)) * M_PER_DEG
    dx, dy = (b_lon - a_lon) * kx, (b_lat - a_lat) * M_PER_DEG
    length = math.hypot(dx, dy)
    steps = max(2, int(length / STEP_M))
    refs = [a_id]
    for i in range(1, steps):
        t = i / steps
        wobble = 1500.0 * math.sin(2 * math.pi * t * length / 25_000.0) * math.sin(math.pi * t)
        x = dx * t - dy / length * wobble
        y = dy * t + dx / length * wobble
        nid = (90 * ID_STRIDE) + k * 10**7 + i
        nodes.append((nid, (a_lon + x / kx, a_lat + y / M_PER_DEG), {}))
        refs.append(nid)
    refs.append(b_id)
    ways.append((90 * ID_STRIDE + k, refs, {"highway": "trunk", "ref": "SCALE-TEST",
                                            "name": f"scale-test trunk {k}", "maxspeed": "100"}))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
