//! Sequences as SQL sees them: `nextval` / `currval` / `setval` / `lastval` (names looked up through the
//! search path, as `regclass` does), the session's values `currval` and `lastval` read, and the options
//! of CREATE SEQUENCE and of the sequences SERIAL columns own. Values come from the storage engine, which
//! hands them out outside transactions and logs them ahead (storage's `sequence.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::Int64Array;
use arrow_schema::DataType as Arrow;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{Expr, SequenceOptions};
use omendb_storage::{DataType, SequenceDef};
use parking_lot::Mutex;

use crate::error::{Error, Result, code};
use crate::pg_catalog::Source;

/// What `currval` and `lastval` read: the session's last `nextval` of each sequence.
#[derive(Default)]
pub struct SessionValues {
    current: HashMap<u64, i64>,
    last: Option<u64>,
}

impl SessionValues {
    /// Notes a value `nextval` handed this session.
    pub fn record(&mut self, id: u64, v: i64) {
        self.current.insert(id, v);
        self.last = Some(id);
    }
}

pub type Shared = Arc<Mutex<SessionValues>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    Next,
    Curr,
    Set,
    Last,
}

struct Function {
    op: Op,
    signature: Signature,
    src: Source,
    mine: Shared,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.op)
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op && Arc::ptr_eq(&self.mine, &other.mine)
    }
}

impl Eq for Function {}

impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.op.hash(state);
    }
}

pub fn register(ctx: &SessionContext, src: &Source, mine: &Shared) {
    let name_arg = |more: &[Arrow]| {
        [Arrow::Utf8, Arrow::Int64]
            .into_iter()
            .map(|n| {
                let mut v = vec![n];
                v.extend_from_slice(more);
                TypeSignature::Exact(v)
            })
            .collect::<Vec<_>>()
    };
    for (op, sigs) in [
        (Op::Next, name_arg(&[])),
        (Op::Curr, name_arg(&[])),
        (
            Op::Set,
            [
                name_arg(&[Arrow::Int64]),
                name_arg(&[Arrow::Int64, Arrow::Boolean]),
            ]
            .concat(),
        ),
        (Op::Last, vec![TypeSignature::Nullary]),
    ] {
        // The function's own view of the catalog without the registry of default functions, which
        // holds `nextval` itself: no reference cycle keeps a closed session alive.
        let mut own = src.clone();
        own.default_functions = Default::default();
        let f = Arc::new(ScalarUDF::from(Function {
            op,
            signature: Signature::one_of(sigs, Volatility::Volatile),
            src: own,
            mine: mine.clone(),
        }));
        ctx.register_udf(f.as_ref().clone());
        if op == Op::Next {
            let _ = src.default_functions.set(vec![f]);
        }
    }
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The sequences this session sees (its transaction's, else the statement's snapshot's).
pub fn visible(src: &Source) -> Vec<Arc<SequenceDef>> {
    let v = src.view.lock();
    match (&v.txn, &v.snapshot) {
        (Some(t), _) => t.sequences(),
        (None, Some(s)) => s.sequences(),
        (None, None) => src.db.snapshot().sequences(),
    }
}

/// The sequence a `regclass` argument names: a name through the search path, or an OID.
fn find(src: &Source, arg: &ScalarValue) -> Result<Option<Arc<SequenceDef>>> {
    let all = visible(src);
    match arg {
        ScalarValue::Int64(Some(oid)) => Ok(all
            .into_iter()
            .find(|s| crate::pg_catalog::oids::table(s.id) == *oid)),
        ScalarValue::Utf8(Some(name)) => {
            let parts = crate::pg_catalog::names::split_name(name);
            let candidates: Vec<String> = match parts.as_slice() {
                [r] => src
                    .names()
                    .path()
                    .iter()
                    .map(|s| crate::search_path::storage_name(s, r))
                    .collect(),
                [s, r] | [_, s, r] => vec![crate::search_path::storage_name(s, r)],
                _ => vec![],
            };
            for c in candidates {
                if let Some(s) = all.iter().find(|s| s.name == c) {
                    return Ok(Some(s.clone()));
                }
            }
            Err(Error::sql(
                code::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            ))
        }
        _ => Ok(None),
    }
}

fn shown(def: &SequenceDef) -> &str {
    crate::search_path::split(&def.name).1
}

impl ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        match self.op {
            Op::Next => "nextval",
            Op::Curr => "currval",
            Op::Set => "setval",
            Op::Last => "lastval",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[Arrow]) -> DfResult<Arrow> {
        Ok(Arrow::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        // One value per row, even over constant arguments: `nextval('s')` in an INSERT ... SELECT's
        // default gives each row its own.
        let n = args.number_rows.max(1);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<ScalarValue> = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, if a.len() == 1 { 0 } else { i }))
                .collect::<DfResult<_>>()?;
            out.push(self.one(&row).map_err(external)?);
        }
        if args.args.is_empty()
            || args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
                && n == 1
        {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(out[0])));
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}

impl Function {
    fn one(&self, row: &[ScalarValue]) -> Result<Option<i64>> {
        if self.op == Op::Last {
            let mine = self.mine.lock();
            return match mine.last.and_then(|id| mine.current.get(&id)) {
                Some(v) => Ok(Some(*v)),
                None => Err(Error::sql(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "lastval is not yet defined in this session",
                )),
            };
        }
        let Some(def) = find(&self.src, &row[0])? else {
            return Ok(None);
        };
        match self.op {
            Op::Next => {
                let v = self.src.db.nextval(&def)?;
                self.mine.lock().record(def.id, v);
                Ok(Some(v))
            }
            Op::Curr => match self.mine.lock().current.get(&def.id) {
                Some(v) => Ok(Some(*v)),
                None => Err(Error::sql(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "currval of sequence \"{}\" is not yet defined in this session",
                        shown(&def)
                    ),
                )),
            },
            Op::Set => {
                let Some(ScalarValue::Int64(Some(v))) = row.get(1).cloned() else {
                    return Ok(None);
                };
                let called = match row.get(2) {
                    Some(ScalarValue::Boolean(Some(b))) => *b,
                    Some(ScalarValue::Boolean(None)) => return Ok(None),
                    _ => true,
                };
                self.src.db.setval(&def, v, called)?;
                if called {
                    self.mine.lock().current.insert(def.id, v);
                }
                Ok(Some(v))
            }
            Op::Last => unreachable!("answered above"),
        }
    }
}

/// A sequence's parameters from CREATE SEQUENCE's options (or an identity column's), over PostgreSQL's
/// defaults for its type and direction.
pub fn definition(
    name: String,
    data_type: DataType,
    options: &[SequenceOptions],
) -> Result<SequenceDef> {
    let int = option_int;
    let increment = options
        .iter()
        .find_map(|o| match o {
            SequenceOptions::IncrementBy(e, _) => Some(int(e)),
            _ => None,
        })
        .transpose()?
        .unwrap_or(1);
    let mut def = SequenceDef::new(name, data_type, increment);
    let mut start = None;
    for o in options {
        match o {
            SequenceOptions::MinValue(Some(e)) => def.min = int(e)?,
            SequenceOptions::MaxValue(Some(e)) => def.max = int(e)?,
            SequenceOptions::StartWith(e, _) => start = Some(int(e)?),
            SequenceOptions::Cache(e) => def.cache = int(e)?,
            // sqlparser's flag is `NO`.
            SequenceOptions::Cycle(no) => def.cycle = !*no,
            _ => {}
        }
    }
    check_bounds(&def)?;
    def.start = start.unwrap_or(if def.increment > 0 { def.min } else { def.max });
    Ok(def)
}

/// A sequence option's value (`-5` is a unary minus over 5 to the parser).
pub fn option_int(e: &Expr) -> Result<i64> {
    let text = e.to_string().replace(' ', "");
    text.parse::<i64>().map_err(|_| {
        Error::sql(
            code::SYNTAX_ERROR,
            format!("sequence option value {e} is not an integer"),
        )
    })
}

/// The smallest and largest values of a sequence type.
pub fn type_bounds(data_type: DataType) -> (i64, i64) {
    match data_type {
        DataType::SmallInt => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Integer => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    }
}

/// MINVALUE and MAXVALUE within the sequence's type (22023 otherwise, PostgreSQL's message).
pub fn check_bounds(def: &SequenceDef) -> Result<()> {
    let (lo, hi) = type_bounds(def.data_type);
    for (what, v) in [("MINVALUE", def.min), ("MAXVALUE", def.max)] {
        if v < lo || v > hi {
            return Err(Error::sql(
                code::INVALID_PARAMETER_VALUE,
                format!(
                    "{what} ({v}) is out of range for sequence data type {}",
                    def.data_type.name()
                ),
            ));
        }
    }
    Ok(())
}

/// The sequence type of `AS type` (smallint, integer, bigint; 22023 otherwise).
pub fn sequence_type(t: Option<&datafusion::sql::sqlparser::ast::DataType>) -> Result<DataType> {
    let Some(t) = t else {
        return Ok(DataType::BigInt);
    };
    match crate::ddl::column_type(t)? {
        d @ (DataType::SmallInt | DataType::Integer | DataType::BigInt) => Ok(d),
        _ => Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            "sequence type must be smallint, integer, or bigint",
        )),
    }
}
