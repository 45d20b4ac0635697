-- API keys get scopes and an optional expiry. Existing keys keep what a key could always do (read and
-- manage databases; not billing, not keys).
alter table api_keys add column scopes text not null default 'read databases:write';
alter table api_keys add column expires_at bigint;

-- A login's refresh tokens end at the latest when the login does, however often they are rotated.
-- Null (tokens issued before this migration): the token's own expiry is the session's end.
alter table refresh_tokens add column session_expires_at bigint;
