// Starts `$OMENDB_BIN up` on a free loopback port and Debian's Chromium; stops both afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.join(here, 'artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Short access tokens so the quiet refresh happens during the run; room for the tests' sign-ups and logins. */
const CONFIG = `
[auth]
access_ttl_s = 10

[limits]
signups_per_minute = 100
logins_per_minute = 100
login_free_failures = 3
`;

/**
 * `extraEnv` is added to the service's environment (the billing tests pass Stripe settings). Without it
 * billing is off: any STRIPE_* / OMENDB_STRIPE_* / OMENDB_BILLING_* from the caller's environment is dropped.
 */
export async function startService({ env: extraEnv = {} } = {}) {
  const bin = process.env.OMENDB_BIN;
  if (!bin) throw new Error('OMENDB_BIN must name the omendb binary');
  const dir = mkdtempSync(path.join(tmpdir(), 'omendb-console-'));
  const config = path.join(dir, 'control-plane.toml');
  writeFileSync(config, CONFIG);
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' };
  for (const k of Object.keys(env)) if (/^(STRIPE_|OMENDB_STRIPE_|OMENDB_BILLING_)/.test(k)) delete env[k];
  Object.assign(env, extraEnv);
  // The test is of the embedded console; CONSOLE_WEB_DIR (console development only) serves web/ from disk.
  delete env.OMENDB_CP_WEB_DIR;
  if (process.env.CONSOLE_WEB_DIR) env.OMENDB_CP_WEB_DIR = path.resolve(process.env.CONSOLE_WEB_DIR);
  const child = spawn(bin, ['up', '--config', config, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; if (log.length > 200_000) log = log.slice(-100_000); });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`omendb up did not start in 30 s:\n${out}\n${log}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/control plane listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`omendb up exited (${code}):\n${out}\n${log}`)); });
  });
  child.stdout.resume();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT'); // stops the control plane and every tenant database it started
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
    rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => { if (child.exitCode === null) child.kill('SIGINT'); };
  process.once('exit', onExit);
  return { base, stop, log: () => log };
}

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** JSON against the REST API from the test itself. */
export async function call(base, method, p, { token, body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: res.status, json };
}

/**
 * Logs `page` in (or signs up, with `path` '/v1/auth/signup') from inside the page, as the console does: the
 * session cookies land in the browser, where no test (and no script) can read the refresh token.
 */
export async function sessionIn(page, base, email, password, path = '/v1/auth/login') {
  await page.goto(base + '/favicon.svg'); // the origin, so the cookies are its own
  return page.evaluate(async ([p, body]) => {
    const res = await fetch(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  }, [path, { email, password }]);
}
