//! LISTEN, UNLISTEN and NOTIFY statements and `pg_notify()`: queued in the session's transaction and
//! applied at its COMMIT (`crate::notify` delivers them).

use std::sync::Arc;

use arrow_array::Array;
use arrow_schema::DataType as Arrow;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::results::Tag;

use super::{Output, Session};
use crate::error::{Error, Result, code};

impl Session {
    pub(super) fn notify_statement(&mut self, stmt: &Statement) -> Result<Output> {
        use crate::notify::{Action, Notification};
        let mut pending = self.notify.lock();
        let tag = match stmt {
            Statement::LISTEN { channel } => {
                pending
                    .actions
                    .push(Action::Listen(crate::ddl::ident(channel)));
                "LISTEN"
            }
            Statement::UNLISTEN { channel } => {
                let all = channel.quote_style.is_none() && channel.value == "*";
                pending
                    .actions
                    .push(Action::Unlisten((!all).then(|| crate::ddl::ident(channel))));
                "UNLISTEN"
            }
            Statement::NOTIFY { channel, payload } => {
                let channel = crate::ddl::ident(channel);
                let payload = payload.clone().unwrap_or_default();
                crate::notify::check(&channel, &payload)?;
                let pid = self.activity.lock().pid;
                pending.notify(Notification {
                    pid,
                    channel,
                    payload,
                });
                "NOTIFY"
            }
            _ => {
                return Err(Error::sql(
                    code::INTERNAL,
                    "not a LISTEN, UNLISTEN or NOTIFY",
                ));
            }
        };
        Ok(Output::Command(Tag::new(tag)))
    }
}

/// `pg_notify(channel, payload)`: NOTIFY as a function, queued in the caller's transaction.
pub(super) fn register(
    ctx: &SessionContext,
    pending: &Arc<parking_lot::Mutex<crate::notify::Pending>>,
    me: &crate::activity::Entry,
) {
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let pending = pending.clone();
    let me = me.clone();
    let f = move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                _ => None,
            })
            .unwrap_or(1);
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let text = |i: usize, r: usize| -> Option<String> {
            let a = arrow_cast::cast(&arrays[i], &Arrow::Utf8).ok()?;
            let a = a.as_any().downcast_ref::<arrow_array::StringArray>()?;
            (!a.is_null(r)).then(|| a.value(r).to_string())
        };
        let pid = me.lock().pid;
        for r in 0..rows {
            let Some(channel) = text(0, r) else {
                return Err(datafusion::error::DataFusionError::External(Box::new(
                    Error::sql(
                        code::INVALID_PARAMETER_VALUE,
                        "channel name cannot be empty",
                    ),
                )));
            };
            let payload = text(1, r).unwrap_or_default();
            crate::notify::check(&channel, &payload)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            pending.lock().notify(crate::notify::Notification {
                pid,
                channel,
                payload,
            });
        }
        Ok(ColumnarValue::Array(arrow_array::new_null_array(
            &Arrow::Utf8,
            rows,
        )))
    };
    ctx.register_udf(create_udf(
        "pg_notify",
        vec![Arrow::Utf8, Arrow::Utf8],
        Arrow::Utf8,
        Volatility::Volatile,
        Arc::new(f),
    ));
}

/// `pg_listening_channels()`: the channels this session listens on (committed LISTENs).
#[derive(Debug)]
struct ListeningChannels {
    engine: Arc<crate::engine::Engine>,
    session: u64,
}

impl datafusion::catalog::TableFunctionImpl for ListeningChannels {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> datafusion::error::Result<Arc<dyn datafusion::catalog::TableProvider>> {
        if !args.exprs().is_empty() {
            return Err(datafusion::error::DataFusionError::Plan(
                "function pg_listening_channels takes no arguments".into(),
            ));
        }
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "pg_listening_channels",
            Arrow::Utf8,
            false,
        )]));
        let names = arrow_array::StringArray::from(self.engine.notify.channels_of(self.session));
        let batch = arrow_array::RecordBatch::try_new(schema.clone(), vec![Arc::new(names)])?;
        Ok(Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?))
    }
}

pub(super) fn register_channels(
    ctx: &SessionContext,
    engine: &Arc<crate::engine::Engine>,
    session: u64,
) {
    ctx.register_udtf(
        "pg_listening_channels",
        Arc::new(ListeningChannels {
            engine: engine.clone(),
            session,
        }),
    );
}
