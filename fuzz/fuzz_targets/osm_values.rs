//! Any text through the parsers of OpenStreetMap restriction values (`maxheight`,
//! `maxweight`, ..., `layer`). Unparsed is fine; a panic is a bug, and so is a limit that is
//! not a positive finite number.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oscar::routes::values::{ParsedValue, parse_layer, parse_length_m, parse_mass_kg};

fuzz_target!(|raw: &str| {
    for parsed in [parse_length_m(raw), parse_mass_kg(raw)] {
        if let ParsedValue::Limit(v) = parsed {
            assert!(v.is_finite() && v > 0.0, "{raw:?} gave the limit {v}");
        }
    }
    let _ = parse_layer(raw);
});
