// The web console in a real browser (Debian's Chromium through playwright-core) against a real `omendb up`:
// the whole journey from sign-up to deleting a database, with SQL through node-postgres on the way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startService, launchBrowser, call, sessionIn, ARTIFACTS } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
const stamp = Date.now().toString(36);
const EMAIL = `ada-${stamp}@example.com`;
const DB = 'shop';

let svc;
let browser;
let context;
let page;
const foreign = []; // requests that left the control plane's origin
const pageErrors = [];
const refreshes = []; // POST /v1/auth/refresh seen in the main context
let loginBounces = 0; // unexpected visits to /login in the main journey
let expectLogin = false;

/** Every page of every context: no request may go anywhere but the control plane. */
function watch(p) {
  p.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:') || u === 'about:blank') return;
    if (new URL(u).origin !== svc.base) foreign.push(u);
  });
  p.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`csp: ${m.text()}`);
  });
  return p;
}

async function newContext(opts = {}) {
  const c = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
  await c.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: svc.base });
  c.on('page', watch);
  return c;
}

const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const clipboard = (p) => p.evaluate(() => navigator.clipboard.readText());

/** node-postgres from the connection string the console gave: TLS, the server verified against its CA. */
function client(connectionString) {
  const u = new URL(connectionString);
  assert.equal(u.searchParams.get('sslmode'), 'verify-full');
  const ca = readFileSync(u.searchParams.get('sslrootcert'));
  u.searchParams.delete('sslmode');
  u.searchParams.delete('sslrootcert');
  return new pg.Client({ connectionString: u.toString(), ssl: { ca, rejectUnauthorized: true }, connectionTimeoutMillis: 5000 });
}
async function sql(connectionString, ...statements) {
  const c = client(connectionString);
  await c.connect();
  try {
    const out = [];
    for (const s of statements) out.push(await c.query(s));
    return out;
  } finally {
    await c.end();
  }
}
/** Inserts and selects on one connection every 150 ms until stopped. */
function startTraffic(connectionString) {
  let on = true;
  const c = client(connectionString);
  c.on('error', () => {});
  const done = (async () => {
    await c.connect();
    for (let i = 0; on; i++) {
      await c.query('insert into items values ($1, $2)', [1000 + i, `x${i}`]);
      await c.query('select * from items');
      await new Promise((r) => setTimeout(r, 150));
    }
  })().catch((e) => e);
  return {
    stop: async () => {
      on = false;
      const e = await done;
      await c.end().catch(() => {});
      if (e instanceof Error) throw e;
    },
  };
}

async function connectFails(connectionString) {
  const c = client(connectionString);
  try {
    await c.connect();
    await c.query('select 1');
  } catch (e) {
    return e;
  } finally {
    await c.end().catch(() => {});
  }
  return null;
}

const headBadge = () => page.locator('.head-state .badge');
const waitState = (state, timeout = 30_000) => page.locator(`.head-state .badge[data-state="${state}"]`).waitFor({ timeout });

/** A flash message on the page (role=status), not its copy in the screen-reader announcer. */
const flashed = (text) => page.getByRole('status').filter({ hasText: text });

/** The error text wired to an input through aria-describedby. */
async function describedError(locator) {
  const ids = (await locator.getAttribute('aria-describedby')).split(' ').filter((x) => x.endsWith('-error'));
  return page.locator(`#${ids[0]}`);
}

async function copyAndRead(block) {
  const btn = block.getByRole('button', { name: 'Copy' });
  await btn.click();
  await block.getByRole('button', { name: 'Copied' }).waitFor({ timeout: 3000 });
  return clipboard(page);
}
const copyBlock = (root, label) => root.locator('.copy-block').filter({ has: page.locator('.copy-label', { hasText: new RegExp(`^${label}$`) }) });

describe('web console', { timeout: 240_000 }, () => {
  let connStr; // with the current password
  let oldConnStr;
  let dbId;

  before(async () => {
    svc = await startService();
    browser = await launchBrowser();
    context = await newContext();
    page = await context.newPage();
    page.on('request', (r) => { if (r.url().endsWith('/v1/auth/refresh')) refreshes.push(Date.now()); });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame() && new URL(f.url()).pathname === '/login' && !expectLogin) loginBounces++;
    });
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await svc?.stop();
  });

  it('signs up, with errors next to the fields for a weak password and a taken email', async () => {
    const taken = `taken-${stamp}@example.com`;
    assert.equal((await call(svc.base, 'POST', '/v1/auth/signup', { body: { email: taken, password: PASSWORD } })).status, 201);

    expectLogin = true;
    await page.goto(svc.base + '/');
    await page.waitForURL('**/login');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    expectLogin = false;
    const email = page.getByLabel('Email');
    const password = page.getByLabel('Password', { exact: true });

    await email.fill(EMAIL);
    await password.fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    const passErr = await describedError(password);
    await passErr.getByText('at least 10 characters').waitFor();
    assert.equal(await password.getAttribute('aria-invalid'), 'true');

    await email.fill(taken);
    await password.fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    const emailErr = await describedError(email);
    await emailErr.getByText('already exists').waitFor();
    assert.equal(await passErr.textContent(), '');
    await shot(page, '01-signup-errors');

    await email.fill(EMAIL);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/databases');
    await page.getByRole('heading', { name: 'No databases yet' }).waitFor();
    await page.locator('.who', { hasText: EMAIL }).waitFor();
    await shot(page, '02-databases-empty');
  });

  it('validates the name while typing, creates a database, shows the password once and copies it', async () => {
    await page.getByRole('link', { name: 'Create database' }).first().click();
    await page.getByRole('heading', { name: 'Create a database' }).waitFor();
    const name = page.getByLabel('Name');
    const err = await describedError(name);
    for (const [value, msg] of [['Shop', 'only lower-case letters'], ['1shop', 'start with a lower-case letter'], ['shop-', 'not end with a hyphen'], ['shop_1', 'only lower-case letters']]) {
      await name.fill('');
      await name.pressSequentially(value);
      await err.getByText(msg).waitFor();
      assert.equal(await name.getAttribute('aria-invalid'), 'true', value);
    }
    await shot(page, '03-create-invalid-name');
    await name.fill(DB);
    await page.waitForFunction((id) => document.getElementById(id).textContent === '', await err.getAttribute('id'));
    assert.equal(await name.getAttribute('aria-invalid'), null);
    await page.getByRole('radio', { name: /^free/ }).check();
    await page.getByRole('button', { name: 'Create database' }).click();

    const panel = page.locator('.secret-panel');
    await panel.waitFor();
    assert.match(await panel.textContent(), /Shown only once/);
    await panel.locator('.badge[data-state="ready"]').waitFor({ timeout: 30_000 });
    const password = await copyAndRead(copyBlock(panel, 'Password'));
    assert.match(password, /^\S{16,}$/);
    connStr = await copyAndRead(copyBlock(panel, 'Connection string'));
    assert.match(connStr, /^postgresql:\/\/owner:[^@]+@127\.0\.0\.1:\d+\/shop\?sslmode=verify-full&sslrootcert=\/\S+\/ca\.crt$/);
    assert.ok(connStr.includes(`:${password}@`));
    assert.equal(await copyAndRead(copyBlock(panel, 'psql command')), `psql "${connStr}"`);
    await shot(page, '04-created-password-once');

    // The password is not kept: the database page has the string without it.
    await page.getByRole('link', { name: /open shop/ }).click();
    await page.getByRole('heading', { name: DB, level: 1 }).waitFor();
    dbId = new URL(page.url()).pathname.split('/').pop();
    const shown = await copyAndRead(copyBlock(page.locator('main'), 'Connection string'));
    assert.equal(shown, connStr.replace(`:${password}@`, '@'));
    // The CA behind sslrootcert is the one the page offers for download.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a.ca-link').click()]);
    assert.equal(download.suggestedFilename(), 'omendb-ca.pem');
    const caPath = new URL(connStr).searchParams.get('sslrootcert');
    assert.equal(readFileSync(await download.path(), 'utf8'), readFileSync(caPath, 'utf8'));
    assert.equal(await page.getByText(password).count(), 0);
  });

  it('refuses a duplicate name with the server’s error', async () => {
    await page.goto(svc.base + '/databases/new');
    await page.getByLabel('Name').fill(DB);
    await page.getByRole('button', { name: 'Create database' }).click();
    const err = await describedError(page.getByLabel('Name'));
    await err.getByText(`already have a database named “${DB}”`).waitFor();
    await shot(page, '05-create-duplicate');

    // A quota refusal (403) is shown as the server words it.
    const quota = (route) => (route.request().method() === 'POST'
      ? route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: { code: 'quota_exceeded', message: 'the free plan allows 3 databases per organisation; delete one or choose another plan' } }) })
      : route.continue());
    await page.route(/\/v1\/databases$/, quota);
    await page.getByLabel('Name').fill('another');
    await page.getByRole('button', { name: 'Create database' }).click();
    await page.getByRole('alert').filter({ hasText: 'Quota reached: the free plan allows 3 databases' }).waitFor();
    await page.unroute(/\/v1\/databases$/, quota);
  });

  it('lists the database with its state, and the copied string connects with pg', async () => {
    // The error state, then the list after "Try again".
    const down = (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"the service is unavailable"}}' });
    await page.route(/\/v1\/databases$/, down);
    await page.getByRole('link', { name: 'Databases', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not load your databases' }).waitFor();
    await page.unroute(/\/v1\/databases$/, down);
    await page.getByRole('button', { name: 'Try again' }).click();
    const row = page.locator(`tr[data-name="${DB}"]`);
    await row.locator('.badge[data-state="ready"]').waitFor();
    assert.match(await row.textContent(), /free/);
    await shot(page, '06-databases');

    const [, , rows] = await sql(connStr,
      'create table items (id int primary key, name text)',
      "insert into items values (1, 'apple'), (2, 'pear')",
      'select id, name from items order by id');
    assert.deepEqual(rows.rows, [{ id: 1, name: 'apple' }, { id: 2, name: 'pear' }]);
  });

  it('pauses (no connections) and resumes (data still there)', async () => {
    await page.locator(`tr[data-name="${DB}"] a`).click();
    await page.getByRole('heading', { name: DB, level: 1 }).waitFor();
    await waitState('ready');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await waitState('paused');
    await page.getByText('The database is paused; charts appear while it runs.').or(page.getByText('Monitoring comes with the pro plan')).first().waitFor();
    await shot(page, '07-paused');
    assert.ok(await connectFails(connStr), 'a paused database accepts no connections');

    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await waitState('ready');
    const [res] = await sql(connStr, 'select count(*)::int as n from items');
    assert.equal(res.rows[0].n, 2);
  });

  it('resets the password: the new one works, the old one does not; the dialog is keyboard operable', async () => {
    const resetBtn = page.getByRole('button', { name: 'Reset password…' });
    await resetBtn.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.closest('dialog') !== null), true, 'focus moves into the dialog');
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.closest('dialog') !== null), true, 'focus stays in the dialog');
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Reset password…', 'focus returns to the button');

    await resetBtn.click();
    await dialog.getByRole('button', { name: 'Reset password' }).click();
    const panel = page.locator('.secret-panel');
    await panel.waitFor();
    assert.match(await panel.textContent(), /Shown only once/);
    oldConnStr = connStr;
    connStr = await copyAndRead(copyBlock(panel, 'Connection string'));
    assert.notEqual(connStr, oldConnStr);
    await shot(page, '08-reset-password');
    await waitState('ready');
    const [res] = await sql(connStr, 'select name from items where id = 2');
    assert.equal(res.rows[0].name, 'pear');
    const e = await connectFails(oldConnStr);
    assert.ok(e, 'the old password is refused');
    assert.match(String(e.message), /password|auth/i);
    await panel.getByRole('button', { name: /hide the password/ }).click();
    await panel.waitFor({ state: 'detached' });
  });

  it('changes the plan to pro and draws charts; enterprise adds learned-index health', async () => {
    await page.getByText('Monitoring comes with the pro plan').waitFor();
    await page.getByLabel('Plan', { exact: true }).selectOption('pro');
    await page.getByRole('button', { name: 'Change plan' }).click();
    await flashed('Plan changed to pro').waitFor();
    await waitState('ready');
    // Some traffic for the charts.
    const traffic = startTraffic(connStr);
    try {
      const qps = page.locator('figure[data-key="qps"]');
      await qps.locator('svg[role="img"]').waitFor();
      await page.waitForFunction(() => {
        const f = document.querySelector('figure[data-key="qps"] path.line');
        return f && /L/.test(f.getAttribute('d'));
      }, null, { timeout: 20_000 });
      for (const key of ['lat', 'rows', 'storage', 'conns']) await page.locator(`figure[data-key="${key}"] svg path.line`).first().waitFor({ state: "attached" });
      assert.match(await qps.locator('.legend').textContent(), /select/);
      assert.match(await qps.locator('.legend').textContent(), /insert/);
      await shot(page, '09-charts-pro');
    } finally {
      await traffic.stop();
    }

    // The plan change restarts the server; the health charts need only the table to exist.
    await page.getByLabel('Plan', { exact: true }).selectOption('enterprise');
    await page.getByRole('button', { name: 'Change plan' }).click();
    await flashed('Plan changed to enterprise').waitFor();
    await waitState('ready');
    await page.getByRole('heading', { name: 'Learned-index health per table' }).waitFor({ timeout: 20_000 });
    await page.locator('figure[data-key="t-rows"] .legend', { hasText: 'items' }).waitFor({ timeout: 20_000 });
    for (const key of ['t-index', 't-seg', 't-tomb', 't-retrain']) await page.locator(`figure[data-key="${key}"] svg`).waitFor();
    await shot(page, '10-charts-enterprise');
  });

  it('creates an API key that works with Bearer, then revokes it (401)', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    await page.getByLabel('Key name').fill('ci deploys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const panel = page.locator('.secret-panel');
    await panel.waitFor();
    const key = await copyAndRead(copyBlock(panel, 'API key'));
    assert.match(key, /^omk_/);
    const ok = await call(svc.base, 'GET', '/v1/databases', { token: key });
    assert.equal(ok.status, 200);
    assert.ok(ok.json.databases.some((d) => d.name === DB));
    const row = page.locator('tr[data-name="ci deploys"]');
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(key.slice(0, 12)));
    assert.equal(await row.locator('.scopes-cell').textContent(), 'read, databases:write');
    await shot(page, '11-api-keys');

    // A read-only key that expires: it reads, it cannot write, and the list says both.
    await page.getByLabel('Key name').fill('dashboard');
    await page.getByLabel(/^Manage databases/).uncheck();
    await page.getByLabel('Expires').selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Create key' }).click();
    const roKey = await copyAndRead(copyBlock(page.locator('.secret-panel'), 'API key'));
    assert.equal((await call(svc.base, 'GET', '/v1/databases', { token: roKey })).status, 200);
    const refused = await call(svc.base, 'POST', '/v1/databases', { token: roKey, body: { name: 'nope', plan: 'free' } });
    assert.equal(refused.status, 403);
    const roRow = page.locator('tr[data-name="dashboard"]');
    await roRow.waitFor();
    assert.equal(await roRow.locator('.scopes-cell').textContent(), 'read');
    assert.match(await roRow.textContent(), /in 30 days/);
    // Nothing chosen: said next to the choices, nothing sent.
    for (const box of await page.getByRole('checkbox').all()) await box.uncheck();
    await page.getByLabel('Key name').fill('nothing');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Choose at least one thing the key may do.').waitFor();

    await row.getByRole('button', { name: 'Revoke ci deploys' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await row.getByText('Revoked').waitFor();
    assert.equal((await call(svc.base, 'GET', '/v1/databases', { token: key })).status, 401);
  });

  it('shows the audit log', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    const table = page.locator('table.audit-table');
    for (const action of ['account.signup', 'database.create', 'database.pause', 'database.resume', 'database.reset_password', 'database.update', 'api_key.create']) {
      await table.getByText(action, { exact: true }).first().waitFor();
    }
    await shot(page, '12-audit-log');
  });

  it('deletes the database after the name is typed in a dialog', async () => {
    await page.goto(svc.base + `/databases/${dbId}`);
    await page.getByRole('heading', { name: DB, level: 1 }).waitFor();
    const opener = page.getByRole('button', { name: 'Delete database…' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: `Delete ${DB}?` });
    await dialog.waitFor();
    const confirmInput = dialog.getByLabel(`Type ${DB} to confirm`);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('name')), 'confirm-name', 'the input has focus');
    const del = dialog.getByRole('button', { name: 'Delete database' });
    assert.equal(await del.getAttribute('aria-disabled'), 'true');
    await confirmInput.fill('sho');
    await confirmInput.press('Enter');
    await dialog.getByText(`Type ${DB} exactly`).waitFor();
    await shot(page, '13-delete-dialog');
    await confirmInput.fill(DB);
    assert.equal(await del.getAttribute('aria-disabled'), null);
    await del.click();
    await page.waitForURL('**/databases');
    await flashed(`${DB} is being deleted.`).waitFor();
    await page.locator(`tr[data-name="${DB}"]`).waitFor({ state: 'detached', timeout: 30_000 });
    await page.getByRole('heading', { name: 'No databases yet' }).waitFor();
    assert.ok(await connectFails(connStr), 'a deleted database accepts no connections');
  });

  it('refreshes the session quietly before expiry, and once on a 401 (single flight)', async () => {
    assert.equal(loginBounces, 0, 'the session never dropped to the login page');
    // 10 s access tokens here: the console refreshes ahead of expiry without any page load.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    const url = page.url();
    await page.waitForRequest((r) => r.url().endsWith('/v1/auth/refresh'), { timeout: 12_000 });
    await page.waitForTimeout(300);
    await page.getByRole('link', { name: 'Databases', exact: true }).click();
    await page.getByRole('heading', { name: 'No databases yet' }).waitFor();
    assert.equal(new URL(url).pathname, '/api-keys');
    assert.equal(loginBounces, 0);

    // Two calls refused at once (the header's /v1/me and the page's list) share one refresh.
    await page.reload();
    await page.getByRole('heading', { name: 'Databases', level: 1 }).waitFor();
    const fail = async (route) => { await route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":{"code":"unauthorized","message":"token expired"}}' }); };
    let failed = 0;
    const handler = async (route) => { if (failed < 2 && route.request().method() === 'GET') { failed++; return fail(route); } return route.continue(); };
    await page.route(/\/v1\/(me|databases)$/, handler);
    const before = refreshes.length;
    await page.reload(); // boot refresh (the access token lives in memory only), then the two 401s
    await page.getByRole('heading', { name: 'No databases yet' }).waitFor();
    await page.locator('.who', { hasText: EMAIL }).waitFor();
    await page.unroute(/\/v1\/(me|databases)$/, handler);
    assert.equal(failed, 2);
    assert.equal(refreshes.length - before, 2, 'one refresh at boot and one for both 401s');
  });

  it('keeps the refresh token where no page script can read it', async () => {
    const refresh = (await context.cookies()).find((c) => c.name === 'omendb_refresh');
    assert.ok(refresh, 'the browser holds the session cookie');
    assert.equal(refresh.httpOnly, true);
    assert.equal(refresh.secure, true);
    assert.equal(refresh.sameSite, 'Strict');
    assert.equal(refresh.path, '/v1/auth');
    // Whatever a script injected into the page could reach: cookies, both storages, the page's globals.
    const reachable = await page.evaluate(() => [
      document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage),
      Object.keys(window).map((k) => { try { return JSON.stringify(window[k]); } catch { return ''; } }).join(' '),
    ].join('\n'));
    assert.ok(!reachable.includes(refresh.value), 'the refresh token is readable from page script');
    assert.ok(!reachable.includes('omendb_refresh'), reachable);
    // A refresh without the session's CSRF token is refused, even from the page itself.
    const forged = await page.evaluate(async () => (await fetch('/v1/auth/refresh', { method: 'POST' })).status);
    assert.equal(forged, 403);
  });

  it('ends the session cleanly when the refresh token is gone', async () => {
    expectLogin = true;
    // The access token is refused and the session cookies are gone: back to login, with a message.
    await context.clearCookies();
    await page.route(/\/v1\/api-keys$/, (route) => route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":{"code":"unauthorized","message":"token expired"}}' }));
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL('**/login');
    await page.getByRole('status').filter({ hasText: 'Your session has ended' }).waitFor();
    await page.unrouteAll();
    assert.equal(await page.locator('#top').isHidden(), true);
    await shot(page, '14-session-ended');

    // Cookies cleared and reloaded: the login page, and logging in goes back where the user was.
    await context.clearCookies();
    await page.goto(svc.base + '/api-keys');
    await page.waitForURL('**/login');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/api-keys');
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  });

  it('logs out; a wrong password and the rate limit are shown next to the form', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    await flashed('You have logged out.').waitFor();
    assert.deepEqual((await context.cookies()).filter((c) => c.name.startsWith('omendb_')), [], 'logout cleared the cookies');

    const email = page.getByLabel('Email');
    const password = page.getByLabel('Password', { exact: true });
    await email.fill(EMAIL);
    await password.fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await (await describedError(password)).getByText('The email or password is wrong.').waitFor();
    assert.equal(await password.getAttribute('aria-invalid'), 'true');
    await shot(page, '15-login-wrong-password');

    // Failed logins per email are limited (3 per window in this test's configuration).
    await email.fill(`nobody-${stamp}@example.com`);
    const alert = page.locator('.form-error');
    for (let i = 0; i < 6 && !/Too many attempts/.test(await alert.textContent()); i++) {
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForFunction(() => !document.querySelector('form[aria-busy]'));
    }
    await alert.getByText(/Too many attempts\. Try again in \d+ (seconds|minutes)\./).waitFor();
    await shot(page, '16-login-rate-limited');
  });

  it('loads the databases page in under 200 KB, and fits a 360 px phone', async () => {
    // A fresh browser profile (nothing cached) of a signed-in user with a database.
    const login = await call(svc.base, 'POST', '/v1/auth/login', { body: { email: EMAIL, password: PASSWORD } });
    assert.equal(login.status, 200);
    const token = login.json.tokens.access_token;
    const created = await call(svc.base, 'POST', '/v1/databases', { token, body: { name: 'orders-2026', plan: 'pro' } });
    assert.equal(created.status, 201);

    for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 360, height: 740 }]]) {
      const ctx = await newContext({ viewport, isMobile: label === 'phone', hasTouch: label === 'phone', deviceScaleFactor: label === 'phone' ? 2 : 1 });
      const p = await ctx.newPage();
      await sessionIn(p, svc.base, EMAIL, PASSWORD);
      const requests = [];
      p.on('requestfinished', (r) => requests.push(r));
      const t0 = Date.now();
      await p.goto(svc.base + '/databases');
      await p.locator('tr[data-name="orders-2026"] .badge').waitFor();
      const ms = Date.now() - t0;
      let bytes = 0;
      for (const r of requests) {
        const s = await r.sizes();
        bytes += s.responseBodySize + s.responseHeadersSize + s.requestHeadersSize + s.requestBodySize;
      }
      if (label === 'desktop') {
        // Size is deterministic and asserted; time is only reported (timing belongs in benchmarks, and
        // `scripts/bench console` records it in docs/benchmarks.md).
        assert.ok(bytes < 200 * 1024, `databases page transferred ${bytes} bytes`);
        console.log(`# databases page: ${ms} ms, ${bytes} bytes in ${requests.length} requests`);
      } else {
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `no sideways scrolling at 360 px (overflow ${overflow}px)`);
        await p.locator('tr[data-name="orders-2026"] .badge[data-state="ready"]').waitFor({ timeout: 30_000 });
        await shot(p, '17-databases-phone');
        await p.locator('tr[data-name="orders-2026"] a').click();
        await p.locator('figure[data-key="qps"]').waitFor({ timeout: 20_000 });
        const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow2 <= 0, `database page: no sideways scrolling at 360 px (overflow ${overflow2}px)`);
        await shot(p, '18-database-phone');
        for (const [route, heading] of [['/databases/new', 'Create a database'], ['/api-keys', 'Your keys'], ['/audit-log', 'Audit log']]) {
          await p.goto(svc.base + route);
          await p.getByRole('heading', { name: heading }).waitFor();
          await p.waitForLoadState('networkidle');
          const o = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(o <= 0, `${route}: no sideways scrolling at 360 px (overflow ${o}px)`);
          await shot(p, `19-phone${route.replaceAll('/', '-')}`);
        }
      }
      await ctx.close();
    }
  });

  it('sent no request anywhere but the control plane, and hit no script or CSP error', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
});
