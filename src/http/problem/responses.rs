//! The refusals routes share, for the OpenAPI document: each group is stated
//! once here and named in a route's `responses(...)`. Every refusal is a
//! problem details object ([`Problem`]).

#![allow(dead_code)] // describes the wire format for the OpenAPI document

use std::collections::BTreeMap;

use utoipa::openapi::response::Response;
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, ToResponse};

use super::Problem;

/// A group of problem answers described in place: one variant per status.
macro_rules! described {
    ($(#[$doc:meta])* $name:ident { $($status:tt $variant:ident $description:tt,)+ }) => {
        $(#[$doc])*
        #[derive(IntoResponses)]
        pub enum $name {
            $(
                #[response(
                    status = $status,
                    description = $description,
                    content_type = "application/problem+json"
                )]
                $variant(Problem),
            )+
        }
    };
}

/// One reusable problem answer, a component that routes refer to.
macro_rules! reusable {
    ($(#[$doc:meta])* $name:ident $description:tt) => {
        $(#[$doc])*
        #[derive(ToResponse)]
        #[response(description = $description, content_type = "application/problem+json")]
        pub struct $name(Problem);
    };
}

/// A group made of other groups and of statuses answered with
/// [`ProblemResponse`] (by reference).
macro_rules! composed {
    ($(#[$doc:meta])* $name:ident = $($group:ident +)* [$($status:tt),*]) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut responses = BTreeMap::new();
                $(responses.extend(<$group as IntoResponses>::responses());)*
                for status in [$($status),*] {
                    responses.insert(status.to_string(), problem_ref());
                }
                responses
            }
        }
    };
}

fn problem_ref() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(ProblemResponse::response().0))
}

described! {
    /// What every authenticated route may answer besides its own outcomes: a
    /// malformed request (400: several `Authorization` headers on every route;
    /// a malformed header, query or body where the route reads one), no
    /// valid token (401), a token that may not use the route (403: no `org_id`
    /// on a user route, no `service_role` on an admin route, a write of an
    /// organization or user being erased), a store that did
    /// not answer (503, with `Retry-After`).
    AuthenticatedErrors {
        400 BadRequest "A malformed request: several Authorization headers (on every route), or a malformed header, query parameter or body where the route reads one",
        401 Unauthorized "No valid access token",
        403 Forbidden "The access token may not use this route (no org_id, or no service_role), or, for a write, its organization or user is being erased",
        503 Unavailable "A store did not answer in time; retry after Retry-After",
    }
}

described! {
    /// What a route that names a draft, course or upload may answer about it.
    GoneErrors {
        404 NotFound "No such draft, course or upload of the caller's",
        410 Gone "Discarded (`draft-discarded`) or deleted for good (`course-deleted`): it will not come back",
    }
}

described! {
    /// What a route that reads a body may answer about it.
    BodyErrors {
        408 TooSlow "The body did not arrive within DRAFTD_BODY_DEADLINE_SECS, or stalled",
        413 TooLarge "The body is larger than the route takes",
        415 Unsupported "The body's media type is not one the route takes",
    }
}

reusable! {
    /// A public route's one refusal: in dev mode, a request whose `Host` is not
    /// a loopback name.
    NotLoopbackResponse "Dev mode only: the request's Host is not a loopback name"
}

reusable! {
    /// Every error answer: a problem details object.
    ProblemResponse "A problem (RFC 9457): see its type and detail"
}

composed! {
    /// What a write to a draft, its course or its files may be refused for:
    /// the draft or course gone, a conflict with its state (trashed,
    /// submitted, a quota), the write rate spent (429), and what every
    /// authenticated route may answer.
    DraftWriteErrors = GoneErrors + AuthenticatedErrors + [409, 429]
}

composed! {
    /// What a write to a resumable upload may be refused for besides a
    /// draft's: a `Tus-Resumable` other than 1.0.0 (412), the upload in use
    /// by another request (423).
    UploadWriteErrors = DraftWriteErrors + [412, 423]
}
