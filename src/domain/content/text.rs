//! UTF-8 without NUL, validated chunk by chunk: a code point cut by a chunk
//! boundary waits (at most 3 bytes) for the rest of it in the next chunk.

/// Validates a stream of bytes as UTF-8 text without NUL.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Utf8Stream {
    /// The start of a code point that the last chunk cut off.
    pending: [u8; 3],
    pending_len: usize,
    /// Bytes fed before the current chunk.
    offset: u64,
}

/// The length of the UTF-8 sequence that `lead` starts.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

impl Utf8Stream {
    /// The next chunk; the error says what is wrong and where.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        // `contains` is memchr: the common case, no NUL, stays fast.
        if chunk.contains(&0) {
            let at = chunk.iter().position(|b| *b == 0).unwrap_or_default();
            return Err(format!("a NUL byte at byte {}", self.offset + at as u64));
        }
        let rest = self.complete_pending(chunk)?;
        let start = (chunk.len() - rest.len()) as u64;
        match std::str::from_utf8(rest) {
            Ok(_) => {}
            Err(e) if e.error_len().is_some() => {
                return Err(self.invalid_at(start + e.valid_up_to() as u64));
            }
            // The chunk ends inside a code point: keep its start for the next.
            Err(e) => {
                let cut = &rest[e.valid_up_to()..];
                self.pending[..cut.len()].copy_from_slice(cut);
                self.pending_len = cut.len();
            }
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// The end of the stream: no code point may be left unfinished.
    pub(super) fn finish(&self) -> Result<(), String> {
        if self.pending_len > 0 {
            return Err("the text ends inside a UTF-8 sequence".into());
        }
        Ok(())
    }

    /// Completes the code point the last chunk cut, from the start of this
    /// one; answers the rest of the chunk.
    fn complete_pending<'a>(&mut self, chunk: &'a [u8]) -> Result<&'a [u8], String> {
        if self.pending_len == 0 {
            return Ok(chunk);
        }
        let had = self.pending_len;
        let need = sequence_len(self.pending[0]);
        let take = (need - had).min(chunk.len());
        let mut sequence = [0u8; 4];
        sequence[..had].copy_from_slice(&self.pending[..had]);
        sequence[had..had + take].copy_from_slice(&chunk[..take]);
        let sequence = &sequence[..had + take];
        // The sequence starts before this chunk.
        let started = self.offset - had as u64;
        match std::str::from_utf8(sequence) {
            Ok(_) => self.pending_len = 0,
            Err(e) if e.error_len().is_some() => return Err(self.invalid_at_absolute(started)),
            // Still cut: this chunk was shorter than the rest of the code point.
            Err(_) => {
                self.pending[..sequence.len()].copy_from_slice(sequence);
                self.pending_len = sequence.len();
            }
        }
        Ok(&chunk[take..])
    }

    /// Where invalid UTF-8 starts, `at` counted from this chunk's start.
    fn invalid_at(&self, at: u64) -> String {
        self.invalid_at_absolute(self.offset + at)
    }

    fn invalid_at_absolute(&self, at: u64) -> String {
        format!("invalid UTF-8 at byte {at}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(content: &[u8], size: usize) -> Result<(), String> {
        let mut utf8 = Utf8Stream::default();
        for chunk in content.chunks(size) {
            utf8.feed(chunk)?;
        }
        utf8.finish()
    }

    #[test]
    fn code_points_cut_at_any_byte_are_joined() {
        let text = "a€b𝄞cдé\u{10FFFF}".repeat(7);
        for size in 1..=9 {
            assert_eq!(validate(text.as_bytes(), size), Ok(()), "{size}");
        }
    }

    #[test]
    fn invalid_sequences_are_found_wherever_the_chunks_cut() {
        // Overlong, surrogate, a stray continuation, a lead byte without its
        // continuation, beyond U+10FFFF.
        for bad in [
            &b"\xC0\x80"[..],
            b"\xED\xA0\x80",
            b"\x80",
            b"\xE2\x82x",
            b"\xF4\x90\x80\x80",
            b"\xFF",
        ] {
            let content = [&b"ok \xE2\x82\xAC "[..], bad, b" tail"].concat();
            for size in 1..=content.len() {
                assert_eq!(
                    validate(&content, size),
                    Err("invalid UTF-8 at byte 7".to_owned()),
                    "{bad:?} in chunks of {size}"
                );
            }
        }
    }

    #[test]
    fn a_nul_or_an_unfinished_end_is_refused() {
        assert_eq!(
            validate(b"abc\0def", 2),
            Err("a NUL byte at byte 3".to_owned())
        );
        for size in 1..=4 {
            assert_eq!(
                validate("ok €".as_bytes().split_last().unwrap().1, size),
                Err("the text ends inside a UTF-8 sequence".to_owned())
            );
        }
    }
}
