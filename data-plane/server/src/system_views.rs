//! `pg_stat_activity`, `pg_locks`, `pg_backend_pid()` and `pg_blocking_pids()` over live state: who is
//! connected, what each session runs, which locks are held and awaited, and who blocks whom. The views are
//! relations of `pg_catalog` (see `crate::pg_catalog`), built when a statement names them, so they are
//! planned and filtered like any table.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use omendb_storage::{LockMode, Resource};

use crate::activity::Entry;
use crate::engine::Engine;

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn pg_stat_activity(engine: &Engine) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("datname", DataType::Utf8, true),
        Field::new("pid", DataType::Int32, false),
        Field::new("usename", DataType::Utf8, true),
        Field::new("application_name", DataType::Utf8, true),
        Field::new("backend_start", utc(), true),
        Field::new("xact_start", utc(), true),
        Field::new("query_start", utc(), true),
        Field::new("wait_event_type", DataType::Utf8, true),
        Field::new("wait_event", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, true),
        Field::new("backend_type", DataType::Utf8, true),
    ]));
    let rows = engine.activity.snapshot();
    let n = rows.len();
    let (mut datname, mut pid, mut usename, mut app) = (
        StringBuilder::new(),
        Int32Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let stamp = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut started, mut xact, mut query_start) = (stamp(), stamp(), stamp());
    let (mut wtype, mut wevent, mut state, mut query, mut btype) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for (_, a) in rows {
        datname.append_value(&engine.config.database);
        pid.append_value(a.pid);
        usename.append_value(&a.user);
        app.append_value(&a.application_name);
        started.append_value(a.backend_start);
        xact.append_option(a.xact_start);
        query_start.append_option(a.query_start);
        wtype.append_option(a.wait.map(|w| w.0));
        wevent.append_option(a.wait.map(|w| w.1));
        state.append_value(a.state);
        query.append_value(
            a.query
                .as_ref()
                .and_then(|p| p.stmt.as_ref())
                .map(|s| s.to_string())
                .unwrap_or_default(),
        );
        btype.append_value("client backend");
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(datname.finish()),
        Arc::new(pid.finish()),
        Arc::new(usename.finish()),
        Arc::new(app.finish()),
        Arc::new(started.finish()),
        Arc::new(xact.finish()),
        Arc::new(query_start.finish()),
        Arc::new(wtype.finish()),
        Arc::new(wevent.finish()),
        Arc::new(state.finish()),
        Arc::new(query.finish()),
        Arc::new(btype.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// PostgreSQL's `locktype` and `mode` for a lock.
fn describe(r: &Resource, m: LockMode) -> (&'static str, &'static str) {
    match r {
        Resource::Row { .. } => (
            "tuple",
            match m {
                LockMode::KeyShare => "AccessShareLock",
                LockMode::Share => "ShareLock",
                LockMode::NoKeyUpdate => "ExclusiveLock",
                LockMode::Update => "AccessExclusiveLock",
            },
        ),
        Resource::Table(_) => (
            "relation",
            if m == LockMode::Update {
                "AccessExclusiveLock"
            } else {
                "RowExclusiveLock"
            },
        ),
        Resource::Advisory(_) | Resource::AdvisoryPair(..) => (
            "advisory",
            if m == LockMode::Share {
                "ShareLock"
            } else {
                "ExclusiveLock"
            },
        ),
    }
}

/// What a wait on `r` is called in `pg_stat_activity` (a row-lock wait is a wait for the holder's
/// transaction to end, as in PostgreSQL).
pub fn wait_event(r: &Resource) -> (&'static str, &'static str) {
    match r {
        Resource::Row { .. } => ("Lock", "transactionid"),
        Resource::Table(_) => ("Lock", "relation"),
        Resource::Advisory(_) | Resource::AdvisoryPair(..) => ("Lock", "advisory"),
    }
}

pub fn pg_locks(engine: &Engine) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("locktype", DataType::Utf8, false),
        Field::new("relation", DataType::Int64, true),
        Field::new("transactionid", DataType::Int64, true),
        Field::new("objid", DataType::Int64, true),
        Field::new("pid", DataType::Int32, true),
        Field::new("mode", DataType::Utf8, false),
        Field::new("granted", DataType::Boolean, false),
    ]));
    let (mut locktype, mut relation, mut txn, mut objid, mut pid, mut mode, mut granted) = (
        StringBuilder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
        Int32Builder::new(),
        StringBuilder::new(),
        BooleanBuilder::new(),
    );
    for l in engine.db.locks().snapshot() {
        let (t, m) = describe(&l.resource, l.mode);
        locktype.append_value(t);
        relation.append_option(match l.resource {
            Resource::Row { table, .. } | Resource::Table(table) => Some(table as i64),
            _ => None,
        });
        txn.append_option(l.owner.txn.map(|t| t as i64));
        objid.append_option(match l.resource {
            Resource::Advisory(k) => Some(k),
            Resource::AdvisoryPair(a, b) => Some(((a as i64) << 32) | (b as u32 as i64)),
            _ => None,
        });
        let p = engine.activity.pid_of(l.owner.session);
        pid.append_option((p != 0).then_some(p));
        mode.append_value(m);
        granted.append_value(l.granted);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(locktype.finish()),
        Arc::new(relation.finish()),
        Arc::new(txn.finish()),
        Arc::new(objid.finish()),
        Arc::new(pid.finish()),
        Arc::new(mode.finish()),
        Arc::new(granted.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `pg_backend_pid()` of one session, and `pg_blocking_pids(pid)`.
pub fn register_functions(ctx: &SessionContext, engine: &Arc<Engine>, me: &Entry) {
    let me = me.clone();
    ctx.register_udf(create_udf(
        "pg_backend_pid",
        vec![],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |_| {
            Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::Int32(Some(me.lock().pid)),
            ))
        }),
    ));
    let engine = engine.clone();
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
    let udf: ScalarUDF = create_udf(
        "pg_blocking_pids",
        vec![DataType::Int32],
        list,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let pids = arrays[0].as_any().downcast_ref::<arrow_array::Int32Array>();
            let pids = pids.ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(
                    "pg_blocking_pids takes an integer".into(),
                )
            })?;
            let lists: Vec<Option<Vec<Option<i32>>>> = (0..pids.len())
                .map(|i| {
                    if arrow_array::Array::is_null(pids, i) {
                        return None;
                    }
                    let blockers = engine
                        .activity
                        .session_of(pids.value(i))
                        .map(|s| engine.db.locks().blockers(s))
                        .unwrap_or_default();
                    let mut out: Vec<i32> = blockers
                        .into_iter()
                        .map(|s| engine.activity.pid_of(s))
                        .filter(|p| *p != 0)
                        .collect();
                    out.sort_unstable();
                    out.dedup();
                    Some(out.into_iter().map(Some).collect())
                })
                .collect();
            let array =
                arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(
                    lists,
                );
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            Ok(if scalar && arrow_array::Array::len(&array) == 1 {
                ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&array, 0)?)
            } else {
                ColumnarValue::Array(Arc::new(array))
            })
        }),
    );
    ctx.register_udf(udf);
}
