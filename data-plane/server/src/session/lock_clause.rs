//! A SELECT's locking clauses, prepared (`FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [OF
//! ...] [NOWAIT | SKIP LOCKED]`): which tables' rows are locked and how, and the query rewritten to carry
//! each locked row's key as its last columns, through joins and subqueries in FROM. `locking.rs` runs it.

use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast;
use omendb_storage::{LockMode, WaitPolicy};

use super::Session;
use crate::error::{Error, Result, code};

/// The name of the key column a locking SELECT carries as its last output column.
pub(super) const LOCK_KEY: &str = "__omendb_lock_key";

/// How a `SELECT ... FOR ...` locks the rows it returns.
#[derive(Debug)]
pub struct RowLocking {
    /// The tables whose rows are locked, in the order of their key columns (last in the plan's output),
    /// each with how (the strongest of the clauses that name it, NOWAIT before SKIP LOCKED before waiting).
    pub(super) tables: Vec<(String, LockMode, WaitPolicy)>,
    /// `FOR UPDATE` etc. (the first clause), for error messages.
    pub(super) clause: &'static str,
    /// LIMIT and OFFSET, applied after locking (PostgreSQL locks below the limit: a skipped row does not
    /// count).
    pub(super) limit: Count,
    pub(super) offset: Count,
}

#[derive(Debug)]
pub(super) enum Count {
    All,
    Const(usize),
    Param(usize),
}

impl RowLocking {
    /// The (first) table whose rows are locked: the statement's target.
    pub fn table(&self) -> &str {
        &self.tables[0].0
    }

    /// How many key columns the plan appends (one per locked table).
    pub fn keys(&self) -> usize {
        self.tables.len()
    }
}

/// The name of the key column of the `i`th locked table.
pub(super) fn key_alias(i: usize) -> String {
    if i == 0 {
        LOCK_KEY.to_string()
    } else {
        format!("{LOCK_KEY}_{i}")
    }
}

/// A lock strength as its clause is written.
fn clause_name(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Update => "FOR UPDATE",
        LockMode::NoKeyUpdate => "FOR NO KEY UPDATE",
        LockMode::Share => "FOR SHARE",
        LockMode::KeyShare => "FOR KEY SHARE",
    }
}

/// PostgreSQL's refusal of a locking clause with `what`.
fn not_allowed(clause: &str, what: &str) -> Error {
    Error::sql(
        code::FEATURE_NOT_SUPPORTED,
        format!("{clause} is not allowed with {what}"),
    )
}

/// The keys a subquery in FROM carries out for the locks, left out of the `*`s that would show them.
fn hide_keys(projection: &mut [ast::SelectItem], hidden: &[(ast::Ident, String)]) {
    for item in projection {
        let (options, names): (_, Vec<&String>) = match item {
            ast::SelectItem::Wildcard(o) => (o, hidden.iter().map(|(_, k)| k).collect()),
            ast::SelectItem::QualifiedWildcard(
                ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                o,
            ) => {
                let of = name.to_string();
                let names = hidden
                    .iter()
                    .filter(|(q, _)| q.to_string() == of)
                    .map(|(_, k)| k)
                    .collect();
                (o, names)
            }
            _ => continue,
        };
        if names.is_empty() {
            continue;
        }
        let mut excluded = match options.opt_exclude.take() {
            Some(ast::ExcludeSelectItem::Single(n)) => vec![n],
            Some(ast::ExcludeSelectItem::Multiple(v)) => v,
            None => vec![],
        };
        for k in names {
            let k = ast::ObjectName::from(vec![ast::Ident::with_quote('"', k)]);
            // Two tables' hidden row ids share a name.
            if !excluded.contains(&k) {
                excluded.push(k);
            }
        }
        options.opt_exclude = Some(ast::ExcludeSelectItem::Multiple(excluded));
    }
}

/// `name`, as `alias`, with its hidden row id renamed `key`: `(SELECT * EXCLUDE (rowid), rowid AS key FROM
/// name) alias`.
fn with_rowid_as(
    name: &ast::ObjectName,
    alias: &ast::Ident,
    key: &str,
) -> Result<ast::TableFactor> {
    let rowid = omendb_storage::ROWID_COLUMN;
    // PostgreSQL's grammar has no EXCLUDE: it is set on the parsed wildcard.
    let sql = format!("SELECT * FROM (SELECT *, \"{rowid}\" AS \"{key}\" FROM {name}) AS {alias}");
    let Some(ast::Statement::Query(mut q)) = super::parse(&sql)?.pop() else {
        unreachable!("a query")
    };
    let ast::SetExpr::Select(outer) = q.body.as_mut() else {
        unreachable!("a SELECT")
    };
    let mut relation = outer.from.remove(0).relation;
    if let ast::TableFactor::Derived { subquery, .. } = &mut relation
        && let ast::SetExpr::Select(inner) = subquery.body.as_mut()
    {
        hide_keys(&mut inner.projection, &[(alias.clone(), rowid.to_string())]);
    }
    Ok(relation)
}

impl Count {
    fn of(e: Option<&ast::Expr>) -> Result<Count> {
        let Some(e) = e else { return Ok(Count::All) };
        let bad = || {
            Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("LIMIT/OFFSET {e} with a locking clause is not supported"),
            )
        };
        match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => n.parse().map(Count::Const).map_err(|_| bad()),
                ast::Value::Placeholder(p) => p
                    .strip_prefix('$')
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| *i > 0)
                    .map(|i| Count::Param(i - 1))
                    .ok_or_else(bad),
                ast::Value::Null => Ok(Count::All),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    pub(super) fn value(&self, params: &[ScalarValue]) -> Result<Option<usize>> {
        match self {
            Count::All => Ok(None),
            Count::Const(n) => Ok(Some(*n)),
            Count::Param(i) => match params.get(*i) {
                Some(v) if v.is_null() => Ok(None),
                Some(v) => match v.cast_to(&arrow_schema::DataType::Int64)? {
                    ScalarValue::Int64(Some(n)) if n >= 0 => Ok(Some(n as usize)),
                    _ => Err(Error::sql("2201W", "LIMIT must not be negative")),
                },
                None => Err(Error::sql(
                    code::PROTOCOL_VIOLATION,
                    "missing LIMIT parameter",
                )),
            },
        }
    }
}

impl Session {
    /// Prepares the locking clause of a SELECT: the query is rewritten to carry the locked table's key as
    /// its last column, without its LIMIT and OFFSET (applied as rows are locked).
    pub(super) fn locking_query(&self, q: &mut ast::Query) -> Result<Option<RowLocking>> {
        if q.locks.is_empty() {
            return Ok(None);
        }
        // Each clause: its strength, its wait policy, and the relations it names (none: all).
        let clauses: Vec<(LockMode, WaitPolicy, Option<String>)> = q
            .locks
            .iter()
            .map(|l| {
                let (mode, of) = crate::tokens::lock_strength(
                    l.lock_type == ast::LockType::Update,
                    l.of.as_ref(),
                );
                let policy = match l.nonblock {
                    None => WaitPolicy::Wait,
                    Some(ast::NonBlock::Nowait) => WaitPolicy::NoWait,
                    Some(ast::NonBlock::SkipLocked) => WaitPolicy::Skip,
                };
                (mode, policy, of.map(|o| o.to_string()))
            })
            .collect();
        let clause = clause_name(clauses[0].0);
        let ast::SetExpr::Select(select) = q.body.as_mut() else {
            return Err(not_allowed(clause, "UNION/INTERSECT/EXCEPT"));
        };
        let of: Option<Vec<String>> = clauses.iter().map(|c| c.2.clone()).collect();
        let mut locked = vec![];
        self.lock_select(select, of.as_deref(), clause, &mut locked)?;
        for (mode, _, of) in &clauses {
            if let Some(o) = of
                && !locked.iter().any(|(_, visible)| visible == o)
            {
                return Err(Error::sql(
                    code::UNDEFINED_TABLE,
                    format!(
                        "relation \"{o}\" in {} clause not found in FROM clause",
                        clause_name(*mode)
                    ),
                ));
            }
        }
        let tables = locked
            .into_iter()
            .map(|(table, visible)| {
                let covering = clauses
                    .iter()
                    .filter(|(.., of)| of.as_ref().is_none_or(|o| *o == visible));
                let mut mode = LockMode::KeyShare;
                let mut policy = WaitPolicy::Wait;
                for (m, p, _) in covering {
                    mode = mode.max(*m);
                    policy = match (policy, p) {
                        (WaitPolicy::NoWait, _) | (_, WaitPolicy::NoWait) => WaitPolicy::NoWait,
                        (WaitPolicy::Skip, _) | (_, WaitPolicy::Skip) => WaitPolicy::Skip,
                        _ => WaitPolicy::Wait,
                    };
                }
                (table, mode, policy)
            })
            .collect();
        let unsupported = |what: &str| not_allowed(clause, what);
        let (limit, offset) = match q.limit_clause.take() {
            None => (Count::All, Count::All),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => (
                Count::of(limit.as_ref())?,
                Count::of(offset.as_ref().map(|o| &o.value))?,
            ),
            Some(_) => return Err(unsupported("this LIMIT form")),
        };
        let limit = match q.fetch.take() {
            None => limit,
            Some(f) if !f.with_ties && !f.percent && matches!(limit, Count::All) => {
                match f.quantity {
                    Some(n) => Count::of(Some(&n))?,
                    None => Count::Const(1),
                }
            }
            Some(_) => return Err(unsupported("this FETCH form")),
        };
        q.locks.clear();
        Ok(Some(RowLocking {
            tables,
            clause,
            limit,
            offset,
        }))
    }

    /// Appends to `select`'s output the key of each row it locks (those of the tables `of` names, or all),
    /// as [`key_alias`]`(n)` for the `n`th locked table of the statement, and names those tables in
    /// `tables`. A subquery in FROM is locked through: the keys of its own tables pass out through it.
    fn lock_select(
        &self,
        select: &mut ast::Select,
        of: Option<&[String]>,
        clause: &'static str,
        tables: &mut Vec<(String, String)>,
    ) -> Result<()> {
        if select.distinct.is_some() {
            return Err(not_allowed(clause, "DISTINCT clause"));
        }
        if !matches!(&select.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty()) {
            return Err(not_allowed(clause, "GROUP BY clause"));
        }
        if select.having.is_some() {
            return Err(not_allowed(clause, "HAVING clause"));
        }
        self.no_aggregates(&select.projection, clause)?;
        // Every relation of FROM, and whether an outer join makes it nullable.
        let mut relations: Vec<(&ast::TableFactor, bool)> = vec![];
        for from in &select.from {
            let first = relations.len();
            relations.push((&from.relation, false));
            for j in &from.joins {
                use ast::JoinOperator as J;
                // RIGHT and FULL joins make everything before them nullable; LEFT and FULL, their right side.
                if matches!(
                    j.join_operator,
                    J::Right(_) | J::RightOuter(_) | J::FullOuter(_)
                ) {
                    for r in &mut relations[first..] {
                        r.1 = true;
                    }
                }
                let nullable = matches!(
                    j.join_operator,
                    J::Left(_) | J::LeftOuter(_) | J::FullOuter(_)
                );
                relations.push((&j.relation, nullable));
            }
        }
        let nullable_side = || {
            Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("{clause} cannot be applied to the nullable side of an outer join"),
            )
        };
        // (the relation as the query names it, the key column there, the alias it leaves under)
        let mut keys: Vec<(ast::Ident, String, String)> = vec![];
        // Keys that a subquery's `*` would show: left out of the outer `*`s.
        let mut hidden: Vec<(ast::Ident, String)> = vec![];
        let joined = relations.len() > 1;
        let mut relations: Vec<(ast::TableFactor, bool)> =
            relations.into_iter().map(|(r, n)| (r.clone(), n)).collect();
        for (relation, nullable) in &mut relations {
            match relation {
                // A function in FROM has no rows to lock: PostgreSQL passes over it unless OF names it.
                ast::TableFactor::Table {
                    args: Some(_),
                    alias,
                    name,
                    ..
                }
                | ast::TableFactor::Function { alias, name, .. } => {
                    let visible = alias
                        .as_ref()
                        .map(|a| crate::ddl::ident(&a.name))
                        .unwrap_or_else(|| name.to_string());
                    if of.is_some_and(|o| o.contains(&visible)) {
                        return Err(Error::sql(
                            code::FEATURE_NOT_SUPPORTED,
                            format!("{clause} cannot be applied to a function"),
                        ));
                    }
                }
                ast::TableFactor::Table { name, alias, .. } => {
                    let (name, alias) = (name.clone(), alias.clone());
                    let table = self.names().lookup(&name)?;
                    let visible = alias
                        .as_ref()
                        .map(|a| crate::ddl::ident(&a.name))
                        .unwrap_or_else(|| crate::search_path::split(&table).1.to_string());
                    if of.is_some_and(|o| !o.contains(&visible)) {
                        continue;
                    }
                    if *nullable {
                        return Err(nullable_side());
                    }
                    let mut key = self.lock_key(&table)?;
                    // The relation as the query names it (DataFusion qualifies its columns so).
                    let qualifier = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| {
                        ast::Ident::new(crate::search_path::split(&table).1.to_string())
                    });
                    if key == omendb_storage::ROWID_COLUMN {
                        if joined {
                            // Two tables' row ids would share a name that EXCLUDE cannot qualify: this
                            // one's leaves under a name of its own.
                            key = format!("{}_{}", omendb_storage::ROWID_COLUMN, tables.len());
                            *relation = with_rowid_as(&name, &qualifier, &key)?;
                        }
                        // Read for the lock only: `*` does not show it.
                        hidden.push((qualifier.clone(), key.clone()));
                    }
                    keys.push((qualifier, key, key_alias(tables.len())));
                    tables.push((table, visible));
                }
                ast::TableFactor::Derived {
                    subquery, alias, ..
                } => {
                    let visible = alias.as_ref().map(|a| crate::ddl::ident(&a.name));
                    if let Some(o) = of
                        && !visible.as_ref().is_some_and(|v| o.contains(v))
                    {
                        continue;
                    }
                    if *nullable {
                        return Err(nullable_side());
                    }
                    let (Some(alias), ast::SetExpr::Select(inner)) =
                        (alias.as_ref(), subquery.body.as_mut())
                    else {
                        return Err(Error::sql(
                            code::FEATURE_NOT_SUPPORTED,
                            format!("{clause} over this subquery in FROM is not supported yet"),
                        ));
                    };
                    if !alias.columns.is_empty() {
                        return Err(Error::sql(
                            code::FEATURE_NOT_SUPPORTED,
                            format!(
                                "{clause} over a subquery with column aliases is not supported yet"
                            ),
                        ));
                    }
                    let first = tables.len();
                    self.lock_select(inner, None, clause, tables)?;
                    for (k, (_, visible)) in tables.iter_mut().enumerate().skip(first) {
                        // `OF s` names every table of the subquery s.
                        *visible = crate::ddl::ident(&alias.name);
                        keys.push((alias.name.clone(), key_alias(k), key_alias(k)));
                        hidden.push((alias.name.clone(), key_alias(k)));
                    }
                }
                _ if of.is_none() => {
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        format!("{clause} over this kind of FROM item is not supported yet"),
                    ));
                }
                _ => {}
            }
        }
        // The subqueries' FROM items were rewritten in the copies: put them back.
        let mut rewritten = relations.into_iter().map(|(r, _)| r);
        for from in &mut select.from {
            from.relation = rewritten.next().expect("one per relation");
            for j in &mut from.joins {
                j.relation = rewritten.next().expect("one per relation");
            }
        }
        hide_keys(&mut select.projection, &hidden);
        for (qualifier, key, alias) in keys {
            select.projection.push(ast::SelectItem::ExprWithAlias {
                expr: ast::Expr::CompoundIdentifier(vec![
                    qualifier,
                    ast::Ident::with_quote('"', key),
                ]),
                alias: ast::Ident::with_quote('"', alias),
            });
        }
        Ok(())
    }

    /// The column a locked row of `table` is known by: its primary key, or the hidden row id (PostgreSQL
    /// locks a row by its place, ctid), which the tables a SELECT locks are planned with.
    fn lock_key(&self, table: &str) -> Result<String> {
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), table)?
            .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_TABLE,
                    format!("relation \"{table}\" does not exist"),
                )
            })?;
        let def = reader.def();
        Ok(match def.primary_key {
            Some(k) => def.columns[k].name.clone(),
            None => omendb_storage::ROWID_COLUMN.to_string(),
        })
    }

    /// PostgreSQL's refusal of a locking clause over aggregated or windowed rows.
    fn no_aggregates(&self, projection: &[ast::SelectItem], clause: &str) -> Result<()> {
        let state = self.ctx.state();
        let mut found = None;
        let _ = ast::visit_expressions(&projection.to_vec(), |e| {
            if let ast::Expr::Function(f) = e {
                if f.over.is_some() {
                    found = Some("window functions");
                    return std::ops::ControlFlow::Break(());
                }
                let name = f.name.to_string().to_lowercase();
                if state.aggregate_functions().contains_key(&name) {
                    found = Some("aggregate functions");
                    return std::ops::ControlFlow::Break(());
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        match found {
            Some(what) => Err(not_allowed(clause, what)),
            None => Ok(()),
        }
    }
}
