//! The ids draftd speaks of, one type each: a function taking a draft's id
//! and a course's cannot be handed them swapped. Each is a Uuid on the wire
//! and in the stores (serde transparent; the SQL mapping is in
//! `stores/postgres/ids.rs`, the domain knowing nothing of Postgres).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares an id newtype over a Uuid: `From<Uuid>`, `as_uuid`, `Display`
/// and `FromStr` as the Uuid's, serde as the bare Uuid.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

/// Implements `new()`, a random (v4) id, for the ids draftd draws itself.
macro_rules! drawn_id {
    ($($name:ident),+) => {
        $(impl $name {
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        })+
    };
}

uuid_id!(
    /// A draft session.
    DraftId
);
uuid_id!(
    /// A course, derived from its draft's id ([`super::course::course_id_for`]).
    CourseId
);
uuid_id!(
    /// A user, as the access token names them.
    UserId
);
uuid_id!(
    /// An organization, as the access token names it.
    OrgId
);
uuid_id!(
    /// A course's file.
    FileId
);
uuid_id!(
    /// A tus upload.
    UploadId
);

drawn_id!(DraftId, FileId, UploadId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_and_writes_as_its_uuid() {
        let uuid = Uuid::new_v4();
        let id = DraftId::from(uuid);
        assert_eq!(id.as_uuid(), uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(uuid.to_string().parse::<DraftId>().unwrap(), id);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            serde_json::to_string(&uuid).unwrap()
        );
        assert!("not-a-uuid".parse::<CourseId>().is_err());
    }
}
