//! A seeded generator of realistic *normal* applications, with the registry records the
//! features read, for training and calibrating the anomaly model.
//!
//! Every range is documented in `models/README.md` with where it comes from. The generator
//! only uses its own [`SplitMix64`] stream, so the same seed gives the same applications on
//! every run and every build profile.
//!
//! Routes come either from a synthetic drawing ([`normal_samples`]: long routes in
//! Shandong, off any network the service holds) or from real roads ([`road_samples`] over
//! [`Roads`]: places picked on a network, the shortest path between them or through a third
//! place, redrawn as another map would and matched as the service matches it).

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime};

use crate::anomaly::cargo_kinds::{CARGO_KINDS, CargoKind};
use crate::anomaly::features::{RouteFacts, path_km, route_facts};
use crate::application::{
    Agent, Application, Axle, Cargo, Carrier, Escort, LineString, Loaded, Person, Route, Schedule, Unit, UnitRole,
    Vehicle,
};
use crate::registry::{Certificate, Lookup, References, TrailerType, VehicleKind, VehicleRecord, VehicleStatus};
pub use crate::rng::SplitMix64;
use crate::routes::RouteNetwork;

/// One generated case: the application and the registry records it refers to.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The application as a platform would send it.
    pub app: Application,
    /// The registry records (vehicles; company and people records are left `Missing`
    /// because no feature reads them).
    pub refs: References,
    /// What the road network says about the route, as the service would find it; `None`
    /// where the route is not on the network.
    pub route: Option<RouteFacts>,
}

impl Sample {
    /// The sample's features.
    pub fn features(&self) -> crate::anomaly::features::Features {
        crate::anomaly::features::features(&self.app, &self.refs, self.route.as_ref())
    }
}

/// Places closer than this make no route, metres.
const MIN_TRIP_M: f64 = 300.0;
/// Share of road routes that pass through a third place instead of the shortest path.
const VIA_SHARE: f64 = 0.4;
/// A third place is taken only if the trip through it is at most this many times the
/// shortest path: a detour a carrier would choose (around a low bridge, a weak one, a
/// one-way system), not a tour of the city.
const VIA_MAX_DETOUR: f64 = 1.4;
/// Third places tried before a route takes the shortest path.
const VIA_TRIES: usize = 10;

/// A road network to draw routes on.
pub struct Roads<'a> {
    net: &'a RouteNetwork,
    /// Every vertex of every drivable way, `[lon, lat]`: where trips start and end.
    places: Vec<[f64; 2]>,
}

impl<'a> Roads<'a> {
    /// Routes on `net`.
    pub fn new(net: &'a RouteNetwork) -> Roads<'a> {
        Roads { net, places: net.ways().flat_map(|w| w.coords).collect() }
    }

    fn place(&self, rng: &mut SplitMix64) -> Option<[f64; 2]> {
        self.places.get(rng.below(self.places.len() as u64) as usize).copied()
    }

    /// A route between two random places: the shortest path, or (two in five) one through
    /// a third place near the way; redrawn as another map would, then matched. `None`
    /// when the places are too close or not connected.
    fn draw(&self, rng: &mut SplitMix64) -> Option<(Route, f64, Option<RouteFacts>)> {
        let (from, to) = (self.place(rng)?, self.place(rng)?);
        let direct = crate::routes::distance_m(from, to);
        if direct < MIN_TRIP_M {
            return None;
        }
        let shortest = self.net.shortest_path(from, to)?;
        let mut line = shortest.line;
        if rng.chance(VIA_SHARE) {
            for _ in 0..VIA_TRIES {
                let Some(via) = self.place(rng) else { break };
                let legs = self.net.shortest_path(from, via).zip(self.net.shortest_path(via, to));
                if let Some((a, b)) =
                    legs.filter(|(a, b)| a.length_m + b.length_m <= VIA_MAX_DETOUR * shortest.length_m)
                {
                    line = a.line;
                    line.extend(b.line.into_iter().skip(1));
                    break;
                }
            }
        }
        let drawn = crate::tooling::route_eval::redraw(&line, rng);
        let facts = route_facts(self.net, &self.net.match_route(&drawn));
        let km = path_km(&drawn);
        Some((route_of("road", drawn, true), km, facts))
    }
}

/// Which combination carries the cargo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rig {
    /// Tractor + ordinary (flatbed, low-bed or extendable) semi-trailer.
    Semi,
    /// Heavy tractor + hydraulic modular trailer.
    Modular,
    /// Rigid truck.
    Rigid,
}

/// One unit as built by the generator, before it becomes form and registry data.
struct BuiltUnit {
    role: UnitRole,
    plate: &'static str,
    axles: u32,
    curb_kg: f64,
    length_m: f64,
    width_m: f64,
    height_m: f64,
    trailer_type: Option<TrailerType>,
}

/// Generates `n` normal samples with synthetic routes from `seed`.
pub fn normal_samples(seed: u64, n: usize) -> Vec<Sample> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|i| normal_sample(&mut rng, i, None)).collect()
}

/// Generates `n` normal samples with routes on real roads from `seed`.
pub fn road_samples(seed: u64, n: usize, roads: &Roads) -> Vec<Sample> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|i| normal_sample(&mut rng, i, Some(roads))).collect()
}

/// One normal sample, its route on `roads` or (without) synthetic; `index` only names it.
pub fn normal_sample(rng: &mut SplitMix64, index: usize, roads: Option<&Roads>) -> Sample {
    // Rejection sampling: a draw whose cargo no combination can legally carry (or whose
    // places make no route) is drawn again. INVARIANT: the SPEC-like fallback below is
    // only reached after 1000 misses, which the ranges above make practically impossible.
    for _ in 0..1000 {
        if let Some(s) = try_sample(rng, index, roads) {
            return s;
        }
    }
    fallback(index)
}

fn cargo_dims(rng: &mut SplitMix64, kind: &CargoKind) -> (f64, f64, f64, f64) {
    let length = rng.log_uniform(kind.length_m.0, kind.length_m.1);
    let width = rng.log_uniform(kind.width_m.0, kind.width_m.1);
    let height = if kind.round { width } else { rng.log_uniform(kind.height_m.0, kind.height_m.1) };
    let density = rng.log_uniform(kind.density_kg_m3.0, kind.density_kg_m3.1);
    (length, width, height, density * length * width * height)
}

fn round_to(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

fn try_sample(rng: &mut SplitMix64, index: usize, roads: Option<&Roads>) -> Option<Sample> {
    let shares: Vec<f64> = CARGO_KINDS.iter().map(|k| k.share).collect();
    let kind = &CARGO_KINDS[rng.weighted(&shares)];
    let (c_len, c_wid, c_hei, c_mass) = cargo_dims(rng, kind);
    if !(kind.mass_kg.0..=kind.mass_kg.1).contains(&c_mass) {
        return None;
    }
    let c_len = round_to(c_len, 0.1);
    let c_wid = round_to(c_wid, 0.05);
    let c_hei = round_to(c_hei, 0.05);
    let c_mass = round_to(c_mass, 100.0);

    let rig = if c_mass <= 18_000.0 && c_len <= 9.0 && rng.chance(0.35) {
        Rig::Rigid
    } else if c_mass <= 60_000.0 && rng.chance(0.85) {
        Rig::Semi
    } else {
        Rig::Modular
    };
    let (units, loads, spacings, tyres, deck) = match rig {
        Rig::Semi => semi(rng, c_len, c_mass)?,
        Rig::Modular => modular(rng, c_len, c_mass)?,
        Rig::Rigid => rigid(rng, c_len, c_mass)?,
    };
    let curb: f64 = units.iter().map(|u| u.curb_kg).sum();
    let gross_true = curb + c_mass;

    // Weighing practice: the axle loads and the gross mass come from separate weighings
    // (about ±1 %), and axle loads are declared to 10 kg.
    let axle_scale = 1.0 + rng.uniform(-0.008, 0.008);
    let axle_loads: Vec<f64> = loads.iter().map(|l| round_to(l * axle_scale, 10.0)).collect();
    let gross = round_to(gross_true * (1.0 + rng.uniform(-0.008, 0.008)), 10.0);

    let last = units.last()?;
    let vehicle_width = units.iter().map(|u| u.width_m).fold(0.0, f64::max);
    let loaded_width = round_to(c_wid.max(vehicle_width), 0.01);
    let tallest_unit = units.iter().map(|u| u.height_m).fold(0.0, f64::max);
    let loaded_height = round_to((deck + c_hei).max(tallest_unit), 0.01);
    let overhang = (c_len - last.length_m).max(0.0);
    let loaded_length = round_to(
        match rig {
            Rig::Rigid => last.length_m + overhang,
            _ => units[0].length_m + last.length_m + rng.uniform(-1.0, 2.5) + overhang,
        },
        0.1,
    );

    let (route, route_km, facts) = match roads {
        Some(r) => r.draw(rng)?,
        None => {
            let (route, km) = route(rng);
            (route, km, None)
        }
    };
    let trips = if rng.chance(0.8) { 1 } else { rng.int(2, 4) };
    let submitted = NaiveDate::from_ymd_opt(2026, 1, 5)? + Duration::days(i64::from(rng.int(0, 330)));
    let start = submitted + Duration::days(i64::from(rng.int(1, 15)));
    // Oversize loads cover 120-350 km a day (night-time moves at 30-50 km/h).
    let needed = (route_km * f64::from(trips) / rng.uniform(120.0, 350.0)).ceil().max(1.0) as i64;
    let window = needed + i64::from(rng.int(0, 5));
    let end = start + Duration::days(window - 1);

    let escort = escort(rng, loaded_height, loaded_width, loaded_length, gross);
    let declare = rng.chance(0.5);
    let app = Application {
        application_id: format!("GEN-{index:06}"),
        jurisdiction: "CN".into(),
        submitted_at: at_nine(submitted)?,
        carrier: Carrier {
            name: "济宁通达大件运输有限公司".into(),
            uscc: "91370800MA3C5Q8K44".into(),
            transport_license_no: "370800001234".into(),
        },
        agent: Agent {
            name: "王强".into(),
            id_number: "37080219900101123X".into(),
            authorization_ref: "AUTH-77".into(),
        },
        drivers: vec![Person { name: "李明".into(), id_number: "37081119850505231X".into() }],
        escort,
        vehicle: Vehicle {
            units: units
                .iter()
                .map(|u| Unit {
                    plate: Some(u.plate.into()),
                    role: u.role,
                    vin: None,
                    axles: declare.then_some(u.axles),
                    curb_mass_kg: declare.then_some(u.curb_kg),
                })
                .collect(),
            axles: axle_loads
                .iter()
                .zip(&spacings)
                .zip(&tyres)
                .map(|((l, s), t)| Axle { load_kg: *l, spacing_to_next_m: *s, tyres: *t, drive: None })
                .collect(),
        },
        cargo: Cargo {
            description: kind.description.into(),
            category: kind.name.into(),
            indivisible: true,
            mass_kg: c_mass,
            length_m: c_len,
            width_m: c_wid,
            height_m: c_hei,
        },
        loaded: Loaded {
            length_m: loaded_length,
            width_m: loaded_width,
            height_m: loaded_height,
            gross_mass_kg: gross,
        },
        route,
        schedule: Schedule { start, end, trips },
    };
    let refs = References {
        carrier: Lookup::Missing,
        authorization: Lookup::Missing,
        drivers: vec![Lookup::Missing],
        units: units.iter().map(|u| Lookup::Found(record(u))).collect(),
        escort_vehicles: Vec::new(),
        escort_people: Vec::new(),
    };
    Some(Sample { app, refs, route: facts })
}

fn at_nine(day: NaiveDate) -> Option<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(8 * 3600)?;
    day.and_time(NaiveTime::from_hms_opt(9, 30, 0)?).and_local_timezone(offset).single()
}

fn record(u: &BuiltUnit) -> VehicleRecord {
    VehicleRecord {
        plate: u.plate.into(),
        vin: "LZZ5BLSJ000000000".into(),
        kind: match u.role {
            UnitRole::Tractor => VehicleKind::Tractor,
            UnitRole::Trailer => VehicleKind::Trailer,
            UnitRole::Truck => VehicleKind::Truck,
        },
        owner_uscc: "91370800MA3C5Q8K44".into(),
        status: VehicleStatus::Registered,
        trailer_type: u.trailer_type,
        axles: u.axles,
        curb_mass_kg: u.curb_kg,
        length_m: u.length_m,
        width_m: u.width_m,
        height_m: u.height_m,
        inspection_expires: None,
        transport_certificate: Some(Certificate { number: "TC".into(), expires: None }),
    }
}

/// Units, axle loads (kg, summing to the true gross), spacings, tyres and deck height.
type Built = (Vec<BuiltUnit>, Vec<f64>, Vec<Option<f64>>, Vec<u32>, f64);

fn tractor(rng: &mut SplitMix64, heavy: bool) -> BuiltUnit {
    BuiltUnit {
        role: UnitRole::Tractor,
        plate: "鲁H12345",
        axles: if heavy { 4 } else { 3 },
        curb_kg: round_to(if heavy { rng.uniform(12_000.0, 15_500.0) } else { rng.uniform(8_500.0, 10_500.0) }, 100.0),
        length_m: round_to(if heavy { rng.uniform(7.5, 8.5) } else { rng.uniform(6.5, 7.2) }, 0.1),
        width_m: 2.5,
        height_m: round_to(rng.uniform(3.3, 3.8), 0.1),
        trailer_type: None,
    }
}

/// Tractor axle spacings: 6x4 (steer, tandem drive) or 8x4 (two steer, tandem drive).
fn tractor_spacings(rng: &mut SplitMix64, heavy: bool) -> Vec<Option<f64>> {
    let mut s = Vec::new();
    if heavy {
        s.push(Some(round_to(rng.uniform(1.8, 2.0), 0.01)));
    }
    s.push(Some(round_to(rng.uniform(3.2, 3.8), 0.01)));
    s.push(Some(round_to(rng.uniform(1.3, 1.4), 0.01)));
    s
}

/// Spreads `gross` over steer, drive and trailer axles; `None` when the trailer axles
/// would fall outside `[min_r, max_r]` kg.
fn spread(
    rng: &mut SplitMix64,
    gross: f64,
    steer: usize,
    drive: usize,
    trailer: usize,
    (min_r, max_r): (f64, f64),
    evenness: f64,
) -> Option<Vec<f64>> {
    let s = rng.uniform(5_800.0, 7_500.0);
    let steer_total = s * steer as f64;
    let d = (rng.uniform(0.95, 1.2) * (gross - steer_total) / (drive + trailer) as f64).clamp(7_000.0, 12_000.0);
    let r = (gross - steer_total - d * drive as f64) / trailer as f64;
    if !(min_r..=max_r).contains(&r) {
        return None;
    }
    let mut loads: Vec<f64> = Vec::new();
    loads.extend(std::iter::repeat_n(s, steer));
    loads.extend(std::iter::repeat_n(d, drive));
    // Suspension equalises the trailer axles, up to a few per cent.
    loads.extend((0..trailer).map(|_| r * (1.0 + rng.uniform(-evenness, evenness))));
    let sum: f64 = loads.iter().sum();
    Some(loads.into_iter().map(|l| l * gross / sum).collect())
}

fn semi(rng: &mut SplitMix64, c_len: f64, c_mass: f64) -> Option<Built> {
    let heavy = rng.chance(0.3);
    let t = tractor(rng, heavy);
    let n_t = t.axles as usize;
    // Fewest trailer axles (2-6) that keep the average axle load under 9.6 t.
    let mut chosen = None;
    for n_r in 2..=6usize {
        let curb_r = round_to((5_000.0 + 3_000.0 * n_r as f64) * rng.uniform(0.85, 1.15), 100.0);
        if (t.curb_kg + curb_r + c_mass) / (n_t + n_r) as f64 <= 9_600.0 {
            chosen = Some((n_r, curb_r));
            break;
        }
    }
    let (mut n_r, mut curb_r) = chosen?;
    if n_r < 6 && rng.chance(0.25) {
        n_r += 1;
        curb_r += 3_000.0;
    }
    let gross = t.curb_kg + curb_r + c_mass;
    let loads = spread(rng, gross, if heavy { 2 } else { 1 }, 2, n_r, (4_000.0, 11_500.0), 0.03)?;
    // Long cargo rides an extendable trailer set to its length; short cargo a 11-14 m deck.
    let length = if c_len > 12.0 { c_len - rng.uniform(-1.0, 2.5) } else { rng.uniform(11.0, 14.0) };
    let low_bed = c_len < 16.0 && rng.chance(0.5);
    let deck = if low_bed { rng.uniform(0.4, 0.9) } else { rng.uniform(1.0, 1.4) };
    let trailer = BuiltUnit {
        role: UnitRole::Trailer,
        plate: "鲁H6789挂",
        axles: n_r as u32,
        curb_kg: curb_r,
        length_m: round_to(length, 0.1),
        width_m: if rng.chance(0.5) { 2.55 } else { 3.0 },
        height_m: round_to((deck - rng.uniform(0.0, 0.25)).max(0.3), 0.05),
        trailer_type: Some(TrailerType::Ordinary),
    };
    let mut spacings = tractor_spacings(rng, heavy);
    // Kingpin to the first trailer axle; the form (and practice) caps a spacing at 40 m.
    spacings.push(Some(round_to((trailer.length_m * rng.uniform(0.4, 0.6)).min(rng.uniform(30.0, 38.0)), 0.01)));
    let gap = rng.uniform(1.31, 1.85);
    spacings.extend((1..n_r).map(|_| Some(round_to(gap, 0.01))));
    spacings.push(None);
    let mut tyres = vec![2; if heavy { 2 } else { 1 }];
    tyres.extend(std::iter::repeat_n(4, 2 + n_r));
    Some((vec![t, trailer], loads, spacings, tyres, deck))
}

fn modular(rng: &mut SplitMix64, c_len: f64, c_mass: f64) -> Option<Built> {
    let t = tractor(rng, true);
    let per_line = rng.uniform(3_400.0, 4_200.0);
    let neck = rng.uniform(4_000.0, 7_000.0);
    // Enough lines for the mass (at most 17 t a line) and for the length (1.55 m a line).
    let by_length = ((c_len - 3.5) / 1.55).ceil().max(4.0) as usize;
    let mut n_l = by_length;
    while n_l <= 20 {
        let gross = t.curb_kg + neck + per_line * n_l as f64 + c_mass;
        if (gross - 2.0 * 7_000.0 - 2.0 * 11_000.0) / n_l as f64 <= 17_000.0 {
            break;
        }
        n_l += 1;
    }
    if n_l < 20 && rng.chance(0.3) {
        n_l += 1;
    }
    if n_l > 20 {
        return None;
    }
    let curb_r = round_to(neck + per_line * n_l as f64, 100.0);
    let gross = t.curb_kg + curb_r + c_mass;
    let loads = spread(rng, gross, 2, 2, n_l, (5_000.0, 17_800.0), 0.015)?;
    let deck = rng.uniform(1.0, 1.5);
    let trailer = BuiltUnit {
        role: UnitRole::Trailer,
        plate: "鲁H6790挂",
        axles: n_l as u32,
        curb_kg: curb_r,
        length_m: round_to(n_l as f64 * 1.55 + 1.0, 0.1),
        width_m: 3.0,
        height_m: round_to(deck - rng.uniform(0.0, 0.2), 0.05),
        trailer_type: Some(TrailerType::HydraulicModular),
    };
    let mut spacings = tractor_spacings(rng, true);
    spacings.push(Some(round_to(rng.uniform(5.0, 8.0), 0.01)));
    spacings.extend((1..n_l).map(|_| Some(1.55)));
    spacings.push(None);
    let mut tyres = vec![2, 2, 4, 4];
    tyres.extend(std::iter::repeat_n(8, n_l));
    Some((vec![t, trailer], loads, spacings, tyres, deck))
}

fn rigid(rng: &mut SplitMix64, c_len: f64, c_mass: f64) -> Option<Built> {
    let four = rng.chance(0.5);
    let truck = BuiltUnit {
        role: UnitRole::Truck,
        plate: "鲁H12347",
        axles: if four { 4 } else { 3 },
        curb_kg: round_to(if four { rng.uniform(13_000.0, 15_500.0) } else { rng.uniform(11_000.0, 13_000.0) }, 100.0),
        length_m: round_to((c_len + rng.uniform(2.0, 3.5)).max(rng.uniform(9.0, 12.0)), 0.1),
        width_m: 2.55,
        height_m: round_to(rng.uniform(3.0, 3.6), 0.1),
        trailer_type: None,
    };
    let gross = truck.curb_kg + c_mass;
    let (steer, rear) = if four { (2, 2) } else { (1, 2) };
    let s = rng.uniform(6_000.0, 7_500.0);
    let r = (gross - s * steer as f64) / rear as f64;
    if !(4_000.0..=12_000.0).contains(&r) {
        return None;
    }
    let mut loads = vec![s; steer];
    loads.extend((0..rear).map(|_| r * (1.0 + rng.uniform(-0.02, 0.02))));
    let sum: f64 = loads.iter().sum();
    let loads: Vec<f64> = loads.into_iter().map(|l| l * gross / sum).collect();
    let mut spacings = Vec::new();
    if four {
        spacings.push(Some(round_to(rng.uniform(1.8, 2.0), 0.01)));
    }
    spacings.push(Some(round_to(rng.uniform(3.8, 5.0), 0.01)));
    spacings.push(Some(round_to(rng.uniform(1.3, 1.4), 0.01)));
    spacings.push(None);
    let mut tyres = vec![2; steer];
    tyres.extend([4, 4]);
    Some((vec![truck], loads, spacings, tyres, rng.uniform(1.2, 1.5)))
}

/// Escort vehicles and people: at least the CN default requirement (class 3 one car and two
/// people, wider than 3.75 m two cars), sometimes one car more.
fn escort(rng: &mut SplitMix64, h: f64, w: f64, l: f64, gross: f64) -> Option<Escort> {
    let (req_v, req_p) = crate::anomaly::features::escort_requirement(h, w, l, gross);
    let vehicles = req_v + u32::from(rng.chance(0.35));
    if vehicles == 0 {
        return None;
    }
    let people = req_p.max(vehicles * rng.int(1, 2));
    Some(Escort {
        vehicle_plates: (0..vehicles).map(|i| if i % 2 == 0 { "鲁H2345A" } else { "鲁H2346A" }.into()).collect(),
        personnel_id_numbers: (0..people).map(|_| "370811199003032313".into()).collect(),
    })
}

/// A route in Shandong: a chord of 2-900 km (log-uniform) drawn as a wavy polyline with
/// vertices at most about 3 km apart (2 vertices for some short routes, like the SPEC's).
/// Returns the route and its length in km.
fn route(rng: &mut SplitMix64) -> (Route, f64) {
    let lon0 = rng.uniform(114.5, 122.0);
    let lat0 = rng.uniform(34.5, 37.8);
    let chord_km = rng.log_uniform(2.0, 900.0);
    let bearing = rng.uniform(0.0, std::f64::consts::TAU);
    let straight = chord_km < 8.0 && rng.chance(0.5);
    let n = if straight { 2 } else { ((chord_km / 3.0).ceil() as usize + 1).clamp(3, 300) };
    let wiggle = if straight { 0.0 } else { chord_km * rng.uniform(0.0, 0.2) };
    let waves = f64::from(rng.int(1, 3));
    let km_per_deg_lat = 111.2;
    let km_per_deg_lon = 111.2 * lat0.to_radians().cos();
    let (ux, uy) = (bearing.cos(), bearing.sin());
    let coords: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            let along = chord_km * t;
            let side = wiggle * (std::f64::consts::PI * waves * t).sin();
            let (x, y) = (along * ux - side * uy, along * uy + side * ux);
            [round_to(lon0 + x / km_per_deg_lon, 0.00001), round_to(lat0 + y / km_per_deg_lat, 0.00001)]
        })
        .collect();
    let km = path_km(&coords);
    (route_of("generated", coords, false), km)
}

/// A generated route within one province, its ends named after where it came from.
fn route_of(source: &str, coordinates: Vec<[f64; 2]>, urban_roads: bool) -> Route {
    Route {
        origin: format!("{source} origin"),
        destination: format!("{source} destination"),
        geometry: LineString { kind: "LineString".into(), coordinates },
        urban_roads,
        cross_province: false,
    }
}

/// The SPEC example's combination, used only if rejection sampling keeps failing.
fn fallback(index: usize) -> Sample {
    let mut rng = SplitMix64::new(index as u64);
    let units = [
        BuiltUnit {
            role: UnitRole::Tractor,
            plate: "鲁H12345",
            axles: 3,
            curb_kg: 9_500.0,
            length_m: 6.9,
            width_m: 2.5,
            height_m: 3.6,
            trailer_type: None,
        },
        BuiltUnit {
            role: UnitRole::Trailer,
            plate: "鲁H6789挂",
            axles: 3,
            curb_kg: 16_000.0,
            length_m: 13.0,
            width_m: 3.0,
            height_m: 1.0,
            trailer_type: Some(TrailerType::Ordinary),
        },
    ];
    let (route, _) = route(&mut rng);
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or(NaiveDate::MIN);
    let app = Application {
        application_id: format!("GEN-{index:06}"),
        jurisdiction: "CN".into(),
        submitted_at: at_nine(day - Duration::days(11)).unwrap_or_default(),
        carrier: Carrier { name: "x".into(), uscc: "91370800MA3C5Q8K44".into(), transport_license_no: "x".into() },
        agent: Agent { name: "x".into(), id_number: "37080219900101123X".into(), authorization_ref: "AUTH-77".into() },
        drivers: vec![Person { name: "x".into(), id_number: "37081119850505231X".into() }],
        escort: None,
        vehicle: Vehicle {
            units: units
                .iter()
                .map(|u| Unit { plate: Some(u.plate.into()), role: u.role, vin: None, axles: None, curb_mass_kg: None })
                .collect(),
            axles: [6500.0, 10000.0, 10000.0, 9000.0, 9000.0, 9000.0]
                .iter()
                .zip([Some(3.4), Some(1.35), Some(6.2), Some(1.31), Some(1.31), None])
                .zip([2, 4, 4, 4, 4, 4])
                .map(|((l, s), t)| Axle { load_kg: *l, spacing_to_next_m: s, tyres: t, drive: None })
                .collect(),
        },
        cargo: Cargo {
            description: "power transformer".into(),
            category: "transformer".into(),
            indivisible: true,
            mass_kg: 28_000.0,
            length_m: 9.5,
            width_m: 3.2,
            height_m: 3.1,
        },
        loaded: Loaded { length_m: 22.0, width_m: 3.2, height_m: 4.3, gross_mass_kg: 53_500.0 },
        route,
        schedule: Schedule { start: day, end: day + Duration::days(4), trips: 1 },
    };
    let refs = References {
        carrier: Lookup::Missing,
        authorization: Lookup::Missing,
        drivers: vec![Lookup::Missing],
        units: units.iter().map(|u| Lookup::Found(record(u))).collect(),
        escort_vehicles: Vec::new(),
        escort_people: Vec::new(),
    };
    Sample { app, refs, route: None }
}
