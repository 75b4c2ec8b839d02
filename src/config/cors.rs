//! `DRAFTD_CORS_ORIGINS`: the origins whose pages may call the API from a
//! browser. Each entry is checked once, at start, and kept as the browser
//! writes it in `Origin` (lowercase, no default port), since that header is
//! compared byte for byte.

use std::fmt;

/// The listed origins, valid and normalized; empty: no CORS at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorsOriginError {
    #[error(
        "DRAFTD_CORS_ORIGINS: {0:?} is a wildcard; draftd allows listed origins only, \
         so name each one (https://app.example.com)"
    )]
    Wildcard(String),
    #[error(
        "DRAFTD_CORS_ORIGINS: {0:?} is not an origin: http or https, a host and an optional \
         port, nothing after them, not even a slash (https://app.example.com, \
         http://127.0.0.1:5173)"
    )]
    NotAnOrigin(String),
}

impl CorsOrigins {
    /// A comma-separated list; blank entries are skipped, repeated ones kept once.
    pub fn parse(list: &str) -> Result<Self, CorsOriginError> {
        let mut origins: Vec<String> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let origin = parse_origin(entry)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for CorsOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// One entry, as the browser serializes its origin.
fn parse_origin(entry: &str) -> Result<String, CorsOriginError> {
    if entry.contains('*') {
        return Err(CorsOriginError::Wildcard(entry.to_owned()));
    }
    let not_an_origin = || CorsOriginError::NotAnOrigin(entry.to_owned());
    // The URL parser would quietly drop a trailing slash, a stray tab or an
    // empty query: the authority is checked as written first.
    let (_, authority) = entry.split_once("://").ok_or_else(not_an_origin)?;
    let clean = |c: char| !(c.is_whitespace() || c.is_control() || "/?#@\\".contains(c));
    if authority.is_empty() || !authority.chars().all(clean) {
        return Err(not_an_origin());
    }
    let url = reqwest::Url::parse(entry).map_err(|_| not_an_origin())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(not_an_origin());
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &str) -> Vec<String> {
        CorsOrigins::parse(list).map(|o| o.0).unwrap_or_default()
    }

    #[test]
    fn origins_are_kept_as_a_browser_sends_them() {
        assert_eq!(
            origins(
                " https://App.Example.com , http://127.0.0.1:5173,,https://app.example.com:443"
            ),
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
        assert_eq!(
            origins("http://[0:0::1]:8080,http://localhost:80"),
            ["http://[::1]:8080", "http://localhost"]
        );
        assert!(CorsOrigins::parse("").is_ok_and(|o| o.is_empty()));
        assert!(CorsOrigins::parse(" , ").is_ok_and(|o| o.is_empty()));
    }

    #[test]
    fn anything_but_an_origin_is_refused_by_name() {
        for entry in ["*", "https://*.example.com", "http://*"] {
            assert_eq!(
                CorsOrigins::parse(&format!("https://ok.example,{entry}")),
                Err(CorsOriginError::Wildcard(entry.into()))
            );
        }
        for entry in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://app.example.com?",
            "https://app.example.com#top",
            "https://user@app.example.com",
            "https://app.exa mple.com",
            "https://app.example.com:99999",
            "https://app.example.com:port",
            "app.example.com",
            "//app.example.com",
            "ftp://app.example.com",
            "file:///etc",
            "https://",
            "null",
        ] {
            assert_eq!(
                CorsOrigins::parse(entry),
                Err(CorsOriginError::NotAnOrigin(entry.into())),
                "{entry}"
            );
        }
        let message = CorsOrigins::parse("https://a.example/")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.starts_with("DRAFTD_CORS_ORIGINS: \"https://a.example/\""));
    }

    #[test]
    fn a_bad_value_stops_the_configuration_from_parsing() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: crate::config::Config,
        }
        let parse = |value: &str| Cli::try_parse_from(["draftd", "--cors-origins", value]);

        let error = parse("https://app.example.com,*")
            .err()
            .map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("\"*\" is a wildcard")),
            "{error:?}"
        );
        let error = parse("https://app.example.com/")
            .err()
            .map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("\"https://app.example.com/\" is not an origin")),
            "{error:?}"
        );
        let listed = parse("https://app.example.com").map(|cli| cli.config.cors_origins);
        assert_eq!(
            listed.map(|o| o.to_string()).ok().as_deref(),
            Some("https://app.example.com")
        );
        assert!(crate::config::Config::defaults().cors_origins.is_empty());
    }
}
