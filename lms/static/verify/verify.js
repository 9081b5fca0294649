/**
 * CareCred certificate verifier for the browser: offline, no libraries, no build step.
 *
 * A line-by-line port of the Python reference verifier (`credentials/verify.py`, `trust.py`,
 * `status.py`, `qr.py`, `passport.py`, `vcjwt.py`, `keys.py`, `_util.py`): for the same input,
 * trust lists and moment it reaches the same verdict and the same `reasonCode`. Only WebCrypto
 * (`crypto.subtle`: ECDSA P-256 and SHA-256) and `DecompressionStream` (zlib, gzip) are used.
 * Nothing is sent anywhere.
 *
 * Formats read
 * ------------
 * - VC-JWT: a compact JWS `header.payload.signature` (base64url, no padding, canonical) whose
 *   header is `{"alg": "ES256", "typ": "JWT", "kid": <RFC 7638 thumbprint>}` and whose payload is
 *   the Open Badges 3.0 credential plus the JWT claims `iss`, `jti`, `nbf` and `exp`. The
 *   signature is the raw 64-byte `r || s`, exactly what WebCrypto's ECDSA verify expects.
 * - QR text `CC1:<base45>`: base45 -> zlib -> CBOR `COSE_Sign1` (tag 18) whose protected header
 *   is `{1: -7, 4: kid bytes, 16: "application/vc+cose", 3: "application/vc"}`, payload the
 *   trimmed credential as JSON, signature `r || s` over the CBOR
 *   `["Signature1", protected, h'', payload]`.
 * - Passport (`CareCredPassport` JSON): several VC-JWTs and signed status lists; each credential
 *   is checked on its own, with the passport's status lists used where newer.
 * - Trust list (`CareCredTrustList` JSON, version 1 or 2): a JWS signed by the root key that
 *   the user pins by its RFC 7638 thumbprint (the *anchor*); it lists the issuers, their keys
 *   (signing window, `compromisedAt`), their status lists and, stapled, the signed W3C
 *   Bitstring Status Lists (gzip-compressed bits).
 * - PDFs are read by `pdf.js` (the embedded `credential.jwt`), images by `BarcodeDetector`.
 *
 * Check order for one credential (stops at the first failure; the reason codes of verify.py):
 *   1. parse (`malformed`)                     6. issuer binding (`issuer_mismatch`)
 *   2. alg is exactly ES256                    7. key signing window (`key_not_valid`)
 *      (`unsupported_algorithm`); typ/crit     8. key compromise (`key_compromised`)
 *      (`malformed`)                           9. dates (`not_yet_valid`, `expired`)
 *   3. kid found in a trust list (never a     10. status bits: revocation and the paired
 *      header `jwk`/`jku`) (`unknown_key`)        suspension list (`revoked`, `suspended`),
 *   4. ES256 signature (`bad_signature`)          with "status as of" and stale/missing
 *   5. contents, then claims iss/jti/nbf/exp      warnings that do not change the verdict
 *      (`malformed`, `claims_mismatch`)
 * With several trust lists the credential is valid if any of them vouches for it.
 *
 * Python parity details that matter: JSON is parsed strictly (duplicate names, NaN, BOMs and
 * huge integers refused; floats kept apart from integers, as Python does); "whitespace",
 * `strip()` and `len()` follow Python's definitions; dates are exact microsecond BigInts.
 * Every input is size-bounded before it is parsed, with the limits of the Python code.
 */
'use strict';

// --------------------------------------------------------------------------- limits

export const MAX_TOKEN_CHARS = 256 * 1024;
export const MAX_TOKEN_FILE_BYTES = MAX_TOKEN_CHARS;
export const MAX_TRUST_LIST_BYTES = 5 * 1024 * 1024;
export const MAX_PASSPORT_BYTES = 5 * 1024 * 1024;
export const MAX_PDF_BYTES = 20 * 1024 * 1024;
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
export const MAX_QR_CHARS = 4000;
const MAX_STAPLED_STATUS_LISTS = 1000;
const MAX_STAPLED_STATUS_BYTES = 32 * 1024 * 1024;
const MAX_TRUST_TEXT = 2048;
const MAX_IDENTIFIERS = 20;
const MAX_PAIRS = 100;
const MAX_JWK_MEMBER_CHARS = 1024;
const MIN_ENTRIES = 131072;
const MAX_ENCODED_CHARS = 1024 * 1024;
const MAX_DECODED_BYTES = 2 * 1024 * 1024;
const MAX_COSE_BYTES = 64 * 1024;
const MAX_CBOR_ITEMS = 64;
const MAX_CBOR_DEPTH = 2;
const MAX_ALIGNMENTS = 100;
const MAX_STATUS_ENTRIES = 10;
const MAX_PASSPORT_CREDENTIALS = 500;
const MAX_PASSPORT_STATUS_LISTS = 100;
const MAX_HOLDER_NAME = 500;
const MAX_JSON_DEPTH = 512;
const MAX_INT_DIGITS = 4300; // Python's int(str) limit: longer integers are a ValueError

const US = 1000000n; // microseconds per second (dates are BigInt microseconds since 1970)
const DAY_US = 86400n * US;
export const DEFAULT_MAX_STATUS_AGE = 30n * DAY_US;

const VC2_CONTEXT = 'https://www.w3.org/ns/credentials/v2';
const TRUST_LIST_TYPE = 'CareCredTrustList';
const TYP_BY_VERSION = { 1: 'trust-list+jwt', 2: 'trust-list-v2+jwt' };
const PASSPORT_TYPE = 'CareCredPassport';
const ENTRY_TYPE = 'BitstringStatusListEntry';
const LIST_CREDENTIAL_TYPE = 'BitstringStatusListCredential';
const LIST_SUBJECT_TYPE = 'BitstringStatusList';
const ACCEPTED_TYP = new Set(['jwt', 'application/jwt', 'vc+jwt', 'application/vc+jwt']);
export const QR_PREFIX = 'CC1:';
const COSE_TYP = 'application/vc+cose';
const COSE_CONTENT_TYPE = 'application/vc';
const JWT_CLAIMS = new Set(['iss', 'jti', 'nbf', 'exp', 'sub']);
const ATTACHMENT_NAME = 'credential.jwt';

// --------------------------------------------------------------------------- errors

/** A problem that stops a check from happening; `code` is the Python error code. */
export class CheckError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}
/** The input cannot be read as a certificate (the CLI's "unreadable"). */
export class UnreadableInput extends CheckError {}
/** A trust list cannot be used (`trust_list_*`). */
export class TrustListError extends CheckError {}
/** A status list cannot be used (`status_list_*`). */
export class StatusListError extends CheckError {}
/** Internal: a credential's contents are not of the expected shape (-> `malformed`). */
class Malformed extends Error {}
/** Internal: a bad key, JSON or base64 value (Python's ValueError/CredentialError). */
class ValueErr extends Error {}

// --------------------------------------------------------------------------- Python strings

// Python's str.isspace() set, used by strip() and by the regular expression class \s.
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
  0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);
const PY_SPACE_CLASS =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** Python's `str.strip()`. */
export function pyStrip(s) {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.has(s.charCodeAt(a))) a += 1;
  while (b > a && PY_SPACE.has(s.charCodeAt(b - 1))) b -= 1;
  return s.slice(a, b);
}

/** True if Python's `len(s)` (code points, not UTF-16 units) is over `limit`. */
function pyLenOver(s, limit) {
  if (s.length <= limit) return false;
  let n = 0;
  for (const _ of s) {
    n += 1;
    if (n > limit) return true;
  }
  return false;
}

const URL_RE = new RegExp(`^[A-Za-z][A-Za-z0-9+.\\-]*:[^${PY_SPACE_CLASS}#]+$`);
const TOKEN_SHAPE_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const INDEX_RE = /^(?:0|[1-9][0-9]{0,8})$/;
// Python's \d is any Unicode decimal digit (category Nd).
const OB_CONTEXT_RE =
  /^https:\/\/purl\.imsglobal\.org\/spec\/ob\/v3p0\/context(?:-3\.\p{Nd}\.\p{Nd})*\.json$/u;

function isStatusListUrl(value) {
  return typeof value === 'string' && !pyLenOver(value, 2048) && URL_RE.test(value);
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** Strict UTF-8 (a BOM is kept, as Python's bytes.decode keeps it). Throws ValueErr. */
function decodeUtf8(bytes) {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new ValueErr('not UTF-8');
  }
}

function stripBomBytes(bytes) {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes;
}

// --------------------------------------------------------------------------- base64url

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i += 1) B64_VALUES[B64_ALPHABET.charCodeAt(i)] = i;

/** Unpadded, canonical base64url (as `_util.b64url_decode`). Throws ValueErr. */
export function b64urlDecode(text) {
  if (typeof text !== 'string') throw new ValueErr('not base64url');
  const tail = text.length % 4;
  if (tail === 1) throw new ValueErr('not base64url');
  const values = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? B64_VALUES[code] : -1;
    if (value < 0) throw new ValueErr('not base64url');
    values[i] = value;
  }
  if (tail && values[text.length - 1] & (tail === 2 ? 0x0f : 0x03)) {
    throw new ValueErr('non-canonical base64url');
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  for (let i = 0; i + 1 < text.length; i += 4) {
    const a = values[i];
    const b = values[i + 1];
    const c = i + 2 < text.length ? values[i + 2] : 0;
    const d = i + 3 < text.length ? values[i + 3] : 0;
    out[o++] = (a << 2) | (b >> 4);
    if (i + 2 < text.length) out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    if (i + 3 < text.length) out[o++] = ((c & 0x03) << 6) | d;
  }
  return out;
}

export function b64urlEncode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64_ALPHABET[(n >> 18) & 63] + B64_ALPHABET[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += B64_ALPHABET[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += B64_ALPHABET[n & 63];
  }
  return out;
}

// --------------------------------------------------------------------------- strict JSON

/**
 * A JSON number written as a float (`1.0`, `2e3`, `0.5`): Python keeps these apart from ints
 * (`"version": 1.0` is not version 1), so the parser does too. Integers are JS numbers, or
 * BigInts when they are beyond 2**53.
 */
export class PyFloat {
  constructor(value) {
    this.value = value;
  }
}

function isDict(v) {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === null;
}
function has(obj, key) {
  return Object.prototype.hasOwnProperty.call(obj, key);
}
/** Python's `dict.get(key)` (JSON objects have no prototype, so nothing is inherited). */
function get(obj, key) {
  return has(obj, key) ? obj[key] : undefined;
}
/** Python's `value is None` for a `.get()`: absent or null. */
function isNone(v) {
  return v === undefined || v === null;
}
function isStr(v) {
  return typeof v === 'string';
}

/**
 * Parse JSON as `_util.strict_json_loads` does: RFC 8259 syntax only (whitespace is space,
 * tab, CR and LF), no duplicate member names, no NaN/Infinity, no BOM. Objects have a null
 * prototype. Throws ValueErr.
 */
export function parseJsonStrict(text) {
  let i = 0;
  const n = text.length;
  const fail = (why) => {
    throw new ValueErr(`not JSON: ${why}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i += 1;
      else break;
    }
  };
  const string = () => {
    // at the opening quote
    i += 1;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i += 1;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        if (e === '"') out += '"';
        else if (e === '\\') out += '\\';
        else if (e === '/') out += '/';
        else if (e === 'b') out += '\b';
        else if (e === 'f') out += '\f';
        else if (e === 'n') out += '\n';
        else if (e === 'r') out += '\r';
        else if (e === 't') out += '\t';
        else if (e === 'u') {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
        } else fail('bad escape');
        start = i;
      } else {
        i += 1;
      }
    }
  };
  const number = () => {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = i;
    const found = m.exec(text);
    if (!found) fail('bad value');
    i = m.lastIndex;
    const lexeme = found[0];
    if (found[1] !== undefined || found[2] !== undefined) return new PyFloat(Number(lexeme));
    const digits = lexeme.startsWith('-') ? lexeme.length - 1 : lexeme.length;
    if (digits > MAX_INT_DIGITS) fail('integer too long');
    if (digits <= 15) return Number(lexeme);
    const big = BigInt(lexeme);
    const small = Number(big);
    return Number.isSafeInteger(small) ? small : big;
  };
  const value = (depth) => {
    if (depth > MAX_JSON_DEPTH) fail('nested too deeply');
    ws();
    if (i >= n) fail('unexpected end');
    const c = text[i];
    if (c === '{') {
      i += 1;
      const obj = Object.create(null);
      ws();
      if (text[i] === '}') {
        i += 1;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a member name');
        const key = string();
        if (has(obj, key)) fail('duplicate member name');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i += 1;
        obj[key] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === '}') {
          i += 1;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i += 1;
      const arr = [];
      ws();
      if (text[i] === ']') {
        i += 1;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i += 1;
          continue;
        }
        if (text[i] === ']') {
          i += 1;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return number();
  };
  if (typeof text !== 'string') fail('not text');
  const result = value(0);
  ws();
  if (i !== n) fail('extra data');
  return result;
}

/** `strict_json_loads(bytes)`: strict UTF-8, then strict JSON. Throws ValueErr. */
function jsonFromBytes(bytes) {
  return parseJsonStrict(decodeUtf8(bytes));
}

/** Python equality of two parsed JSON values as their canonical `json.dumps` would compare. */
function jsonEqual(a, b) {
  if (a instanceof PyFloat || b instanceof PyFloat) {
    return a instanceof PyFloat && b instanceof PyFloat && Object.is(a.value, b.value);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, k) => jsonEqual(item, b[k]));
  }
  if (isDict(a) || isDict(b)) {
    if (!isDict(a) || !isDict(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => has(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

// --------------------------------------------------------------------------- dates

// Dates are BigInt microseconds since 1970-01-01T00:00:00Z, like Python's aware datetimes.
const MIN_US = -62135596800n * US; // 0001-01-01T00:00:00Z
const MAX_US = 253402300799n * US + 999999n; // 9999-12-31T23:59:59.999999Z
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function floorDiv(a, b) {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function daysFromCivil(y, m, d) {
  // Howard Hinnant's algorithm (proleptic Gregorian calendar).
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z) {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function daysInMonth(y, m) {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

const RFC3339_RE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})$/;

/**
 * `_util.parse_datetime`: RFC 3339 with a timezone (Python's `datetime.fromisoformat` ranges:
 * years 1-9999, seconds 0-59, offsets strictly within 24 hours); fractions beyond
 * microseconds are truncated. Returns BigInt microseconds (UTC). Throws ValueErr.
 */
export function parseDatetime(text) {
  if (typeof text !== 'string' || pyLenOver(text, 64)) throw new ValueErr('not a date-time');
  const m = RFC3339_RE.exec(text);
  if (!m) throw new ValueErr('not an RFC 3339 date-time with a timezone');
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    throw new ValueErr('date-time out of range');
  }
  const frac = BigInt((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6)));
    if (Math.abs(offsetMinutes) >= 24 * 60) throw new ValueErr('offset out of range');
  }
  const seconds =
    BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + s - offsetMinutes * 60);
  const us = seconds * US + frac;
  if (us < MIN_US || us > MAX_US) throw new ValueErr('date value out of range');
  return us;
}

/** `12 November 2026` (the UTC date). */
export function humanDate(us) {
  const [y, m, d] = civilFromDays(Number(floorDiv(us, DAY_US)));
  return `${d} ${MONTHS[m - 1]} ${y}`;
}

/** `YYYY-MM-DDTHH:MM:SSZ` (as `_util.format_datetime`). */
export function formatDatetime(us) {
  const days = floorDiv(us, DAY_US);
  const [y, m, d] = civilFromDays(Number(days));
  const secs = Number(floorDiv(us - days * DAY_US, US));
  const two = (v) => String(v).padStart(2, '0');
  return `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}T${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}Z`;
}

function truncateToSeconds(us) {
  return floorDiv(us, US) * US;
}

/** Python's `datetime.timestamp()` (a float). */
function timestamp(us) {
  const abs = us < 0n ? -us : us;
  if (abs < 2n ** 53n) return Number(us) / 1e6; // exact operands: correctly rounded, as Python
  return Number(floorDiv(us, US)) + Number(us - floorDiv(us, US) * US) / 1e6;
}

/** `_util.is_numeric_date`: an int or a finite float, never a boolean. */
function isNumericDate(v) {
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'bigint') return true;
  return v instanceof PyFloat && Number.isFinite(v.value);
}

/** `_numeric_date_matches`: the claim equals the date as whole seconds or as a float. */
function numericDateMatches(claim, when) {
  if (!isNumericDate(claim)) return false;
  const ts = timestamp(when);
  const floor = Math.floor(ts);
  if (typeof claim === 'bigint') return claim === BigInt(floor);
  const v = claim instanceof PyFloat ? claim.value : claim;
  return v === floor || v === ts;
}

/** `_util.from_numeric_date`: Python's `datetime.fromtimestamp(value, UTC)`. Throws ValueErr. */
function fromNumericDate(v) {
  if (!isNumericDate(v)) throw new ValueErr('not a NumericDate');
  let us;
  if (typeof v === 'bigint') us = v * US;
  else if (typeof v === 'number') us = BigInt(v) * US;
  else {
    const whole = Math.trunc(v.value);
    let frac = (v.value - whole) * 1e6;
    const rounded = Math.round(frac);
    // round half to even, as CPython's _PyTime_Round(ROUND_HALF_EVEN)
    frac = Math.abs(frac % 1) === 0.5 ? 2 * Math.round(frac / 2) : rounded;
    us = BigInt(whole) * US + BigInt(frac);
  }
  if (us < MIN_US || us > MAX_US) throw new ValueErr('NumericDate out of range');
  return us;
}

/** The current moment as BigInt microseconds. */
export function nowUs() {
  return BigInt(Date.now()) * 1000n;
}

// --------------------------------------------------------------------------- keys

const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function bytesToBigInt(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function onP256(x, y) {
  if (x >= P256_P || y >= P256_P) return false;
  const mod = (v) => ((v % P256_P) + P256_P) % P256_P;
  return mod(y * y) === mod(x * x * x - 3n * x + P256_B);
}

/** `keys._required_ec_members`: crv, kty, x, y as non-empty strings; EC P-256 only. */
function requiredEcMembers(jwk) {
  if (!isDict(jwk)) throw new ValueErr('not a JWK');
  const members = {};
  for (const name of ['crv', 'kty', 'x', 'y']) {
    const value = get(jwk, name);
    if (!isStr(value) || !value || pyLenOver(value, MAX_JWK_MEMBER_CHARS)) {
      throw new ValueErr(`JWK member ${name} is missing`);
    }
    members[name] = value;
  }
  if (members.kty !== 'EC' || members.crv !== 'P-256') throw new ValueErr('not a P-256 key');
  return members;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** RFC 7638 thumbprint (SHA-256, base64url) of an EC P-256 JWK. Throws ValueErr. */
export async function jwkThumbprint(jwk) {
  const m = requiredEcMembers(jwk);
  const canonical = `{"crv":${JSON.stringify(m.crv)},"kty":${JSON.stringify(m.kty)},"x":${JSON.stringify(m.x)},"y":${JSON.stringify(m.y)}}`;
  return b64urlEncode(await sha256(utf8Encoder.encode(canonical)));
}

/**
 * `keys.public_key_from_jwk`: a P-256 public key as a WebCrypto key, refusing private key
 * material, non-canonical or wrong-length coordinates and points off the curve. Throws ValueErr.
 */
async function publicKeyFromJwk(jwk) {
  const m = requiredEcMembers(jwk);
  if (has(jwk, 'd')) throw new ValueErr('private key material');
  const x = b64urlDecode(m.x);
  const y = b64urlDecode(m.y);
  if (x.length !== 32 || y.length !== 32) throw new ValueErr('wrong coordinate length');
  if (!onP256(bytesToBigInt(x), bytesToBigInt(y))) throw new ValueErr('not on P-256');
  try {
    return await crypto.subtle.importKey(
      'jwk',
      { kty: 'EC', crv: 'P-256', x: m.x, y: m.y, ext: true },
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
  } catch {
    throw new ValueErr('not a P-256 key');
  }
}

async function ecdsaVerify(publicKey, signature, data) {
  if (signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, data);
  } catch {
    return false;
  }
}

// --------------------------------------------------------------------------- compact JWS

/**
 * `vcjwt.parse_compact`: split a compact JWS and decode its header and payload (canonical
 * base64url of strict JSON objects); not verified. Throws UnreadableInput.
 */
function parseCompact(token) {
  if (!isStr(token)) throw new UnreadableInput('This is not a certificate token.', 'not_a_token');
  token = pyStrip(token);
  if (pyLenOver(token, MAX_TOKEN_CHARS))
    throw new UnreadableInput('The certificate token is too large.', 'too_large');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) {
    throw new UnreadableInput(
      'This is not a certificate token (expected three parts separated by dots).',
      'not_a_token',
    );
  }
  const decoded = [];
  for (const [part, what] of [
    [parts[0], 'header'],
    [parts[1], 'contents'],
  ]) {
    let value;
    try {
      value = jsonFromBytes(b64urlDecode(part));
    } catch (e) {
      if (!(e instanceof ValueErr)) throw e;
      throw new UnreadableInput(`The certificate token's ${what} cannot be read.`, 'not_a_token');
    }
    if (!isDict(value))
      throw new UnreadableInput(`The certificate token's ${what} cannot be read.`, 'not_a_token');
    decoded.push(value);
  }
  if (!B64URL_RE.test(parts[2])) {
    throw new UnreadableInput("The certificate token's signature cannot be read.", 'not_a_token');
  }
  return { token, header: decoded[0], payload: decoded[1] };
}

/** `vcjwt.verify_es256`: the signature only, over the exact ASCII `header.payload`. */
async function verifyEs256(token, publicKey) {
  const cut = token.lastIndexOf('.');
  const signingInput = token.slice(0, cut);
  let signature;
  try {
    signature = b64urlDecode(token.slice(cut + 1));
  } catch {
    return false;
  }
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(signingInput)) return false;
  if (signature.length !== 64 || signingInput.split('.').length !== 2) return false;
  return ecdsaVerify(publicKey, signature, utf8Encoder.encode(signingInput));
}

// --------------------------------------------------------------------------- bounded inflate

/**
 * Decompress with `DecompressionStream` ("deflate" = zlib, "gzip"), stopping once the output
 * passes `max` bytes. Returns `{data}`, `{tooLarge: true}` or `{error: true}` (bad, truncated
 * or followed by more data: the browser refuses those, as Python's checks do).
 */
export async function inflate(bytes, format, max) {
  let reader;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
    reader = stream.getReader();
  } catch {
    return { error: true };
  }
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        reader.cancel().catch(() => {});
        return { tooLarge: true };
      }
      chunks.push(value);
    }
  } catch {
    return { error: true };
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return { data };
}

// --------------------------------------------------------------------------- status lists

function statusMalformed(message) {
  return new StatusListError(`The status list is not valid: ${message}`, 'status_list_malformed');
}

/** `StatusBits.decode`: "u" + base64url of one GZIP member, bounded; at least 131,072 bits. */
async function decodeStatusBits(encoded) {
  if (!isStr(encoded)) throw statusMalformed('its encoded list is not text.');
  if (pyLenOver(encoded, MAX_ENCODED_CHARS)) {
    throw new StatusListError(
      'The status list is too large (its encoded list is over 1 MB).',
      'status_list_too_large',
    );
  }
  if (!encoded.startsWith('u'))
    throw statusMalformed("its encoded list is not multibase base64url (prefix 'u').");
  let compressed;
  try {
    compressed = b64urlDecode(encoded.slice(1));
  } catch {
    throw statusMalformed('its encoded list is not base64url.');
  }
  const out = await inflate(compressed, 'gzip', MAX_DECODED_BYTES);
  if (out.tooLarge) {
    throw new StatusListError(
      'The status list is too large (over 2 MB once decompressed).',
      'status_list_too_large',
    );
  }
  if (out.error) throw statusMalformed('its encoded list is not GZIP data.');
  if (out.data.length * 8 < MIN_ENTRIES) {
    throw new StatusListError(
      `The status list is too short (${out.data.length * 8} entries; at least ${MIN_ENTRIES} are required).`,
      'status_list_length_error',
    );
  }
  return out.data;
}

/** Bit `index` of a status list (index 0 is the most significant bit of the first byte). */
function statusBit(bits, index) {
  return Boolean(bits[index >> 3] & (0x80 >> (index & 7)));
}

/**
 * `status.load_status_list`: verify a signed status list against a trust list.
 * Returns `{url, purpose, issuerId, validFrom, validUntil, bits, token}`; throws StatusListError.
 */
async function loadStatusList(token, trust) {
  let parsed;
  try {
    parsed = parseCompact(token);
  } catch (e) {
    if (e instanceof UnreadableInput) throw statusMalformed('it is not a signed token.');
    throw e;
  }
  const header = parsed.header;
  if (get(header, 'alg') !== 'ES256') {
    throw new StatusListError(
      'The status list was not signed with ES256, so it cannot be trusted.',
      'status_list_unsupported_algorithm',
    );
  }
  const typ = get(header, 'typ');
  if (has(header, 'crit') || has(header, 'b64'))
    throw statusMalformed('its token uses unsupported header parameters.');
  if (!isNone(typ) && (!isStr(typ) || !ACCEPTED_TYP.has(typ.toLowerCase())))
    throw statusMalformed('its token type is not JWT.');
  const kid = get(header, 'kid');
  const found = isStr(kid) ? trust.lookup(kid) : null;
  if (!found)
    throw new StatusListError(
      'The status list was not signed by any key on the trusted list.',
      'status_list_unknown_key',
    );
  const { issuer: signer, key } = found;
  if (!(await verifyEs256(parsed.token, key.publicKey))) {
    throw new StatusListError(
      'The status list has been changed since it was signed, so it cannot be used.',
      'status_list_bad_signature',
    );
  }

  const payload = parsed.payload;
  if (has(payload, 'vc') || has(payload, 'vp')) throw statusMalformed("it uses the legacy 'vc' claim.");
  const context = get(payload, '@context');
  if (!Array.isArray(context) || !context.length || context[0] !== VC2_CONTEXT)
    throw statusMalformed('its @context is not VCDM 2.0.');
  const types = get(payload, 'type');
  if (
    !Array.isArray(types) ||
    !types.includes('VerifiableCredential') ||
    !types.includes(LIST_CREDENTIAL_TYPE)
  ) {
    throw statusMalformed(`it is not a ${LIST_CREDENTIAL_TYPE}.`);
  }
  const url = get(payload, 'id');
  if (!isStatusListUrl(url)) throw statusMalformed('its id is not an absolute URL.');
  const issuer = get(payload, 'issuer');
  const issuerId = isDict(issuer) ? get(issuer, 'id') : issuer;
  if (!isStr(issuerId) || !issuerId) throw statusMalformed('it has no issuer.');
  let validFrom;
  let validUntil = null;
  try {
    validFrom = parseDatetime(get(payload, 'validFrom'));
    if (!isNone(get(payload, 'validUntil'))) validUntil = parseDatetime(payload.validUntil);
  } catch {
    throw statusMalformed('its dates are not RFC 3339 date-times.');
  }
  if (validUntil !== null && validUntil <= validFrom)
    throw statusMalformed('its validUntil is not after its validFrom.');
  const subject = get(payload, 'credentialSubject');
  if (!isDict(subject)) throw statusMalformed('it has no credentialSubject.');
  const subjectType = get(subject, 'type');
  if (
    subjectType !== LIST_SUBJECT_TYPE &&
    !(Array.isArray(subjectType) && subjectType.includes(LIST_SUBJECT_TYPE))
  ) {
    throw statusMalformed(`its subject is not a ${LIST_SUBJECT_TYPE}.`);
  }
  const purpose = get(subject, 'statusPurpose');
  if (purpose !== 'revocation' && purpose !== 'suspension') {
    throw statusMalformed("its statusPurpose is not 'revocation' or 'suspension'.");
  }
  if (
    get(payload, 'iss') !== issuerId ||
    get(payload, 'jti') !== url ||
    !numericDateMatches(get(payload, 'nbf'), validFrom) ||
    (validUntil === null && has(payload, 'exp')) ||
    (validUntil !== null && !numericDateMatches(get(payload, 'exp'), validUntil)) ||
    has(payload, 'sub')
  ) {
    throw new StatusListError(
      "The status list's signed claims do not agree with its contents.",
      'status_list_claims_mismatch',
    );
  }
  if (issuerId !== signer.id) {
    throw new StatusListError(
      'The status list names a different issuer from the one whose key signed it.',
      'status_list_issuer_mismatch',
    );
  }
  if (!trust.declaresStatusList(signer.id, url, purpose)) {
    throw new StatusListError(
      `The trust list does not name ${url} as a ${purpose} list of ${signer.name}.`,
      'status_list_not_declared',
    );
  }
  if (!maySignAt(key, validFrom)) {
    throw new StatusListError(
      'The status list is dated outside the period when its signing key could be used.',
      'status_list_key_not_valid',
    );
  }
  if (isCompromisedAt(key, validFrom)) {
    throw new StatusListError(
      'The status list was signed after its signing key was reported compromised.',
      'status_list_key_compromised',
    );
  }
  const encoded = get(subject, 'encodedList');
  if (!isStr(encoded)) throw statusMalformed('it has no encodedList.');
  const bits = await decodeStatusBits(encoded);
  return { url, purpose, issuerId, validFrom, validUntil, bits, token: parsed.token };
}

// --------------------------------------------------------------------------- trust lists

function maySignAt(key, when) {
  const t = truncateToSeconds(when);
  if (t < truncateToSeconds(key.validFrom)) return false;
  return key.validUntil === null || t < truncateToSeconds(key.validUntil);
}

function isCompromisedAt(key, when) {
  if (key.compromisedAt === null) return false;
  return truncateToSeconds(when) >= truncateToSeconds(key.compromisedAt);
}

const pairKey = (a, b) => JSON.stringify([a, b]);

/** A verified trust list (made only by `loadTrustList`). */
export class TrustList {
  constructor({ name, issuedAt, validUntil, issuers, rootThumbprint, statusLists }) {
    this.name = name;
    this.issuedAt = issuedAt;
    this.validUntil = validUntil;
    this.issuers = issuers;
    this.rootThumbprint = rootThumbprint;
    this.statusLists = statusLists ?? new Map();
    this._byKid = new Map();
    this._declared = new Map();
    this._pairs = new Map();
    for (const issuer of issuers) {
      for (const key of issuer.keys) if (!this._byKid.has(key.kid)) this._byKid.set(key.kid, { issuer, key });
      for (const pair of issuer.statusLists) {
        this._declared.set(pairKey(issuer.id, pair.revocation), 'revocation');
        this._pairs.set(pairKey(issuer.id, pair.revocation), pair);
        if (pair.suspension !== null) this._declared.set(pairKey(issuer.id, pair.suspension), 'suspension');
      }
    }
  }

  /** The issuer and key whose `kid` is exactly `kid` (never anything from a token header). */
  lookup(kid) {
    return isStr(kid) ? (this._byKid.get(kid) ?? null) : null;
  }

  declaresStatusList(issuerId, url, purpose) {
    return this._declared.get(pairKey(issuerId, url)) === purpose;
  }

  statusPair(issuerId, revocationUrl) {
    return this._pairs.get(pairKey(issuerId, revocationUrl)) ?? null;
  }
}

function trustMalformed(message) {
  return new TrustListError(`The trust list is not valid: ${message}`, 'trust_list_malformed');
}

function trustStr(value, what) {
  if (!isStr(value) || !value || pyLenOver(value, MAX_TRUST_TEXT))
    throw trustMalformed(`${what} is missing or not text.`);
  return value;
}

function trustOptStr(value, what) {
  return isNone(value) ? null : trustStr(value, what);
}

function trustDate(value, what) {
  try {
    return parseDatetime(value);
  } catch {
    throw trustMalformed(`${what} is not a date-time.`);
  }
}

function parsePairs(raw, issuerId) {
  if (isNone(raw)) return [];
  if (!Array.isArray(raw) || raw.length > MAX_PAIRS)
    throw trustMalformed(`issuer '${issuerId}' 'statusLists' is not a list.`);
  return raw.map((item) => {
    if (!isDict(item) || !Object.keys(item).every((k) => k === 'revocation' || k === 'suspension')) {
      throw trustMalformed(`issuer '${issuerId}' has a status list entry of the wrong shape.`);
    }
    return {
      revocation: trustStr(get(item, 'revocation'), `issuer '${issuerId}' revocation list`),
      suspension: trustOptStr(get(item, 'suspension'), `issuer '${issuerId}' suspension list`),
    };
  });
}

function parseIdentifiers(raw, issuerId) {
  if (isNone(raw)) return [];
  if (!Array.isArray(raw) || raw.length > MAX_IDENTIFIERS)
    throw trustMalformed(`issuer '${issuerId}' 'otherIdentifiers' is not a list.`);
  return raw.map((item) => {
    if (!isDict(item)) throw trustMalformed(`issuer '${issuerId}' has an identifier that is not an object.`);
    return [
      trustStr(get(item, 'name'), `issuer '${issuerId}' identifier name`),
      trustStr(get(item, 'value'), `issuer '${issuerId}' identifier value`),
    ];
  });
}

/** `trust._parse_issuers` followed by `_check_issuers` (keys are imported into WebCrypto). */
async function parseIssuers(raw, version) {
  if (!Array.isArray(raw)) throw trustMalformed("'issuers' is not a list.");
  const issuers = [];
  raw.forEach((item, i) => {
    if (!isDict(item)) throw trustMalformed(`issuer #${i + 1} is not an object.`);
    const id = trustStr(get(item, 'id'), `issuer #${i + 1} id`);
    const name = trustStr(get(item, 'name'), `issuer '${id}' name`);
    const url = trustOptStr(get(item, 'url'), `issuer '${id}' url`);
    if (version < 2 && (has(item, 'otherIdentifiers') || has(item, 'statusLists'))) {
      throw trustMalformed('a version 1 list uses version 2 members.');
    }
    const rawKeys = get(item, 'keys');
    if (!Array.isArray(rawKeys)) throw trustMalformed(`issuer '${id}' has no 'keys' list.`);
    const keys = rawKeys.map((rawKey, j) => {
      const where = `key #${j + 1} of issuer '${id}'`;
      if (!isDict(rawKey)) throw trustMalformed(`${where} is not an object.`);
      const kid = trustStr(get(rawKey, 'kid'), `${where} kid`);
      const jwk = get(rawKey, 'jwk');
      if (!isDict(jwk) || !Object.values(jwk).every(isStr))
        throw trustMalformed(`${where} has no valid 'jwk'.`);
      if (has(jwk, 'd')) throw trustMalformed(`${where} contains private key material.`);
      const validFrom = trustDate(get(rawKey, 'validFrom'), `${where} validFrom`);
      const validUntil = isNone(get(rawKey, 'validUntil'))
        ? null
        : trustDate(rawKey.validUntil, `${where} validUntil`);
      if (version < 2 && has(rawKey, 'compromisedAt'))
        throw trustMalformed('a version 1 list uses version 2 members.');
      const compromisedAt = isNone(get(rawKey, 'compromisedAt'))
        ? null
        : trustDate(rawKey.compromisedAt, `${where} compromisedAt`);
      const kept = Object.create(null);
      for (const m of ['kty', 'crv', 'x', 'y']) if (has(jwk, m)) kept[m] = jwk[m];
      return { kid, jwk: kept, validFrom, validUntil, compromisedAt, publicKey: null };
    });
    issuers.push({
      id,
      name,
      url,
      keys,
      statusLists: parsePairs(get(item, 'statusLists'), id),
      otherIdentifiers: parseIdentifiers(get(item, 'otherIdentifiers'), id),
    });
  });
  await checkIssuers(issuers);
  return issuers;
}

/** `trust._check_issuers`: unique ids, kids and URLs; every kid is its key's thumbprint. */
async function checkIssuers(issuers) {
  const ids = new Set();
  const kids = new Set();
  const urls = new Set();
  for (const issuer of issuers) {
    if (ids.has(issuer.id)) throw trustMalformed(`issuer '${issuer.id}' is listed twice.`);
    ids.add(issuer.id);
    for (const key of issuer.keys) {
      let thumbprint;
      try {
        thumbprint = await jwkThumbprint(key.jwk);
        key.publicKey = await publicKeyFromJwk(key.jwk);
      } catch (e) {
        if (!(e instanceof ValueErr)) throw e;
        throw trustMalformed(`a key of issuer '${issuer.id}' is not a P-256 key.`);
      }
      if (thumbprint !== key.kid)
        throw trustMalformed(`key '${key.kid}' of issuer '${issuer.id}' does not match its thumbprint.`);
      if (kids.has(key.kid)) throw trustMalformed(`key '${key.kid}' is listed more than once.`);
      kids.add(key.kid);
      if (key.validUntil !== null && key.validUntil <= key.validFrom)
        throw trustMalformed(`key '${key.kid}' has an empty validity window.`);
    }
    for (const pair of issuer.statusLists) {
      for (const url of [pair.revocation, pair.suspension]) {
        if (url === null) continue;
        if (!isStatusListUrl(url)) throw trustMalformed(`status list '${url}' is not an absolute URL.`);
        if (urls.has(url)) throw trustMalformed(`status list '${url}' is declared more than once.`);
        urls.add(url);
      }
    }
    for (const [name, value] of issuer.otherIdentifiers) {
      for (const v of [name, value]) {
        if (!pyStrip(v) || pyLenOver(v, 500))
          throw trustMalformed(`an identifier of issuer '${issuer.id}' is not a (name, value).`);
      }
    }
  }
}

async function verifyStapled(tokens, trust) {
  const lists = new Map();
  let total = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i];
    if (!isStr(token)) throw trustMalformed(`stapled status list #${i + 1} is not a token.`);
    let statusList;
    try {
      statusList = await loadStatusList(token, trust);
    } catch (e) {
      if (e instanceof StatusListError)
        throw trustMalformed(`stapled status list #${i + 1} cannot be verified (${e.code}): ${e.message}`);
      throw e;
    }
    if (lists.has(statusList.url)) throw trustMalformed(`status list '${statusList.url}' is stapled twice.`);
    total += statusList.bits.length;
    if (total > MAX_STAPLED_STATUS_BYTES) throw trustMalformed('its stapled status lists are too large.');
    lists.set(statusList.url, statusList);
  }
  return lists;
}

/**
 * `trust.load_trust_list`: parse a `trust.json` file (bytes or text) and verify it against the
 * pinned root thumbprint `anchor` at `now` (BigInt microseconds). Throws TrustListError.
 */
export async function loadTrustList(input, anchor, now) {
  const data = typeof input === 'string' ? utf8Encoder.encode(input) : input;
  if (data.length > MAX_TRUST_LIST_BYTES) throw trustMalformed('the file is larger than 5 MB.');
  let document;
  try {
    document = jsonFromBytes(stripBomBytes(data));
  } catch {
    throw trustMalformed('the file is not JSON.');
  }
  const version = isDict(document) ? get(document, 'version') : undefined;
  if (
    !isDict(document) ||
    get(document, 'type') !== TRUST_LIST_TYPE ||
    (version !== 1 && version !== 2) ||
    !isStr(get(document, 'token'))
  ) {
    throw trustMalformed(`the file is not a version 1 or 2 ${TRUST_LIST_TYPE}.`);
  }
  let parsed;
  try {
    parsed = parseCompact(document.token);
  } catch (e) {
    if (e instanceof UnreadableInput) throw trustMalformed('its signed token cannot be read.');
    throw e;
  }
  const header = parsed.header;
  if (get(header, 'alg') !== 'ES256') throw trustMalformed('it is not signed with ES256.');
  const expectedTyp = TYP_BY_VERSION[version];
  if (get(header, 'typ') !== expectedTyp) throw trustMalformed(`its token type is not '${expectedTyp}'.`);
  if (has(header, 'crit') || has(header, 'b64'))
    throw trustMalformed('its token uses unsupported header parameters.');
  const jwk = get(header, 'jwk');
  if (!isDict(jwk) || !Object.values(jwk).every(isStr))
    throw trustMalformed('its token does not carry the root public key.');
  let rootPublic;
  let thumbprint;
  try {
    rootPublic = await publicKeyFromJwk(jwk);
    thumbprint = await jwkThumbprint(jwk);
  } catch (e) {
    if (!(e instanceof ValueErr)) throw e;
    throw trustMalformed('its root key is not a P-256 public key.');
  }
  if (!isStr(anchor) || thumbprint !== pyStrip(anchor)) {
    throw new TrustListError(
      'The trust list was not signed by the trusted root key (the anchor does not match).',
      'trust_list_untrusted_root',
    );
  }
  if (!(await verifyEs256(parsed.token, rootPublic))) {
    throw new TrustListError(
      'The trust list has been changed since it was signed, so it cannot be used.',
      'trust_list_bad_signature',
    );
  }
  if (get(header, 'kid') !== thumbprint) throw trustMalformed('its key id does not match its root key.');

  const payload = parsed.payload;
  const iat = get(payload, 'iat');
  if (!isNumericDate(iat)) throw trustMalformed('it has no issue date.');
  const exp = get(payload, 'exp');
  let validUntil = null;
  if (!isNone(exp)) {
    if (!isNumericDate(exp)) throw trustMalformed('its expiry date is not a date.');
    try {
      validUntil = fromNumericDate(exp);
    } catch {
      throw trustMalformed('its expiry date is out of range.');
    }
    if (now >= validUntil) {
      throw new TrustListError(
        `The trust list expired on ${humanDate(validUntil)}; get the current trust list and try again.`,
        'trust_list_expired',
      );
    }
  }
  let issuedAt;
  try {
    issuedAt = fromNumericDate(iat);
  } catch {
    throw trustMalformed('its issue date is out of range.');
  }
  const name = trustStr(get(payload, 'iss'), 'the trust list name');
  const issuers = await parseIssuers(get(payload, 'issuers'), version);
  const trust = new TrustList({ name, issuedAt, validUntil, issuers, rootThumbprint: thumbprint });
  const rawStapled = get(payload, 'statusListCredentials');
  if (isNone(rawStapled)) return trust;
  if (version < 2) throw trustMalformed('a version 1 list uses version 2 members.');
  if (!Array.isArray(rawStapled) || rawStapled.length > MAX_STAPLED_STATUS_LISTS) {
    throw trustMalformed("'statusListCredentials' is not a list of tokens.");
  }
  trust.statusLists = await verifyStapled(rawStapled, trust);
  return trust;
}

// --------------------------------------------------------------------------- reasons

export const REASONS = {
  valid: 'This certificate is genuine, has not been changed, and is in date.',
  malformed:
    'This is not a certificate this checker can read: it is damaged or is not a digital training certificate.',
  unsupported_algorithm:
    'This certificate was signed in a way this checker does not accept, so it cannot be trusted.',
  unknown_key:
    'This certificate was not signed by any training provider on the trusted list, so it cannot be trusted.',
  issuer_mismatch:
    'This certificate names a different training provider from the one that signed it, so it cannot be trusted.',
  key_not_valid:
    "This certificate is dated outside the period when the training provider's signing key could be used, so it cannot be trusted.",
  key_compromised:
    "This certificate is dated after the training provider's signing key was reported stolen or misused, so it cannot be trusted.",
  bad_signature:
    'This certificate has been changed since it was issued, or its signature is damaged, so it cannot be trusted.',
  claims_mismatch:
    'The details inside this certificate do not agree with each other (for example its dates or reference number), so it cannot be trusted.',
  revoked:
    'This certificate has been withdrawn (revoked) by the training provider, so it is no longer valid.',
  suspended:
    'This certificate has been suspended by the training provider, so it should not be relied on for now; it may be reinstated later.',
  pdf_mismatch: "The PDF's attached credential.json does not match its signed credential.",
};

const MISSING_REVOCATION =
  'Revocation status could not be checked: no status list for this issuer was provided.';
const UNDECLARED_REVOCATION =
  "Revocation status could not be checked: the trust list does not name this certificate's status list.";
const MISSING_SUSPENSION =
  'Suspension status could not be checked: no suspension list for this issuer was provided.';
const UNSUPPORTED_STATUS =
  'Some status information in this certificate is of a kind this checker cannot read, so it was not checked.';
const OUT_OF_RANGE =
  "Revocation status could not be checked: the certificate's entry is outside its status list.";

function reasonText(code, validFrom = null, validUntil = null) {
  if (code === 'expired' && validUntil !== null) {
    return `This certificate expired on ${humanDate(validUntil)}, so the training it records is out of date.`;
  }
  if (code === 'not_yet_valid' && validFrom !== null) {
    return `This certificate does not become valid until ${humanDate(validFrom)}.`;
  }
  return REASONS[code];
}

// --------------------------------------------------------------------------- contents

function reqStr(obj, name) {
  const value = get(obj, name);
  if (!isStr(value) || !pyStrip(value)) throw new Malformed(name);
  return value;
}

function optStr(obj, name) {
  const value = get(obj, name);
  return isStr(value) && pyStrip(value) ? value : null;
}

function contentDate(value) {
  try {
    return parseDatetime(value);
  } catch {
    throw new Malformed('date');
  }
}

function formatAlignment(item) {
  const name = optStr(item, 'targetName');
  if (name === null) return null;
  const framework = optStr(item, 'targetFramework');
  const code = optStr(item, 'targetCode');
  let text = framework ? `${framework}: ${name}` : name;
  if (code && !name.includes(code)) text += ` [${code}]`;
  return text;
}

/** `verify._status_refs`: the Bitstring Status List entries, and whether others exist. */
function statusRefs(raw) {
  if (isNone(raw)) return [[], false];
  const items = Array.isArray(raw) ? raw : [raw];
  if (!items.length || items.length > MAX_STATUS_ENTRIES) throw new Malformed('credentialStatus');
  const refs = [];
  let unsupported = false;
  for (const item of items) {
    if (!isDict(item)) throw new Malformed('credentialStatus');
    const types = get(item, 'type');
    const typeList = isStr(types) ? [types] : types;
    if (!Array.isArray(typeList) || !typeList.every(isStr)) throw new Malformed('credentialStatus type');
    if (!typeList.includes(ENTRY_TYPE)) {
      unsupported = true;
      continue;
    }
    const purpose = get(item, 'statusPurpose');
    if (!isStr(purpose)) throw new Malformed('statusPurpose');
    if (purpose !== 'revocation' && purpose !== 'suspension') {
      unsupported = unsupported || (purpose !== 'refresh' && purpose !== 'message');
      continue;
    }
    const index = get(item, 'statusListIndex');
    if (!isStr(index) || !INDEX_RE.test(index)) throw new Malformed('statusListIndex');
    const size = has(item, 'statusSize') ? item.statusSize : 1;
    if (typeof size !== 'number' || size !== 1) throw new Malformed('statusSize');
    const url = get(item, 'statusListCredential');
    if (!isStatusListUrl(url)) throw new Malformed('statusListCredential');
    refs.push({ purpose, url, index: Number(index) });
  }
  return [refs, unsupported];
}

// --------------------------------------------------------------------------- assessments

const MAX_EVIDENCE = 10;
const MAX_SHOWN_CHARS = 1000;
// `verify._UNSHOWN_RE` (keep them equal): control, zero-width, bidi-override and space characters.
const UNSHOWN_RE = /[\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]+/gu;
const EVIDENCE_DESCRIPTION_RE = /^Assessed by (.+?) on ([0-9]{4})-([0-9]{2})-([0-9]{2}); assessor (.+)\.$/u;
const EVIDENCE_NARRATIVE_RE =
  /^(.+?) of practice on [0-9]{1,2} [A-Za-z]+ [0-9]{4} by (.+?)\. ([0-9]{1,4}) criteria met(?:, ([0-9]{1,4}) not applicable)?\.(?: |$)/u;
const CRITERIA_TOTAL_RE = /every one of its ([0-9]{1,4}) criteria/u;

/** `verify._shown`: one line, no control characters, at most 1,000 code points; or null. */
function shown(value) {
  if (!isStr(value)) return null;
  const text = value.replace(UNSHOWN_RE, ' ').replace(/^ +| +$/g, '');
  if (!text) return null;
  const chars = Array.from(text);
  return chars.length > MAX_SHOWN_CHARS ? chars.slice(0, MAX_SHOWN_CHARS - 1).join('') + '\u2026' : text;
}

/** `verify._who`: the assessor's name and role ("name, role" and "name (role)" must agree). */
function assessorOf(descriptionWho, narrativeWho) {
  let start = 0;
  for (let i = descriptionWho.indexOf(', ', start); i !== -1; i = descriptionWho.indexOf(', ', start)) {
    const name = descriptionWho.slice(0, i);
    const role = descriptionWho.slice(i + 2);
    if (name && role && narrativeWho === `${name} (${role})`) return [name, role];
    start = i + 1;
  }
  return null;
}

function calendarDate(y, m, d) {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m) ? [y, m, d] : null;
}

/** `verify._assessment`: one evidence item. `assessedOn` is `[y, m, d]` or null. */
function readAssessment(item, total) {
  const kind = shown(get(item, 'name')) ?? 'Evidence';
  const method = shown(get(item, 'genre'));
  const narrative = shown(get(item, 'narrative'));
  const description = shown(get(item, 'description'));
  const found = EVIDENCE_DESCRIPTION_RE.exec(description ?? '');
  const told = EVIDENCE_NARRATIVE_RE.exec(narrative ?? '');
  const bare = {
    kind,
    method,
    assessorName: null,
    assessorRole: null,
    assessedOn: null,
    criteriaMet: null,
    criteriaNotApplicable: null,
    criteriaTotal: null,
    narrative: narrative ?? description,
  };
  if (found === null || told === null) return bare;
  const who = assessorOf(found[5], told[2]);
  const met = Number(told[3]);
  const na = told[4] === undefined ? null : Number(told[4]);
  return {
    ...bare,
    assessorName: who ? who[0] : null,
    assessorRole: who ? who[1] : null,
    assessedOn: calendarDate(Number(found[2]), Number(found[3]), Number(found[4])),
    criteriaMet: met,
    criteriaNotApplicable: na,
    criteriaTotal: total !== null && met + (na ?? 0) === total ? total : null,
    narrative,
  };
}

/** `verify.assessments_of`: how competence was assessed, from the (verified) payload. */
function readAssessments(payload) {
  const raw = get(payload, 'evidence');
  if (isNone(raw)) return [];
  const items = Array.isArray(raw) ? raw : [raw];
  let total = null;
  const subject = get(payload, 'credentialSubject');
  const achievement = isDict(subject) ? get(subject, 'achievement') : undefined;
  const criteria = isDict(achievement) ? get(achievement, 'criteria') : undefined;
  const narrative = isDict(criteria) ? get(criteria, 'narrative') : undefined;
  if (isStr(narrative)) {
    const counted = CRITERIA_TOTAL_RE.exec(narrative);
    total = counted ? Number(counted[1]) : null;
  }
  return items
    .slice(0, MAX_EVIDENCE)
    .filter(isDict)
    .map((item) => readAssessment(item, total));
}

/** `Assessment.criteria`: "3 of 3 criteria met", "10 of 11 criteria met, 1 not applicable". */
export function assessmentCriteria(a) {
  if (a.criteriaMet === null) return null;
  const na = a.criteriaNotApplicable ?? 0;
  let text;
  if (a.criteriaTotal !== null) {
    text = `${a.criteriaMet} of ${a.criteriaTotal} ${a.criteriaTotal === 1 ? 'criterion' : 'criteria'} met`;
  } else {
    text = `${a.criteriaMet} ${a.criteriaMet === 1 ? 'criterion' : 'criteria'} met`;
  }
  return text + (na ? `, ${na} not applicable` : '');
}

/** `Assessment.summary`: the one plain-English line shown. */
export function assessmentSummary(a) {
  if (a.assessorName && a.assessorRole && a.assessedOn !== null) {
    let label = a.kind.startsWith('Observed practice') ? 'Observed in practice' : a.kind;
    if (a.method) {
      const first = a.method[0];
      label += ` (${first >= 'A' && first <= 'Z' ? first.toLowerCase() + a.method.slice(1) : a.method})`;
    }
    const criteria = assessmentCriteria(a);
    const when = humanDate(BigInt(daysFromCivil(...a.assessedOn)) * DAY_US);
    return `${label}: ${criteria ? `${criteria}; ` : ''}assessed by ${a.assessorName}, ${a.assessorRole}, on ${when}.`;
  }
  return a.narrative ? `${a.kind}: ${a.narrative}` : a.kind;
}

/** `verify._contents`: the fields relied on, checked for presence and type. Throws Malformed. */
function readContents(payload) {
  if (has(payload, 'vc') || has(payload, 'vp')) throw new Malformed('legacy vc claim');
  const context = get(payload, '@context');
  if (
    !Array.isArray(context) ||
    context.length < 2 ||
    context[0] !== VC2_CONTEXT ||
    !isStr(context[1]) ||
    !OB_CONTEXT_RE.test(context[1])
  ) {
    throw new Malformed('@context');
  }
  const types = get(payload, 'type');
  if (
    !Array.isArray(types) ||
    !types.includes('VerifiableCredential') ||
    (!types.includes('OpenBadgeCredential') && !types.includes('AchievementCredential'))
  ) {
    throw new Malformed('type');
  }
  const credentialId = reqStr(payload, 'id');
  const issuer = get(payload, 'issuer');
  let issuerId;
  if (isDict(issuer)) issuerId = reqStr(issuer, 'id');
  else if (isStr(issuer) && issuer) issuerId = issuer;
  else throw new Malformed('issuer');
  const validFrom = contentDate(get(payload, 'validFrom'));
  const validUntil = has(payload, 'validUntil') ? contentDate(payload.validUntil) : null;
  if (validUntil !== null && validUntil < validFrom) throw new Malformed('validUntil before validFrom');

  const subject = get(payload, 'credentialSubject');
  if (!isDict(subject)) throw new Malformed('credentialSubject');
  const subjectId = optStr(subject, 'id');
  const identifiers = has(subject, 'identifier') ? subject.identifier : [];
  if (!Array.isArray(identifiers)) throw new Malformed('identifier');
  if (subjectId === null && !identifiers.length) throw new Malformed('subject has neither id nor identifier');
  let learnerName = null;
  for (const ident of identifiers) {
    if (!isDict(ident)) throw new Malformed('identifier');
    if (learnerName === null && get(ident, 'identityType') === 'name' && get(ident, 'hashed') === false) {
      learnerName = optStr(ident, 'identityHash');
    }
  }
  const achievement = get(subject, 'achievement');
  if (!isDict(achievement)) throw new Malformed('achievement');
  const rawAlignments = has(achievement, 'alignment') ? achievement.alignment : [];
  if (!Array.isArray(rawAlignments)) throw new Malformed('alignment');
  const alignments = [];
  for (const item of rawAlignments.slice(0, MAX_ALIGNMENTS)) {
    if (!isDict(item)) throw new Malformed('alignment');
    const text = formatAlignment(item);
    if (text !== null) alignments.push(text);
  }
  const end = get(subject, 'activityEndDate');
  const activityEnd = isNone(end) ? null : contentDate(end);
  const [status, statusUnsupported] = statusRefs(get(payload, 'credentialStatus'));
  return {
    credentialId,
    issuerId,
    subjectId,
    learnerName,
    achievementName: reqStr(achievement, 'name'),
    achievementId: reqStr(achievement, 'id'),
    achievementVersion: optStr(achievement, 'version'),
    alignments,
    validFrom,
    validUntil,
    activityEnd,
    status,
    statusUnsupported,
    assessments: readAssessments(payload),
  };
}

function claimsMatch(payload, c) {
  if (get(payload, 'iss') !== c.issuerId) return false;
  if (get(payload, 'jti') !== c.credentialId) return false;
  if (!numericDateMatches(get(payload, 'nbf'), c.validFrom)) return false;
  if (c.validUntil === null) {
    if (has(payload, 'exp')) return false;
  } else if (!numericDateMatches(get(payload, 'exp'), c.validUntil)) {
    return false;
  }
  return !(has(payload, 'sub') && payload.sub !== c.subjectId);
}

function headerOk(header) {
  if (has(header, 'crit') || has(header, 'b64')) return false;
  const typ = get(header, 'typ');
  return isNone(typ) || (isStr(typ) && ACCEPTED_TYP.has(typ.toLowerCase()));
}

// --------------------------------------------------------------------------- status check

function usableList(found, url, purpose, signer, trust) {
  if (
    !found ||
    found.url !== url ||
    found.purpose !== purpose ||
    found.issuerId !== signer.id ||
    !trust.declaresStatusList(signer.id, url, purpose)
  ) {
    return null;
  }
  return found;
}

/** `verify._check_status`: revocation and paired suspension bits, "as of" and warnings. */
function checkStatus(contents, signer, trust, now, lists, maxAge) {
  const refs = contents.status;
  if (!refs.length) {
    return {
      code: null,
      checked: false,
      asOf: null,
      warnings: contents.statusUnsupported ? [UNSUPPORTED_STATUS] : [],
    };
  }
  const used = [];
  let revoked = false;
  let suspended = false;
  let revocationMissing = false;
  let suspensionMissing = false;
  let outOfRange = false;
  let undeclared = false;
  for (const ref of refs) {
    const toRead = [[ref.url, ref.purpose]];
    if (ref.purpose === 'revocation') {
      const pair = trust.statusPair(signer.id, ref.url);
      if (pair !== null && pair.suspension !== null && refs.every((other) => other.url !== pair.suspension)) {
        toRead.push([pair.suspension, 'suspension']);
      }
    }
    for (const [url, purpose] of toRead) {
      const found = usableList(lists.get(url), url, purpose, signer, trust);
      if (found === null) {
        if (purpose === 'revocation') {
          revocationMissing = true;
          undeclared = undeclared || !trust.declaresStatusList(signer.id, url, purpose);
        } else {
          suspensionMissing = true;
        }
      } else if (ref.index >= found.bits.length * 8) {
        outOfRange = true;
      } else {
        used.push(found);
        if (statusBit(found.bits, ref.index)) {
          if (purpose === 'revocation') revoked = true;
          else suspended = true;
        }
      }
    }
  }
  const notes = contents.statusUnsupported ? [UNSUPPORTED_STATUS] : [];
  if (revocationMissing) notes.push(undeclared ? UNDECLARED_REVOCATION : MISSING_REVOCATION);
  if (suspensionMissing) notes.push(MISSING_SUSPENSION);
  if (outOfRange) notes.push(OUT_OF_RANGE);
  let asOf = null;
  if (used.length) {
    asOf = used.reduce((min, s) => (s.validFrom < min ? s.validFrom : min), used[0].validFrom);
    const age = now - asOf;
    if (age > maxAge) {
      notes.push(
        `The revocation information is ${floorDiv(age, DAY_US)} days old (from ${humanDate(asOf)}); ask the issuer for a newer trust list.`,
      );
    } else {
      const ended = used.map((s) => s.validUntil).filter((when) => when !== null && now >= when);
      if (ended.length) {
        const first = ended.reduce((a, b) => (b < a ? b : a));
        notes.push(
          `The revocation information expired on ${humanDate(first)} (it is from ${humanDate(asOf)}); ask the issuer for a newer trust list.`,
        );
      }
    }
  }
  return {
    code: revoked ? 'revoked' : suspended ? 'suspended' : null,
    checked: used.length > 0 && !revocationMissing && !outOfRange,
    asOf,
    warnings: [...new Set(notes)],
  };
}

// --------------------------------------------------------------------------- verdicts

function failResult(source, code) {
  return {
    source,
    valid: false,
    reasonCode: code,
    reason: reasonText(code),
    credentialId: null,
    issuerId: null,
    issuerName: null,
    learnerName: null,
    achievementName: null,
    achievementId: null,
    alignments: [],
    validFrom: null,
    validUntil: null,
    achievementVersion: null,
    activityEnd: null,
    statusChecked: false,
    statusAsOf: null,
    warnings: [],
    issuerIdentifiers: [],
    trustName: null,
    assessments: [],
  };
}

function fullResult(source, code, c, signer, trust, status = null) {
  return {
    source,
    valid: code === 'valid',
    reasonCode: code,
    reason: reasonText(code, c.validFrom, c.validUntil),
    credentialId: c.credentialId,
    issuerId: signer.id,
    issuerName: signer.name,
    learnerName: c.learnerName,
    achievementName: c.achievementName,
    achievementId: c.achievementId,
    alignments: c.alignments,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    achievementVersion: c.achievementVersion,
    activityEnd: c.activityEnd,
    statusChecked: status ? status.checked : false,
    statusAsOf: status ? status.asOf : null,
    warnings: status ? status.warnings : [],
    issuerIdentifiers: signer.otherIdentifiers,
    trustName: trust.name,
    // Only a valid result says how competence was assessed (as `verify._result`).
    assessments: code === 'valid' ? c.assessments : [],
  };
}

/** `verify._assess`: checks 6-10, on contents whose signature verified. */
function assess(source, c, signer, key, trust, now, statusLists, maxAge) {
  if (c.issuerId !== signer.id) return fullResult(source, 'issuer_mismatch', c, signer, trust);
  if (!maySignAt(key, c.validFrom)) return fullResult(source, 'key_not_valid', c, signer, trust);
  if (isCompromisedAt(key, c.validFrom)) return fullResult(source, 'key_compromised', c, signer, trust);
  if (now < c.validFrom) return fullResult(source, 'not_yet_valid', c, signer, trust);
  if (c.validUntil !== null && now >= c.validUntil) return fullResult(source, 'expired', c, signer, trust);
  const lists = statusLists ?? trust.statusLists;
  const status = checkStatus(c, signer, trust, now, lists, maxAge);
  return fullResult(source, status.code ?? 'valid', c, signer, trust, status);
}

/** `verify._pick`: a valid outcome if any; else the most informative failure. */
function pick(outcomes) {
  return (
    outcomes.find((o) => o.result.valid) ??
    outcomes.find((o) => o.payload !== null) ??
    outcomes.find((o) => o.result.reasonCode !== 'unknown_key') ??
    outcomes[0]
  );
}

function trustArray(trusts) {
  const list = trusts instanceof TrustList ? [trusts] : [...trusts];
  if (!list.length || !list.every((t) => t instanceof TrustList))
    throw new TypeError('no trust list to check against');
  return list;
}

async function verifyParsed(parsed, trust, now, source, statusLists, maxAge, cache) {
  const found = trust.lookup(get(parsed.header, 'kid'));
  if (found === null) return { result: failResult(source, 'unknown_key'), payload: null };
  const { issuer: signer, key } = found;
  if (!(await verifyEs256(parsed.token, key.publicKey)))
    return { result: failResult(source, 'bad_signature'), payload: null };
  // From here on the payload is exactly what the listed key signed.
  const payload = parsed.payload;
  let contents = cache.contents;
  if (contents === undefined) {
    try {
      contents = readContents(payload);
    } catch (e) {
      if (e instanceof Malformed) return { result: failResult(source, 'malformed'), payload: null };
      throw e;
    }
    cache.contents = contents;
  }
  if (!claimsMatch(payload, contents))
    return { result: fullResult(source, 'claims_mismatch', contents, signer, trust), payload };
  return { result: assess(source, contents, signer, key, trust, now, statusLists, maxAge), payload };
}

async function verifyJws(
  token,
  trusts,
  now,
  { source = '<token>', statusLists = null, maxStatusAge = DEFAULT_MAX_STATUS_AGE } = {},
) {
  const list = trustArray(trusts);
  let parsed;
  try {
    parsed = parseCompact(token);
  } catch (e) {
    if (e instanceof UnreadableInput) return { result: failResult(source, 'malformed'), payload: null };
    throw e;
  }
  const header = parsed.header;
  if (get(header, 'alg') !== 'ES256')
    return { result: failResult(source, 'unsupported_algorithm'), payload: null };
  if (!headerOk(header)) return { result: failResult(source, 'malformed'), payload: null };
  const cache = {};
  const outcomes = [];
  for (const trust of list)
    outcomes.push(await verifyParsed(parsed, trust, now, source, statusLists, maxStatusAge, cache));
  return pick(outcomes);
}

/**
 * `verify.verify_token`: check one compact JWS against one or more trust lists at `now`
 * (BigInt microseconds). Never throws for a bad token: see `reasonCode` and `reason`.
 */
export async function verifyToken(token, trusts, now, options = {}) {
  return (await verifyJws(token, trusts, now, options)).result;
}

// --------------------------------------------------------------------------- QR (COSE)

const BASE45_CHARSET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** RFC 9285 base45, exactly as the Python `base45` package decodes it. Throws ValueErr. */
function base45Decode(text) {
  const s = text.replace(/\n+$/, '');
  const values = [];
  for (const ch of s) {
    const v = BASE45_CHARSET.indexOf(ch);
    if (v < 0) throw new ValueErr('not base45');
    values.push(v);
  }
  if (values.length % 3 === 1) throw new ValueErr('not base45');
  const out = [];
  for (let i = 0; i < values.length; i += 3) {
    if (values.length - i >= 3) {
      const x = values[i] + values[i + 1] * 45 + values[i + 2] * 45 * 45;
      if (x > 0xffff) throw new ValueErr('not base45');
      out.push(x >> 8, x & 0xff);
    } else {
      const x = values[i] + values[i + 1] * 45;
      if (x > 0xff) throw new ValueErr('not base45');
      out.push(x);
    }
  }
  return Uint8Array.from(out);
}

class CborTag {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/**
 * The CBOR that `qr._cbor_decode` accepts: definite lengths only, integers, byte and text
 * strings, arrays and maps (no duplicate keys), the listed tags only at the top, no floats or
 * simple values, at most 64 items and shallow nesting, nothing after the end. Maps decode to
 * `Map`s keyed by `cborKey`. Throws ValueErr.
 */
function cborDecode(data, allowedTags = []) {
  let pos = 0;
  let budget = MAX_CBOR_ITEMS;
  const bad = (why) => {
    throw new ValueErr(`CBOR: ${why}`);
  };
  const item = (depth) => {
    budget -= 1;
    if (budget < 0 || depth > MAX_CBOR_DEPTH + 1 || pos >= data.length)
      bad('too deep, too long or truncated');
    const initial = data[pos];
    pos += 1;
    const major = initial >> 5;
    const info = initial & 0x1f;
    let arg;
    if (info < 24) arg = BigInt(info);
    else if (info <= 27) {
      const width = 1 << (info - 24);
      if (pos + width > data.length) bad('truncated');
      arg = bytesToBigInt(data.subarray(pos, pos + width));
      pos += width;
    } else bad('indefinite length or reserved');
    if (major === 0 || major === 1) {
      const v = major === 0 ? arg : -1n - arg;
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    if (major === 2 || major === 3) {
      if (arg > BigInt(data.length - pos)) bad('string longer than the data');
      const bytes = data.slice(pos, pos + Number(arg));
      pos += Number(arg);
      return major === 2 ? bytes : decodeUtf8(bytes);
    }
    if (major === 4 || major === 5) {
      const count = arg * (major === 5 ? 2n : 1n);
      if (count > BigInt(budget)) bad('container too large');
      if (major === 4) {
        const arr = [];
        for (let k = 0n; k < arg; k += 1n) arr.push(item(depth + 1));
        return arr;
      }
      const map = new Map();
      for (let k = 0n; k < arg; k += 1n) {
        const key = item(depth + 1);
        const value = item(depth + 1);
        const id = cborKey(key);
        if (map.has(id)) bad('duplicate map key');
        map.set(id, value);
      }
      return map;
    }
    if (major === 6 && allowedTags.includes(Number(arg)) && depth === 0)
      return new CborTag(Number(arg), item(depth));
    return bad('unexpected tag or simple value');
  };
  const value = item(0);
  if (pos !== data.length) bad('data after the end');
  return value;
}

/** A string identifying a CBOR map key (integer keys are `i:<n>`). */
function cborKey(key) {
  if (typeof key === 'number' || typeof key === 'bigint') return `i:${key}`;
  if (typeof key === 'string') return `t:${key}`;
  if (key instanceof Uint8Array) return `b:${Array.from(key).join(',')}`;
  if (Array.isArray(key)) return `a:[${key.map(cborKey).join('|')}]`;
  if (key instanceof Map) return `m:{${[...key].map(([k, v]) => `${k}=${cborKey(v)}`).join('|')}}`;
  return `?:${String(key)}`;
}

function cborHead(major, length) {
  if (length < 24) return [(major << 5) | length];
  if (length < 0x100) return [(major << 5) | 24, length];
  if (length < 0x10000) return [(major << 5) | 25, length >> 8, length & 0xff];
  return [
    (major << 5) | 26,
    (length >>> 24) & 0xff,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  ];
}

/** CBOR `["Signature1", protected, h'', payload]` (RFC 9052 Sig_structure), minimal lengths. */
function sigStructure(protectedBytes, payload) {
  const context = utf8Encoder.encode('Signature1');
  const parts = [
    Uint8Array.from([0x84, ...cborHead(3, context.length)]),
    context,
    Uint8Array.from(cborHead(2, protectedBytes.length)),
    protectedBytes,
    Uint8Array.from([0x40, ...cborHead(2, payload.length)]),
    payload,
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** `qr._unwrap`: `{protectedBytes, header, payload, signature}`; throws ValueErr. */
async function unwrapQr(text) {
  if (!isStr(text)) throw new ValueErr('not text');
  text = pyStrip(text);
  if (pyLenOver(text, MAX_QR_CHARS)) throw new ValueErr('too long');
  if (!text.startsWith(QR_PREFIX)) throw new ValueErr('wrong prefix');
  const compressed = base45Decode(text.slice(QR_PREFIX.length));
  const out = await inflate(compressed, 'deflate', MAX_COSE_BYTES);
  if (!out.data) throw new ValueErr('zlib data bad, too large or truncated');
  const outer = cborDecode(out.data, [18]);
  if (!(outer instanceof CborTag) || outer.tag !== 18) throw new ValueErr('not a tagged COSE_Sign1');
  const parts = outer.value;
  if (!Array.isArray(parts) || parts.length !== 4) throw new ValueErr('COSE_Sign1 is not an array of four');
  const [protectedBytes, unprotected, payload, signature] = parts;
  if (!(
    protectedBytes instanceof Uint8Array &&
    unprotected instanceof Map &&
    payload instanceof Uint8Array &&
    signature instanceof Uint8Array
  )) {
    throw new ValueErr('COSE_Sign1 members have the wrong types');
  }
  if (unprotected.size) throw new ValueErr('unprotected header parameters are not accepted');
  const header = cborDecode(protectedBytes);
  if (!(header instanceof Map)) throw new ValueErr('protected header is not a map');
  return { protectedBytes, header, payload, signature };
}

const COSE_LABELS = new Set(['i:1', 'i:3', 'i:4', 'i:16']);

/**
 * `qr.verify_qr`: check the text of a CareCred QR code (`CC1:...`) offline, with the same
 * reason codes as `verifyToken` (never `claims_mismatch`). Never throws for bad input.
 */
export async function verifyQr(
  text,
  trusts,
  now,
  { source = '<qr>', statusLists = null, maxStatusAge = DEFAULT_MAX_STATUS_AGE } = {},
) {
  const list = trustArray(trusts);
  let unwrapped;
  try {
    unwrapped = await unwrapQr(text);
  } catch (e) {
    if (e instanceof ValueErr) return failResult(source, 'malformed');
    throw e;
  }
  const { protectedBytes, header, payload, signature } = unwrapped;
  const alg = header.get('i:1');
  if (alg !== -7) return failResult(source, 'unsupported_algorithm');
  const typ = header.has('i:16') ? header.get('i:16') : COSE_TYP;
  const cty = header.has('i:3') ? header.get('i:3') : COSE_CONTENT_TYPE;
  if (![...header.keys()].every((k) => COSE_LABELS.has(k)) || typ !== COSE_TYP || cty !== COSE_CONTENT_TYPE) {
    return failResult(source, 'malformed');
  }
  const rawKid = header.get('i:4');
  if (!(rawKid instanceof Uint8Array)) return failResult(source, 'unknown_key');
  let kid;
  try {
    kid = decodeUtf8(rawKid);
  } catch {
    return failResult(source, 'unknown_key');
  }
  const signed = sigStructure(protectedBytes, payload);
  const outcomes = [];
  for (const trust of list) {
    const found = trust.lookup(kid);
    if (found === null) {
      outcomes.push({ result: failResult(source, 'unknown_key'), payload: null });
      continue;
    }
    const { issuer: signer, key } = found;
    if (!(await ecdsaVerify(key.publicKey, signature, signed))) {
      outcomes.push({ result: failResult(source, 'bad_signature'), payload: null });
      continue;
    }
    let document;
    let contents;
    try {
      document = jsonFromBytes(payload);
      if (!isDict(document)) throw new Malformed('payload');
      contents = readContents(document);
    } catch (e) {
      if (!(e instanceof ValueErr || e instanceof Malformed)) throw e;
      outcomes.push({ result: failResult(source, 'malformed'), payload: null });
      continue;
    }
    outcomes.push({
      result: assess(source, contents, signer, key, trust, now, statusLists, maxStatusAge),
      payload: document,
    });
  }
  return pick(outcomes).result;
}

// --------------------------------------------------------------------------- passports

function passportBad(message) {
  return new UnreadableInput(`The passport cannot be read: ${message}`, 'passport_malformed');
}

function passportTokens(raw, what, limit, required) {
  if (isNone(raw) && !required) return [];
  if (!Array.isArray(raw)) throw passportBad(`'${what}' is not a list.`);
  if (raw.length > limit) throw passportBad(`it holds more than ${limit} ${what}.`);
  if (required && !raw.length) throw passportBad(`it holds no ${what}.`);
  return raw.map((item) => {
    if (!isStr(item) || !item || pyLenOver(item, MAX_TOKEN_CHARS))
      throw passportBad(`one of its ${what} is not a token.`);
    return pyStrip(item);
  });
}

/** `passport.read_passport` (bytes): bounded; nothing is verified. Throws UnreadableInput. */
export function readPassport(data) {
  if (data.length > MAX_PASSPORT_BYTES) {
    throw new UnreadableInput(
      `The passport is too large (the limit is ${MAX_PASSPORT_BYTES / (1024 * 1024)} MB).`,
      'too_large',
    );
  }
  let document;
  try {
    document = jsonFromBytes(stripBomBytes(data));
  } catch {
    throw passportBad('it is not JSON.');
  }
  const version = isDict(document) ? get(document, 'version') : undefined;
  if (!isDict(document) || get(document, 'type') !== PASSPORT_TYPE || version !== 1) {
    if (isDict(document) && get(document, 'type') === TRUST_LIST_TYPE) {
      throw new UnreadableInput(
        'This file is a trust list, not a certificate: add it under "Add another trust list".',
        'passport_malformed',
      );
    }
    throw passportBad(`it is not a version 1 ${PASSPORT_TYPE}.`);
  }
  const holder = get(document, 'holder');
  const name = isDict(holder) ? get(holder, 'name') : undefined;
  if (!isStr(name) || !pyStrip(name) || pyLenOver(name, MAX_HOLDER_NAME))
    throw passportBad('it has no holder name.');
  let issuedAt;
  try {
    issuedAt = parseDatetime(get(document, 'issuedAt'));
  } catch {
    throw passportBad('its issuedAt is not a date-time.');
  }
  return {
    holderName: pyStrip(name),
    issuedAt,
    credentials: passportTokens(get(document, 'credentials'), 'credentials', MAX_PASSPORT_CREDENTIALS, true),
    statusLists: passportTokens(
      get(document, 'statusLists'),
      'status lists',
      MAX_PASSPORT_STATUS_LISTS,
      false,
    ),
  };
}

function sameName(a, b) {
  // Python: " ".join(unicodedata.normalize("NFKC", s).casefold().split())
  const norm = (s) => s.normalize('NFKC').toUpperCase().toLowerCase().split(/\s+/u).filter(Boolean).join(' ');
  return norm(a) === norm(b);
}

/**
 * `passport.verify_passport`: every credential, with the passport's status lists merged into
 * each trust list's own (the newer `validFrom` wins). One result per credential.
 */
export async function verifyPassport(
  passport,
  trusts,
  now,
  { source = '<passport>', statusLists = null, maxStatusAge = DEFAULT_MAX_STATUS_AGE } = {},
) {
  const list = trustArray(trusts);
  const perTrust = [];
  for (const trust of list) {
    const merged = new Map(statusLists ?? trust.statusLists);
    const notes = [];
    for (const token of passport.statusLists) {
      let statusList;
      try {
        statusList = await loadStatusList(token, trust);
      } catch (e) {
        if (!(e instanceof StatusListError)) throw e;
        if (e.code !== 'status_list_unknown_key') {
          notes.push(
            `A status list in this passport could not be verified, so it was ignored (${e.code.replaceAll('_', ' ')}).`,
          );
        }
        continue;
      }
      const current = merged.get(statusList.url);
      if (!current || statusList.validFrom > current.validFrom) merged.set(statusList.url, statusList);
    }
    perTrust.push({ lists: merged, notes: [...new Set(notes)] });
  }
  const results = [];
  for (let n = 0; n < passport.credentials.length; n += 1) {
    const where = `${source}#${n + 1}`;
    const candidates = [];
    for (let k = 0; k < list.length; k += 1) {
      const result = await verifyToken(passport.credentials[n], list[k], now, {
        source: where,
        statusLists: perTrust[k].lists,
        maxStatusAge,
      });
      candidates.push({ result, notes: perTrust[k].notes });
    }
    const chosen =
      candidates.find((c) => c.result.valid) ??
      candidates.find((c) => c.result.credentialId !== null) ??
      candidates.find((c) => c.result.reasonCode !== 'unknown_key') ??
      candidates[0];
    const extra = [...chosen.notes];
    const result = { ...chosen.result };
    if (result.learnerName && !sameName(result.learnerName, passport.holderName)) {
      extra.push(
        `This certificate was issued to ${result.learnerName}, but the passport is in the name of ${passport.holderName}.`,
      );
    }
    result.warnings = [...result.warnings, ...extra];
    results.push(result);
  }
  return results;
}

// --------------------------------------------------------------------------- inputs

/** A result for input that cannot be read at all (the CLI's `unreadable`). */
export function unreadableResult(source, message) {
  return { ...failResult(source, 'unreadable'), reason: message };
}

/** `verify._text_from_bytes`. Throws UnreadableInput. */
function textFromBytes(data, where) {
  let text;
  try {
    text = decodeUtf8(data);
  } catch {
    throw new UnreadableInput(`${where} is not a certificate token.`, 'not_a_token');
  }
  if (text.startsWith('\ufeff')) text = text.slice(1);
  text = pyStrip(text);
  if (!text) throw new UnreadableInput(`${where} is empty.`, 'not_a_token');
  if (pyLenOver(text, MAX_TOKEN_CHARS))
    throw new UnreadableInput(`${where} is too large to be a certificate token.`, 'too_large');
  return text;
}

/** `verify._token_from_bytes`. Throws UnreadableInput. */
export function tokenFromBytes(data, where) {
  const text = textFromBytes(data, where);
  if (!TOKEN_SHAPE_RE.test(text)) {
    throw new UnreadableInput(
      `${where} is not a certificate token (expected a .jwt, .txt or .pdf certificate).`,
      'not_a_token',
    );
  }
  return text;
}

/** `verify._kind`: what a file is, from its first 1,024 bytes (never from its name). */
export function fileKind(head) {
  const h = head.subarray(0, 1024);
  const ascii = String.fromCharCode(...h);
  if (ascii.includes('%PDF-')) return 'pdf';
  if (ascii.startsWith('\x89PNG\r\n\x1a\n') || ascii.startsWith('\xff\xd8\xff')) return 'image';
  if (/^[ \t\n\r\v\f]*\{/.test(stripBomBytes(h).length === h.length ? ascii : ascii.slice(3))) return 'json';
  return 'text';
}

const LIMITS = {
  pdf: MAX_PDF_BYTES,
  image: MAX_IMAGE_BYTES,
  json: MAX_PASSPORT_BYTES,
  text: MAX_TOKEN_FILE_BYTES,
};

/** `verify._too_large`. */
export function tooLargeMessage(kind) {
  if (kind === 'pdf') return `The PDF is too large (the limit is ${MAX_PDF_BYTES / (1024 * 1024)} MB).`;
  if (kind === 'image') return `The image is too large (the limit is ${MAX_IMAGE_BYTES / (1024 * 1024)} MB).`;
  if (kind === 'json')
    return `The file is too large to be a passport (the limit is ${MAX_PASSPORT_BYTES / (1024 * 1024)} MB).`;
  return `The file is too large to be a certificate token (the limit is ${MAX_TOKEN_FILE_BYTES / 1024} KB).`;
}

export function sizeLimit(kind) {
  return LIMITS[kind];
}

/**
 * Check pasted text: a QR text (`CC1:`) with `verifyQr`, a passport (JSON) with
 * `verifyPassport`, anything else as a compact JWS with `verifyToken`.
 * Returns `{results, passport?}`.
 */
export async function checkText(text, trusts, now) {
  const stripped = pyStrip(text.startsWith('\ufeff') ? text.slice(1) : text);
  if (stripped.startsWith(QR_PREFIX))
    return { results: [await verifyQr(stripped, trusts, now, { source: 'QR code' })] };
  if (stripped.startsWith('{')) {
    const data = utf8Encoder.encode(stripped);
    try {
      const passport = readPassport(data);
      return { results: await verifyPassport(passport, trusts, now, { source: 'passport' }), passport };
    } catch (e) {
      if (e instanceof UnreadableInput) return { results: [unreadableResult('text', e.message)] };
      throw e;
    }
  }
  return { results: [await verifyToken(stripped, trusts, now, { source: 'certificate' })] };
}

/**
 * Check the bytes of a file as `verify.verify_path` does (the kind is detected from the
 * content). `readPdf(bytes)` gives `{tokens, jsonBlobs}` (see pdf.js); `readImage(bytes)` the
 * QR texts found in a picture, or null when this browser cannot look. Returns
 * `{results, passport?}`; input that cannot be read gives one `unreadable` result.
 */
export async function checkFileBytes(data, name, trusts, now, { readPdf, readImage } = {}) {
  const source = name || 'file';
  const kind = fileKind(data);
  try {
    if (data.length > LIMITS[kind]) throw new UnreadableInput(tooLargeMessage(kind), 'too_large');
    if (kind !== 'pdf' && /\.pdf$/i.test(source))
      throw new UnreadableInput('The file is named .pdf but is not a PDF.', 'not_a_pdf');
    if (kind === 'pdf') return { results: await verifyPdf(await readPdf(data), trusts, now, source) };
    if (kind === 'image') {
      const texts = readImage ? await readImage(data) : null;
      if (texts === null) {
        throw new UnreadableInput(
          "This browser cannot read QR codes from pictures: scan the code with your phone's camera app and paste its text (it starts with CC1:) instead.",
          'no_qr',
        );
      }
      const ours = texts.filter((t) => t.startsWith(QR_PREFIX));
      if (ours.length) return { results: [await verifyQr(ours[0], trusts, now, { source })] };
      if (texts.length)
        throw new UnreadableInput(
          'The QR code in the image is not a CareCred certificate.',
          'not_a_certificate_qr',
        );
      throw new UnreadableInput(
        'No QR code was found in the image: use a sharp, well-lit photo with the whole code in view.',
        'no_qr',
      );
    }
    if (kind === 'json') {
      const passport = readPassport(data);
      return { results: await verifyPassport(passport, trusts, now, { source }), passport };
    }
    const text = textFromBytes(data, 'The file');
    if (text.startsWith(QR_PREFIX)) return { results: [await verifyQr(text, trusts, now, { source })] };
    const token = tokenFromBytes(data, 'The file');
    return { results: [await verifyToken(token, trusts, now, { source })] };
  } catch (e) {
    if (e instanceof UnreadableInput) return { results: [unreadableResult(source, e.message)] };
    throw e;
  }
}

// --------------------------------------------------------------------------- PDFs

const PDF_TEXT_UNREADABLE =
  "The PDF's printed text could not be read, so check by eye that it shows the details above.";
const PDF_QR_NOT_CHECKED =
  'The QR code printed on the PDF was not checked here: to check it too, scan it or paste its text on its own.';

function withoutClaims(payload) {
  const out = Object.create(null);
  for (const k of Object.keys(payload)) if (!JWT_CLAIMS.has(k)) out[k] = payload[k];
  return out;
}

/** `verify._normalise_text`: NFKC, runs of (Python) whitespace as one space. */
function normaliseText(text) {
  return text.normalize('NFKC').split(PY_SPACE_RE).filter(Boolean).join(' ');
}
const PY_SPACE_RE = new RegExp(`[${PY_SPACE_CLASS}]+`);
const PY_SPACE_ALL = new RegExp(`[${PY_SPACE_CLASS}]+`, 'g');

/**
 * True if `value` is printed in `text` (both normalised). Spacing is also ignored, because
 * this extraction and pypdf's may space glyphs differently; the letters must still appear in
 * order.
 */
function printed(text, value) {
  const wanted = normaliseText(value);
  return text.includes(wanted) || text.replace(PY_SPACE_ALL, '').includes(wanted.replace(PY_SPACE_ALL, ''));
}

/**
 * `verify._pdf_problem` (what a browser can check): why this PDF disagrees with its signed
 * credential (null if it does not), and warnings. The attached credential.json must equal the
 * signed credential, and the first page's text must show the learner's and the course's names.
 */
function pdfProblem(outcome, parts, attached, tokenCount) {
  const payload = outcome.payload;
  const result = outcome.result;
  const notes = [];
  if (payload === null) return [null, notes];
  const mine = withoutClaims(payload);
  for (const a of attached) {
    if (!a.ok || (!jsonEqual(a.value, mine) && tokenCount === 1)) return [REASONS.pdf_mismatch, notes];
  }
  const text = normaliseText(parts.firstPageText ?? '');
  if (!text) {
    notes.push(PDF_TEXT_UNREADABLE);
  } else {
    const missing = [
      ['the learner name', result.learnerName],
      ['the course name', result.achievementName],
    ]
      .filter(([, value]) => value && !printed(text, value))
      .map(([what, value]) => `${what} '${value}'`);
    if (missing.length) {
      return [
        `The PDF's printed text does not show ${missing.join(' or ')} from its signed credential, so the printed certificate cannot be trusted.`,
        notes,
      ];
    }
  }
  return [null, notes];
}

/**
 * `verify._verify_pdf`: every `credential.jwt` attachment is verified; then each must agree
 * with the PDF (`pdf_mismatch`, see `pdfProblem`). The printed QR code is not read here (a
 * warning says so).
 */
async function verifyPdf(parts, trusts, now, source) {
  if (!parts.tokens.length) {
    throw new UnreadableInput(
      `The PDF does not contain a digital certificate (no ${ATTACHMENT_NAME} attachment).`,
      'no_attachment',
    );
  }
  const tokens = parts.tokens.map((blob) => {
    if (blob === null || blob.length > MAX_TOKEN_FILE_BYTES) {
      throw new UnreadableInput(`The PDF's ${ATTACHMENT_NAME} attachment is too large.`, 'too_large');
    }
    return tokenFromBytes(blob, `The PDF's ${ATTACHMENT_NAME} attachment`);
  });
  const attached = parts.jsonBlobs.map((blob) => {
    try {
      if (blob === null || blob.length > MAX_TOKEN_FILE_BYTES) throw new ValueErr('too large');
      return { ok: true, value: jsonFromBytes(blob) };
    } catch {
      return { ok: false }; // unreadable or too large: it can only mismatch
    }
  });
  const sources = tokens.length === 1 ? [source] : tokens.map((_, k) => `${source}#${k + 1}`);
  const outcomes = [];
  for (let k = 0; k < tokens.length; k += 1) {
    outcomes.push(await verifyJws(tokens[k], trusts, now, { source: sources[k] }));
  }
  const signed = outcomes.filter((o) => o.payload !== null).map((o) => withoutClaims(o.payload));
  // Several credentials in one PDF: every credential.json must equal one of them.
  const jsonAny =
    tokens.length >= 2 &&
    attached.length > 0 &&
    attached.some((a) => !a.ok || !signed.some((s) => jsonEqual(a.value, s)));
  return outcomes.map((outcome) => {
    let result = outcome.result;
    let [problem, notes] = pdfProblem(outcome, parts, attached, tokens.length);
    if (problem === null && jsonAny && outcome.payload !== null) problem = REASONS.pdf_mismatch;
    if (problem !== null)
      result = { ...result, valid: false, reasonCode: 'pdf_mismatch', reason: problem, assessments: [] };
    if (outcome.payload !== null) notes = [...notes, PDF_QR_NOT_CHECKED];
    return notes.length ? { ...result, warnings: [...result.warnings, ...notes] } : result;
  });
}

// --------------------------------------------------------------------------- service worker

/** Register the offline service worker (scope /verify/); quietly does nothing without one. */
export function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register('/verify/sw.js', { scope: '/verify/' }).catch(() => null);
}
