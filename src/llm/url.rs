//! Where an OpenAI-compatible server is: `openai://HOST:PORT[/PREFIX]`, spoken as
//! plain HTTP (`http://HOST:PORT/PREFIX/completions`). The scheme is a name of the
//! protocol, not of a transport, so that `--target` says which protocol a run
//! measures the way `http://` (Open Inference Protocol REST) and `grpc://` do.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A parsed `openai://` URL; as JSON, the URL as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpenAiUrl {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The path before `/completions` (`/v1` unless another is given).
    pub prefix: String,
}

impl OpenAiUrl {
    /// `http://HOST:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    /// The full URL of an endpoint under the prefix (`completions`, `chat/completions`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}/{path}", self.origin(), self.prefix)
    }
}

impl std::str::FromStr for OpenAiUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::config(
                "target",
                format!("'{text}': {why}; expected openai://HOST:PORT or openai://HOST:PORT/v1"),
            )
        };
        let rest = text
            .strip_prefix("openai://")
            .ok_or_else(|| bad("the scheme must be openai://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("the port is missing"))?;
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port 0 is not a server's port"));
        }
        if path.contains(['?', '#', ' ']) {
            return Err(bad("the path may not hold a query, a fragment or spaces"));
        }
        let prefix = if path.is_empty() { "/v1" } else { path };
        Ok(Self {
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
        })
    }
}

impl TryFrom<String> for OpenAiUrl {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

impl From<OpenAiUrl> for String {
    fn from(url: OpenAiUrl) -> String {
        url.to_string()
    }
}

impl fmt::Display for OpenAiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "openai://{}:{}{}", self.host, self.port, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_defaults_to_v1_and_may_be_given() {
        let url: OpenAiUrl = "openai://127.0.0.1:8000".parse().unwrap();
        assert_eq!(
            url.endpoint("completions"),
            "http://127.0.0.1:8000/v1/completions"
        );
        let url: OpenAiUrl = "openai://h:9/api/v1/".parse().unwrap();
        assert_eq!(
            url.endpoint("chat/completions"),
            "http://h:9/api/v1/chat/completions"
        );
        assert_eq!(url.to_string(), "openai://h:9/api/v1");
    }

    #[test]
    fn bad_urls_are_refused_with_the_form_expected() {
        for bad in [
            "http://h:1",
            "openai://h",
            "openai://:80",
            "openai://h:x",
            "openai://h:0",
            "openai://h:1/v1?x",
        ] {
            let err = bad.parse::<OpenAiUrl>().unwrap_err().to_string();
            assert!(err.contains("openai://HOST:PORT"), "{bad}: {err}");
        }
    }
}
