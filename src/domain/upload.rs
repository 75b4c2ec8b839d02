//! The rules an uploaded file must pass: a harmless name, an allowed type, a
//! size within the limit.

use std::path::Path;

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("send the file as a multipart/form-data part named \"file\"")]
    MissingFile,
    #[error("the file name {0}")]
    BadName(&'static str),
    #[error("files of type {0} are not accepted")]
    UnsupportedType(String),
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("the upload broke off before the end of the file")]
    BrokeOff,
}

/// Unicode format characters (general category Cf): invisible, and the bidi
/// controls among them make `invoice\u{202E}fdp.exe` read `invoiceexe.pdf`.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

fn is_format_character(c: char) -> bool {
    FORMAT_CHARACTERS
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&c))
}

/// A client's file name: kept as metadata, never used as a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, UploadError> {
        let bad = |why| Err(UploadError::BadName(why));
        if raw.trim().is_empty() {
            return bad("is empty");
        }
        if raw.len() > 255 {
            return bad("is longer than 255 bytes");
        }
        if raw.chars().any(char::is_control) {
            return bad("contains control characters");
        }
        if raw.chars().any(is_format_character) {
            return bad("contains invisible formatting characters (such as bidi controls)");
        }
        if raw.contains(['/', '\\']) || raw == "." || raw == ".." {
            return bad("must be a plain name, not a path");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn extension(&self) -> Option<String> {
        Path::new(&self.0)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    }
}

/// The upload limits from configuration.
#[derive(Debug, Clone)]
pub struct UploadRules {
    pub max_bytes: u64,
    /// Accepted media types, lowercase, without parameters.
    pub content_types: Vec<String>,
}

impl UploadRules {
    /// The media type to record: the one the client declared, or, when it sent
    /// none or a generic one, the one its file extension implies.
    pub fn content_type(
        &self,
        declared: Option<&str>,
        name: &FileName,
    ) -> Result<String, UploadError> {
        let declared = declared
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|t| !t.is_empty() && t != "application/octet-stream");
        let resolved = declared.or_else(|| {
            let by_extension = match name.extension()?.as_str() {
                "pdf" => "application/pdf",
                "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "pptx" => {
                    "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                }
                "txt" => "text/plain",
                "md" | "markdown" => "text/markdown",
                _ => return None,
            };
            Some(by_extension.to_owned())
        });
        match resolved {
            Some(t) if self.content_types.contains(&t) => Ok(t),
            Some(t) => Err(UploadError::UnsupportedType(t)),
            None => Err(UploadError::UnsupportedType(
                "application/octet-stream".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_like_paths_are_refused() {
        for name in [
            "../../etc/passwd",
            "/etc/passwd",
            "a\\b.pdf",
            "a\0.pdf",
            "..",
            " ",
            "x\n.pdf",
        ] {
            assert!(FileName::parse(name).is_err(), "{name:?}");
        }
        assert!(FileName::parse("План курса (v2).pdf").is_ok());
        assert!(FileName::parse("강의 계획.docx").is_ok());
    }

    #[test]
    fn names_with_invisible_formatting_are_refused() {
        for name in [
            "invoice\u{202E}fdp.exe",
            "a\u{2066}b.txt",
            "a\u{2069}.txt",
            "zero\u{200B}width.pdf",
            "\u{FEFF}bom.txt",
            "soft\u{00AD}hyphen.md",
            "tag\u{E0041}.txt",
        ] {
            let refused = FileName::parse(name);
            assert!(
                matches!(refused, Err(UploadError::BadName(why)) if why.contains("formatting")),
                "{name:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn generic_types_fall_back_to_the_extension() {
        let rules = UploadRules {
            max_bytes: 1,
            content_types: vec!["application/pdf".into(), "text/markdown".into()],
        };
        let name = |n| FileName::parse(n).unwrap();
        assert_eq!(
            rules.content_type(None, &name("notes.MD")).unwrap(),
            "text/markdown"
        );
        assert_eq!(
            rules
                .content_type(Some("application/octet-stream"), &name("a.pdf"))
                .unwrap(),
            "application/pdf"
        );
        assert!(rules
            .content_type(Some("image/png"), &name("a.pdf"))
            .is_err());
        assert!(rules.content_type(None, &name("a.exe")).is_err());
    }
}
