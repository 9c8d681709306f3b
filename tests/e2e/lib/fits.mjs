// A small FITS reader for the end-to-end tests: splits a file into HDUs (header cards + data
// bytes) and compares two files HDU by HDU, header card by card and value by value. Used to
// say *how* two products differ when their bytes do not match; no dependencies.
// (In tests/e2e/lib/ so that scripts/test.sh, which runs tests/e2e/*.mjs, does not run it.)

const BLOCK = 2880;
const CARD = 80;

/** The HDUs of a FITS file: [{cards: [string], keys: Map, data: Buffer}]. */
export function readHdus(buf) {
  const hdus = [];
  let pos = 0;
  while (pos < buf.length) {
    const cards = [];
    let end = false;
    while (!end) {
      if (pos + BLOCK > buf.length) throw new Error(`truncated header at byte ${pos}`);
      for (let i = 0; i < BLOCK / CARD; i++) {
        const card = buf.toString('latin1', pos + i * CARD, pos + (i + 1) * CARD);
        if (/^END {77}$/.test(card)) {
          end = true;
          break;
        }
        cards.push(card);
      }
      pos += BLOCK;
    }
    const keys = new Map();
    for (const c of cards) {
      const m = c.match(/^([A-Z0-9_-]{1,8}) *= *('(?:[^']|'')*'|[^/]*)/);
      if (m && !keys.has(m[1])) keys.set(m[1], m[2].trim().replace(/^'(.*)'$/, '$1').trim());
    }
    const num = (k, d = 0) => (keys.has(k) ? Number(keys.get(k)) : d);
    const naxis = num('NAXIS');
    let count = naxis > 0 ? 1 : 0;
    for (let i = 1; i <= naxis; i++) count *= num(`NAXIS${i}`);
    const size = (Math.abs(num('BITPIX')) / 8) * num('GCOUNT', 1) * (num('PCOUNT') + count);
    hdus.push({ cards, keys, data: buf.subarray(pos, pos + size) });
    pos += Math.ceil(size / BLOCK) * BLOCK;
  }
  return hdus;
}

const WIDTH = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16, P: 8, Q: 16 };

/** Column layout of a BINTABLE: [{name, offset, width, float: 4 | 8 | 0, count}]. */
function columns(hdu) {
  const out = [];
  let offset = 0;
  const n = Number(hdu.keys.get('TFIELDS') ?? 0);
  for (let i = 1; i <= n; i++) {
    const m = String(hdu.keys.get(`TFORM${i}`)).match(/^(\d*)([A-Z])/);
    const repeat = m[1] === '' ? 1 : Number(m[1]);
    const type = m[2];
    const width = type === 'X' ? Math.ceil(repeat / 8) : repeat * WIDTH[type];
    const float = { E: 4, C: 4, D: 8, M: 8 }[type] ?? 0;
    out.push({ name: hdu.keys.get(`TTYPE${i}`) ?? `COL${i}`, offset, width, float, count: float ? width / float : 0 });
    offset += width;
  }
  return out;
}

function readFloat(buf, at, size) {
  return size === 8 ? buf.readDoubleBE(at) : buf.readFloatBE(at);
}

function close(a, b, rel, scale) {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return Math.abs(a - b) <= rel * (Math.max(Math.abs(a), Math.abs(b)) + scale);
}

/**
 * Compares two FITS files. Returns {identical, problems: [string], maxRelDiff}. Header cards
 * must match exactly except CHECKSUM/DATASUM (which follow the data); a floating-point value may
 * differ by `rel` times (its size + the largest size in its column or image: an error computed
 * from two nearly equal integrations loses digits to cancellation); integers, strings, flags and
 * heap bytes must match exactly.
 */
export function compareFits(a, b, { rel = 1e-9 } = {}) {
  const identical = Buffer.compare(a, b) === 0;
  const problems = [];
  let maxRelDiff = 0;
  const ha = readHdus(a);
  const hb = readHdus(b);
  if (ha.length !== hb.length) return { identical, problems: [`${ha.length} vs ${hb.length} HDUs`], maxRelDiff };
  ha.forEach((x, h) => {
    const y = hb[h];
    const name = x.keys.get('EXTNAME') ?? (h === 0 ? 'PRIMARY' : `HDU ${h}`);
    const skip = (c) => /^(CHECKSUM|DATASUM) *=/.test(c);
    const ca = x.cards.filter((c) => !skip(c));
    const cb = y.cards.filter((c) => !skip(c));
    if (ca.length !== cb.length) problems.push(`${name}: ${ca.length} vs ${cb.length} header cards`);
    ca.forEach((c, i) => { if (c !== cb[i]) problems.push(`${name}: card "${c.trim()}" vs "${cb[i]?.trim()}"`); });
    if (x.data.length !== y.data.length) {
      problems.push(`${name}: ${x.data.length} vs ${y.data.length} data bytes`);
      return;
    }
    // Spans of the data that hold floats: [offset, size, stride, count per row, rows, label].
    const spans = [];
    const bitpix = Number(x.keys.get('BITPIX'));
    if (x.keys.get('XTENSION') === 'BINTABLE') {
      const rowLen = Number(x.keys.get('NAXIS1'));
      const rows = Number(x.keys.get('NAXIS2'));
      for (const c of columns(x)) {
        if (c.float) spans.push({ offset: c.offset, size: c.float, stride: rowLen, count: c.count, rows, label: `${name}.${c.name}` });
      }
    } else if (bitpix < 0) {
      spans.push({ offset: 0, size: -bitpix / 8, stride: 0, count: x.data.length / (-bitpix / 8), rows: 1, label: name });
    }
    // Bytes outside the float spans must be identical.
    const isFloat = new Uint8Array(x.data.length);
    for (const s of spans) {
      for (let r = 0; r < s.rows; r++) isFloat.fill(1, r * s.stride + s.offset, r * s.stride + s.offset + s.count * s.size);
    }
    for (let i = 0; i < x.data.length; i++) {
      if (!isFloat[i] && x.data[i] !== y.data[i]) {
        problems.push(`${name}: non-float data byte ${i} differs`);
        break;
      }
    }
    for (const s of spans) {
      const va = [];
      const vb = [];
      for (let r = 0; r < s.rows; r++) {
        for (let k = 0; k < s.count; k++) {
          const at = r * s.stride + s.offset + k * s.size;
          va.push(readFloat(x.data, at, s.size));
          vb.push(readFloat(y.data, at, s.size));
        }
      }
      const scale = Math.max(0, ...va.filter(Number.isFinite).map(Math.abs));
      let bad = 0;
      let example = '';
      va.forEach((v, i) => {
        const w = vb[i];
        if (Number.isFinite(v) && Number.isFinite(w) && v !== w) {
          maxRelDiff = Math.max(maxRelDiff, Math.abs(v - w) / Math.max(Math.abs(v), Math.abs(w)));
        }
        if (!close(v, w, s.size === 4 ? Math.max(rel, 1e-6) : rel, scale)) {
          bad++;
          example ||= ` (value ${i}: ${v} vs ${w})`;
        }
      });
      if (bad) problems.push(`${s.label}: ${bad} of ${va.length} values differ beyond tolerance${example}`);
    }
  });
  return { identical, problems, maxRelDiff };
}
