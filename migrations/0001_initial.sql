-- The control plane's metadata. Portable SQL: the same file runs on SQLite (embedded, `omendb up`) and on
-- PostgreSQL (production). Ids are text (random, url-safe), times are unix milliseconds in bigint.

create table organizations (
    id text primary key,
    name text not null,
    created_at bigint not null
);

create table accounts (
    id text primary key,
    -- lower-cased at sign-up, so uniqueness is case-insensitive on both engines
    email text not null unique,
    password_hash text not null,
    org_id text not null references organizations (id),
    role text not null,
    created_at bigint not null
);

-- Refresh tokens rotate on every use; a token used twice revokes its whole family.
create table refresh_tokens (
    token_hash text primary key,
    family_id text not null,
    account_id text not null references accounts (id),
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint,
    revoked_at bigint
);
create index refresh_tokens_family on refresh_tokens (family_id);

create table api_keys (
    id text primary key,
    org_id text not null references organizations (id),
    account_id text not null references accounts (id),
    name text not null,
    -- the first characters of the key, shown in listings so a user can tell keys apart
    prefix text not null,
    key_hash text not null unique,
    created_at bigint not null,
    last_used_at bigint,
    revoked_at bigint
);
create index api_keys_org on api_keys (org_id);

create table databases (
    id text primary key,
    org_id text not null references organizations (id),
    name text not null,
    plan text not null,
    -- what the user asked for: running, paused or deleted
    desired text not null,
    -- what is: provisioning, ready, pausing, paused, resuming, deleting, failed
    state text not null,
    state_reason text,
    db_user text not null,
    -- SCRAM-SHA-256 verifier of the tenant password; the password itself is never stored
    scram text not null,
    host text not null,
    port bigint not null,
    created_at bigint not null,
    updated_at bigint not null,
    ready_at bigint,
    deleted_at bigint
);
create unique index databases_org_name on databases (org_id, name) where deleted_at is null;
create index databases_desired on databases (desired);

create table audit_log (
    id text primary key,
    org_id text not null references organizations (id),
    -- account:<id> or api_key:<id>
    actor text not null,
    action text not null,
    target text not null,
    ip text not null,
    at bigint not null,
    detail text not null
);
create index audit_log_org_at on audit_log (org_id, at);
