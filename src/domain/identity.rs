//! Who an access token names. draftd's user and organization ids are UUIDs; an
//! identity provider's may be any string (Auth0's `auth0|…`, Clerk's `user_…`
//! and `org_…`). Such an id is mapped, the same way everywhere (the token check,
//! the admin erase, `draftd erase`), to a UUID of its issuer's namespace:
//!
//! - namespace = UUIDv5(`NAMESPACE_URL`, issuer), the issuer being the token's
//!   `iss` claim, or the empty string for a token without one;
//! - id = the id itself when it parses as a UUID, else UUIDv5(namespace, id).
//!
//! And where in a token's claims the organization and the role are: a
//! [`ClaimPath`].

use serde_json::{Map, Value};
use uuid::Uuid;

/// The namespace of one issuer's ids: UUIDv5(`NAMESPACE_URL`, issuer).
pub fn issuer_namespace(issuer: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, issuer.as_bytes())
}

/// The UUID of an id a token (or an operator) gives: a UUID stands for itself;
/// any other string is UUIDv5(the issuer's namespace, the string). `None` for
/// an empty string, which names nobody.
pub fn external_id(issuer: &str, id: &str) -> Option<Uuid> {
    if id.is_empty() {
        return None;
    }
    Some(
        Uuid::parse_str(id)
            .unwrap_or_else(|_| Uuid::new_v5(&issuer_namespace(issuer), id.as_bytes())),
    )
}

/// The most dots a claim path may hold: resolving one tries each way of
/// grouping its segments into member names.
const MAX_PATH_DOTS: usize = 8;

/// Where a claim is in a token's claims: member names joined by dots,
/// `app_metadata.org_id` being the `org_id` member of the `app_metadata`
/// object. A member name may itself hold dots (Auth0's namespaced claims,
/// `https://example.com/org_id`): at each level the longest run of segments
/// that names a member is taken first, so the whole path, as one name, wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(String);

impl ClaimPath {
    pub fn parse(path: &str) -> Result<Self, String> {
        if path.trim().is_empty() {
            return Err("a claim path names at least one member".into());
        }
        if path.matches('.').count() > MAX_PATH_DOTS {
            return Err(format!("a claim path has at most {MAX_PATH_DOTS} dots"));
        }
        Ok(Self(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The claim's value, if the token has it.
    pub fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        resolve(claims, &self.0)
    }
}

impl std::fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn resolve<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    path.rmatch_indices('.')
        .find_map(|(dot, _)| match object.get(&path[..dot]) {
            Some(Value::Object(inner)) => resolve(inner, &path[dot + 1..]),
            _ => None,
        })
}

/// Whether a role claim names `role`: the claim is that string, or an array
/// holding it (Keycloak's `realm_access.roles`).
pub fn names_role(claim: &Value, role: &str) -> bool {
    match claim {
        Value::String(name) => name == role,
        Value::Array(names) => names.iter().any(|name| name.as_str() == Some(role)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn ids_map_as_pythons_uuid_module_computes_them() {
        // uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, issuer), sub), in Python.
        assert_eq!(
            external_id(
                "https://example.eu.auth0.com/",
                "auth0|6541f1b1c5a4f1e3a2b1c0d9"
            ),
            Some(Uuid::from_u128(0x0324700e_214a_5594_a367_f7c87872b5f1))
        );
        assert_eq!(
            issuer_namespace(""),
            Uuid::from_u128(0x1b4db7eb_4057_5ddf_91e0_36dec72071f5)
        );
        assert_eq!(
            external_id("", "user_2abcDEF"),
            Some(Uuid::from_u128(0xbbaeb704_a127_56cb_9f36_5a183b5631ea))
        );
    }

    #[test]
    fn a_uuid_stands_for_itself_and_an_empty_id_for_nobody() {
        let id = Uuid::new_v4();
        assert_eq!(external_id("https://issuer/", &id.to_string()), Some(id));
        assert_eq!(external_id("https://issuer/", ""), None);
        assert_ne!(external_id("a", "alice"), external_id("b", "alice"));
    }

    #[test]
    fn paths_reach_nested_members_and_names_with_dots() {
        let token = claims(json!({
            "org_id": "top",
            "app_metadata": {"org_id": "nested"},
            "https://example.com/org_id": "namespaced",
            "https://example.com/claims": {"org": "inside a namespaced object"},
            "realm_access": {"roles": ["offline_access", "service_role"]},
        }));
        let find = |path: &str| ClaimPath::parse(path).unwrap().find(&token).cloned();
        assert_eq!(find("org_id"), Some(json!("top")));
        assert_eq!(find("app_metadata.org_id"), Some(json!("nested")));
        assert_eq!(
            find("https://example.com/org_id"),
            Some(json!("namespaced"))
        );
        assert_eq!(
            find("https://example.com/claims.org"),
            Some(json!("inside a namespaced object"))
        );
        assert_eq!(find("app_metadata.missing"), None);
        assert_eq!(find("org_id.deeper"), None);
        let roles = find("realm_access.roles").unwrap();
        assert!(names_role(&roles, "service_role"));
        assert!(!names_role(&json!(["service_role_x"]), "service_role"));
        assert!(names_role(&json!("service_role"), "service_role"));
        assert!(!names_role(&json!({"service_role": true}), "service_role"));
    }

    #[test]
    fn the_longest_name_wins_and_a_dead_end_falls_back_to_a_shorter_one() {
        let token = claims(json!({"a.b": {"c": 1}, "a": {"b": {"c": 2}}}));
        assert_eq!(
            ClaimPath::parse("a.b.c").unwrap().find(&token),
            Some(&json!(1))
        );
        let token = claims(json!({"a.b": "not an object", "a": {"b": {"c": 2}}}));
        assert_eq!(
            ClaimPath::parse("a.b.c").unwrap().find(&token),
            Some(&json!(2))
        );
    }

    #[test]
    fn empty_or_deep_paths_are_refused() {
        assert!(ClaimPath::parse("").is_err());
        assert!(ClaimPath::parse("  ").is_err());
        assert!(ClaimPath::parse("a.b.c.d.e.f.g.h.i.j").is_err());
    }
}
