//! Over-limit determination, permit class, required matters and the statutory deadline.

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::application::{Application, UnitRole};
use crate::rulebook::{Combination, Length, Mass, PermitClass, Rulebook};

/// One limit the loaded vehicle exceeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exceedance {
    /// Which limit.
    pub dimension: Dimension,
    /// Declared value.
    pub observed: f64,
    /// Legal limit.
    pub limit: f64,
    /// `m` or `kg`.
    pub unit: String,
}

/// Statutory decision deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deadline {
    /// Working days the authority has.
    pub working_days: u32,
    /// Last day for the decision, counting Monday-Friday from the day after submission.
    pub due: NaiveDate,
    /// Whether the cross-province time applied.
    pub cross_province: bool,
}

/// An approval an application needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Matter {
    /// The highway over-limit transport permit.
    HighwayOverlimit,
    /// Approval to use urban roads.
    UrbanRoad,
    /// A temporary pass for a unit without plates.
    TemporaryPass,
}

/// A limit of the over-limit determination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Height from the ground, metres.
    Height,
    /// Width, metres.
    Width,
    /// Length, metres.
    Length,
    /// Gross mass, kilograms.
    GrossMass,
}

/// What the application amounts to under the rulebook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Determination {
    /// Whether any over-limit threshold is exceeded.
    pub over_limit: bool,
    /// The thresholds exceeded.
    pub exceeded: Vec<Exceedance>,
    /// Legal gross mass for this axle count and combination, kg.
    pub legal_gross_kg: f64,
    /// Permit class; `None` when not over-limit.
    pub permit_class: Option<u8>,
    /// Matters needed.
    pub matters: Vec<Matter>,
    /// Statutory deadline, when a permit is needed.
    pub deadline: Option<Deadline>,
    /// Assumptions made, in plain words.
    pub notes: Vec<String>,
    /// Legal basis.
    pub basis: String,
}

/// Whether the combination has trailers.
pub fn combination(app: &Application) -> Combination {
    if app.vehicle.units.iter().any(|u| u.role == UnitRole::Trailer) {
        Combination::Articulated
    } else {
        Combination::Rigid
    }
}

/// The legal gross mass for the application's axle count and combination, with a note when
/// the single-drive-axle limit was assumed.
pub fn legal_gross_kg(app: &Application, rules: &Rulebook) -> (f64, Option<String>) {
    let o = &rules.overlimit;
    let axles = app.vehicle.axles.len() as u32;
    let kind = combination(app);
    // The largest axle count in the table covers longer combinations too.
    let from_table = o
        .gross
        .iter()
        .filter(|g| g.combination == kind && g.axles <= axles)
        .max_by_key(|g| g.axles)
        .or_else(|| o.gross.iter().filter(|g| g.axles <= axles).max_by_key(|g| g.axles))
        .map(|g| g.limit.si());
    let mut limit = from_table.unwrap_or(f64::INFINITY);
    if let Some(flat) = &o.max_gross {
        limit = limit.min(flat.si());
    }
    // An undeclared drive axle counts as not driven, so the lower limit is the default.
    let drive_axles = app.vehicle.axles.iter().filter(|a| a.drive == Some(true)).count();
    if let (Some(single), true) = (&o.single_drive_six_axle_limit, axles >= 6 && kind == Combination::Articulated)
        && drive_axles < 2
        && single.si() < limit
    {
        limit = single.si();
        let note = format!(
            "gross limit `{single}` for a 6+ axle combination with a single drive axle: {drive_axles} axle(s) declared as driven (`drive: true`)"
        );
        return (limit, Some(note));
    }
    (limit, None)
}

fn class_fits(c: &PermitClass, app: &Application, legal_gross: f64) -> bool {
    let l = &app.loaded;
    let within = |limit: Option<f64>, v: f64| limit.is_none_or(|limit| v <= limit);
    within(c.max_height.as_ref().map(Length::si), l.height_m)
        && within(c.max_width.as_ref().map(Length::si), l.width_m)
        && within(c.max_length.as_ref().map(Length::si), l.length_m)
        && within(c.max_gross.as_ref().map(Mass::si), l.gross_mass_kg)
        && (!c.mass_within_legal || l.gross_mass_kg <= legal_gross)
}

/// Adds `days` working days (Monday-Friday) after `from`.
pub fn add_working_days(from: NaiveDate, days: u32) -> NaiveDate {
    let mut d = from;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

/// Working days (Monday-Friday) after `from` up to and including `to`, as
/// [`add_working_days`] counts them; 0 when `to` is not after `from`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let days = (to - from).num_days().max(0);
    // Every whole week holds five working days; the days left over are fewer than seven.
    let rest = (1..=days % 7)
        .filter_map(|n| from.checked_add_signed(chrono::Duration::days(n)))
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as i64;
    u32::try_from(days / 7 * 5 + rest).unwrap_or(u32::MAX)
}

/// Determines over-limit status, class, matters and deadline.
pub fn determine(app: &Application, rules: &Rulebook) -> Determination {
    let o = &rules.overlimit;
    let l = &app.loaded;
    let (legal_gross, note) = legal_gross_kg(app, rules);
    let exceeded: Vec<Exceedance> = [
        (Dimension::Height, l.height_m, o.max_height.si(), "m"),
        (Dimension::Width, l.width_m, o.max_width.si(), "m"),
        (Dimension::Length, l.length_m, o.max_length.si(), "m"),
        (Dimension::GrossMass, l.gross_mass_kg, legal_gross, "kg"),
    ]
    .into_iter()
    .filter(|(_, observed, limit, _)| observed > limit)
    .map(|(dimension, observed, limit, unit)| Exceedance { dimension, observed, limit, unit: unit.into() })
    .collect();
    let over_limit = !exceeded.is_empty();
    let class = over_limit.then(|| rules.classes.iter().find(|c| class_fits(c, app, legal_gross))).flatten();
    let mut matters = Vec::new();
    if over_limit {
        matters.push(Matter::HighwayOverlimit);
    }
    if app.route.urban_roads {
        matters.push(Matter::UrbanRoad);
    }
    if app.vehicle.units.iter().any(|u| u.plate.is_none()) {
        matters.push(Matter::TemporaryPass);
    }
    let deadline = class.map(|c| {
        let cross = app.route.cross_province;
        let working_days = if cross { c.processing_days_cross_province } else { c.processing_days };
        Deadline {
            working_days,
            due: add_working_days(app.submitted_at.date_naive(), working_days),
            cross_province: cross,
        }
    });
    Determination {
        over_limit,
        exceeded,
        legal_gross_kg: legal_gross,
        permit_class: class.map(|c| c.class),
        matters,
        deadline,
        notes: note.into_iter().collect(),
        basis: class.map_or_else(|| o.basis.clone(), |c| format!("{}; {}", o.basis, c.basis)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_days_skip_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(add_working_days(fri, 2), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_eq!(add_working_days(fri, 5), NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert_eq!(add_working_days(fri, 0), fri);
    }

    #[test]
    fn working_days_between_counts_what_add_working_days_adds() {
        let mon = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        for start in 0..7 {
            let from = mon + chrono::Duration::days(start);
            for n in 0..30 {
                assert_eq!(working_days_between(from, add_working_days(from, n)), n, "{from} + {n}");
            }
            assert_eq!(working_days_between(from, from - chrono::Duration::days(3)), 0);
        }
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        // Decided on the Saturday and the Sunday after: no working day has passed.
        assert_eq!(working_days_between(fri, fri + chrono::Duration::days(2)), 0);
        assert_eq!(working_days_between(fri, fri + chrono::Duration::days(10)), 6);
    }
}
