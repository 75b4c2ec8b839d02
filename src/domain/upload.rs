//! The rules an uploaded file must pass: a harmless name, an allowed type that
//! its extension agrees with, a size within the limit. What its bytes must look
//! like is [`super::content`]'s.

use std::path::Path;

pub const PDF: &str = "application/pdf";
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The media types whose extensions the service knows, with those extensions:
/// the ones accepted by default, and others an operator may accept or a client
/// may disguise. A type declared for a name must own the name's extension.
const EXTENSIONS: &[(&str, &[&str])] = &[
    (PDF, &["pdf"]),
    (DOCX, &["docx"]),
    (PPTX, &["pptx"]),
    (XLSX, &["xlsx"]),
    ("text/plain", &["txt", "text"]),
    ("text/markdown", &["md", "markdown"]),
    ("text/csv", &["csv"]),
    ("text/html", &["html", "htm"]),
    ("text/javascript", &["js", "mjs"]),
    ("application/json", &["json"]),
    ("application/xml", &["xml"]),
    ("application/zip", &["zip"]),
    ("application/epub+zip", &["epub"]),
    ("application/rtf", &["rtf"]),
    ("application/msword", &["doc"]),
    ("application/vnd.ms-powerpoint", &["ppt"]),
    ("application/vnd.ms-excel", &["xls"]),
    ("application/vnd.oasis.opendocument.text", &["odt"]),
    ("application/vnd.oasis.opendocument.presentation", &["odp"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/gif", &["gif"]),
    ("image/webp", &["webp"]),
    ("image/svg+xml", &["svg"]),
    (
        "application/vnd.microsoft.portable-executable",
        &["exe", "dll", "scr"],
    ),
    ("application/x-sh", &["sh"]),
    ("application/x-msdos-program", &["bat", "cmd", "com"]),
];

/// The extensions of a known media type.
fn extensions_of(media_type: &str) -> Option<&'static [&'static str]> {
    EXTENSIONS
        .iter()
        .find(|(t, _)| *t == media_type)
        .map(|(_, extensions)| *extensions)
}

/// The known media type an extension (lowercase) stands for.
fn type_of_extension(extension: &str) -> Option<&'static str> {
    EXTENSIONS
        .iter()
        .find(|(_, extensions)| extensions.contains(&extension))
        .map(|(t, _)| *t)
}

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("send the file as a multipart/form-data part named \"file\"")]
    MissingFile,
    #[error("the file name {0}")]
    BadName(&'static str),
    #[error("files of type {0} are not accepted")]
    UnsupportedType(String),
    /// The name's extension is not one of the declared type's.
    #[error("declared {declared}, but the file name has {found}")]
    ExtensionMismatch { declared: String, found: String },
    /// The bytes are not what the declared type says they are.
    #[error("declared {declared}, detected {detected}")]
    ContentMismatch { declared: String, detected: String },
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
    /// none or a generic one, the one its file extension implies. A declared
    /// type must own the name's extension (`text/plain` is `.txt`, not `.exe`);
    /// an accepted type the service knows no extensions of only refuses an
    /// extension that belongs to another type.
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
        let extension = name.extension();
        let implied = extension.as_deref().and_then(type_of_extension);
        let Some(declared) = declared else {
            return match implied {
                Some(t) if self.accepts(t) => Ok(t.to_owned()),
                Some(t) => Err(UploadError::UnsupportedType(t.to_owned())),
                None => Err(UploadError::UnsupportedType(
                    "application/octet-stream".into(),
                )),
            };
        };
        if !self.accepts(&declared) {
            return Err(UploadError::UnsupportedType(declared));
        }
        let owned = extensions_of(&declared);
        let agrees = match (owned, extension.as_deref()) {
            (Some(owned), Some(extension)) => owned.contains(&extension),
            (Some(_), None) => false,
            (None, _) => implied.is_none(),
        };
        if agrees {
            return Ok(declared);
        }
        let found = match (extension, implied) {
            (None, _) => "no extension".to_owned(),
            (Some(extension), Some(implied)) => format!("the extension .{extension} ({implied})"),
            (Some(extension), None) => format!("the extension .{extension}"),
        };
        let found = match owned {
            Some(owned) => format!("{found}; expected .{}", owned.join(" or .")),
            None => found,
        };
        Err(UploadError::ExtensionMismatch { declared, found })
    }

    fn accepts(&self, media_type: &str) -> bool {
        self.content_types.iter().any(|t| t == media_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> UploadRules {
        UploadRules {
            max_bytes: 1,
            content_types: [PDF, DOCX, PPTX, "text/plain", "text/markdown"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn name(raw: &str) -> FileName {
        FileName::parse(raw).unwrap()
    }

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
        let rules = rules();
        assert_eq!(
            rules.content_type(None, &name("notes.MD")).unwrap(),
            "text/markdown"
        );
        assert_eq!(
            rules
                .content_type(Some("application/octet-stream"), &name("a.pdf"))
                .unwrap(),
            PDF
        );
        assert!(matches!(
            rules.content_type(Some("image/png"), &name("a.pdf")),
            Err(UploadError::UnsupportedType(t)) if t == "image/png"
        ));
        assert!(matches!(
            rules.content_type(None, &name("a.exe")),
            Err(UploadError::UnsupportedType(_))
        ));
        assert!(matches!(
            rules.content_type(None, &name("README")),
            Err(UploadError::UnsupportedType(_))
        ));
    }

    #[test]
    fn a_declared_type_must_own_the_extension() {
        let rules = rules();
        for (declared, file) in [
            ("text/plain", "notes.txt"),
            ("text/plain; charset=utf-8", "notes.TEXT"),
            ("text/markdown", "plan.markdown"),
            (PDF, "plan.PDF"),
            (DOCX, "plan.docx"),
            (PPTX, "slides.pptx"),
        ] {
            assert!(
                rules.content_type(Some(declared), &name(file)).is_ok(),
                "{declared} {file}"
            );
        }
        let refusal =
            |declared: &str, file: &str| match rules.content_type(Some(declared), &name(file)) {
                Err(e @ UploadError::ExtensionMismatch { .. }) => e.to_string(),
                other => panic!("{declared} {file}: {other:?}"),
            };
        assert_eq!(
            refusal("text/plain", "run.exe"),
            "declared text/plain, but the file name has the extension .exe \
             (application/vnd.microsoft.portable-executable); expected .txt or .text"
        );
        assert_eq!(
            refusal(PDF, "plan.docx"),
            format!(
                "declared {PDF}, but the file name has the extension .docx ({DOCX}); expected .pdf"
            )
        );
        assert_eq!(
            refusal("text/markdown", "notes.txt"),
            "declared text/markdown, but the file name has the extension .txt (text/plain); \
             expected .md or .markdown"
        );
        assert_eq!(
            refusal(PDF, "plan.xyz"),
            format!("declared {PDF}, but the file name has the extension .xyz; expected .pdf")
        );
        assert_eq!(
            refusal("text/plain", "README"),
            "declared text/plain, but the file name has no extension; expected .txt or .text"
        );
    }

    #[test]
    fn an_operators_unknown_type_refuses_only_the_extensions_of_others() {
        let rules = UploadRules {
            max_bytes: 1,
            content_types: vec!["application/x-course-outline".into(), "image/png".into()],
        };
        let outline = Some("application/x-course-outline");
        assert!(rules.content_type(outline, &name("week1.outline")).is_ok());
        assert!(rules.content_type(outline, &name("week1")).is_ok());
        assert!(matches!(
            rules.content_type(outline, &name("week1.exe")),
            Err(UploadError::ExtensionMismatch { .. })
        ));
        assert_eq!(
            rules.content_type(None, &name("photo.png")).unwrap(),
            "image/png"
        );
        assert!(matches!(
            rules.content_type(Some("image/png"), &name("photo.jpg")),
            Err(UploadError::ExtensionMismatch { .. })
        ));
    }
}
