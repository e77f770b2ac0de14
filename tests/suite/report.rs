//! The sweep report and recommendation on fixture records whose answers are known
//! (`fixtures/sweep/README.md`), and the plots checked as SVG documents.

use std::path::PathBuf;

use inferbench::report::sweep::recommend::{recommend, Constraint, Goal};
use inferbench::report::sweep::{write_report, SweepData};
use inferbench::sweep::record::Percentile;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sweep/known.jsonl")
}

fn data() -> SweepData {
    SweepData::load(&[fixture()]).unwrap()
}

fn goal(constraint: Constraint, budget_ms: Option<f64>) -> Goal {
    Goal {
        constraint,
        percentile: Percentile::P95,
        budget_ms,
    }
}

fn chosen_id(data: &SweepData, goal: &Goal) -> (Option<String>, Option<String>, bool) {
    let r = recommend(&data.configs, goal).unwrap();
    let id = |k: Option<usize>| k.map(|k| data.configs[k].id.clone());
    (id(r.chosen), id(r.runner_up), r.tie)
}

const ID: &str = "resnet18-32px";

#[test]
fn the_fixture_loads_by_kind() {
    let d = data();
    assert_eq!(
        (
            d.probes.len(),
            d.configs.len(),
            d.rates.len(),
            d.max_rates.len()
        ),
        (1, 6, 5, 1)
    );
    // 100 GFLOP/s over 0.1 GFLOP a sample.
    assert_eq!(d.theoretical_max(&d.configs[0]), Some(1000.0));
}

#[test]
fn throughput_picks_the_fastest_and_calls_the_close_runner_up_a_tie() {
    let (chosen, runner_up, tie) = chosen_id(&data(), &goal(Constraint::Throughput, None));
    assert_eq!(chosen.unwrap(), format!("{ID}/bs4/torchscript/w2/shared"));
    assert_eq!(runner_up.unwrap(), format!("{ID}/bs16/eager/w1/shared"));
    assert!(tie);
}

#[test]
fn latency_picks_the_fastest_within_the_budget() {
    let (chosen, runner_up, tie) = chosen_id(&data(), &goal(Constraint::Latency, Some(10.0)));
    assert_eq!(chosen.unwrap(), format!("{ID}/bs1/torchscript/w2/shared"));
    assert_eq!(runner_up.unwrap(), format!("{ID}/bs1/eager/w1/shared"));
    assert!(!tie);
}

#[test]
fn an_impossible_budget_recommends_nothing_and_names_the_closest() {
    let d = data();
    let r = recommend(&d.configs, &goal(Constraint::Latency, Some(3.0))).unwrap();
    assert_eq!(r.chosen, None);
    assert!(
        r.text.contains("No configuration meets p95 ≤ 3 ms"),
        "{}",
        r.text
    );
    assert!(r.text.contains("bs1/eager/w1/shared"), "{}", r.text);
}

#[test]
fn balanced_picks_the_best_throughput_per_ms() {
    let (chosen, runner_up, _) = chosen_id(&data(), &goal(Constraint::Balanced, None));
    assert_eq!(chosen.unwrap(), format!("{ID}/bs1/eager/w1/shared"));
    assert_eq!(
        runner_up.unwrap(),
        format!("{ID}/bs1/torchscript/w2/shared")
    );
}

#[test]
fn the_latency_constraint_needs_a_budget() {
    let err = recommend(&data().configs, &goal(Constraint::Latency, None)).unwrap_err();
    assert!(err.to_string().contains("--latency-budget-ms"), "{err}");
    assert!(Constraint::parse("cheap").is_err());
}

#[test]
fn the_report_has_the_recommendation_table_theoretical_max_curve_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&data(), &goal(Constraint::Latency, Some(10.0)), dir.path()).unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("## Recommendation (latency)"), "{md}");
    assert!(
        md.contains("**`resnet18-32px/bs1/torchscript/w2/shared`**"),
        "{md}"
    );
    // The table row of the chosen configuration is starred, with mean ± std and the
    // share of the theoretical maximum (300 of 1000 samples/s).
    let row = md
        .lines()
        .find(|l| l.starts_with("| `resnet18-32px/bs1/torchscript/w2/shared` ⭐"))
        .unwrap_or_else(|| panic!("no starred row in\n{md}"));
    assert!(
        row.contains("300.0 ± 6.0") && row.contains("30.0 %"),
        "{row}"
    );
    // GPU utilisation was not measured: absent, never 0.
    assert!(row.contains("| — |"), "{row}");
    assert!(md.contains("**52.0 %**"), "{md}");
    assert!(md.contains("Highest rate with p99 ≤ 12 ms"), "{md}");
    assert!(md.contains("156.2 requests/s") && md.contains("162.5 requests/s broke the budget"));
    assert!(md.contains("## Failed configurations"));
    assert!(md.contains("out of memory (fixture)"));
    for plot in &files.plots {
        let name = plot
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(md.contains(&format!("]({name})")), "{name} not linked");
    }
}

#[test]
fn every_plot_is_a_well_formed_svg_with_its_series() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&data(), &goal(Constraint::Balanced, None), dir.path()).unwrap();
    let names: Vec<String> = files
        .plots
        .iter()
        .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "throughput_vs_batch.svg",
            "latency_vs_batch.svg",
            "stages.svg",
            "latency_throughput.svg"
        ]
    );
    for plot in &files.plots {
        let text = std::fs::read_to_string(&plot.path).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", plot.path.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let drawn = doc
            .descendants()
            .filter(|n| matches!(n.tag_name().name(), "polyline" | "path" | "rect" | "circle"))
            .count();
        assert!(drawn > 10, "{}: only {drawn} shapes", plot.path.display());
        let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
        let expected = match names[files
            .plots
            .iter()
            .position(|p| p.path == plot.path)
            .unwrap()]
        .as_str()
        {
            "throughput_vs_batch.svg" | "latency_vs_batch.svg" => "torchscript/w2/shared",
            "stages.svg" => "compute",
            _ => "budget: p99",
        };
        assert!(
            texts.contains(expected),
            "{}: no '{expected}' label",
            plot.path.display()
        );
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_run_results_file_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.jsonl");
    std::fs::write(&path, "{\"config\":{},\"latency_ms\":{\"mean\":1.0}}\n").unwrap();
    let err = SweepData::load(&[path]).unwrap_err().to_string();
    assert!(
        err.contains("runs.jsonl:1") && err.contains("inferbench run"),
        "{err}"
    );
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let err = SweepData::load(&[empty]).unwrap_err().to_string();
    assert!(err.contains("inferbench sweep"), "{err}");
}

#[test]
fn nvml_figures_get_a_plot_with_only_the_configurations_and_panels_that_have_them() {
    use inferbench::report::sweep::plots::variant;
    use inferbench::sweep::record::Stat;
    let stat = |mean: f64| Stat {
        mean,
        std: 1.0,
        values: vec![mean - 1.0, mean + 1.0],
    };
    let mut d = data();
    let measured: Vec<String> = d
        .configs
        .iter()
        .filter(|c| c.figures.is_some())
        .map(variant)
        .collect();
    let on_gpu = measured[0].clone();
    let others: Vec<&String> = measured.iter().filter(|v| **v != on_gpu).collect();
    assert!(!others.is_empty(), "the fixture has several variants");
    for c in d.configs.iter_mut().filter(|c| variant(c) == on_gpu) {
        if let Some(f) = c.figures.as_mut() {
            f.gpu_util_pct = Some(stat(90.0));
            f.gpu_power_w = Some(stat(500.0));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&d, &goal(Constraint::Balanced, None), dir.path()).unwrap();
    let plot = files
        .plots
        .iter()
        .find(|p| p.path.ends_with("gpu_vs_batch.svg"))
        .expect("a GPU plot where NVML figures exist");
    let text = std::fs::read_to_string(&plot.path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains("GPU utilisation (NVML)") && texts.contains("GPU power draw"));
    assert!(
        !texts.contains("SM clock") && !texts.contains("Peak GPU memory"),
        "a panel no configuration has is not drawn"
    );
    assert!(texts.contains(&on_gpu), "{on_gpu} missing from the legend");
    for other in others {
        assert!(
            !texts.contains(other.as_str()),
            "{other} has no GPU figure: not drawn"
        );
    }
    // Without any NVML figure (the fixture as it is) there is no GPU plot.
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&data(), &goal(Constraint::Balanced, None), dir.path()).unwrap();
    assert!(files
        .plots
        .iter()
        .all(|p| !p.path.ends_with("gpu_vs_batch.svg")));
}

#[test]
fn the_curve_table_has_a_line_per_rate_and_the_searchs_answer() {
    use inferbench::report::curve::render;
    let d = data();
    assert!(
        !d.rates.is_empty() && !d.max_rates.is_empty(),
        "the fixture has a curve"
    );
    let found = &d.max_rates[0];
    let text = render(&d.rates, Some(found), found.percentile);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + d.rates.len() + 1, "{text}");
    assert!(lines[0].starts_with("offered req/s"));
    let first = &d.rates[0];
    assert!(
        lines[1].contains(&format!("{:.1}", first.offered_rps)),
        "{text}"
    );
    assert!(
        lines[1].contains(&format!("{:.2}", first.latency_ms.p99)),
        "{text}"
    );
    let last = lines.last().unwrap();
    match found.max_rps {
        Some(rate) => assert!(last.contains(&format!("{rate:.1} requests/s")), "{last}"),
        None => assert!(last.starts_with("no probed rate"), "{last}"),
    }
    // Without a search, only the table.
    assert_eq!(
        render(&d.rates, None, found.percentile).lines().count(),
        1 + d.rates.len()
    );
}
