// End-to-end tests of the page (www/) in headless Chromium, driven by playwright-core.
//
// The page reduces ../shared/data/f480m-binary (relative to the repository root) as `ami3 run`
// does: it must offer exactly the products the command line writes for the same inputs and
// options, and every one of them (links and zip) must be the same file, byte for byte (the
// library computes every floating-point result in the same order with the same functions on
// every target: src/portable.rs). The plain build must give the same bytes with and without
// cross-origin isolation, and so must the threaded build. The demo must give non-zero
// calibrated closure phases, a missing exposure must be an error in the page while the others
// go on, and no test may log a console error. Real flight data (../shared/data/abdor-1093/f480m)
// and a simulated association with flagged pixels (NaN in the residual images) must give every
// product too, in every build and with or without isolation. A generated 1,000-integration cube,
// which the worker reads from its File a slice at a time, must give ami3 run's products with
// the worker's WebAssembly memory under a stated bound, and a member truncated in the middle of
// an integration must be an error naming the file and the integration.
//
// Run by scripts/test.sh (stage e2e), which builds www/ and serves it twice:
//   AMI3_E2E_URL (COOP/COEP sent) and AMI3_E2E_URL_NO_ISOLATION (not sent).
// Standalone (`node --test tests/e2e/`), it starts scripts/serve.mjs itself; www/ must be built
// (`npm run build`). Saves a screenshot of the demo's results in the temporary folder, and as
// docs/screenshot.png (committed, shown by the README) with AMI3_UPDATE_SCREENSHOT=1.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { unzipSync } from 'fflate';
import { compareFits } from './lib/fits.mjs';

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

/** Runs the native command line (`cargo run --release --bin ami3 -- ARGS`); exit 1 is allowed. */
function ami3(args) {
  const r = spawnSync('cargo', ['run', '--release', '--quiet', '--bin', 'ami3', '--', ...args],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Exit 1 means some member failed (expected when one is missing); products are still written.
  if (r.status !== 0 && r.status !== 1) throw new Error(`ami3 ${args[0]} failed (${r.status}):\n${r.stderr}`);
  return r;
}

/** The files in `dir`, by name. */
function readDir(dir) {
  const files = new Map();
  for (const f of fs.readdirSync(dir)) files.set(f, fs.readFileSync(path.join(dir, f)));
  return files;
}

/**
 * `ami3 run` on an association file with the shared reference files (or, with `refs` false, the
 * built-in ones, as the page's demo uses): the products it wrote, by name.
 */
function runNative(asnPath, outDir, extraArgs = [], refs = true) {
  const refArgs = refs
    ? ['--throughput', path.join(DATA, 'throughput_f480m.fits'), '--nrm', path.join(DATA, 'nrm.fits')] : [];
  const r = ami3(['run', asnPath, '--out', outDir, '--fit-binary', ...refArgs, ...extraArgs]);
  const files = readDir(outDir);
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

// Chromium drops a download click when a page has just started about ten downloads (a rate
// limit, not an error): a click that gives no download within 4 s is tried again a little later.
async function download(page, locator) {
  for (let attempt = 1; ; attempt++) {
    try {
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 4000 }), locator.click()]);
      const file = await dl.path();
      return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
    } catch (err) {
      if (attempt === 6 || err.name !== 'TimeoutError') throw err;
      await page.waitForTimeout(1000);
    }
  }
}

/**
 * Downloads every product link and the zip. The zip must hold exactly the linked files; the
 * set of names must be `expected`'s, and each file byte-identical to `ami3 run`'s (when not,
 * compareFits says where: which header card, or the largest relative difference of the values).
 * Returns the downloaded products by name.
 */
async function checkDownloads(page, expected) {
  const links = page.locator('#product-list a[download]');
  const n = await links.count();
  const got = new Map();
  for (let i = 0; i < n; i++) {
    const { name, bytes } = await download(page, links.nth(i));
    got.set(name, bytes);
  }
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), 'the page offers the products ami3 run writes');
  const zip = await download(page, page.locator('#download-all'));
  assert.match(zip.name, /\.zip$/);
  const entries = unzipSync(new Uint8Array(zip.bytes));
  assert.deepEqual(Object.keys(entries).sort(), [...got.keys()].sort(), 'the zip holds every product');
  for (const [name, bytes] of got) {
    assert.ok(Buffer.compare(Buffer.from(entries[name]), bytes) === 0, `${name}: the zip's copy differs from the link's`);
    assertSameFile(name, bytes, expected.get(name), 'compared with ami3 run');
  }
  return got;
}

/**
 * The companion JSON as text without its `seconds` (wall time, the one field that differs
 * between runs) and, when `basenames`, with each files[].path reduced to the file's name.
 */
function companionText(bytes, basenames = false) {
  const v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  assert.ok(typeof v.seconds === 'number' && v.seconds > 0, 'seconds is the time it took');
  delete v.seconds;
  if (basenames) for (const f of v.files) f.path = path.basename(f.path);
  return JSON.stringify(v, null, 1);
}

/** Byte identity, with compareFits' account of the differences in the message when it fails. */
function assertSameFile(name, bytes, expectedBytes, what) {
  if (name.endsWith('_companion.json')) {
    assert.equal(companionText(bytes), companionText(expectedBytes), `${name} (${what}), seconds aside`);
    return;
  }
  if (Buffer.compare(bytes, expectedBytes) === 0) return;
  const c = compareFits(bytes, expectedBytes);
  assert.fail(`${name} is not byte-identical (${what}): ${c.problems.join('; ') || 'same cards'}; ` +
    `largest relative difference of the values ${c.maxRelDiff.toExponential(1)}`);
}

function assertSameBytes(a, b, what) {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, bytes] of a) assertSameFile(name, bytes, b.get(name), what);
}

/**
 * Chooses `files` (paths) on the page at `url`, waits until it is done and checks that no
 * exposure failed, that no error is shown, and that it offers `expected`'s products, each
 * byte-identical (checkDownloads).
 */
async function reduceAndCompare(url, files, expected) {
  const { page, context, errors } = await openPage(url);
  await page.setInputFiles('#file-input', files);
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), [], 'no exposure failed');
  assert.equal(state.members.length, 4);
  assert.deepEqual(await page.locator('#messages li.error').allTextContents(), [], 'no error shown');
  const products = await checkDownloads(page, expected);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
  return { state, products };
}

const reduceSharedData = (url) => reduceAndCompare(url, INPUTS.map((f) => path.join(DATA, f)), native);

// The page set-ups every association must give the same bytes in: plain build with isolation,
// threaded build (or its fallback when nightly is missing), plain build without isolation.
const SETUPS = [
  ['isolated, plain build', 'isolated', ''],
  ['isolated, threaded build (1 worker, 2 threads)', 'isolated', '?workers=1&threads=2'],
  ['not isolated, plain build', 'plain', '?threads=2'],
];

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

let reference; // products of the first page run, which the other builds must reproduce exactly

test('isolated page: the shared association gives the products of ami3 run', { timeout: TIMEOUT_MS }, async () => {
  const { state, products } = await reduceSharedData(urls.isolated);
  assert.equal(state.isolated, true);
  assert.equal(state.calibrated_cp_deg.length, 35);
  // one thread per worker: a progress report per integration
  for (const m of state.members) assert.deepEqual(m.progress, [1, 2, 3, 4, 5], m.name);
  reference = products;
});

test('isolated page, threaded build (1 worker, 2 threads): the same products', { timeout: TIMEOUT_MS }, async () => {
  const info = JSON.parse(fs.readFileSync(path.join(ROOT, 'www/build-info.json'), 'utf8'));
  const { state, products } = await reduceSharedData(new URL('?workers=1&threads=2', urls.isolated).href);
  assert.equal(state.engine.workers, 1);
  // Without a threaded build (nightly missing) the page must fall back to the plain one.
  assert.deepEqual(state.engine.builds, [info.threads ? 'threads' : 'plain']);
  // 2 threads fit the 5 integrations in rounds of 2, reported after each round
  const rounds = info.threads ? [2, 4, 5] : [1, 2, 3, 4, 5];
  for (const m of state.members) assert.deepEqual(m.progress, rounds, m.name);
  if (!reference) return;
  assertSameBytes(products, reference, `threaded build (${info.threads ? 'built' : 'fallback to plain'}) vs plain build`);
});

test('page without cross-origin isolation: plain build, byte-identical products', { timeout: TIMEOUT_MS }, async () => {
  const { state, products } = await reduceSharedData(new URL('?threads=2', urls.plain).href);
  assert.equal(state.isolated, false);
  assert.ok(state.engine.builds.every((b) => b === 'plain'), JSON.stringify(state.engine));
  if (reference) assertSameBytes(products, reference, 'isolated or not, the same bytes');
});

test('a whole folder (subfolders, jwst products, other JSON) gives the same products', { timeout: TIMEOUT_MS }, async () => {
  const { page, context, errors } = await openPage(urls.isolated);
  // f480m-binary holds cal/asn.json (another association), jwst's products named ...-nrm_...
  // and other JSON files: the top-level asn.json and the two reference files must be chosen.
  await page.setInputFiles('#folder-input', DATA);
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), [], 'no exposure failed');
  assert.equal(state.members.length, 4);
  assert.ok(state.messages.includes('Throughput reference: throughput_f480m.fits'), state.messages.join('; '));
  assert.ok(state.messages.includes('NRM reference: nrm.fits'), state.messages.join('; '));
  const products = await checkDownloads(page, native);
  if (reference) assertSameBytes(products, reference, 'a folder or its files, the same bytes');
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('files dropped on the drop zone give the same products', { timeout: TIMEOUT_MS }, async () => {
  const { page, context, errors } = await openPage(urls.isolated);
  const files = INPUTS.map((f) => ({ name: f, base64: fs.readFileSync(path.join(DATA, f)).toString('base64') }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
    return dt;
  }, files);
  await page.dispatchEvent('#drop-zone', 'dragover', { dataTransfer });
  await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), [], 'no exposure failed');
  const products = await checkDownloads(page, native);
  if (reference) assertSameBytes(products, reference, 'dropped or chosen, the same bytes');
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('a missing exposure is an error in the page; the others give the products of ami3 run', { timeout: TIMEOUT_MS }, async () => {
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

test('damaged members: one not FITS is an error by name, one with stray bytes is reduced; products as ami3 run', { timeout: TIMEOUT_MS }, async () => {
  // the same damaged files for both: member 2 is text, member 3 has 100 stray bytes at the end
  const dir = path.join(tmp, 'damaged');
  const out = path.join(tmp, 'damaged-native');
  fs.mkdirSync(dir);
  fs.mkdirSync(out);
  for (const f of ['asn.json', EXPOSURES[0], EXPOSURES[3]]) fs.copyFileSync(path.join(DATA, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, EXPOSURES[1]), 'this is not a FITS file\n');
  fs.writeFileSync(path.join(dir, EXPOSURES[2]), Buffer.concat([fs.readFileSync(path.join(DATA, EXPOSURES[2])), Buffer.alloc(100, 120)]));
  const expected = runNative(path.join(dir, 'asn.json'), out, ['--firstfew', '2']);

  const { page, context, errors } = await openPage(new URL('?firstfew=2', urls.isolated).href);
  await page.setInputFiles('#file-input', [
    ...['asn.json', ...EXPOSURES].map((f) => path.join(dir, f)),
    path.join(DATA, 'throughput_f480m.fits'), path.join(DATA, 'nrm.fits')]);
  const state = await waitDone(page);
  const failed = state.members.filter((m) => m.error);
  assert.equal(failed.length, 1, JSON.stringify(state.members));
  assert.equal(failed[0].name, EXPOSURES[1]);
  assert.match(failed[0].error, new RegExp(`${EXPOSURES[1]}: not a FITS file`));
  assert.equal(state.members.filter((m) => !m.error).length, 3, 'the member with stray bytes is reduced');
  await checkDownloads(page, expected);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('options: an uploaded affine2d JSON, oifits off, save_averages on, as ami3 run', { timeout: TIMEOUT_MS }, async () => {
  const affine = path.join(tmp, 'small_rotation_affine.json');
  fs.writeFileSync(affine, JSON.stringify({ rotradccw: 0.01 }));
  const out = path.join(tmp, 'options-native');
  fs.mkdirSync(out);
  const expected = runNative(path.join(DATA, 'asn.json'), out,
    ['--affine2d', affine, '--oifits', 'false', '--save-averages']);
  assert.ok([...expected.keys()].some((n) => n.endsWith('_amiavg.fits')), 'save_averages writes the averages');
  assert.ok(![...expected.keys()].some((n) => n.includes('-oi')), 'no OIFITS');

  const { page, context, errors } = await openPage(urls.isolated);
  // A JSON file that is not an association is staged and offered as affine2d; no run yet.
  await page.setInputFiles('#file-input', [affine]);
  await page.locator('#opt-affine2d option[value="small_rotation_affine.json"]').waitFor({ state: 'attached' });
  assert.equal(await page.textContent('#status'), 'idle');
  await page.locator('#options summary').first().click(); // open "Pipeline parameters"
  await page.selectOption('#opt-affine2d', 'small_rotation_affine.json');
  await page.uncheck('#opt-oifits');
  await page.check('#opt-save_averages');
  await page.setInputFiles('#file-input', INPUTS.map((f) => path.join(DATA, f)));
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), []);
  await checkDownloads(page, expected);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('demo: calibrated closure phases are not zero, products as ami3 demo + ami3 run; screenshot', { timeout: TIMEOUT_MS }, async () => {
  // The demo is simulated in the page's wasm; `ami3 demo` simulates the same files natively.
  const demoDir = path.join(tmp, 'demo');
  const demoOut = path.join(tmp, 'demo-native');
  fs.mkdirSync(demoOut);
  ami3(['demo', '--out', demoDir]);
  const expected = runNative(path.join(demoDir, 'demo_asn.json'), demoOut, [], false);
  assert.ok([...expected.keys()].some((n) => n.endsWith('_aminorm-oi.fits')), 'the demo has a calibrated product');

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
  await checkDownloads(page, expected);
  const shot = process.env.AMI3_UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs/screenshot.png') : path.join(tmp, 'screenshot.png');
  fs.mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10000, 'a screenshot was written');
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

// Real flight data: every exposure has ~450 flagged pixels, so its residual image holds NaN
// (which JSON could not carry between workers: the calibrated products were lost).
const ABDOR = path.resolve(ROOT, '../shared/data/abdor-1093/f480m');
const ABDOR_INPUTS = [
  ...['asn.json', 'jw01093012001_03102_00001_nis_cal.fits', 'jw01093013001_03102_00001_nis_cal.fits',
    'jw01093015001_03102_00001_nis_cal.fits', 'jw01093016001_03102_00001_nis_cal.fits',
    'throughput_f480m.fits'].map((f) => path.join(ABDOR, f)),
  path.join(DATA, 'nrm.fits'),
];
let abdorNative;
for (const [label, server, query] of SETUPS) {
  test(`real data (AB Dor, F480M, flagged pixels), ${label}: every product of ami3 run, byte for byte`, { timeout: TIMEOUT_MS }, async () => {
    if (!abdorNative) {
      const out = path.join(tmp, 'abdor-native');
      fs.mkdirSync(out);
      const r = ami3(['run', path.join(ABDOR, 'asn.json'), '--out', out, '--fit-binary',
        '--throughput', path.join(ABDOR, 'throughput_f480m.fits'), '--nrm', path.join(DATA, 'nrm.fits')]);
      assert.equal(r.status, 0, r.stderr);
      abdorNative = readDir(out);
      assert.ok([...abdorNative.keys()].some((n) => n.endsWith('_aminorm-oi.fits')), [...abdorNative.keys()].join(', '));
      assert.equal(abdorNative.size, 11, [...abdorNative.keys()].join(', '));
    }
    const { state } = await reduceAndCompare(new URL(query, urls[server]).href, ABDOR_INPUTS, abdorNative);
    assert.equal(state.calibrated_cp_deg.length, 35);
  });
}

test('real data without a throughput file: the built-in F480M curve, the products of ami3 run without --throughput', { timeout: TIMEOUT_MS }, async () => {
  const out = path.join(tmp, 'abdor-builtin-native');
  fs.mkdirSync(out);
  const r = ami3(['run', path.join(ABDOR, 'asn.json'), '--out', out, '--fit-binary', '--nrm', path.join(DATA, 'nrm.fits')]);
  assert.equal(r.status, 0, r.stderr);
  const expected = readDir(out);
  assert.equal(expected.size, 11, [...expected.keys()].join(', '));
  const files = ABDOR_INPUTS.filter((f) => !f.endsWith('throughput_f480m.fits'));
  const { state } = await reduceAndCompare(urls.isolated, files, expected);
  assert.ok(!state.messages.some((m) => m.startsWith('Throughput reference')), state.messages.join('; '));
});

// A simulated association with flagged pixels (ami3 demo: the same three flagged pixels in
// every integration, so the averaged residual images hold NaN), chosen as files.
let flaggedDemo;
for (const [label, server, query] of SETUPS) {
  test(`simulated association with flagged pixels, ${label}: every product of ami3 run, byte for byte`, { timeout: TIMEOUT_MS }, async () => {
    if (!flaggedDemo) {
      const dir = path.join(tmp, 'flagged-demo');
      const out = path.join(tmp, 'flagged-demo-native');
      fs.mkdirSync(out);
      ami3(['demo', '--out', dir]);
      flaggedDemo = { files: fs.readdirSync(dir).map((f) => path.join(dir, f)), expected: runNative(path.join(dir, 'demo_asn.json'), out, [], false) };
      assert.ok([...flaggedDemo.expected.keys()].some((n) => n.endsWith('_aminorm-oi.fits')));
    }
    await reduceAndCompare(new URL(query, urls[server]).href, flaggedDemo.files, flaggedDemo.expected);
  });
}

// The page's real-data example (www/examples/abdor-1093-f480m: the four F480M _cal files of
// programme 1093, shipped with the page): its products equal `ami3 run` on the same files, the
// companion section answers, and its markers sit where the fit puts the companion.
test('JWST commissioning: AB Dor example: the products of ami3 run --fit-binary and the companion section', { timeout: TIMEOUT_MS }, async () => {
  const out = path.join(tmp, 'abdor-example-native');
  fs.mkdirSync(out);
  const r = ami3(['run', path.join(ROOT, 'www/examples/abdor-1093-f480m/asn.json'), '--out', out, '--fit-binary']);
  assert.equal(r.status, 0, r.stderr);
  const expected = readDir(out);
  const jsonName = [...expected.keys()].find((n) => n.endsWith('_companion.json'));
  assert.ok(jsonName, [...expected.keys()].join(', '));
  const cli = JSON.parse(expected.get(jsonName).toString('utf8'));

  const { page, context, errors } = await openPage(urls.isolated);
  await page.click('#abdor');
  const state = await waitDone(page);
  assert.deepEqual(state.members.filter((m) => m.error), []);
  assert.equal(state.members.length, 4);
  await checkDownloads(page, expected);
  // the answer, in words, with the CLI's numbers
  const fit = state.companion;
  assert.ok(fit.detected && fit.nsigma >= 5, `detected: ${fit.nsigma}σ`);
  assert.equal(fit.sep_mas, cli.sep_mas);
  const answer = await page.locator('#companion-answer').textContent();
  assert.match(answer, /^Yes: a companion/);
  assert.ok(answer.includes(`${cli.sep_mas.toFixed(1)} ± ${cli.sep_err_mas.toFixed(1)} mas`), answer);
  assert.match(await page.locator('#companion-credit').textContent(), /JWST\/NIRISS, programme 1093, MAST/);
  assert.ok(await page.locator('#companion-cp canvas').count() > 0, 'data against model is drawn');
  assert.ok(await page.locator('#companion-limits canvas').count() > 0, 'the contrast curves are drawn');
  // the white ring of the best fit: map pixels on a circle of 9 CSS px around (east, north),
  // East left and North up, are white (the map's own colours are viridis, never white)
  const ring = await page.evaluate(({ east, north }) => {
    const canvas = document.querySelector('#companion-map canvas');
    const side = canvas.width;
    const perPx = side / canvas.getBoundingClientRect().width;
    const half = (side - 1) / 2;
    const step = 1200 / (side - 1);
    const x0 = side - 1 - (east / step + half) + 0.5;
    const y0 = side - 1 - (north / step + half) + 0.5;
    const ctx = canvas.getContext('2d');
    let white = 0;
    for (let k = 0; k < 16; k++) {
      const a = (k * Math.PI) / 8;
      const d = ctx.getImageData(Math.floor(x0 + 9 * perPx * Math.cos(a)), Math.floor(y0 + 9 * perPx * Math.sin(a)), 1, 1).data;
      if (d[0] > 230 && d[1] > 230 && d[2] > 230) white += 1;
    }
    return { white, side };
  }, { east: cli.east_mas, north: cli.north_mas });
  assert.equal(ring.side, 601, 'the map spans ±600 mas at 2 mas');
  assert.ok(ring.white >= 12, `the best-fit ring is at the fitted position: ${ring.white} of 16 points white`);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('calibrated OIFITS dropped alone are fitted: the JSON of ami3 fit-binary', { timeout: TIMEOUT_MS }, async () => {
  const out = path.join(tmp, 'abdor-example-native');
  const oi = fs.readdirSync(out).find((n) => n.endsWith('_aminorm-oi.fits'));
  const json = path.join(tmp, 'fit-binary.json');
  const r = ami3(['fit-binary', path.join(out, oi), '--json', json]);
  assert.equal(r.status, 0, r.stderr);
  const { page, context, errors } = await openPage(urls.isolated);
  await page.setInputFiles('#file-input', [path.join(out, oi)]);
  const state = await waitDone(page);
  assert.equal(state.members.length, 0, 'no reduction: a companion search only');
  const links = page.locator('#product-list a[download]');
  assert.equal(await links.count(), 1);
  const { name, bytes } = await download(page, links.first());
  assert.equal(name, oi.replace('_aminorm-oi.fits', '_companion.json'));
  assert.equal(companionText(bytes, true), companionText(fs.readFileSync(json), true), 'the JSON of ami3 fit-binary, seconds aside');
  assert.match(await page.locator('#companion-answer').textContent(), /^Yes: a companion/);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

// A worker reads an exposure from its File a slice at a time (Blob.slice and FileReaderSync) and
// keeps no integration's images: its WebAssembly memory must stay far below the cube, whose
// pixels as f64 alone (SCI, ERR, DQ) would take 3 x 8 x 6400 x 1000 B = 154 MB (the whole-file
// design needed ~6 times the 77 MB file). The bound: 128 MiB, of which the per-pixel series
// of the temporal median take 48 MB at most (analyze/exposure.rs SERIES_BYTES) whatever NINTS.
const LONG_NINT = 1000;
const WORKER_WASM_BOUND_BYTES = 128 * 2 ** 20;

test(`a generated ${LONG_NINT}-integration cube streamed from the file input: the products of ami3 run, worker memory bounded`, { timeout: TIMEOUT_MS }, async () => {
  const dir = path.join(tmp, 'long');
  const made = spawnSync('cargo', ['run', '--release', '--quiet', '--example', 'make_cube', '--', String(LONG_NINT), dir],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(made.status, 0, made.stderr);
  const [cube, asn] = made.stdout.trim().split('\n');
  const out = path.join(tmp, 'long-native');
  fs.mkdirSync(out);
  const r = ami3(['run', asn, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const expected = readDir(out);
  const { page, context, errors } = await openPage(new URL('?workers=1&threads=1', urls.isolated).href);
  await page.setInputFiles('#file-input', [asn, cube]);
  const state = await waitDone(page);
  assert.deepEqual(state.members.map((m) => m.error), [null], 'the exposure was reduced');
  const [member] = state.members;
  assert.equal(member.progress.length, LONG_NINT, 'progress per integration');
  await checkDownloads(page, expected);
  const wasm = member.memory.wasmBytes;
  assert.ok(wasm > 0 && wasm <= WORKER_WASM_BOUND_BYTES,
    `the worker's WebAssembly memory reached ${(wasm / 2 ** 20).toFixed(1)} MiB (bound ${WORKER_WASM_BOUND_BYTES / 2 ** 20} MiB)`);
  console.log(`# ${LONG_NINT} integrations in the page: ${(member.ms / 1000).toFixed(1)} s, worker wasm memory ` +
    `${(wasm / 2 ** 20).toFixed(1)} MiB, JS heap ${(member.memory.jsHeapBytes / 2 ** 20).toFixed(1)} MiB`);
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});

test('a member truncated in the middle of integration 3 is an error naming it, read from its File; the others are reduced', { timeout: TIMEOUT_MS }, async () => {
  const dir = path.join(tmp, 'truncated');
  fs.mkdirSync(dir);
  for (const f of INPUTS) fs.copyFileSync(path.join(DATA, f), path.join(dir, f));
  // cut EXPOSURES[1] half-way through its third SCI frame (80 x 80 float32)
  const bytes = fs.readFileSync(path.join(DATA, EXPOSURES[1]));
  const cards = (i) => bytes.subarray(i * 80, i * 80 + 80).toString('latin1');
  let card = 0;
  while (!cards(card).startsWith("EXTNAME = 'SCI")) card++;
  while (!cards(card).startsWith('END     ')) card++;
  const dataStart = (Math.floor((card * 80) / 2880) + 1) * 2880;
  fs.writeFileSync(path.join(dir, EXPOSURES[1]), bytes.subarray(0, dataStart + 2.5 * 80 * 80 * 4));
  const { page, context, errors } = await openPage(urls.isolated);
  await page.setInputFiles('#file-input', INPUTS.map((f) => path.join(dir, f)));
  const state = await waitDone(page);
  const failed = state.members.filter((m) => m.error);
  assert.deepEqual(failed.map((m) => m.name), [EXPOSURES[1]]);
  assert.match(failed[0].error, new RegExp(`${EXPOSURES[1]}.*SCI.*integration 3 of 5 is incomplete`));
  assert.equal(state.members.filter((m) => !m.error).length, 3, 'the others are reduced');
  assert.deepEqual(errors, [], 'no console errors');
  await context.close();
});
