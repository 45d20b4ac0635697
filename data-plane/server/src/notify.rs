//! LISTEN / NOTIFY: the server's channels, and each session's mailbox. A NOTIFY (or `pg_notify()`) is
//! queued in its transaction and sent at COMMIT, in the order it was made, to every session listening on
//! the channel then (its own included); a ROLLBACK drops it, as PostgreSQL does. A session receives while it
//! is idle outside a transaction: the connection loop forwards its mailbox to the client.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::error::{Error, Result, code};

/// PostgreSQL's limit on a payload (`NOTIFY_PAYLOAD_MAX_LENGTH`), in bytes, less one.
pub const MAX_PAYLOAD: usize = 7999;
const MAX_CHANNEL: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The pid of the session that sent it.
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

/// Who listens on which channel, by session id, and how to reach each session.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Listeners>,
}

#[derive(Default)]
struct Listeners {
    channels: HashMap<String, HashSet<u64>>,
    mailboxes: HashMap<u64, mpsc::UnboundedSender<Notification>>,
}

impl Hub {
    /// A session's mailbox; it stops receiving when the receiver is dropped (`close`).
    pub fn open(&self, session: u64) -> mpsc::UnboundedReceiver<Notification> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.lock().mailboxes.insert(session, tx);
        rx
    }

    pub fn close(&self, session: u64) {
        let mut l = self.inner.lock();
        l.mailboxes.remove(&session);
        l.channels.retain(|_, s| {
            s.remove(&session);
            !s.is_empty()
        });
    }

    pub fn listen(&self, session: u64, channel: &str) {
        self.inner
            .lock()
            .channels
            .entry(channel.to_string())
            .or_default()
            .insert(session);
    }

    /// Stops listening on `channel`, or on every channel with `None` (`UNLISTEN *`).
    pub fn unlisten(&self, session: u64, channel: Option<&str>) {
        let mut l = self.inner.lock();
        l.channels.retain(|c, s| {
            if channel.is_none_or(|ch| ch == c) {
                s.remove(&session);
            }
            !s.is_empty()
        });
    }

    /// The channels `session` listens on (`pg_listening_channels()`).
    pub fn channels_of(&self, session: u64) -> Vec<String> {
        let l = self.inner.lock();
        let mut v: Vec<String> = l
            .channels
            .iter()
            .filter(|(_, s)| s.contains(&session))
            .map(|(c, _)| c.clone())
            .collect();
        v.sort();
        v
    }

    /// Delivers a committed transaction's notifications, in order.
    pub fn deliver(&self, notes: Vec<Notification>) {
        let l = self.inner.lock();
        for n in notes {
            if let Some(listeners) = l.channels.get(&n.channel) {
                for s in listeners {
                    if let Some(tx) = l.mailboxes.get(s) {
                        let _ = tx.send(n.clone());
                    }
                }
            }
        }
    }
}

/// Checks a NOTIFY's channel and payload as PostgreSQL does.
pub fn check(channel: &str, payload: &str) -> Result<()> {
    if channel.is_empty() {
        return Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            "channel name cannot be empty",
        ));
    }
    if channel.len() > MAX_CHANNEL {
        return Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            "channel name too long",
        ));
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            "payload string too long",
        ));
    }
    Ok(())
}

/// A transaction's pending LISTEN / UNLISTEN / NOTIFY, applied at COMMIT (dropped at ROLLBACK).
#[derive(Default)]
pub struct Pending {
    pub actions: Vec<Action>,
    pub notes: Vec<Notification>,
    /// Per open savepoint, how many actions and notes came before it.
    marks: Vec<(usize, usize)>,
}

pub enum Action {
    Listen(String),
    Unlisten(Option<String>),
}

impl Pending {
    /// Queues a notification; an identical one already queued in this transaction is not sent twice.
    pub fn notify(&mut self, n: Notification) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// SAVEPOINT: what follows can be undone alone.
    pub fn savepoint(&mut self) {
        self.marks.push((self.actions.len(), self.notes.len()));
    }

    /// ROLLBACK TO the savepoint at `depth` (0 the outermost): its LISTENs and NOTIFYs are dropped, the
    /// savepoint itself stays.
    pub fn rollback_to(&mut self, depth: usize) {
        if let Some(&(actions, notes)) = self.marks.get(depth) {
            self.actions.truncate(actions);
            self.notes.truncate(notes);
            self.marks.truncate(depth + 1);
        }
    }

    /// RELEASE the savepoint at `depth` and those after it: what they did joins the enclosing level.
    pub fn release(&mut self, depth: usize) {
        self.marks.truncate(depth);
    }

    /// COMMIT: registrations first (a session that LISTENs and NOTIFYs in one transaction hears itself).
    pub fn commit(&mut self, hub: &Hub, session: u64) {
        self.marks.clear();
        if self.actions.is_empty() && self.notes.is_empty() {
            return; // the common case: no shared lock taken
        }
        for a in self.actions.drain(..) {
            match a {
                Action::Listen(c) => hub.listen(session, &c),
                Action::Unlisten(c) => hub.unlisten(session, c.as_deref()),
            }
        }
        hub.deliver(std::mem::take(&mut self.notes));
    }

    pub fn rollback(&mut self) {
        self.actions.clear();
        self.notes.clear();
        self.marks.clear();
    }
}
