#!/usr/bin/env node
// Wall time of the page against the native command for the shared association
// (../shared/data/f480m-binary, 4 exposures x 5 integrations, with its throughput and NRM
// reference files), printed as a Markdown table for BENCHMARKS.md.
//
//   npm run build && node scripts/bench-page.mjs [--repeats N]      (npm run bench)
//
// Native: `target/release/ami3 run` (built here if missing), wall time of the process.
// Page: www/ served by scripts/serve.mjs, headless Chromium (playwright-core); the time from
// setting the files on #file-input to `#status` = done, as the page measures it
// (window.__ami3.wallMs: reading the files, starting the workers and loading the wasm, every
// exposure, combining, zipping the products). A fresh page per run. Median and min of N runs,
// and the medians of two milestones the page records (window.__ami3.timings): every worker has
// loaded its wasm, and the last exposure is done (the rest is combining, links and the zip).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.resolve(ROOT, '../shared/data/f480m-binary');
const INPUTS = ['asn.json', ...[1, 2, 3, 4].map((k) => `jw1000500${k}001_03102_00001_nis_calints.fits`),
  'throughput_f480m.fits', 'nrm.fits'].map((f) => path.join(DATA, f));
const argv = process.argv.slice(2);
const REPEATS = Number(argv[argv.indexOf('--repeats') + 1] || 5) || 5;

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0] };
}

function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/serve.mjs'), ...args, path.join(ROOT, 'www'), '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/\S+\//);
      if (m) resolve({ url: m[0], child });
    });
    child.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
  });
}

function nativeRuns() {
  const bin = path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'release/ami3');
  if (!fs.existsSync(bin)) spawnSync('cargo', ['build', '--release', '--bin', 'ami3'], { cwd: ROOT, stdio: 'inherit' });
  const times = [];
  for (let i = 0; i < REPEATS; i++) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ami3-bench-'));
    const t0 = process.hrtime.bigint();
    const r = spawnSync(bin, ['run', INPUTS[0], '--out', out, '--throughput', INPUTS[5], '--nrm', INPUTS[6]], { encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    fs.rmSync(out, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`ami3 run failed:\n${r.stderr}`);
  }
  return times;
}

async function pageRuns(browser, url) {
  const times = [];
  const ready = [];
  const exposures = [];
  let engine = null;
  for (let i = 0; i < REPEATS; i++) {
    const page = await browser.newPage();
    await page.goto(url);
    await page.setInputFiles('#file-input', INPUTS);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'done', null, { timeout: 600000 });
    const state = await page.evaluate(() => JSON.parse(JSON.stringify(window.__ami3)));
    if (state.members.some((m) => m.error)) throw new Error(`${url}: ${JSON.stringify(state.members)}`);
    times.push(state.wallMs / 1000);
    ready.push(state.timings.workersReadyMs / 1000);
    exposures.push(state.timings.exposuresDoneMs / 1000);
    engine = state.engine;
    await page.close();
  }
  return { times, engine, ready: stats(ready).median, exposures: stats(exposures).median };
}

const isolated = await startServer([]);
const plain = await startServer(['--no-isolation']);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
const info = JSON.parse(fs.readFileSync(path.join(ROOT, 'www/build-info.json'), 'utf8'));

const rows = [];
try {
  const n = stats(nativeRuns());
  rows.push(['native `ami3 run` (release, x86-64)', 'rayon, all cores', n, null, null]);
  const configs = [
    ['page, auto', isolated.url, ''],
    ['page, 1 worker', isolated.url, '?workers=1&threads=1'],
    ['page, 1 worker x 2 threads', isolated.url, '?workers=1&threads=2'],
    ['page, 2 workers x 2 threads', isolated.url, '?workers=2&threads=2'],
    ['page, not isolated, auto', plain.url, ''],
  ];
  for (const [label, base, query] of configs) {
    const { times, engine, ready, exposures } = await pageRuns(browser, base + query);
    const builds = [...new Set(engine.builds)].join('+');
    rows.push([label, `${engine.workers} worker(s) x ${engine.threadsPerWorker} thread(s), ${builds} build`, stats(times), ready, exposures]);
  }
} finally {
  await browser.close();
  isolated.child.kill();
  plain.child.kill();
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`Shared association f480m-binary (4 exposures x 5 integrations, 80x80), ${REPEATS} runs each;`);
console.log(`${os.cpus().length} logical cores (${cpu}), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')};`);
console.log(`Chromium headless; threaded build ${info.threads ? 'built' : 'NOT built'}.\n`);
console.log('| run | engine | wall time, median (s) | min (s) | of which: workers ready (s) | all exposures done (s) | vs native (median) |');
console.log('|---|---|---|---|---|---|---|');
const nativeMedian = rows[0][2].median;
const f = (x) => (x == null ? '–' : x.toFixed(2));
for (const [label, engine, s, ready, exposures] of rows) {
  console.log(`| ${label} | ${engine} | ${f(s.median)} | ${f(s.min)} | ${f(ready)} | ${f(exposures)} | ${(s.median / nativeMedian).toFixed(1)}x |`);
}
