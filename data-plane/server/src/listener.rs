//! Accepting connections: TLS negotiation, the connection limit (53300), and the per-connection message
//! loop. A malformed, truncated or oversized message ends only that connection, with an error to its client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::{SinkExt, StreamExt};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{
    ClientInfo, ConnectionManager, PgWireConnectionState, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::NotificationResponse;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::{Startup, TlsPolicy};
use crate::config::Tls;
use crate::corked::Corked;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::runtime::Threads;
use crate::session::Session;
use crate::wire::{Conn, HandleSlot};

/// A client must finish start-up within this time.
const STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The acceptor, and the channel-binding data of the certificate it presents.
pub fn tls_acceptor(tls: &Tls) -> Result<(TlsAcceptor, Arc<[u8]>)> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| Error::Config(format!("cannot read {}: {e}", p.display())))
    };
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut read(&tls.cert)?.as_slice())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Config(format!("bad certificate {}: {e}", tls.cert.display())))?;
    let end_point: Arc<[u8]> = crate::channel_binding::tls_server_end_point(
        certs
            .first()
            .ok_or_else(|| Error::Config(format!("no certificate in {}", tls.cert.display())))?,
    )
    .into();
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut read(&tls.key)?.as_slice())
        .map_err(|e| Error::Config(format!("bad key {}: {e}", tls.key.display())))?
        .ok_or_else(|| Error::Config(format!("no private key in {}", tls.key.display())))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("certificate and key do not match: {e}")))?;
    // PostgreSQL 17's direct TLS negotiation requires the ALPN protocol name.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), end_point))
}

pub struct Listener {
    engine: Arc<Engine>,
    tls: Option<TlsAcceptor>,
    tls_policy: TlsPolicy,
    cancel: Arc<ConnectionManager>,
    pids: Arc<RandomPidSecretKeyGenerator>,
    /// The shared multi-threaded runtime: DataFusion execution, and connections past the thread budget.
    pool: Handle,
    threads: Threads,
}

impl Listener {
    /// `pool` is the runtime this server was started on.
    pub fn new(engine: Arc<Engine>, pool: Handle) -> Result<Listener> {
        let (tls, tls_policy) = match &engine.config.tls {
            Some(t) => {
                let (acceptor, end_point) = tls_acceptor(t)?;
                let policy = TlsPolicy {
                    end_point: Some(end_point),
                    required: t.require,
                };
                (Some(acceptor), policy)
            }
            None => (None, TlsPolicy::default()),
        };
        Ok(Listener {
            engine,
            tls,
            tls_policy,
            cancel: Arc::new(ConnectionManager::new()),
            pids: Arc::new(RandomPidSecretKeyGenerator::default()),
            pool,
            threads: Threads::default(),
        })
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (socket, addr) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let limits = &self.engine.config.limits;
            let placed = &self.engine.metrics.connections_placed;
            let socket = if limits.connection_threads {
                let this = self.clone();
                let serve = move |s| async move { this.run(s, addr).await };
                match self
                    .threads
                    .spawn(socket, addr, limits.max_connections, serve)
                {
                    Ok(()) => {
                        placed.with_label_values(&["thread"]).inc();
                        continue;
                    }
                    Err(socket) => socket,
                }
            } else {
                socket
            };
            placed.with_label_values(&["pool"]).inc();
            let this = self.clone();
            tokio::spawn(async move { this.run(socket, addr).await });
        }
    }

    async fn run(&self, socket: TcpStream, addr: SocketAddr) {
        if let Err(e) = self.connection(socket, addr).await {
            tracing::debug!("connection from {addr} ended: {e}");
        }
    }

    async fn connection(&self, socket: TcpStream, addr: SocketAddr) -> std::io::Result<()> {
        let negotiated = tokio::time::timeout(
            STARTUP_TIMEOUT,
            negotiate_tls::<crate::session::Prepared>(socket, self.tls.clone()),
        )
        .await;
        let Ok(Ok(Some(socket))) = negotiated else {
            return Ok(());
        };
        let parts = socket.into_parts();
        let mut corked = tokio_util::codec::FramedParts::new(Corked::new(parts.io), parts.codec);
        corked.read_buf = parts.read_buf;
        corked.write_buf = parts.write_buf;
        let mut socket = tokio_util::codec::Framed::from_parts(corked);
        let first = match tokio::time::timeout(STARTUP_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => {
                let _ = protocol_error(&mut socket, e).await;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let cancel_handler = Arc::new(DefaultCancelHandler::new(self.cancel.clone()));
        if let PgWireFrontendMessage::CancelRequest(c) = first {
            use pgwire::api::cancel::CancelHandler;
            cancel_handler.on_cancel_request(c).await;
            // Closed as PostgreSQL closes it: over TLS with a close_notify first, without which libpq's
            // cancel (PQcancelCreate, psycopg's cancel_safe) reports an unexpected EOF.
            let _ = socket.close().await;
            return Ok(());
        }
        let metrics = &self.engine.metrics;
        let open = self.engine.connections.fetch_add(1, Ordering::AcqRel) + 1;
        let _slot = Slot(&self.engine);
        self.engine
            .last_activity_ms
            .store(crate::engine::now_ms(), Ordering::Release);
        if open > self.engine.config.limits.max_connections {
            metrics
                .connections_rejected
                .with_label_values(&["limit"])
                .inc();
            let info = ErrorInfo::new(
                "FATAL".into(),
                crate::error::code::TOO_MANY_CONNECTIONS.into(),
                format!(
                    "sorry, too many clients already (max_connections = {})",
                    self.engine.config.limits.max_connections
                ),
            );
            socket
                .send(PgWireBackendMessage::ErrorResponse(info.into()))
                .await?;
            return socket.close().await;
        }
        metrics.connections_total.inc();
        metrics.connections.inc();
        let _gauge = Gauge(&self.engine);
        tracing::debug!("connection from {addr}");

        let handle = HandleSlot::default();
        let startup = Arc::new(Startup::new(
            self.engine.clone(),
            self.cancel.clone(),
            self.pids.clone(),
            handle.clone(),
            self.tls_policy.clone(),
        ));
        let conn = Arc::new(Conn::new(
            Session::new(self.engine.clone(), self.pool.clone()),
            handle,
        ));
        let mut mailbox = conn.session.lock().await.mailbox.take();
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        let mut next = Some(first);
        loop {
            let msg = match next.take() {
                Some(m) => m,
                None => {
                    // About to wait for the client: send what this round of messages produced.
                    if !crate::corked::whole_message(socket.read_buffer()) {
                        socket.get_mut().uncork().await?;
                    }
                    let starting = matches!(
                        socket.state(),
                        PgWireConnectionState::AwaitingStartup
                            | PgWireConnectionState::AuthenticationInProgress
                    );
                    let idle_limit = {
                        let s = conn.session.lock().await;
                        (s.tx != crate::session::Tx::Idle)
                            .then(|| s.settings.idle_in_transaction_timeout())
                            .flatten()
                    };
                    let m = if starting {
                        tokio::time::timeout_at(deadline, socket.next())
                            .await
                            .unwrap_or_default()
                    } else if let Some(limit) = idle_limit {
                        // A session holding locks in an open transaction must not hold them forever.
                        match tokio::time::timeout(limit, socket.next()).await {
                            Ok(m) => m,
                            Err(_) => {
                                let info = ErrorInfo::new(
                                    "FATAL".into(),
                                    "25P03".into(),
                                    "terminating connection due to idle-in-transaction timeout"
                                        .into(),
                                );
                                let _ = socket
                                    .send(PgWireBackendMessage::ErrorResponse(info.into()))
                                    .await;
                                break;
                            }
                        }
                    } else {
                        // Idle outside a transaction: notifications for this session go out as they come.
                        loop {
                            let note = async {
                                match mailbox.as_mut() {
                                    Some(m) => m.recv().await,
                                    None => std::future::pending().await,
                                }
                            };
                            tokio::select! {
                                m = socket.next() => break m,
                                Some(n) = note => {
                                    socket
                                        .send(PgWireBackendMessage::NotificationResponse(
                                            NotificationResponse::new(n.pid, n.channel, n.payload),
                                        ))
                                        .await?;
                                    socket.get_mut().uncork().await?;
                                }
                            }
                        }
                    };
                    match m {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            let _ = protocol_error(&mut socket, e).await;
                            break;
                        }
                        None => break,
                    }
                }
            };
            if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
                break;
            }
            let extended = match socket.state() {
                PgWireConnectionState::CopyInProgress(e) => e,
                _ => msg.is_extended_query(),
            };
            if let Err(e) = process_message(
                msg,
                &mut socket,
                startup.clone(),
                conn.clone(),
                conn.clone(),
                conn.clone(),
                cancel_handler.clone(),
            )
            .await
            {
                let fatal = matches!(&e, PgWireError::UserError(i) if i.is_fatal())
                    || !matches!(e, PgWireError::UserError(_));
                let starting = matches!(
                    socket.state(),
                    PgWireConnectionState::AwaitingStartup
                        | PgWireConnectionState::AuthenticationInProgress
                );
                process_error(&mut socket, e, extended).await?;
                if fatal && starting {
                    break;
                }
            }
            if std::mem::take(&mut conn.session.lock().await.recovered) {
                use pgwire::api::ClientInfo;
                socket.set_transaction_status(
                    pgwire::messages::response::TransactionStatus::Transaction,
                );
                socket.get_mut().patch_ready_status(b'E', b'T');
            }
        }
        conn.session.lock().await.close();
        // A last error (or reply) may still be held.
        let _ = socket.close().await;
        Ok(())
    }
}

/// Sends a FATAL protocol_violation (or program_limit_exceeded for oversized messages) before closing.
async fn protocol_error<S>(socket: &mut Framed<S>, e: PgWireError) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static,
{
    let code = match e {
        PgWireError::MessageTooLarge(..) => "54000",
        _ => "08P01",
    };
    let info = ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        format!("invalid frontend message: {e}"),
    );
    socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    socket.close().await
}

type Framed<S> = tokio_util::codec::Framed<
    S,
    pgwire::tokio::server::PgWireMessageServerCodec<crate::session::Prepared>,
>;

struct Slot<'a>(&'a Engine);
impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
        self.0
            .last_activity_ms
            .store(crate::engine::now_ms(), Ordering::Release);
    }
}

struct Gauge<'a>(&'a Engine);
impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.metrics.connections.dec();
    }
}
