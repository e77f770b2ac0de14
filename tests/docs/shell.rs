//! Just enough of the shell's grammar to read a documented command line: quotes,
//! escapes, `$(…)`, comments, line continuations, redirections, and the operators
//! that join commands (`&&`, `||`, `|`, `;`, `&`). Nothing is expanded.

/// One simple command: its environment prefix (`NAME=value …`) and its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub env: Vec<(String, String)>,
    pub words: Vec<String>,
}

impl Command {
    /// The command as a reader would type it again (for failure messages).
    pub fn display(&self) -> String {
        let env = self.env.iter().map(|(k, v)| format!("{k}={v}"));
        let words = self.words.iter().map(|w| {
            if w.is_empty() || w.contains(char::is_whitespace) {
                format!("{w:?}")
            } else {
                w.clone()
            }
        });
        env.chain(words).collect::<Vec<_>>().join(" ")
    }
}

/// Lines of a script with continuations (`\` at the end) joined; each item is the
/// 0-based index of its first line and the joined text.
pub fn logical_lines(lines: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let (start, mut text) = current.take().unwrap_or((i, String::new()));
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix('\\') {
            text.push_str(body);
            text.push(' ');
            current = Some((start, text));
        } else {
            text.push_str(trimmed);
            out.push((start, text));
        }
    }
    if let Some(rest) = current {
        out.push(rest);
    }
    out
}

/// Splits one logical line into its simple commands. Errors are unbalanced quotes
/// or parentheses.
pub fn commands(line: &str) -> Result<Vec<Command>, String> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut redirect = false; // the next word is a redirection's target: dropped
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let finish_word =
        |words: &mut Vec<String>, word: &mut String, in_word: &mut bool, redirect: &mut bool| {
            if *in_word {
                if !*redirect {
                    words.push(std::mem::take(word));
                }
                word.clear();
                *redirect = false;
            }
            *in_word = false;
        };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => finish_word(&mut words, &mut word, &mut in_word, &mut redirect),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unbalanced single quote")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                i += end + 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unbalanced double quote".into()),
                        Some('"') => break,
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 1;
                        }
                        Some(&c) => word.push(c),
                    }
                    i += 1;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&next) = chars.get(i + 1) {
                    word.push(next);
                    i += 1;
                }
            }
            '$' if matches!(chars.get(i + 1), Some('(' | '{')) => {
                // Kept verbatim as part of the word: a substitution is not expanded.
                in_word = true;
                let (open, close) = if chars[i + 1] == '(' {
                    ('(', ')')
                } else {
                    ('{', '}')
                };
                let mut depth = 0;
                loop {
                    let c = *chars.get(i).ok_or("unbalanced $( or ${")?;
                    word.push(c);
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            '&' | '|' | ';' => {
                finish_word(&mut words, &mut word, &mut in_word, &mut redirect);
                if matches!(chars.get(i + 1), Some('&' | '|')) && chars[i + 1] == c {
                    i += 1;
                } else if c == '&' && chars.get(i + 1) == Some(&'>') {
                    // `&>file`: a redirection, not an operator.
                    redirect = true;
                    i += 2;
                    continue;
                }
                push_command(&mut commands, &mut words);
            }
            '>' | '<' => {
                // `2>` and `2>&1`: the file descriptor belongs to the redirection.
                if in_word && word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                } else {
                    finish_word(&mut words, &mut word, &mut in_word, &mut redirect);
                }
                while matches!(chars.get(i + 1), Some('>' | '<')) {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&'&') {
                    // `>&2`: the target is a descriptor, dropped with it.
                    i += 1;
                }
                redirect = true;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
        i += 1;
    }
    finish_word(&mut words, &mut word, &mut in_word, &mut redirect);
    push_command(&mut commands, &mut words);
    Ok(commands)
}

/// Ends a simple command: its leading `NAME=value` words are its environment.
fn push_command(commands: &mut Vec<Command>, words: &mut Vec<String>) {
    let all = std::mem::take(words);
    let split = all
        .iter()
        .position(|w| !is_assignment(w))
        .unwrap_or(all.len());
    let env = all[..split]
        .iter()
        .map(|w| {
            let (k, v) = w.split_once('=').expect("an assignment has '='");
            (k.to_string(), v.to_string())
        })
        .collect();
    let words = all[split..].to_vec();
    if !words.is_empty() {
        commands.push(Command { env, words });
    }
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Splits a flag string the way a shell would (for `ab --run "FLAGS"`).
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut commands = commands(text)?;
    match commands.len() {
        0 => Ok(Vec::new()),
        1 => {
            let c = commands.remove(0);
            Ok(c.env
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .chain(c.words)
                .collect())
        }
        _ => Err(format!("'{text}' is more than one command")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        commands(line)
            .unwrap()
            .into_iter()
            .map(|c| c.words)
            .collect()
    }

    #[test]
    fn quotes_comments_and_operators() {
        assert_eq!(
            words(r#"a --run "--x 1" 'b c' \"d  # comment"#),
            [vec!["a", "--run", "--x 1", "b c", "\"d"]]
        );
        assert_eq!(
            words("a && b | c; d || e"),
            [["a"], ["b"], ["c"], ["d"], ["e"]]
        );
        assert_eq!(words("a >/dev/null 2>&1 b 2> err c"), [["a", "b", "c"]]);
        assert_eq!(
            words("x --tag $(git rev-parse --short HEAD) y"),
            [vec!["x", "--tag", "$(git rev-parse --short HEAD)", "y"]]
        );
        assert_eq!(words("a#b"), [["a#b"]]);
    }

    #[test]
    fn environment_prefixes() {
        let c = &commands("A=1 B='x y' cargo bench C=2").unwrap()[0];
        assert_eq!(
            c.env,
            [("A".into(), "1".into()), ("B".into(), "x y".into())]
        );
        assert_eq!(c.words, ["cargo", "bench", "C=2"]);
    }

    #[test]
    fn continuations_join() {
        let lines: Vec<String> = ["a \\", "  b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            logical_lines(&lines),
            [(0, "a    b".to_string()), (2, "c".to_string())]
        );
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        assert!(commands("a 'b").is_err());
        assert!(commands("a \"b").is_err());
    }
}
