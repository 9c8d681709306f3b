//! The library's layers point one way (README, "Layout"): every `crate::` and `super::` path in
//! `src/` names a module of a lower layer, or one of its own module's siblings (inside `fits`,
//! in the order header, hdu <- cards <- read, write). `simulate` (and `improved_eval`, the improved
//! mode's evaluation on simulated sets) may use anything, and only the shells (`wasm`, the
//! `ami3` binary) and `improved_eval` may use `simulate`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer of a module path relative to `src/` (`"analyze/lgmodel"`, `"fits/hdu"`, ...).
fn layer(module: &str) -> f64 {
    let top = module.split('/').next().unwrap();
    match (top, module) {
        ("portable" | "error", _) => 0.0,
        ("niriss", _) => 1.0,
        (_, "fits/header") => 2.0,
        (_, "fits/hdu") => 2.1,
        (_, "fits/cards") => 2.2,
        (_, "fits/read" | "fits/write") => 2.3,
        ("fits", _) => 2.4,
        ("products", _) => 3.0,
        ("analyze", _) => 4.0,
        ("companion", _) => 4.5,
        ("steps" | "average" | "normalize", _) => 5.0,
        ("pipeline", _) => 6.0,
        ("options", _) => 6.5,
        ("wasm" | "lib" | "bin", _) => 7.0,
        ("simulate", _) => 8.0,
        ("improved_eval", _) => 8.5,
        _ => panic!("module {module} has no layer: give it one here and in the README"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// "analyze/lgmodel" for src/analyze/lgmodel.rs, "fits" for src/fits/mod.rs.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let rel = rel.to_str().unwrap().replace('\\', "/");
    rel.strip_suffix("/mod").unwrap_or(&rel).to_string()
}

/// The modules a file's code names with `crate::a::b` or `super::b` (comments skipped).
fn dependencies(module: &str, text: &str) -> BTreeSet<String> {
    let parent = match module.rsplit_once('/') {
        Some((p, _)) => p.to_string(),
        None => String::new(),
    };
    let mut deps = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (prefix, base) in [("crate::", String::new()), ("super::", parent.clone())] {
            let mut rest = code;
            while let Some(i) = rest.find(prefix) {
                let after = &rest[i + prefix.len()..];
                let path: Vec<&str> = after
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap()
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .collect();
                if let Some(first) = path.first() {
                    let first_is_module = first.chars().next().unwrap().is_ascii_lowercase();
                    if first_is_module && *first != "tests" {
                        let top = if base.is_empty() {
                            first.to_string()
                        } else {
                            format!("{base}/{first}")
                        };
                        // `crate::fits::hdu` names fits/hdu where that is a module
                        let second = path
                            .get(1)
                            .filter(|s| s.chars().next().unwrap().is_ascii_lowercase());
                        deps.insert(match second {
                            Some(s) if top == "fits" || top == "niriss" || top == "products" => {
                                format!("{top}/{s}")
                            }
                            _ => top,
                        });
                    }
                }
                rest = after;
            }
        }
    }
    deps.remove(module);
    deps
}

#[test]
fn every_module_uses_only_lower_layers_or_its_own_siblings() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let top = module.split('/').next().unwrap();
        for dep in dependencies(&module, &text) {
            let dep_top = dep.split('/').next().unwrap();
            let ok = if dep_top == "simulate" {
                matches!(top, "wasm" | "bin" | "simulate" | "improved_eval")
            } else if top == "simulate" || top == "improved_eval" {
                true
            } else if top == "fits" && dep_top == "fits" {
                layer(&dep) < layer(&module) || module == "fits"
            } else if dep_top == top {
                true // siblings inside one module (analyze, products, niriss)
            } else {
                layer(&dep) < layer(&module)
            };
            if !ok {
                problems.push(format!("{module} uses {dep}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_check_sees_the_imports_it_must_refuse() {
    // the check itself: a products module naming analyze, and fits/hdu naming fits/write
    let deps = dependencies(
        "products/amilg",
        "use crate::analyze::exposure::ExposureAnalysis;",
    );
    assert!(deps.contains("analyze"), "{deps:?}");
    assert!(layer("analyze") > layer("products/amilg"));
    let deps = dependencies("fits/hdu", "use super::write::normalized_cards;");
    assert!(deps.contains("fits/write"), "{deps:?}");
    assert!(layer("fits/write") > layer("fits/hdu"));
    let deps = dependencies("analyze/exposure", "let r = crate::simulate::Rng::new(1);");
    assert!(deps.contains("simulate"), "{deps:?}");
    let deps = dependencies(
        "steps",
        "// crate::simulate in a comment\nuse crate::fits::{Card};",
    );
    assert_eq!(deps.into_iter().collect::<Vec<_>>(), ["fits"]);
}
