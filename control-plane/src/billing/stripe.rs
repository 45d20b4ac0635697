//! The four Stripe calls billing makes, through async-stripe. Every POST carries an idempotency key, so a
//! retry after a timeout can never create a second customer or a second meter event.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;

use crate::config::Billing as BillingConfig;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Stripe {
    client: Client,
}

/// A paid plan's subscription, as Checkout should sell it.
pub struct CheckoutRequest<'a> {
    pub customer: &'a str,
    pub org_id: &'a str,
    pub plan: &'a str,
    pub price: &'a str,
    pub usage_prices: &'a [String],
    pub success_url: String,
    pub cancel_url: String,
    /// Distinguishes deliberate new sessions from retries of the same one.
    pub idempotency_key: String,
}

/// One usage row as a meter event.
pub struct MeterEvent<'a> {
    pub event_name: &'a str,
    pub customer: &'a str,
    pub value: i64,
    /// The usage row id: Stripe's event identifier and our idempotency key.
    pub identifier: &'a str,
    pub timestamp_s: i64,
}

use secrecy::ExposeSecret as _;

impl Stripe {
    pub fn new(config: &BillingConfig) -> Result<Stripe> {
        let client = ClientBuilder::new(config.stripe_secret_key.expose_secret())
            .url(&config.api_base)
            .timeout(Duration::from_millis(config.request_timeout_ms.max(1)))
            .app_info("omendb-cloud", Some(env!("CARGO_PKG_VERSION").into()), None)
            .build()
            .map_err(|e| Error::Config(format!("Stripe client: {e}")))?;
        Ok(Stripe { client })
    }

    /// Creates the organisation's customer. The key is per organisation: two racing requests (or a retry
    /// after a lost answer) get the same customer back from Stripe.
    pub async fn create_customer(&self, org_id: &str, email: &str) -> Result<String> {
        let req = CreateCustomer::new()
            .email(email)
            .metadata(HashMap::from([("org_id".to_string(), org_id.to_string())]));
        let customer = req
            .customize()
            .request_strategy(idempotent(&format!("customer-{org_id}"))?)
            .send(&self.client)
            .await
            .map_err(upstream)?;
        Ok(customer.id.to_string())
    }

    /// A Checkout session for a plan's subscription; returns the URL to send the user to.
    pub async fn checkout(&self, r: CheckoutRequest<'_>) -> Result<String> {
        let meta = HashMap::from([
            ("org_id".to_string(), r.org_id.to_string()),
            ("plan".to_string(), r.plan.to_string()),
        ]);
        let mut items = vec![CreateCheckoutSessionLineItems {
            price: Some(r.price.to_string()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }];
        items.extend(
            r.usage_prices
                .iter()
                .map(|p| CreateCheckoutSessionLineItems {
                    price: Some(p.clone()),
                    ..CreateCheckoutSessionLineItems::new()
                }),
        );
        let sub = CreateCheckoutSessionSubscriptionData {
            metadata: Some(meta.clone()),
            ..CreateCheckoutSessionSubscriptionData::new()
        };
        let req = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .customer(r.customer)
            .client_reference_id(r.org_id)
            .line_items(items)
            .subscription_data(sub)
            .metadata(meta)
            .success_url(r.success_url)
            .cancel_url(r.cancel_url);
        let session = req
            .customize()
            .request_strategy(idempotent(&r.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(upstream)?;
        session
            .url
            .ok_or_else(|| Error::PaymentProvider("Stripe returned a session without a URL".into()))
    }

    /// A billing-portal session (cards, invoices, cancellation); returns its URL.
    pub async fn portal(&self, customer: &str, return_url: &str, key: &str) -> Result<String> {
        let req = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        let session = req
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await
            .map_err(upstream)?;
        Ok(session.url)
    }

    pub async fn meter_event(&self, e: MeterEvent<'_>) -> Result<()> {
        let payload = HashMap::from([
            ("stripe_customer_id".to_string(), e.customer.to_string()),
            ("value".to_string(), e.value.to_string()),
        ]);
        let req = CreateBillingMeterEvent::new(e.event_name, payload)
            .identifier(e.identifier)
            .timestamp(e.timestamp_s);
        req.customize()
            .request_strategy(idempotent(&format!("usage-{}", e.identifier))?)
            .send(&self.client)
            .await
            .map_err(upstream)?;
        Ok(())
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy> {
    let key = IdempotencyKey::new(key)
        .map_err(|e| Error::Internal(format!("idempotency key {key:?}: {e}")))?;
    Ok(RequestStrategy::Idempotent(key))
}

fn upstream(e: StripeError) -> Error {
    let msg = match &e {
        StripeError::Stripe(errors, status) => format!(
            "Stripe answered {status}: {}",
            errors.message.as_deref().unwrap_or("no message")
        ),
        StripeError::Timeout => "Stripe did not answer in time".to_string(),
        other => format!("Stripe could not be reached: {other}"),
    };
    tracing::warn!("{msg}");
    Error::PaymentProvider(msg)
}
