//! pgwire handlers for one connection: simple and extended query protocol, COPY, and the bridge from
//! [`Session`] outputs to protocol responses. Cancellation and `statement_timeout` are enforced here so an
//! interrupted statement always leaves the session consistent.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use futures::{Sink, SinkExt, stream};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    CopyResponse, DescribePortalResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, DEFAULT_NAME, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::DataRow;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Describe, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::TransactionStatus;
use tokio::sync::Mutex;

use crate::error::{Error, code};
use crate::params;
use crate::session::{Output, Prepared, Session, Tx};

pub type HandleSlot = Arc<parking_lot::Mutex<Option<Arc<ConnectionHandle>>>>;

pub struct Conn {
    pub session: Arc<Mutex<Session>>,
    parser: Arc<Parser>,
    /// Set by start-up once the client is authenticated: cancel requests fire its receiver.
    pub handle: HandleSlot,
    /// The COPY error to report at CopyDone (PostgreSQL reports it and discards the rest of the data).
    copy_error: parking_lot::Mutex<Option<Error>>,
}

pub struct Parser {
    session: Arc<Mutex<Session>>,
}

impl Conn {
    pub fn new(session: Session, handle: HandleSlot) -> Conn {
        let session = Arc::new(Mutex::new(session));
        Conn {
            parser: Arc::new(Parser {
                session: session.clone(),
            }),
            session,
            handle,
            copy_error: parking_lot::Mutex::new(None),
        }
    }
}

/// Why a statement stopped before finishing.
enum Interrupt {
    Canceled,
    Timeout,
}

impl Interrupt {
    fn error(self) -> Error {
        match self {
            Interrupt::Canceled => Error::sql(
                code::QUERY_CANCELED,
                "canceling statement due to user request",
            ),
            Interrupt::Timeout => Error::sql(
                code::QUERY_CANCELED,
                "canceling statement due to statement timeout",
            ),
        }
    }
}

/// Runs `f` on the session, stopping it on a cancel request or at the statement timeout.
async fn guarded<T>(
    handle: &HandleSlot,
    session: &mut Session,
    f: impl for<'a> FnOnce(&'a mut Session) -> futures::future::BoxFuture<'a, T>,
) -> Result<T, Error> {
    let was = session.tx;
    let timeout = session.settings.statement_timeout();
    let handle = handle.lock().clone();
    let cancel = async {
        match handle {
            Some(h) => {
                let _ = h.start_query().await.await;
            }
            None => futures::future::pending::<()>().await,
        }
    };
    let sleep = async {
        match timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => futures::future::pending::<()>().await,
        }
    };
    let r = {
        let run = f(session);
        tokio::select! {
            r = run => Ok(r),
            _ = cancel => Err(Interrupt::Canceled),
            _ = sleep => Err(Interrupt::Timeout),
        }
    };
    match r {
        Ok(v) => Ok(v),
        Err(i) => {
            session.abort_statement(was);
            Err(i.error())
        }
    }
}

/// Sends the session's warnings ahead of the statement's result, as PostgreSQL does.
async fn send_notices<C>(client: &mut C, session: &mut Session) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in session.take_notices() {
        let info = ErrorInfo::new(n.severity.into(), n.code.into(), n.message);
        client
            .feed(PgWireBackendMessage::NoticeResponse(info.into()))
            .await?;
    }
    // A reported parameter changed (SET, RESET, set_config(), ROLLBACK of a SET): tell the client.
    for (name, value) in session.settings.take_reports() {
        if name == "application_name" {
            session.activity.lock().application_name = value.clone();
        }
        client
            .feed(PgWireBackendMessage::ParameterStatus(
                pgwire::messages::startup::ParameterStatus::new(name, value),
            ))
            .await?;
    }
    Ok(())
}

/// Keeps our transaction state and the protocol's in step: pgwire itself moves an open transaction to the
/// failed state on errors it raises (bad Bind parameters, unknown portals).
fn sync_tx<C: ClientInfo>(client: &C, session: &mut Session) {
    if client.transaction_status() == TransactionStatus::Error
        && session.tx == Tx::Active
        && !session.recovered
    {
        session.fail();
    }
}

/// The rows of a result as DataRows: the batches in hand, then (a large result) the rest as it arrives.
fn rows(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    rest: Option<crate::session::RowsRest>,
    format: &Format,
    tag: &str,
    zone: crate::zone::Zone,
) -> PgWireResult<QueryResponse> {
    use futures::StreamExt;
    let fields = Arc::new(pg_fields(schema, format)?);
    let f = fields.clone();
    let z = zone.clone();
    let data = batches
        .into_iter()
        .flat_map(move |b| crate::rows::encode(f.clone(), b, &z));
    let f = fields.clone();
    let rest = futures::stream::unfold(rest, |rest| async move {
        let mut rx = rest?;
        let b = rx.recv().await?;
        Some((b, Some(rx)))
    })
    .flat_map(
        move |b| -> futures::stream::BoxStream<'static, PgWireResult<DataRow>> {
            match b {
                Ok(b) => stream::iter(crate::rows::encode(f.clone(), b, &zone)).boxed(),
                Err(e) => stream::iter([Err(e.into())]).boxed(),
            }
        },
    );
    let mut r = QueryResponse::new(fields, stream::iter(data).chain(rest));
    r.set_command_tag(tag);
    Ok(r)
}

/// RowDescription's fields for `schema`: a column that is a table's column as is names its table, column
/// number and declared typmod; pg_catalog's vector columns have their own types.
pub fn pg_fields(schema: &SchemaRef, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    let fields = arrow_pg::datatypes::arrow_schema_to_pg_fields(schema, format, None)?;
    Ok(fields
        .into_iter()
        .zip(schema.fields())
        .map(|(info, f)| {
            let (table, column, modifier) = match crate::origins::of(f) {
                Some((table, column)) => {
                    (Some(table), Some(column), crate::origins::type_modifier(f))
                }
                None => (info.table_id(), info.column_id(), info.type_modifier()),
            };
            let datatype = match (crate::rows::Vector::of(f), crate::origins::marked_type(f)) {
                (Some(v), _) => v.pg_type(),
                (None, Some(t)) => t,
                (None, None) => info.datatype().clone(),
            };
            FieldInfo::new(
                info.name().to_string(),
                table,
                column,
                datatype,
                info.format(),
            )
            .with_type_modifier(modifier)
        })
        .collect())
}

/// On a connection's first statement: who logged in, and the settings of its startup packet.
fn login<C: ClientInfo>(client: &C, session: &mut Session) -> PgWireResult<()> {
    if !session.user.is_empty() {
        return Ok(());
    }
    session.user = client
        .metadata()
        .get(pgwire::api::METADATA_USER)
        .cloned()
        .unwrap_or_default();
    {
        let mut a = session.activity.lock();
        a.pid = client.pid_and_secret_key().0;
        a.user = session.user.clone();
        a.application_name = client
            .metadata()
            .get("application_name")
            .cloned()
            .unwrap_or_default();
    }
    for (name, value) in crate::auth::startup_settings(client.metadata()) {
        session
            .settings
            .set(&name, &value)
            .map_err(PgWireError::from)?;
    }
    // The startup packet's values were reported at connection start.
    session.settings.take_reports();
    Ok(())
}

fn tag_of(p: Option<&Prepared>) -> &'static str {
    match p.and_then(|p| p.stmt.as_ref()) {
        Some(datafusion::sql::sqlparser::ast::Statement::Explain { .. }) => "EXPLAIN",
        Some(datafusion::sql::sqlparser::ast::Statement::ShowVariable { .. }) => "SHOW",
        Some(datafusion::sql::sqlparser::ast::Statement::Fetch { .. }) => "FETCH",
        // RETURNING rows: PostgreSQL's tag is the write's (`INSERT 0 n`).
        Some(datafusion::sql::sqlparser::ast::Statement::Insert(_)) => "INSERT 0",
        Some(datafusion::sql::sqlparser::ast::Statement::Update(_)) => "UPDATE",
        Some(datafusion::sql::sqlparser::ast::Statement::Delete(_)) => "DELETE",
        _ => "SELECT",
    }
}

impl Conn {
    fn response(
        &self,
        session: &mut Session,
        out: Output,
        format: &Format,
        tag: &str,
    ) -> PgWireResult<Response> {
        Ok(match out {
            Output::Rows(schema, batches) => {
                let zone = session.zone_for(&schema);
                Response::Query(rows(&schema, batches, None, format, tag, zone)?)
            }
            Output::Stream(schema, batches, rest) => {
                let zone = session.zone_for(&schema);
                Response::Query(rows(&schema, batches, Some(rest), format, tag, zone)?)
            }
            Output::Command(t) => Response::Execution(t),
            Output::TxStart(t) => Response::TransactionStart(t),
            Output::TxEnd(t) => Response::TransactionEnd(t),
            Output::Empty => Response::EmptyQuery,
            Output::CopyOut(format, columns, data) => Response::CopyOut(CopyResponse::new(
                format,
                columns,
                stream::iter(data.into_iter().map(|d| Ok(CopyData::new(d)))),
            )),
            Output::CopyIn(c) => {
                let columns = c.columns();
                let format = i8::from(c.format == crate::copy::Format::Binary);
                session.copy = Some(*c);
                *self.copy_error.lock() = None;
                Response::CopyIn(CopyResponse::new(format, columns, stream::empty()))
            }
        })
    }
}

#[async_trait]
impl SimpleQueryHandler for Conn {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        sync_tx(client, &mut session);
        login(client, &mut session)?;
        if query.trim_start().len() > 10
            && query.trim_start()[..10].eq_ignore_ascii_case("deallocate")
        {
            // Forget the protocol-level statement too, as PostgreSQL does.
            for stmt in crate::session::parse(query).unwrap_or_default() {
                if let datafusion::sql::sqlparser::ast::Statement::Deallocate { name, .. } = stmt {
                    client.portal_store().rm_statement(&name.value);
                }
            }
        }
        let sql = query.to_string();
        let outs = match guarded(&self.handle, &mut session, |s| {
            Box::pin(s.simple_prepared(sql))
        })
        .await
        {
            Ok(o) => o,
            Err(e) => vec![(None, Err(e))],
        };
        send_notices(client, &mut session).await?;
        let mut responses = Vec::with_capacity(outs.len());
        for (prepared, r) in outs {
            match r {
                Ok(out) => {
                    let tag = tag_of(prepared.as_ref());
                    responses.push(self.response(&mut session, out, &Format::UnifiedText, tag)?);
                }
                Err(e) => responses.push(Response::Error(Box::new(e.into_info()))),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut session = self.session.lock().await;
        sync_tx(client, &mut session);
        login(client, &mut session)?;
        match session.prepare_typed(sql, types).await {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                session.fail();
                Err(e.into())
            }
        }
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .params
            .iter()
            .map(|t| params::pg_type(t.as_ref()))
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let Some(schema) = &stmt.result else {
            return Ok(vec![]);
        };
        pg_fields(schema, format.unwrap_or(&Format::UnifiedBinary))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Conn {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    /// A statement that returns no rows (INSERT, SET, ...) is described as PostgreSQL does, with its
    /// parameters and NoData, also when it has parameters: pgwire would send an empty RowDescription, and
    /// JDBC then counts each batched INSERT as a result set (update count 0).
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // psycopg describes a cursor it DECLAREd as a portal of that name (SQL cursors are portals).
        if message.target_type == TARGET_TYPE_BYTE_PORTAL
            && let Some(name) = message.name.as_deref()
            && client.portal_store().get_portal(name).is_none()
        {
            let schema = self.session.lock().await.cursor_schema(name);
            if let Some(schema) = schema {
                let fields = pg_fields(&schema, &Format::UnifiedText)?;
                let described = DescribePortalResponse::new(fields);
                return pgwire::api::query::send_describe_response(client, &described).await;
            }
        }
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name)
                && stmt.statement.result.is_none()
            {
                let described = self.do_describe_statement(client, &stmt).await?;
                let oids = described.parameters.iter().map(|t| t.oid()).collect();
                client
                    .feed(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(oids),
                    ))
                    .await?;
                client
                    .send(PgWireBackendMessage::NoData(NoData::new()))
                    .await?;
                return Ok(());
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt = &portal.statement;
        let p = &stmt.statement;
        let mut session = self.session.lock().await;
        sync_tx(client, &mut session);
        // Only timestamptz parameters read the zone.
        let zoned = stmt
            .statement
            .params
            .iter()
            .any(|t| matches!(t, Some(arrow_schema::DataType::Timestamp(_, Some(_)))))
            || stmt
                .parameter_types
                .iter()
                .any(|t| matches!(t, Some(t) if *t == Type::TIMESTAMPTZ));
        let zone = if zoned {
            session.zone()
        } else {
            crate::zone::Zone::default()
        };
        let values = match bind(stmt, portal, &zone) {
            Ok(v) => v,
            Err(e) => {
                session.fail();
                return Err(e.into());
            }
        };
        let prepared = p.clone();
        let r = guarded(&self.handle, &mut session, move |s| {
            Box::pin(async move { s.execute(&prepared, values).await })
        })
        .await
        .and_then(|r| r);
        send_notices(client, &mut session).await?;
        match r {
            // pgwire would gather every row of an Execute without a row limit before sending the first:
            // a large result goes out here as it is computed, and the Execute completes with its tag.
            Ok(Output::Stream(schema, batches, rest)) if max_rows == 0 => {
                use futures::StreamExt;
                let zone = session.zone_for(&schema);
                drop(session);
                let tag = tag_of(Some(p));
                let response = rows(
                    &schema,
                    batches,
                    Some(rest),
                    &portal.result_column_format,
                    tag,
                    zone,
                )?;
                let mut data = response.data_rows;
                let mut n = 0;
                while let Some(row) = data.next().await {
                    client.feed(PgWireBackendMessage::DataRow(row?)).await?;
                    n += 1;
                }
                Ok(Response::Execution(Tag::new(tag).with_rows(n)))
            }
            Ok(out) => self.response(
                &mut session,
                out,
                &portal.result_column_format,
                tag_of(Some(p)),
            ),
            Err(e) => Err(e.into()),
        }
    }
}

/// Parameter values of a Bind, decoded as the client declared them or as we described them.
fn bind(
    stmt: &StoredStatement<Prepared>,
    portal: &Portal<Prepared>,
    zone: &crate::zone::Zone,
) -> Result<Vec<datafusion::scalar::ScalarValue>, Error> {
    let want = &stmt.statement.params;
    if portal.parameter_len() != want.len() {
        return Err(Error::sql(
            code::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameter_len(),
                want.len()
            ),
        ));
    }
    (0..want.len())
        .map(|i| {
            let ty = stmt
                .parameter_types
                .get(i)
                .cloned()
                .flatten()
                .filter(|t| *t != Type::UNKNOWN)
                .unwrap_or_else(|| params::pg_type(want[i].as_ref()));
            params::decode(portal, i, &ty, want[i].as_ref(), zone)
        })
        .collect()
}

#[async_trait]
impl CopyHandler for Conn {
    async fn on_copy_data<C>(&self, _client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.copy_error.lock().is_some() {
            return Ok(());
        }
        let mut session = self.session.lock().await;
        let r = match session.copy.as_mut() {
            Some(c) => c.data(&data.data),
            None => Err(Error::sql(
                code::PROTOCOL_VIOLATION,
                "CopyData outside COPY",
            )),
        };
        if let Err(e) = r {
            session.copy = None;
            *self.copy_error.lock() = Some(e);
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        let copy = session.copy.take();
        if let Some(e) = self.copy_error.lock().take() {
            session.fail();
            return Err(e.into());
        }
        let Some(mut copy) = copy else {
            return Err(Error::sql(code::PROTOCOL_VIOLATION, "CopyDone outside COPY").into());
        };
        if let Err(e) = copy.finish() {
            session.fail();
            return Err(e.into());
        }
        let table = copy.table.clone();
        let batches = std::mem::take(&mut copy.batches);
        let n = session.copy_batches(&table, batches).await?;
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(n).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        session.copy = None;
        *self.copy_error.lock() = None;
        session.fail();
        Error::sql(
            code::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        )
        .into()
    }
}
