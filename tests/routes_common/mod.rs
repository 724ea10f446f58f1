//! Helpers shared by the routes integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared data directory: `$OSCAR_SHARED_DIR`, else `CARGO_MANIFEST_DIR/../shared`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("OSCAR_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// The OSM extracts under `shared/data/osm`, or `None` after a loud message when the
/// directory is absent. With `CI=true` an absent directory fails the test.
pub fn osm_extracts() -> Option<Vec<PathBuf>> {
    let dir = shared_dir().join("data/osm");
    let list = std::fs::read_dir(&dir).ok().map(|rd| {
        let mut v: Vec<PathBuf> =
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.to_string_lossy().ends_with(".osm.pbf")).collect();
        v.sort();
        v
    });
    match list {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            let msg = format!(
                "\n\n!!!!!!!! SKIPPED: no OSM extracts in {} (set OSCAR_SHARED_DIR) !!!!!!!!\n\n",
                dir.display()
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("{msg}");
            None
        }
    }
}

/// One extract by file name.
pub fn extract(name: &str) -> Option<PathBuf> {
    osm_extracts()?.into_iter().find(|p| p.file_name().is_some_and(|n| n == name))
}

/// A real extract from `../shared`, imported into a scratch directory; `None` where absent
/// (said loudly, fatal on CI, by [`osm_extracts`]).
pub fn network(pbf: &str) -> Option<oscar::routes::RouteNetwork> {
    // Tests of one binary run in parallel: each import gets its own directory.
    static IMPORTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = IMPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = temp_dir(&format!("net-{pbf}-{n}"));
    oscar::routes::import_osm(&extract(pbf)?, &dir).expect("import");
    Some(oscar::routes::RouteNetwork::load(&dir).expect("load"))
}

/// A fresh scratch directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oscar-routes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The shipped Helsinki network.
pub fn helsinki_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("routes-data/helsinki")
}

/// Deterministic pseudo-random numbers, the crate's one seeded generator, so that perturbed
/// routes are fixed.
pub use oscar::rng::SplitMix64 as Rng;

/// The evaluation's helpers: metres between points and redrawing a line as
/// another map would (not every test uses both).
#[allow(unused_imports)]
pub use oscar::tooling::route_eval::{metres, perturb};

use oscar::routes::{RouteNetwork, WayView};
use std::collections::HashMap;

/// A route built by walking the network: its polyline and the (way id, metres) travelled.
pub struct Walk {
    pub line: Vec<[f64; 2]>,
    pub ways: Vec<(i64, f64)>,
}

/// Node graph of a network for building test routes: node id -> (way index, position in
/// way) for every occurrence.
pub struct Graph {
    pub ways: Vec<WayView>,
    pub at: HashMap<i64, Vec<(usize, usize)>>,
}

impl Graph {
    pub fn new(net: &RouteNetwork) -> Graph {
        let ways: Vec<WayView> = net.ways().collect();
        let mut at: HashMap<i64, Vec<(usize, usize)>> = HashMap::new();
        for (wi, w) in ways.iter().enumerate() {
            for (k, n) in w.node_ids.iter().enumerate() {
                at.entry(*n).or_default().push((wi, k));
            }
        }
        Graph { ways, at }
    }

    /// A self-avoiding random walk of about `target_m` metres over ways accepted by
    /// `ok`, respecting one-way streets; switches way only at shared nodes.
    pub fn walk(&self, rng: &mut Rng, target_m: f64, ok: &dyn Fn(&WayView) -> bool) -> Option<Walk> {
        let starts: Vec<usize> = (0..self.ways.len()).filter(|&i| ok(&self.ways[i])).collect();
        if starts.is_empty() {
            return None;
        }
        let wi = starts[(rng.next_u64() % starts.len() as u64) as usize];
        let w = &self.ways[wi];
        let forward = match w.oneway {
            1 => true,
            -1 => false,
            _ => rng.unit() < 0.5,
        };
        let mut pos = if forward { 0 } else { w.node_ids.len() - 1 };
        let (mut wi, mut forward) = (wi, forward);
        let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
        let mut line = vec![self.ways[wi].coords[pos]];
        let mut used: Vec<(i64, f64)> = Vec::new();
        let mut total = 0.0;
        seen.insert(self.ways[wi].node_ids[pos]);
        while total < target_m {
            let w = &self.ways[wi];
            let next = if forward { pos + 1 } else { pos.wrapping_sub(1) };
            if next >= w.node_ids.len() || seen.contains(&w.node_ids[next]) {
                break;
            }
            let len = metres(w.coords[pos], w.coords[next]);
            total += len;
            match used.last_mut() {
                Some((id, m)) if *id == w.way_id => *m += len,
                _ => used.push((w.way_id, len)),
            }
            pos = next;
            line.push(w.coords[pos]);
            seen.insert(w.node_ids[pos]);
            // At a junction, maybe turn onto another way (never back).
            let node = w.node_ids[pos];
            let at_end = (forward && pos + 1 == w.node_ids.len()) || (!forward && pos == 0);
            let options: Vec<(usize, usize, bool)> = self.at[&node]
                .iter()
                .filter(|(ow, _)| *ow != wi && ok(&self.ways[*ow]))
                .flat_map(|&(ow, k)| {
                    let o = &self.ways[ow];
                    let mut v = Vec::new();
                    if o.oneway >= 0 && k + 1 < o.node_ids.len() {
                        v.push((ow, k, true));
                    }
                    if o.oneway <= 0 && k > 0 {
                        v.push((ow, k, false));
                    }
                    v
                })
                .filter(|&(ow, k, f)| {
                    let o = &self.ways[ow];
                    let n = if f { k + 1 } else { k - 1 };
                    !seen.contains(&o.node_ids[n])
                })
                .collect();
            if !options.is_empty() && (at_end || rng.unit() < 0.3) {
                let (ow, k, f) = options[(rng.next_u64() % options.len() as u64) as usize];
                wi = ow;
                pos = k;
                forward = f;
            } else if at_end {
                break;
            }
        }
        (line.len() >= 2).then_some(Walk { line, ways: used })
    }
}
