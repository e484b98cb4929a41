// The dashboard end to end, as people use it: Debian's Chromium driven by
// Playwright against a real `tollgate serve`, with every email going through
// a real SMTP server (smtp_sink.py) and TOTP codes computed by otplib from
// the key shown on the page. Run by scripts/test.d/60-dashboard-browser.sh,
// which starts the server and the SMTP server and passes them in the
// environment (see README.md).
//
// The steps share one server and build on each other (the owner enrolled
// in one step must pass the second factor in the next), so they run in
// order and a failed step skips the rest instead of piling up errors.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { generate } from 'otplib';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run scripts/test.d/60-dashboard-browser.sh`);
  return v;
};
const BASE = env('TEST_BASE_URL');
const BOOTSTRAP_URL = env('TEST_BOOTSTRAP_URL');
const MAILDIR = env('TEST_MAILDIR');
const DATA_DIR = env('TEST_DATA_DIR');
const PYTHON = env('TEST_PYTHON');
// Every secret the run sees is listed here, so the script can check that
// none of them reached the server's logs.
const SECRETS_FILE = env('TEST_SECRETS_FILE');
const remember = (value) => {
  appendFileSync(SECRETS_FILE, `${value}\n`);
  return value;
};
const CHROMIUM = process.env.TEST_CHROMIUM || '/usr/bin/chromium';
const SHOTS = new URL('./screenshots/', import.meta.url).pathname;
const HERE = new URL('.', import.meta.url).pathname;

const ORG = 'Browser Test Lending';
const OWNER = 'olivia.owner@dashboard.example.com';
const INVITEE = 'ivan.invitee@dashboard.example.com';
const OWNER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
// The third device announces itself differently, so the sessions page
// has to tell the two apart.
const THIRD_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';

rmSync(SHOTS, { recursive: true, force: true });
mkdirSync(SHOTS, { recursive: true });

// ---- helpers ---------------------------------------------------------------

let shotNo = 0;
const shots = [];
async function shot(page, name) {
  shotNo += 1;
  const file = `${String(shotNo).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: join(SHOTS, file), fullPage: true });
  shots.push(file);
}

const consumed = new Set();
/** The next message (parsed by the SMTP server) to `to`, waiting for it. */
async function nextMail(to, subject) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const files = existsSync(MAILDIR) ? readdirSync(MAILDIR).filter((f) => f.endsWith('.json')).sort() : [];
    for (const f of files) {
      if (consumed.has(f)) continue;
      const m = JSON.parse(readFileSync(join(MAILDIR, f), 'utf8'));
      if (m.rcpt_to.includes(to)) {
        consumed.add(f);
        assert.equal(m.subject, subject, `subject of the mail to ${to}`);
        assert.equal(m.content_type, 'text/plain');
        return m;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${to} arrived at the SMTP server within 15 s`);
}

function linkOf(mail) {
  const m = mail.text.match(/(\S+)\/auth\/link\/(tg_sil_\w+)/);
  assert.ok(m, `no sign-in link in the email: ${mail.text}`);
  remember(m[2]);
  assert.equal(m[1], BASE, 'the link points at the server the request came to');
  return `${m[1]}/auth/link/${m[2]}`;
}

function codeOf(mail) {
  const m = mail.text.match(/\b(\d{4} \d{4})\b/);
  assert.ok(m, `no 8-digit code in the email: ${mail.text}`);
  return m[1];
}

const STEP = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / STEP);
/** A TOTP code, by otplib, for a time step later than `after`. */
async function freshTotp(secret, after) {
  while (stepNow() <= after) {
    await new Promise((r) => setTimeout(r, 250));
  }
  // Not at the very end of a step: the request must arrive in the same one.
  if (Date.now() / 1000 % STEP > STEP - 2) await new Promise((r) => setTimeout(r, 2500));
  const step = stepNow();
  return { code: await generate({ secret, epoch: step * STEP + 1 }), step };
}

/** Every form field has an accessible label (for, wrapping or aria). */
async function assertLabelled(page) {
  const unlabelled = await page.$$eval('input, select, textarea', (els) =>
    els
      .filter((e) => !['hidden', 'submit', 'button'].includes(e.type))
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
      .map((e) => e.outerHTML),
  );
  assert.deepEqual(unlabelled, [], `fields without a label on ${page.url()}`);
}

async function heading(page) {
  return (await page.locator('h1').first().textContent()).trim();
}

/** Clicks something that loads a new document (a form post, a link) and
 * waits for that document, whatever its URL. */
async function submit(page, locator) {
  const loaded = page.waitForEvent('load');
  await locator.click();
  await loaded;
}

function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Email step of sign-in: ask for a link on /auth/sign-in, get the email. */
async function requestLink(page, email, shotNames = false) {
  await page.goto(`${BASE}/auth/sign-in`);
  assert.equal(await heading(page), 'Sign in');
  await assertLabelled(page);
  if (shotNames) await shot(page, 'sign-in');
  await page.getByLabel('Work email').fill(email);
  await submit(page, page.getByRole('button', { name: 'Email me a sign-in link' }));
  assert.equal(await heading(page), 'Check your email');
  await assertLabelled(page);
  if (shotNames) await shot(page, 'check-email');
  return nextMail(email, 'Your Tollgate sign-in link');
}

/** Opens an emailed link and presses the confirmation button. */
async function confirmLink(page, link, { title, button, shotName }) {
  const res = await page.goto(link);
  assert.equal(res.status(), 200);
  assert.equal(await heading(page), title);
  if (shotName) await shot(page, shotName);
  await submit(page, page.getByRole('button', { name: button, exact: true }));
}

/** The invitation's link shows its own wording, not the sign-in one. */
async function confirmInvitation(page, link) {
  const res = await page.goto(link);
  assert.equal(res.status(), 200);
  assert.equal(await heading(page), 'Accept your invitation');
  await shot(page, 'accept-invitation');
  await submit(page, page.getByRole('button', { name: 'Accept and sign in', exact: true }));
}

// ---- the flow ----------------------------------------------------------------

const checked = [];
let browser;
let failed = false;
const state = {};

async function step(t, name, fn) {
  await t.test(name, async (st) => {
    if (failed) {
      st.skip('an earlier step failed');
      return;
    }
    try {
      await fn();
      checked.push(name);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

test('dashboard in a real browser, with real email', { timeout: 170_000 }, async (t) => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives each launch a fresh temporary --user-data-dir.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser?.close());
  // No page script at all: the dashboard must work without JavaScript.
  const newContext = (userAgent) =>
    browser.newContext({ javaScriptEnabled: false, userAgent, viewport: { width: 1280, height: 800 } });
  const owner = await newContext(OWNER_UA);
  const page = await owner.newPage();
  page.setDefaultTimeout(10_000);

  await step(t, 'bootstrap: the printed link creates the organization and its owner', async () => {
    await page.goto(BOOTSTRAP_URL);
    await assertLabelled(page);
    await shot(page, 'bootstrap');
    await page.getByLabel('Organization name').fill(ORG);
    await page.getByLabel('Your name').fill('Olivia Owner');
    await page.getByLabel('Your email').fill(OWNER);
    const loaded = page.waitForEvent('load');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${BASE}/bootstrap` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create organization' }).click(),
    ]);
    await loaded;
    assert.equal(res.status(), 201);
    assert.match(await page.content(), /tg_live_\w+/);
  });

  await step(t, 'sign-in by emailed link: check-email page, real SMTP delivery, confirm page, session cookie', async () => {
    const mail = await requestLink(page, OWNER, true);
    assert.equal(mail.transfer_encoding.toLowerCase(), 'quoted-printable', 'mail body encoding');
    state.ownerLink = linkOf(mail);
    await confirmLink(page, state.ownerLink, { title: 'Confirm sign-in', button: 'Sign in', shotName: 'confirm-sign-in' });
    assert.equal(pathOf(page), '/ui');
    assert.equal(await heading(page), ORG);
    const cookie = (await owner.cookies(BASE)).find((c) => c.name === '__Host-tollgate');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.secure, true);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    // A link works once.
    const again = await page.goto(state.ownerLink);
    assert.equal(again.status(), 410);
    assert.equal(await heading(page), 'This link has been used');
  });

  await step(t, 'TOTP enrollment: QR code decodes to the otpauth URI, whose secret is the key shown; wrong code refused', async () => {
    await page.goto(`${BASE}/ui/security`);
    const enrollPage = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/enroll');
    await submit(page, page.getByRole('link', { name: 'Set up two-factor authentication' }));
    assert.equal(pathOf(page), '/auth/enroll');
    assert.equal((await enrollPage).headers()['cache-control'], 'no-store', 'the key is never cached');
    await assertLabelled(page);
    const secret = remember((await page.locator('#totp-secret').textContent()).trim());
    const uri = (await page.locator('#totp-uri').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/, 'a 160-bit base32 key');
    const parsed = new URL(uri);
    assert.equal(parsed.protocol, 'otpauth:');
    assert.equal(parsed.host, 'totp');
    assert.equal(parsed.searchParams.get('secret'), secret, 'the URI carries the key shown');
    assert.equal(parsed.searchParams.get('issuer'), 'Tollgate');
    assert.ok(decodeURIComponent(parsed.pathname).includes(OWNER), `the label names the account: ${uri}`);
    const qrFile = join(SHOTS, 'qr.png');
    await page.locator('figure.qr').screenshot({ path: qrFile });
    const decoded = execFileSync(PYTHON, [join(HERE, 'decode_qr.py'), qrFile], { encoding: 'utf8' });
    assert.equal(decoded, uri, 'zxing-cpp reads the otpauth URI from the QR code');
    await page.getByText("Can't scan? Enter the key by hand").click();
    await shot(page, 'enroll');

    // A wrong code is refused and the page stays.
    const current = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
    await page.getByLabel('Code from the app').fill(current === '000000' ? '111111' : '000000');
    await submit(page, page.getByRole('button', { name: 'Turn on two-factor authentication' }));
    await page.locator('p.error[role=alert]').waitFor();
    assert.equal(pathOf(page), '/auth/enroll');
    assert.equal((await page.locator('#totp-secret').textContent()).trim(), secret, 'the same key until confirmed');

    const { code, step: used } = await freshTotp(secret, 0);
    await page.getByLabel('Code from the app').fill(code);
    await submit(page, page.getByRole('button', { name: 'Turn on two-factor authentication' }));
    assert.equal(await heading(page), 'Two-factor authentication is on');
    state.secret = secret;
    state.lastStep = used;
  });

  await step(t, 'recovery codes: ten distinct codes, then the dashboard shows two-factor on', async () => {
    const codes = (await page.locator('#recovery-codes').textContent()).split('\n').map((s) => s.trim()).filter(Boolean);
    assert.equal(codes.length, 10, `ten recovery codes: ${codes}`);
    assert.equal(new Set(codes).size, 10);
    await shot(page, 'recovery-codes');
    state.recovery = codes.map(remember);
    await submit(page, page.getByRole('link', { name: 'Continue to the dashboard' }));
    assert.equal(pathOf(page), '/ui');
    assert.match(await page.locator('.cards').textContent(), /On\s*your two-factor authentication/);
  });

  await step(t, 'sign-out ends the session', async () => {
    await submit(page, page.getByRole('button', { name: 'Sign out', exact: true }));
    assert.equal(pathOf(page), '/auth/sign-in');
    assert.equal((await owner.cookies(BASE)).filter((c) => c.name === '__Host-tollgate').length, 0);
    await page.goto(`${BASE}/ui`);
    assert.equal(pathOf(page), '/auth/sign-in', 'the dashboard needs a session');
  });

  await step(t, 'sign-in again: second factor required, passed with a fresh TOTP code', async () => {
    const mail = await requestLink(page, OWNER);
    await confirmLink(page, linkOf(mail), { title: 'Confirm sign-in', button: 'Sign in' });
    assert.equal(pathOf(page), '/auth/second-factor');
    await assertLabelled(page);
    await shot(page, 'second-factor');
    await page.goto(`${BASE}/ui/members`);
    assert.equal(pathOf(page), '/auth/second-factor', 'no dashboard before the second factor');
    const { code, step: used } = await freshTotp(state.secret, state.lastStep);
    await page.getByLabel('Authentication code').fill(code);
    await submit(page, page.getByRole('button', { name: 'Verify' }));
    assert.equal(pathOf(page), '/ui');
    assert.equal(await heading(page), ORG);
    state.lastCode = code;
    state.lastStep = used;
  });

  await step(t, 'invitation: sent from the members page, emailed, accepted in another browser context', async () => {
    await page.goto(`${BASE}/ui/members`);
    await page.getByLabel('Email', { exact: true }).fill(INVITEE);
    await page.getByLabel('Name', { exact: true }).fill('Ivan Invitee');
    await page.getByLabel('Role', { exact: true }).selectOption('member');
    await submit(page, page.getByRole('button', { name: 'Send invitation' }));
    assert.equal(await page.getByRole('status').textContent(), 'Invitation sent.');
    const row = page.locator('tr', { hasText: INVITEE });
    assert.match(await row.textContent(), /Ivan Invitee\s*\S+\s*member\s*invited/);
    await page.goto(`${BASE}/ui/audit`);
    assert.ok((await page.locator('tbody').textContent()).includes('member.invited'), 'the invitation is in the audit log');

    const mail = await nextMail(INVITEE, 'Your invitation to Tollgate');
    assert.match(mail.text, new RegExp(`"${ORG}" as member`));
    const invitee = await newContext(OWNER_UA);
    const ipage = await invitee.newPage();
    ipage.setDefaultTimeout(10_000);
    await confirmInvitation(ipage, linkOf(mail));
    assert.equal(pathOf(ipage), '/ui');
    assert.match(await ipage.locator('p.lead').textContent(), new RegExp(`signed in as ${INVITEE}, member of this organization`));
    await shot(ipage, 'invitee-overview');
    // A member sees no admin pages, and is refused them when asking directly.
    assert.equal(await ipage.getByRole('link', { name: 'API keys' }).count(), 0);
    const refused = await ipage.goto(`${BASE}/ui/api-keys`);
    assert.equal(refused.status(), 403);
    state.invitee = { context: invitee, page: ipage };

    await page.goto(`${BASE}/ui/members`);
    assert.doesNotMatch(await page.locator('tr', { hasText: INVITEE }).textContent(), /invited/);
  });

  await step(t, 'third device: sign-in by the emailed code; a replayed TOTP code is refused; a recovery code passes', async () => {
    const third = await newContext(THIRD_UA);
    const tpage = await third.newPage();
    tpage.setDefaultTimeout(10_000);
    state.third = { context: third, page: tpage };
    const mail = await requestLink(tpage, OWNER);
    await tpage.getByLabel('Or enter the 8-digit code from the email').fill(codeOf(mail));
    await submit(tpage, tpage.getByRole('button', { name: 'Sign in with the code' }));
    assert.equal(pathOf(tpage), '/auth/second-factor');

    // The code the owner just used is still inside the accepted time
    // window, so only the replay guard can refuse it.
    assert.ok(stepNow() - state.lastStep <= 1, 'replayed code still within the drift window');
    await tpage.getByLabel('Authentication code').fill(state.lastCode);
    const loaded = tpage.waitForEvent('load');
    const [res] = await Promise.all([
      tpage.waitForResponse((r) => r.url() === `${BASE}/auth/second-factor` && r.request().method() === 'POST'),
      tpage.getByRole('button', { name: 'Verify' }).click(),
    ]);
    await loaded;
    assert.equal(res.status(), 422);
    assert.match(await tpage.getByRole('alert').textContent(), /already used/);
    assert.equal(pathOf(tpage), '/auth/second-factor');

    await tpage.getByText('Lost your phone? Use a recovery code').click();
    await tpage.getByLabel('Recovery code').fill(state.recovery[0]);
    await submit(tpage, tpage.getByRole('button', { name: 'Use recovery code' }));
    assert.equal(pathOf(tpage), '/ui');
  });

  await step(t, 'my sessions: the owner signs the third device out, which is sent to sign-in', async () => {
    await page.goto(`${BASE}/ui/sessions`);
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), 2, 'two live sessions');
    assert.match(await rows.filter({ hasText: 'this device' }).textContent(), /Chrome on Linux/);
    const other = rows.filter({ hasText: 'Firefox on Linux' });
    assert.equal(await other.count(), 1);
    await shot(page, 'sessions-two-devices');
    await submit(page, other.getByRole('button', { name: 'Sign out' }));
    assert.equal(await page.getByRole('status').textContent(), 'Session signed out.');
    assert.equal(await page.locator('tbody tr').count(), 1);

    const { context, page: tpage } = state.third;
    await tpage.goto(`${BASE}/ui`);
    assert.equal(pathOf(tpage), '/auth/sign-in', 'the revoked device is sent to sign-in');
    await context.close();
  });

  await step(t, "member management: a role change applies on the member's next request; sign out everywhere ends their sessions", async () => {
    const { context, page: ipage } = state.invitee;
    await page.goto(`${BASE}/ui/members`);
    const row = page.locator('tr', { hasText: INVITEE });
    await row.getByLabel('Role of Ivan Invitee', { exact: true }).selectOption('viewer');
    await submit(page, row.getByRole('button', { name: 'Change role' }));
    assert.match(await page.getByRole('status').textContent(), /^Role changed\./);
    assert.match(await page.locator('tr', { hasText: INVITEE }).textContent(), /viewer/);
    await ipage.goto(`${BASE}/ui`);
    assert.match(await ipage.locator('p.lead').textContent(), /viewer of this organization/);

    await submit(page, page.locator('tr', { hasText: INVITEE }).getByRole('button', { name: 'Sign out everywhere' }));
    assert.equal(await page.getByRole('status').textContent(), "The member's sessions in this organization have ended.");
    await ipage.goto(`${BASE}/ui`);
    assert.equal(pathOf(ipage), '/auth/sign-in', 'the member is sent to sign-in');
    await context.close();
  });

  await step(t, 'settings: saved from the form and shown again', async () => {
    await page.goto(`${BASE}/ui/settings`);
    await page.getByLabel('Compliance contact email').fill('compliance@dashboard.example.com');
    await page.getByLabel('Audit log retention (days, at least 90)').fill('400');
    await submit(page, page.getByRole('button', { name: 'Save settings' }));
    assert.equal(await page.getByRole('status').textContent(), 'Settings saved.');
    await page.goto(`${BASE}/ui/settings`);
    assert.equal(await page.getByLabel('Compliance contact email').inputValue(), 'compliance@dashboard.example.com');
    assert.equal(await page.getByLabel('Audit log retention (days, at least 90)').inputValue(), '400');
  });

  await step(t, 'API key from the dashboard: shown once, works on /v1', async () => {
    await page.goto(`${BASE}/ui/api-keys`);
    await page.getByLabel('Name').fill('dialer production');
    await page.getByLabel('dial:check').check();
    await page.getByLabel('campaigns:write').check();
    await submit(page, page.getByRole('button', { name: 'Create key' }));
    const key = (await page.locator('#new-api-key').textContent()).trim();
    assert.match(remember(key), /^tg_live_\w+$/);
    state.dialKey = key;
    const res = await fetch(`${BASE}/v1/org`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).name, ORG);
    await page.goto(`${BASE}/ui/api-keys`);
    assert.equal(await page.locator('#new-api-key').count(), 0, 'the key is not shown again');
    assert.match(await page.locator('tbody').textContent(), /dialer production/);
  });

  await step(t, 'why? page: a decision of the gate, one click from its audit event', async () => {
    const headers = { Authorization: `Bearer ${state.dialKey}`, 'Content-Type': 'application/json' };
    let res = await fetch(`${BASE}/v1/campaigns`, {
      method: 'POST', headers,
      body: JSON.stringify({ name: 'Browser campaign', purpose: 'telemarketing', channel: 'voice', voice: 'ai' }),
    });
    assert.equal(res.status, 201);
    const campaign = await res.json();
    res = await fetch(`${BASE}/v1/dial-checks`, {
      method: 'POST', headers,
      body: JSON.stringify({ number: '305 555 0100', campaign_id: campaign.id, channel: 'voice' }),
    });
    assert.equal(res.status, 200);
    const check = await res.json();
    assert.equal(check.allowed, false);
    await page.goto(`${BASE}/ui/audit`);
    await submit(page, page.locator(`a[href="/ui/decisions/${check.id}"]`).first());
    assert.equal(pathOf(page), `/ui/decisions/${check.id}`);
    assert.equal(await heading(page), 'Why was this denied?');
    const codes = await page.locator('#reasons tbody tr td:first-child').allTextContents();
    assert.deepEqual(codes.map((c) => c.trim()).sort(), check.reasons.map((r) => r.code).sort());
    assert.match(await page.locator('dl').textContent(), new RegExp(check.rules_version));
    await assertLabelled(page);
    await shot(page, 'why');
  });

  await step(t, 'every dashboard page renders for the owner, labelled, and is saved as a screenshot', async () => {
    const pages = [
      ['/ui', ORG],
      ['/ui/members', 'Members'],
      ['/ui/roles', 'Roles'],
      ['/ui/sessions', 'My sessions'],
      ['/ui/security', 'Two-factor authentication'],
      ['/ui/api-keys', 'API keys'],
      ['/ui/settings', 'Organization settings'],
      ['/ui/access-review', 'Access review'],
      ['/ui/audit', 'Audit log'],
      ['/ui/provider-credentials', 'Provider credentials'],
      ['/ui/campaigns', 'Campaigns and the gate'],
      ['/ui/leads', 'Leads'],
      ['/ui/suppressions', 'Suppression list'],
    ];
    for (const [path, title] of pages) {
      const res = await page.goto(`${BASE}${path}`);
      assert.equal(res.status(), 200, path);
      assert.equal(res.headers()['cache-control'], 'no-store', `${path} is never cached`);
      assert.equal(pathOf(page), path);
      assert.equal(await heading(page), title, path);
      assert.equal(await page.locator('nav a[aria-current=page]').count(), 1, `${path} marks its menu entry`);
      await assertLabelled(page);
      await shot(page, `ui-${path === '/ui' ? 'overview' : path.slice(4)}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 1280, `${path} is ${width} px wide, wider than the 1280 px window`);
    }
    await page.goto(`${BASE}/ui/security`);
    assert.match(await page.locator('p.lead').textContent(), /on\b.*9 recovery codes left/s);
    await page.goto(`${BASE}/ui/access-review`);
    const cells = async (email) => (await page.locator('tbody tr', { hasText: email }).locator('td').allTextContents()).map((c) => c.trim());
    const [, , ownerRole, ownerStatus, ownerTotp, , ownerSessions] = await cells(OWNER);
    assert.deepEqual([ownerRole, ownerStatus, ownerTotp, ownerSessions], ['owner', 'active', 'on', '1']);
    const [, , memberRole, memberStatus, memberTotp, , memberSessions] = await cells(INVITEE);
    assert.deepEqual([memberRole, memberStatus, memberTotp, memberSessions], ['viewer', 'active', 'off', '0']);
    const csv = await page.request.get(`${BASE}/ui/access-review.csv`);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'], /^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'name,email,role,status,two_factor,last_active,live_sessions');
    assert.equal(lines.length, 3);
    // No field here holds a comma, so splitting on commas parses it.
    const rows = lines.slice(1).map((l) => l.split(',').map((f) => f.replace(/^"(.*)"$/, '$1')));
    const row = (email) => rows.find((r) => r[1] === email)?.filter((_, i) => i !== 5);
    assert.deepEqual(row(OWNER), ['Olivia Owner', OWNER, 'owner', 'active', 'on', '1']);
    assert.deepEqual(row(INVITEE), ['Ivan Invitee', INVITEE, 'viewer', 'active', 'off', '0']);
    await page.goto(`${BASE}/ui/audit`);
    const audit = await page.locator('tbody').textContent();
    assert.ok(audit.includes('api_key.created'), 'the key created from the dashboard is in the audit log');
  });

  await step(t, 'mail went over SMTP only: nothing in the outbox folder', async () => {
    assert.equal(existsSync(join(DATA_DIR, 'outbox')) && readdirSync(join(DATA_DIR, 'outbox')).length > 0, false);
    assert.equal(consumed.size, 4, 'four emails read: three sign-in links and one invitation');
  });

  await owner.close();
  console.log(`\nchecked:\n${checked.map((c) => `  - ${c}`).join('\n')}`);
  console.log(`screenshots (${shots.length}) in ${SHOTS}: ${shots.join(' ')}`);
});
