//! The domain's ids as SQL values: each is written and read as its Uuid
//! (a `uuid` column), so a query binds a `DraftId` where it bound a Uuid.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use uuid::Uuid;

use crate::domain::ids::{CourseId, DraftId, FileId, OrgId, UploadId, UserId};

type BoxError = Box<dyn Error + Sync + Send>;

macro_rules! sql_as_uuid {
    ($($name:ident),+) => {
        $(
            impl ToSql for $name {
                fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
                    self.as_uuid().to_sql(ty, out)
                }

                fn accepts(ty: &Type) -> bool {
                    <Uuid as ToSql>::accepts(ty)
                }

                to_sql_checked!();
            }

            impl<'a> FromSql<'a> for $name {
                fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
                    Uuid::from_sql(ty, raw).map(Self::from)
                }

                fn accepts(ty: &Type) -> bool {
                    <Uuid as FromSql<'_>>::accepts(ty)
                }
            }
        )+
    };
}

sql_as_uuid!(DraftId, CourseId, UserId, OrgId, FileId, UploadId);
