//! Schemas and name resolution. `public` always exists and its tables have bare storage names; a table of
//! another schema `s` is stored as `s.t` (storage's `schema_of`). A name written without a schema is looked
//! up through `search_path` (the schemas of it that exist, in order) and created in the first of them, as
//! in PostgreSQL; `s.t` and `<database>.s.t` name one schema.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{ObjectName, ObjectNamePart};
use omendb_storage::{Database, PUBLIC};

use crate::catalog::{SharedView, View, resolve};
use crate::ddl::ident;
use crate::error::{Error, Result, code};

/// DataFusion's default schema: bare table names resolve here, through the search path.
pub const PATH_SCHEMA: &str = "$path";

/// The storage name of table `relname` in `schema`.
pub fn storage_name(schema: &str, relname: &str) -> String {
    if schema == PUBLIC {
        relname.to_string()
    } else {
        format!("{schema}.{relname}")
    }
}

/// A storage name's schema and relation name.
pub fn split(storage: &str) -> (&str, &str) {
    match storage.split_once('.') {
        Some((s, t)) => (s, t),
        None => (PUBLIC, storage),
    }
}

/// The schemas besides `public` that `view` sees, with their ids.
pub fn schemas(db: &Database, view: &View) -> Vec<(String, u64)> {
    match (&view.txn, &view.snapshot) {
        (Some(t), _) => t.schemas(),
        (None, Some(s)) => s.schemas(),
        (None, None) => db.snapshot().schemas(),
    }
}

/// The views the statement sees.
pub fn views(db: &Database, view: &View) -> Vec<Arc<omendb_storage::ViewDef>> {
    match (&view.txn, &view.snapshot) {
        (Some(t), _) => t.views(),
        (None, Some(s)) => s.views(),
        (None, None) => db.snapshot().views(),
    }
}

/// `search_path`'s entries as PostgreSQL reads them: unquoted names folded to lower case, `$user` the
/// session user's name.
pub fn entries(setting: &str, user: &str) -> Vec<String> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let name = match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(q) => q.replace("\"\"", "\""),
                None => s.to_lowercase(),
            };
            if name == "$user" {
                user.to_string()
            } else {
                name
            }
        })
        .collect()
}

/// How a session finds tables: its view of the database and the schemas of its search path that exist.
pub struct Names {
    db: Arc<Database>,
    view: SharedView,
    /// The existing schemas of the search path, in order (`pg_catalog` and `information_schema` left out:
    /// they hold no tables of ours).
    path: Vec<String>,
}

impl Names {
    pub fn new(db: Arc<Database>, view: SharedView, search_path: &str, user: &str) -> Names {
        let existing: Vec<String> = schemas(&db, &view.lock())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let path = entries(search_path, user)
            .into_iter()
            .filter(|s| s == PUBLIC || existing.contains(s))
            .collect();
        Names { db, view, path }
    }

    /// The schemas searched for a bare name, in order.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// `current_schema()`: the first schema of the search path that exists.
    pub fn current(&self) -> Option<&str> {
        self.path.first().map(String::as_str)
    }

    /// Whether a table of this storage name exists for the statement.
    pub fn exists(&self, storage: &str) -> bool {
        matches!(
            resolve(&self.db, &mut self.view.lock(), storage),
            Ok(Some(_))
        )
    }

    fn schema_exists(&self, schema: &str) -> bool {
        schema == PUBLIC
            || schemas(&self.db, &self.view.lock())
                .iter()
                .any(|(n, _)| n == schema)
    }

    /// The view `name` refers to, if it names one: `v` through the search path (the first schema that has a
    /// relation of that name decides), `s.v` in schema `s`.
    pub fn view(&self, name: &ObjectName) -> Option<Arc<omendb_storage::ViewDef>> {
        let (schema, relname) = parts(name).ok()?;
        let views = views(&self.db, &self.view.lock());
        let find = |storage: &str| views.iter().find(|v| v.name == storage).cloned();
        match schema {
            Some(s) => find(&storage_name(&s, &relname)),
            None => {
                for s in &self.path {
                    let storage = storage_name(s, &relname);
                    if let Some(v) = find(&storage) {
                        return Some(v);
                    }
                    if self.exists(&storage) {
                        return None;
                    }
                }
                None
            }
        }
    }

    /// The storage name of the table `relname` found through the search path; the name in the first
    /// schema of the path (or public) when no schema has it, so that the caller's lookup reports it missing.
    pub fn find(&self, relname: &str) -> String {
        for s in &self.path {
            let name = storage_name(s, relname);
            if self.exists(&name) {
                return name;
            }
        }
        relname.to_string()
    }

    /// The storage name an object name refers to, for a table that should exist: `t` through the search
    /// path, `s.t` and `<db>.s.t` in schema `s` (3F000 if there is no such schema).
    pub fn lookup(&self, name: &ObjectName) -> Result<String> {
        match parts(name)? {
            (None, t) => Ok(self.find(&t)),
            (Some(s), t) => {
                if !self.schema_exists(&s) {
                    return Err(no_schema(&s));
                }
                Ok(storage_name(&s, &t))
            }
        }
    }

    /// The storage name of a table to create: in its schema, or the first schema of the search path.
    pub fn create(&self, name: &ObjectName) -> Result<String> {
        let (schema, t) = parts(name)?;
        if t.contains('.') {
            return Err(dotted(&t));
        }
        let schema = match schema {
            Some(s) if self.schema_exists(&s) => s,
            Some(s) => return Err(no_schema(&s)),
            None => self
                .current()
                .map(str::to_string)
                .ok_or_else(|| Error::sql("3F000", "no schema has been selected to create in"))?,
        };
        Ok(storage_name(&schema, &t))
    }
}

fn no_schema(s: &str) -> Error {
    Error::sql("3F000", format!("schema \"{s}\" does not exist"))
}

/// Storage joins schema and table with a dot: a name holding one cannot be told apart.
pub fn dotted(name: &str) -> Error {
    Error::sql(
        code::FEATURE_NOT_SUPPORTED,
        format!("names containing a dot are not supported: \"{name}\""),
    )
}

/// An object name's schema (if written) and name: `t`, `s.t` or `<database>.s.t`.
pub fn parts(name: &ObjectName) -> Result<(Option<String>, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(ident(i)),
            _ => Err(Error::unsupported(format!("table name {name}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [t] => Ok((None, t.clone())),
        [s, t] | [_, s, t] => Ok((Some(s.clone()), t.clone())),
        _ => Err(Error::sql(
            code::SYNTAX_ERROR,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_entries_read_as_postgresql_reads_them() {
        assert_eq!(
            entries("\"$user\", public", "alice"),
            vec!["alice".to_string(), "public".into()]
        );
        assert_eq!(
            entries("$user, Sales, \"Mixed\"", "alice"),
            vec!["alice".to_string(), "sales".into(), "Mixed".into()]
        );
        assert_eq!(split("s.t"), ("s", "t"));
        assert_eq!(split("t"), ("public", "t"));
        assert_eq!(storage_name("public", "t"), "t");
        assert_eq!(storage_name("s", "t"), "s.t");
    }
}
