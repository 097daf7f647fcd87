//! The one list query every admin collection shares: a condition tree over
//! allow-listed fields, an optional sort, and a page. The HTTP layer builds
//! it from `field=value` filters today; a `query=` filter language can build
//! the same tree (with `Or`, `Not`, `Like`, `In`...) and reuse everything
//! below. The SQL store turns it into a statement whose column expressions
//! come only from [`Field`] tables and whose values are all bound parameters.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
}

/// A filter as a tree, so richer languages compile to the same shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        field: &'static Field,
        op: Op,
        value: Value,
    },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sort {
    pub field: &'static Field,
    pub descending: bool,
}

/// A page of a collection. `page` is 1-based; `limit` is already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub condition: Condition,
    /// `None`: the collection's own order (its id, ascending).
    pub sort: Option<Sort>,
    pub page: u64,
    pub limit: u32,
}

impl ListQuery {
    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        self.page
            .saturating_sub(1)
            .saturating_mul(u64::from(self.limit))
    }
}

/// One page of rows and how many rows match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The allow-lists: every field each admin collection may be filtered or
/// sorted by, with the SQL it stands for (table aliases as in
/// `sqlite/admin.rs`).
pub mod fields {
    use super::{Field, FieldKind, Op};

    const ROLES: &[&str] = &["owner", "admin", "member"];
    const ROOM_KINDS: &[&str] = &["direct", "group", "channel"];
    const MESSAGE_KINDS: &[&str] = &[
        "text", "image", "file", "audio", "video", "voice", "link", "system",
    ];

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

    pub static USERS: &[Field] = &[
        Field::column("id", "u.id", FieldKind::Int),
        Field::column("login", "u.login", FieldKind::Text),
        Field::column("name", "u.name", FieldKind::Text),
        sort_only("createdAt", "u.created_at", FieldKind::Time),
        Field::bound("createdAfter", "u.created_at", FieldKind::Time, Op::Ge),
        Field::bound("createdBefore", "u.created_at", FieldKind::Time, Op::Lt),
    ];

    pub static ROOMS: &[Field] = &[
        Field::column("id", "r.id", FieldKind::Int),
        Field::column("type", "r.kind", FieldKind::OneOf(ROOM_KINDS)),
        Field::column("name", "r.name", FieldKind::Text),
        Field::column("public", "r.public", FieldKind::Bool),
        Field::column("creatorId", "r.creator_id", FieldKind::Int),
        sort_only("createdAt", "r.created_at", FieldKind::Time),
        Field::bound("createdAfter", "r.created_at", FieldKind::Time, Op::Ge),
        Field::bound("createdBefore", "r.created_at", FieldKind::Time, Op::Lt),
    ];

    pub static PARTICIPANTS: &[Field] = &[
        Field::column("id", "u.id", FieldKind::Int),
        Field::column("login", "u.login", FieldKind::Text),
        Field::column("name", "u.name", FieldKind::Text),
        Field::column("role", "p.role", FieldKind::OneOf(ROLES)),
        sort_only("joinedAt", "p.joined_at", FieldKind::Time),
    ];

    pub static MESSAGES: &[Field] = &[
        Field::column("roomId", "m.room_id", FieldKind::Int),
        Field::column("seq", "m.seq", FieldKind::Int),
        Field::column("senderId", "m.sender_id", FieldKind::Int),
        Field::column("type", "m.kind", FieldKind::OneOf(MESSAGE_KINDS)),
        sort_only("createdAt", "m.created_at", FieldKind::Time),
        Field::bound("createdAfter", "m.created_at", FieldKind::Time, Op::Ge),
        Field::bound("createdBefore", "m.created_at", FieldKind::Time, Op::Lt),
    ];

    pub static SESSIONS: &[Field] = &[
        Field::column("id", "s.id", FieldKind::Int),
        Field::column("userId", "s.user_id", FieldKind::Int),
        Field::column("deviceId", "s.device_id", FieldKind::Text),
        // Neither revoked nor expired, now (unix ms, as stored).
        Field::column(
            "live",
            "(s.revoked_at IS NULL AND s.expires_at > CAST(unixepoch('subsec') * 1000 AS INTEGER))",
            FieldKind::Bool,
        ),
        sort_only("createdAt", "s.created_at", FieldKind::Time),
        sort_only("expiresAt", "s.expires_at", FieldKind::Time),
        Field::bound("createdAfter", "s.created_at", FieldKind::Time, Op::Ge),
        Field::bound("createdBefore", "s.created_at", FieldKind::Time, Op::Lt),
    ];
}
