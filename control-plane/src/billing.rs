//! Billing through Stripe. Each organisation pays for a plan (free needs no payment); Stripe Checkout sells
//! the subscription, its webhooks tell us what was paid, metered usage goes to Stripe as meter events, and
//! an organisation that stays past due beyond the grace period has its paid databases paused until it
//! pays. With no Stripe key configured billing is off and every plan is available without payment.

pub mod dunning;
pub mod events;
pub mod metering;
pub mod stripe;
pub mod webhook;

use crate::config::{Billing as BillingConfig, PlanPrice};
use crate::error::{Error, Result};
use crate::plans::Plan;
use crate::store::{self, Pool, billing::OrgBilling};

pub use self::stripe::Stripe;

pub struct Billing {
    pub config: BillingConfig,
    stripe: Option<Stripe>,
    /// Held while an organisation's databases are brought in line with its billing state. The periodic
    /// grace check and a webhook would otherwise interleave: the check reads "past due", the payment
    /// resumes the database, then the check pauses it again on its stale reading.
    reconciling: tokio::sync::Mutex<()>,
}

impl Billing {
    pub fn new(config: BillingConfig) -> Result<Billing> {
        let stripe = config.enabled().then(|| Stripe::new(&config)).transpose()?;
        Ok(Billing {
            config,
            stripe,
            reconciling: tokio::sync::Mutex::new(()),
        })
    }

    pub fn enabled(&self) -> bool {
        self.stripe.is_some()
    }

    pub fn stripe(&self) -> Result<&Stripe> {
        self.stripe.as_ref().ok_or(Error::BillingDisabled)
    }

    /// Prices of a plan; free costs nothing.
    pub fn price(&self, plan: Plan) -> PlanPrice {
        match plan {
            Plan::Free => PlanPrice::default(),
            Plan::Pro => self.config.pro.clone(),
            Plan::Enterprise => self.config.enterprise.clone(),
        }
    }

    /// Whether the organisation has stayed past due beyond the grace period at `now`.
    pub fn suspended(&self, org: &OrgBilling, now: i64) -> bool {
        self.grace_ends_at(org)
            .is_some_and(|end| org.billing_state == store::billing::PAST_DUE && end <= now)
    }

    pub fn grace_ends_at(&self, org: &OrgBilling) -> Option<i64> {
        let grace_ms =
            i64::try_from(self.config.grace_period_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        org.past_due_since.map(|t| t.saturating_add(grace_ms))
    }

    /// May the organisation run a database of `plan` now? Billing off: always.
    pub async fn check_plan(&self, pool: &Pool, org_id: &str, plan: Plan) -> Result<()> {
        if !self.enabled() || plan == Plan::Free {
            return Ok(());
        }
        let org = store::billing::org(pool, org_id).await?;
        let paid = Plan::parse(&org.plan).unwrap_or(Plan::Free);
        if rank(paid) < rank(plan) {
            return Err(Error::PaymentRequired(format!(
                "the {} plan needs a subscription: upgrade on the billing page (POST /v1/billing/checkout)",
                plan.as_str()
            )));
        }
        if self.suspended(&org, store::now_ms()) {
            return Err(Error::PaymentRequired(
                "the last invoice is unpaid and the grace period is over: pay it in the billing portal \
                 to run paid databases again"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Plans in the order of what they include.
pub fn rank(plan: Plan) -> u8 {
    match plan {
        Plan::Free => 0,
        Plan::Pro => 1,
        Plan::Enterprise => 2,
    }
}
