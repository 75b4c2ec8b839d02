//! Whether a file's bytes are what its declared type says, checked as they
//! stream by: [`ContentCheck`] is fed chunk by chunk and holds only the first
//! [`HEAD_BYTES`], a code point cut by a chunk boundary, and a ZIP header being
//! read.
//!
//! - PDF: begins with the `%PDF-` header (ISO 32000 §7.5.2). Stricter than
//!   "`%PDF` somewhere in the first KiB", which lets HTML wear a PDF comment.
//! - DOCX, PPTX (and XLSX): a ZIP package (a local file header first) with a
//!   `[Content_Types].xml` part and parts under `word/`, `ppt/` (or `xl/`).
//!   The entry names are read from every local file header in the stream, in
//!   any order and at any distance: `infer` 0.22's OOXML matcher looks for
//!   them at fixed positions in the first few KiB and misses real files (those
//!   python-docx and python-pptx write, `tests/fixtures/`; bojand/infer#130).
//! - `text/*`: valid UTF-8 without NUL over the whole stream.
//! - Other types `infer` has a matcher for: that matcher on the first bytes.
//! - Anything else: not checked.
//!
//! What was detected instead is named from the first bytes: by the checks
//! above, then by `infer`.

use super::upload::{UploadError, DOCX, PDF, PPTX, XLSX};

mod package;
mod saved;
mod text;

use package::{PackageScan, Part, ZIP_LOCAL_HEADER};
pub use saved::SavedCheck;
use text::Utf8Stream;

/// How much of a file's beginning is kept to check and name its type: what
/// `infer` reads from a file.
pub const HEAD_BYTES: usize = 8 * 1024;

/// What the declared type asks of the bytes.
enum Rule {
    /// The head starts with this signature.
    Starts(&'static [u8]),
    /// An OOXML package with this part.
    Package(Part, PackageScan),
    Text(Utf8Stream),
    /// `infer` knows the declared type: its matcher on the head.
    Infer,
    Unchecked,
}

/// Checks a file's bytes against its declared type as they stream by.
pub struct ContentCheck {
    declared: String,
    rule: Rule,
    head: Vec<u8>,
    head_checked: bool,
    seen: u64,
}

impl ContentCheck {
    /// The check for `declared`, a lowercase media type without parameters.
    pub fn new(declared: &str) -> Self {
        let rule = match declared {
            PDF => Rule::Starts(b"%PDF-"),
            DOCX => Rule::Package(Part::Word, PackageScan::default()),
            PPTX => Rule::Package(Part::Presentation, PackageScan::default()),
            XLSX => Rule::Package(Part::Spreadsheet, PackageScan::default()),
            t if t.starts_with("text/") => Rule::Text(Utf8Stream::default()),
            t if infer::is_mime_supported(t) => Rule::Infer,
            _ => Rule::Unchecked,
        };
        Self {
            declared: declared.to_owned(),
            rule,
            head: Vec::new(),
            head_checked: false,
            seen: 0,
        }
    }

    /// The next chunk of the file. An error refuses the file: feed no more.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.seen += chunk.len() as u64;
        let not_text = match &mut self.rule {
            Rule::Package(part, scan) if !scan.has(*part) => {
                scan.feed(chunk);
                None
            }
            Rule::Text(utf8) => utf8.feed(chunk).err(),
            _ => None,
        };
        if let Some(why) = not_text {
            return Err(self.not_text(why));
        }
        if self.head.len() >= HEAD_BYTES {
            self.check_head()?;
        }
        Ok(())
    }

    /// The end of the file: whatever could not be decided before is now.
    pub fn finish(mut self) -> Result<(), UploadError> {
        if self.seen == 0 {
            return Err(UploadError::Empty);
        }
        self.check_head()?;
        match &self.rule {
            Rule::Package(part, scan) if !scan.has(*part) => {
                let detected = scan
                    .detected()
                    .unwrap_or("a ZIP archive that is no Office document");
                Err(self.mismatch(detected))
            }
            Rule::Text(utf8) => match utf8.finish() {
                Ok(()) => Ok(()),
                Err(why) => Err(self.not_text(why)),
            },
            _ => Ok(()),
        }
    }

    /// Checks the rules that the head decides, once.
    fn check_head(&mut self) -> Result<(), UploadError> {
        if std::mem::replace(&mut self.head_checked, true) {
            return Ok(());
        }
        let matches = match &self.rule {
            Rule::Starts(signature) => self.head.starts_with(signature),
            Rule::Package(..) => self.head.starts_with(ZIP_LOCAL_HEADER),
            Rule::Infer => infer::is_mime(&self.head, &self.declared),
            Rule::Text(_) | Rule::Unchecked => true,
        };
        if matches {
            Ok(())
        } else {
            Err(self.mismatch(&detect(&self.head)))
        }
    }

    fn not_text(&self, why: String) -> UploadError {
        let name = detect(&self.head);
        let name = if name == "text/plain" {
            "binary data"
        } else {
            &name
        };
        self.mismatch(&format!("{name} ({why})"))
    }

    fn mismatch(&self, detected: &str) -> UploadError {
        UploadError::ContentMismatch {
            declared: self.declared.clone(),
            detected: detected.to_owned(),
        }
    }
}

/// Names the type of a file from its first bytes, as well as can be.
fn detect(head: &[u8]) -> String {
    if head.starts_with(b"%PDF-") {
        return PDF.to_owned();
    }
    if head.starts_with(ZIP_LOCAL_HEADER) {
        let mut scan = PackageScan::default();
        scan.feed(head);
        if let Some(package) = scan.detected() {
            return package.to_owned();
        }
    }
    match infer::get(head).map(|kind| kind.mime_type()) {
        // `infer` takes `%PDF` anywhere in the first KiB for a PDF; that one
        // was not, by the check above.
        None | Some(PDF) => {}
        // Without its `std` feature, `infer` names every OLE2 file so.
        Some("application/msword") => {
            return "a legacy Office file (OLE2: .doc, .xls or .ppt)".to_owned()
        }
        Some(mime) => return mime.to_owned(),
    }
    if infer::text::is_html(head) {
        return "text/html".to_owned();
    }
    if infer::text::is_xml(head) {
        return "text/xml".to_owned();
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return "UTF-16 text".to_owned();
    }
    let mut utf8 = Utf8Stream::default();
    if head.is_empty() || utf8.feed(head).is_err() {
        "binary data".to_owned()
    } else {
        "text/plain".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::package::tests::zip;
    use super::*;

    const MINIMAL_PDF: &[u8] =
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

    /// Feeds `content` in chunks of `size`, then finishes.
    fn check(declared: &str, content: &[u8], size: usize) -> Result<(), UploadError> {
        let mut check = ContentCheck::new(declared);
        for chunk in content.chunks(size) {
            check.feed(chunk)?;
        }
        check.finish()
    }

    fn detected(result: Result<(), UploadError>) -> String {
        match result {
            Err(UploadError::ContentMismatch { detected, .. }) => detected,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn a_pdf_begins_with_its_header() {
        for size in [1, 3, 4096] {
            assert!(check(PDF, MINIMAL_PDF, size).is_ok());
        }
        let html = b"<!DOCTYPE html><html><body>%PDF-1.4</body></html>";
        let refusal = check(PDF, html, 7).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "declared application/pdf, detected text/html"
        );
        assert_eq!(detected(check(PDF, b"%PD", 1)), "text/plain");
        assert_eq!(
            detected(check(PDF, b"MZ\x90\x00\x03\x00", 2)),
            "application/vnd.microsoft.portable-executable"
        );
    }

    #[test]
    fn a_mismatch_at_the_head_is_found_before_the_end() {
        let mut check = ContentCheck::new(PDF);
        let html = format!("<html>{}</html>", "x".repeat(HEAD_BYTES));
        assert!(check.feed(&html.as_bytes()[..100]).is_ok());
        assert!(check.feed(&html.as_bytes()[100..]).is_err());
    }

    #[test]
    fn text_is_utf8_without_nul_over_the_whole_stream() {
        let text = "Неделя 1: владение — 소유권 🦀\n".repeat(1000);
        for size in [1, 2, 3, 5, 8192] {
            assert!(check("text/plain", text.as_bytes(), size).is_ok(), "{size}");
            assert!(
                check("text/markdown", text.as_bytes(), size).is_ok(),
                "{size}"
            );
        }

        let mut with_nul = text.clone().into_bytes();
        with_nul.insert(HEAD_BYTES * 3, 0);
        for size in [1, 4096, 100_000] {
            assert_eq!(
                detected(check("text/plain", &with_nul, size)),
                format!("binary data (a NUL byte at byte {})", HEAD_BYTES * 3)
            );
        }

        // A code point cut short, with the cut across chunks.
        let mut invalid = text.clone().into_bytes();
        let at = invalid.iter().rposition(|b| *b == 0xF0).unwrap();
        invalid.truncate(at + 2);
        invalid.extend_from_slice(b"more");
        for size in [1, 2, 3, 4096] {
            assert_eq!(
                detected(check("text/plain", &invalid, size)),
                format!("binary data (invalid UTF-8 at byte {at})")
            );
        }
        // The file ends in the middle of a code point.
        let truncated = &text.as_bytes()[..text.len() - 3];
        assert!(
            detected(check("text/plain", truncated, 5)).contains("ends inside a UTF-8 sequence")
        );
        assert!(detected(check("text/plain", b"\xFF\xFEh\0i\0", 4096)).starts_with("UTF-16 text"));
        let pdf_as_text = [MINIMAL_PDF, b"\xE2\xE3\xCF\xD3"].concat();
        assert_eq!(
            detected(check("text/plain", &pdf_as_text, 4096)),
            format!("{PDF} (invalid UTF-8 at byte {})", MINIMAL_PDF.len())
        );
    }

    #[test]
    fn office_documents_are_zip_packages_with_their_parts() {
        let docx = zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("_rels/.rels", b"<Relationships/>"),
            ("word/document.xml", b"<w:document/>"),
        ]);
        let pptx = zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("ppt/presentation.xml", b"<p:presentation/>"),
        ]);
        for size in [1, 7, 4096] {
            assert!(check(DOCX, &docx, size).is_ok());
            assert!(check(PPTX, &pptx, size).is_ok());
        }
        assert_eq!(detected(check(DOCX, &pptx, 7)), PPTX);
        assert_eq!(detected(check(PPTX, &docx, 7)), DOCX);
        assert_eq!(detected(check(DOCX, MINIMAL_PDF, 7)), PDF);
        let archive = zip(&[("notes.txt", b"notes")]);
        assert_eq!(
            detected(check(DOCX, &archive, 7)),
            "a ZIP archive that is no Office document"
        );
        assert_eq!(detect(&archive), "application/zip");
        assert_eq!(detect(&docx), DOCX);
        let legacy = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0";
        assert!(detected(check(PPTX, legacy, 7)).starts_with("a legacy Office file"));
    }

    #[test]
    fn a_saved_check_goes_on_where_it_stopped() {
        let text = "Неделя 1 🦀\n".repeat(2000).into_bytes();
        let mut with_nul = text.clone();
        with_nul.push(0);
        for (content, ok) in [(&text, true), (&with_nul, false)] {
            let mut check = ContentCheck::new("text/plain");
            let mut result = Ok(());
            for chunk in content.chunks(4099) {
                let saved = serde_json::to_string(&check.save()).unwrap();
                check = ContentCheck::restore(serde_json::from_str(&saved).unwrap());
                result = result.and_then(|()| check.feed(chunk));
            }
            assert_eq!(result.and_then(|()| check.finish()).is_ok(), ok);
        }
        let docx = zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/d.xml", b"<w/>"),
        ]);
        let mut check = ContentCheck::new(DOCX);
        for chunk in docx.chunks(5) {
            check = ContentCheck::restore(check.save());
            check.feed(chunk).unwrap();
        }
        assert!(check.finish().is_ok());
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert!(matches!(
            check("text/plain", b"", 1),
            Err(UploadError::Empty)
        ));
        assert!(matches!(
            ContentCheck::new(PDF).finish(),
            Err(UploadError::Empty)
        ));
    }

    #[test]
    fn other_types_use_infer_where_it_has_a_matcher() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert!(check("image/png", png, 3).is_ok());
        assert_eq!(detected(check("image/png", b"GIF89a....", 3)), "image/gif");
        assert!(check("application/x-course-outline", b"\0anything", 3).is_ok());
    }
}
