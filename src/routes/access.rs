//! Access for a heavy goods vehicle as OpenStreetMap defines it.
//!
//! OSM's access keys form a hierarchy from the general to the specific: `access` (everyone)
//! → `vehicle` → `motor_vehicle` → `goods` / `hgv`. The most specific key present decides;
//! `KEY:forward` / `KEY:backward` refine a key for one direction of travel along the way.
//! `KEY:conditional` values apply only at some times or to some vehicles, which oscar does
//! not prove, so they leave the decision to a person.
//!
//! `goods` covers light goods vehicles. An oversize load is a heavy goods vehicle, so
//! `hgv` decides before `goods`, and a `goods` value only counts where it restricts:
//! `goods=yes` under `motor_vehicle=no` grants nothing to a heavy vehicle.

use crate::routes::import::tag;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The access keys that apply to a heavy goods vehicle, most specific first.
pub const HIERARCHY: [&str; 5] = ["hgv", "goods", "motor_vehicle", "vehicle", "access"];

/// `highway=*` values that no goods vehicle may use whatever the access tags say: roads
/// for buses only. They are kept in the network so that a route drawn along one is
/// matched onto it (and fails) instead of being snapped to a road beside it.
pub const BUS_ONLY_HIGHWAYS: [&str; 2] = ["busway", "bus_guideway"];

/// What an access value means for a heavy goods vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessClass {
    /// The vehicle may pass (`yes`, `designated`, `permissive`, `official`).
    Granted,
    /// The vehicle may not pass (`no`, `psv`, `bus`, `agricultural`, a blocking barrier, ...).
    Barred,
    /// The vehicle may pass only for some trips or at some times (`destination`,
    /// `delivery`, `private`, `customers`, `permit`, a `:conditional` value): a person
    /// decides.
    Person,
    /// A value oscar cannot read: a person decides.
    Unreadable,
}

impl AccessClass {
    /// Whether the value lets the vehicle through without a person's judgement.
    pub fn grants(self) -> bool {
        self == AccessClass::Granted
    }
}

/// Classifies one access value (`hgv=*`, `access=*`, ...). Lists (`no;destination`) are
/// unreadable: which part applies when is not for oscar to guess.
pub fn classify(raw: &str) -> AccessClass {
    match raw.trim() {
        "yes" | "designated" | "permissive" | "official" => AccessClass::Granted,
        "no"
        | "psv"
        | "bus"
        | "agricultural"
        | "forestry"
        | "emergency"
        | "agricultural;forestry"
        | "use_sidepath"
        | "dismount"
        | "military"
        | "disabled"
        | "taxi" => AccessClass::Barred,
        "destination" | "delivery" | "private" | "customers" | "permit" | "discouraged" | "residents" | "unknown" => {
            AccessClass::Person
        }
        _ => AccessClass::Unreadable,
    }
}

/// Classifies what a reported access restriction means: `tag` is the key it came from
/// (`hgv`, `vehicle:forward`, `hgv:conditional`, `barrier`, `highway`, or a GeoJSON
/// property), `raw` its value.
pub fn classify_tag(tag: &str, raw: &str) -> AccessClass {
    if tag.ends_with(":conditional") {
        AccessClass::Person
    } else if tag == "barrier" || tag == "highway" {
        AccessClass::Barred
    } else {
        classify(raw)
    }
}

/// A direction of travel along a way's node order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Along the node order.
    Forward,
    /// Against the node order.
    Backward,
}

impl Direction {
    fn suffix(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// The tag that decides access for a heavy goods vehicle in one direction, when it does
/// not simply grant it: the key as written (`vehicle:backward`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    /// The deciding key, e.g. `hgv`, `vehicle:forward`, `hgv:conditional`, `highway`.
    pub key: String,
    /// Its value as written; for a condition that lifts a ban, the ban is named too.
    pub raw: String,
    /// What it means for the vehicle.
    pub class: AccessClass,
}

/// The value of `mode` for travel in `dir` (`None`: either direction, as on a node,
/// where the restrictive one of the two directional values counts): the directional key
/// first, then the plain one.
fn mode_value<'a>(
    tags: &[(&'a str, &'a str)],
    mode: &str,
    dir: Option<Direction>,
    suffix: &str,
) -> Option<(String, &'a str)> {
    let plain = if suffix.is_empty() { mode.to_string() } else { format!("{mode}:{suffix}") };
    let directional = |d: Direction| {
        let key = if suffix.is_empty() { format!("{mode}:{d}") } else { format!("{mode}:{d}:{suffix}") };
        tag(tags, &key).map(|v| (key, v))
    };
    let found = match dir {
        Some(d) => directional(d),
        None => [Direction::Forward, Direction::Backward]
            .into_iter()
            .filter_map(directional)
            .find(|(_, v)| !classify(v).grants()),
    };
    found.or_else(|| tag(tags, &plain).map(|v| (plain, v)))
}

/// Access for a heavy goods vehicle from an element's tags, travelling in `dir` (`None`
/// on a node). `None` when the vehicle may pass without condition (granted explicitly or
/// by default); otherwise the tag that restricts it.
pub fn hgv_access(tags: &[(&str, &str)], dir: Option<Direction>) -> Option<AccessDecision> {
    // The most specific key present decides; `goods` only where it restricts.
    let mut level = HIERARCHY.len();
    let mut base: Option<AccessDecision> = None;
    for (i, mode) in HIERARCHY.iter().enumerate() {
        let Some((key, raw)) = mode_value(tags, mode, dir, "") else { continue };
        let class = classify(raw);
        if *mode == "goods" && class.grants() {
            continue;
        }
        level = i;
        base = Some(AccessDecision { key, raw: raw.to_string(), class });
        break;
    }
    if base.is_none()
        && let Some(h) = tag(tags, "highway").filter(|h| BUS_ONLY_HIGHWAYS.contains(h))
    {
        base = Some(AccessDecision { key: "highway".to_string(), raw: h.to_string(), class: AccessClass::Barred });
    }
    // A condition on the deciding key or a more specific one changes the answer at some
    // times or for some vehicles: a person decides, unless the vehicle is barred anyway
    // (a condition that restricts further) or passes anyway (one that grants further).
    let base_grants = base.as_ref().is_none_or(|b| b.class.grants());
    let condition = HIERARCHY[..=level.min(HIERARCHY.len() - 1)]
        .iter()
        .filter_map(|mode| mode_value(tags, mode, dir, "conditional"))
        .find(|(_, raw)| {
            let grants = raw.split('@').next().is_some_and(|v| classify(v).grants());
            grants != base_grants
        });
    if let Some((key, raw)) = condition {
        let raw = match &base {
            Some(b) if !base_grants => format!("{raw} (otherwise {}={})", b.key, b.raw),
            _ => raw.to_string(),
        };
        return Some(AccessDecision { key, raw, class: AccessClass::Person });
    }
    base.filter(|b| !b.class.grants())
}

/// Whether a barrier on a node with these tags lets a heavy goods vehicle through: the
/// most specific plain access key present admits it (`goods` is for light goods vehicles
/// and cannot open it).
pub fn opens_barrier(tags: &[(&str, &str)]) -> bool {
    HIERARCHY.iter().filter(|m| **m != "goods").find_map(|m| tag(tags, m)).is_some_and(|v| classify(v).grants())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real tag combinations from OpenStreetMap and what they mean for a heavy goods
    /// vehicle in each direction: (tags, forward, backward), each `None` for free passage
    /// or `Some((deciding key, class))`.
    #[allow(clippy::type_complexity)]
    const CASES: &[(&[(&str, &str)], Option<(&str, AccessClass)>, Option<(&str, AccessClass)>)] = {
        use AccessClass::*;
        &[
            (&[("highway", "residential")], None, None),
            (
                &[("highway", "service"), ("access", "no"), ("bus", "yes")],
                Some(("access", Barred)),
                Some(("access", Barred)),
            ),
            (
                &[("highway", "service"), ("vehicle", "no"), ("psv", "yes")],
                Some(("vehicle", Barred)),
                Some(("vehicle", Barred)),
            ),
            (&[("highway", "residential"), ("access", "no"), ("hgv", "yes")], None, None),
            (&[("highway", "residential"), ("motor_vehicle", "no"), ("hgv", "designated")], None, None),
            (
                &[("highway", "residential"), ("motor_vehicle", "destination")],
                Some(("motor_vehicle", Person)),
                Some(("motor_vehicle", Person)),
            ),
            (&[("highway", "tertiary"), ("hgv", "no")], Some(("hgv", Barred)), Some(("hgv", Barred))),
            (&[("highway", "tertiary"), ("hgv", "delivery")], Some(("hgv", Person)), Some(("hgv", Person))),
            (&[("highway", "service"), ("access", "private")], Some(("access", Person)), Some(("access", Person))),
            (&[("highway", "service"), ("access", "customers")], Some(("access", Person)), Some(("access", Person))),
            (
                &[("highway", "unclassified"), ("motor_vehicle", "agricultural;forestry")],
                Some(("motor_vehicle", Barred)),
                Some(("motor_vehicle", Barred)),
            ),
            (
                &[("highway", "unclassified"), ("motor_vehicle", "forestry")],
                Some(("motor_vehicle", Barred)),
                Some(("motor_vehicle", Barred)),
            ),
            (&[("highway", "service"), ("access", "psv")], Some(("access", Barred)), Some(("access", Barred))),
            (&[("highway", "residential"), ("goods", "no")], Some(("goods", Barred)), Some(("goods", Barred))),
            // `goods=yes` is for light goods vehicles: it does not lift the ban.
            (
                &[("highway", "residential"), ("motor_vehicle", "no"), ("goods", "yes")],
                Some(("motor_vehicle", Barred)),
                Some(("motor_vehicle", Barred)),
            ),
            (&[("highway", "residential"), ("hgv", "yes"), ("goods", "no")], None, None),
            // Directional: a contraflow bus lane, a one-direction goods ban.
            (
                &[("highway", "secondary"), ("motor_vehicle:backward", "no"), ("psv:backward", "yes")],
                None,
                Some(("motor_vehicle:backward", Barred)),
            ),
            (&[("highway", "secondary"), ("hgv:forward", "no")], Some(("hgv:forward", Barred)), None),
            (&[("highway", "secondary"), ("access", "no"), ("vehicle:forward", "yes")], None, Some(("access", Barred))),
            // Conditional: unverified unless the base already bars (or the condition grants
            // something already granted).
            (
                &[("highway", "primary"), ("hgv:conditional", "no @ (Mo-Fr 07:00-09:00)")],
                Some(("hgv:conditional", Person)),
                Some(("hgv:conditional", Person)),
            ),
            (
                &[("highway", "primary"), ("hgv", "no"), ("hgv:conditional", "yes @ (22:00-06:00)")],
                Some(("hgv:conditional", Person)),
                Some(("hgv:conditional", Person)),
            ),
            (
                &[("highway", "primary"), ("hgv", "no"), ("hgv:conditional", "no @ (weight>7.5)")],
                Some(("hgv", Barred)),
                Some(("hgv", Barred)),
            ),
            (&[("highway", "primary"), ("hgv:conditional", "yes @ (Sa,Su)")], None, None),
            (
                &[("highway", "primary"), ("access:conditional", "no @ (2026-12-01-2027-03-31)")],
                Some(("access:conditional", Person)),
                Some(("access:conditional", Person)),
            ),
            // A condition on a less specific key than the deciding one does not apply.
            (&[("highway", "primary"), ("hgv", "designated"), ("motor_vehicle:conditional", "no @ (Su)")], None, None),
            (
                &[("highway", "primary"), ("hgv:forward:conditional", "no @ (Mo-Fr 06:00-20:00)")],
                Some(("hgv:forward:conditional", Person)),
                None,
            ),
            // Roads for buses only.
            (&[("highway", "busway")], Some(("highway", Barred)), Some(("highway", Barred))),
            (&[("highway", "busway"), ("hgv", "yes")], None, None),
            // Values oscar cannot read are never read as a grant.
            (
                &[("highway", "service"), ("access", "no;destination")],
                Some(("access", Unreadable)),
                Some(("access", Unreadable)),
            ),
            (&[("highway", "service"), ("hgv", "limited")], Some(("hgv", Unreadable)), Some(("hgv", Unreadable))),
        ]
    };

    #[test]
    fn real_tag_combinations() {
        for (tags, forward, backward) in CASES {
            for (dir, want) in [(Direction::Forward, forward), (Direction::Backward, backward)] {
                let got = hgv_access(tags, Some(dir));
                let got = got.as_ref().map(|d| (d.key.as_str(), d.class));
                assert_eq!(got, *want, "{tags:?} travelling {dir}");
            }
            // On a node (no direction), the restrictive direction counts.
            let node = hgv_access(tags, None).map(|d| d.class);
            let worst = [forward, backward].into_iter().flatten().next().map(|(_, c)| *c);
            assert_eq!(node.is_some(), worst.is_some(), "{tags:?} on a node");
        }
    }

    #[test]
    fn lifted_ban_names_the_ban() {
        let d = hgv_access(&[("hgv", "no"), ("hgv:conditional", "yes @ (22:00-06:00)")], Some(Direction::Forward));
        assert_eq!(d.map(|d| d.raw), Some("yes @ (22:00-06:00) (otherwise hgv=no)".to_string()));
    }

    #[test]
    fn barriers_open_only_to_admitted_heavy_vehicles() {
        assert!(opens_barrier(&[("barrier", "gate"), ("access", "yes")]));
        assert!(opens_barrier(&[("barrier", "lift_gate"), ("motor_vehicle", "designated")]));
        assert!(!opens_barrier(&[("barrier", "gate"), ("access", "yes"), ("hgv", "no")]));
        assert!(!opens_barrier(&[("barrier", "gate"), ("goods", "yes")]));
        assert!(!opens_barrier(&[("barrier", "bollard")]));
    }

    #[test]
    fn classes_of_reported_tags() {
        assert_eq!(classify_tag("barrier", "gate"), AccessClass::Barred);
        assert_eq!(classify_tag("hgv:conditional", "no @ (Mo-Fr)"), AccessClass::Person);
        assert_eq!(classify_tag("highway", "busway"), AccessClass::Barred);
        assert_eq!(classify_tag("access", "private"), AccessClass::Person);
        assert_eq!(classify_tag("access", "no"), AccessClass::Barred);
        assert_eq!(classify_tag("hgv", "maybe"), AccessClass::Unreadable);
    }
}
