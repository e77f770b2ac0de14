//! Server-sent events, read as they arrive: bytes in, whole events out. A network
//! read may end anywhere (inside a line, inside a UTF-8 character), so the parser
//! keeps what it has not yet seen the end of; an event exists only once its blank
//! line has arrived, which is the moment a client could act on it.
//!
//! Only what OpenAI-compatible streams use is kept: the `data` lines of an event
//! (joined by newlines, as the specification says). Comments (`: keep-alive`),
//! `event`, `id` and `retry` lines are skipped.

/// An incremental parser of one stream.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes after the last line end.
    partial: Vec<u8>,
    /// `data` lines of the event being read.
    data: Vec<String>,
    /// Whether the event being read has any line at all.
    open: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes; returns the data of every event they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line(&line, &mut events);
            } else {
                self.partial.push(b);
            }
        }
        events
    }

    /// Whether the stream stopped inside an event (bytes or lines with no blank line
    /// after them): a stream cut short, even if what came was well formed.
    pub fn mid_event(&self) -> bool {
        self.open || !self.partial.is_empty()
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(self.data.join("\n"));
            }
            self.data.clear();
            self.open = false;
            return;
        }
        self.open = true;
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            self.data.push(value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole_and_only_at_their_blank_line() {
        let stream = b": keep-alive\n\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        // Every split point gives the same events.
        for cut in 0..stream.len() {
            let mut p = SseParser::new();
            let mut got = p.feed(&stream[..cut]);
            got.extend(p.feed(&stream[cut..]));
            assert_eq!(got, ["{\"a\":1}", "one\ntwo", "[DONE]"], "cut at {cut}");
            assert!(!p.mid_event());
        }
        let mut p = SseParser::new();
        assert!(p.feed(b"data: {\"a\":1}\n").is_empty());
        assert!(p.mid_event());
        assert_eq!(p.feed(b"\n"), ["{\"a\":1}"]);
    }

    #[test]
    fn a_character_split_across_reads_survives() {
        let text = "data: é\n\n".as_bytes();
        let mut p = SseParser::new();
        let mut got = p.feed(&text[..7]);
        got.extend(p.feed(&text[7..]));
        assert_eq!(got, ["é"]);
    }
}
