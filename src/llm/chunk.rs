//! What one answer of an OpenAI-compatible server says: the text it adds (a
//! streamed chunk's `choices[0].text` or `choices[0].delta.content`, a whole
//! answer's `text` or `message.content`), the token counts of its `usage`, or the
//! error it reports. Anything else (no `choices`, not JSON) is an error that names
//! what came, so that a server answering HTML or nonsense never counts as fast.

use serde_json::Value;

/// The server's own token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// `prompt_tokens`.
    pub prompt: Option<u64>,
    /// `completion_tokens`.
    pub completion: Option<u64>,
}

/// One parsed answer or chunk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    /// The text it adds (empty for a role-only or usage-only chunk).
    pub text: String,
    /// Its `usage`, when present and not null.
    pub usage: Option<Usage>,
    /// `finish_reason`, when set.
    pub finish_reason: Option<String>,
}

/// Parses one chunk or answer; `Err` says what is wrong with it, quoting its start.
pub fn parse(data: &str) -> Result<Chunk, String> {
    let value: Value =
        serde_json::from_str(data).map_err(|_| format!("not JSON: {}", quote(data)))?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string());
        return Err(format!("the server reported an error: {message}"));
    }
    let usage = value.get("usage").filter(|u| !u.is_null()).map(|u| Usage {
        prompt: u.get("prompt_tokens").and_then(Value::as_u64),
        completion: u.get("completion_tokens").and_then(Value::as_u64),
    });
    let Some(choices) = value.get("choices").and_then(Value::as_array) else {
        return Err(format!("no `choices` in {}", quote(data)));
    };
    let mut chunk = Chunk {
        usage,
        ..Chunk::default()
    };
    if let Some(choice) = choices.first() {
        let text = choice
            .get("text")
            .or_else(|| choice.pointer("/delta/content"))
            .or_else(|| choice.pointer("/message/content"));
        if let Some(text) = text.and_then(Value::as_str) {
            chunk.text = text.to_string();
        }
        chunk.finish_reason = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(chunk)
}

/// The first 120 characters of a body, for an error message.
pub fn quote(body: &str) -> String {
    let short: String = body.chars().take(120).collect();
    let more = if body.chars().count() > 120 {
        "…"
    } else {
        ""
    };
    format!("'{}{more}'", short.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_chat_usage_and_whole_answers_parse() {
        let c = parse(r#"{"choices":[{"text":"Hi","finish_reason":null}]}"#).unwrap();
        assert_eq!((c.text.as_str(), c.usage), ("Hi", None));
        let c = parse(r#"{"choices":[{"delta":{"content":" there"}}],"usage":null}"#).unwrap();
        assert_eq!(c.text, " there");
        let c =
            parse(r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#).unwrap();
        assert_eq!(
            c.usage,
            Some(Usage {
                prompt: Some(7),
                completion: Some(3)
            })
        );
        let c = parse(r#"{"choices":[{"message":{"role":"assistant","content":"ok"},"finish_reason":"length"}]}"#).unwrap();
        assert_eq!(
            (c.text.as_str(), c.finish_reason.as_deref()),
            ("ok", Some("length"))
        );
    }

    #[test]
    fn errors_html_and_other_json_are_refused_by_what_they_are() {
        let e = parse(r#"{"error":{"message":"model not found"}}"#).unwrap_err();
        assert!(e.contains("model not found"), "{e}");
        let e = parse("<html><body>502 Bad Gateway</body></html>").unwrap_err();
        assert!(e.starts_with("not JSON") && e.contains("<html>"), "{e}");
        let e = parse(r#"{"outputs":[]}"#).unwrap_err();
        assert!(e.contains("no `choices`"), "{e}");
    }
}
