//! Where work runs. Each client connection gets its own OS thread with a single-threaded tokio runtime (the
//! wire protocol, the fast path, planning); DataFusion execution goes to the server's shared multi-threaded
//! pool, where a big query can use every core.
//!
//! Why threads: on a machine whose cores are shared with busy clients, a handful of pool workers multiplexing
//! every connection get descheduled with a queue of ready connections behind them, and a 0.2 ms point query
//! waits a whole scheduler slice. One thread per connection (PostgreSQL's process per connection, in threads)
//! lets the kernel schedule each connection on its own, which is what keeps the tail of tiny queries short
//! (docs/benchmarks.md has the figures). Past `max_connections + THREAD_SLACK` live threads, for instance under
//! a flood of half-open connections, further connections run as tasks on the pool instead, so a flood costs
//! tasks, not threads.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::{Error, Result, code};

/// Connection threads allowed beyond `max_connections`: room for rejected and cancel-request connections.
const THREAD_SLACK: usize = 16;

/// Connection threads alive now.
#[derive(Default)]
pub struct Threads(Arc<AtomicUsize>);

impl Threads {
    /// Runs `serve(socket)` on a fresh thread, or gives the socket back when the thread budget is spent so
    /// the caller can run it as a task.
    pub fn spawn<F, Fut>(
        &self,
        socket: TcpStream,
        addr: SocketAddr,
        max_connections: usize,
        serve: F,
    ) -> std::result::Result<(), TcpStream>
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        let live = Live(self.0.clone());
        if before >= max_connections + THREAD_SLACK {
            return Err(socket);
        }
        let std = match socket.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("connection from {addr}: cannot detach socket: {e}");
                return Ok(());
            }
        };
        // A failed spawn drops the closure and with it the socket: the client sees the connection close.
        let spawned = std::thread::Builder::new()
            .name("omendb-conn".into())
            .spawn(move || {
                let _live = live;
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::warn!("connection from {addr}: no runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    match TcpStream::from_std(std) {
                        Ok(socket) => serve(socket).await,
                        Err(e) => tracing::warn!("connection from {addr}: {e}"),
                    }
                });
            });
        if let Err(e) = spawned {
            tracing::warn!("connection from {addr}: cannot start a thread: {e}");
        }
        Ok(())
    }
}

struct Live(Arc<AtomicUsize>);
impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work` on the shared pool when called from a connection thread (and in place when already on the
/// pool). Dropping the returned future (statement timeout, cancellation, a closed connection) aborts the
/// work on the pool too.
pub async fn on_pool<T, Fut>(pool: &Handle, work: Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    if Handle::current().runtime_flavor() != RuntimeFlavor::CurrentThread {
        return work.await;
    }
    let mut task = Abort(pool.spawn(work));
    match (&mut task.0).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(Error::sql(code::INTERNAL, "query execution panicked")),
        Err(_) => Err(Error::sql(code::INTERNAL, "the server is shutting down")),
    }
}

struct Abort<T>(tokio::task::JoinHandle<T>);
impl<T> Drop for Abort<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
