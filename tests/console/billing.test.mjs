// The console's Billing page in a real browser against a real `omendb up`: once with billing off (the
// harness's plain service; the page is also drawn from a mocked answer there, to check every state
// without Stripe), and once with billing on against a fake Stripe served by this test, through Checkout,
// signed webhooks, past due and paid again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { startService, launchBrowser, call, sessionIn, ARTIFACTS } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
const WEBHOOK_SECRET = 'whsec_test_secret';
const STRIPE_KEY = 'sk_test_fake';
const stamp = Date.now().toString(36);
const BILLING_OFF = 'Billing is off on this installation: every plan is available without payment.';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close().catch(() => {}); });

const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns something truthy. */
async function until(what, fn, timeout = 30_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** A browser context whose pages may talk to `origins` only, recording anything else and any script or CSP error. */
async function watchedContext(origins, opts = {}) {
  const foreign = [];
  const errors = [];
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', ...opts });
  ctx.on('page', (p) => {
    p.on('request', (r) => {
      const u = r.url();
      if (u.startsWith('data:') || u.startsWith('blob:') || u === 'about:blank') return;
      if (!origins.includes(new URL(u).origin)) foreign.push(u);
    });
    p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(`csp: ${m.text()}`);
    });
  });
  return { ctx, foreign, errors };
}

/** A new account, signed up from inside the page (its session cookies are the page's). */
async function signUp(base, p, who) {
  const email = `${who}-${stamp}@example.com`;
  const r = await sessionIn(p, base, email, PASSWORD, '/v1/auth/signup');
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return { email, account: r.json.account };
}

/** An access token for the API-side checks: the test service's live 10 s, and logins are limited per minute. */
const tokenCache = new Map();
async function tokenFor(base, email) {
  const c = tokenCache.get(base + email);
  if (c && Date.now() - c.at < 5000) return c.token;
  const r = await call(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  tokenCache.set(base + email, { token: r.json.tokens.access_token, at: Date.now() });
  return r.json.tokens.access_token;
}

const overflow = (p) => p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

// ---------------------------------------------------------------------------------------------------------

describe('billing page, billing off', { timeout: 180_000 }, () => {
  let svc;
  let w;
  let page;

  before(async () => {
    svc = await startService();
    w = await watchedContext([svc.base]);
    page = await w.ctx.newPage();
    page.setDefaultTimeout(15_000);
  });
  after(async () => {
    await w?.ctx.close().catch(() => {});
    await svc?.stop();
  });

  it('says billing is off, offers no upgrade or portal, and still shows usage', async () => {
    const { email } = await signUp(svc.base, page, 'off');
    await page.goto(svc.base + '/databases');
    await page.getByRole('heading', { name: 'Databases', level: 1 }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Billing' }).click();
    await page.waitForURL('**/billing');
    await page.getByRole('heading', { name: 'Billing', level: 1 }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Billing' }).getAttribute('aria-current'), 'page');
    await page.getByText(BILLING_OFF).waitFor();
    await page.getByRole('heading', { name: 'Usage this period' }).waitFor();
    const usage = page.locator('dl.usage');
    assert.match(await usage.textContent(), /Compute\s*[\d.]+ hours/);
    assert.match(await usage.textContent(), /Storage\s*[\d.,]+ GiB-hours/);
    await page.locator('figure.bill-chart svg[role="img"]').or(page.getByText('No usage recorded yet this period.')).first().waitFor();
    assert.equal(await page.getByRole('button', { name: /Upgrade/ }).count(), 0, 'no upgrade buttons');
    assert.equal(await page.getByRole('button', { name: 'Manage payment methods and invoices' }).count(), 0, 'no portal button');
    assert.equal(await page.locator('dl.bill').count(), 0, 'no estimate while billing is off');
    await shot(page, 'b01-billing-off');

    // The API agrees, and a pro database needs no payment here.
    const token = await tokenFor(svc.base, email);
    const b = await call(svc.base, 'GET', '/v1/billing', { token });
    assert.equal(b.status, 200);
    assert.equal(b.json.enabled, false);
  });

  // The rest of this group draws the page from mocked answers, so every state is checked without Stripe.
  const now = Date.now();
  const DAY = 86_400_000;
  const daily = Array.from({ length: 10 }, (_, i) => ({
    day: new Date(Date.UTC(2026, 10, 16 + i)).toISOString().slice(0, 10),
    compute_seconds: [0, 3600, 7200, 1800, 0, 5400, 9000, 3600, 720, 1234][i],
    storage_gib_hours: 0.05 * i,
  }));
  const fixture = (over = {}) => ({
    enabled: true, plan: 'pro', state: 'past_due', past_due_since: now - DAY, grace_ends_at: now + 3 * DAY,
    paused_for_billing: 2, customer: true,
    period: { start: Date.UTC(2026, 10, 16), end: Date.UTC(2026, 11, 16) },
    usage: { compute_seconds: 1234, storage_gib_hours: 0.52 },
    daily,
    estimate: { currency: 'usd', base_cents: 2900, compute_cents: 3, storage_cents: 1, total_cents: 2904 },
    plans: [
      { plan: 'free', monthly_cents: 0, compute_cents_per_hour: 0, storage_cents_per_gib_month: 0 },
      { plan: 'pro', monthly_cents: 2900, compute_cents_per_hour: 2, storage_cents_per_gib_month: 25 },
      { plan: 'enterprise', monthly_cents: 49900, compute_cents_per_hour: 1, storage_cents_per_gib_month: 20 },
    ],
    ...over,
  });
  const json = (route, status, body) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

  it('draws a billing answer: past due with its deadline, paused count, estimate, daily bars with a text alternative', async () => {
    const mock = (route) => (route.request().method() === 'GET' ? json(route, 200, fixture()) : route.continue());
    await page.route(/\/v1\/billing$/, mock);
    await page.goto(svc.base + '/billing');
    const badge = page.locator('.plan-now .badge[data-state="past_due"]');
    await badge.waitFor();
    assert.equal((await badge.textContent()).trim(), 'Past due');
    assert.equal((await page.locator('.plan-big').textContent()).trim(), 'Pro');
    const warning = page.locator('.bill-warning');
    assert.match(await warning.textContent(), /Payment failed\. Pay by .+ or paid databases will be paused\./);
    assert.ok(await warning.locator('time').getAttribute('datetime'), 'the deadline is a <time>');
    assert.match(await page.locator('.paused-count').textContent(), /2 databases are paused because of an unpaid invoice/);
    assert.match(await page.locator('dl.usage').textContent(), /Compute\s*0\.3 hours/);
    assert.match(await page.locator('dl.usage').textContent(), /Storage\s*0\.52 GiB-hours/);
    assert.match(await page.getByText(/\(UTC\)$/).textContent(), /Nov 16, 2026 – Dec 16, 2026 \(UTC\)/);
    const bill = (await page.locator('dl.bill').innerText()).replace(/\s+/g, ' ');
    assert.match(bill, /Pro plan \$29\.00 Compute \$0\.03 Storage \$0\.01 Total so far \$29\.04/);

    // Bars: one per day, an accessible name and description, and a table for screen readers.
    const svg = page.locator('figure.bill-chart svg[role="img"]');
    assert.equal(await svg.locator('rect.bar').count(), 10);
    const name = await page.locator('#' + await svg.getAttribute('aria-labelledby')).textContent();
    assert.equal(name, 'Compute hours per day');
    const desc = await page.locator('#' + await svg.getAttribute('aria-describedby')).textContent();
    assert.match(desc, /^10 days from Nov 16, 2026 to Nov 25, 2026: 9\.0 compute hours in all, the most on Nov 22, 2026 \(2\.5 hours\)\.$/);
    const table = page.locator('figure.bill-chart table.sr-only');
    assert.equal(await table.locator('caption').textContent(), 'Usage per day');
    assert.equal(await table.locator('tbody tr').count(), 10);
    assert.equal((await table.locator('tbody tr').nth(2).innerText()).replace(/\s+/g, ' ').trim(), 'Nov 18, 2026 2.0 0.1');

    // Plans: the current one marked, upgrades only above it, downgrades through the portal.
    const rows = page.locator('table.plans-table tbody tr');
    assert.equal(await rows.count(), 3);
    assert.match(await rows.nth(1).textContent(), /\$29\.00.*\$0\.02 \/ hour.*\$0\.25 \/ GiB-month.*Current plan/);
    assert.equal(await page.getByRole('button', { name: 'Upgrade to Free' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Upgrade to Pro' }).count(), 0);
    const up = page.getByRole('button', { name: 'Upgrade to Enterprise' });
    assert.equal(await up.getAttribute('aria-disabled'), null);
    await page.getByRole('button', { name: 'Manage payment methods and invoices' }).waitFor();
    await shot(page, 'b02-past-due-mocked');

    // Stripe down: the server's message next to the button, which works again.
    let asked = null;
    await page.route(/\/v1\/billing\/checkout$/, (route) => {
      asked = route.request().postDataJSON();
      return json(route, 502, { error: { code: 'payment_provider_unavailable', message: 'Stripe did not answer; try again in a minute.' } });
    });
    await up.click();
    await page.getByRole('alert').filter({ hasText: 'Stripe did not answer; try again in a minute.' }).waitFor();
    assert.deepEqual(asked, { plan: 'enterprise' });
    assert.equal(await up.getAttribute('aria-disabled'), null, 'the button can be used again');
    assert.equal(new URL(page.url()).pathname, '/billing');
    await page.unroute(/\/v1\/billing\/checkout$/);

    // A portal answer that is not a web address is not followed.
    await page.route(/\/v1\/billing\/portal$/, (route) => json(route, 200, { url: 'javascript:alert(1)' }));
    await page.getByRole('button', { name: 'Manage payment methods and invoices' }).click();
    await page.getByRole('alert').filter({ hasText: 'unusable address' }).waitFor();
    await page.unroute(/\/v1\/billing\/portal$/);

    // A 360 px phone: no sideways scrolling with every part shown.
    const phone = await watchedContext([svc.base], { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    try {
      const pp = await phone.ctx.newPage();
      const fresh = await sessionIn(pp, svc.base, `off-${stamp}@example.com`, PASSWORD);
      assert.equal(fresh.status, 200);
      await pp.route(/\/v1\/billing$/, (route) => json(route, 200, fixture()));
      await pp.goto(svc.base + '/billing');
      await pp.locator('figure.bill-chart svg[role="img"]').waitFor();
      assert.ok(await overflow(pp) <= 0, `billing page: no sideways scrolling at 360 px (overflow ${await overflow(pp)}px)`);
      await shot(pp, 'b03-billing-phone');
      assert.deepEqual(phone.errors, []);
    } finally {
      await phone.ctx.close();
    }
    await page.unroute(/\/v1\/billing$/, mock);
  });

  it('shows the checkout banners, and after a payment waits for the plan to change', async () => {
    let answers = 0;
    const mock = (route) => json(route, 200, fixture({ plan: ++answers < 3 ? 'free' : 'pro', state: 'active', past_due_since: null, grace_ends_at: null, paused_for_billing: 0, daily: [] }));
    await page.route(/\/v1\/billing$/, mock);

    await page.goto(svc.base + '/billing?checkout=cancel');
    await page.getByRole('status').filter({ hasText: 'Checkout canceled; nothing was charged.' }).waitFor();
    assert.equal(new URL(page.url()).search, '', 'the address loses ?checkout so a reload does not repeat it');
    await page.getByText('No usage recorded yet this period.').waitFor();

    // As if this tab had started a checkout for pro: the answers say free twice, then pro.
    await page.evaluate(() => sessionStorage.setItem('omendb.checkout', JSON.stringify({ plan: 'pro', from: 'free' })));
    answers = 0;
    await page.goto(svc.base + '/billing?checkout=success');
    await page.getByRole('status').filter({ hasText: 'Payment received; your plan updates in a few seconds.' }).waitFor();
    assert.equal((await page.locator('.plan-big').textContent()).trim(), 'Free');
    await page.getByRole('status').filter({ hasText: 'Payment received; you are on the Pro plan.' }).waitFor({ timeout: 10_000 });
    assert.equal((await page.locator('.plan-big').textContent()).trim(), 'Pro');
    assert.ok(answers >= 3, `polled ${answers} times`);
    await shot(page, 'b04-checkout-success-mocked');
    await page.unroute(/\/v1\/billing$/, mock);
  });

  it('links a 402 from a plan change on the database page to Billing', async () => {
    const db = {
      id: 'db_mock1', name: 'mocked', plan: 'free', state: 'ready', state_reason: null, host: '127.0.0.1', port: 5433,
      database: 'mocked', user: 'owner', connection_string: 'postgresql://owner@127.0.0.1:5433/mocked?sslmode=require',
      created_at: new Date().toISOString(),
    };
    const mock = (route) => (route.request().method() === 'PATCH'
      ? json(route, 402, { error: { code: 'payment_required', message: 'The pro plan needs a paid subscription' } })
      : json(route, 200, db));
    await page.route(/\/v1\/databases\/db_mock1$/, mock);
    await page.goto(svc.base + '/databases/db_mock1');
    await page.getByRole('heading', { name: 'mocked', level: 1 }).waitFor();
    await page.getByLabel('Plan', { exact: true }).selectOption('pro');
    await page.getByRole('button', { name: 'Change plan' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'The pro plan needs a paid subscription.' });
    await alert.waitFor();
    await shot(page, 'b05-plan-change-402');
    await alert.getByRole('link', { name: 'Go to Billing' }).click();
    await page.waitForURL('**/billing');
    await page.getByRole('heading', { name: 'Billing', level: 1 }).waitFor();
    await page.unroute(/\/v1\/databases\/db_mock1$/, mock);
  });

  it('loads the billing page in under 200 KB', async () => {
    const c = await watchedContext([svc.base]);
    try {
      const p = await c.ctx.newPage();
      await sessionIn(p, svc.base, `off-${stamp}@example.com`, PASSWORD);
      const requests = [];
      p.on('requestfinished', (r) => requests.push(r));
      await p.goto(svc.base + '/billing');
      await p.getByRole('heading', { name: 'Usage this period' }).waitFor();
      await p.waitForLoadState('networkidle');
      let bytes = 0;
      for (const r of requests) {
        const s = await r.sizes();
        bytes += s.responseBodySize + s.responseHeadersSize + s.requestHeadersSize + s.requestBodySize;
      }
      assert.ok(bytes < 200 * 1024, `billing page transferred ${bytes} bytes`);
      console.log(`# billing page: ${bytes} bytes in ${requests.length} requests`);
    } finally {
      await c.ctx.close();
    }
  });

  it('sent no request anywhere but the control plane, and hit no script or CSP error', () => {
    assert.deepEqual(w.foreign, []);
    assert.deepEqual(w.errors, []);
  });
});

// ---------------------------------------------------------------------------------------------------------
// A fake Stripe: the few endpoints the control plane calls, answering the way Stripe does (form-encoded
// requests, JSON answers), recording every request; plus the pages Checkout and the portal would show.

function formObject(raw) {
  const out = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  return out;
}
/** `metadata[a]=1&metadata[b]=2` -> {a: '1', b: '2'} */
function nested(form, prefix) {
  const out = {};
  for (const [k, v] of Object.entries(form)) {
    const m = k.match(new RegExp(`^${prefix}\\[([^\\]]+)\\]$`));
    if (m) out[m[1]] = v;
  }
  return out;
}

async function startFakeStripe() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const url = new URL(req.url, base);
      const form = formObject(req.method === 'GET' ? url.search.slice(1) : raw);
      const auth = req.headers.authorization || '';
      const authorized = auth === `Bearer ${STRIPE_KEY}` || auth === `Basic ${Buffer.from(`${STRIPE_KEY}:`).toString('base64')}`;
      const rec = { method: req.method, path: url.pathname, headers: req.headers, form, raw, authorized, handled: true };
      requests.push(rec);
      const now = Math.floor(Date.now() / 1000);
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${requests.length}` });
        res.end(JSON.stringify(body));
      };
      const page = (title) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
      };
      if (req.method === 'GET' && url.pathname.startsWith('/pay/')) return page('Fake Stripe Checkout');
      if (req.method === 'GET' && url.pathname === '/portal') return page('Fake Stripe Customer Portal');
      if (!authorized) {
        return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      }
      const route = `${req.method} ${url.pathname}`;
      if (route === 'POST /v1/customers') {
        return send(200, { id: 'cus_test1', object: 'customer', created: now, livemode: false, email: form.email ?? null, metadata: nested(form, 'metadata') });
      }
      if (route === 'POST /v1/checkout/sessions') {
        const session = {
          id: 'cs_test_1', object: 'checkout.session', automatic_tax: { enabled: false }, created: now, custom_fields: [], custom_text: {},
          expires_at: now + 3600, livemode: false, mode: 'subscription', payment_method_types: ['card'], payment_status: 'unpaid',
          shipping_options: [], status: 'open', url: `${base}/pay/cs_test_1`, customer: form.customer ?? 'cus_test1',
          client_reference_id: form.client_reference_id ?? null, metadata: nested(form, 'metadata'),
        };
        if (form.success_url) session.success_url = form.success_url;
        if (form.cancel_url) session.cancel_url = form.cancel_url;
        return send(200, session);
      }
      if (route === 'POST /v1/billing_portal/sessions') {
        const s = { id: 'bps_1', object: 'billing_portal.session', configuration: 'bpc_1', created: now, customer: form.customer ?? 'cus_test1', livemode: false, url: `${base}/portal` };
        if (form.return_url) s.return_url = form.return_url;
        return send(200, s);
      }
      if (route === 'POST /v1/billing/meter_events') {
        return send(200, {
          object: 'billing.meter_event', created: now, event_name: form.event_name, identifier: form.identifier ?? `mev_${requests.length}`,
          livemode: false, payload: nested(form, 'payload'), timestamp: Number(form.timestamp) || now,
        });
      }
      rec.handled = false;
      return send(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname}).` } });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    requests,
    find: (method, p) => requests.filter((r) => r.method === method && r.path === p),
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

/** `Stripe-Signature` as Stripe computes it: HMAC-SHA256 over "<t>.<raw body>" with the endpoint secret. */
function sign(body, secret = WEBHOOK_SECRET, t = Math.floor(Date.now() / 1000)) {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}
async function webhook(base, event, signature) {
  const body = JSON.stringify(event);
  const res = await fetch(`${base}/v1/billing/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature ?? sign(body) },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe('billing page, billing on (fake Stripe)', { timeout: 300_000 }, () => {
  let stripe;
  let svc;
  let w;
  let page;
  let email;
  let account;
  let orgId;
  let checkout; // the recorded checkout request
  let dbId;

  before(async () => {
    stripe = await startFakeStripe();
    svc = await startService({
      env: {
        STRIPE_SECRET_KEY: STRIPE_KEY,
        STRIPE_API_BASE: `${stripe.base}/`,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        OMENDB_STRIPE_PRICE_PRO: 'price_pro',
        OMENDB_STRIPE_PRICE_ENTERPRISE: 'price_ent',
        OMENDB_BILLING_SAMPLE_MS: '500',
        OMENDB_BILLING_REPORT_MS: '500',
        OMENDB_BILLING_GRACE_S: '0',
      },
    });
    w = await watchedContext([svc.base, stripe.base]);
    page = await w.ctx.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    const unhandled = stripe?.requests.filter((r) => !r.handled) ?? [];
    for (const r of unhandled) console.log(`# fake Stripe did not handle ${r.method} ${r.path} ${r.raw.slice(0, 300)}`);
    const meter = stripe?.find('POST', '/v1/billing/meter_events') ?? [];
    console.log(`# fake Stripe saw ${stripe?.requests.length ?? 0} requests, ${meter.length} meter events${meter.length ? `, e.g. ${meter[meter.length - 1].raw}` : ''}`);
    await w?.ctx.close().catch(() => {});
    await svc?.stop();
    await stripe?.close();
  });

  it('shows the free plan with upgrades; a pro database needs payment, with a link to Billing', async () => {
    ({ email, account } = await signUp(svc.base, page, 'payer'));
    await page.goto(svc.base + '/databases');
    await page.getByRole('heading', { name: 'Databases', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Billing' }).click();
    await page.getByRole('heading', { name: 'Billing', level: 1 }).waitFor();
    await page.locator('.plan-big', { hasText: 'Free' }).waitFor();
    assert.equal(await page.locator('.plan-now .badge').getAttribute('data-state'), 'active');
    assert.equal(await page.getByText(BILLING_OFF).count(), 0);
    for (const plan of ['Pro', 'Enterprise']) {
      const b = page.getByRole('button', { name: `Upgrade to ${plan}` });
      assert.equal(await b.isVisible(), true, plan);
      assert.equal(await b.getAttribute('aria-disabled'), null, plan);
    }
    await page.getByRole('button', { name: 'Manage payment methods and invoices' }).waitFor();
    await page.getByRole('heading', { name: 'Usage this period' }).waitFor();
    await page.locator('dl.bill').waitFor();
    await shot(page, 'b10-free-plan');

    await page.goto(svc.base + '/databases/new');
    await page.getByLabel('Name').fill('paid');
    await page.getByRole('radio', { name: /^pro/ }).check();
    await page.getByRole('button', { name: 'Create database' }).click();
    const alert = page.locator('.form-error[role="alert"]');
    const link = alert.getByRole('link', { name: 'Go to Billing' });
    await link.waitFor();
    const token = await tokenFor(svc.base, email);
    const refused = await call(svc.base, 'POST', '/v1/databases', { token, body: { name: 'paid', plan: 'pro' } });
    assert.equal(refused.status, 402);
    assert.equal(refused.json.error.code, 'payment_required');
    assert.ok((await alert.textContent()).startsWith(refused.json.error.message), 'the server’s message is shown');
    await shot(page, 'b11-create-payment-required');
    await link.click();
    await page.waitForURL('**/billing');
    await page.locator('.plan-big', { hasText: 'Free' }).waitFor();
  });

  it('upgrades through Checkout: the window goes to Stripe, which was asked for a pro subscription', async () => {
    await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
    await page.waitForURL(`${stripe.base}/pay/cs_test_1`);
    await page.getByRole('heading', { name: 'Fake Stripe Checkout' }).waitFor();
    await shot(page, 'b12-fake-checkout');

    const made = stripe.find('POST', '/v1/checkout/sessions');
    assert.equal(made.length, 1);
    checkout = made[0];
    const f = checkout.form;
    assert.equal(f.mode, 'subscription');
    assert.equal(f['line_items[0][price]'], 'price_pro');
    assert.equal(f['metadata[plan]'], 'pro');
    assert.ok(checkout.headers['idempotency-key'], 'Idempotency-Key header');
    assert.match(checkout.headers['content-type'], /^application\/x-www-form-urlencoded/);
    orgId = f.client_reference_id ?? f['metadata[org_id]'];
    assert.equal(orgId, account.organization_id, 'the checkout names the organisation');
    if (f['metadata[org_id]'] !== undefined) assert.equal(f['metadata[org_id]'], orgId);
    for (const [k, want] of [['success_url', 'success'], ['cancel_url', 'cancel']]) {
      const u = new URL(f[k]);
      assert.equal(u.pathname, '/billing', k);
      assert.equal(u.searchParams.get('checkout'), want, k);
    }
    assert.ok(stripe.requests.every((r) => r.authorized || !r.path.startsWith('/v1/')), 'every API call carries the secret key');
  });

  it('refuses webhooks without a good signature', async () => {
    const event = { id: 'evt_forged', object: 'event', type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000), data: { object: { id: 'cs_x', object: 'checkout.session', customer: 'cus_evil', subscription: 'sub_evil', client_reference_id: orgId, metadata: { org_id: orgId, plan: 'enterprise' } } } };
    const body = JSON.stringify(event);
    assert.equal((await webhook(svc.base, event, sign(body, 'whsec_wrong'))).status, 400);
    assert.equal((await webhook(svc.base, event, sign(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000) - 3600))).status, 400, 'stale timestamp');
    assert.equal((await webhook(svc.base, event, 'garbage')).status, 400);
    const token = await tokenFor(svc.base, email);
    assert.equal((await call(svc.base, 'GET', '/v1/billing', { token })).json.plan, 'free', 'nothing changed');
  });

  it('a signed checkout.session.completed makes the plan Pro; the return page says so', async () => {
    const done = await webhook(svc.base, {
      id: 'evt_1', object: 'event', type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'cs_test_1', object: 'checkout.session', customer: 'cus_test1', subscription: 'sub_1', client_reference_id: orgId, metadata: { org_id: orgId, plan: 'pro' } } },
    });
    assert.equal(done.status, 200, done.text);

    // Where Stripe would send the browser: the success address, on this service.
    const back = new URL(checkout.form.success_url.replace('{CHECKOUT_SESSION_ID}', 'cs_test_1'));
    await page.goto(svc.base + back.pathname + back.search);
    await page.getByRole('status').filter({ hasText: 'Payment received' }).waitFor();
    await page.locator('.plan-big', { hasText: 'Pro' }).waitFor({ timeout: 30_000 });
    await page.getByRole('status').filter({ hasText: 'you are on the Pro plan' }).waitFor();
    assert.equal(await page.locator('.plan-now .badge').getAttribute('data-state'), 'active');
    assert.equal(await page.getByRole('button', { name: 'Upgrade to Pro' }).count(), 0);
    await page.getByRole('button', { name: 'Upgrade to Enterprise' }).waitFor();
    assert.match(await page.locator('table.plans-table tr[data-plan="pro"]').textContent(), /Current plan/);
    assert.match((await page.locator('dl.bill').innerText()).replace(/\s+/g, ' '), /Pro plan \$29\.00/);
    assert.equal(new URL(page.url()).search, '');
    await shot(page, 'b13-checkout-success');

    const token = await tokenFor(svc.base, email);
    const b = await call(svc.base, 'GET', '/v1/billing', { token });
    assert.equal(b.json.plan, 'pro');
    assert.equal(b.json.state, 'active');
  });

  it('sends the portal button to Stripe’s portal for the customer', async () => {
    await page.getByRole('button', { name: 'Manage payment methods and invoices' }).click();
    await page.waitForURL(`${stripe.base}/portal`);
    await page.getByRole('heading', { name: 'Fake Stripe Customer Portal' }).waitFor();
    const [portal] = stripe.find('POST', '/v1/billing_portal/sessions');
    assert.equal(portal.form.customer, 'cus_test1');
    if (portal.form.return_url) assert.equal(new URL(portal.form.return_url).pathname, '/billing');
    await page.goBack(); // the back/forward cache may restore the page mid-action: it must be usable
    await page.getByRole('heading', { name: 'Billing', level: 1 }).waitFor();
    await page.locator('.plan-big', { hasText: 'Pro' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Manage payment methods and invoices' }).getAttribute('aria-disabled'), null);
  });

  it('meters a running pro database, pauses it when payment fails, and resumes it when the invoice is paid', async () => {
    let token = await tokenFor(svc.base, email);
    const created = await call(svc.base, 'POST', '/v1/databases', { token, body: { name: 'paid', plan: 'pro' } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    dbId = created.json.database.id;
    await until('the pro database to be ready', async () => {
      token = await tokenFor(svc.base, email);
      return (await call(svc.base, 'GET', `/v1/databases/${dbId}`, { token })).json.state === 'ready';
    }, 60_000);

    // Its running time goes to Stripe as meter events for the customer, each with an idempotency key.
    const metered = await until('a meter event for the customer', () => stripe.find('POST', '/v1/billing/meter_events')
      .find((r) => r.form['payload[stripe_customer_id]'] === 'cus_test1'), 20_000);
    assert.ok(metered.form.event_name, 'event_name');
    assert.ok(metered.form.identifier, 'identifier');
    assert.match(metered.form['payload[value]'], /^[1-9]\d*$/);
    assert.ok(metered.headers['idempotency-key'], 'Idempotency-Key header');

    const failed = await webhook(svc.base, {
      id: 'evt_2', object: 'event', type: 'invoice.payment_failed', created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_test1', subscription: 'sub_1' } },
    });
    assert.equal(failed.status, 200, failed.text);
    // No grace in this service (OMENDB_BILLING_GRACE_S=0): the pro database is paused soon.
    const due = await until('billing to be past due with a database paused', async () => {
      const b = (await call(svc.base, 'GET', '/v1/billing', { token: await tokenFor(svc.base, email) })).json;
      return b.state === 'past_due' && b.paused_for_billing >= 1 ? b : null;
    });
    assert.ok(due.past_due_since, 'past_due_since is set');
    await page.reload();
    const badge = page.locator('.plan-now .badge[data-state="past_due"]');
    await badge.waitFor();
    assert.equal((await badge.textContent()).trim(), 'Past due');
    assert.match(await page.locator('.bill-warning').textContent(), /paid databases/);
    assert.match(await page.locator('.paused-count').textContent(), /1 database is paused because of an unpaid invoice/);
    await shot(page, 'b14-past-due');
    const db = await call(svc.base, 'GET', `/v1/databases/${dbId}`, { token: await tokenFor(svc.base, email) });
    assert.ok(['pausing', 'paused'].includes(db.json.state), `the pro database is ${db.json.state}`);

    const paid = await webhook(svc.base, {
      id: 'evt_3', object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_test1', subscription: 'sub_1' } },
    });
    assert.equal(paid.status, 200, paid.text);
    // Exactly the databases billing paused resume.
    await until('the pro database to run again', async () => {
      const t = await tokenFor(svc.base, email);
      const b = (await call(svc.base, 'GET', '/v1/billing', { token: t })).json;
      const d = (await call(svc.base, 'GET', `/v1/databases/${dbId}`, { token: t })).json;
      return b.state === 'active' && b.paused_for_billing === 0 && d.state === 'ready';
    }, 60_000);
    await page.reload();
    await page.locator('.plan-now .badge[data-state="active"]').waitFor();
    assert.equal(await page.locator('.bill-warning').count(), 0);
    assert.equal(await page.locator('.paused-count').count(), 0);
    assert.equal((await page.locator('.plan-big').textContent()).trim(), 'Pro');
    await shot(page, 'b15-paid-again');
  });

  it('sent no request anywhere but the control plane and Stripe, and hit no script or CSP error', () => {
    assert.deepEqual(w.foreign, []);
    assert.deepEqual(w.errors, []);
  });
});
