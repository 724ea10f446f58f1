//! Any bytes through the path a `POST /v1/reviews` body takes before the review: read as
//! JSON (UTF-8, byte-order mark, duplicate keys), then parsed and validated against the
//! shipped rulebooks' formats. Text input must get the same answer from `parse` (the
//! library's text entry point, with its direct typed path). Any answer is fine; a panic or
//! a disagreement is a bug.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oscar::application::{self, JsonError, read_json};
use oscar::rulebook::{Formats, LoadedRulebook};

static RULEBOOKS: LazyLock<Vec<LoadedRulebook>> =
    LazyLock::new(|| LoadedRulebook::embedded().unwrap_or_else(|e| panic!("the shipped rulebooks do not load: {e}")));

fn formats_for(jurisdiction: &str) -> Option<Formats> {
    RULEBOOKS.iter().find(|b| b.rules.rulebook.jurisdiction == jurisdiction).map(|b| b.rules.formats)
}

fuzz_target!(|body: &[u8]| {
    let read = read_json(body).map_err(JsonError::field_errors);
    let parsed = read.and_then(|value| application::parse_value(&value, formats_for));
    if let Ok(text) = std::str::from_utf8(body) {
        assert_eq!(application::parse(text, formats_for), parsed, "the text and byte paths disagree");
    }
});
