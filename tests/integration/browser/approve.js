#!/usr/bin/env node
// Drives the custos approvals page in headless Chromium as an approver would:
//   node approve.js <page-url> <token> <approval-id> [--deny] [--reason TEXT] [--screenshot PNG]
// Opens <page-url> (e.g. http://127.0.0.1:8009/approvals or .../approvals/<id>), signs in with
// the approver token, clicks Approve (or Deny) on the card of <approval-id>, and exits 0 once
// the page shows that request approved (denied). Exits 1 otherwise, and also when the page
// opened any JavaScript dialog (statement text executing as script would do that: XSS check).
// Chromium: $CHROMIUM or /usr/bin/chromium (Debian package `chromium`).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: approve.js <page-url> <token> <approval-id> [--deny] [--reason TEXT] ' +
                '[--screenshot PNG]');
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  const positional = [];
  let action = 'approve';
  let reason = 'approved from the browser test';
  let screenshot = '';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--deny') action = 'deny';
    else if (args[i] === '--reason') reason = args[++i] ?? usage('--reason needs a value');
    else if (args[i] === '--screenshot') screenshot = args[++i] ?? usage('--screenshot needs a path');
    else positional.push(args[i]);
  }
  if (positional.length !== 3) usage();
  const [url, token, id] = positional;
  if (!/^[a-z2-7]{10}$/.test(id)) usage('not an approval id: ' + id);
  const expected = action === 'approve' ? 'approved' : 'denied';

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custos-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let dialogs = 0;
  const pageErrors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    await page.fill('#token', token, { timeout: 10000 });
    await page.click('#login');
    // Signed in (the list appears) or refused (the sign-in form shows an error).
    await page.locator('#list, #login-error:not(:empty)').first().waitFor({ timeout: 10000 });
    // count() does not wait: once signed in, the sign-in form (and its error line) is gone.
    const refusal = page.locator('#login-error:not(:empty)');
    if (await refusal.count()) throw new Error('sign-in refused: ' + await refusal.textContent());
    const card = page.locator(`article.approval[data-approval-id="${id}"]`);
    await card.waitFor({ timeout: 10000 });
    const button = card.locator(`button.${action}`);
    if (await button.isDisabled()) {
      throw new Error(`the ${action} button for ${id} is disabled (not an approver for it, or ` +
                      `already decided: ${await card.getAttribute('data-status')})`);
    }
    await card.locator('input.reason').fill(reason);
    await button.click();
    const done = page.locator(`article.approval[data-approval-id="${id}"][data-status="${expected}"]`);
    try {
      await done.waitFor({ timeout: 10000 });
    } catch (e) {
      const err = await page.locator(`article.approval[data-approval-id="${id}"] .result`)
        .textContent().catch(() => '');
      throw new Error(`the page did not show ${id} ${expected}` + (err ? `: ${err}` : ''));
    }
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    if (dialogs > 0) throw new Error(`the page opened ${dialogs} JavaScript dialog(s)`);
    if (pageErrors.length) throw new Error('page errors: ' + pageErrors.join('; '));
    console.log(`${id} ${expected} in the browser`);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error('approve.js: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
