//! Connection start-up: TLS requirement, database check, SCRAM-SHA-256 (-PLUS over TLS, bound to our
//! certificate) against stored verifiers, then the parameters a PostgreSQL server announces. One handler
//! per connection, so exchanges never share state.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionManager, METADATA_DATABASE, METADATA_USER, PgWireConnectionState,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::Mutex;

use crate::engine::Engine;
use crate::scram::{Channel, Exchange, Failure, Verifier};
use crate::wire::HandleSlot;

enum State {
    Start,
    /// AuthenticationSASL sent, waiting for SASLInitialResponse.
    Mechanism,
    /// server-first sent.
    Final(Box<Exchange>),
    Done,
}

/// What TLS this server offers, the same for every connection.
#[derive(Clone, Default)]
pub struct TlsPolicy {
    /// `tls-server-end-point` data of our certificate, when TLS is configured.
    pub end_point: Option<Arc<[u8]>>,
    /// Refuse sessions that did not start TLS.
    pub required: bool,
}

pub struct Startup {
    engine: Arc<Engine>,
    cancel: Arc<ConnectionManager>,
    pids: Arc<RandomPidSecretKeyGenerator>,
    handle: HandleSlot,
    tls: TlsPolicy,
    state: Mutex<State>,
}

impl Startup {
    pub fn new(
        engine: Arc<Engine>,
        cancel: Arc<ConnectionManager>,
        pids: Arc<RandomPidSecretKeyGenerator>,
        handle: HandleSlot,
        tls: TlsPolicy,
    ) -> Startup {
        Startup {
            engine,
            cancel,
            pids,
            handle,
            tls,
            state: Mutex::new(State::Start),
        }
    }

    fn channel(&self, secure: bool) -> Channel<'_> {
        match (&self.tls.end_point, secure) {
            (Some(data), true) => Channel::Tls(data),
            _ => Channel::Plain,
        }
    }

    fn reject(&self, reason: &str) {
        self.engine
            .metrics
            .connections_rejected
            .with_label_values(&[reason])
            .inc();
    }
}

fn fatal(code: &str, msg: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        msg.into(),
    )))
}

fn auth_failed(user: &str) -> PgWireError {
    fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

/// The settings a startup packet asks for, in the order they apply: its parameters that are settings (as
/// in PostgreSQL: JDBC sends TimeZone and extra_float_digits), then those of its `options` parameter
/// (`-c name=value` or `--name=value`, as libpq's PGOPTIONS sends them).
pub fn startup_settings(metadata: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = metadata
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "user" | "database" | "options" | "replication"
            ) && crate::settings::is_setting(name)
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    if let Some(options) = metadata.get("options") {
        let mut words = options.split_whitespace();
        while let Some(w) = words.next() {
            let setting = match w {
                "-c" => words.next(),
                w => w.strip_prefix("--").or_else(|| w.strip_prefix("-c")),
            };
            if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
                out.push((name.replace('-', "_"), value.to_string()));
            }
        }
    }
    out
}

struct Parameters {
    version: &'static str,
}

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let mut p = HashMap::new();
        p.insert("server_version".into(), self.version.into());
        p.insert("server_encoding".into(), "UTF8".into());
        p.insert("client_encoding".into(), "UTF8".into());
        p.insert("DateStyle".into(), "ISO, MDY".into());
        p.insert("IntervalStyle".into(), "postgres".into());
        // A zone the client asked for in its startup packet (JDBC sends its JVM's) is the session's.
        let zone = startup_settings(client.metadata())
            .into_iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case("timezone"))
            .and_then(|(_, v)| crate::zone::Zone::setting(&v))
            .unwrap_or_default();
        p.insert("TimeZone".into(), zone.name());
        p.insert("integer_datetimes".into(), "on".into());
        p.insert("standard_conforming_strings".into(), "on".into());
        p.insert("is_superuser".into(), "off".into());
        p.insert("default_transaction_read_only".into(), "off".into());
        p.insert("in_hot_standby".into(), "off".into());
        p.insert(
            "application_name".into(),
            client
                .metadata()
                .get("application_name")
                .cloned()
                .unwrap_or_default(),
        );
        if let Some(u) = client.metadata().get(METADATA_USER) {
            p.insert("session_authorization".into(), u.clone());
        }
        Some(p)
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut state = self.state.lock().await;
        match (&*state, message) {
            (State::Start, PgWireFrontendMessage::Startup(startup)) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                let user = client.metadata().get(METADATA_USER).cloned();
                let Some(user) = user.filter(|u| !u.is_empty()) else {
                    return Err(fatal(
                        "28000",
                        "no PostgreSQL user name specified in startup packet",
                    ));
                };
                let db = client
                    .metadata()
                    .get(METADATA_DATABASE)
                    .cloned()
                    .unwrap_or_else(|| user.clone());
                // Before anything about the database is said, and before a password could cross in clear.
                if self.tls.required && !client.is_secure() {
                    self.reject("tls");
                    return Err(fatal(
                        "28000",
                        format!(
                            "connection without TLS refused for user \"{user}\", database \"{db}\": this \
                             server requires encryption (sslmode=require or stronger)"
                        ),
                    ));
                }
                if db != self.engine.config.database {
                    return Err(fatal("3D000", format!("database \"{db}\" does not exist")));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                let mechanisms = self.channel(client.is_secure()).mechanisms();
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        mechanisms,
                    )))
                    .await?;
                *state = State::Mechanism;
            }
            (State::Mechanism, PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let initial = msg.into_sasl_initial_response()?;
                let verifier = self
                    .engine
                    .users
                    .get(&user)
                    .cloned()
                    .unwrap_or_else(|| Verifier::decoy(&user));
                let data = initial.data.unwrap_or_default();
                let channel = self.channel(client.is_secure());
                let (exchange, server_first) =
                    Exchange::start(&data, verifier, &initial.auth_method, channel).map_err(
                        |f| match f {
                            Failure::Malformed(m) => fatal("08P01", m),
                            Failure::Binding(m) => {
                                self.reject("channel_binding");
                                fatal("28000", m)
                            }
                            Failure::WrongPassword => auth_failed(&user),
                        },
                    )?;
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLContinue(Bytes::from(server_first)),
                    ))
                    .await?;
                *state = State::Final(Box::new(exchange));
            }
            (State::Final(_), PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let State::Final(exchange) = std::mem::replace(&mut *state, State::Done) else {
                    unreachable!("matched above")
                };
                let resp = msg.into_sasl_response()?;
                let known = self.engine.users.contains_key(&user);
                let server_final = match exchange.finish(&resp.data) {
                    Ok(f) if known => f,
                    Ok(_) | Err(Failure::WrongPassword) => {
                        self.reject("auth");
                        return Err(auth_failed(&user));
                    }
                    Err(Failure::Binding(m)) => {
                        self.reject("channel_binding");
                        return Err(fatal("28000", m));
                    }
                    Err(Failure::Malformed(m)) => return Err(fatal("08P01", m)),
                };
                client
                    .feed(PgWireBackendMessage::Authentication(
                        Authentication::SASLFinal(Bytes::from(server_final)),
                    ))
                    .await?;
                let (pid, key) = self.pids.generate(client);
                client.set_pid_and_secret_key(pid, key.clone());
                let (handle, guard) = self.cancel.register(pid, key);
                // The query handlers watch the handle themselves (not pgwire), so an interrupted statement
                // can clean up after itself.
                *self.handle.lock() = Some(handle);
                client.session_extensions().insert(guard);
                finish_authentication(
                    client,
                    &Parameters {
                        version: crate::SERVER_VERSION,
                    },
                )
                .await?;
            }
            (_, PgWireFrontendMessage::Startup(_)) | (State::Done, _) => {
                return Err(fatal("08P01", "unexpected startup message"));
            }
            (_, _) => return Err(fatal("08P01", "unexpected message during authentication")),
        }
        Ok(())
    }
}
