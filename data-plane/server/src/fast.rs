//! The fast path: the statement shapes a tenant runs millions of times, answered straight from the learned
//! index without DataFusion planning or executing anything. `SELECT cols FROM t WHERE pk = $1` (and the IN
//! and range forms), single-row `INSERT ... VALUES` (also with `ON CONFLICT (pk)`, `fast/conflict.rs`), and
//! `UPDATE` / `DELETE ... WHERE pk = $1`.
//!
//! A shape is recognised once, at Parse. DataFusion still plans the statement then: its plan describes the
//! result and types the parameters, so the fast path returns what DataFusion would. Whatever the fast path
//! is not sure of (a value that needs a cast DataFusion might do differently, a changed table) falls back to
//! the DataFusion path, which stays the reference: tests run both on the same statements.

mod conflict;

use std::ops::Bound;

use arrow_array::{RecordBatch, new_null_array};
use arrow_schema::{DataType as Arrow, SchemaRef};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, FromTable, GroupByExpr, ObjectNamePart, SelectItem,
    SetExpr, Statement, TableFactor, TableObject, Value,
};
use omendb_storage::{
    Key, KeyKind, KeyRange, LockMode, Row, TableDef, TableReader, WaitPolicy, WriteTxn,
};

use crate::ddl::{Literal, ident, literal};
use crate::error::Result;
use crate::zone::Zone;

#[derive(Clone, Debug)]
pub enum Operand {
    Param(usize),
    Lit(ScalarValue),
    /// `now()` / `CURRENT_TIMESTAMP`: the transaction's start time, stored only into timestamp columns.
    Now,
    /// `nextval('s')`, a SERIAL or identity column's DEFAULT: the sequence's next value.
    NextVal(String),
}

#[derive(Clone, Debug)]
pub enum Keys {
    Eq(Operand),
    In(Vec<Operand>),
    Range(Bound<Operand>, Bound<Operand>),
    /// `col = x` or `col IN (...)` on the leading column of secondary index `index`.
    Secondary {
        index: String,
        column: usize,
        values: Vec<Operand>,
    },
}

#[derive(Clone, Debug)]
pub enum Shape {
    Select {
        columns: Vec<usize>,
        keys: Keys,
    },
    /// Values for these column positions; the other columns have no DEFAULT and get NULL.
    Insert {
        columns: Vec<usize>,
        values: Vec<Operand>,
        /// `RETURNING` of plain columns (or `*`): their positions.
        returning: Option<Vec<usize>>,
        /// `ON CONFLICT (pk) DO ...`.
        conflict: Option<conflict::Conflict>,
    },
    Update {
        sets: Vec<(usize, Operand, Option<Increment>)>,
        key: Operand,
    },
    Delete {
        key: Operand,
    },
}

/// `SET c = a + x` / `c = a - x` on integer columns: the column `a` the operand is added to, and whether it
/// is subtracted.
pub type Increment = (usize, bool);

/// A recognised statement and the table definition it was recognised against.
#[derive(Clone, Debug)]
pub struct Fast {
    pub table: String,
    pub def: TableDef,
    pub shape: Shape,
}

impl Fast {
    pub fn label(&self) -> &'static str {
        match self.shape {
            Shape::Select { .. } => "select",
            Shape::Insert { conflict: None, .. } => "insert",
            Shape::Insert { .. } => "upsert",
            Shape::Update { .. } => "update",
            Shape::Delete { .. } => "delete",
        }
    }
}

/// The table a statement of a fast shape would touch.
pub fn target(stmt: &Statement, names: &crate::search_path::Names) -> Option<String> {
    let name = match stmt {
        Statement::Query(q) => match q.body.as_ref() {
            SetExpr::Select(s) if s.from.len() == 1 => match &s.from[0].relation {
                TableFactor::Table { name, .. } => name,
                _ => return None,
            },
            _ => return None,
        },
        Statement::Insert(i) => match &i.table {
            TableObject::TableName(name) => name,
            _ => return None,
        },
        Statement::Update(u) => match &u.table.relation {
            TableFactor::Table { name, .. } => name,
            _ => return None,
        },
        Statement::Delete(d) => match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) if t.len() == 1 => {
                match &t[0].relation {
                    TableFactor::Table { name, .. } => name,
                    _ => return None,
                }
            }
            _ => return None,
        },
        _ => return None,
    };
    names.lookup(name).ok()
}

/// Recognises a fast shape of `stmt` over table `def`. Reads, UPDATE and DELETE need the primary key;
/// INSERT also takes tables without one (their hidden row id is assigned as the row is written).
pub fn detect(
    stmt: &Statement,
    def: &TableDef,
    indexes: &[std::sync::Arc<omendb_storage::IndexDef>],
) -> Option<Fast> {
    let pk = def.primary_key;
    let table = def.name.clone();
    let column = |e: &Expr| -> Option<usize> {
        let name = match e {
            Expr::Identifier(i) => ident(i),
            Expr::CompoundIdentifier(p) if p.len() == 2 && ident(&p[0]) == table => ident(&p[1]),
            _ => return None,
        };
        def.columns.iter().position(|c| c.name == name)
    };
    let is_pk = |e: &Expr| pk.is_some() && column(e) == pk;
    let shape = match stmt {
        Statement::Query(q) => {
            if q.with.is_some()
                || q.limit_clause.is_some()
                || q.fetch.is_some()
                || !q.locks.is_empty()
            {
                return None;
            }
            if let Some(o) = &q.order_by {
                // Only ORDER BY pk ASC: the order every fast read returns rows in.
                let datafusion::sql::sqlparser::ast::OrderByKind::Expressions(es) = &o.kind else {
                    return None;
                };
                if es.len() != 1
                    || !is_pk(&es[0].expr)
                    || es[0].options.asc == Some(false)
                    || es[0].with_fill.is_some()
                {
                    return None;
                }
            }
            let SetExpr::Select(s) = q.body.as_ref() else {
                return None;
            };
            let plain_group = matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
            if s.distinct.is_some()
                || s.top.is_some()
                || s.into.is_some()
                || s.from.len() != 1
                || !s.from[0].joins.is_empty()
                || !plain_group
                || s.having.is_some()
                || s.qualify.is_some()
                || !s.named_window.is_empty()
                || !s.sort_by.is_empty()
                || !s.cluster_by.is_empty()
                || !s.lateral_views.is_empty()
                || s.prewhere.is_some()
                || !s.connect_by.is_empty()
            {
                return None;
            }
            let TableFactor::Table {
                alias: None,
                args: None,
                ..
            } = &s.from[0].relation
            else {
                return None;
            };
            let mut columns = vec![];
            for item in &s.projection {
                match item {
                    SelectItem::Wildcard(o) if plain(o) => columns.extend(0..def.columns.len()),
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        columns.push(column(e)?)
                    }
                    _ => return None,
                }
            }
            let selection = s.selection.as_ref()?;
            let keys = match keys(selection, &is_pk) {
                Some(k) => k,
                None => secondary_keys(selection, &column, indexes)?,
            };
            Shape::Select { columns, keys }
        }
        Statement::Insert(i) => {
            if i.table_alias.is_some()
                || i.overwrite
                || i.partitioned.is_some()
                || i.or.is_some()
                || i.ignore
            {
                return None;
            }
            let conflict = conflict::detect(i.on.as_ref(), def, indexes, &column)?;
            let q = i.source.as_ref()?;
            if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() {
                return None;
            }
            let SetExpr::Values(v) = q.body.as_ref() else {
                return None;
            };
            if v.rows.len() != 1 {
                return None;
            }
            let columns: Vec<usize> = if i.columns.is_empty() {
                (0..def.columns.len()).collect()
            } else {
                i.columns
                    .iter()
                    .map(|c| match c.0.as_slice() {
                        [ObjectNamePart::Identifier(id)] => {
                            def.columns.iter().position(|d| d.name == ident(id))
                        }
                        _ => None,
                    })
                    .collect::<Option<_>>()?
            };
            let values: Vec<Operand> = v.rows[0]
                .content
                .iter()
                .map(operand)
                .collect::<Option<_>>()?;
            let mut seen = vec![false; def.columns.len()];
            for &c in &columns {
                if std::mem::replace(&mut seen[c], true) {
                    return None;
                }
            }
            if values.len() != columns.len() {
                return None;
            }
            // Columns left out take their DEFAULT: a constant, now() or a sequence's nextval here
            // (what ORMs' inserts leave out), anything else through DataFusion.
            let (mut columns, mut values) = (columns, values);
            for (c, d) in def.columns.iter().enumerate() {
                if seen[c] {
                    continue;
                }
                let Some(sql) = &d.default else { continue };
                columns.push(c);
                values.push(default_operand(sql)?);
            }
            // RETURNING plain columns reads them off the row written; anything else is DataFusion's.
            let returning = match &i.returning {
                None => None,
                Some(items) => {
                    let mut cols = vec![];
                    for item in items {
                        match item {
                            SelectItem::Wildcard(o) if plain(o) => {
                                cols.extend(0..def.columns.len())
                            }
                            SelectItem::UnnamedExpr(e) => cols.push(column(e)?),
                            _ => return None,
                        }
                    }
                    Some(cols)
                }
            };
            Shape::Insert {
                columns,
                values,
                returning,
                conflict,
            }
        }
        Statement::Update(u) => {
            if !u.table.joins.is_empty()
                || u.from.is_some()
                || u.returning.is_some()
                || u.or.is_some()
                || u.limit.is_some()
            {
                return None;
            }
            let TableFactor::Table { alias: None, .. } = &u.table.relation else {
                return None;
            };
            let mut sets = vec![];
            for a in &u.assignments {
                let c = assigned_column(a, def)?;
                if Some(c) == pk || sets.iter().any(|(s, _, _)| *s == c) {
                    return None;
                }
                let (value, delta) = increment(&a.value, &column, def, c);
                sets.push((c, operand(value)?, delta));
            }
            let Keys::Eq(key) = keys(u.selection.as_ref()?, &is_pk)? else {
                return None;
            };
            Shape::Update { sets, key }
        }
        Statement::Delete(d) => {
            if d.using.is_some()
                || d.returning.is_some()
                || !d.order_by.is_empty()
                || d.limit.is_some()
                || !d.tables.is_empty()
            {
                return None;
            }
            let (FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t)) = &d.from;
            if t.len() != 1 || !t[0].joins.is_empty() {
                return None;
            }
            let TableFactor::Table { alias: None, .. } = &t[0].relation else {
                return None;
            };
            let Keys::Eq(key) = keys(d.selection.as_ref()?, &is_pk)? else {
                return None;
            };
            Shape::Delete { key }
        }
        _ => return None,
    };
    Some(Fast {
        table,
        def: def.clone(),
        shape,
    })
}

/// The column of `def` a SET assignment names (a plain column name, not a tuple or a qualified one).
fn assigned_column(
    a: &datafusion::sql::sqlparser::ast::Assignment,
    def: &TableDef,
) -> Option<usize> {
    let AssignmentTarget::ColumnName(name) = &a.target else {
        return None;
    };
    let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
        return None;
    };
    def.columns.iter().position(|d| d.name == ident(id))
}

/// `$n`, or a literal DataFusion types the same way (integers as Int64, decimals as Decimal128, strings as
/// Utf8, NULL, booleans).
/// `a + x`, `x + a` or `a - x`, where `a` is a number column (integer, floating point or numeric) of the
/// same type as the target column `c`: the operand `x` and `(a, negate)`. Anything else is the value itself.
fn increment<'e>(
    e: &'e Expr,
    column: &dyn Fn(&Expr) -> Option<usize>,
    def: &TableDef,
    c: usize,
) -> (&'e Expr, Option<Increment>) {
    use datafusion::sql::sqlparser::ast::BinaryOperator as Op;
    let integer = |a: usize| {
        let t = def.columns[a].data_type;
        t == def.columns[c].data_type
            && matches!(
                t,
                omendb_storage::DataType::SmallInt
                    | omendb_storage::DataType::Integer
                    | omendb_storage::DataType::BigInt
                    | omendb_storage::DataType::Double
                    | omendb_storage::DataType::Numeric { .. }
            )
    };
    if let Expr::BinaryOp { left, op, right } = e {
        match (column(left), op, column(right)) {
            (Some(a), Op::Plus | Op::Minus, None) if integer(a) => {
                return (right, Some((a, *op == Op::Minus)));
            }
            (None, Op::Plus, Some(a)) if integer(a) => return (left, Some((a, false))),
            _ => {}
        }
    }
    (e, None)
}

/// `old ± delta` in the column's type, with PostgreSQL's overflow errors. `column` is the column's type
/// (a numeric's precision bounds the result).
fn add(
    old: &omendb_storage::Value,
    delta: &omendb_storage::Value,
    negate: bool,
    column: omendb_storage::DataType,
) -> Option<Result<omendb_storage::Value>> {
    use omendb_storage::Value as V;
    let out_of_range = |what: &str| {
        Err(crate::error::Error::sql(
            "22003",
            format!("{what} out of range"),
        ))
    };
    Some(match (old, delta) {
        (V::Null, _) | (_, V::Null) => Ok(V::Null),
        (V::Int16(a), V::Int16(b)) => {
            let r = if negate {
                a.checked_sub(*b)
            } else {
                a.checked_add(*b)
            };
            r.map_or_else(|| out_of_range("smallint"), |v| Ok(V::Int16(v)))
        }
        (V::Int32(a), V::Int32(b)) => {
            let r = if negate {
                a.checked_sub(*b)
            } else {
                a.checked_add(*b)
            };
            r.map_or_else(|| out_of_range("integer"), |v| Ok(V::Int32(v)))
        }
        (V::Int64(a), V::Int64(b)) => {
            let r = if negate {
                a.checked_sub(*b)
            } else {
                a.checked_add(*b)
            };
            r.map_or_else(|| out_of_range("bigint"), |v| Ok(V::Int64(v)))
        }
        (V::Float64(a), V::Float64(b)) => {
            let r = if negate { a - b } else { a + b };
            if r.is_infinite() && a.is_finite() && b.is_finite() {
                Err(crate::error::Error::sql(
                    "22003",
                    "value out of range: overflow",
                ))
            } else {
                Ok(V::Float64(r))
            }
        }
        (V::Decimal(a), V::Decimal(b)) => {
            let omendb_storage::DataType::Numeric { precision, .. } = column else {
                return None;
            };
            let r = if negate {
                a.checked_sub(*b)
            } else {
                a.checked_add(*b)
            };
            match r {
                Some(v) if v.unsigned_abs() < 10u128.pow(u32::from(precision)) => Ok(V::Decimal(v)),
                _ => Err(crate::error::Error::sql("22003", "numeric field overflow")),
            }
        }
        _ => return None,
    })
}

fn operand(e: &Expr) -> Option<Operand> {
    if let Expr::Nested(e) = e {
        return operand(e);
    }
    if is_now(e) {
        return Some(Operand::Now);
    }
    if let Expr::Value(v) = e
        && let Value::Placeholder(p) = &v.value
    {
        return Some(Operand::Param(
            p.strip_prefix('$')?.parse::<usize>().ok()?.checked_sub(1)?,
        ));
    }
    Some(Operand::Lit(match literal(e)? {
        Literal::Number(n) => match n.parse::<i64>() {
            Ok(i) => ScalarValue::Int64(Some(i)),
            Err(_) => decimal(&n)?,
        },
        Literal::Text(s) => ScalarValue::Utf8(Some(s)),
        Literal::Bool(b) => ScalarValue::Boolean(Some(b)),
        Literal::Null => ScalarValue::Null,
    }))
}

/// A column DEFAULT the fast path computes itself: a constant, `now()`, or `nextval('s')` (also with
/// `::regclass`), PostgreSQL's SERIAL default.
fn default_operand(sql: &str) -> Option<Operand> {
    let e = crate::ddl::parse_expr(sql).ok()?;
    if let Expr::Function(f) = &e
        && f.name.to_string().eq_ignore_ascii_case("nextval")
        && let datafusion::sql::sqlparser::ast::FunctionArguments::List(l) = &f.args
        && let [
            datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(arg),
            ),
        ] = l.args.as_slice()
    {
        let arg = match arg {
            Expr::Cast { expr, .. } => expr.as_ref(),
            a => a,
        };
        // Sequences in the public schema are stored by their bare name (as `nextval` resolves them).
        return match literal(arg)? {
            Literal::Text(name) => Some(Operand::NextVal(
                name.strip_prefix("public.").unwrap_or(&name).to_string(),
            )),
            _ => None,
        };
    }
    match operand(&e)? {
        Operand::Param(_) => None,
        o => Some(o),
    }
}

/// `*` without EXCLUDE, EXCEPT, REPLACE, RENAME or ILIKE: every column, in order.
fn plain(o: &datafusion::sql::sqlparser::ast::WildcardAdditionalOptions) -> bool {
    o.opt_exclude.is_none()
        && o.opt_except.is_none()
        && o.opt_replace.is_none()
        && o.opt_rename.is_none()
        && o.opt_ilike.is_none()
}

/// `now()` or `CURRENT_TIMESTAMP` (no precision): both the transaction's start time, in PostgreSQL as in
/// the DataFusion path.
fn is_now(e: &Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{FunctionArguments, ObjectName};
    let Expr::Function(f) = e else { return false };
    let ObjectName(parts) = &f.name;
    let [ObjectNamePart::Identifier(id)] = parts.as_slice() else {
        return false;
    };
    let plain = f.filter.is_none()
        && f.over.is_none()
        && f.within_group.is_empty()
        && matches!(f.parameters, FunctionArguments::None);
    let name = ident(id);
    plain
        && match &f.args {
            FunctionArguments::None => name == "current_timestamp",
            FunctionArguments::List(l) => {
                l.args.is_empty()
                    && l.clauses.is_empty()
                    && l.duplicate_treatment.is_none()
                    && name == "now"
            }
            FunctionArguments::Subquery(_) => false,
        }
}

/// A plain decimal literal (`-12.50`) as DataFusion plans it with `parse_float_as_decimal`: the digits as
/// written, scale = the digits after the point, precision = the significant digits or the scale. Exponents,
/// integers past i64 and anything wider than Decimal128 are left to DataFusion.
fn decimal(n: &str) -> Option<ScalarValue> {
    let (negative, body) = match n.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, n),
    };
    let (int, frac) = body.split_once('.')?;
    if int.is_empty()
        || frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = frac.len();
    let digits = format!("{int}{frac}");
    let magnitude: i128 = digits.parse().ok()?;
    let significant = magnitude.checked_ilog10().map_or(1, |d| d as usize + 1);
    let precision = significant.max(scale);
    if precision > 38 {
        return None;
    }
    let v = if negative { -magnitude } else { magnitude };
    Some(ScalarValue::Decimal128(
        Some(v),
        precision as u8,
        scale as i8,
    ))
}

fn keys(selection: &Expr, is_pk: &dyn Fn(&Expr) -> bool) -> Option<Keys> {
    use BinaryOperator::*;
    let bound = |e: &Expr| -> Option<(Bound<Operand>, Bound<Operand>)> {
        let Expr::BinaryOp { left, op, right } = e else {
            return None;
        };
        // Normalise to `pk op value`.
        let (op, v) = if is_pk(left) {
            (op.clone(), operand(right)?)
        } else if is_pk(right) {
            let flipped = match op {
                Lt => Gt,
                LtEq => GtEq,
                Gt => Lt,
                GtEq => LtEq,
                other => other.clone(),
            };
            (flipped, operand(left)?)
        } else {
            return None;
        };
        Some(match op {
            Gt => (Bound::Excluded(v), Bound::Unbounded),
            GtEq => (Bound::Included(v), Bound::Unbounded),
            Lt => (Bound::Unbounded, Bound::Excluded(v)),
            LtEq => (Bound::Unbounded, Bound::Included(v)),
            _ => return None,
        })
    };
    match selection {
        Expr::Nested(e) => keys(e, is_pk),
        Expr::BinaryOp {
            left,
            op: Eq,
            right,
        } => {
            if is_pk(left) {
                Some(Keys::Eq(operand(right)?))
            } else if is_pk(right) {
                Some(Keys::Eq(operand(left)?))
            } else {
                None
            }
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_pk(expr) => Some(Keys::In(list.iter().map(operand).collect::<Option<_>>()?)),
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if is_pk(expr) => Some(Keys::Range(
            Bound::Included(operand(low)?),
            Bound::Included(operand(high)?),
        )),
        Expr::BinaryOp {
            left,
            op: And,
            right,
        } => {
            let (a, b) = (bound(left)?, bound(right)?);
            match (a, b) {
                ((lo, Bound::Unbounded), (Bound::Unbounded, hi))
                | ((Bound::Unbounded, hi), (lo, Bound::Unbounded))
                    if !matches!(lo, Bound::Unbounded) && !matches!(hi, Bound::Unbounded) =>
                {
                    Some(Keys::Range(lo, hi))
                }
                _ => None,
            }
        }
        e => {
            let (lo, hi) = bound(e)?;
            Some(Keys::Range(lo, hi))
        }
    }
}

/// `col = x`, `x = col` or `col IN (...)` where `col` leads a secondary index: the lookup through it.
fn secondary_keys(
    selection: &Expr,
    column: &dyn Fn(&Expr) -> Option<usize>,
    indexes: &[std::sync::Arc<omendb_storage::IndexDef>],
) -> Option<Keys> {
    let (col, values) = match selection {
        Expr::Nested(e) => return secondary_keys(e, column, indexes),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => match (column(left), column(right)) {
            (Some(c), None) => (c, vec![operand(right)?]),
            (None, Some(c)) => (c, vec![operand(left)?]),
            _ => return None,
        },
        Expr::InList {
            expr,
            list,
            negated: false,
        } => (
            column(expr)?,
            list.iter().map(operand).collect::<Option<_>>()?,
        ),
        _ => return None,
    };
    let index = indexes
        .iter()
        .find(|i| i.columns.first() == Some(&col) && i.plain())?;
    Some(Keys::Secondary {
        index: index.name.clone(),
        column: col,
        values,
    })
}

/// A parameter or literal as the engine value column `ty` holds (see `exact`).
fn index_value(
    v: &ScalarValue,
    ty: &Arrow,
) -> std::result::Result<Option<omendb_storage::Value>, ()> {
    Ok(exact(v, ty)?.map(|a| omendb_storage::value_at(a.as_ref(), 0)))
}

/// The value of a parameter or literal; `now()` and `nextval()` are only stored cells (see `Fast::write`),
/// so `None`.
fn value(o: &Operand, params: &[ScalarValue]) -> Option<ScalarValue> {
    match o {
        Operand::Param(i) => params.get(*i).cloned(),
        Operand::Lit(v) => Some(v.clone()),
        Operand::Now | Operand::NextVal(_) => None,
    }
}

/// `v` spelled as column type `column` holds it: a uuid in any spelling PostgreSQL reads is its canonical
/// text; `Err` (DataFusion answers, with 22P02) for text that is no uuid.
fn spelled(
    v: ScalarValue,
    column: omendb_storage::DataType,
) -> std::result::Result<ScalarValue, ()> {
    match v {
        ScalarValue::Utf8(Some(s)) if column == omendb_storage::DataType::Uuid => {
            omendb_storage::canonical_uuid(&s)
                .map(|c| ScalarValue::Utf8(Some(c)))
                .ok_or(())
        }
        // A char(n) key compares without its trailing spaces: the operand padded as the column holds it
        // (one that cannot fit matches nothing, as is).
        ScalarValue::Utf8(Some(s)) if let omendb_storage::DataType::Char { len } = column => {
            let t = s.trim_end_matches(' ');
            let n = t.chars().count();
            Ok(ScalarValue::Utf8(Some(if n <= len as usize {
                format!("{t}{}", " ".repeat(len as usize - n))
            } else {
                s
            })))
        }
        v => Ok(v),
    }
}

/// `v` as a key of a column of type `ty`: `Ok(None)` when no row can match (NULL, or a value the column
/// cannot hold), `Err(())` when only DataFusion can say (a cast that is not exact).
fn key_of(v: &ScalarValue, ty: &Arrow, kind: KeyKind) -> std::result::Result<Option<Key>, ()> {
    Ok(exact(v, ty)?.map(|a| omendb_storage::column_key_at(a.as_ref(), kind, 0)))
}

/// `v` as a one-value array of column type `ty`: `None` for NULL, or an integer of another width out of
/// `ty`'s range (no row has it, as DataFusion's widened compare says); `Err` for any other type (DataFusion
/// answers).
fn exact(v: &ScalarValue, ty: &Arrow) -> std::result::Result<Option<arrow_array::ArrayRef>, ()> {
    if v.is_null() {
        return Ok(None);
    }
    let v = if v.data_type() == *ty {
        v.clone()
    } else if is_int(&v.data_type()) && is_int(ty) {
        match cast_exact(v, ty) {
            Some(c) => c,
            None => return Ok(None),
        }
    } else {
        return Err(());
    };
    v.to_array().map(Some).map_err(|_| ())
}

fn is_int(t: &Arrow) -> bool {
    matches!(t, Arrow::Int16 | Arrow::Int32 | Arrow::Int64)
}

/// `v` as type `ty`, if the Arrow cast (the one DataFusion uses) succeeds without losing it to NULL.
fn cast_exact(v: &ScalarValue, ty: &Arrow) -> Option<ScalarValue> {
    v.cast_to(ty).ok().filter(|c| !c.is_null())
}

fn key_bound(
    b: &Bound<Operand>,
    params: &[ScalarValue],
    column: omendb_storage::DataType,
    kind: KeyKind,
) -> std::result::Result<Option<Bound<Key>>, ()> {
    let ty = &column.arrow();
    Ok(Some(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(o) | Bound::Excluded(o) => {
            let v = spelled(value(o, params).ok_or(())?, column)?;
            if v.is_null() {
                return Ok(None);
            }
            // Only exact keys for range ends: an out-of-range end is DataFusion's call.
            if v.data_type() != *ty {
                return Err(());
            }
            let k = key_of(&v, ty, kind)?.ok_or(())?;
            match b {
                Bound::Included(_) => Bound::Included(k),
                _ => Bound::Excluded(k),
            }
        }
    }))
}

impl Fast {
    fn pk(&self) -> (usize, Arrow, KeyKind) {
        let pk = self
            .def
            .primary_key
            .expect("fast shapes have a primary key");
        let dt = self.def.columns[pk].data_type;
        (pk, dt.arrow(), dt.key_kind().expect("key column"))
    }

    /// Reads for a SELECT through `reader` (the statement's snapshot or transaction), shaped as `schema`.
    pub fn read(
        &self,
        reader: &TableReader,
        params: &[ScalarValue],
        schema: &SchemaRef,
    ) -> Result<Option<RecordBatch>> {
        let Shape::Select { columns, keys } = &self.shape else {
            return Ok(None);
        };
        if reader.def() != &self.def {
            return Ok(None);
        }
        let batch = match keys {
            Keys::Secondary {
                index,
                column,
                values,
            } => {
                let dt = self.def.columns[*column].data_type;
                let ty = dt.arrow();
                let mut prefixes = Vec::with_capacity(values.len());
                for o in values {
                    let Some(Ok(v)) = value(o, params).map(|v| spelled(v, dt)) else {
                        return Ok(None);
                    };
                    match index_value(&v, &ty) {
                        Ok(Some(v)) => prefixes.push(vec![v]),
                        Ok(None) => {}
                        Err(()) => return Ok(None),
                    }
                }
                if prefixes.is_empty() {
                    return Ok(Some(empty(schema)));
                }
                match reader.index_lookup(index, &prefixes)? {
                    Some(b) => b,
                    // Not usable here (a transaction's own writes): DataFusion answers.
                    None => return Ok(None),
                }
            }
            _ => match self.pk_read(reader, keys, params, schema)? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        if batch.num_rows() == 0 {
            return Ok(Some(empty(schema)));
        }
        let cols = columns.iter().map(|&c| batch.column(c).clone()).collect();
        Ok(Some(RecordBatch::try_new(schema.clone(), cols).map_err(
            |e| crate::error::Error::sql(crate::error::code::INTERNAL, e.to_string()),
        )?))
    }

    /// The rows a primary-key shape reads, as a batch of the table's columns (or none: `schema`'s empty
    /// batch); `None` when DataFusion must answer.
    fn pk_read(
        &self,
        reader: &TableReader,
        keys: &Keys,
        params: &[ScalarValue],
        schema: &SchemaRef,
    ) -> Result<Option<RecordBatch>> {
        let (pk, ty, kind) = self.pk();
        let dt = self.def.columns[pk].data_type;
        Ok(Some(match keys {
            Keys::Eq(o) => {
                let Some(Ok(v)) = value(o, params).map(|v| spelled(v, dt)) else {
                    return Ok(None);
                };
                match key_of(&v, &ty, kind) {
                    Ok(Some(k)) => reader.get_batch(&[k])?,
                    Ok(None) => return Ok(Some(empty(schema))),
                    Err(()) => return Ok(None),
                }
            }
            Keys::In(list) => {
                let mut ks = Vec::with_capacity(list.len());
                for o in list {
                    let Some(Ok(v)) = value(o, params).map(|v| spelled(v, dt)) else {
                        return Ok(None);
                    };
                    match key_of(&v, &ty, kind) {
                        Ok(Some(k)) => ks.push(k),
                        Ok(None) => {}
                        Err(()) => return Ok(None),
                    }
                }
                // IN returns each row once, in key order like the pushed-down scan.
                ks.sort();
                ks.dedup();
                reader.get_batch(&ks)?
            }
            Keys::Range(lo, hi) => {
                let (Ok(lo), Ok(hi)) = (
                    key_bound(lo, params, dt, kind),
                    key_bound(hi, params, dt, kind),
                ) else {
                    return Ok(None);
                };
                let (Some(start), Some(end)) = (lo, hi) else {
                    return Ok(Some(empty(schema)));
                };
                let batches: Vec<RecordBatch> = reader
                    .scan(KeyRange { start, end })?
                    .collect::<omendb_storage::Result<_>>()?;
                if batches.is_empty() {
                    return Ok(Some(empty(schema)));
                }
                arrow_select::concat::concat_batches(&batches[0].schema(), &batches).map_err(
                    |e| crate::error::Error::sql(crate::error::code::INTERNAL, e.to_string()),
                )?
            }
            Keys::Secondary { .. } => return Ok(None),
        }))
    }

    /// Applies an INSERT, UPDATE or DELETE to `txn`: the count of rows written, or `None` for DataFusion.
    /// `now` is the transaction's start (microseconds since the epoch); `zone` the session's. An INSERT
    /// with RETURNING leaves the row it wrote in `written`.
    pub fn write(
        &self,
        txn: &mut WriteTxn,
        params: &[ScalarValue],
        now: i64,
        zone: &Zone,
        written: &mut Option<Row>,
        nextval: &mut dyn FnMut(&WriteTxn, &str) -> Result<Option<i64>>,
    ) -> Result<Option<usize>> {
        if txn.table(&self.table)?.def() != &self.def {
            return Ok(None);
        }
        let key = |o: &Operand| -> Option<Option<Key>> {
            let (pk, ty, kind) = self.pk();
            let v = spelled(value(o, params)?, self.def.columns[pk].data_type).ok()?;
            key_of(&v, &ty, kind).ok()
        };
        match &self.shape {
            Shape::Select { .. } => Ok(None),
            Shape::Insert {
                columns,
                values,
                returning,
                conflict,
            } => {
                let mut row: Row = vec![omendb_storage::Value::Null; self.def.columns.len()];
                // Everything that can send the write to DataFusion first: a value drawn from a sequence
                // here would be drawn again there.
                for (&c, o) in columns.iter().zip(values) {
                    match o {
                        Operand::NextVal(name) if txn.sequence(name).is_none() => return Ok(None),
                        Operand::NextVal(_) => {}
                        o => match self.cell(c, o, params, now, zone) {
                            Some(v) => row[c] = v,
                            None => return Ok(None),
                        },
                    }
                }
                for (&c, o) in columns.iter().zip(values) {
                    if let Operand::NextVal(name) = o {
                        let Some(n) = nextval(txn, name)? else {
                            return Ok(None);
                        };
                        // (A value past the column's type is DataFusion's to report.)
                        match serial_value(n, self.def.columns[c].data_type) {
                            Some(v) => row[c] = v,
                            None => return Ok(None),
                        }
                    }
                }
                if let Some(c) = conflict {
                    return self.upsert(
                        txn,
                        row,
                        c,
                        returning.is_some(),
                        params,
                        now,
                        zone,
                        written,
                    );
                }
                if returning.is_some() {
                    *written = Some(row.clone());
                }
                txn.insert(&self.table, row)?;
                Ok(Some(1))
            }
            Shape::Update { sets, key: k } => {
                let Some(k) = key(k) else { return Ok(None) };
                let Some(k) = k else { return Ok(Some(0)) };
                // Lock first, then read the newest version: a concurrent increment is never lost, and
                // REPEATABLE READ fails here if a later commit changed the row.
                let mode = if sets
                    .iter()
                    .any(|(c, _, _)| self.def.primary_key == Some(*c))
                {
                    LockMode::Update
                } else {
                    LockMode::NoKeyUpdate
                };
                txn.lock_row(&self.table, &k, mode, WaitPolicy::Wait)?;
                let Some(old) = txn.get_latest(&self.table, &k)? else {
                    return Ok(Some(0));
                };
                // Every SET reads the row as it was, as in PostgreSQL.
                let mut row = old.clone();
                for (c, o, delta) in sets {
                    let Some(v) = self.cell(*c, o, params, now, zone) else {
                        return Ok(None);
                    };
                    row[*c] = match delta {
                        None => v,
                        Some((a, negate)) => {
                            match add(&old[*a], &v, *negate, self.def.columns[*c].data_type) {
                                Some(r) => r?,
                                None => return Ok(None),
                            }
                        }
                    };
                }
                Ok(Some(usize::from(txn.update(&self.table, &k, row)?)))
            }
            Shape::Delete { key: k } => {
                let Some(k) = key(k) else { return Ok(None) };
                let Some(k) = k else { return Ok(Some(0)) };
                Ok(Some(usize::from(txn.delete(&self.table, &k)?)))
            }
        }
    }

    /// The stored value of operand `o` for column `c`, or `None` when the value needs a cast only DataFusion
    /// should decide (text into a number, a float into numeric, ...).
    fn cell(
        &self,
        c: usize,
        o: &Operand,
        params: &[ScalarValue],
        now: i64,
        zone: &Zone,
    ) -> Option<omendb_storage::Value> {
        use omendb_storage::DataType as T;
        let column = self.def.columns[c].data_type;
        if let Operand::Now = o {
            // A timestamp column holds now()'s wall time in the session's zone.
            return match column {
                T::TimestampTz => Some(omendb_storage::Value::Timestamp(now)),
                T::Timestamp => Some(omendb_storage::Value::Timestamp(
                    now + i64::from(zone.offset_at(now)) * 1_000_000,
                )),
                _ => None,
            };
        }
        let ty = column.arrow();
        let v = value(o, params)?;
        let v = if v.is_null() {
            return Some(omendb_storage::Value::Null);
        } else if v.data_type() == ty {
            v
        } else if matches!(v, ScalarValue::Decimal128(..)) && !ty.is_numeric() {
            // A decimal literal into text, a timestamp, ...: rare, and DataFusion's call.
            return None;
        } else if matches!(column, T::Timestamp | T::TimestampTz) && !zone.is_utc() {
            // A wall time to read in the session's zone: the zone rules (timestamps.rs) do it.
            return None;
        } else if let ScalarValue::Decimal128(Some(d), _, scale) = v
            && let Some(f) = crate::typing::decimal_float(d, scale, &ty)
        {
            // A numeric literal into a float column: the nearest float, as the planner's fold gives.
            f
        } else if column == T::Time {
            // Text into a time: time_in's reading (Arrow's cast reads other forms); a refusal is
            // DataFusion's to report.
            let ScalarValue::Utf8(Some(s)) = &v else {
                return None;
            };
            return crate::times::parse(s).ok().map(omendb_storage::Value::Time);
        } else if matches!(o, Operand::Lit(_))
            && ty != Arrow::Binary
            && !matches!(column, T::Array(_) | T::Interval)
        {
            // DataFusion casts a literal to the column type with the same Arrow cast; bytea literals
            // have PostgreSQL's hex form and array literals PostgreSQL's text form, which only the
            // rewrite before planning knows.
            cast_exact(&v, &ty)?
        } else if is_int(&v.data_type()) && is_int(&ty) {
            cast_exact(&v, &ty)?
        } else {
            return None;
        };
        let a = v.to_array().ok()?;
        Some(omendb_storage::value_at(a.as_ref(), 0))
    }
}

fn empty(schema: &SchemaRef) -> RecordBatch {
    let cols = schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), 0))
        .collect();
    RecordBatch::try_new(schema.clone(), cols)
        .unwrap_or_else(|_| RecordBatch::new_empty(schema.clone()))
}

impl Fast {
    /// Whether the table has timestamp columns (the only ones the session's zone matters to).
    pub fn has_timestamps(&self) -> bool {
        self.def.columns.iter().any(|c| {
            matches!(
                c.data_type,
                omendb_storage::DataType::Timestamp | omendb_storage::DataType::TimestampTz
            )
        })
    }

    /// The result schema of these table columns.
    fn columns_schema(&self, columns: &[usize]) -> SchemaRef {
        let fields: Vec<arrow_schema::Field> = columns
            .iter()
            .map(|&c| {
                let col = &self.def.columns[c];
                arrow_schema::Field::new(&col.name, col.data_type.arrow(), true)
            })
            .collect();
        std::sync::Arc::new(arrow_schema::Schema::new(fields))
    }

    /// An INSERT's RETURNING row: the columns it names of the `row` written, shaped as `schema`.
    pub fn returned(&self, row: &Row, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        let Shape::Insert {
            returning: Some(cols),
            ..
        } = &self.shape
        else {
            return Ok(None);
        };
        let arrays = cols
            .iter()
            .map(|&c| {
                omendb_storage::values_array(
                    &self.def.columns[c].data_type.arrow(),
                    std::slice::from_ref(&row[c]),
                )
            })
            .collect();
        Ok(Some(RecordBatch::try_new(schema.clone(), arrays).map_err(
            |e| crate::error::Error::sql(crate::error::code::INTERNAL, e.to_string()),
        )?))
    }

    /// Parameter types and result schema, as DataFusion would describe them, or `None` when the client
    /// declared a parameter type the fast path does not take as is.
    pub fn describe(
        &self,
        declared: &[Option<pgwire::api::Type>],
    ) -> Option<(Vec<Option<Arrow>>, Option<SchemaRef>)> {
        let pk = self.def.primary_key;
        let mut uses: Vec<(usize, usize)> = vec![]; // (param, column)
        let mut note = |o: &Operand, c: usize| {
            if let Operand::Param(i) = o {
                uses.push((*i, c));
            }
        };
        let mut result = None;
        match &self.shape {
            Shape::Select { columns, keys } => {
                match keys {
                    Keys::Eq(o) => note(o, pk?),
                    Keys::In(l) => {
                        let pk = pk?;
                        l.iter().for_each(|o| note(o, pk))
                    }
                    Keys::Range(lo, hi) => {
                        let pk = pk?;
                        for b in [lo, hi] {
                            if let Bound::Included(o) | Bound::Excluded(o) = b {
                                note(o, pk);
                            }
                        }
                    }
                    Keys::Secondary { column, values, .. } => {
                        values.iter().for_each(|o| note(o, *column))
                    }
                }
                result = Some(self.columns_schema(columns));
            }
            Shape::Insert {
                columns,
                values,
                returning,
                conflict,
            } => {
                columns.iter().zip(values).for_each(|(&c, o)| note(o, c));
                if let Some(conflict::Conflict::Update(sets)) = conflict {
                    for (c, set) in sets {
                        if let conflict::Set::Value(o) = set {
                            note(o, *c);
                        }
                    }
                }
                if let Some(cols) = returning {
                    result = Some(self.columns_schema(cols));
                }
            }
            Shape::Update { sets, key } => {
                sets.iter().for_each(|(c, o, _)| note(o, *c));
                note(key, pk?);
            }
            Shape::Delete { key } => note(key, pk?),
        }
        let n = uses.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
        let mut types: Vec<Option<Arrow>> = vec![None; n];
        for (i, c) in uses {
            let col = self.def.columns[c].data_type.arrow();
            let want = match declared.get(i).cloned().flatten() {
                None => col,
                Some(t) if t == pgwire::api::Type::UNKNOWN => col,
                Some(t) => {
                    let d = match t {
                        pgwire::api::Type::INT2 => Arrow::Int16,
                        pgwire::api::Type::INT4 => Arrow::Int32,
                        pgwire::api::Type::INT8 => Arrow::Int64,
                        _ => return None,
                    };
                    if !is_int(&col) {
                        return None;
                    }
                    d
                }
            };
            match &types[i] {
                Some(t) if *t != want => return None,
                _ => types[i] = Some(want),
            }
        }
        if types.iter().any(Option::is_none) {
            return None;
        }
        Some((types, result))
    }
}

/// A sequence value as the integer column it fills (`None`: it does not fit; DataFusion reports it).
fn serial_value(n: i64, t: omendb_storage::DataType) -> Option<omendb_storage::Value> {
    use omendb_storage::{DataType as D, Value as V};
    match t {
        D::SmallInt => i16::try_from(n).ok().map(V::Int16),
        D::Integer => i32::try_from(n).ok().map(V::Int32),
        D::BigInt => Some(V::Int64(n)),
        _ => None,
    }
}
