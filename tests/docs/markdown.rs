//! The pages of the docs, their fenced code blocks, links and heading anchors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of the guide (docs/, its subfolders too), relative to
/// the root. docs/gpu-results/ is left out: it holds raw measured output, not pages.
pub fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut stack = vec![PathBuf::from("docs")];
    while let Some(dir) = stack.pop() {
        if dir == Path::new("docs/gpu-results") {
            continue;
        }
        let mut entries: Vec<_> = std::fs::read_dir(root().join(&dir))
            .expect("docs/ is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root())
                .expect("under the root")
                .to_path_buf();
            if path.is_dir() {
                stack.push(rel);
            } else if rel.extension().is_some_and(|e| e == "md") {
                pages.push(rel);
            }
        }
    }
    pages
}

/// A fenced code block: its language (the info string's first word) and lines.
#[derive(Debug)]
pub struct Block {
    pub page: PathBuf,
    /// 1-based line of the block's first content line.
    pub line: usize,
    pub lang: String,
    pub lines: Vec<String>,
}

/// Every fenced block of a page (fences may be indented, as in a list item).
pub fn blocks(page: &Path, text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(info)) => {
                let lang = info.split_whitespace().next().unwrap_or("").to_lowercase();
                open = Some((lang, i + 2, Vec::new()));
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                let (lang, line, lines) = open.take().expect("a block is open");
                out.push(Block {
                    page: page.to_path_buf(),
                    line,
                    lang,
                    lines,
                });
            }
            (Some((_, _, lines)), _) => lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "{}: a code block is never closed",
        page.display()
    );
    out
}

/// The text of a page outside its fenced blocks and inline code spans, line by line
/// (1-based), for finding links and headings.
pub fn prose(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            // Drop `code spans`: a `[x](y)` inside one is not a link.
            let mut kept = String::new();
            for (k, part) in line.split('`').enumerate() {
                if k % 2 == 0 {
                    kept.push_str(part);
                }
            }
            out.push((i + 1, kept));
        }
    }
    out
}

/// The targets of the markdown links and images on a page: (line, target).
pub fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (line, prose) in prose(text) {
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((line, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The anchors GitHub gives a page's headings: lower case, punctuation dropped,
/// spaces as hyphens; a repeated heading gains -1, -2, ….
pub fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        if fenced || !title.trim_start_matches('#').starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.push(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_become_github_anchors() {
        let text = "# The pipeline's bare forward and `OpenMP`\n## A/B in one job: CI\n## A/B in one job: CI\n```\n# not a heading\n```\n";
        assert_eq!(
            anchors(text),
            [
                "the-pipelines-bare-forward-and-openmp",
                "ab-in-one-job-ci",
                "ab-in-one-job-ci-1"
            ]
        );
    }

    #[test]
    fn links_outside_code_only() {
        let text = "see [a](a.md#x) and `[b](b.md)`\n```\n[c](c.md)\n```\n![plot](p.svg \"t\")\n";
        assert_eq!(
            links(text),
            [(1, "a.md#x".to_string()), (5, "p.svg".to_string())]
        );
    }

    #[test]
    fn blocks_with_their_language_and_line() {
        let b = blocks(
            Path::new("x.md"),
            "text\n```bash\na\nb\n```\n  ```toml\n  c = 1\n  ```\n",
        );
        assert_eq!(
            (b[0].lang.as_str(), b[0].line, b[0].lines.len()),
            ("bash", 3, 2)
        );
        assert_eq!((b[1].lang.as_str(), b[1].line), ("toml", 7));
    }
}
