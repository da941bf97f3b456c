//! HTML to the Markdown-ish text the chunker reads: headings become `#` lines, block
//! elements end paragraphs, `script`/`style`/`head` are dropped, the common entities are
//! decoded and every other tag is removed. It reads tags, not a DOM: enough for help
//! pages and exported articles, and it never fails (malformed markup only loses tags).

/// The text of `html`, with headings as `#`…`######` lines and paragraphs apart.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skipping: Option<String> = None;
    while let Some(open) = rest.find('<') {
        if skipping.is_none() {
            out.push_str(&decode_entities(&rest[..open]));
        }
        let after = &rest[open + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(close) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = &after[..close];
        rest = &after[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(skipped) = &skipping {
            if closing && name == *skipped {
                skipping = None;
            }
            continue;
        }
        match name.as_str() {
            "script" | "style" | "head" | "template" | "noscript" if !closing => {
                skipping = Some(name);
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if closing {
                    out.push_str("\n\n");
                } else {
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    out.push_str("\n\n");
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
            }
            "p" | "div" | "section" | "article" | "ul" | "ol" | "table" | "pre" | "blockquote"
            | "tr" | "header" | "footer" | "main" | "aside" | "nav" => out.push_str("\n\n"),
            "br" => out.push('\n'),
            "li" if !closing => out.push_str("\n- "),
            "td" | "th" if !closing => out.push(' '),
            _ => {}
        }
    }
    if skipping.is_none() {
        out.push_str(&decode_entities(rest));
    }
    out
}

/// Decodes the named entities that matter in prose and numeric ones (`&#39;`, `&#x27;`).
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let entity = &after[..e];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity.strip_prefix('#').and_then(|n| {
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    }?;
                    char::from_u32(code).filter(|c| *c != '\0')
                }),
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_entities() {
        let html = "<html><head><title>x</title><style>p{}</style></head><body>\
            <h1>Returns &amp; refunds</h1><p>Send it back within <b>30</b> days.</p>\
            <!-- hidden --><script>alert(1)</script><h2 id=\"x\">Fees</h2><p>None&#33;</p></body></html>";
        let text = to_text(html);
        assert!(text.contains("# Returns & refunds"), "{text}");
        assert!(text.contains("Send it back within 30 days."), "{text}");
        assert!(text.contains("## Fees"), "{text}");
        assert!(text.contains("None!"), "{text}");
        assert!(!text.contains("alert") && !text.contains("hidden") && !text.contains("p{}"));
    }

    #[test]
    fn malformed_markup_does_not_fail() {
        assert_eq!(to_text("a < b &unknown; <p"), "a ");
        assert_eq!(to_text("&#0; &#xZZ;"), "&#0; &#xZZ;");
    }
}
