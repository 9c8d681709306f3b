#!/usr/bin/env node
// Static file server for the ami3 page, with no npm dependencies.
//
//   node scripts/serve.mjs [--no-isolation] [--host HOST] [DIR [PORT]]
//
// DIR defaults to "www", PORT to 8080 (0 picks a free port). Prints one line
// "Serving DIR at http://HOST:PORT/ (...)" once listening, so scripts can read the URL.
//
// By default every response carries the cross-origin isolation headers
// (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp,
// Cross-Origin-Resource-Policy: same-origin) that SharedArrayBuffer, and so the threaded
// (wasm-bindgen-rayon) build, needs. `--no-isolation` or AMI3_NO_ISOLATION=1 serves without
// them, to test the page's single-threaded fallback.
//
// GET and HEAD only; a directory serves its index.html; paths that leave DIR (by "..",
// encoded or not, or by a symlink) get 403; missing files 404.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.fits': 'application/fits',
  '.fit': 'application/fits',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.zip': 'application/zip',
};

function usage(msg) {
  if (msg) console.error(`serve.mjs: ${msg}`);
  console.error('usage: node scripts/serve.mjs [--no-isolation] [--host HOST] [DIR [PORT]]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    isolation: !['1', 'true', 'yes'].includes(String(process.env.AMI3_NO_ISOLATION ?? '').toLowerCase()),
    host: process.env.HOST || '127.0.0.1',
    dir: 'www',
    port: 8080,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-isolation') opts.isolation = false;
    else if (a === '--isolation') opts.isolation = true;
    else if (a === '--host') opts.host = argv[++i] ?? usage('--host needs a value');
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length > 2) usage('too many arguments');
  if (positional[0] !== undefined) opts.dir = positional[0];
  if (positional[1] !== undefined) {
    opts.port = Number(positional[1]);
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage(`bad port ${positional[1]}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
let root;
try {
  root = fs.realpathSync(path.resolve(opts.dir));
  if (!fs.statSync(root).isDirectory()) throw new Error('not a directory');
} catch (e) {
  console.error(`serve.mjs: cannot serve ${opts.dir}: ${e.message}`);
  process.exit(1);
}

function isInside(p) {
  return p === root || p.startsWith(root + path.sep);
}

function baseHeaders() {
  const h = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
  if (opts.isolation) {
    h['Cross-Origin-Opener-Policy'] = 'same-origin';
    h['Cross-Origin-Embedder-Policy'] = 'require-corp';
    h['Cross-Origin-Resource-Policy'] = 'same-origin';
  }
  return h;
}

function sendText(req, res, status, text, extra = {}) {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, {
    ...baseHeaders(),
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(req, res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    return;
  }
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    sendText(req, res, 400, 'bad request');
    return;
  }
  if (rel.includes('\0')) {
    sendText(req, res, 400, 'bad request');
    return;
  }
  // URL parsing already folds "/../"; the decoded path may still hold "..", so check again
  // after joining, and once more after resolving symlinks.
  let file = path.resolve(root, `.${path.sep}${rel}`);
  if (!isInside(file)) {
    sendText(req, res, 403, 'forbidden');
    return;
  }
  let stat;
  try {
    file = fs.realpathSync(file);
    if (!isInside(file)) {
      sendText(req, res, 403, 'forbidden');
      return;
    }
    stat = fs.statSync(file);
    if (stat.isDirectory()) {
      if (!rel.endsWith('/')) {
        // Redirect so that relative URLs inside index.html resolve against the directory.
        const u = new URL(req.url, 'http://localhost');
        sendText(req, res, 301, 'moved', { Location: `${u.pathname}/${u.search}` });
        return;
      }
      file = path.join(file, 'index.html');
      stat = fs.statSync(file);
    }
    if (!stat.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') sendText(req, res, 404, 'not found');
    else sendText(req, res, 500, 'server error');
    return;
  }
  res.writeHead(200, {
    ...baseHeaders(),
    'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': stat.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const server = http.createServer(handle);
server.on('error', (e) => {
  console.error(`serve.mjs: ${e.message}`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const mode = opts.isolation ? 'cross-origin isolated: COOP/COEP/CORP sent' : 'NOT isolated: no COOP/COEP/CORP';
  console.log(`Serving ${root} at http://${host}:${port}/ (${mode})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
