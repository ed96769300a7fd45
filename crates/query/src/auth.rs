//! Authorization as Cassandra's CassandraAuthorizer performs it: permission resources and their hierarchy,
//! permission sets, a short-lived cache of each user's roles and permissions, and the check every statement
//! (query, prepared execution and each batch child) passes before it runs.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mica_cql_protocol::{SchemaChangeTarget, SchemaChangeType};
use mica_cql_syntax::{self as ast, Permission, StatementKind};
use mica_cql_types::CqlType;

use crate::engine::{ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};

/// How long a cached view of a user's roles and permissions is used before it is read again. Cassandra's
/// `roles_validity` and `permissions_validity` default to the same; role and permission statements executed
/// here invalidate the cache at once, so the delay only affects direct writes to the system_auth tables.
const CACHE_VALIDITY: Duration = Duration::from_secs(2);
/// Users kept in the cache; past this the cache starts over, which bounds its memory.
const CACHE_MAX_USERS: usize = 4096;
/// The name Cassandra gives the user of a connection that did not log in (AllowAllAuthenticator).
pub(crate) const ANONYMOUS: &str = "anonymous";
/// Replicated system keyspaces: only their replication may be altered, even by superusers.
const REPLICATED_SYSTEM_KEYSPACES: &[&str] = &["system_auth", "system_distributed", "system_traces"];
/// Keyspaces whose tables every logged-in user may read, because drivers and tools query them on connect.
const READABLE_KEYSPACES: &[&str] = &["system", "system_schema", "system_virtual_schema", "system_views"];
/// The keyspace holding roles and permissions; writes to it invalidate the cache.
pub(crate) const AUTH_KEYSPACE: &str = "system_auth";

/// Every permission, in Cassandra's declaration order (which LIST PERMISSIONS sorts by).
const ALL_PERMISSIONS: [Permission; 10] = [
    Permission::Create,
    Permission::Alter,
    Permission::Drop,
    Permission::Select,
    Permission::Modify,
    Permission::Authorize,
    Permission::Describe,
    Permission::Execute,
    Permission::Unmask,
    Permission::SelectMasked,
];

/// A set of permissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PermSet(u16);

impl PermSet {
    pub(crate) const fn of(perms: &[Permission]) -> PermSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < perms.len() {
            bits |= 1 << perms[i] as u16;
            i += 1;
        }
        PermSet(bits)
    }

    pub(crate) fn contains(self, p: Permission) -> bool {
        self.0 & (1 << p as u16) != 0
    }

    pub(crate) fn insert(&mut self, p: Permission) {
        self.0 |= 1 << p as u16;
    }

    pub(crate) fn union(self, other: PermSet) -> PermSet {
        PermSet(self.0 | other.0)
    }

    pub(crate) fn intersection(self, other: PermSet) -> PermSet {
        PermSet(self.0 & other.0)
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in Cassandra's order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Permission> {
        ALL_PERMISSIONS.into_iter().filter(move |p| self.contains(*p))
    }

    /// The permissions named in a stored `permissions` set; names this version does not know are skipped.
    pub(crate) fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> PermSet {
        let mut set = PermSet::default();
        for p in names.into_iter().filter_map(permission_named) {
            set.insert(p);
        }
        set
    }

    /// The permissions a statement names (`ALL` is Cassandra 4.1's full set).
    pub(crate) fn from_ast(perms: &ast::Permissions) -> PermSet {
        match perms {
            ast::Permissions::All => ALL,
            ast::Permissions::Some(list) => PermSet::of(list),
        }
    }
}

/// What `ALL PERMISSIONS` means in Cassandra 4.1.
pub(crate) const ALL: PermSet = PermSet::of(&[
    Permission::Create,
    Permission::Alter,
    Permission::Drop,
    Permission::Select,
    Permission::Modify,
    Permission::Authorize,
    Permission::Describe,
    Permission::Execute,
]);
const DATA_ROOT_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Create,
    Permission::Alter,
    Permission::Drop,
    Permission::Select,
    Permission::Modify,
    Permission::Authorize,
]);
const TABLE_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Alter,
    Permission::Drop,
    Permission::Select,
    Permission::Modify,
    Permission::Authorize,
]);
const ROLES_ROOT_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Create,
    Permission::Alter,
    Permission::Drop,
    Permission::Authorize,
    Permission::Describe,
]);
const ROLE_PERMISSIONS: PermSet = PermSet::of(&[Permission::Alter, Permission::Drop, Permission::Authorize]);
const FUNCTIONS_ROOT_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Create,
    Permission::Alter,
    Permission::Drop,
    Permission::Authorize,
    Permission::Execute,
]);
const FUNCTION_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Alter,
    Permission::Drop,
    Permission::Authorize,
    Permission::Execute,
]);
const MBEAN_PERMISSIONS: PermSet = PermSet::of(&[
    Permission::Authorize,
    Permission::Describe,
    Permission::Execute,
    Permission::Modify,
    Permission::Select,
]);

/// The permission with this upper-case name.
pub(crate) fn permission_named(name: &str) -> Option<Permission> {
    ALL_PERMISSIONS.into_iter().find(|p| p.name() == name)
}

/// A resource permissions are granted on, with Cassandra's names (`data/ks/t`, `roles/r`, ...) and display
/// forms (`<table ks.t>`, `<role r>`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AuthResource {
    AllKeyspaces,
    Keyspace(String),
    Table(String, String),
    AllRoles,
    Role(String),
    AllFunctions,
    KeyspaceFunctions(String),
    Function {
        keyspace: String,
        name: String,
        args: Vec<CqlType>,
    },
    AllMBeans,
    MBean(String),
}

impl AuthResource {
    /// The name stored in system_auth.role_permissions.resource.
    pub(crate) fn name(&self) -> String {
        match self {
            AuthResource::AllKeyspaces => "data".into(),
            AuthResource::Keyspace(ks) => format!("data/{ks}"),
            AuthResource::Table(ks, t) => format!("data/{ks}/{t}"),
            AuthResource::AllRoles => "roles".into(),
            AuthResource::Role(r) => format!("roles/{r}"),
            AuthResource::AllFunctions => "functions".into(),
            AuthResource::KeyspaceFunctions(ks) => format!("functions/{ks}"),
            AuthResource::Function { keyspace, name, args } => {
                let args: Vec<String> = args.iter().map(CqlType::marshal_class).collect();
                format!("functions/{keyspace}/{name}[{}]", args.join("^"))
            }
            AuthResource::AllMBeans => "mbean".into(),
            AuthResource::MBean(n) => format!("mbean/{n}"),
        }
    }

    /// Parses a stored resource name; `None` for names this version does not understand.
    pub(crate) fn from_name(name: &str) -> Option<AuthResource> {
        let (root, rest) = match name.split_once('/') {
            Some((root, rest)) => (root, Some(rest)),
            None => (name, None),
        };
        Some(match (root, rest) {
            ("data", None) => AuthResource::AllKeyspaces,
            ("data", Some(rest)) => match rest.split_once('/') {
                Some((ks, t)) => AuthResource::Table(ks.into(), t.into()),
                None => AuthResource::Keyspace(rest.into()),
            },
            ("roles", None) => AuthResource::AllRoles,
            ("roles", Some(r)) => AuthResource::Role(r.into()),
            ("functions", None) => AuthResource::AllFunctions,
            ("functions", Some(rest)) => match rest.split_once('/') {
                None => AuthResource::KeyspaceFunctions(rest.into()),
                Some((ks, f)) => {
                    let (fname, args) = f.strip_suffix(']')?.split_once('[')?;
                    let args = if args.is_empty() {
                        Vec::new()
                    } else {
                        args.split('^')
                            .map(mica_cql_types::parse_marshal_class)
                            .collect::<Option<Vec<_>>>()?
                    };
                    AuthResource::Function {
                        keyspace: ks.into(),
                        name: fname.into(),
                        args,
                    }
                }
            },
            ("mbean", None) => AuthResource::AllMBeans,
            ("mbean", Some(n)) => AuthResource::MBean(n.into()),
            _ => return None,
        })
    }

    pub(crate) fn parent(&self) -> Option<AuthResource> {
        match self {
            AuthResource::Keyspace(_) => Some(AuthResource::AllKeyspaces),
            AuthResource::Table(ks, _) => Some(AuthResource::Keyspace(ks.clone())),
            AuthResource::Role(_) => Some(AuthResource::AllRoles),
            AuthResource::KeyspaceFunctions(_) => Some(AuthResource::AllFunctions),
            AuthResource::Function { keyspace, .. } => {
                Some(AuthResource::KeyspaceFunctions(keyspace.clone()))
            }
            AuthResource::MBean(_) => Some(AuthResource::AllMBeans),
            AuthResource::AllKeyspaces
            | AuthResource::AllRoles
            | AuthResource::AllFunctions
            | AuthResource::AllMBeans => None,
        }
    }

    /// The resource followed by its parents up to the root.
    pub(crate) fn chain(&self) -> Vec<AuthResource> {
        let mut chain = vec![self.clone()];
        while let Some(parent) = chain.last().and_then(AuthResource::parent) {
            chain.push(parent);
        }
        chain
    }

    /// The permissions that can be granted on the resource.
    pub(crate) fn applicable(&self) -> PermSet {
        match self {
            AuthResource::AllKeyspaces | AuthResource::Keyspace(_) => DATA_ROOT_PERMISSIONS,
            AuthResource::Table(..) => TABLE_PERMISSIONS,
            AuthResource::AllRoles => ROLES_ROOT_PERMISSIONS,
            AuthResource::Role(_) => ROLE_PERMISSIONS,
            AuthResource::AllFunctions | AuthResource::KeyspaceFunctions(_) => FUNCTIONS_ROOT_PERMISSIONS,
            AuthResource::Function { .. } => FUNCTION_PERMISSIONS,
            AuthResource::AllMBeans | AuthResource::MBean(_) => MBEAN_PERMISSIONS,
        }
    }

    /// Cassandra's class for the resource type, as its error messages name it.
    pub(crate) fn class_name(&self) -> &'static str {
        match self {
            AuthResource::AllKeyspaces | AuthResource::Keyspace(_) | AuthResource::Table(..) => {
                "DataResource"
            }
            AuthResource::AllRoles | AuthResource::Role(_) => "RoleResource",
            AuthResource::AllFunctions
            | AuthResource::KeyspaceFunctions(_)
            | AuthResource::Function { .. } => "FunctionResource",
            AuthResource::AllMBeans | AuthResource::MBean(_) => "JMXResource",
        }
    }
}

impl fmt::Display for AuthResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthResource::AllKeyspaces => f.write_str("<all keyspaces>"),
            AuthResource::Keyspace(ks) => write!(f, "<keyspace {ks}>"),
            AuthResource::Table(ks, t) => write!(f, "<table {ks}.{t}>"),
            AuthResource::AllRoles => f.write_str("<all roles>"),
            AuthResource::Role(r) => write!(f, "<role {r}>"),
            AuthResource::AllFunctions => f.write_str("<all functions>"),
            AuthResource::KeyspaceFunctions(ks) => write!(f, "<all functions in {ks}>"),
            AuthResource::Function { keyspace, name, args } => {
                let args: Vec<String> = args.iter().map(CqlType::cql_name).collect();
                write!(f, "<function {keyspace}.{name}({})>", args.join(", "))
            }
            AuthResource::AllMBeans => f.write_str("<all mbeans>"),
            AuthResource::MBean(n) => write!(f, "<mbean {n}>"),
        }
    }
}

/// A user's roles and permissions, as read from system_auth.
#[derive(Debug, Default)]
pub(crate) struct UserAuth {
    /// The user's own role and every role granted to it, transitively (existing roles only).
    pub(crate) roles: BTreeSet<String>,
    /// Whether any of the roles is a superuser (superuser status is inherited).
    pub(crate) superuser: bool,
    /// Permissions granted to any of the roles, by resource name.
    pub(crate) permissions: HashMap<String, PermSet>,
}

impl UserAuth {
    /// The permissions granted directly on `resource` (not on its parents).
    pub(crate) fn on(&self, resource: &AuthResource) -> PermSet {
        self.permissions
            .get(&resource.name())
            .copied()
            .unwrap_or_default()
    }

    /// Whether `perm` is granted on the resource or any of its parents.
    pub(crate) fn granted(&self, perm: Permission, resource: &AuthResource) -> bool {
        !self.permissions.is_empty() && resource.chain().iter().any(|r| self.on(r).contains(perm))
    }
}

/// Who runs a statement.
#[derive(Debug)]
pub(crate) enum Actor {
    /// The node itself (no user on a node that requires logins): everything is allowed.
    Internal,
    /// A connection that did not log in because the node does not require it.
    Anonymous,
    User {
        name: String,
        auth: Arc<UserAuth>,
    },
}

impl Actor {
    /// The logged-in role, if any.
    pub(crate) fn user(&self) -> Option<&str> {
        match self {
            Actor::User { name, .. } => Some(name),
            Actor::Internal | Actor::Anonymous => None,
        }
    }

    /// The name used in error messages.
    pub(crate) fn display_name(&self) -> &str {
        match self {
            Actor::User { name, .. } => name,
            Actor::Anonymous => ANONYMOUS,
            Actor::Internal => "system",
        }
    }

    pub(crate) fn is_super(&self) -> bool {
        match self {
            Actor::Internal => true,
            Actor::Anonymous => false,
            Actor::User { auth, .. } => auth.superuser,
        }
    }

    /// Whether the actor holds `role`, as its own role or a granted one.
    pub(crate) fn holds_role(&self, role: &str) -> bool {
        match self {
            Actor::User { auth, .. } => auth.roles.contains(role),
            Actor::Internal | Actor::Anonymous => false,
        }
    }

    /// Cassandra's `ensureNotAnonymous`, which role and permission statements start with.
    pub(crate) fn ensure_not_anonymous(&self) -> Result<()> {
        if matches!(self, Actor::Anonymous) {
            return Err(QueryError::Unauthorized(
                "You have to be logged in and not anonymous to perform this request".into(),
            ));
        }
        Ok(())
    }
}

/// Cached [`UserAuth`]s, invalidated by a generation counter, plus the clock for system_auth writes.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    generation: AtomicU64,
    users: Mutex<HashMap<String, CachedUser>>,
    last_timestamp: AtomicI64,
}

#[derive(Debug)]
struct CachedUser {
    generation: u64,
    loaded: Instant,
    auth: Arc<UserAuth>,
}

impl AuthCache {
    /// Forgets every cached user (after any change to roles or permissions).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A write timestamp for system_auth that is always greater than the previous one, so that a role
    /// dropped and created again within the same microsecond is not shadowed by its own tombstone.
    pub(crate) fn next_timestamp(&self) -> i64 {
        let now = mica_types::Timestamp::now().0;
        let mut last = self.last_timestamp.load(Ordering::SeqCst);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last_timestamp
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(current) => last = current,
            }
        }
    }

    fn get(&self, name: &str) -> Option<Arc<UserAuth>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let users = self.users.lock().ok()?;
        users
            .get(name)
            .filter(|c| c.generation == generation && c.loaded.elapsed() < CACHE_VALIDITY)
            .map(|c| c.auth.clone())
    }

    fn put(&self, name: &str, generation: u64, auth: Arc<UserAuth>) {
        if let Ok(mut users) = self.users.lock() {
            if users.len() >= CACHE_MAX_USERS {
                users.clear();
            }
            users.insert(
                name.to_string(),
                CachedUser {
                    generation,
                    loaded: Instant::now(),
                    auth,
                },
            );
        }
    }
}

/// The per-statement permission check, created once per statement or batch.
pub(crate) struct Access<'e> {
    engine: &'e QueryEngine,
    /// `None` when nothing needs checking: AllowAllAuthorizer, or the node itself.
    actor: Option<Actor>,
}

impl QueryEngine {
    /// The roles and permissions of `name`, from the cache when fresh.
    pub(crate) fn user_auth(&self, name: &str) -> Result<Arc<UserAuth>> {
        if let Some(auth) = self.auth_cache.get(name) {
            return Ok(auth);
        }
        // The generation is read before loading, so a change committed during the load leaves the entry stale.
        let generation = self.auth_cache.generation.load(Ordering::SeqCst);
        let auth = Arc::new(self.load_user_auth(name)?);
        self.auth_cache.put(name, generation, auth.clone());
        Ok(auth)
    }

    /// Who is running statements on this connection.
    pub(crate) fn actor(&self, state: &ClientState) -> Result<Actor> {
        Ok(match &state.user {
            Some(name) => Actor::User {
                name: name.clone(),
                auth: self.user_auth(name)?,
            },
            // A node with PasswordAuthenticator serves no statement before a login, so a missing user is
            // the node's own request.
            None if self.local.password_auth => Actor::Internal,
            None => Actor::Anonymous,
        })
    }

    /// Whether `actor` holds `perm` on the resource or a parent; always true without CassandraAuthorizer.
    pub(crate) fn permitted(&self, actor: &Actor, perm: Permission, resource: &AuthResource) -> bool {
        if !self.local.authorization {
            return true;
        }
        match actor {
            Actor::Internal => true,
            Actor::Anonymous => false,
            Actor::User { auth, .. } => auth.superuser || auth.granted(perm, resource),
        }
    }

    /// Cassandra's `ensurePermission`, with its error message.
    pub(crate) fn ensure_permission(
        &self,
        actor: &Actor,
        perm: Permission,
        resource: &AuthResource,
    ) -> Result<()> {
        if self.permitted(actor, perm, resource) {
            return Ok(());
        }
        Err(QueryError::Unauthorized(format!(
            "User {} has no {} permission on {resource} or any of its parents",
            actor.display_name(),
            perm.name()
        )))
    }

    /// Converts a parsed resource, qualifying a table with the session keyspace as Cassandra does.
    pub(crate) fn auth_resource(
        &self,
        state: &ClientState,
        resource: &ast::Resource,
    ) -> Result<AuthResource> {
        Ok(match resource {
            ast::Resource::AllKeyspaces => AuthResource::AllKeyspaces,
            ast::Resource::Keyspace(ks) => AuthResource::Keyspace(ks.clone()),
            ast::Resource::Table(name) => {
                AuthResource::Table(self.keyspace_name(state, &name.keyspace)?, name.name.clone())
            }
            ast::Resource::AllRoles => AuthResource::AllRoles,
            ast::Resource::Role(r) => AuthResource::Role(r.clone()),
            ast::Resource::AllFunctions(None) => AuthResource::AllFunctions,
            ast::Resource::AllFunctions(Some(ks)) => AuthResource::KeyspaceFunctions(ks.clone()),
            ast::Resource::Function { name, arg_types } => {
                let keyspace = name.keyspace.clone().ok_or_else(|| {
                    invalid("In this context function name must be explictly qualified by a keyspace")
                })?;
                let schema = self.schema();
                let types = schema
                    .keyspace(&keyspace)
                    .map(|k| k.types.clone())
                    .unwrap_or_default();
                let args = arg_types
                    .iter()
                    .map(|t| crate::ddl::resolve_type(t, &|n| types.get(n).cloned()))
                    .collect::<Result<Vec<_>>>()?;
                AuthResource::Function {
                    keyspace,
                    name: name.name.clone(),
                    args,
                }
            }
            ast::Resource::AllMBeans => AuthResource::AllMBeans,
            ast::Resource::MBean(n) => AuthResource::MBean(n.clone()),
        })
    }

    /// Whether the resource exists (GRANT and LIST refuse resources that do not).
    pub(crate) fn resource_exists(&self, resource: &AuthResource) -> Result<bool> {
        let schema = self.schema();
        Ok(match resource {
            AuthResource::AllKeyspaces
            | AuthResource::AllRoles
            | AuthResource::AllFunctions
            | AuthResource::AllMBeans => true,
            AuthResource::Keyspace(ks) | AuthResource::KeyspaceFunctions(ks) => schema.keyspace(ks).is_some(),
            AuthResource::Table(ks, t) => schema.table(ks, t).is_some(),
            AuthResource::Role(r) => self.read_role(r)?.is_some(),
            // The schema holds no user-defined functions, and the node exposes no MBeans.
            AuthResource::Function { .. } | AuthResource::MBean(_) => false,
        })
    }

    /// The permission check for statements on this connection; see [`Access::check`].
    pub(crate) fn access(&self, state: &ClientState) -> Result<Access<'_>> {
        let actor = if self.local.authorization {
            match self.actor(state)? {
                Actor::Internal => None,
                actor => Some(actor),
            }
        } else {
            None
        };
        Ok(Access { engine: self, actor })
    }

    /// After a schema change: grants the creator of a keyspace or table every permission on it and removes
    /// all permissions on dropped keyspaces and tables, as Cassandra does.
    pub(crate) fn after_schema_change(&self, state: &ClientState, result: &QueryResult) -> Result<()> {
        if !self.local.authorization {
            return Ok(());
        }
        let QueryResult::SchemaChange(change) = result else {
            return Ok(());
        };
        let created = match (&change.change_type, &change.target) {
            (SchemaChangeType::Created, SchemaChangeTarget::Keyspace(ks)) => vec![
                AuthResource::Keyspace(ks.clone()),
                AuthResource::KeyspaceFunctions(ks.clone()),
            ],
            (SchemaChangeType::Created, SchemaChangeTarget::Table { keyspace, name }) => {
                vec![AuthResource::Table(keyspace.clone(), name.clone())]
            }
            (SchemaChangeType::Dropped, SchemaChangeTarget::Keyspace(ks)) => {
                let (data, functions) = (format!("data/{ks}"), format!("functions/{ks}"));
                return self.revoke_all_on(|name| {
                    [&data, &functions].iter().any(|root| {
                        name == root.as_str()
                            || name
                                .strip_prefix(root.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    })
                });
            }
            (SchemaChangeType::Dropped, SchemaChangeTarget::Table { keyspace, name }) => {
                let dropped = AuthResource::Table(keyspace.clone(), name.clone()).name();
                return self.revoke_all_on(|n| n == dropped);
            }
            _ => return Ok(()),
        };
        if let Some(user) = &state.user {
            for resource in created {
                self.grant_permissions(resource.applicable(), &resource, user)?;
            }
            self.auth_cache.invalidate();
        }
        Ok(())
    }
}

/// The keyspace a data-modifying statement writes to, when it names or implies one.
fn written_keyspace<'a>(state: &'a ClientState, kind: &'a StatementKind) -> Option<&'a str> {
    let name = match kind {
        StatementKind::Insert(i) => &i.table,
        StatementKind::Update(u) => &u.table,
        StatementKind::Delete(d) => &d.table,
        StatementKind::Truncate(t) => t,
        StatementKind::Batch(b) => {
            return b.statements.iter().find_map(|(_, child)| {
                let table = match child {
                    ast::BatchChild::Insert(i) => &i.table,
                    ast::BatchChild::Update(u) => &u.table,
                    ast::BatchChild::Delete(d) => &d.table,
                };
                table
                    .keyspace
                    .as_deref()
                    .or(state.keyspace.as_deref())
                    .filter(|ks| *ks == AUTH_KEYSPACE)
            });
        }
        _ => return None,
    };
    name.keyspace.as_deref().or(state.keyspace.as_deref())
}

impl Access<'_> {
    /// Checks that the statement may run, as Cassandra's `authorize` step does for each statement type.
    /// Role and permission statements are checked by their own execution (see `roles.rs`).
    pub(crate) fn check(&self, state: &ClientState, kind: &StatementKind) -> Result<()> {
        if written_keyspace(state, kind) == Some(AUTH_KEYSPACE) {
            // Direct writes to roles or permissions must be seen by the next statement's check.
            self.engine.auth_cache.invalidate();
        }
        let Some(actor) = &self.actor else {
            return Ok(());
        };
        use Permission as P;
        use StatementKind as K;
        let e = self.engine;
        let ks = |explicit: &Option<String>| e.keyspace_name(state, explicit);
        match kind {
            K::Select(s) => self.dml(actor, state, &s.table, &[P::Select]),
            K::Insert(i) => self.dml(actor, state, &i.table, modify_perms(i.if_not_exists)),
            K::Update(u) => self.dml(actor, state, &u.table, modify_perms(u.conditions.is_some())),
            K::Delete(d) => self.dml(actor, state, &d.table, modify_perms(d.conditions.is_some())),
            K::Batch(b) => b.statements.iter().try_for_each(|(_, child)| match child {
                ast::BatchChild::Insert(i) => self.dml(actor, state, &i.table, modify_perms(i.if_not_exists)),
                ast::BatchChild::Update(u) => {
                    self.dml(actor, state, &u.table, modify_perms(u.conditions.is_some()))
                }
                ast::BatchChild::Delete(d) => {
                    self.dml(actor, state, &d.table, modify_perms(d.conditions.is_some()))
                }
            }),
            K::CreateKeyspace(_) => e.ensure_permission(actor, P::Create, &AuthResource::AllKeyspaces),
            K::AlterKeyspace(a) => self.keyspace(actor, &a.name, P::Alter),
            K::DropKeyspace { name, .. } => self.keyspace(actor, name, P::Drop),
            K::CreateTable(c) => self.keyspace(actor, &ks(&c.name.keyspace)?, P::Create),
            K::CreateType(c) => self.keyspace(actor, &ks(&c.name.keyspace)?, P::Create),
            K::AlterType(a) => self.keyspace(actor, &ks(&a.name.keyspace)?, P::Alter),
            K::DropType { name, .. } => self.keyspace(actor, &ks(&name.keyspace)?, P::Drop),
            K::AlterTable(a) => self.table(actor, state, &a.name, P::Alter),
            K::DropTable { name, .. } => self.table(actor, state, name, P::Drop),
            K::Truncate(name) => self.table(actor, state, name, P::Modify),
            K::CreateIndex(c) => self.table(actor, state, &c.table, P::Alter),
            K::DropIndex { name, .. } => {
                // Dropping an index needs ALTER on its table; an unknown index is reported by the drop itself.
                let keyspace = ks(&name.keyspace)?;
                let schema = e.schema();
                let table = schema.keyspace(&keyspace).and_then(|k| {
                    k.tables
                        .values()
                        .find(|t| t.indexes.iter().any(|i| i.name == name.name))
                        .map(|t| t.name.clone())
                });
                match table {
                    Some(t) => self.data(
                        actor,
                        &keyspace,
                        P::Alter,
                        &AuthResource::Table(keyspace.clone(), t),
                    ),
                    None => Ok(()),
                }
            }
            K::CreateView(v) => self.table(actor, state, &v.base_table, P::Alter),
            K::CreateFunction(f) => e.ensure_permission(
                actor,
                P::Create,
                &AuthResource::KeyspaceFunctions(ks(&f.name.keyspace)?),
            ),
            K::CreateAggregate(a) => e.ensure_permission(
                actor,
                P::Create,
                &AuthResource::KeyspaceFunctions(ks(&a.name.keyspace)?),
            ),
            K::CreateTrigger { .. } => superuser_only(actor, "CREATE TRIGGER"),
            K::DropTrigger { .. } => superuser_only(actor, "DROP TRIGGER"),
            // USE and DESCRIBE need no permission; role and permission statements check their own; there are
            // no user-defined functions or views in the schema for the remaining statements to act on.
            _ => Ok(()),
        }
    }

    /// SELECT and data modification: the table must exist (Cassandra reports that first), then the user
    /// needs each permission on it. Superusers skip the lookup.
    fn dml(
        &self,
        actor: &Actor,
        state: &ClientState,
        name: &ast::QualifiedName,
        perms: &[Permission],
    ) -> Result<()> {
        if actor.is_super() {
            return Ok(());
        }
        let table = self.engine.resolve_table(state, name)?;
        let resource = AuthResource::Table(table.keyspace.clone(), table.name.clone());
        perms
            .iter()
            .try_for_each(|p| self.data(actor, &table.keyspace, *p, &resource))
    }

    fn keyspace(&self, actor: &Actor, keyspace: &str, perm: Permission) -> Result<()> {
        self.data(
            actor,
            keyspace,
            perm,
            &AuthResource::Keyspace(keyspace.to_string()),
        )
    }

    fn table(
        &self,
        actor: &Actor,
        state: &ClientState,
        name: &ast::QualifiedName,
        perm: Permission,
    ) -> Result<()> {
        let keyspace = self.engine.keyspace_name(state, &name.keyspace)?;
        let resource = AuthResource::Table(keyspace.clone(), name.name.clone());
        self.data(actor, &keyspace, perm, &resource)
    }

    /// Cassandra's keyspace-aware `ensurePermission`: system keyspaces refuse schema changes to everyone,
    /// the tables drivers read are readable by all, and otherwise the permission must be granted.
    fn data(&self, actor: &Actor, keyspace: &str, perm: Permission, resource: &AuthResource) -> Result<()> {
        if matches!(perm, Permission::Create | Permission::Alter | Permission::Drop) {
            if mica_schema::is_system_keyspace(keyspace) {
                return Err(QueryError::Unauthorized(format!(
                    "{keyspace} keyspace is not user-modifiable."
                )));
            }
            if REPLICATED_SYSTEM_KEYSPACES.contains(&keyspace)
                && !(perm == Permission::Alter && matches!(resource, AuthResource::Keyspace(_)))
            {
                return Err(QueryError::Unauthorized(format!(
                    "Cannot {} {resource}",
                    perm.name()
                )));
            }
        }
        if perm == Permission::Select && READABLE_KEYSPACES.contains(&keyspace) {
            return Ok(());
        }
        self.engine.ensure_permission(actor, perm, resource)
    }
}

/// Writes need MODIFY; conditional ones also read, so they need SELECT too.
fn modify_perms(conditional: bool) -> &'static [Permission] {
    if conditional {
        &[Permission::Modify, Permission::Select]
    } else {
        &[Permission::Modify]
    }
}

fn superuser_only(actor: &Actor, operation: &str) -> Result<()> {
    if actor.is_super() {
        return Ok(());
    }
    Err(QueryError::Unauthorized(format!(
        "Only superusers are allowed to perform {operation} queries"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_round_trip() {
        let resources = [
            AuthResource::AllKeyspaces,
            AuthResource::Keyspace("ks".into()),
            AuthResource::Table("ks".into(), "t".into()),
            AuthResource::AllRoles,
            AuthResource::Role("a/b".into()),
            AuthResource::AllFunctions,
            AuthResource::KeyspaceFunctions("ks".into()),
            AuthResource::Function {
                keyspace: "ks".into(),
                name: "f".into(),
                args: vec![CqlType::Int, CqlType::Varchar],
            },
            AuthResource::AllMBeans,
            AuthResource::MBean("org.apache:type=X".into()),
        ];
        for r in resources {
            assert_eq!(
                AuthResource::from_name(&r.name()),
                Some(r.clone()),
                "{}",
                r.name()
            );
        }
        assert_eq!(AuthResource::from_name("nonsense/x"), None);
    }

    #[test]
    fn display_and_hierarchy_match_cassandra() {
        let t = AuthResource::Table("ks".into(), "t".into());
        assert_eq!(t.name(), "data/ks/t");
        let shown: Vec<String> = t.chain().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["<table ks.t>", "<keyspace ks>", "<all keyspaces>"]);
        assert_eq!(AuthResource::Role("r".into()).to_string(), "<role r>");
        assert_eq!(AuthResource::AllRoles.to_string(), "<all roles>");
        assert_eq!(
            AuthResource::KeyspaceFunctions("ks".into()).to_string(),
            "<all functions in ks>"
        );
        let f = AuthResource::Function {
            keyspace: "ks".into(),
            name: "f".into(),
            args: vec![CqlType::Int, CqlType::Varchar],
        };
        assert_eq!(f.to_string(), "<function ks.f(int, text)>");
        assert_eq!(f.parent(), Some(AuthResource::KeyspaceFunctions("ks".into())));
    }

    #[test]
    fn applicable_permissions_follow_the_resource_level() {
        let table = AuthResource::Table("ks".into(), "t".into()).applicable();
        assert!(!table.contains(Permission::Create));
        assert!(table.contains(Permission::Select));
        assert!(
            AuthResource::AllKeyspaces
                .applicable()
                .contains(Permission::Create)
        );
        assert!(
            !AuthResource::AllKeyspaces
                .applicable()
                .contains(Permission::Execute)
        );
        assert!(AuthResource::AllRoles.applicable().contains(Permission::Describe));
        assert!(
            !AuthResource::Role("r".into())
                .applicable()
                .contains(Permission::Describe)
        );
        let names: Vec<&str> = ROLE_PERMISSIONS.iter().map(Permission::name).collect();
        assert_eq!(names, ["ALTER", "DROP", "AUTHORIZE"]);
    }

    #[test]
    fn permission_sets() {
        let set = PermSet::from_names(["SELECT", "MODIFY", "BOGUS"]);
        assert!(set.contains(Permission::Select) && set.contains(Permission::Modify));
        assert_eq!(set.iter().count(), 2);
        assert_eq!(ALL.iter().count(), 8);
        assert!(set.intersection(TABLE_PERMISSIONS) == set);
        assert!(PermSet::default().is_empty());
        assert_eq!(set.union(PermSet::of(&[Permission::Drop])).iter().count(), 3);
    }

    #[test]
    fn user_auth_checks_parents() {
        let mut auth = UserAuth::default();
        auth.permissions
            .insert("data/ks".into(), PermSet::of(&[Permission::Select]));
        let t = AuthResource::Table("ks".into(), "t".into());
        assert!(auth.granted(Permission::Select, &t));
        assert!(!auth.granted(Permission::Modify, &t));
        assert!(!auth.granted(
            Permission::Select,
            &AuthResource::Table("other".into(), "t".into())
        ));
    }

    #[test]
    fn write_timestamps_increase() {
        let cache = AuthCache::default();
        let a = cache.next_timestamp();
        let b = cache.next_timestamp();
        assert!(b > a);
    }
}
