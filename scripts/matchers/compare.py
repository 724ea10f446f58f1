#!/usr/bin/env python3
"""Compare oscar's route matcher with Valhalla's and OSRM's map matching.

Reads the JSON Lines dump of `oscar eval-routes --dump routes.jsonl`, runs Valhalla
(`trace_attributes`, map_snap) and OSRM (`match`) in-process on each route's drawn
line, decides each route item (R2, R3, R4) from the OSM ids they matched, scores every
matcher against the dump's truth the way oscar is scored, and prints a Markdown table.

    python scripts/matchers/compare.py routes.jsonl [--cache DIR] [--json OUT] [--limit N]

Valhalla tiles and OSRM data are built once per extract under the cache directory and
reused. Nothing here uses the network; no server is started (both peers run in-process).
See README.md beside this file for setup and for what the numbers mean.
"""

import argparse
import importlib
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import osmium
except ImportError as e:  # needed by both peers: without it their ids can't be judged
    sys.exit(f"compare.py needs pyosmium (pip install -r requirements.txt): {e}")

# Statuses that let a route through. Every other one (restricted, fail, unverified)
# stops it: right if the truth is restricted, a false alarm if it is clean.
CLEAR = {"clean", "pass", "not_applicable"}

# Tolerance when finding an OSM node among Valhalla's shape points, degrees: Valhalla
# stores shapes at 1e-6 degree precision, OSM at 1e-7, so an OSM node's own point is
# within ~1e-6 (0.1 m) of it, while the next node of a road is nearly always metres away.
SHAPE_NODE_TOL_DEG = 2e-6

MATCHERS = ("oscar", "Valhalla", "OSRM")


# ---------------------------------------------------------------------------------
# The dump


def read_dump(path):
    """Extracts in file order, each {"meta": extract line, "routes": [route lines]}."""
    groups, by_name = [], {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            kind = obj.get("kind")
            if kind == "extract":
                group = {"meta": obj, "routes": []}
                groups.append(group)
                by_name[obj["extract"]] = group
            elif kind == "route":
                group = by_name.get(obj["extract"])
                if group is None:
                    sys.exit(f"{path}:{n}: route of {obj['extract']!r} comes before its extract line")
                group["routes"].append(obj)
            else:
                print(f"warning: {path}:{n}: unknown kind {kind!r}, line skipped", file=sys.stderr)
    return groups


def restricted_sets(meta):
    """Item -> (restricted way ids, restricted node ids), as sets of ints."""
    ways = meta.get("restricted_ways") or {}
    nodes = meta.get("restricted_nodes") or {}
    items = sorted(set(ways) | set(nodes))
    return {item: (set(ways.get(item, [])), set(nodes.get(item, []))) for item in items}


# ---------------------------------------------------------------------------------
# What the peers' answers need from the extract


class OsmIndex:
    """Reads the extract once with pyosmium.

    OSRM's match returns OSM node ids but no way ids: `pair_ways` maps each road segment
    (an unordered pair of consecutive way nodes) to its ways. Valhalla's returns way ids
    but no node ids: `way_nodes` lists, per way, the restricted nodes on it with their
    positions, to be found among the matched shape points.
    """

    def __init__(self, pbf, restricted_node_ids):
        self.pair_ways = {}  # (smaller node id, larger node id) -> way id, or tuple of them
        self.way_nodes = {}  # way id -> [(restricted node id, lon, lat)]
        pool = osmium.io.ThreadPool(num_threads=1)  # the machine is shared: stay on one core
        ways_of_node = self._read_ways(pbf, set(restricted_node_ids), pool)
        self._read_nodes(pbf, ways_of_node, pool)

    def _read_ways(self, pbf, restricted_node_ids, pool):
        ways_of_node = {}
        source = osmium.FileProcessor(pbf, osmium.osm.WAY, thread_pool=pool)
        for way in source.with_filter(osmium.filter.KeyFilter("highway")):
            refs = [n.ref for n in way.nodes]
            for a, b in zip(refs, refs[1:]):
                self._add_pair(a, b, way.id)
            for ref in refs:
                if ref in restricted_node_ids:
                    ways_of_node.setdefault(ref, set()).add(way.id)
        return ways_of_node

    def _add_pair(self, a, b, way_id):
        key = (a, b) if a < b else (b, a)
        old = self.pair_ways.get(key)
        if old is None:
            self.pair_ways[key] = way_id
        elif old != way_id and (not isinstance(old, tuple) or way_id not in old):
            # Overlapping ways (rare): the segment counts as on all of them.
            self.pair_ways[key] = (old if isinstance(old, tuple) else (old,)) + (way_id,)

    def _read_nodes(self, pbf, ways_of_node, pool):
        if not ways_of_node:
            return
        source = osmium.FileProcessor(pbf, osmium.osm.NODE, thread_pool=pool)
        for node in source.with_filter(osmium.filter.IdFilter(list(ways_of_node))):
            if not node.location.valid():
                continue
            entry = (node.id, node.location.lon, node.location.lat)
            for way_id in ways_of_node[node.id]:
                self.way_nodes.setdefault(way_id, []).append(entry)

    def ways_of_nodes(self, node_ids):
        """Way ids of consecutive node pairs (one matched path's node sequence)."""
        ways = set()
        for a, b in zip(node_ids, node_ids[1:]):
            found = self.pair_ways.get((a, b) if a < b else (b, a))
            if isinstance(found, tuple):
                ways.update(found)
            elif found is not None:
                ways.add(found)
        return ways

    def nodes_on_shape(self, way_id, points):
        """Restricted nodes of `way_id` lying on one of `points` ([lon, lat])."""
        found = set()
        for node_id, lon, lat in self.way_nodes.get(way_id, ()):
            for x, y in points:
                if abs(x - lon) <= SHAPE_NODE_TOL_DEG and abs(y - lat) <= SHAPE_NODE_TOL_DEG:
                    found.add(node_id)
                    break
        return found


# ---------------------------------------------------------------------------------
# Building the peers' data (once per extract, kept in the cache)


def stamp_of(pbf, tool):
    """Identifies the input a cache was built from: a changed extract or tool rebuilds."""
    st = os.stat(pbf)
    return f"{Path(pbf).resolve()} {st.st_size} {int(st.st_mtime)} {tool}\n"


def is_built(out_dir, stamp):
    path = out_dir / "BUILT"
    return path.exists() and path.read_text() == stamp


def run_logged(cmd, log_path, cwd=None):
    """Runs a build step at low priority, its output to a log; raises with the log's tail."""
    with open(log_path, "w") as log:
        rc = subprocess.run(["nice", "-n", "10", *cmd], stdout=log, stderr=subprocess.STDOUT, cwd=cwd).returncode
    if rc != 0:
        tail = Path(log_path).read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{Path(cmd[0]).name} exited {rc}; end of {log_path}:\n{tail}")


# ---------------------------------------------------------------------------------
# One matcher call's result


class Match:
    """Ids one matcher call produced, or why it produced none."""

    def __init__(self, us, ways=(), nodes=(), error=None, partial=False, note=None):
        self.us = us  # time of the match call(s) alone, microseconds
        self.ways = set(ways)
        self.nodes = set(nodes)
        self.error = error  # a failed call: every item unverified
        self.partial = partial  # part of the line left unmatched: clean items unverified
        self.note = note


def item_statuses(match, restricted, items):
    """Item -> clean | restricted | unverified, from the ids a matcher returned.
    An item the extract line lists nothing for has nothing to find: clean."""
    statuses = {}
    for item in sorted(set(items) | set(restricted)):
        ways, nodes = restricted.get(item, (set(), set()))
        if match.error:
            statuses[item] = "unverified"
        elif match.ways & ways or match.nodes & nodes:
            statuses[item] = "restricted"
        elif match.partial:
            # A gap in the match may hide a restriction: the matcher can't call it clean.
            statuses[item] = "unverified"
        else:
            statuses[item] = "clean"
    return statuses


# ---------------------------------------------------------------------------------
# Valhalla


class ValhallaMatcher:
    name = "Valhalla"
    module = "valhalla"

    def __init__(self, pbf, cache_dir, args):
        import valhalla  # imported here so a broken install only disables this peer

        self.args = args
        config = self._build(valhalla, pbf, cache_dir / "valhalla")
        self.actor = valhalla.Actor(str(config))

    @staticmethod
    def _build(valhalla, pbf, out_dir):
        config_path = out_dir / "valhalla.json"
        stamp = stamp_of(pbf, f"pyvalhalla {valhalla.__version__}")
        if is_built(out_dir, stamp):
            return config_path
        shutil.rmtree(out_dir, ignore_errors=True)
        (out_dir / "tiles").mkdir(parents=True)
        config = valhalla.get_config(tile_extract="", tile_dir=out_dir / "tiles")
        config["mjolnir"]["concurrency"] = 1
        # Long, densely drawn routes must not hit the service's trace limits.
        config["service_limits"]["trace"]["max_shape"] = 200000
        config["service_limits"]["trace"]["max_distance"] = 5000000.0
        config_path.write_text(json.dumps(config, indent=1))  # quiet: matching must not print
        # The build's own config only differs in logging, so that build.log says what failed.
        build_config = dict(config, logging=dict(config["logging"], type="std_out", color=False))
        (out_dir / "build.json").write_text(json.dumps(build_config, indent=1))
        print(f"  building Valhalla tiles for {Path(pbf).name} ...", file=sys.stderr)
        # The package's binary itself: its console-script wrapper only runs when on PATH.
        tool = Path(valhalla.__file__).parent / "bin" / "valhalla_build_tiles"
        run_logged([str(tool), "-c", str(out_dir / "build.json"), "-j", "1", str(pbf)], out_dir / "build.log")
        (out_dir / "BUILT").write_text(stamp)
        return config_path

    def _request(self, drawn, costing):
        a = self.args
        return json.dumps({
            "shape": [{"lon": lon, "lat": lat} for lon, lat in drawn],
            "costing": costing,
            "shape_match": "map_snap",
            "trace_options": {"search_radius": a.search_radius, "gps_accuracy": a.sigma, "sigma_z": a.sigma},
            "filters": {
                "attributes": ["edge.way_id", "edge.begin_shape_index", "edge.end_shape_index", "shape",
                               "matched.type", "matched.begin_route_discontinuity",
                               "matched.end_route_discontinuity"],
                "action": "include",
            },
        })

    def match(self, drawn, index):
        costings = [self.args.valhalla_costing] + (["auto"] if self.args.valhalla_costing != "auto" else [])
        us, errors = 0.0, []
        for costing in costings:
            request = self._request(drawn, costing)
            start = time.perf_counter()
            try:
                answer = self.actor.trace_attributes(request)  # str in, str out: no JSON work timed
            except Exception as e:  # noqa: BLE001 - ValhallaError mostly; any error fails the route only
                us += (time.perf_counter() - start) * 1e6
                errors.append(f"{costing}: {getattr(e, 'code', type(e).__name__)} {e}")
                continue
            us += (time.perf_counter() - start) * 1e6
            return self._ids(json.loads(answer), index, us, costing)
        return Match(us, error="; ".join(errors))

    @staticmethod
    def _ids(answer, index, us, costing):
        shape = decode_polyline6(answer.get("shape", ""))
        ways, nodes = set(), set()
        for edge in answer.get("edges", []):
            way = edge.get("way_id")
            if way is None:
                continue
            ways.add(way)
            points = shape[edge.get("begin_shape_index", 0): edge.get("end_shape_index", len(shape)) + 1]
            nodes |= index.nodes_on_shape(way, points)
        partial = valhalla_gaps(answer.get("matched_points", []))
        if not ways:
            return Match(us, error="no edges matched", note=costing)
        return Match(us, ways, nodes, partial=partial, note=costing)


def valhalla_gaps(points):
    """Whether the match leaves part of the line uncovered: a break in the matched path,
    or an unmatched first or last point. (Unmatched points inside a continuous path
    are only skipped outliers: the path still runs past them.)"""
    if not points:
        return False
    breaks = any(p.get("begin_route_discontinuity") or p.get("end_route_discontinuity") for p in points)
    return breaks or points[0].get("type") == "unmatched" or points[-1].get("type") == "unmatched"


def decode_polyline6(encoded):
    """(lon, lat) points from Valhalla's encoded polyline (precision 1e-6, lat first)."""
    points, index, lat, lon = [], 0, 0, 0
    while index < len(encoded):
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                byte = ord(encoded[index]) - 63
                index += 1
                result |= (byte & 0x1F) << shift
                shift += 5
                if byte < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        points.append((lon / 1e6, lat / 1e6))
    return points


# ---------------------------------------------------------------------------------
# OSRM


class OsrmMatcher:
    name = "OSRM"
    module = "osrm"

    def __init__(self, pbf, cache_dir, args):
        import osrm  # imported here so a broken install only disables this peer

        self.osrm = osrm
        self.args = args
        base = self._build(osrm, pbf, cache_dir / "osrm")
        # max_locations_map_matching=-1: no limit on the number of drawn points.
        self.engine = osrm.OSRM(storage_config=str(base), algorithm="CH", use_shared_memory=False,
                                max_locations_map_matching=-1)

    @staticmethod
    def _build(osrm, pbf, out_dir):
        stem = Path(pbf).name.split(".")[0]
        base = out_dir / f"{stem}.osrm"
        stamp = stamp_of(pbf, f"osrm-bindings {importlib.metadata.version('osrm-bindings')} car.lua CH")
        if is_built(out_dir, stamp):
            return base
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        # osrm-extract writes beside its input: give it a link to the extract in the cache.
        (out_dir / f"{stem}.osm.pbf").symlink_to(Path(pbf).resolve())
        package = Path(osrm.__file__).parent
        tools = package / "bin"
        profile = package / "share" / "profiles" / "car.lua"  # no truck profile ships
        print(f"  building OSRM data for {Path(pbf).name} ...", file=sys.stderr)
        run_logged([str(tools / "osrm-extract"), "-p", str(profile), "-t", "1", f"{stem}.osm.pbf"],
                   out_dir / "extract.log", cwd=out_dir)
        run_logged([str(tools / "osrm-contract"), "-t", "1", f"{stem}.osrm"], out_dir / "contract.log", cwd=out_dir)
        (out_dir / "BUILT").write_text(stamp)
        return base

    def match(self, drawn, index):
        a = self.args
        params = self.osrm.MatchParameters(
            coordinates=[(lon, lat) for lon, lat in drawn],
            radiuses=[a.osrm_radius] * len(drawn),
            annotations=["nodes"],
            geometries="geojson",
            overview="full",
            tidy=a.osrm_tidy,
        )
        start = time.perf_counter()
        try:
            answer = self.engine.Match(params)
        except Exception as e:  # noqa: BLE001 - RuntimeError "NoMatch", "NoSegment" ...: the route fails
            return Match((time.perf_counter() - start) * 1e6, error=f"{type(e).__name__}: {e}")
        us = (time.perf_counter() - start) * 1e6
        return self._ids(answer, index, us)

    @staticmethod
    def _ids(answer, index, us):
        ways, nodes = set(), set()
        matchings = list(answer["matchings"])
        for matching in matchings:
            for leg in matching["legs"]:
                # Node ids come back as doubles (exact below 2^53).
                leg_nodes = [int(n) for n in leg["annotation"]["nodes"]]
                nodes.update(leg_nodes)
                ways |= index.ways_of_nodes(leg_nodes)
        # A split match (several matchings) or a dropped first or last point leaves part of
        # the line uncovered. Other dropped points (outliers, or thinned out by tidy) don't:
        # the matched path runs past them.
        tracepoints = list(answer["tracepoints"])
        partial = len(matchings) > 1 or not tracepoints or tracepoints[0] is None or tracepoints[-1] is None
        if not nodes:
            return Match(us, error="no nodes matched")
        return Match(us, ways, nodes, partial=partial)


# ---------------------------------------------------------------------------------
# Scoring


def score(truth, statuses):
    """(items, right, misses, false alarms) for one route."""
    right = misses = false_alarms = 0
    for item, t in truth.items():
        flagged = statuses.get(item, "unverified") not in CLEAR
        if t == "restricted":
            right += flagged
            misses += not flagged
        else:
            right += not flagged
            false_alarms += flagged
    return len(truth), right, misses, false_alarms


class Tally:
    """One table row's numbers."""

    def __init__(self):
        self.routes = self.items = self.right = self.misses = self.false_alarms = 0
        self.failed = self.partial = 0
        self.us = []  # per route
        self.us_per_vertex = []

    def add(self, truth, statuses, us, vertices, failed=False, partial=False):
        items, right, misses, false_alarms = score(truth, statuses)
        self.routes += 1
        self.items += items
        self.right += right
        self.misses += misses
        self.false_alarms += false_alarms
        self.failed += failed
        self.partial += partial
        if us is not None:
            self.us.append(us)
            self.us_per_vertex.append(us / max(vertices, 1))

    def merge(self, other):
        for key in ("routes", "items", "right", "misses", "false_alarms", "failed", "partial"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.us += other.us
        self.us_per_vertex += other.us_per_vertex

    def row(self, extract, matcher):
        return {
            "extract": extract, "matcher": matcher, "routes": self.routes, "items": self.items,
            "items_right": self.right, "misses": self.misses, "false_alarms": self.false_alarms,
            "failed_routes": self.failed, "partial_routes": self.partial,
            "median_ms_per_route": statistics.median(self.us) / 1000 if self.us else None,
            "median_us_per_vertex": statistics.median(self.us_per_vertex) if self.us_per_vertex else None,
        }


# ---------------------------------------------------------------------------------
# The run


def oscar_tally(routes):
    tally = Tally()
    for r in routes:
        tally.add(r["truth"], r.get("oscar") or {}, r.get("oscar_us"), len(r["drawn"]))
    return tally


_import_errors = {}


def import_error(cls):
    """Why the peer's package can't be imported (checked once), or None."""
    if cls.module not in _import_errors:
        try:
            importlib.import_module(cls.module)
            _import_errors[cls.module] = None
        except Exception as e:  # noqa: BLE001 - a broken install may raise anything
            _import_errors[cls.module] = f"{type(e).__name__}: {e}"
    return _import_errors[cls.module]


def run_peer(cls, pbf, cache_dir, routes, restricted, index, args, details, notes):
    """Runs one peer on an extract's routes; None (and a note) if it can't be set up."""
    extract = routes[0]["extract"]
    if import_error(cls):
        return None  # said once, in main
    try:
        matcher = cls(pbf, cache_dir, args)
        matcher.match(routes[0]["drawn"], index)  # warm-up, not counted: caches, first allocations
    except Exception as e:  # noqa: BLE001 - any failure here means "this peer is unavailable"
        notes.append(f"{cls.name} unavailable for {extract}: {type(e).__name__}: {e}")
        return None
    tally = Tally()
    for r in routes:
        m = matcher.match(r["drawn"], index)
        statuses = item_statuses(m, restricted, r["truth"])
        tally.add(r["truth"], statuses, m.us, len(r["drawn"]), failed=bool(m.error), partial=m.partial)
        details.append(route_detail(r, cls.name, statuses, m))
    return tally


def route_detail(route, matcher, statuses, m):
    truth_ways = set(route.get("truth_ways") or [])
    return {
        "extract": route["extract"], "route": route.get("route"), "case": route.get("case"),
        "matcher": matcher, "statuses": statuses, "us": round(m.us, 1),
        "error": m.error, "partial": m.partial, "note": m.note,
        "matched_ways": sorted(m.ways),
        "truth_ways_found": len(truth_ways & m.ways), "truth_ways": len(truth_ways),
    }


def cache_stem(extract_name):
    return extract_name.split(".")[0]


def run_extract(group, args, details, notes):
    """Tallies per matcher for one extract, and whether the peers ran on it."""
    meta = group["meta"]
    name = meta["extract"]
    routes = group["routes"][: args.limit] if args.limit else group["routes"]
    tallies = {"oscar": oscar_tally(routes)}
    pbf = meta.get("pbf")
    if not routes:
        return tallies, False
    if not pbf or not Path(pbf).exists():
        why = "no pbf in the dump" if not pbf else f"{pbf} not found"
        notes.append(f"{name}: {len(routes)} routes skipped for the peers ({why}); "
                     "the 'all' rows leave them out for every matcher")
        return tallies, False
    print(f"{name}: {len(routes)} routes", file=sys.stderr)
    restricted = restricted_sets(meta)
    all_nodes = set().union(*(nodes for _, nodes in restricted.values())) if restricted else set()
    index = OsmIndex(pbf, all_nodes)
    cache_dir = Path(args.cache) / cache_stem(name)
    for cls in (ValhallaMatcher, OsrmMatcher):
        tally = run_peer(cls, pbf, cache_dir, routes, restricted, index, args, details, notes)
        if tally is not None:
            tallies[cls.name] = tally
    return tallies, True


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_table(rows):
    print("| extract | matcher | routes | items | items right | misses | false alarms | median ms/route | µs/vertex |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['extract']} | {r['matcher']} | {r['routes']} | {r['items']} | {r['items_right']} "
              f"| {r['misses']} | {r['false_alarms']} | {fmt(r['median_ms_per_route'], 2)} "
              f"| {fmt(r['median_us_per_vertex'], 1)} |")


def summary_notes(rows, args):
    notes = [
        f"Valhalla: trace_attributes, shape_match map_snap, costing {args.valhalla_costing}"
        + (" (auto when it fails)" if args.valhalla_costing != "auto" else "")
        + f", search_radius {args.search_radius} m, gps_accuracy = sigma_z = {args.sigma} m.",
        f"OSRM: match, car profile (CH), radius {args.osrm_radius} m (searches 3x that), tidy {args.osrm_tidy}; "
        "way ids from consecutive node pairs read from the extract.",
        "A failed match counts as unverified on every item; a partial one (a break in the matched path, "
        "or an unmatched first/last point) as unverified on each item it did not find restricted.",
    ]
    for r in rows:
        if r["matcher"] != "oscar" and r["extract"] == "all" and (r["failed_routes"] or r["partial_routes"]):
            notes.append(f"{r['matcher']}: {r['failed_routes']} routes failed, {r['partial_routes']} matched partly.")
    return notes


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dump", help="JSON Lines from `oscar eval-routes --dump`")
    p.add_argument("--cache", default="/tmp/matchers-cache", help="built tiles/data per extract (default %(default)s)")
    p.add_argument("--json", metavar="OUT", help="also write the rows, notes and per-route results here")
    p.add_argument("--limit", type=int, metavar="N", help="at most N routes per extract")
    p.add_argument("--valhalla-costing", default="truck", choices=["truck", "auto"],
                   help="Valhalla costing tried first; auto is tried when truck fails (default %(default)s)")
    # Defaults follow oscar's matcher (SEARCH_RADIUS_M = 45, SIGMA_M = 8) so all search as far.
    p.add_argument("--search-radius", type=float, default=45.0, help="Valhalla search radius, m (default %(default)s)")
    p.add_argument("--sigma", type=float, default=8.0, help="Valhalla gps_accuracy and sigma_z, m (default %(default)s)")
    p.add_argument("--osrm-radius", type=float, default=15.0, help="OSRM radius per point, m; it searches 3x that (default %(default)s)")
    p.add_argument("--osrm-no-tidy", dest="osrm_tidy", action="store_false",
                   help="don't let OSRM thin out close points (it splits dense noisy lines without)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    groups = read_dump(args.dump)
    details, notes = [], []
    rows, totals = [], {m: Tally() for m in MATCHERS}
    ran_any = {m: False for m in MATCHERS}
    for group in groups:
        tallies, peers_ran = run_extract(group, args, details, notes)
        for matcher in MATCHERS:
            if matcher in tallies:
                rows.append(tallies[matcher].row(group["meta"]["extract"], matcher))
                # "all" only sums extracts the peers were run on, so the rows compare.
                if peers_ran:
                    totals[matcher].merge(tallies[matcher])
                    ran_any[matcher] = True
    rows += [totals[m].row("all", m) for m in MATCHERS if ran_any[m]]
    unavailable = [f"**{cls.name} unavailable**: {import_error(cls)}; no {cls.name} rows."
                   for cls in (ValhallaMatcher, OsrmMatcher) if import_error(cls)]
    notes = unavailable + summary_notes(rows, args) + notes
    print_table(rows)
    print()
    for note in notes:
        print(f"- {note}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "rows": rows, "notes": notes, "routes": details}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
