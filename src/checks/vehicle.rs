//! V1-V5: the units of the combination and their axle loads.

use super::{Bound, Context, Findings, word};
use crate::application::{Unit, UnitRole};
use crate::registry::{Lookup, TrailerType, VehicleKind, VehicleRecord, VehicleStatus};

/// Each unit with its position, its plate (or VIN) and its registry record, if any.
fn units<'a>(ctx: &'a Context) -> impl Iterator<Item = (usize, &'a Unit, String, &'a Lookup<VehicleRecord>)> + 'a {
    ctx.app.vehicle.units.iter().zip(&ctx.refs.units).enumerate().map(|(i, (u, lookup))| {
        let key = u.plate.clone().or_else(|| u.vin.clone()).unwrap_or_default();
        (i, u, key, lookup)
    })
}

fn kind_for(role: UnitRole) -> VehicleKind {
    match role {
        UnitRole::Tractor => VehicleKind::Tractor,
        UnitRole::Trailer => VehicleKind::Trailer,
        UnitRole::Truck => VehicleKind::Truck,
    }
}

/// V1: every unit registered, active, owned by the carrier, of the declared kind; units
/// without plates need a temporary pass.
pub fn v1_registration(ctx: &Context) -> Findings {
    let mut f =
        Findings::new("vehicle registration (Road Traffic Safety Law art. 8); temporary pass for unregistered units");
    for (i, unit, key, lookup) in units(ctx) {
        if unit.plate.is_none() {
            // A new unit travels on a temporary pass; it must not be a scrapped or suspended one.
            let bad = lookup.found().filter(|v| v.status != VehicleStatus::Registered);
            f.check("temporary pass").at(format!("/vehicle/units/{i}/plate")).fact(
                key.as_str(),
                bad.is_none(),
                match bad {
                    Some(v) => format!("unit {i} VIN `{key}` belongs to `{}`, which is {}", v.plate, word(v.status)),
                    None => format!("unit {i} (VIN `{key}`) has no plate: a temporary pass is requested"),
                },
            );
            continue;
        }
        let Some(v) = f.record("vehicle", &key, lookup) else { continue };
        let registered = v.status == VehicleStatus::Registered;
        f.fact(
            "registration status",
            word(v.status),
            registered,
            format!("`{key}` is {}", if registered { "registered" } else { "not registered: suspended or scrapped" }),
        );
        let owner = &ctx.app.carrier.uscc;
        f.check("owner").same(&v.owner_uscc, owner, |_| format!("`{key}` is owned by `{}`", v.owner_uscc));
        // Kinds compare by their names, which serde keeps distinct.
        f.check("kind").at(format!("/vehicle/units/{i}/role")).same(&word(v.kind), &word(kind_for(unit.role)), |_| {
            format!("`{key}` is registered as {}, declared as {}", word(v.kind), unit.role.as_str())
        });
    }
    f
}

fn each_registered<'a>(ctx: &'a Context, f: &mut Findings) -> Vec<(String, &'a VehicleRecord)> {
    units(ctx)
        .filter(|(_, unit, _, _)| unit.plate.is_some())
        .filter_map(|(_, _, key, lookup)| f.record("vehicle", &key, lookup).map(|v| (key, v)))
        .collect()
}

/// V2: periodic inspection valid through the schedule.
pub fn v2_inspection(ctx: &Context) -> Findings {
    let mut f = Findings::new("periodic safety inspection (Road Traffic Safety Law art. 13)");
    let vehicles = each_registered(ctx, &mut f);
    if vehicles.is_empty()
        && ctx.refs.units.iter().all(|l| l.found().is_none())
        && ctx.app.vehicle.units.iter().all(|u| u.plate.is_none())
    {
        return f.not_applicable("no unit is registered yet: inspection is part of the temporary pass");
    }
    for (key, v) in vehicles {
        f.valid_through(&format!("`{key}` inspection"), v.inspection_expires, ctx.through());
    }
    f
}

/// V3: road transport certificate valid through the schedule.
pub fn v3_certificate(ctx: &Context) -> Findings {
    let mut f = Findings::new("road transport certificate (Road Transport Regulations art. 24)");
    let vehicles = each_registered(ctx, &mut f);
    if vehicles.is_empty() && ctx.app.vehicle.units.iter().all(|u| u.plate.is_none()) {
        return f.not_applicable("no unit is registered yet: no transport certificate can exist");
    }
    for (key, v) in vehicles {
        match &v.transport_certificate {
            Some(c) => {
                f.refer(&c.number);
                f.valid_through(&format!("`{key}` transport certificate"), c.expires, ctx.through());
            }
            None => f.fact(
                "transport certificate",
                key.as_str(),
                false,
                format!("`{key}` has no transport certificate on record"),
            ),
        }
    }
    f
}

/// Axles (axle lines) and curb mass of each unit: the declared value where the form gives
/// one, else the registry's. `None` where neither is known.
fn unit_specs(ctx: &Context) -> Vec<Option<(u32, f64)>> {
    ctx.app
        .vehicle
        .units
        .iter()
        .zip(&ctx.refs.units)
        .map(|(u, lookup)| {
            let reg = lookup.found();
            let axles = u.axles.or(reg.map(|v| v.axles))?;
            let curb = u.curb_mass_kg.or(reg.map(|v| v.curb_mass_kg))?;
            Some((axles, curb))
        })
        .collect()
}

/// The total curb mass of the combination, when every unit's is known.
pub fn curb_mass_kg(ctx: &Context) -> Option<f64> {
    unit_specs(ctx).into_iter().map(|s| s.map(|(_, c)| c)).sum()
}

/// V4: axle count, curb mass and dimensions match the registry; axle loads sum to gross.
pub fn v4_declared_specs(ctx: &Context) -> Findings {
    let tol = &ctx.rules.tolerances;
    let mut f = Findings::new("Order 62, application materials (curb mass, axle count, axle loads); GB 1589-2016");
    let app = ctx.app;
    for (i, unit, key, lookup) in units(ctx) {
        let Some(v) = lookup.found() else {
            if unit.plate.is_some() {
                f.record("vehicle", &key, lookup);
            }
            continue;
        };
        f.refer(&key);
        if let Some(axles) = unit.axles {
            f.check("unit axles").at(format!("/vehicle/units/{i}/axles")).compare(axles, Bound::Near(v.axles), |_| {
                format!("`{key}` declared with {axles} axles, registered with {}", v.axles)
            });
        }
        if let Some(curb) = unit.curb_mass_kg {
            f.check("unit curb mass")
                .at(format!("/vehicle/units/{i}/curb_mass_kg"))
                .unit("kg")
                .slack(tol.mass_balance_share * v.curb_mass_kg)
                .compare(curb, Bound::Near(v.curb_mass_kg), |_| {
                    format!("`{key}` declared curb mass `{curb}` kg, registered `{}` kg", v.curb_mass_kg)
                });
        }
        let d = tol.dimension.si();
        for (what, unit_v, loaded, ptr) in [
            ("width", v.width_m, app.loaded.width_m, "/loaded/width_m"),
            ("height", v.height_m, app.loaded.height_m, "/loaded/height_m"),
            ("length", v.length_m, app.loaded.length_m, "/loaded/length_m"),
        ] {
            f.check(format!("loaded {what} vs unit {what}")).at(ptr).unit("m").slack(d).compare(
                loaded,
                Bound::AtLeast(unit_v),
                |passes| {
                    format!(
                        "loaded {what} `{loaded}` m {} `{key}`'s registered {what} `{unit_v}` m",
                        if passes { "covers" } else { "is less than" }
                    )
                },
            );
        }
    }
    let specs = unit_specs(ctx);
    if specs.iter().all(Option::is_some) {
        let registered: u32 = specs.iter().flatten().map(|(a, _)| a).sum();
        let declared = app.vehicle.axles.len() as u32;
        f.check("axle count").at("/vehicle/axles").compare(declared, Bound::Near(registered), |_| {
            format!("{declared} axles declared, the units have {registered}")
        });
    }
    let sum: f64 = app.vehicle.axles.iter().map(|a| a.load_kg).sum();
    let gross = app.loaded.gross_mass_kg;
    f.check("axle loads vs gross mass")
        .at("/loaded/gross_mass_kg")
        .unit("kg")
        .slack(tol.axle_sum_share * gross)
        .compare(sum, Bound::Near(gross), |_| {
            format!(
                "axle loads add up to `{sum}` kg against the gross mass `{gross}` kg (tolerance {}%)",
                tol.axle_sum_share * 100.0
            )
        });
    f
}

/// V5: axle loads within the refusal limits (CN) or the axle and bridge-formula limits (US).
pub fn v5_axle_loads(ctx: &Context) -> Findings {
    let rules = ctx.rules;
    let mut f = Findings::new(
        [
            rules.axle_refusal.as_ref().map(|r| r.basis.as_str()),
            rules.axle_groups.as_ref().map(|r| r.basis.as_str()),
            rules.bridge_formula.as_ref().map(|r| r.basis.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; "),
    );
    if rules.axle_refusal.is_some() {
        refusal_limits(ctx, &mut f);
    }
    if rules.axle_groups.is_some() || rules.bridge_formula.is_some() {
        super::axle_groups::federal_limits(ctx, &mut f);
    }
    f
}

fn refusal_limits(ctx: &Context, f: &mut Findings) {
    let Some(r) = &ctx.rules.axle_refusal else { return };
    let axles = &ctx.app.vehicle.axles;
    // Which axles belong to a hydraulic modular trailer follows from each unit's axle count.
    let specs = unit_specs(ctx);
    let mut modular = vec![false; axles.len()];
    let mut next = 0usize;
    for ((unit, lookup), spec) in ctx.app.vehicle.units.iter().zip(&ctx.refs.units).zip(&specs) {
        let Some((n, _)) = spec else {
            let key = unit.plate.clone().or(unit.vin.clone()).unwrap_or_default();
            f.unverified("trailer type", format!("cannot tell which axles belong to `{key}`: no axle count on record"));
            return;
        };
        let is_modular = lookup.found().and_then(|v| v.trailer_type) == Some(TrailerType::HydraulicModular);
        for slot in modular.iter_mut().skip(next).take(*n as usize) {
            *slot = is_modular;
        }
        next += *n as usize;
    }
    if next != axles.len() {
        f.unverified("axle assignment", format!("the units have {next} axles but {} are declared", axles.len()));
        return;
    }
    let mut lines = Vec::new();
    let mut others = Vec::new();
    for (a, m) in axles.iter().zip(&modular) {
        if *m { lines.push(a.load_kg) } else { others.push(a.load_kg) }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    if lines.is_empty() {
        f.check("average axle load (ordinary trailer)")
            .at("/vehicle/axles")
            .unit("kg")
            .at_most(mean(&others), r.ordinary_max_average.si());
        f.at_most("heaviest axle (ordinary trailer)", max(&others), r.ordinary_max_any.si(), "kg");
    } else {
        f.check("average load per axle line (hydraulic modular)")
            .at("/vehicle/axles")
            .unit("kg")
            .at_most(mean(&lines), r.modular_max_average_per_line.si());
        f.at_most("heaviest axle line (hydraulic modular)", max(&lines), r.modular_max_per_line.si(), "kg");
        if !others.is_empty() {
            f.at_most("heaviest tractor axle", max(&others), r.ordinary_max_any.si(), "kg");
        }
    }
}
