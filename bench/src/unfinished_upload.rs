//! A multipart upload that stops part-way, as raw HTTP: what a crashed or
//! stalled client leaves. One home for the benchmark's crash (the hygiene
//! simulation) and the tests of stalls and crash residue
//! (tests/api/steps.rs includes this file).

use std::fmt::Display;

const BOUNDARY: &str = "draftd-unfinished";

/// The start of a multipart upload of a text file to `draft` by the holder
/// of `token`: the request's head, which announces 20 MiB more than
/// follows, and the body's first `len` bytes of the file.
pub fn unfinished_upload(draft: impl Display, token: &str, len: usize) -> (String, Vec<u8>) {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'a', len));
    let head = format!(
        "POST /api/v1/drafts/{draft}/files HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len() + (20 << 20),
    );
    (head, body)
}
