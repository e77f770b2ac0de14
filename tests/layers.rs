//! The crate's structure, read from its source: dependencies between top-level
//! modules point one way (down the layer table below, never up, and never in a
//! cycle), and no source file outgrows what a reader takes in at once.
//!
//! A new top-level module must be added to [`LAYERS`]: where it sits is a design
//! decision worth one line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, bottom first. A module may use modules of its own
/// layer or below; the graph as a whole must stay acyclic.
const LAYERS: &[&[&str]] = &[
    // plain types and pure functions
    &[
        "error",
        "request",
        "config",
        "metrics",
        "percentile",
        "results",
    ],
    // what runs, where it runs
    &["model", "device"],
    // the server: load generator, batcher, stages, threads
    &["pipeline"],
    // measurement glue, grids, baselines
    &["measure", "sweep", "compare", "ab"],
    // what people read
    &["report"],
];

/// Longest source file, in lines.
const MAX_LINES: usize = 400;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::X` references outside `#[cfg(test)]` code (doc links count: a doc that
/// points up is a dependency a reader has to follow).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(i, m)| {
            code[i + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Top-level module → the top-level modules it refers to.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel.components().next().expect("a path").as_os_str();
        let top = top.to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source is readable");
        let refs: Vec<String> = crate_refs(&text)
            .into_iter()
            .filter(|r| *r != top)
            .collect();
        graph.entry(top).or_default().extend(refs);
    }
    graph
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| {
            panic!("module `{module}` is not in tests/layers.rs's LAYERS: add it where it belongs")
        })
}

#[test]
fn dependencies_point_down_the_layers() {
    let mut upward = Vec::new();
    for (module, deps) in module_graph() {
        for dep in deps {
            if layer_of(&dep) > layer_of(&module) {
                upward.push(format!("{module} -> {dep}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up: {upward:?}");
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = module_graph();
    // Depth-first search with colours: grey = on the current path.
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => {
                let start = path
                    .iter()
                    .position(|p| *p == m)
                    .expect("grey is on the path");
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            Some(false) => return None,
            None => {}
        }
        state.insert(m, true);
        path.push(m);
        for dep in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(dep, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(m, false);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn no_source_file_is_longer_than_a_reader_takes_in() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_scan_sees_a_real_dependency() {
    // Guards the scan itself: the pipeline is known to use the configuration.
    assert!(module_graph()["pipeline"].contains("config"));
    assert_eq!(
        crate_refs("use crate::a::b;\n#[cfg(test)]\nuse crate::z;"),
        BTreeSet::from(["a".to_string()])
    );
}
