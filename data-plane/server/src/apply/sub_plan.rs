//! The SubPlan: a subquery as a scalar function of the outer values it reads, planned and run again for each
//! new combination of them (with the answers cached for the statement).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields};
use chrono::{DateTime, Utc};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{Exists, InSubquery, SetComparison};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Subquery, Volatility,
};
use datafusion::scalar::ScalarValue;
use parking_lot::{Mutex, RwLock};

/// Distinct outer-value combinations remembered per subquery before the cache starts over.
const CACHE_LIMIT: usize = 65_536;

/// What a SubPlan answers for one set of outer values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Form {
    /// `(SELECT x ...)`: NULL over no rows, 21000 over more than one.
    Scalar,
    /// `[NOT] EXISTS (...)`.
    Exists { negated: bool },
    /// `x op ANY|ALL (...)`, IN as `= ANY` and NOT IN as `<> ALL`; the compared value is argument 0.
    Quantified { op: Operator, all: bool },
    /// A LATERAL subquery: all its rows, as a list of structs whose fields are its columns in order
    /// (`c0`, `c1`, ...); with `keep_empty` (LEFT JOIN LATERAL), NULL over no rows instead of an empty list.
    Rows { keep_empty: bool },
}

/// The name of a LATERAL subquery's `i`th column in the structs of its [`Form::Rows`] list.
pub(super) fn row_field(i: usize) -> String {
    format!("c{i}")
}

/// The call of a SubPlan for `subquery` in `form`, its outer columns read from `inputs` (a column of a
/// query further out stays an outer reference, for that query's SubPlan to fill in).
pub(super) fn call(
    form: Form,
    subquery: &Subquery,
    compared: Option<Expr>,
    inputs: &[&DFSchema],
    state: &Weak<RwLock<SessionState>>,
    start: Option<DateTime<Utc>>,
) -> Result<Expr> {
    let mut outer_columns = Vec::new();
    let mut args: Vec<Expr> = compared.into_iter().collect();
    for r in &subquery.outer_ref_columns {
        let Expr::OuterReferenceColumn(_, c) = r else {
            continue;
        };
        if outer_columns.contains(c) {
            continue;
        }
        outer_columns.push(c.clone());
        // A column of a query further out stays an outer reference, for that query's SubPlan to fill in.
        args.push(if inputs.iter().any(|s| s.has_column(c)) {
            Expr::Column(c.clone())
        } else {
            r.clone()
        });
    }
    let ret = match form {
        Form::Scalar => subquery.subquery.schema().field(0).data_type().clone(),
        Form::Rows { .. } => {
            let fields: Fields = subquery
                .subquery
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| Field::new(row_field(i), f.data_type().clone(), true))
                .collect();
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(fields),
                true,
            )))
        }
        _ => DataType::Boolean,
    };
    let compared = matches!(form, Form::Quantified { .. });
    let signature = if args.is_empty() {
        Signature::nullary(Volatility::Volatile)
    } else {
        Signature::any(args.len(), Volatility::Volatile)
    };
    static IDS: AtomicUsize = AtomicUsize::new(0);
    let udf = SubPlan {
        id: IDS.fetch_add(1, Ordering::Relaxed),
        form,
        plan: subquery.subquery.as_ref().clone(),
        outer: outer_columns,
        compared,
        ret,
        signature,
        session: state.clone(),
        start: match start {
            Some(t) => OnceLock::from(t),
            None => OnceLock::new(),
        },
        state: OnceLock::new(),
        cache: Mutex::new(HashMap::new()),
    };
    Ok(ScalarUDF::new_from_impl(udf).call(args))
}

/// A correlated subquery as a function of the outer values it reads.
pub(super) struct SubPlan {
    id: usize,
    form: Form,
    plan: LogicalPlan,
    /// The outer columns, in argument order (after the compared value, if any).
    outer: Vec<Column>,
    compared: bool,
    ret: DataType,
    signature: Signature,
    session: Weak<RwLock<SessionState>>,
    pub(super) start: OnceLock<DateTime<Utc>>,
    /// The session's state as the statement runs, taken on first use.
    state: OnceLock<SessionState>,
    /// Each outer-values combination's rows (Scalar: the value; otherwise the subquery's column).
    cache: Mutex<HashMap<Vec<ScalarValue>, Answer>>,
}

#[derive(Clone)]
enum Answer {
    Value(ScalarValue),
    Rows(Arc<Vec<ScalarValue>>),
}

impl std::fmt::Debug for SubPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubPlan {} {:?}", self.id, self.form)
    }
}

impl PartialEq for SubPlan {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for SubPlan {}

impl Hash for SubPlan {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl ScalarUDFImpl for SubPlan {
    fn name(&self) -> &str {
        "subplan"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let skip = usize::from(self.compared);
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let key = arrays[skip..]
                .iter()
                .map(|a| ScalarValue::try_from_array(a, row))
                .collect::<Result<Vec<_>>>()?;
            let answer = self.answer(key)?;
            out.push(match (&self.form, answer) {
                (Form::Scalar | Form::Rows { .. }, Answer::Value(v)) => v,
                (Form::Exists { negated }, Answer::Rows(r)) => {
                    ScalarValue::Boolean(Some(r.is_empty() == *negated))
                }
                (Form::Quantified { op, all }, Answer::Rows(r)) => {
                    let x = ScalarValue::try_from_array(&arrays[0], row)?;
                    ScalarValue::Boolean(quantified(&x, *op, *all, &r)?)
                }
                _ => return Err(DataFusionError::Internal("subplan answer".into())),
            });
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(arrow_array::new_empty_array(
                &self.ret,
            )));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

impl SubPlan {
    fn answer(&self, key: Vec<ScalarValue>) -> Result<Answer> {
        if let Some(a) = self.cache.lock().get(&key) {
            return Ok(a.clone());
        }
        let batches = self.run(&key)?;
        if let Form::Rows { keep_empty } = self.form {
            let answer = Answer::Value(self.rows(&batches, keep_empty)?);
            self.remember(key, &answer);
            return Ok(answer);
        }
        let mut values = Vec::new();
        for b in &batches {
            let column = b.column(0);
            for i in 0..b.num_rows() {
                values.push(ScalarValue::try_from_array(column, i)?);
            }
        }
        let answer = match self.form {
            Form::Scalar => {
                if values.len() > 1 {
                    return Err(DataFusionError::External(Box::new(
                        crate::error::Error::sql(
                            "21000",
                            "more than one row returned by a subquery used as an expression",
                        ),
                    )));
                }
                Answer::Value(match values.pop() {
                    Some(v) => v,
                    None => ScalarValue::try_from(&self.ret)?,
                })
            }
            _ => Answer::Rows(Arc::new(values)),
        };
        self.remember(key, &answer);
        Ok(answer)
    }

    fn remember(&self, key: Vec<ScalarValue>, answer: &Answer) {
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, answer.clone());
    }

    /// A LATERAL subquery's rows as one list of structs.
    fn rows(&self, batches: &[RecordBatch], keep_empty: bool) -> Result<ScalarValue> {
        let internal = || DataFusionError::Internal("lateral subplan type".into());
        let DataType::List(item) = &self.ret else {
            return Err(internal());
        };
        let DataType::Struct(fields) = item.data_type() else {
            return Err(internal());
        };
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if n == 0 && keep_empty {
            return ScalarValue::try_from(&self.ret);
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let parts = batches
                .iter()
                .map(|b| arrow_cast::cast(b.column(i), f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            columns.push(if parts.is_empty() {
                arrow_array::new_empty_array(f.data_type())
            } else {
                arrow_select::concat::concat(&parts)?
            });
        }
        let structs = StructArray::try_new(fields.clone(), columns, None)?;
        let list = ListArray::try_new(
            Arc::clone(item),
            OffsetBuffer::from_lengths([n]),
            Arc::new(structs),
            None,
        )?;
        Ok(ScalarValue::List(Arc::new(list)))
    }

    /// The subquery's rows for one set of outer values.
    fn run(&self, key: &[ScalarValue]) -> Result<Vec<RecordBatch>> {
        let plan = self.bind(key)?;
        let plan = match self.form {
            // One row answers EXISTS; two are enough to know a scalar subquery is wrong.
            Form::Exists { .. } => LogicalPlanBuilder::from(plan).limit(0, Some(1))?.build()?,
            Form::Scalar => LogicalPlanBuilder::from(plan).limit(0, Some(2))?.build()?,
            Form::Quantified { .. } | Form::Rows { .. } => plan,
        };
        let state = self.state()?.clone();
        block_on(async move {
            let physical = state.create_physical_plan(&plan).await?;
            datafusion::physical_plan::collect(physical, state.task_ctx()).await
        })
    }

    fn state(&self) -> Result<&SessionState> {
        if let Some(s) = self.state.get() {
            return Ok(s);
        }
        let session = self
            .session
            .upgrade()
            .ok_or_else(|| DataFusionError::Internal("the session has ended".into()))?;
        let mut state = session.read().clone();
        if let Some(t) = self.start.get() {
            state.execution_props_mut().query_execution_start_time = Some(*t);
        }
        Ok(self.state.get_or_init(|| state))
    }

    /// The subquery's plan with its outer references replaced by `key`'s values.
    fn bind(&self, key: &[ScalarValue]) -> Result<LogicalPlan> {
        let plan = self.plan.clone().transform_up_with_subqueries(|node| {
            // A correlated derived table is wrapped in a Subquery node; bound, it is a plain input. (The
            // node itself may be the wrapper a subquery expression's plan is visited in, which stays.)
            let node = node
                .map_children(|c| match c {
                    LogicalPlan::Subquery(s) => {
                        Ok(Transformed::yes(Arc::unwrap_or_clone(s.subquery)))
                    }
                    other => Ok(Transformed::no(other)),
                })?
                .data;
            super::map_keeping_names(node, |e| {
                e.transform(|x| match &x {
                    Expr::ScalarSubquery(_)
                    | Expr::Exists(_)
                    | Expr::InSubquery(_)
                    | Expr::SetComparison(_) => Ok(Transformed::yes(self.unlisted(x))),
                    Expr::OuterReferenceColumn(f, c) => {
                        match self.outer.iter().position(|o| o == c) {
                            Some(i) => Ok(Transformed::yes(Expr::Literal(
                                key[i].cast_to(f.data_type())?,
                                None,
                            ))),
                            None => Ok(Transformed::no(x)),
                        }
                    }
                    _ => Ok(Transformed::no(x)),
                })
            })
        })?;
        Ok(plan.data)
    }
}

impl SubPlan {
    /// Subquery expression `x` without the outer columns this SubPlan binds among its outer references:
    /// they are literals once bound (the subquery's plan is bound by `transform_up_with_subqueries`).
    fn unlisted(&self, mut x: Expr) -> Expr {
        let s = match &mut x {
            Expr::ScalarSubquery(s) => s,
            Expr::Exists(Exists { subquery, .. })
            | Expr::InSubquery(InSubquery { subquery, .. })
            | Expr::SetComparison(SetComparison { subquery, .. }) => subquery,
            _ => return x,
        };
        s.outer_ref_columns
            .retain(|r| !matches!(r, Expr::OuterReferenceColumn(_, c) if self.outer.contains(c)));
        x
    }
}

/// `x op ANY (rows)` or `x op ALL (rows)` with SQL's three-valued logic: a NULL comparison makes the
/// answer NULL unless another row decides it.
fn quantified(
    x: &ScalarValue,
    op: Operator,
    all: bool,
    rows: &[ScalarValue],
) -> Result<Option<bool>> {
    let mut unknown = false;
    for v in rows {
        match compare(x, op, v)? {
            Some(true) if !all => return Ok(Some(true)),
            Some(false) if all => return Ok(Some(false)),
            None => unknown = true,
            _ => {}
        }
    }
    Ok(if unknown { None } else { Some(all) })
}

fn compare(x: &ScalarValue, op: Operator, v: &ScalarValue) -> Result<Option<bool>> {
    if x.is_null() || v.is_null() {
        return Ok(None);
    }
    let v = if v.data_type() == x.data_type() {
        v.clone()
    } else {
        v.cast_to(&x.data_type())?
    };
    let ord = x.partial_cmp(&v).ok_or_else(|| {
        DataFusionError::Plan(format!(
            "cannot compare {} with {}",
            x.data_type(),
            v.data_type()
        ))
    })?;
    use std::cmp::Ordering::*;
    Ok(Some(match op {
        Operator::Eq => ord == Equal,
        Operator::NotEq => ord != Equal,
        Operator::Lt => ord == Less,
        Operator::LtEq => ord != Greater,
        Operator::Gt => ord == Greater,
        Operator::GtEq => ord != Less,
        other => {
            return Err(DataFusionError::NotImplemented(format!(
                "{other} ANY/ALL over a correlated subquery"
            )));
        }
    }))
}

/// Runs `work` to completion from inside a (synchronous) function evaluation. On the shared pool the
/// worker hands its other tasks over while it blocks; elsewhere (a connection thread's single-threaded
/// runtime, which must not block on itself) the work runs on a thread of its own.
fn block_on<T: Send>(work: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if let Ok(h) = Handle::try_current()
        && h.runtime_flavor() == RuntimeFlavor::MultiThread
    {
        return tokio::task::block_in_place(|| h.block_on(work));
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| DataFusionError::External(Box::new(e)))?
                .block_on(work)
        })
        .join()
        .map_err(|_| DataFusionError::Internal("subquery execution panicked".into()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::register;
    use arrow_array::Int32Array;
    use arrow_schema::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    async fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        register(&ctx);
        crate::subquery::register(&ctx);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("g", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(Int32Array::from(vec![Some(10), Some(20), Some(10), None])),
            ],
        )
        .unwrap();
        ctx.register_table(
            "t",
            Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap()),
        )
        .unwrap();
        ctx
    }

    async fn rows(ctx: &SessionContext, sql: &str) -> Result<String> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    const UNDER_CASE: &str = "SELECT d.id, CASE WHEN d.id > 1 THEN \
        (SELECT e.id FROM t e WHERE e.g = d.g ORDER BY e.id DESC LIMIT 1) END AS x FROM t d ORDER BY d.id";
    const UNDER_CASE_ROWS: &str = "\
+----+---+
| id | x |
+----+---+
| 1  |   |
| 2  | 2 |
| 3  | 3 |
| 4  |   |
+----+---+";

    /// On the shared pool (a multi-threaded runtime) the SubPlan blocks in place.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_per_outer_row_on_a_pool() {
        let ctx = ctx().await;
        assert_eq!(rows(&ctx, UNDER_CASE).await.unwrap(), UNDER_CASE_ROWS);
    }

    /// On a single-threaded runtime (a connection's thread) it runs on a thread of its own.
    #[tokio::test]
    async fn runs_per_outer_row_on_a_connection_thread() {
        let ctx = ctx().await;
        assert_eq!(rows(&ctx, UNDER_CASE).await.unwrap(), UNDER_CASE_ROWS);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_than_one_row_is_21000() {
        let ctx = ctx().await;
        let e = rows(
            &ctx,
            "SELECT d.id, CASE WHEN true THEN (SELECT e.id FROM t e WHERE e.g = d.g) END FROM t d",
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("more than one row"), "{e}");
    }

    /// ANY / ALL against SQL's definition: ANY is the OR of the comparisons, ALL their AND, in
    /// three-valued logic; every list of up to three values from a small domain with NULLs.
    #[test]
    fn quantified_comparisons_follow_three_valued_logic() {
        let domain = [None, Some(1), Some(2), Some(3)];
        let mut lists: Vec<Vec<Option<i32>>> = vec![vec![]];
        for _ in 0..3 {
            let longer: Vec<_> = lists
                .iter()
                .filter(|l| l.len() == lists.last().map_or(0, |x| x.len()))
                .flat_map(|l| domain.iter().map(move |v| [l.clone(), vec![*v]].concat()))
                .collect();
            lists.extend(longer);
        }
        let or = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        };
        let and = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        };
        for op in [Operator::Eq, Operator::NotEq, Operator::Lt, Operator::GtEq] {
            let cmp = |x: i32, v: i32| match op {
                Operator::Eq => x == v,
                Operator::NotEq => x != v,
                Operator::Lt => x < v,
                _ => x >= v,
            };
            for x in domain {
                for list in &lists {
                    let each = list.iter().map(|v| Some(cmp(x?, (*v)?)));
                    let any = each.clone().fold(Some(false), or);
                    let all = each.fold(Some(true), and);
                    let values: Vec<ScalarValue> =
                        list.iter().map(|v| ScalarValue::Int32(*v)).collect();
                    let x = ScalarValue::Int32(x);
                    assert_eq!(
                        quantified(&x, op, false, &values).unwrap(),
                        any,
                        "{x} {op} ANY {list:?}"
                    );
                    assert_eq!(
                        quantified(&x, op, true, &values).unwrap(),
                        all,
                        "{x} {op} ALL {list:?}"
                    );
                }
            }
        }
    }
}
