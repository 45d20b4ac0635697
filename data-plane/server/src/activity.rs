//! What each session is doing, for `pg_stat_activity`, the pids of `pg_locks` and `pg_blocking_pids()`.
//!
//! Each session owns its entry (one uncontended mutex, touched at the start and end of a statement); the
//! registry's own lock is taken only when a session opens or closes, and by readers of the views.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::session::Prepared;

/// One session's row of `pg_stat_activity`.
#[derive(Clone, Default)]
pub struct SessionActivity {
    /// The process id the client was given (BackendKeyData): what `pg_backend_pid()` returns.
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    /// `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`.
    pub state: &'static str,
    /// The statement running (or last run); rendered only when someone reads the view.
    pub query: Option<Prepared>,
    /// What it waits for: (`wait_event_type`, `wait_event`), as PostgreSQL names them.
    pub wait: Option<(&'static str, &'static str)>,
    /// Microseconds since the epoch.
    pub backend_start: i64,
    pub xact_start: Option<i64>,
    pub query_start: Option<i64>,
}

pub type Entry = Arc<Mutex<SessionActivity>>;

#[derive(Default)]
pub struct Activity {
    sessions: Mutex<HashMap<u64, Entry>>,
}

impl Activity {
    /// Registers a session; its entry is removed by `remove`.
    pub fn register(&self, session: u64) -> Entry {
        let e = Arc::new(Mutex::new(SessionActivity {
            state: "idle",
            backend_start: now_micros(),
            ..SessionActivity::default()
        }));
        self.sessions.lock().insert(session, e.clone());
        e
    }

    pub fn remove(&self, session: u64) {
        self.sessions.lock().remove(&session);
    }

    /// Every session (engine session id, its row), in pid order.
    pub fn snapshot(&self) -> Vec<(u64, SessionActivity)> {
        let entries: Vec<(u64, Entry)> = self
            .sessions
            .lock()
            .iter()
            .map(|(s, e)| (*s, e.clone()))
            .collect();
        let mut out: Vec<(u64, SessionActivity)> = entries
            .into_iter()
            .map(|(s, e)| (s, e.lock().clone()))
            .filter(|(_, a)| a.pid != 0)
            .collect();
        out.sort_by_key(|(_, a)| a.pid);
        out
    }

    /// The pid of an engine session (0 if it is not a client session).
    pub fn pid_of(&self, session: u64) -> i32 {
        self.sessions
            .lock()
            .get(&session)
            .map_or(0, |e| e.lock().pid)
    }

    /// The engine session of a pid.
    pub fn session_of(&self, pid: i32) -> Option<u64> {
        self.sessions
            .lock()
            .iter()
            .find(|(_, e)| e.lock().pid == pid)
            .map(|(s, _)| *s)
    }
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
