//! Billing through Stripe (issue "Billing"). Only the webhook signature check exists so far; customers,
//! checkout, metering and dunning are not built yet.

pub mod webhook;
