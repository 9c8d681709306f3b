// The page: collects the dropped files, sends each exposure of the association to a Web Worker
// (worker.js), shows progress and draws the results as they arrive, then combines them and
// offers every product for download. No science here: the numbers, file names and product
// bytes all come from the Rust library (src/wasm.rs); this file only moves them around.

import { imageFigure, imageScale, scatterChart, skyMapFigure, COLOURS } from './plots.js';
import { zipSync } from './vendor/fflate.js';
import initLibrary, { read_association as readAssociation, check_options as checkOptions } from './pkg/ami3.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const HARDWARE = Math.max(1, navigator.hardwareConcurrency || 2);

// What scripts/build-web.sh built: {threads: bool, ...}. The threaded build is only tried when
// it exists and the page is cross-origin isolated (SharedArrayBuffer).
let buildInfo = { threads: false };

// Page state, exposed for tests and the benchmark script as window.__ami3.
const state = {
  status: 'idle',
  timings: {},
  isolated: self.crossOriginIsolated === true,
  engine: null,
  wallMs: null,
  members: [],
  products: [],
  calibrated_cp_deg: null,
  messages: [],
};
window.__ami3 = state;

// Products in association order (members, then the combined ones), whatever order they came in.
const productGroups = [];
// Once the user picks an exposure's tab, finishing exposures no longer switch the view.
let userPickedTab = false;

// ---- files ---------------------------------------------------------------------------------

/** Dropped or chosen files, in arrival order, unique by base name: {name, file?, bytes?}. */
let staged = [];

const baseName = (p) => p.split(/[\\/]/).pop();

async function entryBytes(entry) {
  if (entry.bytes) return entry.bytes;
  return new Uint8Array(await entry.file.arrayBuffer());
}

async function entryText(entry) {
  if (entry.text === undefined) {
    entry.text = entry.bytes ? new TextDecoder().decode(entry.bytes) : await entry.file.text();
  }
  return entry.text;
}

// The library on this thread, for what the page must know before a run (which file is the
// association, its members; whether the options are valid). Loaded from the module the workers
// share.
let library = null;
function loadLibrary() {
  library ??= compiledPlainModule().then((module) => initLibrary(module ? { module_or_path: module } : undefined));
  return library;
}

/**
 * The association: the first JSON file the library reads as one ({product, members: [{expname,
 * role}], notes}, members the pipeline reduces). Other JSON files keep why they are not one.
 */
async function findAsn() {
  await loadLibrary();
  for (const e of staged) {
    if (!/\.json$/i.test(e.name)) continue;
    if (e.asn === undefined) {
      try {
        e.asn = readAssociation(await entryText(e), e.name);
      } catch (err) {
        e.asn = null;
        e.notAsn = String(err.message ?? err);
      }
    }
    if (e.asn) return e;
  }
  return null;
}

/**
 * What each staged file is for. Reference files are recognised by name (documented on the
 * page): 'throughput' -> THROUGHPUT, 'nrm' -> NRM. An association member is never one, nor is
 * any file named like JWST data (jw + digits: products such as ..._f480m-nrm_aminorm.fits).
 */
async function classify() {
  const asnEntry = await findAsn();
  const members = asnEntry?.asn.members ?? [];
  const memberNames = new Map(members.map((m) => [baseName(m.expname), m.role]));
  const kinds = new Map();
  let throughput = null;
  let nrm = null;
  const jsonFiles = [];
  for (const e of staged) {
    let kind = 'not used';
    if (e === asnEntry) kind = 'association';
    else if (memberNames.has(e.name)) kind = `${memberNames.get(e.name)} exposure`;
    else if (/\.json$/i.test(e.name)) {
      kind = 'JSON (affine2d?)';
      jsonFiles.push(e);
    } else if (/^jw\d/i.test(e.name)) {
      kind = 'not used';
    } else if (/\.fits?$/i.test(e.name) && /throughput/i.test(e.name)) {
      kind = throughput ? 'not used (another throughput file)' : 'throughput reference';
      throughput ??= e;
    } else if (/\.fits?$/i.test(e.name) && /nrm/i.test(e.name)) {
      kind = nrm ? 'not used (another NRM file)' : 'NRM reference';
      nrm ??= e;
    }
    kinds.set(e, kind);
  }
  return { asnEntry, members, kinds, throughput, nrm, jsonFiles };
}

async function showFiles() {
  const { kinds, jsonFiles } = await classify();
  const list = $('file-list');
  list.replaceChildren(...staged.map((e) => {
    const li = document.createElement('li');
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = kinds.get(e);
    li.append(kind, ` ${e.name}`);
    return li;
  }));
  // Dropped JSON files other than the association can be the affine2d distortion.
  const select = $('opt-affine2d');
  const chosen = select.value;
  for (const o of [...select.options]) if (o.dataset.file) o.remove();
  for (const e of jsonFiles) {
    const o = document.createElement('option');
    o.value = e.name;
    o.textContent = `file: ${e.name}`;
    o.dataset.file = '1';
    select.append(o);
  }
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : 'commissioning';
  $('rerun').disabled = staged.length === 0;
  $('clear').disabled = staged.length === 0;
}

/**
 * Stages files: `items` are File objects or {name, file?, bytes?, path?}. Within one drop or
 * selection a name found twice (a folder with subfolders) keeps the file nearest the top;
 * a later drop replaces a staged file of the same name. A run starts when there is an ASN.
 */
async function addFiles(items) {
  const depth = (e) => (e.path ?? e.name).split('/').filter(Boolean).length;
  const batch = new Map();
  for (const f of items) {
    const entry = f instanceof File ? { name: f.name, file: f, path: f.webkitRelativePath || f.name } : f;
    if (entry.name.startsWith('.')) continue;
    const seen = batch.get(entry.name);
    if (!seen || depth(entry) < depth(seen)) batch.set(entry.name, entry);
  }
  for (const entry of batch.values()) {
    staged = staged.filter((e) => e.name !== entry.name);
    staged.push(entry);
  }
  await showFiles();
  if (await findAsn()) startRun();
  else if (stagedOifits().length) startFit();
  else if (staged.length) {
    const why = staged.filter((e) => e.notAsn).map((e) => ` ${e.notAsn}.`).join('');
    note(`No association (ASN JSON) among the files yet: drop it too.${why}`);
  }
}

// Files and folders from a drop, with their paths: directory entries must be taken during the
// event.
async function droppedFiles(dt) {
  const entries = [...(dt.items ?? [])].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return [...dt.files];
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ name: file.name, file, path: entry.fullPath });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

// ---- options -------------------------------------------------------------------------------

const TEXT_OPTIONS = ['oversample', 'rotation_search', 'psf_offset', 'rotation', 'firstfew', 'chooseholes'];
const BOOL_OPTIONS = ['save_averages', 'oifits', 'usebp', 'run_bpfix'];

/**
 * The options object the library's Reduction takes (src/options.rs: the names of ami3 run's
 * options with '_'; text fields go as typed, the library reads them).
 */
function readOptions() {
  const o = {};
  for (const k of BOOL_OPTIONS) o[k] = $(`opt-${k}`).checked;
  for (const k of TEXT_OPTIONS) o[k] = $(`opt-${k}`).value.trim();
  o.affine2d = $('opt-affine2d').value;
  o.mode = $('opt-mode').value;
  // ?exact=1: the model basis at every integration's centroid (issue 14, lever 8; URL only)
  o.exact = ['1', 'true', 'yes'].includes((params.get('exact') || '').toLowerCase());
  return o;
}

// ?oversample=5&firstfew=1&usebp=false&workers=2&threads=1 preset the fields (tests, benchmarks);
// ?exact=1 is read by readOptions.
function presetOptionsFromUrl() {
  for (const k of BOOL_OPTIONS) {
    if (params.has(k)) $(`opt-${k}`).checked = ['1', 'true', 'yes'].includes(params.get(k).toLowerCase());
  }
  for (const k of TEXT_OPTIONS) if (params.has(k)) $(`opt-${k}`).value = params.get(k);
  if (params.get('affine2d') === 'none') $('opt-affine2d').value = 'none';
  if (params.get('mode') === 'improved') $('opt-mode').value = 'improved';
  for (const k of ['workers', 'threads']) {
    const select = $(`opt-${k}`);
    for (let n = 1; n <= Math.max(8, HARDWARE); n++) select.append(new Option(String(n), String(n)));
    if (params.has(k) && [...select.options].some((o) => o.value === params.get(k))) select.value = params.get(k);
  }
}

/** Workers and threads per worker for `tasks` exposures. */
function engineChoice(tasks) {
  const w = $('opt-workers').value;
  const t = $('opt-threads').value;
  const workers = w === 'auto' ? Math.max(1, Math.min(tasks, HARDWARE)) : Number(w);
  const threadsOk = state.isolated && buildInfo.threads;
  let threads = t === 'auto' ? Math.max(1, Math.floor(HARDWARE / workers)) : Number(t);
  if (!threadsOk) threads = 1;
  return { workers, threads };
}

function describeEngine() {
  const parts = [`${HARDWARE} logical cores`,
    `cross-origin isolated: ${state.isolated ? 'yes' : 'no'}`,
    `threaded build: ${buildInfo.threads ? 'available' : 'not built'}`];
  if (!state.isolated) parts.push('so each worker runs one thread');
  $('engine-info').textContent = `${parts.join('; ')}.`;
}

// ---- the worker pool -----------------------------------------------------------------------

// The plain build compiled once, here, and handed to every worker (a WebAssembly.Module can be
// posted): the workers share V8's compiled code, so the optimised code one worker's exposure
// brings about serves the others, and the module is not compiled once per worker. Null if it
// cannot be compiled here; then each worker loads it itself.
let plainModule = null;
function compiledPlainModule() {
  plainModule ??= WebAssembly.compileStreaming(fetch('./pkg/ami3_bg.wasm')).catch(() => null);
  return plainModule;
}

/** Web Workers running worker.js; jobs queue until a worker is free. */
class Pool {
  constructor(size, threads) {
    this.threads = threads;
    this.queue = [];
    this.nextId = 1;
    this.closed = false;
    this.slots = Array.from({ length: size }, () => this.spawn());
  }

  spawn(respawns = 0) {
    const slot = { worker: new Worker('./worker.js', { type: 'module' }), info: null, job: null, respawns };
    slot.ready = new Promise((resolve) => { slot.resolveReady = resolve; });
    slot.worker.onmessage = (e) => this.onMessage(slot, e.data);
    slot.worker.onerror = (e) => {
      e.preventDefault();
      this.onMessage(slot, { type: 'failed', id: slot.job?.id, message: `worker error: ${e.message ?? 'could not start'}`, fatal: true });
    };
    if (this.threads > 1) slot.worker.postMessage({ type: 'init', threads: this.threads });
    else compiledPlainModule().then((module) => slot.worker.postMessage({ type: 'init', threads: 1, module }));
    return slot;
  }

  onMessage(slot, msg) {
    if (msg.type === 'ready') {
      slot.info = msg;
      slot.resolveReady(msg);
      this.dispatch();
      return;
    }
    const job = slot.job;
    if (!job || (msg.id !== undefined && msg.id !== job.id)) {
      if (msg.type === 'failed' && !slot.info) this.replace(slot, msg.message);
      return;
    }
    if (msg.type === 'started' || msg.type === 'progress') {
      job.onProgress?.(msg.done, msg.total);
      return;
    }
    slot.job = null;
    if (msg.type === 'done') job.resolve(Array.isArray(msg.value) ? msg.value : { ...msg.value, ms: msg.ms, memory: msg.memory });
    else job.reject(new Error(msg.message));
    if (msg.type === 'failed' && msg.fatal) this.replace(slot, msg.message);
    this.dispatch();
  }

  // A worker whose WebAssembly trapped is not trusted again: start a fresh one (twice at most).
  replace(slot, why) {
    slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.closed) return;
    if (slot.respawns >= 2) {
      this.slots.splice(i, 1);
      if (this.slots.length === 0) {
        for (const job of this.queue.splice(0)) job.reject(new Error(`no worker could run: ${why}`));
      }
      return;
    }
    this.slots[i] = this.spawn(slot.respawns + 1);
  }

  run(message, transfer = [], onProgress = null) {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, message, transfer, onProgress, resolve, reject });
      this.dispatch();
    });
  }

  dispatch() {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job || !slot.info) continue;
      const job = this.queue.shift();
      slot.job = job;
      slot.worker.postMessage({ ...job.message, id: job.id }, job.transfer);
    }
  }

  async engines() {
    return Promise.all(this.slots.map((s) => s.ready));
  }

  terminate() {
    this.closed = true;
    for (const s of this.slots) s.worker.terminate();
    for (const job of this.queue.splice(0)) job.reject(new Error('cancelled'));
  }
}

// ---- a run ---------------------------------------------------------------------------------

let current = null;
let blobUrls = [];

function setStatus(s) {
  state.status = s;
  const el = $('status');
  el.textContent = s;
  el.className = s;
}

function note(text, isError = false, list = $('messages')) {
  const li = document.createElement('li');
  li.textContent = text;
  if (isError) li.className = 'error';
  list.append(li);
  state.messages.push(text);
}

function productLink(p) {
  const url = URL.createObjectURL(new Blob([p.bytes], { type: p.name.endsWith('.json') ? 'application/json' : 'application/fits' }));
  blobUrls.push(url);
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = url;
  a.download = p.name;
  a.textContent = p.name;
  const size = document.createElement('span');
  size.className = 'size';
  size.textContent = ` (${(p.bytes.length / 1024).toFixed(0)} KiB)`;
  li.append(a, size);
  return li;
}

function resetPage() {
  for (const u of blobUrls) URL.revokeObjectURL(u);
  blobUrls = [];
  $('messages').replaceChildren();
  $('exposures').replaceChildren();
  $('combine-messages').replaceChildren();
  $('calibrated-plot').replaceChildren();
  $('combined-products').replaceChildren();
  $('product-list').replaceChildren();
  $('combined').hidden = true;
  $('results').hidden = true;
  $('result-tabs').replaceChildren();
  userPickedTab = false;
  $('result-panels').replaceChildren();
  $('downloads').hidden = true;
  $('companion').hidden = true;
  for (const id of ['companion-answer', 'companion-credit']) $(id).textContent = '';
  for (const id of ['companion-messages', 'companion-map', 'companion-numbers', 'companion-cp', 'companion-limits']) $(id).replaceChildren();
  state.companion = null;
  $('summary').textContent = '';
  productGroups.length = 0;
  Object.assign(state, { wallMs: null, timings: {}, members: [], products: [], calibrated_cp_deg: null, messages: [] });
}

function cancelRun() {
  if (current) {
    current.cancelled = true;
    current.pool?.terminate();
    current = null;
  }
}

async function startRun() {
  cancelRun();
  const run = { cancelled: false, pool: null, t0: performance.now() };
  current = run;
  resetPage();
  setStatus('running');
  try {
    await reduce(run);
  } catch (err) {
    if (!run.cancelled) note(`The reduction stopped: ${err.message ?? err}`, true);
  }
  if (run.cancelled) return;
  run.pool?.terminate();
  state.wallMs = performance.now() - run.t0;
  state.timings.doneMs = state.wallMs;
  const failed = state.members.filter((m) => m.error).length;
  $('summary').textContent = `in ${(state.wallMs / 1000).toFixed(1)} s: ${state.members.length - failed} of ${state.members.length} exposures reduced${failed ? `, ${failed} failed` : ''}.`;
  setStatus('done');
  current = null;
}

let sessions = 0;

// Exposure files go to the workers as File (or Blob) objects, which the worker reads a slice
// at a time as the analysis asks (worker.js, Reduction.analyze_file): no file is held whole in
// the page, the worker or its WebAssembly memory, whatever its size.

async function reduce(run) {
  const { asnEntry, members, throughput, nrm } = await classify();
  if (!asnEntry) {
    note('No association (ASN JSON with a "products" list) among the files.', true);
    return;
  }
  const asnJson = await entryText(asnEntry);
  const asnName = asnEntry.name;
  const productName = asnEntry.asn.product;
  if (members.length === 0) {
    note(`${asnName}: no member with exptype science or psf.`, true);
    return;
  }
  const options = readOptions();
  if (throughput) options.throughput = throughput.name;
  if (nrm) options.nrm = nrm.name;
  try {
    checkOptions(options);
  } catch (err) {
    note(String(err.message ?? err), true);
    return;
  }
  // What every worker's Reduction is built from: the reference files go by the names the
  // options give them.
  const refs = [throughput, nrm, staged.find((e) => e.name === options.affine2d)].filter(Boolean);
  const session = {
    id: ++sessions, asnJson, asnName, options,
    names: refs.map((e) => e.name), files: await Promise.all(refs.map(entryBytes)),
  };
  if (throughput) note(`Throughput reference: ${throughput.name}`);
  if (nrm) note(`NRM reference: ${nrm.name}`);

  const { workers, threads } = engineChoice(members.length);
  run.pool = new Pool(workers, threads);
  // Milestones since the run started (ms), for the benchmark: workers ready (wasm loaded),
  // every exposure done, combined, all done (products linked and zipped).
  const mark = (k) => { state.timings[k] = performance.now() - run.t0; };
  run.pool.engines().then((infos) => {
    if (run.cancelled) return;
    mark('workersReadyMs');
    const threaded = infos.filter((i) => i.build === 'threads');
    state.engine = { workers, threadsPerWorker: threaded.length ? threads : 1, builds: infos.map((i) => i.build) };
    const why = [...new Set(infos.map((i) => i.note).filter(Boolean))];
    note(`${workers} worker${workers > 1 ? 's' : ''}, ${state.engine.threadsPerWorker} thread${state.engine.threadsPerWorker > 1 ? 's' : ''} each (${threaded.length ? 'threaded' : 'plain'} WebAssembly build)${why.length ? `: ${why.join('; ')}` : ''}.`);
  });

  const cards = members.map((m) => memberCard(m));
  const byName = new Map(staged.map((e) => [e.name, e]));
  const results = await Promise.all(members.map(async (m, i) => {
    const card = cards[i];
    const record = { name: m.expname, role: m.role, error: null, ms: null, products: [], progress: [] };
    state.members.push(record);
    const entry = byName.get(baseName(m.expname));
    if (!entry) {
      failCard(card, record, `${m.expname}: not among the dropped files.`);
      return null;
    }
    try {
      // The staged demo bytes go as a Blob (a copy they survive "Run again" in).
      const file = entry.file ?? new Blob([entry.bytes]);
      const out = await run.pool.run({
        type: 'analyze', session, file, expname: m.expname,
      }, [], (done, total) => {
        progressCard(card, done, total);
        if (done !== undefined) record.progress.push(done);
      });
      if (run.cancelled) return null;
      record.ms = out.ms;
      // the worker's largest WebAssembly memory and JS heap while it analysed (bytes)
      record.memory = out.memory;
      record.products = out.products.map((p) => p.name);
      showMember(card, out, threads);
      addProducts(out.products, i);
      return out.result;
    } catch (err) {
      if (!run.cancelled) failCard(card, record, String(err.message ?? err));
      return null;
    }
  }));
  if (run.cancelled) return;

  const reduced = results.filter((r) => r !== null);
  if (reduced.length === 0) {
    note('No exposure was reduced, so there is nothing to combine.', true);
    return;
  }
  mark('exposuresDoneMs');
  let combined = null;
  try {
    combined = await run.pool.run({ type: 'combine', session, results: reduced });
  } catch (err) {
    if (run.cancelled) return;
    note(`Combining the exposures (ami_average, ami_normalize) failed: ${err.message ?? err}. ` +
      'The exposure products above are still available.', true);
  }
  mark('combinedMs');
  if (run.cancelled) return;
  if (combined) {
    showCombined(combined);
    addProducts(combined.products, members.length);
    // the answer: a companion search on the calibrated product, in a worker
    const calibrated = combined.products.find((p) => p.name.endsWith('_aminorm-oi.fits'));
    if (calibrated) {
      const json = await fitCompanion(run.pool, [calibrated], calibrated.name.replace(/_aminorm-oi\.fits$/, ''));
      mark('companionMs');
      if (run.cancelled) return;
      if (json) addProducts([json], members.length + 1);
    }
  }
  finishDownloads(productName);
}

// ---- the companion search -------------------------------------------------------------------

/**
 * Fits a companion to calibrated OIFITS `files` ({name, bytes}, jointly when several) in a
 * worker of `pool` and shows it. Returns the JSON product `<stem>_companion.json` (the text
 * `ami3 fit-binary --json` writes), or null if the search failed (said on the page).
 */
async function fitCompanion(pool, files, stem) {
  $('companion').hidden = false;
  $('companion-answer').textContent = 'Searching for a companion…';
  let out;
  try {
    out = await pool.run({ type: 'companion', names: files.map((f) => f.name), files: files.map((f) => f.bytes), options: {} });
  } catch (err) {
    $('companion-answer').textContent = '';
    note(`The companion search failed: ${err.message ?? err}`, true, $('companion-messages'));
    return null;
  }
  state.companion = out.fit;
  state.timings.companionFitMs = out.ms;
  showCompanion(out, files);
  return { name: `${stem}_companion.json`, bytes: new TextEncoder().encode(out.json) };
}

const fmt = (v, d) => (Number.isFinite(v) ? v.toFixed(d) : '–');

/** The answer in words, the map, the numbers, data against model, and the contrast curves. */
function showCompanion(out, files) {
  const f = out.fit;
  const sky = f.frame === 'sky';
  const where = sky ? 'east of north' : 'from the detector\'s +y axis through −x';
  const ambiguous = f.second_best && f.second_best.delta_chi2 < 9;
  const ratio = f.ratio > 0 ? `, about ${fmt(1 / f.ratio, 0)} times fainter` : '';
  $('companion-answer').textContent = f.detected
    ? `Yes: a companion ${fmt(f.dmag, 2)} ± ${fmt(f.dmag_err, 2)} magnitudes fainter than the star${ratio}, ` +
      `${fmt(f.sep_mas, 1)} ± ${fmt(f.sep_err_mas, 1)} mas away at position angle ${fmt(f.pa_deg, 1)} ± ${fmt(f.pa_err_deg, 1)}° ` +
      `(${where}), detected at ${fmt(f.nsigma, 1)}σ.` +
      (ambiguous ? ` But the position is ambiguous: ${fmt(f.second_best.sep_mas, 1)} mas at ${fmt(f.second_best.pa_deg, 1)}° fits almost as well (Δχ² ${fmt(f.second_best.delta_chi2, 1)}).` : '')
    : `No companion found: the best candidate (${fmt(f.sep_mas, 0)} mas, PA ${fmt(f.pa_deg, 0)}°, Δmag ${fmt(f.dmag, 1)}) reaches ` +
      `${fmt(f.nsigma, 1)}σ, and 5σ is needed. The contrast curve below says how faint a companion these data would have shown.`;
  for (const w of out.warnings ?? []) note(w, false, $('companion-messages'));
  if (!sky) note('These data carry no pointing (ROLL_REF = 0), so positions are in the detector frame: "east" is −x and "north" is +y.', false, $('companion-messages'));

  const markers = [{ east: f.east_mas, north: f.north_mas, colour: '#ffffff', label: 'white ring: best fit' }];
  if (f.second_best) {
    const s = f.second_best;
    const pa = (s.pa_deg * Math.PI) / 180;
    markers.push({ east: s.sep_mas * Math.sin(pa), north: s.sep_mas * Math.cos(pa), colour: '#9a9a9a', label: 'grey ring: next best' });
  }
  $('companion-map').replaceChildren(skyMapFigure({
    title: 'Δχ² of a companion at each position (linearised)',
    map: out.map, markers, axis: sky ? ['East', 'North'] : ['−x (detector)', '+y (detector)'],
  }));

  const rows = [
    ['separation', `${fmt(f.sep_mas, 2)} ± ${fmt(f.sep_err_mas, 2)} mas`],
    ['position angle', `${fmt(f.pa_deg, 2)} ± ${fmt(f.pa_err_deg, 2)}° (${f.frame} frame)`],
    ['contrast Δmag', `${fmt(f.dmag, 3)} ± ${fmt(f.dmag_err, 3)} (flux ratio ${fmt(f.ratio, 4)} ± ${fmt(f.ratio_err, 4)})`],
    ['significance', `${fmt(f.nsigma, 1)}σ (Absil ${fmt(f.nsigma_absil, 1)}σ; CANDID-compatible ${fmt(f.candid.nsigma, 1)}σ)`],
    ['χ²: single star, binary', `${fmt(f.chi2_null, 1)}, ${fmt(f.chi2_binary, 1)} for ${f.ndof} degrees of freedom`],
    ['next best', f.second_best ? `${fmt(f.second_best.sep_mas, 1)} mas, PA ${fmt(f.second_best.pa_deg, 1)}°, Δχ² ${fmt(f.second_best.delta_chi2, 1)} worse` : 'none'],
    ['files', f.files.map((x) => `${x.path} (${x.filter}, ${x.covariance})`).join('; ')],
    ['time', `${fmt(f.seconds * 1000, 0)} ms (map, fit, errors, limits)`],
  ];
  $('companion-numbers').replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));

  const cp = [];
  out.closure_phases.forEach((c, i) => {
    const x = c.data_deg.map((_, t) => t + 1 + (out.closure_phases.length > 1 ? (i - 0.5) * 0.3 : 0));
    const tag = out.closure_phases.length > 1 ? ` (${c.path})` : '';
    cp.push({ label: `measured${tag}`, x: x.map((v) => v - 0.1), y: c.data_deg, err: c.error_deg, colour: COLOURS[2 * i % COLOURS.length] });
    cp.push({ label: `star + companion${tag}`, x: x.map((v) => v + 0.1), y: c.model_deg, colour: COLOURS[(2 * i + 1) % COLOURS.length] });
  });
  scatterChart($('companion-cp'), { xLabel: 'triangle', yLabel: 'closure phase (deg)', zeroLine: true, width: 640, height: 300, series: cp });

  const sep = f.limits.map((p) => p.sep_mas);
  const curve = (key, label, colour, dash) => ({ label, x: sep, y: f.limits.map((p) => p[key]), colour, line: true, dash });
  const limitSeries = [
    curve('dmag_3sigma_absil', 'Absil 3σ', COLOURS[0]),
    curve('dmag_5sigma_absil', 'Absil 5σ', COLOURS[1]),
    curve('dmag_5sigma_injection', 'injection 5σ', COLOURS[2]),
    curve('dmag_3sigma_absil_p99', 'Absil 3σ, 1 %', COLOURS[0], [6, 4]),
    curve('dmag_5sigma_absil_p99', 'Absil 5σ, 1 %', COLOURS[1], [6, 4]),
    curve('dmag_5sigma_injection_p99', 'injection 5σ, 1 %', COLOURS[2], [6, 4]),
  ];
  if (f.detected) limitSeries.push({ label: 'the companion', x: [f.sep_mas], y: [f.dmag], err: [f.dmag_err], colour: '#000000' });
  const n = f.files.reduce((a, x) => a + x.rank, 0);
  scatterChart($('companion-limits'), {
    xLabel: 'separation (mas)', yLabel: `Δmag (N = ${n}${f.limits_subtracted ? ', companion subtracted' : ''})`,
    width: 640, height: 300, invertY: true, series: limitSeries,
  });
  const jwst1093 = files.some((x) => /jw01093/.test(x.name)) || f.files.some((x) => /jw01093/.test(x.path));
  $('companion-credit').textContent = jwst1093 ? 'Data: JWST/NIRISS, programme 1093, MAST.' : '';
}

/** Calibrated OIFITS among the staged files: `_aminorm-oi` ones if any, else every `-oi.fits`. */
function stagedOifits() {
  const oi = staged.filter((e) => /-oi\.fits$/i.test(e.name));
  const calibrated = oi.filter((e) => /_aminorm-oi\.fits$/i.test(e.name));
  return calibrated.length ? calibrated : oi;
}

/** Dropped calibrated OIFITS files without an association: the companion search alone. */
async function startFit() {
  cancelRun();
  const run = { cancelled: false, pool: new Pool(1, 1), t0: performance.now() };
  current = run;
  resetPage();
  setStatus('running');
  const entries = stagedOifits();
  note(`Companion search on ${entries.map((e) => e.name).join(', ')}.`);
  const files = await Promise.all(entries.map(async (e) => ({ name: e.name, bytes: await entryBytes(e) })));
  const stem = entries[0].name.replace(/(_aminorm)?-oi\.fits$/i, '');
  const json = await fitCompanion(run.pool, files, stem);
  if (run.cancelled) return;
  run.pool.terminate();
  if (json) {
    addProducts([json], 0);
    finishDownloads(stem);
  }
  state.wallMs = performance.now() - run.t0;
  setStatus('done');
  current = null;
}

// ---- drawing the results -------------------------------------------------------------------

function memberCard(m) {
  const node = $('exposure-template').content.firstElementChild.cloneNode(true);
  node.querySelector('.name').textContent = baseName(m.expname);
  node.querySelector('.role').textContent = m.role === 'psf' ? 'reference star (psf)' : 'science target';
  $('exposures').append(node);
  return node;
}

// `started` (no counts yet) shows a moving bar. The library reports after each round of
// integrations (one per thread), so the threaded build's bar moves in steps of its threads.
function progressCard(card, done, total) {
  const bar = card.querySelector('progress');
  if (done === undefined) {
    bar.removeAttribute('value');
    card.querySelector('.state').textContent = 'working…';
    return;
  }
  bar.max = total;
  bar.value = done;
  card.querySelector('.state').textContent = `integration ${done} of ${total}`;
}

function failCard(card, record, message) {
  record.error = message;
  card.classList.add('failed');
  const bar = card.querySelector('progress');
  bar.max = 1;
  bar.value = 0;
  card.querySelector('.state').textContent = 'failed';
  const p = card.querySelector('.error');
  p.textContent = message;
  p.hidden = false;
}

function selectTab(tab) {
  for (const t of $('result-tabs').children) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
}

/** A tab and its panel for a finished exposure; the first one to finish is shown. */
function resultPanel(name, role) {
  const k = $('result-tabs').children.length;
  const panel = $('panel-template').content.firstElementChild.cloneNode(true);
  panel.id = `panel-${k}`;
  const tab = document.createElement('button');
  tab.type = 'button';
  tab.className = `tab ${role}`;
  tab.id = `tab-${k}`;
  tab.setAttribute('role', 'tab');
  tab.setAttribute('aria-controls', panel.id);
  tab.textContent = `${baseName(name)} (${role === 'psf' ? 'reference' : 'science'})`;
  panel.setAttribute('aria-labelledby', tab.id);
  tab.addEventListener('click', () => {
    userPickedTab = true;
    selectTab(tab);
  });
  $('result-tabs').append(tab);
  $('result-panels').append(panel);
  $('results').hidden = false;
  // The first exposure to finish is shown, then the first science one (it has the signal).
  const shown = $('result-tabs').querySelector('[aria-selected="true"]');
  if (!shown || (!userPickedTab && role === 'science' && shown.classList.contains('psf'))) selectTab(tab);
  else panel.hidden = true;
  return panel;
}

function showMember(card, out, threads) {
  const v = out.view;
  const bar = card.querySelector('progress');
  bar.max = 1;
  bar.value = 1;
  card.querySelector('.state').textContent =
    `done: ${v.nint} integration${v.nint > 1 ? 's' : ''} in ${(out.ms / 1000).toFixed(1)} s${threads > 1 ? ` (${threads} threads)` : ''}`;
  card.querySelector('.member-products').replaceChildren(...out.products.map(productLink));
  const panel = resultPanel(v.name, v.role === 'Psf' ? 'psf' : 'science');
  panel.querySelector('.notes').textContent = (v.notes ?? []).join(' ');

  // Images: data and model on one colour scale, the residual on its own zero-centred one.
  const scale = imageScale(v.data.concat(v.model), { stretch: 'sqrt' });
  const rscale = imageScale(v.residual, { diverging: true });
  const px = Math.max(2, Math.floor(240 / v.n));
  panel.querySelector('.images').replaceChildren(
    imageFigure({ title: 'Data', values: v.data, n: v.n, scale, pixelSize: px }),
    imageFigure({ title: 'Model', values: v.model, n: v.n, scale, pixelSize: px }),
    imageFigure({ title: 'Residual (data − model)', values: v.residual, n: v.n, scale: rscale, pixelSize: px }),
  );
  const o = v.observables;
  scatterChart(panel.querySelector('.amp-plot'), {
    xLabel: 'baseline length (m)',
    yLabel: 'amplitude, V²',
    series: [
      { label: 'fringe amplitude', x: v.baseline_length_m, y: o.fringe_amp, err: o.fringe_amp_err, colour: COLOURS[0] },
      { label: 'V²', x: v.baseline_length_m, y: o.vis2, err: o.vis2_err, colour: COLOURS[4] },
    ],
  });
  const triangles = o.closure_phase_deg.map((_, i) => i + 1);
  scatterChart(panel.querySelector('.cp-plot'), {
    xLabel: 'triangle',
    yLabel: 'closure phase (deg)',
    zeroLine: true,
    width: 640,
    series: [{
      label: 'closure phase',
      x: triangles,
      y: o.closure_phase_deg,
      err: o.closure_phase_err_deg,
      colour: v.role === 'Psf' ? COLOURS[1] : COLOURS[0],
    }],
  });
  scatterChart(panel.querySelector('.uv-plot'), {
    xLabel: 'u (m)',
    yLabel: 'v (m)',
    width: 320,
    height: 320,
    square: true,
    series: [
      { label: 'baseline', x: v.u_m, y: v.v_m, colour: COLOURS[0] },
      { label: 'reversed', x: v.u_m.map((u) => -u), y: v.v_m.map((x) => -x), colour: '#9ab8da' },
    ],
  });
}

function showCombined(c) {
  $('combined').hidden = false;
  for (const m of c.messages ?? []) note(m, false, $('combine-messages'));
  state.calibrated_cp_deg = c.calibrated_cp_deg ?? null;
  const series = [];
  // Small horizontal shifts keep the three sets of points apart; x is the triangle number.
  const shifted = (d) => (arr) => arr.map((_, i) => i + 1 + d);
  if (c.science) {
    series.push({ label: 'science average (raw)', x: shifted(-0.2)(c.science.closure_phase_deg),
      y: c.science.closure_phase_deg, err: c.science.closure_phase_err_deg, colour: COLOURS[0] });
  }
  if (c.psf) {
    series.push({ label: 'reference star average', x: shifted(0)(c.psf.closure_phase_deg),
      y: c.psf.closure_phase_deg, err: c.psf.closure_phase_err_deg, colour: COLOURS[1] });
  }
  if (c.calibrated_cp_deg) {
    series.push({ label: 'calibrated (science − reference)', x: shifted(0.2)(c.calibrated_cp_deg),
      y: c.calibrated_cp_deg, colour: COLOURS[2] });
  }
  if (series.length) {
    scatterChart($('calibrated-plot'), { xLabel: 'triangle', yLabel: 'closure phase (deg)', zeroLine: true, width: 820, height: 320, series });
  }
  $('combined-products').replaceChildren(...(c.products ?? []).map(productLink));
}

function addProducts(products, index) {
  productGroups[index] = products;
  const all = productGroups.flat().filter(Boolean);
  state.products = all.map((p) => p.name);
  $('downloads').hidden = false;
  $('product-list').replaceChildren(...all.map(productLink));
  $('download-all').hidden = true;
}

function finishDownloads(productName) {
  const all = productGroups.flat().filter(Boolean);
  if (all.length === 0) return;
  const zip = zipSync(Object.fromEntries(all.map((p) => [p.name, p.bytes])), { level: 6 });
  const url = URL.createObjectURL(new Blob([zip], { type: 'application/zip' }));
  blobUrls.push(url);
  const a = $('download-all');
  a.href = url;
  a.download = `${productName}_ami3.zip`;
  a.hidden = false;
}

// ---- the demo ------------------------------------------------------------------------------

async function runDemo() {
  cancelRun();
  resetPage();
  setStatus('running');
  note('Making the demo files (simulated in WebAssembly)…');
  const pool = new Pool(1, 1);
  try {
    const files = await pool.run({ type: 'demo' });
    staged = [];
    await addFiles(files.map((f) => ({ name: f.name, bytes: f.bytes })));
  } catch (err) {
    note(`The demo could not be made: ${err.message ?? err}`, true);
    setStatus('done');
  } finally {
    pool.terminate();
  }
}

// The real-data example: four F480M exposures of JWST commissioning programme 1093 and their
// association, shipped with the page (www/examples/abdor-1093-f480m; JWST/NIRISS, programme
// 1093, MAST).
const ABDOR = 'examples/abdor-1093-f480m/';
const ABDOR_FILES = ['asn.json', 'jw01093015001_03102_00001_nis_cal.fits', 'jw01093016001_03102_00001_nis_cal.fits',
  'jw01093012001_03102_00001_nis_cal.fits', 'jw01093013001_03102_00001_nis_cal.fits'];

async function runAbDor() {
  cancelRun();
  resetPage();
  setStatus('running');
  note('Loading the AB Dor exposures (JWST/NIRISS, programme 1093, MAST)…');
  try {
    const files = await Promise.all(ABDOR_FILES.map(async (name) => {
      const r = await fetch(ABDOR + name);
      if (!r.ok) throw new Error(`${name}: ${r.status} ${r.statusText}`);
      return { name, bytes: new Uint8Array(await r.arrayBuffer()) };
    }));
    staged = [];
    await addFiles(files);
  } catch (err) {
    note(`The AB Dor example could not be loaded: ${err.message ?? err}`, true);
    setStatus('done');
  }
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    addFiles(await droppedFiles(e.dataTransfer));
  });
  // Dropping outside the zone must not make the browser open the file instead of the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  for (const id of ['file-input', 'folder-input']) {
    $(id).addEventListener('change', (e) => {
      const files = [...e.target.files];
      e.target.value = '';
      addFiles(files);
    });
  }
  $('demo').addEventListener('click', runDemo);
  $('abdor').addEventListener('click', runAbDor);
  $('rerun').addEventListener('click', () => startRun());
  $('clear').addEventListener('click', () => {
    cancelRun();
    staged = [];
    resetPage();
    setStatus('idle');
    showFiles();
  });
}

async function main() {
  presetOptionsFromUrl();
  wire();
  try {
    const r = await fetch('./build-info.json', { cache: 'no-store' });
    if (r.ok) buildInfo = await r.json();
  } catch {
    // No build-info.json: a plain build only.
  }
  describeEngine();
  if (params.get('demo') === '1') runDemo();
  if (params.get('example') === 'abdor') runAbDor();
}

main();
