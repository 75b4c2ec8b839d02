//! Which characters the form's text may hold. The topic becomes a course's
//! title and the other fields are shown beside it, in lists, mails and the
//! generation pipeline's prompts: characters that reorder the text around them
//! (`Rust \u{202E}nohtyP` reads "Rust Python"), break a line where one is
//! expected, or control a terminal are refused there, as in file names. The
//! marks Hebrew and Arabic titles need (LRM, RLM, ALM) stay allowed, and so
//! do the joiners of emoji and Indic scripts.

/// How a field is typed: one line (an `<input>`), or several (a `<textarea>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

/// Why `text` cannot be a value of a field typed on `lines`, naming the first
/// character at fault; `None` when it can.
pub fn refusal(text: &str, lines: Lines) -> Option<String> {
    // Printable ASCII is allowed everywhere: a byte scan skips it (most text,
    // on every autosave) before decoding characters, from a char boundary.
    let rest = first_unprintable(text.as_bytes())?;
    let c = text[rest..].chars().find(|&c| !allowed(c, lines))?;
    let what = match c {
        '\n' => "must be one line, without a line break",
        '\t' => "must be one line, without a tab",
        '\u{2028}' | '\u{2029}' => "must not contain a line or paragraph separator",
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => "must not contain a bidi control",
        _ => "must not contain a control character",
    };
    Some(format!("{what} (U+{:04X})", u32::from(c)))
}

/// Where the first byte outside printable ASCII is: 16 bytes at a time
/// without an early exit, a loop the compiler turns into vector compares,
/// then byte by byte from the chunk that holds it.
fn first_unprintable(bytes: &[u8]) -> Option<usize> {
    const CHUNK: usize = 16;
    let printable = |b: &u8| b.wrapping_sub(b' ') <= b'~' - b' ';
    let mut from = 0;
    for chunk in bytes.chunks_exact(CHUNK) {
        if !chunk.iter().fold(true, |all, b| all & printable(b)) {
            break;
        }
        from += CHUNK;
    }
    let at = bytes[from..].iter().position(|b| !printable(b))?;
    Some(from + at)
}

fn allowed(c: char, lines: Lines) -> bool {
    match c {
        '\n' | '\t' => lines == Lines::Multi,
        // Bidi embeddings, overrides and isolates, and the Unicode line and
        // paragraph separators (no field may break a line but with `\n`).
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' => false,
        // Cc: C0 and C1 controls, DEL, NEL (U+0085) and NUL among them.
        c => !c.is_control(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_outside_printable_ascii_is_found_wherever_it_is() {
        assert_eq!(first_unprintable(b""), None);
        assert_eq!(first_unprintable(&[b'a'; 40]), None);
        for at in [0, 1, 15, 16, 17, 31, 32, 39] {
            for bad in [0x1f, 0x7f, 0x80, 0xe2] {
                let mut bytes = vec![b' '; 40];
                bytes[at] = bad;
                bytes[39] = 0x7f;
                assert_eq!(first_unprintable(&bytes), Some(at), "{bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn bidi_controls_separators_and_control_characters_are_refused_everywhere() {
        let refused = [
            '\u{0}', '\u{7}', '\u{B}', '\u{C}', '\r', '\u{1B}', '\u{7F}', '\u{85}', '\u{9F}',
            '\u{2028}', '\u{2029}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ];
        for c in refused {
            for lines in [Lines::Single, Lines::Multi] {
                let message = refusal(&format!("Rust {c}course"), lines);
                let code = format!("U+{:04X}", u32::from(c));
                assert!(
                    message.as_deref().is_some_and(|m| m.contains(&code)),
                    "{code} in {lines:?}: {message:?}"
                );
            }
        }
    }

    #[test]
    fn line_breaks_and_tabs_belong_to_multi_line_fields_only() {
        for text in ["one\ntwo", "one\ttwo"] {
            assert!(refusal(text, Lines::Single).is_some(), "{text:?}");
            assert_eq!(refusal(text, Lines::Multi), None, "{text:?}");
        }
    }

    #[test]
    fn printable_ascii_is_kept_and_what_follows_it_still_checked() {
        let printable: String = (' '..='~').collect();
        assert_eq!(refusal(&printable, Lines::Single), None);
        let refused = refusal(&format!("{printable}é\u{202E}"), Lines::Single);
        assert!(refused.is_some_and(|m| m.contains("U+202E")));
    }

    #[test]
    fn marks_and_joiners_that_scripts_need_are_kept() {
        for text in [
            "קורס Rust\u{200F} למתחילים",
            "دورة\u{061C} Rust",
            "Rust\u{200E} course",
            "👩\u{200D}💻 Rust",
            "क्\u{200D}ष",
            "Основы Rust",
            "Rust 101 — the basics",
        ] {
            assert_eq!(refusal(text, Lines::Single), None, "{text:?}");
        }
    }
}
