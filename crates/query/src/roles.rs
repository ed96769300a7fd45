//! Role and permission statements over the system_auth tables: CREATE/ALTER/DROP ROLE (and the legacy USER
//! forms), GRANT/REVOKE of roles as CassandraRoleManager performs them, GRANT/REVOKE/LIST PERMISSIONS as
//! CassandraAuthorizer performs them, and LIST ROLES / LIST USERS with Cassandra's result sets.
//!
//! Each statement runs Cassandra's three steps in order: authorize (may the user do this at all), validate
//! (do the roles and resources exist) and execute.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use mica_cql_protocol::{ColumnSpec, RowsMetadata, Value};
use mica_cql_syntax::{self as ast, Permission, StatementKind};
use mica_cql_types::{CqlType, CqlValue};

use crate::auth::{Actor, AuthResource, PermSet, UserAuth};
use crate::engine::{BCRYPT_COST, ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};

/// The role manager Cassandra names in "doesn't support" errors.
const ROLE_MANAGER: &str = "org.apache.cassandra.auth.CassandraRoleManager";
/// What LIST ROLES and LIST USERS show for datacenter access: AllowAllNetworkAuthorizer allows every one.
const ALL_DATACENTERS: &str = "ALL";

/// One row of system_auth.roles.
#[derive(Clone, Debug, Default)]
pub(crate) struct RoleRow {
    pub(crate) name: String,
    pub(crate) superuser: bool,
    pub(crate) login: bool,
    pub(crate) member_of: Vec<String>,
}

/// Whether the statement is one of the role and permission statements this module executes.
pub(crate) fn is_role_statement(kind: &StatementKind) -> bool {
    matches!(
        kind,
        StatementKind::CreateRole(_)
            | StatementKind::AlterRole(_)
            | StatementKind::DropRole { .. }
            | StatementKind::GrantRole { .. }
            | StatementKind::RevokeRole { .. }
            | StatementKind::ListRoles { .. }
            | StatementKind::ListUsers
            | StatementKind::GrantPermissions(_)
            | StatementKind::RevokePermissions(_)
            | StatementKind::ListPermissions(_)
    )
}

fn text_value(s: &str) -> Value {
    Value::Set(Bytes::from(s.as_bytes().to_vec()))
}

fn bool_value(b: bool) -> Value {
    Value::Set(Bytes::from_static(if b { &[1] } else { &[0] }))
}

fn text_set_type() -> CqlType {
    CqlType::Set(Box::new(CqlType::Varchar))
}

/// A `set<text>` bind value (elements sorted and unique, as sets are stored).
fn text_set_value<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Value> {
    let items: BTreeSet<&str> = items.into_iter().collect();
    let set = CqlValue::Set(items.into_iter().map(|s| CqlValue::Text(s.to_string())).collect());
    let bytes = mica_cql_types::to_bytes(&set, &text_set_type())
        .map_err(|e| QueryError::Server(format!("cannot encode a set of names: {e}")))?;
    Ok(Value::Set(Bytes::from(bytes)))
}

fn cell_text(cell: Option<&Option<Bytes>>) -> Option<String> {
    cell.and_then(Option::as_ref)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn cell_bool(cell: Option<&Option<Bytes>>) -> bool {
    cell.and_then(Option::as_ref)
        .is_some_and(|b| b.first().is_some_and(|x| *x != 0))
}

fn cell_text_set(cell: Option<&Option<Bytes>>) -> Result<Vec<String>> {
    let Some(bytes) = cell.and_then(Option::as_ref) else {
        return Ok(Vec::new());
    };
    match mica_cql_types::deserialize(&text_set_type(), bytes) {
        Ok(CqlValue::Set(items)) => Ok(items
            .into_iter()
            .filter_map(|v| match v {
                CqlValue::Text(s) | CqlValue::Ascii(s) => Some(s),
                _ => None,
            })
            .collect()),
        Ok(_) => Ok(Vec::new()),
        Err(e) => Err(QueryError::Server(format!("corrupt set in system_auth: {e}"))),
    }
}

fn role_row(row: &[Option<Bytes>]) -> Result<RoleRow> {
    Ok(RoleRow {
        name: cell_text(row.first()).unwrap_or_default(),
        superuser: cell_bool(row.get(1)),
        login: cell_bool(row.get(2)),
        member_of: cell_text_set(row.get(3))?,
    })
}

/// A bcrypt hash in the `$2a$` form Cassandra's jBCrypt writes and reads.
fn hash_password(password: &str) -> Result<String> {
    bcrypt::hash_with_result(password, BCRYPT_COST)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| QueryError::Server(format!("bcrypt: {e}")))
}

fn unauthorized(message: impl Into<String>) -> QueryError {
    QueryError::Unauthorized(message.into())
}

fn auth_column(table: &str, name: &str, typ: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: crate::auth::AUTH_KEYSPACE.into(),
        table: table.into(),
        name: name.into(),
        typ,
    }
}

fn serialize(value: &CqlValue, typ: &CqlType) -> Result<Option<Bytes>> {
    mica_cql_types::to_bytes(value, typ)
        .map(|b| Some(Bytes::from(b)))
        .map_err(|e| QueryError::Server(format!("cannot encode a result value: {e}")))
}

thread_local! {
    /// The system_auth mutations of the role statement running on this thread (statements run
    /// synchronously, so a thread sees one statement's writes at a time).
    static AUTH_WRITES: std::cell::RefCell<Vec<mica_storage::Mutation>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` (a role statement) and returns its result with the system_auth mutations it applied.
pub(crate) fn collect_auth_writes<T>(f: impl FnOnce() -> T) -> (T, Vec<mica_storage::Mutation>) {
    AUTH_WRITES.with(|w| w.borrow_mut().clear());
    let result = f();
    (result, AUTH_WRITES.with(|w| std::mem::take(&mut *w.borrow_mut())))
}

impl QueryEngine {
    /// Runs an internal read of the system_auth tables.
    fn auth_read(&self, cql: &str, values: &[Value]) -> Result<Vec<Vec<Option<Bytes>>>> {
        let statement = mica_cql_syntax::parse_statement(cql)?;
        let mut state = ClientState::default();
        match self.run_sync(&mut state, &statement, values, None)? {
            QueryResult::Rows { rows, .. } => Ok(rows),
            _ => Ok(Vec::new()),
        }
    }

    /// Runs an internal write to the system_auth tables with a strictly increasing timestamp. The
    /// mutations are applied here and remembered for [`collect_auth_writes`], which hands them to the other
    /// nodes of a cluster.
    fn auth_write(&self, cql: &str, values: &[Value]) -> Result<()> {
        let statement = mica_cql_syntax::parse_statement(cql)?;
        let state = ClientState::default();
        let timestamp = self.auth_cache.next_timestamp();
        let binds = crate::values::Binds { values };
        let mutations = self.mutations_for(
            &state,
            &statement.kind,
            binds,
            timestamp,
            mica_types::now_seconds(),
        )?;
        self.storage.apply_sync(mutations.clone())?;
        AUTH_WRITES.with(|w| w.borrow_mut().extend(mutations));
        Ok(())
    }

    /// The stored row of a role.
    pub(crate) fn read_role(&self, name: &str) -> Result<Option<RoleRow>> {
        let rows = self.auth_read(
            "SELECT role, is_superuser, can_login, member_of FROM system_auth.roles WHERE role = ?",
            &[text_value(name)],
        )?;
        rows.first().map(|r| role_row(r)).transpose()
    }

    fn all_roles(&self) -> Result<Vec<RoleRow>> {
        self.auth_read(
            "SELECT role, is_superuser, can_login, member_of FROM system_auth.roles",
            &[],
        )?
        .iter()
        .map(|r| role_row(r))
        .collect()
    }

    /// The role itself and the roles granted to it: directly, or with `recursive` transitively
    /// (CassandraRoleManager's `getRoles`). Roles that do not exist are left out.
    pub(crate) fn granted_roles(&self, name: &str, recursive: bool) -> Result<Vec<RoleRow>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([(name.to_string(), 0usize)]);
        while let Some((role, depth)) = queue.pop_front() {
            if !seen.insert(role.clone()) {
                continue;
            }
            let Some(row) = self.read_role(&role)? else {
                continue;
            };
            if recursive || depth == 0 {
                queue.extend(row.member_of.iter().map(|m| (m.clone(), depth + 1)));
            }
            out.push(row);
        }
        Ok(out)
    }

    /// Whether the role or any role granted to it is a superuser (Cassandra's `hasSuperuserStatus`).
    fn has_superuser_status(&self, name: &str) -> Result<bool> {
        Ok(self.granted_roles(name, true)?.iter().any(|r| r.superuser))
    }

    /// Reads a user's roles and the permissions granted to any of them.
    pub(crate) fn load_user_auth(&self, name: &str) -> Result<UserAuth> {
        let mut auth = UserAuth::default();
        for role in self.granted_roles(name, true)? {
            auth.superuser |= role.superuser;
            for row in self.auth_read(
                "SELECT resource, permissions FROM system_auth.role_permissions WHERE role = ?",
                &[text_value(&role.name)],
            )? {
                let resource = cell_text(row.first()).unwrap_or_default();
                let names = cell_text_set(row.get(1))?;
                let perms = PermSet::from_names(names.iter().map(String::as_str));
                let entry = auth.permissions.entry(resource).or_default();
                *entry = entry.union(perms);
            }
            auth.roles.insert(role.name);
        }
        Ok(auth)
    }

    /// Adds permissions on a resource to a role (CassandraAuthorizer's `grant`).
    pub(crate) fn grant_permissions(
        &self,
        perms: PermSet,
        resource: &AuthResource,
        role: &str,
    ) -> Result<()> {
        let resource = resource.name();
        self.auth_write(
            "UPDATE system_auth.role_permissions SET permissions = permissions + ? WHERE role = ? AND resource = ?",
            &[
                text_set_value(perms.iter().map(Permission::name))?,
                text_value(role),
                text_value(&resource),
            ],
        )?;
        self.auth_write(
            "INSERT INTO system_auth.resource_role_permissons_index (resource, role) VALUES (?, ?)",
            &[text_value(&resource), text_value(role)],
        )
    }

    /// Removes permissions on a resource from a role, and the index entry once none are left.
    fn revoke_permissions(&self, perms: PermSet, resource: &AuthResource, role: &str) -> Result<()> {
        let resource = resource.name();
        self.auth_write(
            "UPDATE system_auth.role_permissions SET permissions = permissions - ? WHERE role = ? AND resource = ?",
            &[
                text_set_value(perms.iter().map(Permission::name))?,
                text_value(role),
                text_value(&resource),
            ],
        )?;
        let left = self.auth_read(
            "SELECT permissions FROM system_auth.role_permissions WHERE role = ? AND resource = ?",
            &[text_value(role), text_value(&resource)],
        )?;
        if left
            .iter()
            .all(|row| cell_text_set(row.first()).is_ok_and(|s| s.is_empty()))
        {
            self.auth_write(
                "DELETE FROM system_auth.resource_role_permissons_index WHERE resource = ? AND role = ?",
                &[text_value(&resource), text_value(role)],
            )?;
        }
        Ok(())
    }

    /// Removes every permission granted to a role (its drop).
    fn revoke_all_from(&self, role: &str) -> Result<()> {
        for row in self.auth_read(
            "SELECT resource FROM system_auth.role_permissions WHERE role = ?",
            &[text_value(role)],
        )? {
            let resource = cell_text(row.first()).unwrap_or_default();
            self.auth_write(
                "DELETE FROM system_auth.resource_role_permissons_index WHERE resource = ? AND role = ?",
                &[text_value(&resource), text_value(role)],
            )?;
        }
        self.auth_write(
            "DELETE FROM system_auth.role_permissions WHERE role = ?",
            &[text_value(role)],
        )
    }

    /// Removes every permission on the resources whose names match (a dropped role, keyspace or table).
    pub(crate) fn revoke_all_on(&self, matches: impl Fn(&str) -> bool) -> Result<()> {
        let mut changed = false;
        for row in self.auth_read("SELECT role, resource FROM system_auth.role_permissions", &[])? {
            let role = cell_text(row.first()).unwrap_or_default();
            let resource = cell_text(row.get(1)).unwrap_or_default();
            if !matches(&resource) {
                continue;
            }
            self.auth_write(
                "DELETE FROM system_auth.role_permissions WHERE role = ? AND resource = ?",
                &[text_value(&role), text_value(&resource)],
            )?;
            self.auth_write(
                "DELETE FROM system_auth.resource_role_permissons_index WHERE resource = ? AND role = ?",
                &[text_value(&resource), text_value(&role)],
            )?;
            changed = true;
        }
        if changed {
            self.auth_cache.invalidate();
        }
        Ok(())
    }

    /// Executes a role or permission statement (see [`is_role_statement`]).
    pub(crate) fn execute_role_statement(
        &self,
        state: &ClientState,
        kind: &StatementKind,
    ) -> Result<QueryResult> {
        let actor = self.actor(state)?;
        let result = match kind {
            StatementKind::CreateRole(c) => self.create_role(&actor, c),
            StatementKind::AlterRole(a) => self.alter_role(&actor, a),
            StatementKind::DropRole { if_exists, name, .. } => self.drop_role(&actor, name, *if_exists),
            StatementKind::GrantRole { role, grantee } => self.grant_role(&actor, role, grantee, true),
            StatementKind::RevokeRole { role, revokee } => self.grant_role(&actor, role, revokee, false),
            StatementKind::ListRoles { of, recursive } => {
                self.list_roles(&actor, of.as_deref(), *recursive, false)
            }
            StatementKind::ListUsers => self.list_roles(&actor, None, false, true),
            StatementKind::GrantPermissions(change) => self.change_permissions(&actor, state, change, true),
            StatementKind::RevokePermissions(change) => self.change_permissions(&actor, state, change, false),
            StatementKind::ListPermissions(list) => self.list_permissions(&actor, state, list),
            _ => Err(invalid("Not a role or permission statement")),
        };
        if !matches!(
            kind,
            StatementKind::ListRoles { .. } | StatementKind::ListUsers | StatementKind::ListPermissions(_)
        ) {
            // Even a failed statement may have written part of its change.
            self.auth_cache.invalidate();
        }
        result
    }

    /// Cassandra's AuthenticationStatement permission check, which hides the resource in its message.
    fn ensure_role_permission(&self, actor: &Actor, perm: Permission, resource: &AuthResource) -> Result<()> {
        if self.permitted(actor, perm, resource) {
            return Ok(());
        }
        Err(unauthorized(format!(
            "User {} does not have sufficient privileges to perform the requested operation",
            actor.display_name()
        )))
    }

    /// RoleOptions validation with CassandraRoleManager's supported options.
    fn validate_role_options(&self, opts: &ast::RoleOptions) -> Result<()> {
        let unsupported = |option: &str| invalid(format!("{ROLE_MANAGER} doesn't support {option}"));
        if opts.options.is_some() {
            return Err(unsupported("OPTIONS"));
        }
        if !self.local.password_auth {
            if opts.password.is_some() {
                return Err(unsupported("PASSWORD"));
            }
            if opts.hashed_password.is_some() {
                return Err(unsupported("HASHED_PASSWORD"));
            }
        }
        if opts.password.is_some() && opts.hashed_password.is_some() {
            return Err(invalid(
                "Properties 'PASSWORD' and 'HASHED_PASSWORD' are mutually exclusive",
            ));
        }
        if let Some(hash) = &opts.hashed_password
            && bcrypt::verify("", hash).is_err()
        {
            return Err(invalid("Invalid hashed password value. Please use jBcrypt."));
        }
        if opts.datacenters.is_some() {
            return Err(invalid(
                "ACCESS TO DATACENTERS operations not supported by AllowAllNetworkAuthorizer",
            ));
        }
        if opts.cidrs.is_some() {
            return Err(invalid(
                "ACCESS FROM CIDRS operations not supported by AllowAllCIDRAuthorizer",
            ));
        }
        Ok(())
    }

    /// The salted hash to store for the options' password, if one was given.
    fn salted_hash(opts: &ast::RoleOptions) -> Result<Option<String>> {
        match (&opts.password, &opts.hashed_password) {
            (Some(p), _) => hash_password(p).map(Some),
            (None, Some(h)) => Ok(Some(h.clone())),
            (None, None) => Ok(None),
        }
    }

    fn create_role(&self, actor: &Actor, c: &ast::CreateRole) -> Result<QueryResult> {
        self.ensure_role_permission(actor, Permission::Create, &AuthResource::AllRoles)?;
        if c.options.superuser == Some(true) && !actor.is_super() {
            return Err(unauthorized(
                "Only superusers can create a role with superuser status",
            ));
        }
        self.validate_role_options(&c.options)?;
        if c.name.is_empty() {
            return Err(invalid("Role name can't be an empty string"));
        }
        actor.ensure_not_anonymous()?;
        if self.read_role(&c.name)?.is_some() {
            if c.if_not_exists {
                return Ok(QueryResult::Void);
            }
            return Err(invalid(format!("{} already exists", c.name)));
        }
        let superuser = bool_value(c.options.superuser.unwrap_or(false));
        let login = bool_value(c.options.login.unwrap_or(false));
        match Self::salted_hash(&c.options)? {
            Some(hash) => self.auth_write(
                "INSERT INTO system_auth.roles (role, is_superuser, can_login, salted_hash) VALUES (?, ?, ?, ?)",
                &[text_value(&c.name), superuser, login, text_value(&hash)],
            )?,
            None => self.auth_write(
                "INSERT INTO system_auth.roles (role, is_superuser, can_login) VALUES (?, ?, ?)",
                &[text_value(&c.name), superuser, login],
            )?,
        }
        // The creator may alter, drop and grant the new role (only where permissions can be granted).
        if self.local.authorization
            && let Some(creator) = actor.user()
        {
            let resource = AuthResource::Role(c.name.clone());
            self.grant_permissions(resource.applicable(), &resource, creator)?;
        }
        Ok(QueryResult::Void)
    }

    fn alter_role(&self, actor: &Actor, a: &ast::AlterRole) -> Result<QueryResult> {
        let opts = &a.options;
        if opts.superuser.is_some() && actor.holds_role(&a.name) {
            return Err(unauthorized(
                "You aren't allowed to alter your own superuser status or that of a role granted to you",
            ));
        }
        if opts.superuser.is_some() && !actor.is_super() {
            return Err(unauthorized(
                "Only superusers are allowed to alter superuser status",
            ));
        }
        if !actor.is_super() {
            if actor.user() == Some(a.name.as_str()) {
                // A role may change only its own password (CassandraRoleManager's alterable options are
                // PASSWORD and HASHED_PASSWORD); superuser status was refused above.
                for (given, option) in [
                    (opts.login.is_some(), "LOGIN"),
                    (opts.options.is_some(), "OPTIONS"),
                ] {
                    if given {
                        return Err(unauthorized(format!("You aren't allowed to alter {option}")));
                    }
                }
            } else {
                self.ensure_role_permission(actor, Permission::Alter, &AuthResource::Role(a.name.clone()))?;
            }
        }
        self.validate_role_options(opts)?;
        if opts == &ast::RoleOptions::default() {
            return Err(invalid("ALTER [ROLE|USER] can't be empty"));
        }
        actor.ensure_not_anonymous()?;
        if self.read_role(&a.name)?.is_none() {
            if a.if_exists {
                return Ok(QueryResult::Void);
            }
            return Err(invalid(format!("{} doesn't exist", a.name)));
        }
        let mut assignments = Vec::new();
        let mut values = Vec::new();
        if let Some(login) = opts.login {
            assignments.push("can_login = ?");
            values.push(bool_value(login));
        }
        if let Some(superuser) = opts.superuser {
            assignments.push("is_superuser = ?");
            values.push(bool_value(superuser));
        }
        if let Some(hash) = Self::salted_hash(opts)? {
            assignments.push("salted_hash = ?");
            values.push(text_value(&hash));
        }
        if !assignments.is_empty() {
            values.push(text_value(&a.name));
            self.auth_write(
                &format!(
                    "UPDATE system_auth.roles SET {} WHERE role = ?",
                    assignments.join(", ")
                ),
                &values,
            )?;
        }
        Ok(QueryResult::Void)
    }

    fn drop_role(&self, actor: &Actor, name: &str, if_exists: bool) -> Result<QueryResult> {
        self.ensure_role_permission(actor, Permission::Drop, &AuthResource::Role(name.to_string()))?;
        let row = self.read_role(name)?;
        if row.is_some() && !actor.is_super() && self.has_superuser_status(name)? {
            return Err(unauthorized(
                "Only superusers can drop a role with superuser status",
            ));
        }
        actor.ensure_not_anonymous()?;
        let Some(row) = row else {
            if if_exists {
                return Ok(QueryResult::Void);
            }
            return Err(invalid(format!("{name} doesn't exist")));
        };
        if actor.user() == Some(name) {
            return Err(invalid("Cannot DROP primary role for current login"));
        }
        self.auth_write(
            "DELETE FROM system_auth.roles WHERE role = ?",
            &[text_value(name)],
        )?;
        // Roles this one was granted to lose it.
        for member in self.auth_read(
            "SELECT member FROM system_auth.role_members WHERE role = ?",
            &[text_value(name)],
        )? {
            let member = cell_text(member.first()).unwrap_or_default();
            self.auth_write(
                "UPDATE system_auth.roles SET member_of = member_of - ? WHERE role = ?",
                &[text_set_value([name])?, text_value(&member)],
            )?;
        }
        self.auth_write(
            "DELETE FROM system_auth.role_members WHERE role = ?",
            &[text_value(name)],
        )?;
        // So do the member lists of the roles it held, which keeps role_members consistent with member_of.
        for parent in &row.member_of {
            self.auth_write(
                "DELETE FROM system_auth.role_members WHERE role = ? AND member = ?",
                &[text_value(parent), text_value(name)],
            )?;
        }
        self.revoke_all_from(name)?;
        let resource = AuthResource::Role(name.to_string()).name();
        self.revoke_all_on(|n| n == resource)?;
        Ok(QueryResult::Void)
    }

    /// GRANT role TO grantee (`grant`) or REVOKE role FROM grantee.
    fn grant_role(&self, actor: &Actor, role: &str, grantee: &str, grant: bool) -> Result<QueryResult> {
        self.ensure_role_permission(
            actor,
            Permission::Authorize,
            &AuthResource::Role(role.to_string()),
        )?;
        actor.ensure_not_anonymous()?;
        for name in [role, grantee] {
            if self.read_role(name)?.is_none() {
                return Err(invalid(format!("{name} doesn't exist")));
            }
        }
        let holds = |holder: &str, held: &str, recursive: bool| -> Result<bool> {
            Ok(self
                .granted_roles(holder, recursive)?
                .iter()
                .any(|r| r.name == held))
        };
        if grant {
            // Roles form a directed acyclic graph: no role may end up holding itself.
            if holds(grantee, role, true)? {
                return Err(invalid(format!("{grantee} is a member of {role}")));
            }
            if holds(role, grantee, true)? {
                return Err(invalid(format!("{role} is a member of {grantee}")));
            }
            self.auth_write(
                "UPDATE system_auth.roles SET member_of = member_of + ? WHERE role = ?",
                &[text_set_value([role])?, text_value(grantee)],
            )?;
            self.auth_write(
                "INSERT INTO system_auth.role_members (role, member) VALUES (?, ?)",
                &[text_value(role), text_value(grantee)],
            )?;
        } else {
            if !holds(grantee, role, false)? {
                return Err(invalid(format!("{grantee} is not a member of {role}")));
            }
            self.auth_write(
                "UPDATE system_auth.roles SET member_of = member_of - ? WHERE role = ?",
                &[text_set_value([role])?, text_value(grantee)],
            )?;
            self.auth_write(
                "DELETE FROM system_auth.role_members WHERE role = ? AND member = ?",
                &[text_value(role), text_value(grantee)],
            )?;
        }
        Ok(QueryResult::Void)
    }

    /// GRANT perms ON resource TO role (`grant`) or REVOKE perms ON resource FROM role.
    fn change_permissions(
        &self,
        actor: &Actor,
        state: &ClientState,
        change: &ast::PermissionChange,
        grant: bool,
    ) -> Result<QueryResult> {
        let resource = self.auth_resource(state, &change.resource)?;
        // Cassandra's grammar keeps only the permissions that apply to the resource.
        let perms = PermSet::from_ast(&change.permissions).intersection(resource.applicable());
        if perms.is_empty() {
            return Err(QueryError::Syntax(format!(
                "Resource type {} does not support any of the requested permissions",
                resource.class_name()
            )));
        }
        self.ensure_permission(actor, Permission::Authorize, &resource)?;
        for p in perms.iter() {
            self.ensure_permission(actor, p, &resource)?;
        }
        actor.ensure_not_anonymous()?;
        if self.read_role(&change.role)?.is_none() {
            return Err(invalid(format!("Role {} doesn't exist", change.role)));
        }
        if let AuthResource::Function { keyspace, .. } = &resource
            && keyspace == "system"
        {
            return Err(invalid(
                "Altering permissions on builtin functions is not supported",
            ));
        }
        if !self.resource_exists(&resource)? {
            return Err(invalid(format!("Resource {resource} doesn't exist")));
        }
        let operation = if grant { "GRANT" } else { "REVOKE" };
        if !self.local.authorization {
            return Err(invalid(format!(
                "{operation} operation is not supported by AllowAllAuthorizer"
            )));
        }
        if grant {
            self.grant_permissions(perms, &resource, &change.role)?;
        } else {
            self.revoke_permissions(perms, &resource, &change.role)?;
        }
        Ok(QueryResult::Void)
    }

    /// LIST ROLES [OF r] [NORECURSIVE], or LIST USERS (`users`).
    fn list_roles(
        &self,
        actor: &Actor,
        of: Option<&str>,
        recursive: bool,
        users: bool,
    ) -> Result<QueryResult> {
        actor.ensure_not_anonymous()?;
        if let Some(of) = of
            && self.read_role(of)?.is_none()
        {
            return Err(invalid(format!(
                "{} doesn't exist",
                AuthResource::Role(of.into())
            )));
        }
        // DESCRIBE on the roles root lets a user see any role; others see their own and those they hold.
        let mut roles = if self.permitted(actor, Permission::Describe, &AuthResource::AllRoles) {
            match of {
                None => self.all_roles()?,
                Some(of) => self.granted_roles(of, recursive)?,
            }
        } else {
            let current = actor.display_name();
            match of {
                None => self.granted_roles(current, recursive)?,
                Some(of) if self.granted_roles(current, true)?.iter().any(|r| r.name == of) => {
                    self.granted_roles(of, recursive)?
                }
                Some(of) => {
                    return Err(unauthorized(format!(
                        "You are not authorized to view roles granted to {of} "
                    )));
                }
            }
        };
        if roles.is_empty() {
            return Ok(QueryResult::Void);
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let text = CqlType::Varchar;
        let dcs = serialize(&CqlValue::Text(ALL_DATACENTERS.into()), &text)?;
        let mut rows = Vec::with_capacity(roles.len());
        if users {
            for role in roles.iter().filter(|r| r.login) {
                let superuser = self.has_superuser_status(&role.name)?;
                rows.push(vec![
                    serialize(&CqlValue::Text(role.name.clone()), &text)?,
                    serialize(&CqlValue::Boolean(superuser), &CqlType::Boolean)?,
                    dcs.clone(),
                ]);
            }
            let columns = vec![
                auth_column("users", "name", CqlType::Varchar),
                auth_column("users", "super", CqlType::Boolean),
                auth_column("users", "datacenters", CqlType::Varchar),
            ];
            return Ok(QueryResult::Rows {
                metadata: RowsMetadata::new(columns),
                rows,
            });
        }
        let options_type = CqlType::Map(Box::new(CqlType::Varchar), Box::new(CqlType::Varchar));
        // CassandraRoleManager supports no custom options, so every role shows an empty map.
        let options = serialize(&CqlValue::Map(Vec::new()), &options_type)?;
        for role in &roles {
            rows.push(vec![
                serialize(&CqlValue::Text(role.name.clone()), &text)?,
                serialize(&CqlValue::Boolean(role.superuser), &CqlType::Boolean)?,
                serialize(&CqlValue::Boolean(role.login), &CqlType::Boolean)?,
                options.clone(),
                dcs.clone(),
            ]);
        }
        let columns = vec![
            auth_column("roles", "role", CqlType::Varchar),
            auth_column("roles", "super", CqlType::Boolean),
            auth_column("roles", "login", CqlType::Boolean),
            auth_column("roles", "options", options_type),
            auth_column("roles", "datacenters", CqlType::Varchar),
        ];
        Ok(QueryResult::Rows {
            metadata: RowsMetadata::new(columns),
            rows,
        })
    }

    /// LIST perms [ON resource] [OF role] [NORECURSIVE].
    fn list_permissions(
        &self,
        actor: &Actor,
        state: &ClientState,
        list: &ast::ListPermissions,
    ) -> Result<QueryResult> {
        let resource = list
            .resource
            .as_ref()
            .map(|r| self.auth_resource(state, r))
            .transpose()?;
        let perms = PermSet::from_ast(&list.permissions);
        actor.ensure_not_anonymous()?;
        if let Some(r) = &resource
            && !self.resource_exists(r)?
        {
            return Err(invalid(format!("{r} doesn't exist")));
        }
        if let Some(of) = &list.of
            && self.read_role(of)?.is_none()
        {
            return Err(invalid(format!(
                "{} doesn't exist",
                AuthResource::Role(of.clone())
            )));
        }
        if !self.local.authorization {
            return Err(invalid(
                "LIST PERMISSIONS operation is not supported by AllowAllAuthorizer",
            ));
        }
        // Only superusers see everyone's permissions; others only those of roles they hold.
        if !actor.is_super() && !list.of.as_deref().is_some_and(|of| actor.holds_role(of)) {
            return Err(unauthorized(format!(
                "You are not authorized to view {}'s permissions",
                list.of.as_deref().unwrap_or("everyone")
            )));
        }
        // With a resource, its parents are listed too unless NORECURSIVE; the grantee's roles always are.
        let resources: Option<Vec<String>> = resource.as_ref().map(|r| {
            if list.recursive {
                r.chain().iter().map(AuthResource::name).collect()
            } else {
                vec![r.name()]
            }
        });
        let wanted = |name: &str| resources.as_ref().is_none_or(|rs| rs.iter().any(|r| r == name));
        let mut stored = Vec::new();
        match &list.of {
            None => {
                stored = self.auth_read(
                    "SELECT role, resource, permissions FROM system_auth.role_permissions",
                    &[],
                )?
            }
            Some(of) => {
                for role in self.granted_roles(of, true)? {
                    stored.extend(self.auth_read(
                        "SELECT role, resource, permissions FROM system_auth.role_permissions WHERE role = ?",
                        &[text_value(&role.name)],
                    )?);
                }
            }
        }
        let mut details: Vec<(String, String, AuthResource, Permission)> = Vec::new();
        for row in &stored {
            let role = cell_text(row.first()).unwrap_or_default();
            let name = cell_text(row.get(1)).unwrap_or_default();
            if !wanted(&name) {
                continue;
            }
            let Some(parsed) = AuthResource::from_name(&name) else {
                continue;
            };
            let granted = PermSet::from_names(cell_text_set(row.get(2))?.iter().map(String::as_str));
            for p in granted.intersection(perms).iter() {
                details.push((role.clone(), name.clone(), parsed.clone(), p));
            }
        }
        if details.is_empty() {
            return Ok(QueryResult::Void);
        }
        // Cassandra sorts by role, then resource name, then permission.
        details.sort_by(|a, b| (&a.0, &a.1, a.3).cmp(&(&b.0, &b.1, b.3)));
        let text = CqlType::Varchar;
        let mut rows = Vec::with_capacity(details.len());
        for (role, _, resource, perm) in details {
            let role = serialize(&CqlValue::Text(role), &text)?;
            rows.push(vec![
                role.clone(),
                role,
                serialize(&CqlValue::Text(resource.to_string()), &text)?,
                serialize(&CqlValue::Text(perm.name().into()), &text)?,
            ]);
        }
        let columns = ["role", "username", "resource", "permission"]
            .into_iter()
            .map(|c| auth_column("permissions", c, CqlType::Varchar))
            .collect();
        Ok(QueryResult::Rows {
            metadata: RowsMetadata::new(columns),
            rows,
        })
    }
}
