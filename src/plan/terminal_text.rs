//! Text from outside (an audit event's object names, a snapshot's settings) made safe to print
//! on a terminal: control characters would let whoever wrote it move the cursor, rewrite or
//! erase lines, or set the window's title on the reader's terminal.

/// `text` with every control character (C0, DEL, C1, and the bidirectional overrides that
/// reorder what is shown) written as `\u{..}`, and a backslash as `\\`, so an escape cannot be
/// forged either.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape_controls("default/web"), "default/web");
        assert_eq!(
            escape_controls("x\u{1b}[2K\rforged\n"),
            "x\\u{1b}[2K\\u{d}forged\\u{a}"
        );
        assert_eq!(escape_controls("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape_controls("\\u{1b}"), "\\\\u{1b}");
        assert_eq!(escape_controls("naïve 名前"), "naïve 名前");
    }
}
