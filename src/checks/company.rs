//! C1-C4: the carrier's licences, standing and insurance.

use super::{Context, Findings, word};
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
    f.compare(
        "company name",
        declared.as_str(),
        c.name.as_str(),
        None,
        declared.trim() == c.name,
        if declared.trim() == c.name {
            format!("name `{declared}` matches the register")
        } else {
            format!("declared name `{declared}` differs from the registered `{}`", c.name)
        },
    );
    f.at("/carrier/name");
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
    f.compare(
        "licence number",
        declared.as_str(),
        t.number.as_str(),
        None,
        *declared == t.number,
        format!("declared licence `{declared}`, registered `{}`", t.number),
    );
    f.at("/carrier/transport_license_no");
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
    let submitted = ctx.submitted();
    let banned = c.banned_until.is_some_and(|b| b >= submitted);
    f.compare(
        "ban period",
        c.banned_until.map(|b| b.to_string()),
        format!("before {submitted}"),
        None,
        !banned,
        match c.banned_until {
            Some(b) if banned => format!("`{}` is banned from over-limit transport until `{b}`", c.name),
            Some(b) => format!("ban ended `{b}`"),
            None => "no ban on record".to_string(),
        },
    );
    f.compare(
        "over-limit violations in 12 months",
        c.overlimit_violations_12m,
        r.max_overlimit_violations_12m,
        None,
        c.overlimit_violations_12m <= r.max_overlimit_violations_12m,
        format!(
            "`{}` over-limit violations in 12 months; the limit is `{}`",
            c.overlimit_violations_12m, r.max_overlimit_violations_12m
        ),
    );
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
    if let Some(min) = minimum {
        f.compare(
            "insurance cover",
            ins.cover_cny,
            *min,
            Some("CNY"),
            ins.cover_cny >= *min,
            format!("cover `{}` CNY against the class minimum `{min}` CNY", ins.cover_cny),
        );
    }
    f
}
