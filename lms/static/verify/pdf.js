/**
 * Just enough PDF to find a certificate's embedded files, in the browser, with no libraries.
 *
 * The LMS's certificate PDFs (WeasyPrint, PDF/A-3b) carry the signed credential as the
 * embedded file `credential.jwt` and a readable copy as `credential.json`. WeasyPrint writes
 * its dictionaries into compressed object streams (`/Type /ObjStm`) and its cross-reference
 * table as an `/XRef` stream, so this reader:
 *
 * 1. walks the file's top-level `N G obj ... endobj` objects in order (skipping stream data by
 *    its `/Length`), then unpacks every object stream; a later definition of an object number
 *    replaces an earlier one, as an incremental update does;
 * 2. takes the document catalogue from the last trailer (`trailer <<...>>` or an `/XRef`
 *    stream's dictionary); a PDF with `/Encrypt` is refused;
 * 3. reads the catalogue's `/Names /EmbeddedFiles` name tree the way pypdf does (its `/Names`
 *    array and one level of `/Kids`): each file is known by its key in the tree and by its
 *    `/UF` (or `/F`) name;
 * 4. decodes the `/EF` stream of every file named `credential.jwt` or `credential.json`
 *    (FlateDecode with or without PNG predictors, ASCIIHex, ASCII85);
 * 5. extracts the printed text of the first page (text operators of its content streams and
 *    of the form XObjects they draw, through each font's `/ToUnicode` map, or Latin-1 for
 *    simple fonts without one), so the verifier can check, as the Python one does, that the
 *    learner's and the course's names are printed. Text it cannot decode is left out; if
 *    nothing is left, the verifier says the printed text could not be read.
 *
 * Everything is bounded: the file (20 MB, checked by the caller), the number of objects, each
 * decompressed object stream (8 MB) and each attachment (256 KB; a larger one is reported as
 * too large, as the Python verifier does). Anything this reader cannot follow is reported as
 * a damaged PDF (`unreadable`), never guessed at.
 */
'use strict';

import { UnreadableInput, inflate, MAX_TOKEN_FILE_BYTES } from './verify.js';

const MAX_OBJECTS = 100000;
const MAX_OBJSTM_BYTES = 8 * 1024 * 1024;
const MAX_OBJSTM_COUNT = 2000;
const MAX_DEPTH = 64;

class PdfError extends Error {}

const WS = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const DELIM = new Set([0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]);

class Name {
  constructor(name) {
    this.name = name;
  }
}
class Ref {
  constructor(num, gen) {
    this.num = num;
    this.gen = gen;
  }
}
class PdfString {
  constructor(bytes) {
    this.bytes = bytes;
  }
}
class Stream {
  constructor(dict, data) {
    this.dict = dict;
    this.data = data; // raw (still encoded) bytes
  }
}

/** A tokenizer and object parser over `bytes` starting at `pos`. */
class Parser {
  constructor(bytes, pos = 0) {
    this.b = bytes;
    this.pos = pos;
  }

  skipWs() {
    const b = this.b;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (WS.has(c)) this.pos += 1;
      else if (c === 0x25) {
        while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos += 1;
      } else break;
    }
  }

  regular() {
    const start = this.pos;
    while (this.pos < this.b.length && !WS.has(this.b[this.pos]) && !DELIM.has(this.b[this.pos]))
      this.pos += 1;
    return String.fromCharCode(...this.b.subarray(start, this.pos));
  }

  peekKeyword(word) {
    this.skipWs();
    for (let k = 0; k < word.length; k += 1) if (this.b[this.pos + k] !== word.charCodeAt(k)) return false;
    const after = this.b[this.pos + word.length];
    return after === undefined || WS.has(after) || DELIM.has(after);
  }

  value(depth = 0) {
    if (depth > MAX_DEPTH) throw new PdfError('nested too deeply');
    this.skipWs();
    const b = this.b;
    if (this.pos >= b.length) throw new PdfError('unexpected end');
    const c = b[this.pos];
    if (c === 0x3c && b[this.pos + 1] === 0x3c) {
      this.pos += 2;
      const dict = new Map();
      for (;;) {
        this.skipWs();
        if (b[this.pos] === 0x3e && b[this.pos + 1] === 0x3e) {
          this.pos += 2;
          return dict;
        }
        const key = this.value(depth + 1);
        if (!(key instanceof Name)) throw new PdfError('dictionary key is not a name');
        dict.set(key.name, this.value(depth + 1));
      }
    }
    if (c === 0x5b) {
      this.pos += 1;
      const arr = [];
      for (;;) {
        this.skipWs();
        if (b[this.pos] === 0x5d) {
          this.pos += 1;
          return arr;
        }
        if (this.pos >= b.length) throw new PdfError('unterminated array');
        arr.push(this.value(depth + 1));
      }
    }
    if (c === 0x2f) {
      this.pos += 1;
      const raw = this.regular();
      return new Name(raw.replace(/#([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
    }
    if (c === 0x28) return this.literalString();
    if (c === 0x3c) return this.hexString();
    const word = this.regular();
    if (!word) throw new PdfError('unexpected delimiter');
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === 'null') return null;
    if (!/^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(word)) throw new PdfError(`unexpected ${word.slice(0, 20)}`);
    const number = Number(word);
    if (/^\d+$/.test(word)) {
      // "num gen R" is a reference
      const save = this.pos;
      this.skipWs();
      const gen = this.regular();
      if (/^\d+$/.test(gen)) {
        this.skipWs();
        if (this.b[this.pos] === 0x52) {
          const after = this.b[this.pos + 1];
          if (after === undefined || WS.has(after) || DELIM.has(after)) {
            this.pos += 1;
            return new Ref(number, Number(gen));
          }
        }
      }
      this.pos = save;
    }
    return number;
  }

  literalString() {
    const b = this.b;
    this.pos += 1;
    const out = [];
    let depth = 1;
    while (this.pos < b.length) {
      const c = b[this.pos];
      this.pos += 1;
      if (c === 0x5c) {
        const e = b[this.pos];
        this.pos += 1;
        const simple = {
          0x6e: 0x0a,
          0x72: 0x0d,
          0x74: 0x09,
          0x62: 0x08,
          0x66: 0x0c,
          0x28: 0x28,
          0x29: 0x29,
          0x5c: 0x5c,
        };
        if (e in simple) out.push(simple[e]);
        else if (e >= 0x30 && e <= 0x37) {
          let v = e - 0x30;
          for (let k = 0; k < 2 && b[this.pos] >= 0x30 && b[this.pos] <= 0x37; k += 1) {
            v = v * 8 + (b[this.pos] - 0x30);
            this.pos += 1;
          }
          out.push(v & 0xff);
        } else if (e === 0x0d) {
          if (b[this.pos] === 0x0a) this.pos += 1;
        } else if (e !== 0x0a && e !== undefined) out.push(e);
      } else if (c === 0x28) {
        depth += 1;
        out.push(c);
      } else if (c === 0x29) {
        depth -= 1;
        if (depth === 0) return new PdfString(Uint8Array.from(out));
        out.push(c);
      } else out.push(c);
    }
    throw new PdfError('unterminated string');
  }

  hexString() {
    const b = this.b;
    this.pos += 1;
    let hex = '';
    while (this.pos < b.length && b[this.pos] !== 0x3e) {
      const c = b[this.pos];
      if (!WS.has(c)) hex += String.fromCharCode(c);
      this.pos += 1;
    }
    if (this.pos >= b.length) throw new PdfError('unterminated hex string');
    this.pos += 1;
    if (!/^[0-9A-Fa-f]*$/.test(hex)) throw new PdfError('bad hex string');
    if (hex.length % 2) hex += '0';
    const out = new Uint8Array(hex.length / 2);
    for (let k = 0; k < out.length; k += 1) out[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
    return new PdfString(out);
  }
}

function latin1(bytes) {
  let s = '';
  for (let k = 0; k < bytes.length; k += 8192) s += String.fromCharCode(...bytes.subarray(k, k + 8192));
  return s;
}

/** A PDF text string: UTF-16BE or UTF-8 with a byte order mark, else PDFDocEncoding (~Latin-1). */
function textString(value) {
  if (!(value instanceof PdfString)) return null;
  const b = value.bytes;
  try {
    if (b[0] === 0xfe && b[1] === 0xff) return new TextDecoder('utf-16be').decode(b.subarray(2));
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)
      return new TextDecoder('utf-8').decode(b.subarray(3));
  } catch {
    return null;
  }
  return latin1(b);
}

// --------------------------------------------------------------------------- filters

function filterList(dict) {
  const raw = dict.get('Filter');
  const list = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  const params = dict.get('DecodeParms') ?? dict.get('DP');
  const paramList = Array.isArray(params) ? params : list.map(() => params ?? null);
  return list.map((f, k) => {
    if (!(f instanceof Name)) throw new PdfError('bad filter');
    return [f.name, paramList[k] instanceof Map ? paramList[k] : null];
  });
}

function asciiHex(data) {
  const text = latin1(data).replace(/[\0\t\n\f\r ]/g, '');
  const end = text.indexOf('>');
  let hex = end < 0 ? text : text.slice(0, end);
  if (!/^[0-9A-Fa-f]*$/.test(hex)) throw new PdfError('bad ASCIIHex data');
  if (hex.length % 2) hex += '0';
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k += 1) out[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  return out;
}

function ascii85(data) {
  let text = latin1(data).replace(/[\0\t\n\f\r ]/g, '');
  if (text.startsWith('<~')) text = text.slice(2);
  const end = text.indexOf('~>');
  if (end >= 0) text = text.slice(0, end);
  const out = [];
  let group = [];
  for (const ch of text) {
    if (ch === 'z' && group.length === 0) {
      out.push(0, 0, 0, 0);
      continue;
    }
    const v = ch.charCodeAt(0) - 33;
    if (v < 0 || v > 84) throw new PdfError('bad ASCII85 data');
    group.push(v);
    if (group.length === 5) {
      let n = 0;
      for (const d of group) n = n * 85 + d;
      if (n > 0xffffffff) throw new PdfError('bad ASCII85 data');
      out.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
      group = [];
    }
  }
  if (group.length === 1) throw new PdfError('bad ASCII85 data');
  if (group.length) {
    const count = group.length - 1;
    while (group.length < 5) group.push(84);
    let n = 0;
    for (const d of group) n = n * 85 + d;
    const bytes = [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    out.push(...bytes.slice(0, count));
  }
  return Uint8Array.from(out);
}

/** Undo PNG predictors (Predictor >= 10); TIFF predictor 2 is not supported. */
function unpredict(data, params) {
  const predictor = params?.get('Predictor') ?? 1;
  if (predictor === 1) return data;
  if (predictor < 10) throw new PdfError('unsupported predictor');
  const colors = params.get('Colors') ?? 1;
  const bits = params.get('BitsPerComponent') ?? 8;
  const columns = params.get('Columns') ?? 1;
  const bpp = Math.max(1, Math.ceil((colors * bits) / 8));
  const rowLength = Math.ceil((colors * bits * columns) / 8);
  if (!(rowLength > 0) || rowLength > 1e6) throw new PdfError('bad predictor parameters');
  const rows = Math.floor(data.length / (rowLength + 1));
  const out = new Uint8Array(rows * rowLength);
  let prev = new Uint8Array(rowLength);
  for (let r = 0; r < rows; r += 1) {
    const type = data[r * (rowLength + 1)];
    const row = data.slice(r * (rowLength + 1) + 1, (r + 1) * (rowLength + 1));
    for (let k = 0; k < rowLength; k += 1) {
      const left = k >= bpp ? row[k - bpp] : 0;
      const up = prev[k];
      const upLeft = k >= bpp ? prev[k - bpp] : 0;
      let add = 0;
      if (type === 1) add = left;
      else if (type === 2) add = up;
      else if (type === 3) add = (left + up) >> 1;
      else if (type === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - upLeft);
        add = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      } else if (type !== 0) throw new PdfError('bad PNG predictor row');
      row[k] = (row[k] + add) & 0xff;
    }
    out.set(row, r * rowLength);
    prev = row;
  }
  return out;
}

/** The decoded data of a stream, or null if it is larger than `max` bytes. */
async function streamData(stream, max) {
  let data = stream.data;
  for (const [name, params] of filterList(stream.dict)) {
    if (name === 'FlateDecode' || name === 'Fl') {
      const out = await inflate(data, 'deflate', max);
      if (out.tooLarge) return null;
      if (out.error) throw new PdfError('bad FlateDecode data');
      data = unpredict(out.data, params);
    } else if (name === 'ASCIIHexDecode' || name === 'AHx') {
      data = asciiHex(data);
    } else if (name === 'ASCII85Decode' || name === 'A85') {
      data = ascii85(data);
    } else {
      throw new PdfError(`unsupported filter ${name}`);
    }
  }
  return data.length > max ? null : data;
}

// --------------------------------------------------------------------------- objects

/** Every object of the file: `Map(num -> value)`, trailers, in file order. */
async function readObjects(bytes) {
  const text = latin1(bytes);
  const objects = new Map(); // num -> value
  const offsets = new Map(); // num -> file offset of its definition (a later one wins)
  const trailers = [];
  const objStreams = [];
  const header = /(\d+)[\0\t\n\f\r ]+(\d+)[\0\t\n\f\r ]+obj\b|\btrailer\b/g;
  let count = 0;
  let match;
  while ((match = header.exec(text)) !== null) {
    if (++count > MAX_OBJECTS) throw new PdfError('too many objects');
    const parser = new Parser(bytes, header.lastIndex);
    if (match[0] === 'trailer') {
      try {
        const dict = parser.value();
        if (dict instanceof Map) trailers.push(dict);
      } catch {
        // a damaged trailer: the cross-reference stream may still name the catalogue
      }
      continue;
    }
    const num = Number(match[1]);
    let value;
    try {
      value = parser.value();
    } catch {
      continue; // not an object after all (e.g. inside stream data); scanning goes on
    }
    if (value instanceof Map && parser.peekKeyword('stream')) {
      parser.pos += 6;
      if (bytes[parser.pos] === 0x0d) parser.pos += 1;
      if (bytes[parser.pos] === 0x0a) parser.pos += 1;
      const start = parser.pos;
      let end = -1;
      let length = value.get('Length');
      if (length instanceof Ref) {
        const m = new RegExp(
          `(?:^|[^0-9])${length.num}[\\0\\t\\n\\f\\r ]+${length.gen}[\\0\\t\\n\\f\\r ]+obj[\\0\\t\\n\\f\\r ]+(\\d+)[\\0\\t\\n\\f\\r ]+endobj`,
        ).exec(text);
        length = m ? Number(m[1]) : undefined;
      }
      if (Number.isInteger(length) && length >= 0 && start + length <= bytes.length) {
        const after = new Parser(bytes, start + length);
        if (after.peekKeyword('endstream')) end = start + length;
      }
      if (end < 0) {
        const found = text.indexOf('endstream', start);
        if (found < 0) continue;
        end = found;
        if (bytes[end - 1] === 0x0a) end -= 1;
        if (bytes[end - 1] === 0x0d) end -= 1;
      }
      value = new Stream(value, bytes.subarray(start, end));
      header.lastIndex = Math.max(header.lastIndex, end);
      const type = value.dict.get('Type');
      if (type instanceof Name && type.name === 'XRef') trailers.push(value.dict);
      if (type instanceof Name && type.name === 'ObjStm') objStreams.push([num, value, match.index]);
    } else {
      header.lastIndex = Math.max(header.lastIndex, parser.pos);
    }
    objects.set(num, value);
    offsets.set(num, match.index);
  }
  // Objects inside object streams (dictionaries only; streams cannot be compressed this way).
  if (objStreams.length > MAX_OBJSTM_COUNT) throw new PdfError('too many object streams');
  for (const [streamNum, stream, at] of objStreams) {
    if (objects.get(streamNum) !== stream) continue; // replaced by a later definition
    const n = stream.dict.get('N');
    const first = stream.dict.get('First');
    if (!Number.isInteger(n) || !Number.isInteger(first) || n < 0 || first < 0)
      throw new PdfError('bad object stream');
    const data = await streamData(stream, MAX_OBJSTM_BYTES);
    if (data === null) throw new PdfError('object stream too large');
    const index = new Parser(data, 0);
    const entries = [];
    for (let k = 0; k < n; k += 1) {
      const objNum = index.value();
      const offset = index.value();
      if (!Number.isInteger(objNum) || !Number.isInteger(offset))
        throw new PdfError('bad object stream index');
      entries.push([objNum, offset]);
    }
    for (const [objNum, offset] of entries) {
      if (++count > MAX_OBJECTS) throw new PdfError('too many objects');
      // Like an incremental update: the definition later in the file wins.
      if (!offsets.has(objNum) || offsets.get(objNum) < at) {
        objects.set(objNum, new Parser(data, first + offset).value());
        offsets.set(objNum, at);
      }
    }
  }
  return { objects, trailers };
}

function resolver(objects) {
  return (value) => {
    let v = value;
    for (let hops = 0; v instanceof Ref; hops += 1) {
      if (hops > 32) throw new PdfError('reference loop');
      v = objects.has(v.num) ? objects.get(v.num) : null;
    }
    return v;
  };
}

/**
 * The contents of a PDF's `credential.jwt` and `credential.json` attachments:
 * `{tokens: [bytes | null], jsonBlobs: [bytes | null], firstPageText: string | null}`
 * (null attachments: larger than 256 KB; null text: the first page's text cannot be read).
 * Throws UnreadableInput (`pdf_damaged`, `pdf_encrypted`).
 */
export async function readPdf(bytes) {
  let found;
  try {
    found = await readAttachments(bytes);
  } catch (e) {
    if (e instanceof UnreadableInput) throw e;
    throw new UnreadableInput('The PDF is damaged and cannot be read.', 'pdf_damaged');
  }
  return found;
}

async function readAttachments(bytes) {
  const { objects, trailers } = await readObjects(bytes);
  const resolve = resolver(objects);
  if (trailers.some((t) => t.has('Encrypt') && resolve(t.get('Encrypt')) !== null)) {
    throw new UnreadableInput(
      'The PDF is password-protected or encrypted, so its certificate cannot be read here: check the credential file (.jwt) instead.',
      'pdf_encrypted',
    );
  }
  const withRoot = trailers.filter((t) => t.has('Root'));
  if (!withRoot.length) throw new PdfError('no document catalogue');
  const catalog = resolve(withRoot[withRoot.length - 1].get('Root'));
  if (!(catalog instanceof Map)) throw new PdfError('no document catalogue');
  const entries = [];
  const names = resolve(catalog.get('Names') ?? null);
  const container = names instanceof Map ? resolve(names.get('EmbeddedFiles') ?? null) : null;
  if (container instanceof Map) {
    const kids = resolve(container.get('Kids') ?? null);
    if (Array.isArray(kids)) {
      for (const kidRef of kids) {
        const kid = resolve(kidRef);
        const kidNames = kid instanceof Map ? resolve(kid.get('Names') ?? null) : null;
        if (Array.isArray(kidNames)) entries.push(...fileEntries(kidNames, resolve));
      }
    }
    const own = resolve(container.get('Names') ?? null);
    if (Array.isArray(own)) entries.push(...fileEntries(own, resolve));
  }
  const tokens = [];
  const jsonBlobs = [];
  for (const { names: fileNames, spec } of entries) {
    const wanted = [];
    if (fileNames.includes('credential.jwt')) wanted.push(tokens);
    if (fileNames.includes('credential.json')) wanted.push(jsonBlobs);
    if (!wanted.length) continue;
    const ef = resolve(spec.get('EF') ?? null);
    if (!(ef instanceof Map)) throw new PdfError('no /EF entry');
    const key = ef.has('UF') ? 'UF' : ef.has('F') ? 'F' : null;
    if (key === null) throw new PdfError('no /UF or /F in /EF');
    const stream = resolve(ef.get(key));
    if (!(stream instanceof Stream)) throw new PdfError('embedded file is not a stream');
    const data = await streamData(stream, MAX_TOKEN_FILE_BYTES);
    for (const list of wanted) list.push(data);
  }
  let firstPageText = null;
  if (tokens.length) {
    try {
      firstPageText = await pageText(catalog, resolve);
    } catch {
      firstPageText = null; // damaged content or fonts: the text cannot be read (as pypdf)
    }
  }
  return { tokens, jsonBlobs, firstPageText };
}

/** pypdf's `EmbeddedFile._load_from_names`: `[name1, spec1, name2, spec2, ...]`. */
function fileEntries(array, resolve) {
  const out = [];
  array.forEach((item, i) => {
    if (item instanceof PdfString || i === 0) return;
    const spec = resolve(item);
    if (!(spec instanceof Map)) return;
    const name = textString(resolve(array[i - 1]));
    if (name === null) return;
    const fileNames = [name];
    for (const key of ['UF', 'F']) {
      if (spec.has(key)) {
        const alt = textString(resolve(spec.get(key)));
        if (alt !== null) {
          if (alt !== name) fileNames.push(alt);
          break;
        }
      }
    }
    out.push({ names: fileNames, spec });
  });
  return out;
}

// --------------------------------------------------------------------------- page text

const MAX_CONTENT_BYTES = 8 * 1024 * 1024;
const MAX_TEXT_CHARS = 200000;
const MAX_FORM_DEPTH = 4;

/** The first page of the document (depth-first through the page tree). */
function firstPage(node, resolve, depth = 0) {
  if (!(node instanceof Map) || depth > 32) return null;
  const type = node.get('Type');
  if (type instanceof Name && type.name === 'Page') return node;
  const kids = resolve(node.get('Kids') ?? null);
  if (!Array.isArray(kids)) return null;
  for (const kid of kids.slice(0, 1000)) {
    const found = firstPage(resolve(kid), resolve, depth + 1);
    if (found) return found;
  }
  return null;
}

function inherited(page, key, resolve) {
  let node = page;
  for (let depth = 0; node instanceof Map && depth < 32; depth += 1) {
    if (node.has(key)) return resolve(node.get(key));
    node = resolve(node.get('Parent') ?? null);
  }
  return null;
}

function hexCode(bytes) {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

function utf16be(bytes) {
  let s = '';
  for (let k = 0; k + 1 < bytes.length; k += 2) s += String.fromCharCode((bytes[k] << 8) | bytes[k + 1]);
  return s;
}

/** A ToUnicode CMap: `{width, map: Map(code -> text)}` (bfchar and bfrange entries). */
function parseCMap(data) {
  const parser = new Parser(data, 0);
  const map = new Map();
  let width = 0;
  const items = [];
  while (parser.pos < data.length) {
    parser.skipWs();
    if (parser.pos >= data.length) break;
    const c = data[parser.pos];
    if (c === 0x3c || c === 0x5b || c === 0x28 || c === 0x2f) {
      items.push(parser.value());
      continue;
    }
    const word = parser.regular();
    if (!word) {
      parser.pos += 1;
      continue;
    }
    if (word === 'endcodespacerange' && items.length >= 2 && items[0] instanceof PdfString) {
      width = items[0].bytes.length;
    } else if (word === 'endbfchar') {
      for (let k = 0; k + 1 < items.length; k += 2) {
        if (items[k] instanceof PdfString && items[k + 1] instanceof PdfString) {
          map.set(hexCode(items[k].bytes), utf16be(items[k + 1].bytes));
          width ||= items[k].bytes.length;
        }
      }
    } else if (word === 'endbfrange') {
      for (let k = 0; k + 2 < items.length; k += 3) {
        const [lo, hi, dst] = items.slice(k, k + 3);
        if (!(lo instanceof PdfString && hi instanceof PdfString)) continue;
        width ||= lo.bytes.length;
        const from = hexCode(lo.bytes);
        const to = Math.min(hexCode(hi.bytes), from + 65535);
        for (let code = from; code <= to; code += 1) {
          if (Array.isArray(dst)) {
            const item = dst[code - from];
            if (item instanceof PdfString) map.set(code, utf16be(item.bytes));
          } else if (dst instanceof PdfString && dst.bytes.length >= 2) {
            const base = utf16be(dst.bytes);
            const last = base.charCodeAt(base.length - 1) + (code - from);
            map.set(code, base.slice(0, -1) + String.fromCharCode(last & 0xffff));
          }
        }
      }
    }
    if (word.startsWith('begin') || word.startsWith('end') || !/^[0-9.+-]+$/.test(word)) items.length = 0;
  }
  return { width: width || 1, map };
}

/** How a font turns the bytes of a string into text (null: it cannot). */
async function fontDecoder(font, resolve) {
  if (!(font instanceof Map)) return null;
  const subtype = font.get('Subtype');
  const composite = subtype instanceof Name && subtype.name === 'Type0';
  const toUnicode = resolve(font.get('ToUnicode') ?? null);
  if (toUnicode instanceof Stream) {
    const data = await streamData(toUnicode, MAX_OBJSTM_BYTES);
    if (data === null) return null;
    const { width, map } = parseCMap(data);
    const size = composite ? Math.max(width, 2) : width;
    return (bytes) => {
      let out = '';
      for (let k = 0; k + size <= bytes.length; k += size)
        out += map.get(hexCode(bytes.subarray(k, k + size))) ?? '';
      return out;
    };
  }
  if (composite) return null; // glyph ids without a map: unreadable
  return (bytes) => latin1(bytes);
}

/**
 * The text of the first page: the strings shown by Tj, TJ, ' and " in its content streams
 * (and in form XObjects they draw), a space between text objects and moves, a space for a
 * wide TJ gap. Returns null when the page cannot be found.
 */
async function pageText(catalog, resolve) {
  const page = firstPage(resolve(catalog.get('Pages') ?? null), resolve);
  if (!page) return null;
  const contents = resolve(page.get('Contents') ?? null);
  const streams = (Array.isArray(contents) ? contents.map(resolve) : [contents]).filter(
    (s) => s instanceof Stream,
  );
  const parts = [];
  let total = 0;
  for (const stream of streams) {
    const data = await streamData(stream, MAX_CONTENT_BYTES);
    if (data === null) throw new PdfError('content too large');
    parts.push(data, Uint8Array.of(0x0a));
    total += data.length + 1;
    if (total > MAX_CONTENT_BYTES) throw new PdfError('content too large');
  }
  const content = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    content.set(part, offset);
    offset += part.length;
  }
  const out = [];
  const state = { chars: 0, decoders: new Map() };
  await runContent(content, inherited(page, 'Resources', resolve), resolve, out, state, 0);
  return out.join('');
}

async function runContent(data, resources, resolve, out, state, depth) {
  const fonts = resources instanceof Map ? resolve(resources.get('Font') ?? null) : null;
  const xobjects = resources instanceof Map ? resolve(resources.get('XObject') ?? null) : null;
  const parser = new Parser(data, 0);
  let operands = [];
  let decode = null;
  const show = (value) => {
    if (!(value instanceof PdfString) || !decode) return;
    const text = decode(value.bytes);
    state.chars += text.length;
    if (state.chars > MAX_TEXT_CHARS) throw new PdfError('too much text');
    out.push(text);
  };
  while (parser.pos < data.length) {
    parser.skipWs();
    if (parser.pos >= data.length) break;
    const c = data[parser.pos];
    if (c === 0x28 || c === 0x3c || c === 0x5b || c === 0x2f) {
      operands.push(parser.value());
      continue;
    }
    if (DELIM.has(c)) {
      parser.pos += 1; // a stray ']', '>' or brace
      continue;
    }
    const word = parser.regular();
    if (/^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(word)) {
      operands.push(Number(word));
      continue;
    }
    if (word === 'true' || word === 'false' || word === 'null') {
      operands.push(word);
      continue;
    }
    if (word === 'BT' || word === 'ET' || word === 'Td' || word === 'TD' || word === 'Tm' || word === 'T*') {
      out.push(' ');
    } else if (word === 'Tf') {
      const name = operands[0];
      const font =
        name instanceof Name && fonts instanceof Map ? resolve(fonts.get(name.name) ?? null) : null;
      if (!state.decoders.has(font)) state.decoders.set(font, await fontDecoder(font, resolve));
      decode = state.decoders.get(font);
    } else if (word === 'Tj') {
      show(operands[operands.length - 1]);
    } else if (word === "'" || word === '"') {
      out.push(' ');
      show(operands[operands.length - 1]);
    } else if (word === 'TJ') {
      const items = operands[operands.length - 1];
      if (Array.isArray(items)) {
        for (const item of items) {
          if (typeof item === 'number' && item < -250) out.push(' ');
          else show(item);
        }
      }
    } else if (word === 'Do' && depth < MAX_FORM_DEPTH) {
      const name = operands[0];
      const form =
        name instanceof Name && xobjects instanceof Map ? resolve(xobjects.get(name.name) ?? null) : null;
      const subtype = form instanceof Stream ? form.dict.get('Subtype') : null;
      if (subtype instanceof Name && subtype.name === 'Form') {
        const formData = await streamData(form, MAX_CONTENT_BYTES);
        if (formData === null) throw new PdfError('form too large');
        const formResources = resolve(form.dict.get('Resources') ?? null);
        out.push(' ');
        await runContent(
          formData,
          formResources instanceof Map ? formResources : resources,
          resolve,
          out,
          state,
          depth + 1,
        );
        out.push(' ');
      }
    } else if (word === 'BI') {
      // an inline image: skip its data up to "EI"
      const text = latin1(data.subarray(parser.pos, Math.min(data.length, parser.pos + MAX_CONTENT_BYTES)));
      const end = text.search(/\sID\s[\s\S]*?\sEI(?=\s|$)/);
      const match = end < 0 ? null : /\sID\s[\s\S]*?\sEI(?=\s|$)/.exec(text);
      parser.pos = match ? parser.pos + match.index + match[0].length : data.length;
    }
    operands = [];
  }
}
