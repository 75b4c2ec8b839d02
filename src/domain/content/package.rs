//! Which Office Open XML package a ZIP is, from the names in its local file
//! headers, read as the bytes stream by. Every entry of a ZIP has a local
//! header before its data, with its name in the clear (even when the sizes
//! follow the data, in a data descriptor), so the names are found in any
//! order, at any distance from the start. A header signature met by chance
//! inside compressed data only adds a name that matches nothing.

use super::super::upload::{DOCX, PPTX, XLSX};

/// The signature of a ZIP local file header, with which a ZIP file begins.
pub(super) const ZIP_LOCAL_HEADER: &[u8] = b"PK\x03\x04";
/// The fields between the signature and the name (versions, flags, method,
/// times, CRC, sizes, name and extra field lengths).
const HEADER_FIELDS: usize = 26;
/// The name's length, within those fields.
const NAME_LENGTH_AT: usize = 22;
/// Enough of a name to tell the parts below apart.
const NAME_PREFIX: usize = 32;
/// The part every Open Packaging Conventions package has.
const CONTENT_TYPES: &[u8] = b"[Content_Types].xml";

/// The part that makes a package a document of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Word,
    Presentation,
    Spreadsheet,
}

impl Part {
    const ALL: [Part; 3] = [Part::Word, Part::Presentation, Part::Spreadsheet];

    fn folder(self) -> &'static [u8] {
        match self {
            Part::Word => b"word/",
            Part::Presentation => b"ppt/",
            Part::Spreadsheet => b"xl/",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Part::Word => DOCX,
            Part::Presentation => PPTX,
            Part::Spreadsheet => XLSX,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Part::Word => 1,
            Part::Presentation => 2,
            Part::Spreadsheet => 4,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum State {
    /// Looking for a header signature; so many of its bytes matched.
    Seeking { matched: usize },
    Fields {
        bytes: [u8; HEADER_FIELDS],
        got: usize,
    },
    Name {
        full: usize,
        bytes: [u8; NAME_PREFIX],
        got: usize,
    },
}

/// The names of a ZIP's entries, as far as they tell an Office document.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct PackageScan {
    state: State,
    content_types: bool,
    parts: u8,
}

impl Default for PackageScan {
    fn default() -> Self {
        Self {
            state: State::Seeking { matched: 0 },
            content_types: false,
            parts: 0,
        }
    }
}

impl PackageScan {
    /// The next bytes of the ZIP.
    pub(super) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Seeking { matched: 0 } => {
                    let Some(at) = data.iter().position(|b| *b == ZIP_LOCAL_HEADER[0]) else {
                        return;
                    };
                    data = &data[at + 1..];
                    self.state = State::Seeking { matched: 1 };
                }
                State::Seeking { matched } => {
                    let byte = data[0];
                    data = &data[1..];
                    if byte == ZIP_LOCAL_HEADER[*matched] {
                        *matched += 1;
                        if *matched == ZIP_LOCAL_HEADER.len() {
                            self.state = State::Fields {
                                bytes: [0; HEADER_FIELDS],
                                got: 0,
                            };
                        }
                    } else {
                        *matched = usize::from(byte == ZIP_LOCAL_HEADER[0]);
                    }
                }
                State::Fields { bytes, got } => {
                    let take = (HEADER_FIELDS - *got).min(data.len());
                    bytes[*got..*got + take].copy_from_slice(&data[..take]);
                    *got += take;
                    data = &data[take..];
                    if *got == HEADER_FIELDS {
                        let full = usize::from(u16::from_le_bytes([
                            bytes[NAME_LENGTH_AT],
                            bytes[NAME_LENGTH_AT + 1],
                        ]));
                        self.state = State::Name {
                            full,
                            bytes: [0; NAME_PREFIX],
                            got: 0,
                        };
                    }
                }
                State::Name { full, bytes, got } => {
                    let want = (*full).min(NAME_PREFIX);
                    let take = (want - *got).min(data.len());
                    bytes[*got..*got + take].copy_from_slice(&data[..take]);
                    *got += take;
                    data = &data[take..];
                    if *got == want {
                        let (full, prefix) = (*full, *bytes);
                        self.saw(full, &prefix[..want]);
                        self.state = State::Seeking { matched: 0 };
                    }
                }
            }
        }
    }

    /// An entry's name: its full length, and its first bytes.
    fn saw(&mut self, full: usize, prefix: &[u8]) {
        if full == CONTENT_TYPES.len() && prefix == CONTENT_TYPES {
            self.content_types = true;
        }
        for part in Part::ALL {
            if prefix.starts_with(part.folder()) {
                self.parts |= part.bit();
            }
        }
    }

    /// The package has this part, and the content types every package has.
    pub(super) fn has(&self, part: Part) -> bool {
        self.content_types && self.parts & part.bit() != 0
    }

    /// The kind of Office document the names so far make it, if any.
    pub(super) fn detected(&self) -> Option<&'static str> {
        Part::ALL
            .into_iter()
            .find(|part| self.has(*part))
            .map(Part::media_type)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ZIP of stored (uncompressed) entries. CRCs are left at zero: nothing
    /// here reads them.
    pub(crate) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            out.extend_from_slice(ZIP_LOCAL_HEADER);
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            let size = u32::try_from(data.len()).unwrap().to_le_bytes();
            out.extend_from_slice(&size);
            out.extend_from_slice(&size);
            out.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    fn scan(content: &[u8], size: usize) -> PackageScan {
        let mut scan = PackageScan::default();
        for chunk in content.chunks(size) {
            scan.feed(chunk);
        }
        scan
    }

    #[test]
    fn parts_are_found_in_any_order_at_any_distance() {
        let big = vec![b'P'; 100_000];
        // As python-docx writes them: docProps before word/, which infer misses.
        let docx = zip(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("_rels/.rels", b"<Relationships/>"),
            ("docProps/core.xml", &big),
            ("word/document.xml", b"<w:document/>"),
        ]);
        // As LibreOffice orders them: [Content_Types].xml last.
        let pptx = zip(&[
            ("_rels/.rels", b"<Relationships/>"),
            ("ppt/slides/slide1.xml", &big),
            ("ppt/presentation.xml", b"<p:presentation/>"),
            ("[Content_Types].xml", b"<Types/>"),
        ]);
        for size in [1, 2, 5, 31, 4096, 1 << 20] {
            assert_eq!(scan(&docx, size).detected(), Some(DOCX), "{size}");
            assert!(scan(&docx, size).has(Part::Word));
            assert!(!scan(&docx, size).has(Part::Presentation));
            assert_eq!(scan(&pptx, size).detected(), Some(PPTX), "{size}");
        }
    }

    #[test]
    fn a_zip_without_content_types_or_parts_is_no_document() {
        let plain = zip(&[("word/document.xml", b"x"), ("notes.txt", b"x")]);
        assert_eq!(scan(&plain, 3).detected(), None);
        let package = zip(&[("[Content_Types].xml", b"x"), ("customXml/item1.xml", b"x")]);
        assert_eq!(scan(&package, 3).detected(), None);
        // A name that only starts like the content types is another name.
        let lookalike = zip(&[
            ("[Content_Types].xml.bak", b"x"),
            ("word/document.xml", b"x"),
        ]);
        assert_eq!(scan(&lookalike, 3).detected(), None);
    }
}
