//! Query strings: `?name=value&…` into a typed struct. A parameter whose value
//! does not parse is a 400 `invalid-query` naming it, not a body error.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// `T` read from the request's query string (`actix_web::web::Query` loses
/// the parameter's name in its error).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Query))
    }
}

/// `T` from `query`; on failure, the parameter at fault when the parser names
/// one (a duplicate or a missing parameter is not under any one value).
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let parameter = (path != ".").then_some(path);
        ApiError::InvalidQuery {
            parameter,
            reason: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        #[serde(default)]
        dry_run: bool,
        limit: Option<usize>,
    }

    fn refused(query: &str) -> (Option<String>, String) {
        match parse::<Params>(query) {
            Err(ApiError::InvalidQuery { parameter, reason }) => (parameter, reason),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn a_value_that_does_not_parse_names_its_parameter() {
        assert_eq!(refused("limit=ten").0.as_deref(), Some("limit"));
        assert_eq!(refused("dryRun=yes&limit=1").0.as_deref(), Some("dryRun"));
        let (parameter, reason) = refused("limit=1&limit=2");
        assert_eq!(parameter, None);
        assert!(reason.contains("limit"), "{reason}");
    }

    #[test]
    fn good_queries_parse() {
        assert_eq!(
            parse::<Params>("dryRun=true&limit=5&other=x").ok(),
            Some(Params {
                dry_run: true,
                limit: Some(5)
            })
        );
        assert_eq!(
            parse::<Params>("").ok(),
            Some(Params {
                dry_run: false,
                limit: None
            })
        );
    }
}
