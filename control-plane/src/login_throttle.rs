//! Slows password guessing without letting anyone lock an owner out of their account.
//!
//! Failures are counted per (account, address): past `free` of them, each further attempt from that
//! address must wait, 1 s doubling per failure up to a cap; the owner's own address is untouched by an
//! attacker's failures. Two wider brakes catch what that misses: a budget of failures per address per
//! hour (one address guessing at many accounts), and growing waits for an account's failures from
//! addresses that never logged into it (many addresses guessing at one account) — the addresses the owner
//! logged in from are exempt, so the brake cannot become a lockout either. Kept in memory: behind several
//! replicas each replica brakes on its own, and a restart forgets (attackers gain at most one cap).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::Limits;
use crate::error::{Error, Result};

/// Entries with no failure for this long are forgotten; the per-address budget's window.
const MEMORY: Duration = Duration::from_secs(3600);
/// How long an address that logged in stays exempt from the account-wide brake.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Bound on what an attacker can make us remember before old entries are swept.
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Backoff {
    failures: u32,
    last: Instant,
}

impl Backoff {
    /// When the next attempt may be made, if it must wait at all.
    fn next_allowed(&self, free: u32, max: Duration) -> Option<Instant> {
        let over = self.failures.checked_sub(free)?;
        let delay = Duration::from_secs(1u64 << over.min(30)).min(max);
        Some(self.last + delay)
    }
}

#[derive(Default)]
struct State {
    /// `account\naddress`.
    pairs: HashMap<String, Backoff>,
    /// Failures of an account from addresses not known to it.
    accounts: HashMap<String, Backoff>,
    /// Per address: the window's start and its failures.
    addresses: HashMap<String, (Instant, u32)>,
    /// `account\naddress` of successful logins.
    known: HashMap<String, Instant>,
}

pub struct LoginThrottle {
    free_per_pair: u32,
    free_per_account: u32,
    max_delay: Duration,
    per_address_per_hour: u32,
    state: Mutex<State>,
}

impl LoginThrottle {
    pub fn new(limits: &Limits) -> LoginThrottle {
        LoginThrottle {
            free_per_pair: limits.login_free_failures,
            free_per_account: limits.login_free_failures_per_account,
            max_delay: Duration::from_secs(limits.login_max_delay_s),
            per_address_per_hour: limits.failed_logins_per_address_per_hour,
            state: Mutex::default(),
        }
    }

    /// Before the password is even checked: refuses (429 with the wait) an attempt that must wait.
    pub fn check(&self, account: &str, address: &str, now: Instant) -> Result<()> {
        let s = self.state.lock();
        let pair = pair_key(account, address);
        let mut until: Option<Instant> = None;
        let mut wait_for = |t: Option<Instant>| {
            if let Some(t) = t.filter(|t| *t > now) {
                until = Some(until.map_or(t, |u| u.max(t)));
            }
        };
        if let Some(b) = s.pairs.get(&pair) {
            wait_for(b.next_allowed(self.free_per_pair, self.max_delay));
        }
        if !known(&s, &pair, now)
            && let Some(b) = s.accounts.get(account)
        {
            wait_for(b.next_allowed(self.free_per_account, self.max_delay));
        }
        if let Some((start, n)) = s.addresses.get(address)
            && now.duration_since(*start) < MEMORY
            && *n >= self.per_address_per_hour
        {
            wait_for(Some(*start + MEMORY));
        }
        match until {
            Some(t) => Err(Error::RateLimited {
                retry_after: t.duration_since(now).as_secs_f64().ceil() as u64,
            }),
            None => Ok(()),
        }
    }

    pub fn failed(&self, account: &str, address: &str, now: Instant) {
        let mut s = self.state.lock();
        if s.pairs.len() + s.accounts.len() + s.addresses.len() + s.known.len() > MAX_ENTRIES {
            sweep(&mut s, now);
        }
        let pair = pair_key(account, address);
        bump(s.pairs.entry(pair.clone()).or_insert(fresh(now)), now);
        if !known(&s, &pair, now) {
            bump(
                s.accounts.entry(account.to_string()).or_insert(fresh(now)),
                now,
            );
        }
        let slot = s.addresses.entry(address.to_string()).or_insert((now, 0));
        if now.duration_since(slot.0) >= MEMORY {
            *slot = (now, 0);
        }
        slot.1 += 1;
    }

    /// The right password: this address's failures for the account are forgiven and it becomes known.
    /// The account-wide count is not: an attacker who also owns an account cannot wipe it.
    pub fn succeeded(&self, account: &str, address: &str, now: Instant) {
        let mut s = self.state.lock();
        let pair = pair_key(account, address);
        s.pairs.remove(&pair);
        s.known.insert(pair, now);
    }
}

fn pair_key(account: &str, address: &str) -> String {
    format!("{account}\n{address}")
}

fn fresh(now: Instant) -> Backoff {
    Backoff {
        failures: 0,
        last: now,
    }
}

fn bump(b: &mut Backoff, now: Instant) {
    if now.duration_since(b.last) >= MEMORY {
        b.failures = 0;
    }
    b.failures = b.failures.saturating_add(1);
    b.last = now;
}

fn known(s: &State, pair: &str, now: Instant) -> bool {
    s.known
        .get(pair)
        .is_some_and(|t| now.duration_since(*t) < KNOWN_FOR)
}

fn sweep(s: &mut State, now: Instant) {
    s.pairs.retain(|_, b| now.duration_since(b.last) < MEMORY);
    s.accounts
        .retain(|_, b| now.duration_since(b.last) < MEMORY);
    s.addresses
        .retain(|_, (start, _)| now.duration_since(*start) < MEMORY);
    s.known.retain(|_, t| now.duration_since(*t) < KNOWN_FOR);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(&Limits {
            login_free_failures: 3,
            login_free_failures_per_account: 10,
            login_max_delay_s: 60,
            failed_logins_per_address_per_hour: 50,
            ..Limits::default()
        })
    }

    fn retry_after(r: Result<()>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(Error::RateLimited { retry_after }) => Some(retry_after),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_attackers_failures_slow_the_attacker_not_the_owner() {
        let t = throttle();
        let t0 = Instant::now();
        t.succeeded("ada", "owner-ip", t0);
        for _ in 0..3 {
            t.check("ada", "evil-ip", t0).unwrap();
            t.failed("ada", "evil-ip", t0);
        }
        // Fourth failure from evil-ip: 1 s, then 2 s, 4 s ... capped at 60.
        t.failed("ada", "evil-ip", t0);
        assert_eq!(retry_after(t.check("ada", "evil-ip", t0)), Some(2));
        for _ in 0..20 {
            t.failed("ada", "evil-ip", t0);
        }
        assert_eq!(retry_after(t.check("ada", "evil-ip", t0)), Some(60));
        // The owner's address is free, and so is a new address until the account-wide brake (10).
        t.check("ada", "owner-ip", t0).unwrap();
        assert!(
            t.check("ada", "new-ip", t0).is_err(),
            "24 failures > 10 from unknown addresses"
        );
        // After the wait the attacker may try again, once.
        let later = t0 + Duration::from_secs(61);
        t.check("ada", "evil-ip", later).unwrap();
    }

    #[test]
    fn success_forgives_the_address_but_not_the_account() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failed("ada", "ip1", t0);
        }
        assert!(t.check("ada", "ip1", t0).is_err());
        let t1 = t0 + Duration::from_secs(5);
        t.check("ada", "ip1", t1).unwrap();
        t.succeeded("ada", "ip1", t1);
        t.check("ada", "ip1", t1).unwrap();
        t.failed("ada", "ip1", t1);
        t.check("ada", "ip1", t1).unwrap();
    }

    #[test]
    fn one_address_has_a_budget_across_accounts() {
        let t = throttle();
        let t0 = Instant::now();
        for i in 0..50 {
            t.failed(&format!("user{i}"), "stuffer", t0);
        }
        assert_eq!(
            retry_after(t.check("user99", "stuffer", t0)),
            Some(MEMORY.as_secs())
        );
        t.check("user99", "someone-else", t0).unwrap();
        t.check("user99", "stuffer", t0 + MEMORY).unwrap();
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..5 {
            t.failed("ada", "ip", t0);
        }
        let later = t0 + MEMORY;
        t.failed("ada", "ip", later);
        t.check("ada", "ip", later).unwrap();
    }
}
