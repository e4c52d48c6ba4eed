// End-to-end: Debian's Chromium (through playwright-core, no browser download) against a real
// listening server on 127.0.0.1: sign in with password + TOTP, read the inventory, rotate with a
// reason, see the audit row, emergency-rotate with the typed confirmation; screenshots of the
// main pages are taken on every run and kept in docs/screenshots/ when UPDATE_SCREENSHOTS=1 (else in
// a temporary directory, so a test run leaves the work tree clean). Also prints how long the
// inventory of 1,000 secrets takes.
// Without /usr/bin/chromium it fails under CI=true and is skipped (loudly) elsewhere.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { totpCode } from '../src/core/operators/totp.js';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import {
  createDashboardFixture,
  PASSWORD,
  SETUP,
  type DashboardFixture,
} from './dashboard-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', 'docs', 'screenshots')
    : join(tmpdir(), 'rotor-dashboard-screenshots');
const DAY = 86_400_000;
// Stand-in values for the runbook's manual secrets (a person pastes them in real use).
const DB_URL = 'postgres://app_v2:stand-in-password@db.internal:5432/app';
const SMTP_VALUE = 'stand-in-smtp-password-0123456789';
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  if (process.env.CI === 'true')
    throw new Error(
      `${CHROMIUM} is missing: the dashboard's browser tests need Debian's chromium (apt-get install -y chromium)`,
    );
  console.warn(
    `\n*** SKIPPING the dashboard browser tests: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`,
  );
}

// The screenshots show the runbook's inventory: exactly what `rotor init` writes.
const E2E_POLICY = DEFAULT_POLICY_YAML;

const LAUNCH = {
  executablePath: CHROMIUM,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  let f: DashboardFixture;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const cspErrors: string[] = [];

  beforeAll(async () => {
    f = await createDashboardFixture({
      policy: E2E_POLICY,
      rotate: ['JWT_ACCESS_SECRET', 'JWT_REFRESH_SECRET'],
    });
    // A spread of states over 200 days: rotate some secrets later than others.
    const engine = createRotationEngine({ rotor: f.rotor });
    const rotate = async (request: Parameters<typeof engine.rotate>[1]) => {
      const result = await engine.rotate(SETUP, request);
      if (!result.ok) throw new Error(`set-up rotation of ${request.secret} failed`);
    };
    await rotate({ secret: 'DATABASE_URL', method: 'manual', input: DB_URL });
    f.project.clock.advance(30 * DAY);
    await rotate({ secret: 'METRICS_AUTH_TOKEN', method: 'scheduled' });
    f.project.clock.advance(120 * DAY);
    await rotate({ secret: 'SMTP_PASSWORD', method: 'manual', input: SMTP_VALUE });
    f.project.clock.advance(50 * DAY);
    await rotate({
      secret: 'JWT_ACCESS_SECRET',
      environments: ['staging'],
      method: 'manual',
      reason: 'test the grace window',
    });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    origin = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch(LAUNCH);
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await f?.close();
  });

  it('signs in with password and TOTP and shows the inventory', async () => {
    await page.goto(`${origin}/dashboard/`);
    expect(page.url()).toBe(`${origin}/dashboard/login`);
    await page.fill('#name', 'alice');
    await page.fill('#password', PASSWORD);
    await page.screenshot({ path: join(SCREENSHOTS, 'login.png') });
    f.project.clock.advance(30_000);
    await page.fill('#code', totpCode(f.totpSecret, f.project.clock.now()));
    await Promise.all([page.waitForURL(`${origin}/dashboard/`), page.click('button[type=submit]')]);
    await expect(page.textContent('#operator-name')).resolves.toBe('alice');
    const rows = await page.locator('#inventory tbody tr').count();
    // Eight secrets in two environments, and Rotor's own master key once.
    expect(rows).toBe(17);
    const states = await page
      .locator('#inventory [data-state]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    expect(states).toEqual(
      expect.arrayContaining(['overdue', 'due', 'due-soon', 'in-grace', 'ok', 'unknown']),
    );
    // The live filter (the dashboard's script, allowed by the CSP) hides non-matching rows.
    await page.fill('#filter-q', 'refresh');
    await expect(page.locator('#inventory tbody tr:not(.hidden)').count()).resolves.toBe(2);
    await page.fill('#filter-q', '');
    await page.screenshot({ path: join(SCREENSHOTS, 'inventory.png'), fullPage: true });
  });

  it('rotates a secret with a reason and shows the new audit row', async () => {
    await page.click('a[href="/dashboard/secrets/METRICS_AUTH_TOKEN"] >> nth=0');
    await page.selectOption('#rotate-env', 'production');
    await page.fill('#rotate-reason', 'rotated from the browser test');
    await Promise.all([
      page.waitForURL(/\?request=/),
      page.click('#rotate-form button[type=submit]'),
    ]);
    const requestId = new URL(page.url()).searchParams.get('request')!;
    await expect(page.textContent('.notice.ok')).resolves.toContain('Rotated in production');
    const row = page.locator(`table.audit tr[data-request-id="${requestId}"]`, {
      hasText: 'rotate.promote',
    });
    await expect(row.textContent()).resolves.toContain('alice');
    await page.screenshot({ path: join(SCREENSHOTS, 'secret.png'), fullPage: true });
    await page.goto(`${origin}/dashboard/audit`);
    await expect(page.getAttribute('#chain-status', 'data-ok')).resolves.toBe('true');
    await expect(
      page.locator(`tr[data-request-id="${requestId}"]`).first().textContent(),
    ).resolves.toContain('alice');
    await page.screenshot({ path: join(SCREENSHOTS, 'audit.png') });
  });

  it('emergency-rotates only after the secret name is typed', async () => {
    await page.goto(`${origin}/dashboard/secrets/JWT_ACCESS_SECRET`);
    const button = page.locator('#emergency-form button[type=submit]');
    await page.fill('#emergency-reason', 'signing key pasted in a public channel');
    await expect(button.isDisabled()).resolves.toBe(true);
    await page.fill('#emergency-confirm', 'JWT_ACCESS');
    await expect(button.isDisabled()).resolves.toBe(true);
    await page.fill('#emergency-confirm', 'JWT_ACCESS_SECRET');
    await expect(button.isDisabled()).resolves.toBe(false);
    await Promise.all([page.waitForURL(/\?request=/), button.click()]);
    const requestId = new URL(page.url()).searchParams.get('request')!;
    const rows = await page
      .locator(`table.audit tr[data-request-id="${requestId}"]`)
      .allTextContents();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toContain('emergency');
    await expect(
      page.locator('#versions .badge.s-failed', { hasText: 'compromised' }).count(),
    ).resolves.toBeGreaterThan(0);
  });

  it('shows the calendar and serves its ICS feed', async () => {
    await page.goto(`${origin}/dashboard/calendar`);
    await expect(page.locator('section.week').count()).resolves.toBe(12);
    await page.screenshot({ path: join(SCREENSHOTS, 'calendar.png'), fullPage: true });
    const ics = await page.request.get(`${origin}/dashboard/calendar.ics`);
    expect(ics.headers()['content-type']).toBe('text/calendar; charset=utf-8');
    expect(await ics.text()).toContain('BEGIN:VEVENT');
    expect(cspErrors).toEqual([]);
  });
});

describe.skipIf(!haveChromium)('dashboard inventory with 1,000 secrets', () => {
  it('renders the full inventory (timing printed for docs/benchmarks.md; no timing assertion)', async () => {
    const lines = ['version: 1', 'environments: [staging, production]', 'secrets:'];
    for (let i = 0; i < 1000; i++)
      lines.push(
        `  SECRET_${String(i).padStart(4, '0')}:`,
        '    kind: random',
        `    cadence: ${30 + (i % 300)}d`,
        `    owner: team-${i % 17}`,
        '    config: { bytes: 32 }',
      );
    const f = await createDashboardFixture({ policy: `${lines.join('\n')}\n`, rotate: [] });
    // Give every row a current version (and so a next due date) without 2,000 engine runs.
    const store = await f.rotor.store();
    const now = f.project.clock.now();
    await store.writeTransaction(async (trx) => {
      for (let i = 0; i < 1000; i++) {
        for (const environment of ['staging', 'production']) {
          await trx
            .insertInto('versions')
            .values({
              id: `v${i}${environment}`,
              secret: `SECRET_${String(i).padStart(4, '0')}`,
              environment,
              stage: 'current',
              origin: 'import',
              created_at: now - (i % 400) * DAY,
              rotated_at: now - (i % 400) * DAY,
              promoted_at: now - (i % 400) * DAY,
              retire_at: null,
              retired_at: null,
              compromised: 0,
              rotation_id: null,
              meta: '{}',
              ciphertext: null,
              wrapped_key: null,
              master_key_id: null,
            })
            .execute();
        }
      }
    });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    const browser = await chromium.launch(LAUNCH);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      await page.goto(`${origin}/dashboard/login`);
      await page.fill('#name', 'alice');
      await page.fill('#password', PASSWORD);
      f.project.clock.advance(30_000);
      await page.fill('#code', totpCode(f.totpSecret, f.project.clock.now()));
      await Promise.all([
        page.waitForURL(`${origin}/dashboard/`),
        page.click('button[type=submit]'),
      ]);
      const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const server: number[] = [];
      const browserMs: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const res = await fetch(`${origin}/dashboard/`, { headers: { cookie } });
        bytes = (await res.text()).length;
        server.push(performance.now() - t0);
        const t1 = performance.now();
        await page.goto(`${origin}/dashboard/`, { waitUntil: 'load' });
        browserMs.push(performance.now() - t1);
      }
      expect(await page.locator('#inventory tbody tr').count()).toBe(2000);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      console.log(
        `[dashboard bench] inventory, 1,000 secrets × 2 environments (2,000 rows, ${(bytes / 1024).toFixed(0)} KiB HTML): ` +
          `server response median ${median(server).toFixed(0)} ms (max ${Math.max(...server).toFixed(0)}), ` +
          `Chromium navigation to load median ${median(browserMs).toFixed(0)} ms (max ${Math.max(...browserMs).toFixed(0)})`,
      );
    } finally {
      await browser.close();
      await f.close();
    }
  }, 180_000);
});
