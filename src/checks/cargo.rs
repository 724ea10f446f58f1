//! G1-G3: the cargo is indivisible, fits the loaded dimensions and has a plausible mass.

use super::{Bound, Context, Findings};
use crate::rulebook::Mass;

/// G1: declared indivisible and of an indivisible category.
pub fn g1_indivisible(ctx: &Context) -> Findings {
    let rules = &ctx.rules.cargo;
    let cargo = &ctx.app.cargo;
    let mut f = Findings::new(rules.basis.clone());
    f.check("declared indivisible").at("/cargo/indivisible").fact(
        cargo.indivisible,
        cargo.indivisible,
        if cargo.indivisible {
            "the cargo is declared indivisible".into()
        } else {
            "the cargo is declared divisible: divisible loads are not eligible for an over-limit permit".into()
        },
    );
    let category = f.check("category").at("/cargo/category");
    match ctx.rules.category(&cargo.category) {
        Some(cat) => category.fact(
            cargo.category.as_str(),
            cat.indivisible,
            format!("category `{}` is {}", cargo.category, if cat.indivisible { "indivisible" } else { "divisible" }),
        ),
        None => category.unverified(format!(
            "category `{}` is not in the rulebook; a reviewer must judge indivisibility",
            cargo.category
        )),
    }
    f
}

/// G2: loaded dimensions contain the cargo on a deck; overhang within the limit.
pub fn g2_dimensions(ctx: &Context) -> Findings {
    let rules = &ctx.rules.cargo;
    let (cargo, loaded) = (&ctx.app.cargo, &ctx.app.loaded);
    let mut f = Findings::new(rules.overhang_basis.clone());
    let tol = ctx.rules.tolerances.dimension.si();
    for (what, c, l, ptr) in [
        ("width", cargo.width_m, loaded.width_m, "/loaded/width_m"),
        ("length", cargo.length_m, loaded.length_m, "/loaded/length_m"),
    ] {
        f.check(format!("cargo {what} within loaded {what}")).at(ptr).unit("m").slack(tol).compare(
            c,
            Bound::AtMost(l),
            |passes| {
                format!("cargo {what} `{c}` m {} the loaded {what} `{l}` m", if passes { "fits" } else { "exceeds" })
            },
        );
    }
    let deck = loaded.height_m - cargo.height_m;
    let min_deck = rules.min_deck_height.si();
    f.check("deck height (loaded height - cargo height)")
        .at("/loaded/height_m")
        .unit("m")
        .slack(tol)
        .rounded(3)
        .compare(deck, Bound::AtLeast(min_deck), |_| {
            format!(
                "loaded height `{}` m leaves `{deck:.2}` m under a `{}` m cargo; a deck is at least `{min_deck}` m",
                loaded.height_m, cargo.height_m
            )
        });
    // Overhang: how far the cargo reaches beyond the last unit's registered length.
    let last = ctx.refs.units.last().and_then(|l| l.found());
    match last {
        Some(trailer) => {
            let overhang = (cargo.length_m - trailer.length_m).max(0.0);
            f.refer(&trailer.plate);
            // Judged to the millimetre, as shown.
            f.check("cargo overhang beyond the last unit")
                .at("/cargo/length_m")
                .unit("m")
                .at_most((overhang * 1000.0).round() / 1000.0, rules.max_overhang.si());
        }
        None => f.unverified("overhang", "the last unit's length is not on record, so the overhang is unknown".into()),
    }
    f
}

/// G3: cargo mass fits its category and balances gross mass minus curb mass.
pub fn g3_mass(ctx: &Context) -> Findings {
    let cargo = &ctx.app.cargo;
    let mut f = Findings::new("Order 62, application materials (cargo mass; curb mass; gross mass)");
    if let Some(cat) = ctx.rules.category(&cargo.category) {
        let volume = cargo.length_m * cargo.width_m * cargo.height_m;
        let density = cargo.mass_kg / volume;
        let [lo, hi] = cat.density_kg_m3;
        f.check("bounding-box density").at("/cargo/mass_kg").unit("kg/m³").rounded(0).compare(
            density,
            Bound::Between(lo, hi),
            |_| {
                format!(
                    "`{}` kg in a {volume:.1} m³ box is `{density:.0}` kg/m³; a `{}` is {lo}-{hi} kg/m³",
                    cargo.mass_kg, cat.name
                )
            },
        );
        let [m_lo, m_hi] = cat.mass.each_ref().map(Mass::si);
        f.check("cargo mass for the category").at("/cargo/mass_kg").unit("kg").compare(
            cargo.mass_kg,
            Bound::Between(m_lo, m_hi),
            |_| format!("`{}` kg for a `{}`; expected {m_lo}-{m_hi} kg", cargo.mass_kg, cat.name),
        );
    } else {
        f.unverified("category", format!("category `{}` has no plausible range in the rulebook", cargo.category));
    }
    match super::vehicle::curb_mass_kg(ctx) {
        Some(curb) => {
            let expected = ctx.app.loaded.gross_mass_kg - curb;
            let tol = ctx
                .rules
                .tolerances
                .mass_balance_min
                .si()
                .max(ctx.rules.tolerances.mass_balance_share * ctx.app.loaded.gross_mass_kg);
            f.check("cargo mass vs gross minus curb mass").at("/cargo/mass_kg").unit("kg").slack(tol).compare(
                cargo.mass_kg,
                Bound::Near(expected),
                |_| {
                    format!(
                        "gross `{}` kg minus curb `{curb}` kg leaves `{expected}` kg for the cargo; declared `{}` kg (tolerance {tol:.0} kg)",
                        ctx.app.loaded.gross_mass_kg, cargo.mass_kg
                    )
                },
            );
        }
        None => f.unverified(
            "curb mass",
            "a unit's curb mass is not on record, so the mass balance cannot be checked".into(),
        ),
    }
    f
}
