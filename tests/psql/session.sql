-- A scripted psql session against omendb server. Expected output: session.out (port numbers masked).
\set VERBOSITY verbose
\conninfo
SHOW server_version;
CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, balance NUMERIC(12,2) DEFAULT 0, opened DATE);
CREATE TABLE events (at TIMESTAMP, kind TEXT, amount DOUBLE PRECISION);
\dt
\d accounts
\d events
\l
INSERT INTO accounts (id, owner, opened) VALUES (1, 'ada', '2026-01-02'), (2, 'grace', '2026-02-03');
INSERT INTO accounts VALUES (3, 'linus', 12.50, '2026-03-04');
COPY accounts FROM STDIN;
4	ken	100.25	2026-04-05
5	dennis	\N	\N
\.
COPY events FROM STDIN (FORMAT csv, HEADER true);
at,kind,amount
2026-11-24 10:00:00,deposit,10.5
2026-11-24 10:30:00,"with, comma",-2
2026-11-24 11:15:00,deposit,
\.
SELECT * FROM accounts ORDER BY id;
SELECT * FROM accounts WHERE id = 4;
SELECT id, owner FROM accounts WHERE id IN (2, 5, 42) ORDER BY id;
SELECT count(*), sum(balance) FROM accounts WHERE id BETWEEN 2 AND 4;
SELECT date_trunc('hour', at) AS hour, count(*), sum(amount) FROM events GROUP BY 1 ORDER BY 1;
UPDATE accounts SET balance = balance + 1 WHERE id >= 4;
DELETE FROM accounts WHERE owner IN (SELECT owner FROM accounts WHERE balance IS NULL);
SELECT id, balance FROM accounts ORDER BY id;
BEGIN;
INSERT INTO accounts VALUES (6, 'barbara', 1, NULL);
SELECT count(*) FROM accounts;
ROLLBACK;
SELECT count(*) FROM accounts;
BEGIN;
INSERT INTO accounts VALUES (1, 'dup', 0, NULL);
SELECT 1;
COMMIT;
INSERT INTO accounts (id) VALUES (7);
SELECT * FROM missing;
SELECT 1/0;
SELEC 1;
SET statement_timeout = '5s';
SHOW statement_timeout;
WITH ranked AS (SELECT owner, balance, rank() OVER (ORDER BY balance DESC NULLS LAST) AS r FROM accounts) SELECT * FROM ranked ORDER BY r, owner;
DROP TABLE events;
\dt
