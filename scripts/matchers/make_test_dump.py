#!/usr/bin/env python3
"""Write a small synthetic dump in the format of `oscar eval-routes --dump`, to test compare.py.

Routes are Valhalla `auto` routes between road points of an extract, about half of them
sent through a drivable way carrying a limit tag; their way ids are the truth, and the
drawn line is the route resampled every ~20 m, shifted 5 m sideways and jittered (sigma
3 m), so no vertex lies on an OSM node. Restrictions come from tags, not from oscar's
rulebook: any maxheight is R2, any maxweight/maxaxleload R3, any maxwidth/maxlength or
hgv=no R4. Deterministic for a given --seed.

It tests the plumbing, not the matchers: the truth comes from Valhalla's own graph (so
Valhalla is favoured), and the "oscar" fields are placeholders (the truth as pass/fail,
no timing). Only oscar's own dump gives numbers worth comparing.

    python scripts/matchers/make_test_dump.py OUT.jsonl [--routes N] [--pbf PBF ...]
"""

import argparse
import json
import math
import random
from pathlib import Path

import osmium

import compare  # beside this file: Python puts the script's folder on sys.path

OSM_DIR = Path("/work/shared/data/osm")
DEFAULT_EXTRACTS = [str(OSM_DIR / f"{n}.osm.pbf") for n in ("heidelberg-ors", "monaco", "liechtenstein-latest")]
ROAD_CLASSES = {"primary", "secondary", "tertiary", "unclassified", "residential"}
DRIVABLE = ROAD_CLASSES | {"motorway", "trunk", "motorway_link", "trunk_link", "primary_link",
                           "secondary_link", "tertiary_link", "living_street", "service"}
WAY_TAGS = {"R2": ("maxheight",), "R3": ("maxweight", "maxaxleload"), "R4": ("maxwidth", "maxlength")}
NODE_TAGS = {"R2": ("maxheight",), "R3": ("maxweight",), "R4": ("maxwidth",)}
EARTH_M = 6371000.0


def restricted_item(tags, table):
    items = [item for item, keys in table.items() if any(k in tags for k in keys)]
    if table is WAY_TAGS and tags.get("hgv") == "no":
        items.append("R4")
    return items


def read_extract(pbf):
    """Restricted way/node ids per item, road segments to start from, restricted segments."""
    ways = {item: set() for item in WAY_TAGS}
    nodes = {item: set() for item in NODE_TAGS}
    road_points, restricted_segments = [], []
    source = osmium.FileProcessor(str(pbf), thread_pool=osmium.io.ThreadPool(num_threads=1)).with_locations()
    for obj in source.with_filter(osmium.filter.KeyFilter("highway", "maxheight", "maxweight", "maxwidth")):
        if obj.is_node():
            for item in restricted_item(obj.tags, NODE_TAGS):
                nodes[item].add(obj.id)
        elif obj.is_way() and "highway" in obj.tags:
            points = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(points) < 2:
                continue
            items = restricted_item(obj.tags, WAY_TAGS)
            for item in items:
                ways[item].add(obj.id)
            mid = len(points) // 2
            segment_mid = ((points[mid - 1][0] + points[mid][0]) / 2, (points[mid - 1][1] + points[mid][1]) / 2)
            if items and obj.tags.get("highway") in DRIVABLE:
                restricted_segments.append(segment_mid)
            if obj.tags.get("highway") in ROAD_CLASSES:
                road_points.append(segment_mid)
    return ways, nodes, road_points, restricted_segments


def metres(a, b):
    x = math.radians(b[0] - a[0]) * math.cos(math.radians((a[1] + b[1]) / 2))
    y = math.radians(b[1] - a[1])
    return EARTH_M * math.hypot(x, y)


def pick_near(rng, points, centre, low, high):
    for _ in range(200):
        p = rng.choice(points)
        if low <= metres(p, centre) <= high:
            return p
    return None


def draw(rng, shape, step=20.0, offset=5.0, sigma=3.0):
    """The route as another map would draw it: resampled, shifted right, jittered."""
    drawn = []
    for a, b in zip(shape, shape[1:]):
        length = metres(a, b)
        if length == 0:
            continue
        # Unit vectors in degrees per metre: along the segment, and to its right.
        m_lon = 1 / (EARTH_M * math.cos(math.radians(a[1])) * math.pi / 180)
        m_lat = 1 / (EARTH_M * math.pi / 180)
        ux, uy = (b[0] - a[0]) / length / m_lon, (b[1] - a[1]) / length / m_lat
        for k in range(max(1, int(length // step))):
            t = k * step
            dx = t * ux + offset * uy + rng.gauss(0, sigma)
            dy = t * uy - offset * ux + rng.gauss(0, sigma)
            drawn.append([round(a[0] + dx * m_lon, 7), round(a[1] + dy * m_lat, 7)])
    return drawn


def make_route(actor, index, restricted, rng, road_points, via):
    centre = via or rng.choice(road_points)
    start = pick_near(rng, road_points, centre, 500, 2500)
    end = pick_near(rng, road_points, centre, 500, 2500)
    if not start or not end:
        return None
    locations = [start] + ([via] if via else []) + [end]
    request = {"locations": [{"lon": x, "lat": y, "type": "break" if i in (0, len(locations) - 1) else "through"}
                             for i, (x, y) in enumerate(locations)], "costing": "auto"}
    try:
        trip = actor.route(request)["trip"]
    except Exception:  # noqa: BLE001 - no route: pick other points
        return None
    shape = compare.decode_polyline6(trip["legs"][0]["shape"])
    try:  # the route's own edges, walked exactly: the truth
        walk = actor.trace_attributes({
            "encoded_polyline": trip["legs"][0]["shape"], "costing": "auto", "shape_match": "edge_walk",
            "filters": {"attributes": ["edge.way_id", "edge.begin_shape_index", "edge.end_shape_index", "shape"],
                        "action": "include"}})
    except Exception:  # noqa: BLE001 - rare (a U-turn at the via point): pick other points
        return None
    truth_match = compare.ValhallaMatcher._ids(walk, index, 0.0, "auto")
    truth_ways = []
    for edge in walk["edges"]:
        if not truth_ways or truth_ways[-1] != edge["way_id"]:
            truth_ways.append(edge["way_id"])
    truth_match.partial = False  # an exact walk: no gaps (edge_walk returns no matched points)
    truth = compare.item_statuses(truth_match, restricted, restricted)
    return shape, truth_ways, truth


def extract_lines(pbf, n_routes, cache, seed):
    import valhalla

    ways, nodes, road_points, restricted_segments = read_extract(pbf)
    meta = {"kind": "extract", "extract": pbf.name, "pbf": str(pbf),
            "restricted_ways": {k: sorted(v) for k, v in ways.items()},
            "restricted_nodes": {k: sorted(v) for k, v in nodes.items()}}
    restricted = compare.restricted_sets(meta)
    index = compare.OsmIndex(str(pbf), set().union(*nodes.values()))
    config = compare.ValhallaMatcher._build(valhalla, str(pbf), Path(cache) / compare.cache_stem(pbf.name) / "valhalla")
    actor = valhalla.Actor(str(config))
    rng = random.Random(seed)
    lines = [meta]
    tries = 0
    while len(lines) - 1 < n_routes and tries < n_routes * 10:
        tries += 1
        via = rng.choice(restricted_segments) if restricted_segments and tries % 2 == 0 else None
        made = make_route(actor, index, restricted, rng, road_points, via)
        if not made:
            continue
        shape, truth_ways, truth = made
        lines.append({
            "kind": "route", "extract": pbf.name, "route": len(lines) - 1,
            "case": "via_restricted" if via else "plain", "synthetic": True,
            "drawn": draw(rng, shape), "truth_ways": truth_ways, "truth": truth,
            "oscar": {k: "fail" if v == "restricted" else "pass" for k, v in truth.items()},
            "oscar_us": None, "oscar_matched_ways": truth_ways,
        })
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--routes", type=int, default=12, help="routes per extract (default %(default)s)")
    p.add_argument("--pbf", nargs="+", default=DEFAULT_EXTRACTS,
                   help="extracts (default: heidelberg-ors, monaco, liechtenstein-latest)")
    p.add_argument("--cache", default="/tmp/matchers-cache")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    with open(args.out, "w", encoding="utf-8") as f:
        for i, pbf in enumerate(args.pbf):
            for line in extract_lines(Path(pbf), args.routes, args.cache, args.seed + i):
                f.write(json.dumps(line) + "\n")
        # An extract shipped without its pbf: compare.py must skip it for the peers.
        f.write(json.dumps({"kind": "extract", "extract": "no-pbf.osm.pbf", "pbf": None,
                            "restricted_ways": {}, "restricted_nodes": {}}) + "\n")
        f.write(json.dumps({"kind": "route", "extract": "no-pbf.osm.pbf", "route": 0, "case": "no_pbf",
                            "drawn": [[0.0, 0.0], [0.001, 0.0]], "truth_ways": [], "truth": {"R2": "clean"},
                            "oscar": {"R2": "pass"}, "oscar_us": 100.0, "oscar_matched_ways": []}) + "\n")


if __name__ == "__main__":
    main()
