//! The one list query every admin collection shares: a [`Filter`] over
//! allow-listed fields, an optional sort, and a page. The HTTP layer builds
//! the filter from `field=value` parameters (each an equality or bound
//! over a [`Field`]) ANDed with the `query=` filter language (over the
//! collection's [`query::Field`]s); the SQL store turns it into a statement
//! whose column expressions come only from these tables and whose values
//! are all bound parameters.

use crate::query::{self, Filter, Op};

/// What a field's values look like, so the HTTP layer can parse them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Int,
    Text,
    Bool,
    /// RFC 3339 in the API, unix milliseconds in the store.
    Time,
    /// Text limited to these values.
    OneOf(&'static [&'static str]),
}

/// One field a collection may be filtered or sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name in the API (camelCase).
    pub name: &'static str,
    /// The SQL expression it stands for: a column, or a fixed expression
    /// such as "live". Never built from client input.
    pub sql: &'static str,
    pub kind: FieldKind,
    /// How `name=value` filters compare (`None`: not a filter).
    pub filter: Option<Op>,
    pub sortable: bool,
}

impl Field {
    /// A field one can filter by equality and sort by.
    pub const fn column(name: &'static str, sql: &'static str, kind: FieldKind) -> Field {
        Field {
            name,
            sql,
            kind,
            filter: Some(Op::Eq),
            sortable: true,
        }
    }

    /// A filter-only field with its own comparison (e.g. `createdAfter`).
    pub const fn bound(name: &'static str, sql: &'static str, kind: FieldKind, op: Op) -> Field {
        Field {
            name,
            sql,
            kind,
            filter: Some(op),
            sortable: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sort {
    pub field: &'static Field,
    pub descending: bool,
}

/// A page of a collection; `limit` is already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// `None`: every row.
    pub filter: Option<Filter>,
    /// `None`: the collection's own order (its id, ascending).
    pub sort: Option<Sort>,
    /// Rows to skip before this page.
    pub offset: u64,
    pub limit: u32,
}

/// One page of rows and how many rows match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// An admin collection's allow-lists: what `sort=` and `field=value` take,
/// and what its `query=` filter may name. Only safe, meaningful columns:
/// never a password or token hash.
pub struct Collection {
    pub fields: &'static [Field],
    pub query: &'static [query::Field],
}

/// The allow-lists of every admin collection, with the SQL each field
/// stands for (table aliases as in `sqlite/admin.rs`).
pub mod fields {
    use super::{Collection, Field, FieldKind, Op};
    use crate::query::{Field as Q, FieldType as T};

    const ROLES: &[&str] = &["owner", "admin", "member"];
    const ROOM_KINDS: &[&str] = &["direct", "group", "channel"];
    const MESSAGE_KINDS: &[&str] = &[
        "text", "image", "file", "audio", "video", "voice", "link", "system",
    ];
    /// Equality and set tests, for text that names one of a few values.
    const CHOICE_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::In];
    /// A session neither revoked nor expired, now (unix ms, as stored).
    const LIVE: &str =
        "(s.revoked_at IS NULL AND s.expires_at > CAST(unixepoch('subsec') * 1000 AS INTEGER))";

    /// A sort-only field (a time, say, whose equality means little).
    const fn sort_only(name: &'static str, sql: &'static str, kind: FieldKind) -> Field {
        Field {
            name,
            sql,
            kind,
            filter: None,
            sortable: true,
        }
    }

    /// `query=` takes what `GET /api/users` takes; `users u` is the only
    /// table, so its bare columns are unambiguous.
    pub static USERS: Collection = Collection {
        fields: &[
            Field::column("id", "u.id", FieldKind::Int),
            Field::column("login", "u.login", FieldKind::Text),
            Field::column("name", "u.name", FieldKind::Text),
            sort_only("createdAt", "u.created_at", FieldKind::Time),
            Field::bound("createdAfter", "u.created_at", FieldKind::Time, Op::Ge),
            Field::bound("createdBefore", "u.created_at", FieldKind::Time, Op::Lt),
        ],
        query: crate::store::USER_FILTER_FIELDS,
    };

    /// `query=` takes what `GET /api/rooms` takes (the same `r` alias).
    pub static ROOMS: Collection = Collection {
        fields: &[
            Field::column("id", "r.id", FieldKind::Int),
            Field::column("type", "r.kind", FieldKind::OneOf(ROOM_KINDS)),
            Field::column("name", "r.name", FieldKind::Text),
            Field::column("public", "r.public", FieldKind::Bool),
            Field::column("creatorId", "r.creator_id", FieldKind::Int),
            sort_only("createdAt", "r.created_at", FieldKind::Time),
            Field::bound("createdAfter", "r.created_at", FieldKind::Time, Op::Ge),
            Field::bound("createdBefore", "r.created_at", FieldKind::Time, Op::Lt),
        ],
        query: crate::store::ROOM_FILTER_FIELDS,
    };

    pub static PARTICIPANTS: Collection = Collection {
        fields: &[
            Field::column("id", "u.id", FieldKind::Int),
            Field::column("login", "u.login", FieldKind::Text),
            Field::column("name", "u.name", FieldKind::Text),
            Field::column("role", "p.role", FieldKind::OneOf(ROLES)),
            sort_only("joinedAt", "p.joined_at", FieldKind::Time),
        ],
        query: &[
            Q::new("id", "u.id", T::Integer),
            Q::new("login", "u.login", T::Text),
            Q::new("name", "u.name", T::Text),
            Q::new("role", "p.role", T::Text).with_ops(CHOICE_OPS),
            Q::new("joinedAt", "p.joined_at", T::Timestamp),
        ],
    };

    pub static MESSAGES: Collection = Collection {
        fields: &[
            Field::column("roomId", "m.room_id", FieldKind::Int),
            Field::column("seq", "m.seq", FieldKind::Int),
            Field::column("senderId", "m.sender_id", FieldKind::Int),
            Field::column("type", "m.kind", FieldKind::OneOf(MESSAGE_KINDS)),
            sort_only("createdAt", "m.created_at", FieldKind::Time),
            Field::bound("createdAfter", "m.created_at", FieldKind::Time, Op::Ge),
            Field::bound("createdBefore", "m.created_at", FieldKind::Time, Op::Lt),
        ],
        query: &[
            Q::new("roomId", "m.room_id", T::Integer),
            Q::new("seq", "m.seq", T::Integer),
            Q::new("senderId", "m.sender_id", T::Integer),
            Q::new("type", "m.kind", T::Text).with_ops(CHOICE_OPS),
            Q::new("content", "m.content", T::Text),
            Q::new("createdAt", "m.created_at", T::Timestamp),
            Q::new("editedAt", "m.edited_at", T::Timestamp),
            Q::new("deletedAt", "m.deleted_at", T::Timestamp),
        ],
    };

    /// Never the token hash.
    pub static SESSIONS: Collection = Collection {
        fields: &[
            Field::column("id", "s.id", FieldKind::Int),
            Field::column("userId", "s.user_id", FieldKind::Int),
            Field::column("deviceId", "s.device_id", FieldKind::Text),
            Field::column("live", LIVE, FieldKind::Bool),
            sort_only("createdAt", "s.created_at", FieldKind::Time),
            sort_only("expiresAt", "s.expires_at", FieldKind::Time),
            Field::bound("createdAfter", "s.created_at", FieldKind::Time, Op::Ge),
            Field::bound("createdBefore", "s.created_at", FieldKind::Time, Op::Lt),
        ],
        query: &[
            Q::new("id", "s.id", T::Integer),
            Q::new("userId", "s.user_id", T::Integer),
            Q::new("deviceId", "s.device_id", T::Text),
            Q::new("live", LIVE, T::Boolean),
            Q::new("createdAt", "s.created_at", T::Timestamp),
            Q::new("expiresAt", "s.expires_at", T::Timestamp),
            Q::new("revokedAt", "s.revoked_at", T::Timestamp),
        ],
    };
}
