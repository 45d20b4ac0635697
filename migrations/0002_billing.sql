-- Billing: what each organisation pays for, its Stripe customer, metered usage waiting to be reported, and
-- the Stripe webhook events already processed. Portable SQL like 0001.

-- The plan the organisation has paid for (free needs no payment), and where its payments stand.
alter table organizations add column plan text not null default 'free';
-- active, past_due or canceled
alter table organizations add column billing_state text not null default 'active';
alter table organizations add column past_due_since bigint;
alter table organizations add column stripe_customer_id text;
alter table organizations add column stripe_subscription_id text;
alter table organizations add column period_start bigint;
alter table organizations add column period_end bigint;
create unique index organizations_stripe_customer on organizations (stripe_customer_id);

-- Set while a database is paused because its organisation did not pay; paying resumes exactly these.
alter table databases add column billing_paused_at bigint;

-- One row per database per metric per sample. The id is also the Stripe meter event identifier and the
-- idempotency key, so a retried report can never be counted twice.
create table usage_records (
    id text primary key,
    org_id text not null references organizations (id),
    database_id text not null,
    -- compute_seconds or storage_mib_seconds
    metric text not null,
    quantity bigint not null,
    -- the sampled interval, unix ms
    period_start bigint not null,
    period_end bigint not null,
    -- pending, reported or not_billed (the organisation had no paid plan then)
    report_status text not null,
    attempts bigint not null default 0,
    next_attempt_at bigint not null default 0,
    last_error text,
    reported_at bigint
);
create index usage_records_pending on usage_records (report_status, next_attempt_at);
create index usage_records_org_period on usage_records (org_id, period_end);

create table webhook_events (
    id text primary key,
    type text not null,
    received_at bigint not null,
    processed_at bigint
);
