#!/usr/bin/env node
// Time of the companion search (companion.md §11) natively and in the page, for one calibrated
// file and for a joint fit of two, printed as a Markdown table for BENCHMARKS.md.
//
//   npm run build && node scripts/bench-companion.mjs [--repeats N]
//
// The calibrated files are made here with `ami3 run` (f480m-binary with its reference files,
// and AB Dor F480M and F430M with the built-in curves; AB Dor: JWST/NIRISS, programme 1093,
// MAST). Native: `ami3 fit-binary` (map + refine + errors + limits), the `seconds` it reports
// and the wall time of the process. Page: the files dropped alone on the page (headless
// Chromium), the `seconds` the wasm reports and the worker round trip the page measures
// (window.__ami3.timings.companionFitMs). Median and min of N runs, a fresh page each.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(ROOT, '../shared/data');
const argv = process.argv.slice(2);
const REPEATS = Number(argv[argv.indexOf('--repeats') + 1] || 5) || 5;
const BIN = path.join(process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target'), 'release/ami3');
if (!fs.existsSync(BIN)) spawnSync('cargo', ['build', '--release', '--bin', 'ami3'], { cwd: ROOT, stdio: 'inherit' });

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0] };
};

/** `ami3 run ASN --out DIR ARGS`: the path of the calibrated `_aminorm-oi.fits`. */
function calibrated(asn, args, name) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `ami3-cal-${name}-`));
  const r = spawnSync(BIN, ['run', asn, '--out', out, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ami3 run ${asn}:\n${r.stderr}`);
  return path.join(out, fs.readdirSync(out).find((f) => f.endsWith('_aminorm-oi.fits')));
}

const binary = path.join(SHARED, 'f480m-binary');
const files = {
  'f480m-binary': calibrated(path.join(binary, 'asn.json'),
    ['--throughput', path.join(binary, 'throughput_f480m.fits'), '--nrm', path.join(binary, 'nrm.fits')], 'binary'),
  'AB Dor F480M': calibrated(path.join(SHARED, 'abdor-1093/f480m/asn.json'), [], 'f480m'),
  'AB Dor F430M': calibrated(path.join(SHARED, 'abdor-1093/f430m/asn.json'), [], 'f430m'),
};
const cases = [
  ['f480m-binary, 1 file', [files['f480m-binary']]],
  ['AB Dor F480M, 1 file', [files['AB Dor F480M']]],
  ['AB Dor F480M + F430M, joint', [files['AB Dor F480M'], files['AB Dor F430M']]],
];

function native(paths) {
  const secs = [];
  const wall = [];
  for (let i = 0; i < REPEATS; i++) {
    const json = path.join(os.tmpdir(), `ami3-fit-${process.pid}.json`);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(BIN, ['fit-binary', ...paths, '--json', json], { encoding: 'utf8' });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (r.status !== 0) throw new Error(`ami3 fit-binary:\n${r.stderr}`);
    secs.push(JSON.parse(fs.readFileSync(json, 'utf8')).seconds);
  }
  return { secs: stats(secs), wall: stats(wall) };
}

async function page(browser, url, paths) {
  const secs = [];
  const roundTrip = [];
  for (let i = 0; i < REPEATS; i++) {
    const p = await browser.newPage();
    await p.goto(url);
    await p.setInputFiles('#file-input', paths);
    await p.waitForFunction(() => document.getElementById('status').textContent === 'done', null, { timeout: 600000 });
    const state = await p.evaluate(() => JSON.parse(JSON.stringify(window.__ami3)));
    if (!state.companion) throw new Error(`no fit: ${state.messages.join('; ')}`);
    secs.push(state.companion.seconds);
    roundTrip.push(state.timings.companionFitMs / 1000);
    await p.close();
  }
  return { secs: stats(secs), roundTrip: stats(roundTrip) };
}

const server = spawn(process.execPath, [path.join(ROOT, 'scripts/serve.mjs'), path.join(ROOT, 'www'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = out.match(/http:\/\/\S+\//);
    if (m) resolve(m[0]);
  });
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const f = (x) => x.toFixed(3);
console.log(`Companion search, 2 mas over 30–600 mas, limits on; ${REPEATS} runs each; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}.\n`);
console.log('| case | native `seconds`, median (min) | native process wall (s) | page `seconds` in wasm, median (min) | page worker round trip (s) |');
console.log('|---|---|---|---|---|');
try {
  for (const [label, paths] of cases) {
    const n = native(paths);
    const p = await page(browser, url, paths);
    console.log(`| ${label} | ${f(n.secs.median)} (${f(n.secs.min)}) | ${f(n.wall.median)} | ${f(p.secs.median)} (${f(p.secs.min)}) | ${f(p.roundTrip.median)} |`);
  }
} finally {
  await browser.close();
  server.kill();
}
