//! Which of a suite's benchmarks criterion's command line asks for, read before any
//! server starts. Criterion applies its filter (`cargo bench --bench pipeline --
//! FILTER`, `--exact`, `--ignored`) and `--list` only when a benchmark function is
//! registered, and keeps the filter to itself; a suite starts a server (a model
//! load, a warm-up, a compile) for each configuration before that. Without this
//! reading a filter naming one benchmark of 48, or `--list`, still started 48
//! servers (7.3 s for one configuration of the default suite on 2 cores, against
//! the second it takes).
//!
//! The reading follows criterion 0.8's options. Where it cannot tell (an option it
//! does not know), it selects everything, as before: a server started for nothing
//! costs time, a benchmark skipped by mistake would cost a figure. A benchmark this
//! reading skips is still registered with criterion, so that criterion's own
//! filter has the last word: should it run one this reading skipped, the benchmark
//! stops with an error rather than being silently missing.

use regex::Regex;

/// Criterion 0.8's options that take a value (`--option VALUE` or `--option=VALUE`):
/// the word after one of these is not the filter.
const VALUED: &[&str] = &[
    "-c",
    "--color",
    "--colour",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
];

/// Criterion 0.8's flags (no value).
const FLAGS: &[&str] = &[
    "-v",
    "--verbose",
    "--quiet",
    "-n",
    "--noplot",
    "--discard-baseline",
    "--list",
    "--ignored",
    "--exact",
    "--quick",
    "--test",
    "--bench",
    "--nocapture",
    "--show-output",
    "--include-ignored",
    "-V",
    "--version",
];

/// What criterion's filter selects.
#[derive(Debug, Clone)]
enum Filter {
    /// Everything (no filter, or a command line this reading cannot tell).
    All,
    /// Ids the regular expression matches anywhere.
    Regex(Regex),
    /// The one id equal to this (`--exact`).
    Exact(String),
    /// Nothing (`--ignored`).
    Nothing,
}

/// The benchmarks a command line selects, and whether it only lists them.
#[derive(Debug, Clone)]
pub struct Selection {
    filter: Filter,
    /// `--list`: criterion prints the selected ids and runs nothing.
    pub list_only: bool,
}

impl Selection {
    /// Everything, run (no command line).
    pub fn all() -> Self {
        Self {
            filter: Filter::All,
            list_only: false,
        }
    }

    /// This process's command line, as criterion reads it.
    pub fn from_process_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Self::from_args(&args)
    }

    /// `args` (without the program's name), as criterion 0.8 reads them.
    pub fn from_args(args: &[String]) -> Self {
        let Some(words) = Words::read(args) else {
            return Self::all();
        };
        let filter = match (words.ignored, words.filter, words.exact) {
            (true, _, _) => Filter::Nothing,
            (false, None, _) => Filter::All,
            (false, Some(f), true) => Filter::Exact(f),
            // A filter that is no regular expression: criterion refuses it itself.
            (false, Some(f), false) => Regex::new(&f).map_or(Filter::All, Filter::Regex),
        };
        Self {
            filter,
            list_only: words.list,
        }
    }

    /// Whether criterion runs (or lists) the benchmark `id` (`group/function`).
    pub fn selects(&self, id: &str) -> bool {
        match &self.filter {
            Filter::All => true,
            Filter::Regex(r) => r.is_match(id),
            Filter::Exact(e) => e == id,
            Filter::Nothing => false,
        }
    }

    /// Whether a server must start for the benchmark `id`: it is selected and runs.
    pub fn needs_server(&self, id: &str) -> bool {
        !self.list_only && self.selects(id)
    }

    /// `--ignored`: nothing is selected, as asked.
    pub fn is_ignored(&self) -> bool {
        matches!(self.filter, Filter::Nothing)
    }

    /// The filter as given, for messages (none: everything is selected).
    pub fn describe(&self) -> Option<String> {
        match &self.filter {
            Filter::All => None,
            Filter::Regex(r) => Some(format!("'{}'", r.as_str())),
            Filter::Exact(e) => Some(format!("'{e}' (--exact)")),
            Filter::Nothing => Some("--ignored".into()),
        }
    }
}

/// The words of a command line that decide the selection.
#[derive(Debug, Default)]
struct Words {
    filter: Option<String>,
    exact: bool,
    ignored: bool,
    list: bool,
}

impl Words {
    /// `None` where a word is not one of criterion's options: the caller then
    /// selects everything rather than guess.
    fn read(args: &[String]) -> Option<Self> {
        let mut words = Self::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
            if arg == "--" {
                // Everything after is positional; the first is the filter.
                if words.filter.is_none() {
                    words.filter = rest.next().cloned();
                }
                break;
            } else if VALUED.contains(&name) {
                if !arg.contains('=') {
                    rest.next()?;
                }
            } else if FLAGS.contains(&arg.as_str()) {
                match arg.as_str() {
                    "--exact" => words.exact = true,
                    "--ignored" => words.ignored = true,
                    "--list" => words.list = true,
                    _ => {}
                }
            } else if arg.starts_with('-') {
                return None;
            } else if words.filter.is_none() {
                words.filter = Some(arg.clone());
            } else {
                // A second positional word: criterion refuses it itself.
                return None;
            }
        }
        Some(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(args: &[&str]) -> Selection {
        Selection::from_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    const A: &str = "resnet18-32px/bs1/eager/w1/shared/time";
    const B: &str = "resnet18-32px/bs4/torchscript/w2/dedicated/p99";

    #[test]
    fn no_filter_selects_everything_and_cargo_bench_s_own_flag_is_not_one() {
        let s = sel(&["--bench"]);
        assert!(s.selects(A) && s.selects(B) && !s.list_only);
        assert_eq!(s.describe(), None);
    }

    #[test]
    fn a_filter_is_a_regular_expression_matched_anywhere_in_the_id() {
        let s = sel(&["--bench", "bs4/torch"]);
        assert!(!s.selects(A));
        assert!(s.selects(B));
        let s = sel(&["--bench", "w[12]/shared/time$"]);
        assert!(s.selects(A));
        assert!(!s.selects(B));
    }

    #[test]
    fn the_value_of_a_valued_option_is_not_taken_for_the_filter() {
        // `--save-baseline main bs4` : the filter is bs4, not main.
        let s = sel(&["--bench", "--save-baseline", "main", "bs4"]);
        assert!(s.selects(B) && !s.selects(A));
        let s = sel(&["--bench", "--baseline=main", "bs4", "--sample-size", "10"]);
        assert!(s.selects(B) && !s.selects(A));
        let s = sel(&["-s", "bs1", "--bench"]);
        assert!(s.selects(A) && s.selects(B), "bs1 is the baseline's name");
    }

    #[test]
    fn exact_ignored_and_list_are_read_as_criterion_reads_them() {
        let s = sel(&["--bench", "--exact", A]);
        assert!(s.selects(A) && !s.selects(B));
        assert!(!sel(&["--bench", "--exact", "bs1"]).selects(A));
        let s = sel(&["--bench", "--ignored"]);
        assert!(!s.selects(A) && !s.selects(B));
        let s = sel(&["--bench", "--list", "bs4"]);
        assert!(s.list_only && s.selects(B) && !s.selects(A));
        assert!(!s.needs_server(B), "listing starts no server");
        assert!(sel(&["--bench", "bs4"]).needs_server(B));
    }

    #[test]
    fn a_command_line_it_cannot_read_selects_everything() {
        for args in [
            &["--bench", "--some-new-option", "x", "bs4"][..],
            &["--bench", "bs4", "bs1"][..],
            &["--bench", "--save-baseline"][..],
            &["--bench", "bs4(("][..],
        ] {
            let s = sel(args);
            assert!(s.selects(A) && s.selects(B), "{args:?}");
        }
    }

    #[test]
    fn after_a_double_dash_the_next_word_is_the_filter() {
        let s = sel(&["--bench", "--", "--odd"]);
        assert!(!s.selects(A));
        assert!(s.selects("x/--odd/time"));
    }
}
