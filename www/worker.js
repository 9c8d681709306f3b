// One Web Worker of the page's pool: it loads the WebAssembly build of ami3 and runs one job
// at a time (analyse an exposure, combine results, or make the demo files). It only moves
// bytes between the page and the library; every number is computed in Rust.
//
// Messages in:  {type: 'init', threads, module?} then   {type: 'analyze' | 'combine' | 'demo', id, ...}
//               analyze and combine carry `session`: {id, asnJson, asnName, options, names, files}
//               (the association, the options object and the reference files they name); the
//               worker builds one Rust `Reduction` per session and reuses it for the session's
//               jobs. analyze: {file, expname} (a File or Blob, read here slice by slice
//               with FileReaderSync as the analysis asks, never whole; or {bytes, expname});
//               combine: {results} (the Uint8Array `result`s of
//               analyze jobs, from any worker). companion: {names, files, options}: the
//               companion search on calibrated OIFITS files (Rust's fit_binary).
// Messages out: {type: 'ready', build, threads, note} once, then per job {type: 'started', id},
//               {type: 'progress', id, done, total}*  and  {type: 'done', id, value, ms}
//               or {type: 'failed', id, message, fatal}.
// `fatal` means the WebAssembly instance trapped (a Rust panic): the page replaces this worker.

let lib = null;
// The instance's exports (its `memory` is sampled for the benchmark and tests).
let wasmExports = null;

// `module`: the plain build already compiled by the page (shared by every worker), if any.
async function loadPlain(module) {
  const mod = await import('./pkg/ami3.js');
  wasmExports = await mod.default(module ? { module_or_path: module } : undefined);
  return mod;
}

// The threaded build (www/pkg-threads, wasm-bindgen-rayon) needs SharedArrayBuffer, i.e. a
// cross-origin isolated page. Any failure falls back to the plain build, with the reason.
async function load(threads, module) {
  if (threads > 1) {
    if (!self.crossOriginIsolated) {
      return { mod: await loadPlain(), build: 'plain', threads: 1, note: 'not cross-origin isolated' };
    }
    try {
      const mod = await import('./pkg-threads/ami3_threads.js');
      wasmExports = await mod.default();
      await mod.initThreadPool(threads);
      return { mod, build: 'threads', threads, note: '' };
    } catch (err) {
      return { mod: await loadPlain(), build: 'plain', threads: 1, note: `threaded build failed: ${err}` };
    }
  }
  return { mod: await loadPlain(module), build: 'plain', threads: 1, note: '' };
}

// The buffers of byte arrays, so they move to the page without a copy (only plain ArrayBuffers
// that each hold one array: never a view of the wasm memory).
function transferables(arrays) {
  const out = new Set();
  for (const a of arrays) {
    const b = a?.buffer;
    if (b instanceof ArrayBuffer && b.byteLength === a.byteLength) out.add(b);
  }
  return [...out];
}

const productBytes = (products) => (products ?? []).map((p) => p.bytes);

// This worker's reduction (association, options, reference files, planner) and its session id.
let reduction = null;
let sessionId = null;

function reductionFor(session) {
  if (session.id !== sessionId) {
    reduction?.free();
    reduction = null;
    reduction = new lib.Reduction(session.asnJson, session.asnName, session.options, session.names, session.files);
    sessionId = session.id;
  }
  return reduction;
}

function run(msg) {
  switch (msg.type) {
    case 'analyze': {
      const progress = (done, total) => self.postMessage({ type: 'progress', id: msg.id, done, total });
      const r = reductionFor(msg.session);
      const out = msg.file ? r.analyze_file(msg.file.size, fileReader(msg.file), msg.expname, progress)
        : r.analyze(msg.bytes, msg.expname, progress);
      memory.sample();
      // out.result: the member result as bytes (bit-exact, NaN and ±Inf included), for combine
      return [out, transferables([...productBytes(out.products), out.result])];
    }
    case 'combine': {
      const out = reductionFor(msg.session).combine(msg.results);
      return [out, transferables(productBytes(out.products))];
    }
    case 'companion': {
      // the companion search on calibrated OIFITS files: {names, files, options}
      return [lib.fit_binary(msg.names, msg.files, msg.options ?? {}), []];
    }
    case 'demo': {
      const files = lib.demo_files_js();
      return [files, transferables(productBytes(files))];
    }
    default:
      throw new Error(`unknown job type ${msg.type}`);
  }
}

// `read(offset, length)` for Reduction.analyze_file: one slice of `file`, read synchronously
// (this is a worker), so the file is never held whole here or in the WebAssembly memory.
function fileReader(file) {
  const reader = new FileReaderSync();
  return (offset, length) => {
    memory.sample();
    return new Uint8Array(reader.readAsArrayBuffer(file.slice(offset, offset + length)));
  };
}

// The largest WebAssembly memory and JS heap seen by this worker (bytes), for the page's
// benchmark and tests: sampled as the file is read, i.e. every few integrations.
const memory = {
  wasmBytes: 0, jsHeapBytes: 0,
  sample() {
    const buffer = wasmExports?.memory?.buffer;
    if (buffer) this.wasmBytes = Math.max(this.wasmBytes, buffer.byteLength);
    const heap = self.performance?.memory?.usedJSHeapSize;
    if (heap) this.jsHeapBytes = Math.max(this.jsHeapBytes, heap);
  },
};

let queue = Promise.resolve();

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'init') {
    queue = load(msg.threads ?? 1, msg.module).then(({ mod, build, threads, note }) => {
      lib = mod;
      self.postMessage({ type: 'ready', build, threads, note });
    }, (err) => {
      self.postMessage({ type: 'ready', build: 'none', threads: 0, note: `could not load the WebAssembly module: ${err}` });
    });
    return;
  }
  queue = queue.then(() => {
    if (!lib) {
      self.postMessage({ type: 'failed', id: msg.id, message: 'the WebAssembly module is not loaded', fatal: true });
      return;
    }
    const t0 = performance.now();
    self.postMessage({ type: 'started', id: msg.id });
    try {
      const [value, transfer] = run(msg);
      memory.sample();
      self.postMessage({ type: 'done', id: msg.id, value, ms: performance.now() - t0,
        memory: { wasmBytes: memory.wasmBytes, jsHeapBytes: memory.jsHeapBytes } }, transfer);
    } catch (err) {
      const fatal = err instanceof WebAssembly.RuntimeError;
      const message = fatal ? `internal error (the analysis stopped: ${err.message})` : String(err?.message ?? err);
      self.postMessage({ type: 'failed', id: msg.id, message, fatal });
    }
  });
};
