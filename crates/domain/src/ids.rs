//! Typed identifiers of the portal's entities (UUID v7: time-ordered, never sequential).

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the textual form used in URLs; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
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
    };
}

uuid_id!(
    /// A client company of the firm.
    TenantId
);
uuid_id!(
    /// A person who can sign in.
    UserId
);
uuid_id!(
    /// A background job.
    JobId
);
uuid_id!(
    /// An invoice or credit note.
    InvoiceId
);
uuid_id!(
    /// A customer (buyer) of a tenant.
    CustomerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip_through_text() {
        let first = TenantId::new();
        let second = TenantId::new();
        assert!(first < second);
        assert_eq!(TenantId::parse(&first.to_string()), Some(first));
        assert_eq!(TenantId::parse("1"), None);
    }
}
