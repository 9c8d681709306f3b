// End-to-end tests of the page (www/) in headless Chromium, driven by playwright-core.
//
// The page reduces ../shared/data/f480m-binary (relative to the repository root) exactly as
// `ami3 run` does: every product it offers for download must be byte-identical to the file the
// command line writes for the same inputs and options, with and without cross-origin isolation,
// with the plain and the threaded WebAssembly build. The demo must give non-zero calibrated
// closure phases, a missing exposure must be an error in the page while the others go on, and
// no test may log a console error.
//
// Run by scripts/test.sh (stage e2e), which builds www/ and serves it twice:
//   AMI3_E2E_URL (COOP/COEP sent) and AMI3_E2E_URL_NO_ISOLATION (not sent).
// Standalone (`node --test tests/e2e/`), it starts scripts/serve.mjs itself; www/ must be built
// (`npm run build`). Writes docs/screenshot.png (the demo's results).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { unzipSync } from 'fflate';

const ROOT = process.env.AMI3_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.resolve(ROOT, '../shared/data/f480m-binary');
const EXPOSURES = [1, 2, 3, 4].map((k) => `jw1000500${k}001_03102_00001_nis_calints.fits`);
const INPUTS = ['asn.json', ...EXPOSURES, 'throughput_f480m.fits', 'nrm.fits'];
const TIMEOUT_MS = 10 * 60 * 1000;

let browser;
let urls;
const servers = [];
let tmp;
let native; // Map name -> bytes written by `ami3 run` for the whole association

// ---- helpers ----------------------------------------------------------------------------------

function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/serve.mjs'), ...args, path.join(ROOT, 'www'), '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/\S+\//);
      if (m) resolve(m[0]);
    });
    child.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
  });
}

/** `ami3 run` on an association file: the products it wrote, by name. */
function runNative(asnPath, outDir, extraArgs = []) {
  const args = ['run', '--release', '--quiet', '--bin', 'ami3', '--', 'run', asnPath, '--out', outDir,
    '--throughput', path.join(DATA, 'throughput_f480m.fits'), '--nrm', path.join(DATA, 'nrm.fits'), ...extraArgs];
  const r = spawnSync('cargo', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Exit 1 means some member failed (expected when one is missing); products are still written.
  if (r.status !== 0 && r.status !== 1) throw new Error(`ami3 run failed (${r.status}):\n${r.stderr}`);
  const files = new Map();
  for (const f of fs.readdirSync(outDir)) files.set(f, fs.readFileSync(path.join(outDir, f)));
  assert.ok(files.size > 0, `ami3 run wrote nothing:\n${r.stdout}\n${r.stderr}`);
  return files;
}

/** A fresh page with console errors collected; `errors` must stay empty. */
async function openPage(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  return { page, context, errors };
}

async function waitDone(page) {
  await page.waitForFunction(() => document.getElementById('status').textContent === 'done', null, { timeout: TIMEOUT_MS });
  return page.evaluate(() => JSON.parse(JSON.stringify(window.__ami3)));
}

async function download(page, locator) {
  const [dl] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const file = await dl.path();
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

/** Every product link and the zip: each must equal `expected` (name -> bytes), no more, no less. */
async function checkDownloads(page, expected) {
  const links = page.locator('#product-list a[download]');
  const n = await links.count();
  const got = new Map();
  for (let i = 0; i < n; i++) {
    const { name, bytes } = await download(page, links.nth(i));
    got.set(name, bytes);
  }
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), 'the page offers the products ami3 run writes');
  for (const [name, bytes] of expected) {
    assert.ok(Buffer.compare(got.get(name), bytes) === 0, `${name}: page bytes differ from ami3 run (${got.get(name).length} vs ${bytes.length} bytes)`);
  }
  const zip = await download(page, page.locator('#download-all'));
  assert.match(zip.name, /\.zip$/);
  const entries = unzipSync(new Uint8Array(zip.bytes));
  assert.deepEqual(Object.keys(entries).sort(), [...expected.keys()].sort(), 'the zip holds every product');
  for (const [name, bytes] of expected) {
    assert.ok(Buffer.compare(Buffer.from(entries[name]), bytes) === 0, `${name} in the zip differs from ami3 run`);
  }
}

async function reduceSharedData(url) {
  const { page, context, errors } = await openPage(url);
  await page.setInputFiles('#file-input', INPUTS.map((f) => path.join(DATA, f)));
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), [], 'no exposure failed');
  assert.equal(state.members.length, 4);
  await checkDownloads(page, native);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
  return state;
}

// ---- setup ------------------------------------------------------------------------------------

before(async () => {
  assert.ok(fs.existsSync(path.join(DATA, 'asn.json')), `shared data not found at ${DATA}`);
  assert.ok(fs.existsSync(path.join(ROOT, 'www/pkg/ami3_bg.wasm')), 'www/ is not built: npm run build');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ami3-e2e-'));
  const out = path.join(tmp, 'native');
  fs.mkdirSync(out);
  native = runNative(path.join(DATA, 'asn.json'), out);
  urls = {
    isolated: process.env.AMI3_E2E_URL ?? await startServer([]),
    plain: process.env.AMI3_E2E_URL_NO_ISOLATION ?? await startServer(['--no-isolation']),
  };
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.kill();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- tests ------------------------------------------------------------------------------------

test('isolated page: the shared association gives the bytes of ami3 run', { timeout: TIMEOUT_MS }, async () => {
  const state = await reduceSharedData(urls.isolated);
  assert.equal(state.isolated, true);
  assert.equal(state.calibrated_cp_deg.length, 35);
});

test('isolated page, threaded build (1 worker, 2 threads): same bytes', { timeout: TIMEOUT_MS }, async () => {
  const info = JSON.parse(fs.readFileSync(path.join(ROOT, 'www/build-info.json'), 'utf8'));
  const state = await reduceSharedData(new URL('?workers=1&threads=2', urls.isolated).href);
  assert.equal(state.engine.workers, 1);
  // Without a threaded build (nightly missing) the page must fall back to the plain one.
  assert.deepEqual(state.engine.builds, [info.threads ? 'threads' : 'plain']);
});

test('page without cross-origin isolation: plain build, same bytes', { timeout: TIMEOUT_MS }, async () => {
  const state = await reduceSharedData(new URL('?threads=2', urls.plain).href);
  assert.equal(state.isolated, false);
  assert.ok(state.engine.builds.every((b) => b === 'plain'), JSON.stringify(state.engine));
});

test('a missing exposure is an error in the page; the others give the bytes of ami3 run', { timeout: TIMEOUT_MS }, async () => {
  // Same inputs for both: the association without its last exposure's file, firstfew 2.
  const dir = path.join(tmp, 'missing');
  const out = path.join(tmp, 'missing-native');
  fs.mkdirSync(dir);
  fs.mkdirSync(out);
  for (const f of ['asn.json', ...EXPOSURES.slice(0, 3)]) fs.copyFileSync(path.join(DATA, f), path.join(dir, f));
  const expected = runNative(path.join(dir, 'asn.json'), out, ['--firstfew', '2']);

  const { page, context, errors } = await openPage(new URL('?firstfew=2', urls.isolated).href);
  await page.setInputFiles('#file-input', ['asn.json', ...EXPOSURES.slice(0, 3), 'throughput_f480m.fits', 'nrm.fits']
    .map((f) => path.join(DATA, f)));
  const state = await waitDone(page);
  const failed = state.members.filter((m) => m.error);
  assert.equal(failed.length, 1);
  assert.equal(failed[0].name, EXPOSURES[3]);
  assert.match(failed[0].error, /not among the dropped files/);
  await assert.doesNotReject(page.locator('.exposure.failed .error', { hasText: EXPOSURES[3] }).waitFor({ timeout: 1000 }));
  assert.equal(state.members.filter((m) => !m.error).length, 3);
  await checkDownloads(page, expected);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('demo: calibrated closure phases are not zero; screenshot', { timeout: TIMEOUT_MS }, async () => {
  const { page, context, errors } = await openPage(urls.isolated);
  await page.click('#demo');
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), []);
  assert.equal(state.members.length, 4);
  const cp = state.calibrated_cp_deg;
  assert.equal(cp.length, 35);
  assert.ok(cp.some((c) => Math.abs(c) > 0.1), `calibrated closure phases: ${cp}`);
  assert.ok(await page.locator('#calibrated-plot canvas').count() > 0, 'the calibrated plot is drawn');
  assert.ok(await page.locator('#result-panels .images canvas').count() >= 12, 'data, model, residual and colour bars');
  fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, 'docs/screenshot.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});
