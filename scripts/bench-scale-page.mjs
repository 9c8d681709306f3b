#!/usr/bin/env node
// The page's side of the scale benchmark (scripts/bench-scale.sh makes the cubes): each cube
// of $AMI3_BENCH_DIR (default /tmp/ami3-bench-scale) chosen through #file-input of the page in
// headless Chromium (one worker, one thread, plain build), reduced, and the worker's largest
// WebAssembly memory and JS heap reported (worker.js samples both every few integrations, as it
// reads the file: window.__ami3.members[0].memory), with the tab's main-thread JS heap
// (performance.memory.usedJSHeapSize, Chromium). Prints Markdown rows. Not part of npm test.
//
//   npm run build && node scripts/bench-scale-page.mjs [NINT...]    (default: 1 100 1000 10000)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = process.env.AMI3_BENCH_DIR ?? '/tmp/ami3-bench-scale';
const NINTS = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (NINTS.length === 0) NINTS.push(1, 100, 1000, 10000);

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/serve.mjs'), path.join(ROOT, 'www'), '0'],
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

const { url, child } = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--enable-precise-memory-info'],
});
const mib = (b) => (b / 2 ** 20).toFixed(1);
console.log('| NINTS | file (MB) | page wall (s) | ms per integration | worker wasm memory (MiB) | worker JS heap (MiB) | tab JS heap (MiB) |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
try {
  for (const n of NINTS) {
    const asn = path.join(DIR, `long_${n}_asn.json`);
    const cube = path.join(DIR, `jw99998${String(n).padStart(7, '0')}_nis_calints.fits`);
    if (!fs.existsSync(asn)) throw new Error(`${asn} missing: run scripts/bench-scale.sh ${n} first`);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(new URL('?workers=1&threads=1', url).href);
    await page.setInputFiles('#file-input', [asn, cube]);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'done', null, { timeout: 0 });
    const s = await page.evaluate(() => ({ ...JSON.parse(JSON.stringify(window.__ami3)), tabHeap: performance.memory?.usedJSHeapSize ?? 0 }));
    const m = s.members[0];
    if (m.error) throw new Error(`${n} integrations: ${m.error}`);
    console.log(`| ${n} | ${(fs.statSync(cube).size / 1e6).toFixed(1)} | ${(s.wallMs / 1000).toFixed(1)} | ` +
      `${(m.ms / n).toFixed(1)} | ${mib(m.memory.wasmBytes)} | ${mib(m.memory.jsHeapBytes)} | ${mib(s.tabHeap)} |`);
    await context.close();
  }
} finally {
  await browser.close();
  child.kill();
}
