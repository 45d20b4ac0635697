//! What every handler can reach: config, metadata pool, signing keys, the fleet. Cheap to clone.

use std::sync::Arc;

use crate::auth::Keys;
use crate::auth::password::Hasher;
use crate::billing::Billing;
use crate::config::Config;
use crate::fleet::Fleet;
use crate::login_throttle::LoginThrottle;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::store::Pool;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub pool: Pool,
    pub keys: Keys,
    pub hasher: Hasher,
    pub fleet: Arc<Fleet>,
    pub limiter: RateLimiter,
    pub login_throttle: LoginThrottle,
    pub metrics: Arc<Metrics>,
    pub billing: Arc<Billing>,
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
