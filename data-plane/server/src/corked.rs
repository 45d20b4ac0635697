//! Output held back until the connection is about to wait for its client, which is when PostgreSQL flushes
//! too. pgwire flushes after every message, so a Bind/Execute/Sync round trip would leave as four writes
//! (BindComplete, DataRow, CommandComplete, ReadyForQuery), four syscalls and four wakeups of the client;
//! corked, it leaves as one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this much held output, writes go through at once (large results stream).
const HOLD: usize = 64 * 1024;

pub struct Corked<S> {
    inner: S,
    held: Vec<u8>,
    sent: usize,
}

impl<S: AsyncWrite + Unpin> Corked<S> {
    pub fn new(inner: S) -> Corked<S> {
        Corked {
            inner,
            held: Vec::with_capacity(8 * 1024),
            sent: 0,
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.held.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.held[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.held.clear();
        self.sent = 0;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Rewrites the status of a ReadyForQuery that ends the held output (`from` to `to`): the protocol layer's
    /// idea of the transaction state can lag the session's (a ROLLBACK TO that recovered a failed
    /// transaction).
    pub fn patch_ready_status(&mut self, from: u8, to: u8) {
        let n = self.held.len();
        if n >= 6 && self.held[n - 6..n - 1] == [b'Z', 0, 0, 0, 5] && self.held[n - 1] == from {
            self.held[n - 1] = to;
        }
    }

    /// Sends everything held.
    pub async fn uncork(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_send(cx)).await
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Corked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Corked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held.len() >= HOLD {
            ready!(this.poll_send(cx))?;
        }
        this.held.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Deferred to `uncork`.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Whether `buf` starts with a whole frontend message (type byte, then a length that counts itself).
pub fn whole_message(buf: &[u8]) -> bool {
    buf.len() >= 5 && {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        buf.len() > len
    }
}
