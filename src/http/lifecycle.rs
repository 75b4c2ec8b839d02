//! A course's life after its draft: the owner's lists, the trash, restore,
//! and erasing for good.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::paging::{PageBody, PageQuery};
use super::problem::{ApiError, AuthenticatedErrors, ProblemResponse};
use super::query::Query;
use super::schemas;
use super::AppState;
use crate::domain::ids::CourseId;
use crate::domain::{CourseList, Owner};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `true`: the trash (with `trashedAt` and `purgeAt`), most recently
    /// deleted first.
    #[serde(default)]
    trashed: bool,
}

/// The caller's courses, newest first, a page at a time; or the trash.
#[utoipa::path(get, path = "/api/v1/courses", tag = "courses",
    params(ListQuery, PageQuery),
    responses(
        (status = 200, description = "A page of courses", body = schemas::CoursePage),
        (status = 422, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn list_courses(
    state: web::Data<AppState>,
    owner: Owner,
    list: Query<ListQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let which = if list.trashed {
        CourseList::Trash
    } else {
        CourseList::Live
    };
    let courses = state
        .app
        .courses
        .list(owner, which, page.request()?)
        .await?;
    Ok(HttpResponse::Ok().json(PageBody::of(courses, |course| course)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true`: erase now, from the trash or not, instead of moving to the trash.
    #[serde(default)]
    permanent: bool,
}

/// Move the caller's course to the trash, with its files, restorable until
/// `purgeAt`; with `?permanent=true`, erase it now (its files and keys
/// follow within seconds, by the cleanup jobs, with retries). Deleting a
/// course in the trash again changes nothing.
#[utoipa::path(delete, path = "/api/v1/courses/{id}", tag = "courses",
    params(("id" = Uuid, Path, description = "Course id"), DeleteQuery),
    responses(
        (status = 200, description = "In the trash", body = schemas::CourseWithFiles),
        (status = 204, description = "Erased (`permanent=true`)"),
        (status = 404, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_course(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<CourseId>,
    query: Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    if query.permanent {
        state.app.courses.erase(owner, *id).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let course = state.app.courses.trash(owner, *id).await?;
    Ok(HttpResponse::Ok().json(course))
}

/// Bring the caller's course back from the trash, unchanged, with its files.
/// A course not in the trash is answered as it is; one past its `purgeAt` is
/// gone (404).
#[utoipa::path(post, path = "/api/v1/courses/{id}/restore", tag = "courses",
    params(("id" = Uuid, Path, description = "Course id")),
    responses(
        (status = 200, description = "Restored", body = schemas::CourseWithFiles),
        (status = 404, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn restore_course(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<CourseId>,
) -> Result<HttpResponse, ApiError> {
    let course = state.app.courses.restore(owner, *id).await?;
    Ok(HttpResponse::Ok().json(course))
}
