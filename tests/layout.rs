//! The serving library does not depend on its tooling: `src/lib.rs` compiles `src/tooling/`
//! only with the `tooling` feature (so `cargo clippy --lib --no-default-features`, which
//! `.ci/run` runs, proves the serving path builds without it), and no other module of the
//! library names it, which this test catches without that second build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// How `src/lib.rs` declares the tooling, the one place the library may name it.
const DECLARATION: &str = "#[cfg(feature = \"tooling\")]\npub mod tooling;\n";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `path` (a file or a directory).
fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// `file:line` of each line that names `tooling` outside a `//` comment.
fn mentions(path: &Path, text: &str) -> Vec<String> {
    let code = |line: &str| line.split("//").next().unwrap_or("").to_string();
    let names_tooling =
        |line: &str| code(line).split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == "tooling");
    let lines = text.lines().enumerate().filter(|(_, line)| names_tooling(line));
    lines.map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim())).collect()
}

#[test]
fn the_library_compiles_its_tooling_only_with_the_tooling_feature() {
    let lib = read(&Path::new(ROOT).join("src/lib.rs"));
    assert!(lib.contains(DECLARATION), "src/lib.rs must declare the tooling as:\n{DECLARATION}");
    let manifest = read(&Path::new(ROOT).join("Cargo.toml"));
    assert!(manifest.contains("default = [\"tooling\"]"), "the CLI, tests and benches build with the tooling");
    let ci = read(&Path::new(ROOT).join(".ci/run"));
    assert!(ci.contains("--lib --no-default-features"), ".ci/run must build the library without its tooling");
}

#[test]
fn no_module_of_the_serving_library_names_the_tooling() {
    let src = Path::new(ROOT).join("src");
    let lib = read(&src.join("lib.rs"));
    let mut found = mentions(&src.join("lib.rs"), &lib.replace(DECLARATION, ""));
    let declared = lib.lines().filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("mod ")));
    let modules: Vec<&str> = declared.filter_map(|l| l.strip_suffix(';')).filter(|m| *m != "tooling").collect();
    assert!(modules.len() > 10, "the modules of src/lib.rs were not read: {modules:?}");
    let mut files = Vec::new();
    for module in &modules {
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        rust_files(&src.join(module), &mut files);
    }
    for file in &files {
        found.extend(mentions(file, &read(file)));
    }
    assert!(
        found.is_empty(),
        "the serving library names src/tooling/ (move what it needs out of it):\n{}",
        found.join("\n")
    );
}
