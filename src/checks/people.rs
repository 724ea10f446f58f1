//! P1-P4: agent, drivers, escort.

use super::{Bound, Context, Findings};
use crate::ids::mask_id;
use crate::registry::{PersonRecord, VehicleKind, VehicleStatus};
use crate::rulebook::{Combination, IdScheme};

fn id_basis(ctx: &Context) -> &'static str {
    match ctx.rules.formats.person_id {
        IdScheme::Gb11643 => "ID number checked against GB 11643-1999 at input",
        _ => "ID number format not checked in this jurisdiction",
    }
}

/// P1: the agent holds a valid power of attorney from the carrier.
pub fn p1_agent(ctx: &Context) -> Findings {
    let app = ctx.app;
    let mut f =
        Findings::new(format!("Order 62, application materials (agent's ID and power of attorney); {}", id_basis(ctx)));
    let reference = &app.agent.authorization_ref;
    let Some(auth) = f.record("authorization", reference, &ctx.refs.authorization) else {
        return f;
    };
    f.check("authorization issued to").at("/agent/id_number").same_id(
        &auth.agent_id_number,
        &app.agent.id_number,
        |_| format!("`{reference}` is issued to agent `{}`", mask_id(&auth.agent_id_number)),
    );
    f.check("authorization issued by").at("/carrier/uscc").same(&auth.carrier_uscc, &app.carrier.uscc, |_| {
        format!("`{reference}` is issued by carrier `{}`", auth.carrier_uscc)
    });
    let submitted = ctx.submitted();
    f.check("authorization valid from").compare(auth.valid_from, Bound::AtMost(submitted), |_| {
        format!("`{reference}` is valid from `{}`; the application was submitted `{submitted}`", auth.valid_from)
    });
    f.valid_through("authorization", auth.valid_until, submitted);
    f
}

fn drivers<'a>(ctx: &'a Context, f: &mut Findings) -> Vec<(usize, &'a PersonRecord)> {
    ctx.app
        .drivers
        .iter()
        .zip(&ctx.refs.drivers)
        .enumerate()
        .filter_map(|(i, (d, lookup))| f.record("driver", &mask_id(&d.id_number), lookup).map(|p| (i, p)))
        .collect()
}

/// P2: licence class fits the combination; licence and freight qualification valid.
pub fn p2_driver_qualified(ctx: &Context) -> Findings {
    let r = &ctx.rules.drivers;
    let mut f = Findings::new(r.basis.clone());
    let allowed = match crate::determination::combination(ctx.app) {
        Combination::Articulated => &r.licence_classes_articulated,
        Combination::Rigid => &r.licence_classes_rigid,
    };
    for (i, p) in drivers(ctx, &mut f) {
        let who = format!("driver `{}`", p.name);
        match &p.driving_licence {
            None => f.fact(
                "driving licence",
                format!("driver {i}"),
                false,
                format!("{who} has no driving licence on record"),
            ),
            Some(l) => {
                f.check("licence class").at(format!("/drivers/{i}")).one_of(&l.class, allowed, |_| {
                    format!("{who} holds class `{}`; this combination needs {}", l.class, allowed.join(" or "))
                });
                f.valid_through(&format!("{who}'s driving licence"), l.expires, ctx.through());
            }
        }
        match p.qualifications.iter().find(|q| q.kind == r.qualification) {
            None => f.fact(
                "qualification",
                r.qualification.as_str(),
                false,
                format!("{who} has no `{}` qualification", r.qualification),
            ),
            Some(q) => f.valid_through(&format!("{who}'s `{}` qualification", q.kind), q.expires, ctx.through()),
        }
    }
    f
}

/// P3: no driving ban during the schedule; violation points under the limit.
pub fn p3_driver_record(ctx: &Context) -> Findings {
    let r = &ctx.rules.drivers;
    let mut f = Findings::new(r.basis.clone());
    for (_, p) in drivers(ctx, &mut f) {
        let who = format!("driver `{}`", p.name);
        f.check("driving ban").not_banned(p.banned_until, ctx.submitted(), |passes| match p.banned_until {
            Some(b) if !passes => format!("{who} is banned until `{b}`"),
            Some(b) => format!("{who}'s ban ended `{b}`"),
            None => format!("{who} has no ban"),
        });
        let (points, max) = (p.violation_points, r.max_violation_points);
        f.check("violation points").unit("points").compare(points, Bound::AtMost(max), |_| {
            format!("{who} has `{points}` violation points; the limit is `{max}`")
        });
    }
    f
}

/// Escort vehicles and personnel required by the class and loaded width.
pub fn escort_required(ctx: &Context) -> (u32, u32, Vec<String>) {
    let class = ctx.det.permit_class;
    let width = ctx.app.loaded.width_m;
    ctx.rules
        .escort
        .iter()
        .filter(|e| {
            e.min_class.is_some_and(|m| class.is_some_and(|c| c >= m))
                || e.min_width.as_ref().is_some_and(|w| width > w.si())
        })
        .fold((0, 0, Vec::new()), |(v, p, mut why), e| {
            why.push(e.basis.clone());
            (v.max(e.vehicles), p.max(e.personnel), why)
        })
}

/// P4: the escort required by class and dimensions is present and qualified.
pub fn p4_escort(ctx: &Context) -> Findings {
    let (need_vehicles, need_people, why) = escort_required(ctx);
    let mut f = Findings::new(if why.is_empty() { "no escort rule applies".to_string() } else { why.join("; ") });
    let escort = ctx.app.escort.as_ref();
    let plates = escort.map(|e| e.vehicle_plates.as_slice()).unwrap_or_default();
    let ids = escort.map(|e| e.personnel_id_numbers.as_slice()).unwrap_or_default();
    if need_vehicles == 0 && need_people == 0 && plates.is_empty() && ids.is_empty() {
        return f.not_applicable("no escort is required for this class and width, and none is declared");
    }
    let mut good_vehicles = 0;
    for (plate, lookup) in plates.iter().zip(&ctx.refs.escort_vehicles) {
        let Some(v) = f.record("escort vehicle", plate, lookup) else { continue };
        let ok = v.kind == VehicleKind::EscortCar
            && v.status == VehicleStatus::Registered
            && v.inspection_expires.is_none_or(|e| e >= ctx.through());
        f.fact(
            "escort vehicle",
            plate.as_str(),
            ok,
            if ok {
                format!("escort car `{plate}` is registered and inspected")
            } else {
                format!("`{plate}` is not a registered, inspected escort car")
            },
        );
        good_vehicles += u32::from(ok);
    }
    let mut good_people = 0;
    let kind = &ctx.rules.escort_qualification.kind;
    for (id, lookup) in ids.iter().zip(&ctx.refs.escort_people) {
        let Some(p) = f.record("escort person", &mask_id(id), lookup) else { continue };
        let q = p.qualifications.iter().find(|q| &q.kind == kind);
        let ok = q.is_some_and(|q| q.expires.is_none_or(|e| e >= ctx.through()));
        f.fact(
            "escort qualification",
            mask_id(id),
            ok,
            if ok {
                format!("escort `{}` holds a valid `{kind}` qualification", p.name)
            } else {
                format!("escort `{}` has no `{kind}` qualification valid through `{}`", p.name, ctx.through())
            },
        );
        good_people += u32::from(ok);
    }
    for (what, have, need) in
        [("escort vehicles", good_vehicles, need_vehicles), ("escort personnel", good_people, need_people)]
    {
        if need > 0 {
            f.check(what)
                .at("/escort")
                .compare(have, Bound::AtLeast(need), |_| format!("{have} qualified {what} declared, {need} required"));
        }
    }
    f
}
