//! Roles, users, permissions (GRANT/REVOKE/LIST) and DESCRIBE.

use super::{PResult, Parser, is_ident_token};
use crate::ast::*;
use crate::lexer::TokenKind;

/// Permission keywords and their values.
const PERMISSIONS: &[(&str, Permission)] = &[
    ("create", Permission::Create),
    ("alter", Permission::Alter),
    ("drop", Permission::Drop),
    ("select", Permission::Select),
    ("modify", Permission::Modify),
    ("authorize", Permission::Authorize),
    ("describe", Permission::Describe),
    ("execute", Permission::Execute),
    ("unmask", Permission::Unmask),
    ("select_masked", Permission::SelectMasked),
];

impl Parser<'_> {
    /// A role name: an identifier (unquoted ones lowercased) or a string literal (verbatim).
    pub(crate) fn role_name(&mut self) -> PResult<String> {
        if self.peek().kind == TokenKind::String {
            return Ok(self.bump().text);
        }
        self.ident()
    }

    /// A legacy user name: unlike role names, Cassandra keeps the case of unquoted user names.
    pub(crate) fn user_name(&mut self) -> PResult<String> {
        let tok = self.peek();
        if tok.kind == TokenKind::String || is_ident_token(tok) {
            return Ok(self.bump().text);
        }
        Err(self.no_viable())
    }

    pub(crate) fn create_role(&mut self) -> PResult<StatementKind> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.role_name()?;
        let options = if self.eat_word("with") {
            self.role_options()?
        } else {
            RoleOptions::default()
        };
        Ok(StatementKind::CreateRole(CreateRole {
            if_not_exists,
            name,
            options,
            user_syntax: false,
        }))
    }

    pub(crate) fn alter_role(&mut self) -> PResult<StatementKind> {
        let if_exists = self.if_exists()?;
        let name = self.role_name()?;
        self.expect_word("with")?;
        let options = self.role_options()?;
        Ok(StatementKind::AlterRole(AlterRole {
            if_exists,
            name,
            options,
            user_syntax: false,
        }))
    }

    pub(crate) fn create_user(&mut self) -> PResult<StatementKind> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.user_name()?;
        let mut options = self.user_options()?;
        options.login = Some(true);
        options.superuser.get_or_insert(false);
        Ok(StatementKind::CreateRole(CreateRole {
            if_not_exists,
            name,
            options,
            user_syntax: true,
        }))
    }

    pub(crate) fn alter_user(&mut self) -> PResult<StatementKind> {
        let if_exists = self.if_exists()?;
        let name = self.user_name()?;
        let options = self.user_options()?;
        Ok(StatementKind::AlterRole(AlterRole {
            if_exists,
            name,
            options,
            user_syntax: true,
        }))
    }

    /// `[WITH [HASHED] PASSWORD 'p'] [SUPERUSER | NOSUPERUSER]` of the legacy user statements.
    fn user_options(&mut self) -> PResult<RoleOptions> {
        let mut options = RoleOptions::default();
        if self.eat_word("with") {
            let hashed = self.eat_word("hashed");
            self.expect_word("password")?;
            let password = self.string()?;
            if hashed {
                options.hashed_password = Some(password);
            } else {
                options.password = Some(password);
            }
        }
        if self.eat_word("superuser") {
            options.superuser = Some(true);
        } else if self.eat_word("nosuperuser") {
            options.superuser = Some(false);
        }
        Ok(options)
    }

    /// `option (AND option)*` of CREATE/ALTER ROLE; a repeated option is an error, as in Cassandra.
    fn role_options(&mut self) -> PResult<RoleOptions> {
        let mut opts = RoleOptions::default();
        loop {
            let word = self.peek().text.to_ascii_lowercase();
            let duplicate = |p: &Self, name: &str| {
                p.error_at_current(format!(
                    "Multiple definition for property {}",
                    name.to_ascii_uppercase()
                ))
            };
            match word.as_str() {
                "password" | "hashed" => {
                    let hashed = self.eat_word("hashed");
                    let slot = if hashed {
                        &opts.hashed_password
                    } else {
                        &opts.password
                    };
                    if slot.is_some() {
                        return Err(duplicate(
                            self,
                            if hashed { "hashed_password" } else { "password" },
                        ));
                    }
                    self.expect_word("password")?;
                    self.expect_sym("=")?;
                    let value = Some(self.string()?);
                    if hashed {
                        opts.hashed_password = value;
                    } else {
                        opts.password = value;
                    }
                }
                "login" | "superuser" => {
                    let login = word == "login";
                    if (if login { opts.login } else { opts.superuser }).is_some() {
                        return Err(duplicate(self, &word));
                    }
                    self.bump();
                    self.expect_sym("=")?;
                    let value = Some(self.boolean()?);
                    if login {
                        opts.login = value;
                    } else {
                        opts.superuser = value;
                    }
                }
                "options" => {
                    if opts.options.is_some() {
                        return Err(duplicate(self, "options"));
                    }
                    self.bump();
                    self.expect_sym("=")?;
                    opts.options = Some(self.constant_map()?);
                }
                "access" => {
                    self.bump();
                    let datacenters = self.eat_word("to");
                    if !datacenters {
                        self.expect_word("from")?;
                    }
                    let (plural, slot_taken) = if datacenters {
                        ("datacenters", opts.datacenters.is_some())
                    } else {
                        ("cidrs", opts.cidrs.is_some())
                    };
                    if slot_taken {
                        return Err(duplicate(self, plural));
                    }
                    let restriction = if self.eat_word("all") {
                        self.expect_word(plural)?;
                        AccessRestriction::All
                    } else {
                        self.expect_word(plural)?;
                        self.expect_sym("{")?;
                        let names = self.comma_list(Self::string)?;
                        self.expect_sym("}")?;
                        AccessRestriction::Only(names)
                    };
                    if datacenters {
                        opts.datacenters = Some(restriction);
                    } else {
                        opts.cidrs = Some(restriction);
                    }
                }
                _ => return Err(self.no_viable()),
            }
            if !self.eat_word("and") {
                return Ok(opts);
            }
        }
    }

    /// Whether the cursor is at a permission list (rather than a role name) after GRANT/REVOKE/LIST.
    fn at_permissions(&self) -> bool {
        let tok = self.peek();
        (tok.is_word("all") && !self.peek_n(1).is_word("to") && !self.peek_n(1).is_word("from"))
            || PERMISSIONS.iter().any(|(w, _)| tok.is_word(w))
    }

    /// `ALL [PERMISSIONS]` or `perm [PERMISSION] (, perm [PERMISSION])*`.
    fn permissions(&mut self) -> PResult<Permissions> {
        if self.eat_word("all") {
            self.eat_word("permissions");
            return Ok(Permissions::All);
        }
        let perms = self.comma_list(|p| {
            let found = PERMISSIONS
                .iter()
                .find(|(w, _)| p.at_word(w))
                .map(|(_, perm)| *perm);
            let perm = found.ok_or_else(|| p.no_viable())?;
            p.bump();
            let _ = p.eat_word("permission") || p.eat_word("permissions");
            Ok(perm)
        })?;
        Ok(Permissions::Some(perms))
    }

    /// A permission resource.
    fn resource(&mut self) -> PResult<Resource> {
        if self.at_word("all") {
            self.bump();
            if self.eat_word("keyspaces") {
                return Ok(Resource::AllKeyspaces);
            }
            if self.eat_word("roles") {
                return Ok(Resource::AllRoles);
            }
            if self.eat_word("mbeans") {
                return Ok(Resource::AllMBeans);
            }
            self.expect_word("functions")?;
            if self.eat_word("in") {
                self.expect_word("keyspace")?;
                return Ok(Resource::AllFunctions(Some(self.ident()?)));
            }
            return Ok(Resource::AllFunctions(None));
        }
        if self.eat_word("keyspace") {
            return Ok(Resource::Keyspace(self.ident()?));
        }
        if self.eat_word("role") {
            return Ok(Resource::Role(self.role_name()?));
        }
        if self.eat_word("function") {
            let name = self.function_name()?;
            let arg_types = self.paren_list(Self::type_expr)?;
            return Ok(Resource::Function { name, arg_types });
        }
        if self.at_word("mbean") || self.at_word("mbeans") {
            self.bump();
            return Ok(Resource::MBean(self.string()?));
        }
        let _ = self.eat_word("table") || self.eat_word("columnfamily");
        Ok(Resource::Table(self.qualified_name()?))
    }

    pub(crate) fn add_identity(&mut self) -> PResult<StatementKind> {
        self.expect_word("add")?;
        self.expect_word("identity")?;
        let if_not_exists = self.if_not_exists()?;
        let identity = self.role_name()?;
        self.expect_word("to")?;
        self.expect_word("role")?;
        let role = self.role_name()?;
        Ok(StatementKind::AddIdentity {
            if_not_exists,
            identity,
            role,
        })
    }

    pub(crate) fn grant(&mut self) -> PResult<StatementKind> {
        self.expect_word("grant")?;
        if self.at_permissions() {
            let permissions = self.permissions()?;
            self.expect_word("on")?;
            let resource = self.resource()?;
            self.expect_word("to")?;
            let role = self.role_name()?;
            return Ok(StatementKind::GrantPermissions(PermissionChange {
                permissions,
                resource,
                role,
            }));
        }
        let role = self.role_name()?;
        self.expect_word("to")?;
        Ok(StatementKind::GrantRole {
            role,
            grantee: self.role_name()?,
        })
    }

    pub(crate) fn revoke(&mut self) -> PResult<StatementKind> {
        self.expect_word("revoke")?;
        if self.at_permissions() {
            let permissions = self.permissions()?;
            self.expect_word("on")?;
            let resource = self.resource()?;
            self.expect_word("from")?;
            let role = self.role_name()?;
            return Ok(StatementKind::RevokePermissions(PermissionChange {
                permissions,
                resource,
                role,
            }));
        }
        let role = self.role_name()?;
        self.expect_word("from")?;
        Ok(StatementKind::RevokeRole {
            role,
            revokee: self.role_name()?,
        })
    }

    pub(crate) fn list(&mut self) -> PResult<StatementKind> {
        self.expect_word("list")?;
        if self.eat_word("users") {
            return Ok(StatementKind::ListUsers);
        }
        if self.eat_word("roles") {
            let of = if self.eat_word("of") {
                Some(self.role_name()?)
            } else {
                None
            };
            let recursive = !self.eat_word("norecursive");
            return Ok(StatementKind::ListRoles { of, recursive });
        }
        let permissions = self.permissions()?;
        let resource = if self.eat_word("on") {
            Some(self.resource()?)
        } else {
            None
        };
        let of = if self.eat_word("of") {
            Some(self.role_name()?)
        } else {
            None
        };
        let recursive = !self.eat_word("norecursive");
        Ok(StatementKind::ListPermissions(ListPermissions {
            permissions,
            resource,
            of,
            recursive,
        }))
    }

    pub(crate) fn describe(&mut self) -> PResult<StatementKind> {
        self.bump(); // DESCRIBE or DESC
        let word = if self.peek().kind == TokenKind::Ident {
            self.peek().text.to_ascii_lowercase()
        } else {
            String::new()
        };
        let simple = match word.as_str() {
            "cluster" => Some(DescribeTarget::Cluster),
            "schema" => Some(DescribeTarget::Schema { full: false }),
            "keyspaces" => Some(DescribeTarget::Keyspaces),
            "tables" | "columnfamilies" => Some(DescribeTarget::Tables),
            "types" => Some(DescribeTarget::Types),
            "functions" => Some(DescribeTarget::Functions),
            "aggregates" => Some(DescribeTarget::Aggregates),
            _ => None,
        };
        let target = if let Some(target) = simple {
            self.bump();
            target
        } else if word == "full" {
            self.bump();
            self.expect_word("schema")?;
            DescribeTarget::Schema { full: true }
        } else if word == "only" || word == "keyspace" {
            let only = self.eat_word("only");
            self.expect_word("keyspace")?;
            let name = if self.at_ident() {
                Some(self.ident()?)
            } else {
                None
            };
            DescribeTarget::Keyspace { only, name }
        } else if word == "materialized" {
            self.bump();
            self.expect_word("view")?;
            DescribeTarget::MaterializedView(self.qualified_name()?)
        } else {
            let named: Option<fn(QualifiedName) -> DescribeTarget> = match word.as_str() {
                "table" | "columnfamily" => Some(DescribeTarget::Table),
                "type" => Some(DescribeTarget::Type),
                "function" => Some(DescribeTarget::Function),
                "aggregate" => Some(DescribeTarget::Aggregate),
                "index" => Some(DescribeTarget::Index),
                _ => None,
            };
            match named {
                Some(make) => {
                    self.bump();
                    make(self.qualified_name()?)
                }
                None => DescribeTarget::Name(self.qualified_name()?),
            }
        };
        let with_internals = self.eat_word("with");
        if with_internals {
            self.expect_word("internals")?;
        }
        Ok(StatementKind::Describe(Describe {
            target,
            with_internals,
        }))
    }
}
