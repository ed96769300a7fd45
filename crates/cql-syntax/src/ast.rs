//! The CQL abstract syntax tree: the contract between the parser and the executor.
//!
//! Conventions:
//! * Identifiers are plain `String`s, already normalised: unquoted names are lowercased, quoted names
//!   keep their case with `""` unescaped. Unquoted role and user names are lowercased too; string
//!   role names are kept verbatim.
//! * Constants keep their literal kind and source text ([`Literal`]) so the executor can coerce them
//!   to the receiving column's type (an integer literal may become int, bigint, varint, decimal...).
//! * Every bind marker occurrence gets the next ordinal, counting from 0 across the whole statement
//!   (batch included); [`Statement::bind_markers`] lists them with the value each one feeds.

use std::fmt;

/// A region of the source text: byte offsets plus the line (1-based) and column (0-based) of `start`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

/// A possibly keyspace-qualified name: `[keyspace.]name` (tables, types, functions, views, indexes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    pub keyspace: Option<String>,
    pub name: String,
}

impl QualifiedName {
    /// A name without keyspace.
    pub fn unqualified(name: impl Into<String>) -> Self {
        QualifiedName {
            keyspace: None,
            name: name.into(),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keyspace {
            Some(ks) => write!(f, "{ks}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    /// The statement's text, without the trailing `;`.
    pub span: Span,
    /// Every bind marker of the statement, in order of appearance (index `i` has ordinal `i`).
    pub bind_markers: Vec<BindMarkerInfo>,
}

/// The statement kinds. Large variants are boxed to keep the enum small.
#[derive(Clone, Debug, PartialEq)]
pub enum StatementKind {
    Select(Box<Select>),
    Insert(Box<Insert>),
    Update(Box<Update>),
    Delete(Box<Delete>),
    Batch(Box<Batch>),
    Use(String),
    CreateKeyspace(CreateKeyspace),
    AlterKeyspace(AlterKeyspace),
    DropKeyspace {
        if_exists: bool,
        name: String,
    },
    CreateTable(Box<CreateTable>),
    AlterTable(Box<AlterTable>),
    DropTable {
        if_exists: bool,
        name: QualifiedName,
    },
    Truncate(QualifiedName),
    CreateType(CreateType),
    AlterType(AlterType),
    DropType {
        if_exists: bool,
        name: QualifiedName,
    },
    CreateIndex(Box<CreateIndex>),
    /// `DROP INDEX [IF EXISTS] [ks.]name`.
    DropIndex {
        if_exists: bool,
        name: QualifiedName,
    },
    CreateView(Box<CreateView>),
    AlterView {
        if_exists: bool,
        name: QualifiedName,
        options: TableOptions,
    },
    DropView {
        if_exists: bool,
        name: QualifiedName,
    },
    CreateFunction(Box<CreateFunction>),
    /// `DROP FUNCTION [IF EXISTS] name [(types)]`; `arg_types` is `None` without a signature.
    DropFunction {
        if_exists: bool,
        name: QualifiedName,
        arg_types: Option<Vec<TypeExpr>>,
    },
    CreateAggregate(Box<CreateAggregate>),
    DropAggregate {
        if_exists: bool,
        name: QualifiedName,
        arg_types: Option<Vec<TypeExpr>>,
    },
    /// `CREATE TRIGGER [IF NOT EXISTS] name ON table USING 'class'`.
    CreateTrigger {
        if_not_exists: bool,
        name: String,
        table: QualifiedName,
        class: String,
    },
    DropTrigger {
        if_exists: bool,
        name: String,
        table: QualifiedName,
    },
    /// `CREATE ROLE` and the legacy `CREATE USER` (see [`CreateRole::user_syntax`]).
    CreateRole(CreateRole),
    /// `ALTER ROLE` and the legacy `ALTER USER`.
    AlterRole(AlterRole),
    /// `DROP ROLE` and the legacy `DROP USER` (`user_syntax` set).
    DropRole {
        if_exists: bool,
        name: String,
        user_syntax: bool,
    },
    /// `GRANT role TO grantee`.
    GrantRole {
        role: String,
        grantee: String,
    },
    /// `REVOKE role FROM revokee`.
    RevokeRole {
        role: String,
        revokee: String,
    },
    /// `LIST ROLES [OF role] [NORECURSIVE]`.
    ListRoles {
        of: Option<String>,
        recursive: bool,
    },
    /// `LIST USERS`.
    ListUsers,
    /// `ADD IDENTITY [IF NOT EXISTS] 'identity' TO ROLE 'role'` (Cassandra 5.0).
    AddIdentity {
        if_not_exists: bool,
        identity: String,
        role: String,
    },
    /// `DROP IDENTITY [IF EXISTS] 'identity'`.
    DropIdentity {
        if_exists: bool,
        identity: String,
    },
    GrantPermissions(PermissionChange),
    RevokePermissions(PermissionChange),
    ListPermissions(ListPermissions),
    Describe(Describe),
}

// ---------------------------------------------------------------------------------------------
// Terms and literals
// ---------------------------------------------------------------------------------------------

/// A constant as written. Strings are unescaped; every other kind keeps its source text
/// (with a leading `-` for negative numbers), to be coerced by the executor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Literal {
    String(String),
    Integer(String),
    /// Decimal/exponent floats and `NaN`, `Infinity`, `-Infinity` (as written).
    Float(String),
    Boolean(bool),
    Uuid(String),
    /// A blob, as the hex digits after `0x` (possibly empty).
    Blob(String),
    /// A duration in any of its three forms (`1h30m`, `P1DT2H`, `P0001-02-03T04:05:06`), as written.
    Duration(String),
}

impl Literal {
    /// The literal's text: the unescaped string, or the source text of other constants
    /// (`0x`-prefixed for blobs, `true`/`false` for booleans).
    pub fn text(&self) -> String {
        match self {
            Literal::String(s)
            | Literal::Integer(s)
            | Literal::Float(s)
            | Literal::Uuid(s)
            | Literal::Duration(s) => s.clone(),
            Literal::Boolean(b) => b.to_string(),
            Literal::Blob(hex) => format!("0x{hex}"),
        }
    }

    /// Cassandra's name for the literal kind, as used in its "Invalid X constant" messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "STRING",
            Literal::Integer(_) => "INTEGER",
            Literal::Float(_) => "FLOAT",
            Literal::Boolean(_) => "BOOLEAN",
            Literal::Uuid(_) => "UUID",
            Literal::Blob(_) => "HEX",
            Literal::Duration(_) => "DURATION",
        }
    }
}

/// A bind marker occurrence inside a term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BindMarker {
    /// The ordinal of this marker in the statement (0-based, order of appearance).
    pub index: usize,
    /// The name of a `:name` marker; `None` for `?`.
    pub name: Option<String>,
}

/// Arithmetic operators on terms and selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A value expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Literal(Literal),
    Null,
    Marker(BindMarker),
    /// `[a, b]`: a list or vector literal.
    List(Vec<Term>),
    /// `{a, b}`. Note that `{}` is always parsed as an empty set, as in Cassandra: the executor
    /// must accept it for map (and UDT) receivers too.
    Set(Vec<Term>),
    /// `{k: v, ...}`.
    Map(Vec<(Term, Term)>),
    /// `(a, b, ...)`. A one-element tuple is also what a parenthesised term parses to.
    Tuple(Vec<Term>),
    /// `{field: value, ...}` where the keys are identifiers.
    Udt(Vec<(String, Term)>),
    /// `name(args)`, e.g. `now()`, `token(?)`, `ks.f(1, 2)`.
    FunctionCall {
        name: QualifiedName,
        args: Vec<Term>,
    },
    /// `(type) term`.
    TypeHint {
        ty: TypeExpr,
        term: Box<Term>,
    },
    /// Unary minus on something other than a numeric literal (`-(?)`; `-1` is a literal).
    Negate(Box<Term>),
    Arithmetic {
        op: ArithOp,
        lhs: Box<Term>,
        rhs: Box<Term>,
    },
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// Built-in CQL types. `varchar` is parsed as [`NativeType::Text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeType {
    Ascii,
    Bigint,
    Blob,
    Boolean,
    Counter,
    Date,
    Decimal,
    Double,
    Duration,
    Float,
    Inet,
    Int,
    Smallint,
    Text,
    Time,
    Timestamp,
    Timeuuid,
    Tinyint,
    Uuid,
    Varint,
}

impl NativeType {
    /// Looks a native type up by its (lowercase) CQL name.
    pub fn from_name(name: &str) -> Option<NativeType> {
        use NativeType::*;
        Some(match name {
            "ascii" => Ascii,
            "bigint" => Bigint,
            "blob" => Blob,
            "boolean" => Boolean,
            "counter" => Counter,
            "date" => Date,
            "decimal" => Decimal,
            "double" => Double,
            "duration" => Duration,
            "float" => Float,
            "inet" => Inet,
            "int" => Int,
            "smallint" => Smallint,
            "text" | "varchar" => Text,
            "time" => Time,
            "timestamp" => Timestamp,
            "timeuuid" => Timeuuid,
            "tinyint" => Tinyint,
            "uuid" => Uuid,
            "varint" => Varint,
            _ => return None,
        })
    }

    /// The CQL name of the type.
    pub fn name(self) -> &'static str {
        use NativeType::*;
        match self {
            Ascii => "ascii",
            Bigint => "bigint",
            Blob => "blob",
            Boolean => "boolean",
            Counter => "counter",
            Date => "date",
            Decimal => "decimal",
            Double => "double",
            Duration => "duration",
            Float => "float",
            Inet => "inet",
            Int => "int",
            Smallint => "smallint",
            Text => "text",
            Time => "time",
            Timestamp => "timestamp",
            Timeuuid => "timeuuid",
            Tinyint => "tinyint",
            Uuid => "uuid",
            Varint => "varint",
        }
    }
}

/// A type as written in CQL. `Display` prints it back in CQL syntax.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeExpr {
    Native(NativeType),
    List(Box<TypeExpr>),
    Set(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    Tuple(Vec<TypeExpr>),
    Frozen(Box<TypeExpr>),
    /// `vector<element, dimension>`.
    Vector(Box<TypeExpr>, u32),
    /// A user-defined type name.
    UserDefined(QualifiedName),
    /// A `'fully.qualified.ClassName'` custom type.
    Custom(String),
}

impl fmt::Display for TypeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeExpr::Native(n) => f.write_str(n.name()),
            TypeExpr::List(t) => write!(f, "list<{t}>"),
            TypeExpr::Set(t) => write!(f, "set<{t}>"),
            TypeExpr::Map(k, v) => write!(f, "map<{k}, {v}>"),
            TypeExpr::Tuple(ts) => {
                f.write_str("tuple<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">")
            }
            TypeExpr::Frozen(t) => write!(f, "frozen<{t}>"),
            TypeExpr::Vector(t, n) => write!(f, "vector<{t}, {n}>"),
            TypeExpr::UserDefined(name) => write!(f, "{name}"),
            TypeExpr::Custom(class) => write!(f, "'{}'", class.replace('\'', "''")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SELECT
// ---------------------------------------------------------------------------------------------

/// `SELECT [JSON] [DISTINCT] selection FROM table [WHERE ...] [GROUP BY ...] [ORDER BY ...]
/// [PER PARTITION LIMIT n] [LIMIT n] [ALLOW FILTERING]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub json: bool,
    pub distinct: bool,
    pub selection: Selection,
    pub table: QualifiedName,
    pub where_clause: Vec<Relation>,
    pub group_by: Vec<Selectable>,
    pub order_by: Vec<Ordering>,
    pub per_partition_limit: Option<Term>,
    pub limit: Option<Term>,
    pub allow_filtering: bool,
}

/// What a `SELECT` returns.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// `*`
    Wildcard,
    Selectors(Vec<Selector>),
}

/// One selected expression with its optional `AS` alias.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    pub selectable: Selectable,
    pub alias: Option<String>,
}

/// A selection expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Selectable {
    Column(String),
    /// A constant, `NULL` or bind marker used as a selector.
    Term(Term),
    /// `count(*)`. (`count(1)` is a [`Selectable::Function`] named `count` with a literal argument.)
    CountRows,
    /// `writetime(col)`, `maxwritetime(col)` or `ttl(col)`, possibly on a collection element.
    Metadata {
        kind: MetadataKind,
        arg: Box<Selectable>,
    },
    /// `name(args)`, e.g. `token(a, b)`, `to_json(c)`, `ks.f(x)`.
    Function {
        name: QualifiedName,
        args: Vec<Selectable>,
    },
    /// `CAST(arg AS type)`.
    Cast {
        arg: Box<Selectable>,
        ty: TypeExpr,
    },
    /// `arg.field` on a UDT value.
    Field {
        arg: Box<Selectable>,
        field: String,
    },
    /// `arg[key]` on a collection value.
    Element {
        arg: Box<Selectable>,
        key: Term,
    },
    /// `arg[from..to]` on a collection value; either bound may be omitted.
    Slice {
        arg: Box<Selectable>,
        from: Option<Term>,
        to: Option<Term>,
    },
    Arithmetic {
        op: ArithOp,
        lhs: Box<Selectable>,
        rhs: Box<Selectable>,
    },
    Negate(Box<Selectable>),
    /// `(type) arg`.
    TypeHint {
        ty: TypeExpr,
        arg: Box<Selectable>,
    },
    Tuple(Vec<Selectable>),
    List(Vec<Selectable>),
    /// `{a, b}`; `{}` is parsed as an empty set.
    Set(Vec<Selectable>),
    Map(Vec<(Selectable, Selectable)>),
}

/// The cell metadata functions usable in a selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetadataKind {
    WriteTime,
    MaxWriteTime,
    Ttl,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// One `ORDER BY` element: `col [ASC|DESC]`, or the vector search form `col ANN OF term`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ordering {
    pub column: String,
    pub direction: Direction,
    pub ann_of: Option<Term>,
}

// ---------------------------------------------------------------------------------------------
// WHERE relations and IF conditions
// ---------------------------------------------------------------------------------------------

/// Comparison operators of relations and conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    NotContains,
    ContainsKey,
    NotContainsKey,
    Like,
    /// `IS NOT NULL`; the right-hand side is [`Term::Null`].
    IsNotNull,
}

impl Operator {
    /// The operator as written in CQL.
    pub fn as_str(self) -> &'static str {
        use Operator::*;
        match self {
            Eq => "=",
            Neq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            In => "IN",
            NotIn => "NOT IN",
            Contains => "CONTAINS",
            NotContains => "NOT CONTAINS",
            ContainsKey => "CONTAINS KEY",
            NotContainsKey => "NOT CONTAINS KEY",
            Like => "LIKE",
            IsNotNull => "IS NOT",
        }
    }
}

/// The left-hand side of a relation or condition.
#[derive(Clone, Debug, PartialEq)]
pub enum RelationLhs {
    Column(String),
    /// `m[key]` (map entry or list index).
    Element {
        column: String,
        key: Term,
    },
    /// `udt.field` (conditions only, in Cassandra).
    Field {
        column: String,
        field: String,
    },
    /// Multi-column `(a, b, ...)`.
    Tuple(Vec<String>),
    /// `token(a, b, ...)`.
    Token(Vec<String>),
    /// `expr(index_name, ...)`: a custom index expression; the operator is `=`.
    IndexExpression(QualifiedName),
}

/// The right-hand side of a relation or condition.
#[derive(Clone, Debug, PartialEq)]
pub enum RelationRhs {
    Term(Term),
    /// `IN (t1, t2, ...)` (possibly empty). `IN ?` is a `Term` holding the marker.
    List(Vec<Term>),
}

/// A `WHERE` relation or `IF` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    pub span: Span,
    pub lhs: RelationLhs,
    pub op: Operator,
    pub rhs: RelationRhs,
}

/// The `IF` clause of UPDATE/DELETE (`IF EXISTS` or `IF cond AND ...`).
#[derive(Clone, Debug, PartialEq)]
pub enum Conditions {
    Exists,
    Columns(Vec<Relation>),
}

// ---------------------------------------------------------------------------------------------
// INSERT / UPDATE / DELETE / BATCH
// ---------------------------------------------------------------------------------------------

/// `USING TTL x AND TIMESTAMP y` (either order, each optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Using {
    pub ttl: Option<Term>,
    pub timestamp: Option<Term>,
}

/// `INSERT INTO table ... [IF NOT EXISTS] [USING ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Insert {
    pub table: QualifiedName,
    pub values: InsertValues,
    pub if_not_exists: bool,
    pub using: Using,
}

/// The value part of an INSERT.
#[derive(Clone, Debug, PartialEq)]
pub enum InsertValues {
    /// `(cols) VALUES (terms)`.
    Columns { columns: Vec<String>, values: Vec<Term> },
    /// `JSON 'doc' [DEFAULT NULL|UNSET]`; `json` is a string literal or a bind marker.
    Json { json: Term, default_unset: bool },
}

/// A column, collection element or UDT field being written or deleted.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnTarget {
    Column(String),
    /// `m[key]` or `l[index]`.
    Element {
        column: String,
        key: Term,
    },
    /// `udt.field`.
    Field {
        column: String,
        field: String,
    },
}

impl ColumnTarget {
    /// The column this target belongs to.
    pub fn column(&self) -> &str {
        match self {
            ColumnTarget::Column(c)
            | ColumnTarget::Element { column: c, .. }
            | ColumnTarget::Field { column: c, .. } => c,
        }
    }
}

/// One `SET` assignment of an UPDATE.
#[derive(Clone, Debug, PartialEq)]
pub enum Assignment {
    /// `c = t`, `m[k] = t`, `l[i] = t`, `udt.f = t`.
    Set { target: ColumnTarget, value: Term },
    /// `c = c + t` or `c += t` (collection append/union or counter increment).
    Add { column: String, value: Term },
    /// `c = t + c` (list prepend).
    Prepend { column: String, value: Term },
    /// `c = c - t` or `c -= t` (collection removal or counter decrement).
    Subtract { column: String, value: Term },
}

impl Assignment {
    /// The column the assignment writes.
    pub fn column(&self) -> &str {
        match self {
            Assignment::Set { target, .. } => target.column(),
            Assignment::Add { column, .. }
            | Assignment::Prepend { column, .. }
            | Assignment::Subtract { column, .. } => column,
        }
    }
}

/// `UPDATE table [USING ...] SET ... WHERE ... [IF ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub table: QualifiedName,
    pub using: Using,
    pub assignments: Vec<Assignment>,
    pub where_clause: Vec<Relation>,
    pub conditions: Option<Conditions>,
}

/// `DELETE [targets] FROM table [USING TIMESTAMP t] WHERE ... [IF ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Delete {
    /// Empty to delete whole rows.
    pub columns: Vec<ColumnTarget>,
    pub table: QualifiedName,
    pub using: Using,
    pub where_clause: Vec<Relation>,
    pub conditions: Option<Conditions>,
}

/// The kind of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BatchKind {
    #[default]
    Logged,
    Unlogged,
    Counter,
}

/// A modification statement inside a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchChild {
    Insert(Insert),
    Update(Update),
    Delete(Delete),
}

/// `BEGIN [UNLOGGED|COUNTER] BATCH [USING TIMESTAMP t] stmts APPLY BATCH`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub kind: BatchKind,
    pub using: Using,
    /// The statements with their source spans.
    pub statements: Vec<(Span, BatchChild)>,
}

// ---------------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------------

/// The value of a `name = value` option.
#[derive(Clone, Debug, PartialEq)]
pub enum PropertyValue {
    Literal(Literal),
    /// An identifier or keyword value, as written (quotes removed), e.g. `speculative_retry = ALWAYS`.
    Identifier(String),
    /// A `{k: v, ...}` map; keys and values are constants.
    Map(Vec<(Literal, Literal)>),
}

impl PropertyValue {
    /// The text of a simple value (`None` for maps).
    pub fn as_text(&self) -> Option<String> {
        match self {
            PropertyValue::Literal(l) => Some(l.text()),
            PropertyValue::Identifier(s) => Some(s.clone()),
            PropertyValue::Map(_) => None,
        }
    }

    /// The entries of a map value as text pairs (`None` for simple values).
    pub fn as_text_map(&self) -> Option<Vec<(String, String)>> {
        match self {
            PropertyValue::Map(m) => Some(m.iter().map(|(k, v)| (k.text(), v.text())).collect()),
            _ => None,
        }
    }
}

/// One `name = value` option (names lowercased).
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: PropertyValue,
}

/// `CREATE KEYSPACE [IF NOT EXISTS] name WITH properties`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateKeyspace {
    pub if_not_exists: bool,
    pub name: String,
    pub properties: Vec<Property>,
}

/// `ALTER KEYSPACE [IF EXISTS] name WITH properties`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterKeyspace {
    pub if_exists: bool,
    pub name: String,
    pub properties: Vec<Property>,
}

/// A column definition in `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: TypeExpr,
    pub is_static: bool,
    /// The column carried an inline `PRIMARY KEY`.
    pub primary_key: bool,
    /// A dynamic data mask (`MASKED WITH ...`, Cassandra 5.0).
    pub mask: Option<ColumnMask>,
}

/// `MASKED WITH fn(args)`; `MASKED WITH DEFAULT` is parsed as `mask_default()`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMask {
    pub function: QualifiedName,
    pub args: Vec<Term>,
}

/// A primary key: partition key columns then clustering columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrimaryKey {
    pub partition_key: Vec<String>,
    pub clustering: Vec<String>,
}

/// The `WITH` clause of CREATE/ALTER TABLE and materialized views.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableOptions {
    pub properties: Vec<Property>,
    /// `CLUSTERING ORDER BY (c DESC, ...)`.
    pub clustering_order: Vec<(String, Direction)>,
    pub compact_storage: bool,
}

/// `CREATE TABLE [IF NOT EXISTS] name (columns..., PRIMARY KEY (...)) [WITH ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateTable {
    pub if_not_exists: bool,
    pub name: QualifiedName,
    pub columns: Vec<ColumnDef>,
    /// The `PRIMARY KEY (...)` clause, if given separately from the columns.
    pub primary_key: Option<PrimaryKey>,
    pub options: TableOptions,
}

impl CreateTable {
    /// The effective primary key: the `PRIMARY KEY (...)` clause or the single inline one.
    /// Errors with Cassandra's wording when there is none or more than one.
    pub fn resolved_primary_key(&self) -> Result<PrimaryKey, String> {
        let inline: Vec<&ColumnDef> = self.columns.iter().filter(|c| c.primary_key).collect();
        match (&self.primary_key, inline.as_slice()) {
            (Some(pk), []) => Ok(pk.clone()),
            (None, [c]) => Ok(PrimaryKey {
                partition_key: vec![c.name.clone()],
                clustering: vec![],
            }),
            (None, []) => Err(format!(
                "No PRIMARY KEY specifed for table '{}' (exactly one required)",
                self.name.name
            )),
            _ => Err(format!(
                "Multiple PRIMARY KEYs specifed for table '{}' (exactly one required)",
                self.name.name
            )),
        }
    }
}

/// `ALTER TABLE [IF EXISTS] name <action>`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterTable {
    pub if_exists: bool,
    pub name: QualifiedName,
    pub action: AlterTableAction,
}

/// What an ALTER TABLE does.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterTableAction {
    /// `ADD [IF NOT EXISTS] col type [STATIC] [, ...]` or `ADD (col type, ...)`.
    Add {
        if_not_exists: bool,
        columns: Vec<ColumnDef>,
    },
    /// `DROP [IF EXISTS] col [, ...]` or `DROP (cols) [USING TIMESTAMP t]`.
    Drop {
        if_exists: bool,
        columns: Vec<String>,
        timestamp: Option<i64>,
    },
    /// `ALTER col TYPE type` (rejected by Cassandra 4+, parsed for its error message).
    AlterColumnType { column: String, ty: TypeExpr },
    /// `RENAME [IF EXISTS] a TO b [AND c TO d ...]`.
    Rename {
        if_exists: bool,
        renames: Vec<(String, String)>,
    },
    /// `WITH options`.
    Options(TableOptions),
    /// `DROP COMPACT STORAGE`.
    DropCompactStorage,
    /// `ALTER col MASKED WITH ...` (`Some`) or `ALTER col DROP MASKED` (`None`).
    Mask {
        column: String,
        mask: Option<ColumnMask>,
    },
}

/// `CREATE TYPE [IF NOT EXISTS] name (field type, ...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateType {
    pub if_not_exists: bool,
    pub name: QualifiedName,
    pub fields: Vec<(String, TypeExpr)>,
}

/// `ALTER TYPE [IF EXISTS] name <action>`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlterType {
    pub if_exists: bool,
    pub name: QualifiedName,
    pub action: AlterTypeAction,
}

/// What an ALTER TYPE does.
#[derive(Clone, Debug, PartialEq)]
pub enum AlterTypeAction {
    Add {
        if_not_exists: bool,
        field: String,
        ty: TypeExpr,
    },
    Rename {
        if_exists: bool,
        renames: Vec<(String, String)>,
    },
    AlterFieldType {
        field: String,
        ty: TypeExpr,
    },
}

/// What an index is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexTargetKind {
    /// `col`: the value (or, for a non-frozen collection, Cassandra's default `values(col)`).
    Simple,
    Keys,
    Values,
    Entries,
    Full,
}

/// One index target column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexTarget {
    pub column: String,
    pub kind: IndexTargetKind,
}

/// `CREATE [CUSTOM] INDEX [IF NOT EXISTS] [name] ON table (targets) [USING 'class'] [WITH OPTIONS = {...}]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateIndex {
    pub custom: bool,
    pub if_not_exists: bool,
    pub name: Option<String>,
    pub table: QualifiedName,
    pub targets: Vec<IndexTarget>,
    pub using: Option<String>,
    /// The `WITH` properties (normally just `options = {...}`).
    pub properties: Vec<Property>,
}

/// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name AS SELECT ... FROM base WHERE ... PRIMARY KEY (...) [WITH ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateView {
    pub if_not_exists: bool,
    pub name: QualifiedName,
    pub selection: Selection,
    pub base_table: QualifiedName,
    pub where_clause: Vec<Relation>,
    pub primary_key: PrimaryKey,
    pub options: TableOptions,
}

/// `CREATE [OR REPLACE] FUNCTION [IF NOT EXISTS] name (args) (CALLED|RETURNS NULL) ON NULL INPUT
/// RETURNS type LANGUAGE lang AS 'body'`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateFunction {
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub name: QualifiedName,
    pub args: Vec<(String, TypeExpr)>,
    pub called_on_null_input: bool,
    pub return_type: TypeExpr,
    pub language: String,
    pub body: String,
}

/// `CREATE [OR REPLACE] AGGREGATE [IF NOT EXISTS] name (types) SFUNC f STYPE t [FINALFUNC f] [INITCOND term]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateAggregate {
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub name: QualifiedName,
    pub arg_types: Vec<TypeExpr>,
    pub state_function: String,
    pub state_type: TypeExpr,
    pub final_function: Option<String>,
    pub initial_condition: Option<Term>,
}

// ---------------------------------------------------------------------------------------------
// Roles and permissions
// ---------------------------------------------------------------------------------------------

/// Datacenter (or CIDR group) restriction of a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessRestriction {
    /// `ACCESS TO ALL DATACENTERS` / `ACCESS FROM ALL CIDRS`.
    All,
    /// `ACCESS TO DATACENTERS {'dc1', ...}` / `ACCESS FROM CIDRS {...}`.
    Only(Vec<String>),
}

/// The options of CREATE/ALTER ROLE (and the legacy USER forms); `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleOptions {
    pub password: Option<String>,
    pub hashed_password: Option<String>,
    pub login: Option<bool>,
    pub superuser: Option<bool>,
    pub options: Option<Vec<(Literal, Literal)>>,
    pub datacenters: Option<AccessRestriction>,
    pub cidrs: Option<AccessRestriction>,
}

/// `CREATE ROLE [IF NOT EXISTS] name [WITH opts]` or `CREATE USER [IF NOT EXISTS] name
/// [WITH PASSWORD 'p'] [SUPERUSER|NOSUPERUSER]` (then `user_syntax` is set and `login` is `Some(true)`).
#[derive(Clone, Debug, PartialEq)]
pub struct CreateRole {
    pub if_not_exists: bool,
    pub name: String,
    pub options: RoleOptions,
    pub user_syntax: bool,
}

/// `ALTER ROLE [IF EXISTS] name WITH opts` or `ALTER USER name ...` (`user_syntax`).
#[derive(Clone, Debug, PartialEq)]
pub struct AlterRole {
    pub if_exists: bool,
    pub name: String,
    pub options: RoleOptions,
    pub user_syntax: bool,
}

/// A grantable permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Create,
    Alter,
    Drop,
    Select,
    Modify,
    Authorize,
    Describe,
    Execute,
    Unmask,
    SelectMasked,
}

impl Permission {
    /// The permission's upper-case CQL name.
    pub fn name(self) -> &'static str {
        use Permission::*;
        match self {
            Create => "CREATE",
            Alter => "ALTER",
            Drop => "DROP",
            Select => "SELECT",
            Modify => "MODIFY",
            Authorize => "AUTHORIZE",
            Describe => "DESCRIBE",
            Execute => "EXECUTE",
            Unmask => "UNMASK",
            SelectMasked => "SELECT_MASKED",
        }
    }
}

/// `ALL [PERMISSIONS]` or a list of permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permissions {
    All,
    Some(Vec<Permission>),
}

/// A resource permissions apply to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    AllKeyspaces,
    Keyspace(String),
    /// `[TABLE] [ks.]t`.
    Table(QualifiedName),
    AllRoles,
    Role(String),
    /// `ALL FUNCTIONS`, or `ALL FUNCTIONS IN KEYSPACE ks` when the keyspace is given.
    AllFunctions(Option<String>),
    /// `FUNCTION [ks.]f(types)`.
    Function {
        name: QualifiedName,
        arg_types: Vec<TypeExpr>,
    },
    AllMBeans,
    /// `MBEAN 'name'` or `MBEANS 'pattern'`.
    MBean(String),
}

/// `GRANT perms ON resource TO role` / `REVOKE perms ON resource FROM role`.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionChange {
    pub permissions: Permissions,
    pub resource: Resource,
    pub role: String,
}

/// `LIST perms [ON resource] [OF role] [NORECURSIVE]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPermissions {
    pub permissions: Permissions,
    pub resource: Option<Resource>,
    pub of: Option<String>,
    pub recursive: bool,
}

// ---------------------------------------------------------------------------------------------
// DESCRIBE
// ---------------------------------------------------------------------------------------------

/// `DESCRIBE|DESC <target> [WITH INTERNALS]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Describe {
    pub target: DescribeTarget,
    pub with_internals: bool,
}

/// What a DESCRIBE statement describes.
#[derive(Clone, Debug, PartialEq)]
pub enum DescribeTarget {
    Cluster,
    Schema {
        full: bool,
    },
    Keyspaces,
    /// `[ONLY] KEYSPACE [ks]`; `None` means the current keyspace.
    Keyspace {
        only: bool,
        name: Option<String>,
    },
    Tables,
    Table(QualifiedName),
    Types,
    Type(QualifiedName),
    Functions,
    Function(QualifiedName),
    Aggregates,
    Aggregate(QualifiedName),
    Index(QualifiedName),
    MaterializedView(QualifiedName),
    /// A bare `DESCRIBE name` / `DESCRIBE ks.name`: a keyspace, table, view, index, type...
    Name(QualifiedName),
}

// ---------------------------------------------------------------------------------------------
// Bind markers
// ---------------------------------------------------------------------------------------------

/// Information about one bind marker of a statement.
#[derive(Clone, Debug, PartialEq)]
pub struct BindMarkerInfo {
    /// The marker's ordinal (equal to its position in [`Statement::bind_markers`]).
    pub index: usize,
    /// The name of a `:name` marker.
    pub name: Option<String>,
    pub span: Span,
    /// What the bound value feeds, when the syntax makes it clear.
    pub role: MarkerRole,
}

/// What a bind marker's value is used for; this is what the executor needs to compute the
/// prepared statement's variable metadata (Cassandra's names are shown in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerRole {
    /// The value of a column: `c = ?`, `INSERT ... VALUES (?)`, `SET c = ?`, `c = c + ?`, `IN (?, ?)`.
    Column(String),
    /// The whole value list of `c IN ?` [`in(c)`].
    InList(String),
    /// A map key or list index: `m[?]`, `CONTAINS KEY ?` [`key(m)` / `idx(l)`].
    CollectionKey(String),
    /// A collection element value: `m[k] = ?`, `CONTAINS ?`, an element of a collection literal [`value(m)`].
    CollectionValue(String),
    /// A UDT field: `udt.f = ?` or `{f: ?}`.
    Field { column: String, field: String },
    /// An element of a tuple literal for a tuple column.
    TupleElement { column: String, position: usize },
    /// A whole multi-column tuple: `(a, b) = ?` or an element of `(a, b) IN (?, ?)`.
    Tuple(Vec<String>),
    /// The list of tuples of `(a, b) IN ?`.
    TupleList(Vec<String>),
    /// The right-hand side of `token(...) op ?` [`partition key token`].
    Token,
    /// `LIMIT ?` [`[limit]`].
    Limit,
    /// `PER PARTITION LIMIT ?` [`[per_partition_limit]`].
    PerPartitionLimit,
    /// `USING TIMESTAMP ?` [`[timestamp]`].
    Timestamp,
    /// `USING TTL ?` [`[ttl]`].
    Ttl,
    /// The document of `INSERT ... JSON ?` [`[json]`].
    Json,
    /// An argument of a function call.
    FunctionArgument {
        function: QualifiedName,
        position: usize,
    },
    /// Anything else (e.g. a marker in a selector or option).
    Other,
}
