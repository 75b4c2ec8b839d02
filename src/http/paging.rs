//! List routes' pages: `?limit=&cursor=` in, `{items, nextCursor}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::ApiError;
use crate::domain::page::{Cursor, Page, PageRequest, DEFAULT_PAGE, MAX_PAGE};
use crate::domain::FieldErrors;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: 1 to 100, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let mut errors = FieldErrors::default();
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            errors.add("limit", format!("must be between 1 and {MAX_PAGE}"));
        }
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => {
                let cursor = Cursor::decode(text);
                if cursor.is_none() {
                    errors.add("cursor", "is not a cursor this list gave");
                }
                cursor
            }
        };
        if errors.is_empty() {
            Ok(PageRequest { limit, after })
        } else {
            Err(errors.into())
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageBody<T> {
    pub items: Vec<T>,
    /// Pass it as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl<T> PageBody<T> {
    pub fn of<U>(page: Page<U>, item: impl FnMut(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(item).collect(),
            next_cursor: page.next.map(|cursor| cursor.encode()),
        }
    }
}
