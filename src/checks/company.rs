//! C1-C4: the carrier's licences, standing and insurance.

use super::{Bound, Context, Findings, word};
use crate::registry::{CompanyRecord, CompanyStatus};
use crate::rulebook::IdScheme;

fn carrier<'a>(ctx: &'a Context, f: &mut Findings) -> Option<&'a CompanyRecord> {
    f.record("company", &ctx.app.carrier.uscc, &ctx.refs.carrier)
}

/// C1: credit code valid, company active, name matches, business licence valid.
pub fn c1_business_licence(ctx: &Context) -> Findings {
    let check = match ctx.rules.formats.company_id {
        IdScheme::Gb32100 => "credit code checked against GB 32100-2015 at input",
        _ => "company identifier format not checked in this jurisdiction",
    };
    let mut f = Findings::new(format!("company registration (business licence); {check}"));
    let Some(c) = carrier(ctx, &mut f) else { return f };
    let active = c.status == CompanyStatus::Active;
    f.fact(
        "company status",
        word(c.status),
        active,
        format!("company `{}` is {}", c.name, if active { "active" } else { "not active" }),
    );
    let declared = &ctx.app.carrier.name;
    // Spaces around a declared name are not a different name.
    f.check("company name").at("/carrier/name").same_trimmed(declared, &c.name, |passes| {
        if passes {
            format!("name `{declared}` matches the register")
        } else {
            format!("declared name `{declared}` differs from the registered `{}`", c.name)
        }
    });
    f.valid_through("business licence", c.business_license_expires, ctx.through());
    f
}

/// C2: transport licence matches, is valid through the schedule and covers large cargo.
pub fn c2_transport_licence(ctx: &Context) -> Findings {
    let scope = &ctx.rules.carrier.required_scope;
    let mut f = Findings::new(format!("Order 62, conditions of acceptance (licence scope must include `{scope}`)"));
    let Some(c) = carrier(ctx, &mut f) else { return f };
    let Some(t) = &c.transport_license else {
        f.fact(
            "transport licence",
            serde_json::Value::Null,
            false,
            format!("`{}` has no road transport licence on record", c.name),
        );
        return f;
    };
    let declared = &ctx.app.carrier.transport_license_no;
    f.check("licence number")
        .at("/carrier/transport_license_no")
        .same(declared, &t.number, |_| format!("declared licence `{declared}`, registered `{}`", t.number));
    f.valid_through("transport licence", t.expires, ctx.through());
    f.fact(
        "licence scope",
        t.scope.join(", "),
        t.scope.contains(scope),
        format!(
            "licence scope `{}` {} `{scope}`",
            t.scope.join(", "),
            if t.scope.contains(scope) { "includes" } else { "lacks" }
        ),
    );
    f
}

/// C3: not inside a ban period; over-limit violations under the limit.
pub fn c3_credit(ctx: &Context) -> Findings {
    let r = &ctx.rules.carrier;
    let mut f = Findings::new(r.basis.clone());
    let Some(c) = carrier(ctx, &mut f) else { return f };
    f.check("ban period").not_banned(c.banned_until, ctx.submitted(), |passes| match c.banned_until {
        Some(b) if !passes => format!("`{}` is banned from over-limit transport until `{b}`", c.name),
        Some(b) => format!("ban ended `{b}`"),
        None => "no ban on record".to_string(),
    });
    let (count, max) = (c.overlimit_violations_12m, r.max_overlimit_violations_12m);
    f.check("over-limit violations in 12 months").compare(count, Bound::AtMost(max), |_| {
        format!("`{count}` over-limit violations in 12 months; the limit is `{max}`")
    });
    f
}

/// C4: liability insurance valid through the schedule with at least the class minimum.
pub fn c4_insurance(ctx: &Context) -> Findings {
    let rule = ctx.rules.insurance.as_ref();
    let mut f = Findings::new(rule.map_or("no minimum cover set by this rulebook".to_string(), |r| {
        format!("{}{}", r.basis, if r.verified { "" } else { " (value not statutory)" })
    }));
    let Some(c) = carrier(ctx, &mut f) else { return f };
    let Some(ins) = &c.liability_insurance else {
        f.fact(
            "liability insurance",
            serde_json::Value::Null,
            false,
            format!("`{}` has no liability insurance on record", c.name),
        );
        return f;
    };
    f.valid_through("liability insurance", ins.expires, ctx.through());
    let minimum = rule
        .zip(ctx.det.permit_class)
        .and_then(|(r, class)| r.min_cover_by_class.get(usize::from(class).saturating_sub(1)));
    if let Some(&min) = minimum {
        f.check("insurance cover").unit("CNY").compare(ins.cover_cny, Bound::AtLeast(min), |_| {
            format!("cover `{}` CNY against the class minimum `{min}` CNY", ins.cover_cny)
        });
    }
    f
}
