//! The upload a request's path names, `/api/v1/drafts/{id}/uploads/{upload_id}`:
//! the parameters every route of one upload takes, stated once for the
//! document and extracted once for the handlers.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::Required;
use utoipa::{IntoParams, PartialSchema};

use crate::domain::ids::{DraftId, UploadId};
use crate::http::problem::ApiError;

/// A draft's upload (a path that is not two ids: 404). The document's
/// parameters name `Tus-Resumable` too, which every handler checks itself: a
/// PATCH counts a refused one against the write rate.
pub struct UploadPath {
    pub draft_id: DraftId,
    pub upload_id: UploadId,
}

impl FromRequest for UploadPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let path = req.match_info().load::<(DraftId, UploadId)>();
        ready(match path {
            Ok((draft_id, upload_id)) => Ok(Self {
                draft_id,
                upload_id,
            }),
            Err(_) => Err(ApiError::NotFound),
        })
    }
}

impl IntoParams for UploadPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let parameter = |name: &str, parameter_in, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(parameter_in)
                .description(Some(description))
                .required(Required::True)
        };
        vec![
            parameter("id", ParameterIn::Path, "Draft id")
                .schema(Some(uuid()))
                .build(),
            parameter("upload_id", ParameterIn::Path, "Upload id")
                .schema(Some(uuid()))
                .build(),
            parameter("Tus-Resumable", ParameterIn::Header, "1.0.0")
                .schema(Some(String::schema()))
                .build(),
        ]
    }
}

fn uuid() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}
