/**
 * The /verify/ page: trust lists, certificate input (paste, file, camera) and the result.
 *
 * All checking is done by verify.js (and pdf.js for PDFs) in this browser. The page:
 * - keeps trust lists in localStorage as the exact file text plus the pinned anchor (root key
 *   thumbprint), and verifies each again against its anchor every time it is used;
 * - fetches this site's list from /verify/trust.json when online. The first anchor seen is
 *   pinned: a list signed by another root is not used until the user forgets the saved one;
 *   a list older than the one kept is ignored (it could re-admit a compromised key);
 * - shows results with textContent only (never innerHTML), and exposes the last verdict as
 *   `data-valid` / `data-reason-code` on #result (and on each .result-item) for tests;
 * - registers the service worker (sw.js) so the page works offline.
 */
'use strict';

import * as V from './verify.js';
import { readPdf } from './pdf.js';

const STORE_KEY = 'carecred-verify-trust-lists-v1';
const SHOW_DETAILS = new Set(['valid', 'expired', 'not_yet_valid', 'revoked', 'suspended', 'pdf_mismatch']);
const MAX_IMAGE_PIXELS = 40000000;
const $ = (id) => document.getElementById(id);

/** @type {{anchor: string, text: string, origin: 'site' | 'added', trust: V.TrustList | null, error: string | null}[]} */
let entries = [];
let checkSeq = 0;

// --------------------------------------------------------------------------- DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function row(dl, label, value) {
  if (value === null || value === undefined || value === '') return;
  dl.append(el('dt', {}, label), el('dd', {}, value));
}

// --------------------------------------------------------------------------- trust lists

function readStore() {
  try {
    const raw = JSON.parse(localStorage.getItem(STORE_KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw
      .filter((e) => e && typeof e.anchor === 'string' && typeof e.text === 'string')
      .map((e) => ({
        anchor: e.anchor,
        text: e.text,
        origin: e.origin === 'site' ? 'site' : 'added',
        trust: null,
        error: null,
      }));
  } catch {
    return [];
  }
}

/** Save the lists; false if this browser would not keep them (private mode, quota). */
function writeStore() {
  try {
    localStorage.setItem(
      STORE_KEY,
      JSON.stringify(entries.map(({ anchor, text, origin }) => ({ anchor, text, origin }))),
    );
    return true;
  } catch {
    return false;
  }
}

async function verifyEntry(entry, now) {
  try {
    entry.trust = await V.loadTrustList(entry.text, entry.anchor, now);
    entry.error = null;
  } catch (e) {
    if (!(e instanceof V.CheckError)) throw e;
    entry.trust = null;
    entry.error = e.message;
  }
}

/** The verified lists still in date at `now` (the page may stay open past a list's expiry). */
function usableTrusts(now = V.nowUs()) {
  return entries
    .filter((e) => e.trust !== null && (e.trust.validUntil === null || now < e.trust.validUntil))
    .map((e) => e.trust);
}

function setTrustStatus(message) {
  const status = $('trust-status');
  status.textContent = '';
  if (message) status.append(el('p', {}, message));
}

function renderTrustLists() {
  const list = $('trust-lists');
  list.textContent = '';
  if (!entries.length) {
    list.append(
      el(
        'li',
        { class: 'card' },
        'No trust list yet. Open this page once with a signal, or add a trust list below.',
      ),
    );
  }
  for (const entry of entries) {
    const t = entry.trust;
    const item = el('li', {
      class: `card trust-item${t ? '' : ' trust-unusable'}`,
      'data-anchor': entry.anchor,
      'data-usable': String(t !== null),
    });
    item.append(el('h3', {}, t ? t.name : 'A trust list that cannot be used'));
    if (entry.error) item.append(el('p', { class: 'error' }, entry.error));
    const dl = el('dl', { class: 'details' });
    row(dl, 'From', entry.origin === 'site' ? 'This website' : 'Added by you on this device');
    if (t) {
      row(dl, 'Issued', V.humanDate(t.issuedAt));
      row(dl, 'Valid until', t.validUntil === null ? 'No end date' : V.humanDate(t.validUntil));
    }
    row(dl, 'Root key fingerprint', el('code', { class: 'anchor' }, entry.anchor));
    if (t) {
      row(dl, 'Training providers', t.issuers.map((i) => i.name).join('; ') || 'None');
      if (t.statusLists.size) {
        let newest = null;
        for (const s of t.statusLists.values())
          if (newest === null || s.validFrom > newest) newest = s.validFrom;
        row(dl, 'Revocation information', `${t.statusLists.size} status lists, as of ${V.humanDate(newest)}`);
      }
    }
    item.append(dl);
    const forget = el('button', { type: 'button', class: 'button secondary' }, 'Forget this trust list');
    forget.append(el('span', { class: 'vh' }, ` (${t ? t.name : entry.anchor})`));
    forget.addEventListener('click', () => {
      entries = entries.filter((e) => e !== entry);
      writeStore();
      renderTrustLists();
      setTrustStatus(`Forgot the trust list ${t ? t.name : entry.anchor}.`);
      $('trust-heading').focus();
    });
    item.append(forget);
    list.append(item);
  }
}

/**
 * Add a verified list, or replace the kept list with the same anchor if this one is at least
 * as new (as the Python trust store does). Returns an error message or null.
 */
function keepEntry(entry) {
  const same = entries.find((e) => e.anchor === entry.anchor);
  if (same && same.trust && entry.trust.issuedAt < same.trust.issuedAt) {
    return 'A newer trust list with this root key is already kept on this device.';
  }
  if (same) {
    same.text = entry.text;
    same.trust = entry.trust;
    same.error = null;
    if (entry.origin === 'site') same.origin = 'site';
  } else if (entry.origin === 'site') {
    entries.unshift(entry);
  } else {
    entries.push(entry);
  }
  return null;
}

/** Fetch this site's trust list (the service worker answers from its cache when offline). */
async function refreshSiteList() {
  let body;
  try {
    const response = await fetch('/verify/trust.json', { credentials: 'same-origin', cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = await response.json();
  } catch {
    setTrustStatus(
      entries.some((e) => e.trust)
        ? 'This site could not be reached, so the trust lists saved on this device are used.'
        : 'This site could not be reached and no trust list is saved on this device yet.',
    );
    return;
  }
  if (!body || typeof body.anchor !== 'string' || typeof body.trust_list !== 'string') return;
  const pinned = entries.find((e) => e.origin === 'site');
  if (pinned && pinned.anchor !== body.anchor) {
    setTrustStatus(
      `This site now offers a trust list signed by a different root key (${body.anchor}). ` +
        'The one saved on this device is still used. If the site confirms the new fingerprint, ' +
        'forget the saved list below and open this page again.',
    );
    return;
  }
  const entry = { anchor: body.anchor, text: body.trust_list, origin: 'site', trust: null, error: null };
  await verifyEntry(entry, V.nowUs());
  if (!entry.trust) {
    setTrustStatus(`This site's trust list cannot be used: ${entry.error}`);
    return;
  }
  if (keepEntry(entry) === null) writeStore();
}

async function addTrustList(event) {
  event.preventDefault();
  const error = $('trust-error');
  error.textContent = '';
  const file = $('trust-file').files[0];
  const anchor = $('trust-anchor').value.trim();
  if (!file) {
    error.textContent = 'Choose the trust list file.';
    $('trust-file').focus();
    return;
  }
  if (!anchor) {
    error.textContent = "Enter the trust list's root key fingerprint.";
    $('trust-anchor').focus();
    return;
  }
  if (file.size > V.MAX_TRUST_LIST_BYTES) {
    error.textContent = 'The trust list is not valid: the file is larger than 5 MB.';
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const entry = { anchor, text: '', origin: 'added', trust: null, error: null };
  try {
    entry.trust = await V.loadTrustList(bytes, anchor, V.nowUs());
    entry.text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    if (!(e instanceof V.CheckError)) throw e;
    error.textContent = e.message;
    return;
  }
  const problem = keepEntry(entry);
  if (problem) {
    error.textContent = problem;
    return;
  }
  const saved = writeStore();
  renderTrustLists();
  setTrustStatus(
    `Added the trust list ${entry.trust.name}.` +
      (saved ? '' : ' This browser would not save it, so it is used only until you leave this page.'),
  );
  $('trust-form').reset();
}

// --------------------------------------------------------------------------- results

function statusLine(r) {
  if (r.reasonCode === 'revoked' || r.reasonCode === 'suspended') {
    const word = r.reasonCode === 'revoked' ? 'Revoked' : 'Suspended';
    return r.statusAsOf ? `${word} (revocation status as of ${V.humanDate(r.statusAsOf)})` : word;
  }
  if (r.statusChecked && r.statusAsOf)
    return `Not revoked or suspended (revocation status as of ${V.humanDate(r.statusAsOf)})`;
  return null;
}

function renderResult(r, index, total) {
  let verdict = r.reasonCode === 'unreadable' ? 'Could not be read' : r.valid ? 'Valid' : 'Not valid';
  if (total > 1) verdict = `Certificate ${index + 1} of ${total}: ${verdict}`;
  const item = el('article', {
    class: `card result-item ${r.valid ? 'is-valid' : 'is-invalid'}`,
    'data-valid': String(r.valid),
    'data-reason-code': r.reasonCode,
  });
  const icon = el('span', { class: 'verdict-icon', 'aria-hidden': 'true' }, r.valid ? '\u2714' : '\u2716');
  item.append(el('h3', { class: 'verdict' }, icon, ` ${verdict}`));
  item.append(el('p', { class: 'reason' }, r.reason));
  if (SHOW_DETAILS.has(r.reasonCode)) {
    const dl = el('dl', { class: 'details' });
    row(
      dl,
      'Issued by',
      r.issuerName && r.issuerId ? `${r.issuerName} (${r.issuerId})` : (r.issuerName ?? r.issuerId),
    );
    if (r.issuerIdentifiers.length)
      row(dl, 'Issuer identifiers', r.issuerIdentifiers.map(([n, v]) => `${n} ${v}`).join('; '));
    row(dl, 'Issued to', r.learnerName);
    row(
      dl,
      'Course',
      r.achievementVersion ? `${r.achievementName} (version ${r.achievementVersion})` : r.achievementName,
    );
    if (r.alignments.length) {
      row(dl, 'Aligned to', el('ul', { class: 'plain' }, ...r.alignments.map((a) => el('li', {}, a))));
    }
    if (r.activityEnd !== null) row(dl, 'Completed on', V.humanDate(r.activityEnd));
    else if (r.validFrom !== null) row(dl, 'Issued on', V.humanDate(r.validFrom));
    row(dl, 'Valid until', r.validUntil !== null ? V.humanDate(r.validUntil) : 'Does not expire');
    // How competence was assessed, as the issuer signed it: only ever for a valid certificate.
    const assessed = r.valid ? (r.assessments ?? []).map(V.assessmentSummary) : [];
    if (assessed.length === 1) row(dl, 'How this was assessed', el('span', { class: 'assessed' }, assessed[0]));
    else if (assessed.length)
      row(dl, 'How this was assessed', el('ul', { class: 'plain' }, ...assessed.map((a) => el('li', { class: 'assessed' }, a))));
    row(dl, 'Reference', r.credentialId);
    row(dl, 'Status', statusLine(r));
    row(dl, 'Checked against', r.trustName);
    item.append(dl);
  }
  if (r.warnings.length) {
    item.append(el('h4', {}, 'Warnings'));
    item.append(el('ul', { class: 'warnings' }, ...r.warnings.map((w) => el('li', {}, w))));
  }
  return item;
}

function summaryText(results) {
  if (results.length === 1) {
    const [r] = results;
    if (r.reasonCode === 'unreadable') return `Could not be read: ${r.reason}`;
    return `${r.valid ? 'Valid' : 'Not valid'}: ${r.reason}`;
  }
  const good = results.filter((r) => r.valid).length;
  return `${results.length} certificates checked: ${good} valid, ${results.length - good} not valid.`;
}

function showResults(seq, results, passport = null) {
  if (seq !== checkSeq) return; // a newer check has started
  const section = $('result');
  const body = $('result-body');
  body.textContent = '';
  if (passport) {
    body.append(
      el(
        'p',
        { class: 'passport' },
        `Passport of ${passport.holderName}, put together on ${V.humanDate(passport.issuedAt)}: ${passport.credentials.length} certificate${passport.credentials.length === 1 ? '' : 's'}.`,
      ),
    );
  }
  results.forEach((r, k) => body.append(renderResult(r, k, results.length)));
  const summary = $('result-summary');
  summary.textContent = '';
  summary.append(
    el('p', { class: results.every((r) => r.valid) ? 'summary ok' : 'summary bad' }, summaryText(results)),
  );
  const firstBad = results.find((r) => !r.valid);
  section.dataset.valid = String(results.length > 0 && results.every((r) => r.valid));
  section.dataset.reasonCode = firstBad ? firstBad.reasonCode : 'valid';
  section.dataset.count = String(results.length);
  section.dataset.state = 'done';
}

/** Run one check: `work(trusts, now)` returns `{results, passport?}`. */
async function runCheck(work, { focus = false } = {}) {
  checkSeq += 1;
  const seq = checkSeq;
  const section = $('result');
  section.dataset.state = 'checking';
  section.dataset.seq = String(seq);
  $('result-summary').textContent = 'Checking\u2026';
  $('result-body').textContent = '';
  const now = V.nowUs();
  const trusts = usableTrusts(now);
  let outcome;
  if (!trusts.length) {
    outcome = {
      results: [
        {
          ...V.unreadableResult(
            'certificate',
            'There is no trust list to check against: open this page once with a signal, or add a trust list below.',
          ),
          reasonCode: 'no_trust_list',
        },
      ],
    };
  } else {
    try {
      outcome = await work(trusts, now);
    } catch {
      outcome = {
        results: [V.unreadableResult('certificate', 'Something went wrong while checking this certificate.')],
      };
    }
  }
  showResults(seq, outcome.results, outcome.passport ?? null);
  if (focus && seq === checkSeq) $('result-heading').focus();
}

// --------------------------------------------------------------------------- inputs

function checkPasted(event) {
  event.preventDefault();
  const text = $('cert-text').value;
  if (!V.pyStrip(text)) {
    runCheck(
      async () => ({
        results: [V.unreadableResult('text', 'Nothing was pasted: paste the certificate text first.')],
      }),
      { focus: true },
    );
    return;
  }
  runCheck((trusts, now) => V.checkText(text, trusts, now), { focus: true });
}

function barcodeDetectorAvailable() {
  return typeof window.BarcodeDetector === 'function';
}

/** QR texts in a picture, or null when this browser cannot read pictures. */
async function readImage(bytes) {
  if (!barcodeDetectorAvailable()) return null;
  const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
  if (!formats.includes('qr_code')) return null;
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]));
  } catch {
    throw new V.UnreadableInput('The file is not a PNG or JPEG image that can be read.', 'image_damaged');
  }
  if (bitmap.width * bitmap.height > MAX_IMAGE_PIXELS) {
    throw new V.UnreadableInput(
      `The image is too large (${bitmap.width} x ${bitmap.height} pixels; the limit is 40 megapixels).`,
      'too_large',
    );
  }
  const found = await new window.BarcodeDetector({ formats: ['qr_code'] }).detect(bitmap);
  return found.map((b) => V.pyStrip(b.rawValue ?? ''));
}

async function checkFile() {
  const input = $('cert-file');
  const file = input.files[0];
  if (!file) return;
  const name = file.name;
  runCheck(async (trusts, now) => {
    const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
    const kind = V.fileKind(head);
    if (file.size > V.sizeLimit(kind))
      return { results: [V.unreadableResult(name, V.tooLargeMessage(kind))] };
    const bytes = new Uint8Array(await file.arrayBuffer());
    return V.checkFileBytes(bytes, name, trusts, now, { readPdf, readImage });
  });
  input.value = '';
}

// --------------------------------------------------------------------------- camera

let scanning = null;

function cameraAllowed() {
  const policy = document.permissionsPolicy ?? document.featurePolicy;
  try {
    return policy ? policy.allowsFeature('camera') : true;
  } catch {
    return true;
  }
}

async function startCamera() {
  const status = $('scanner-status');
  const video = $('scanner-video');
  $('scanner').hidden = false;
  status.textContent = 'Starting the camera\u2026';
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment' },
      audio: false,
    });
  } catch {
    status.textContent =
      'The camera could not be started. Check that this page may use it, or paste the QR code text instead.';
    return;
  }
  const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
  video.srcObject = stream;
  await video.play().catch(() => {});
  status.textContent = 'Point the camera at the QR code on the certificate.';
  const session = { stream, stopped: false };
  scanning = session;
  const tick = async () => {
    if (session.stopped) return;
    try {
      const codes = await detector.detect(video);
      const ours = codes.map((c) => V.pyStrip(c.rawValue ?? '')).find((t) => t.startsWith(V.QR_PREFIX));
      if (ours) {
        stopCamera();
        runCheck((trusts, now) => V.checkText(ours, trusts, now), { focus: true });
        return;
      }
    } catch {
      // the video is not ready yet; try again
    }
    setTimeout(tick, 250);
  };
  tick();
}

function stopCamera() {
  if (scanning) {
    scanning.stopped = true;
    for (const track of scanning.stream.getTracks()) track.stop();
    scanning = null;
  }
  $('scanner-video').srcObject = null;
  $('scanner').hidden = true;
  $('scanner-status').textContent = '';
}

// --------------------------------------------------------------------------- start

async function start() {
  $('paste-form').addEventListener('submit', checkPasted);
  $('cert-file').addEventListener('change', checkFile);
  $('trust-form').addEventListener('submit', (event) => {
    addTrustList(event).catch(() => {
      $('trust-error').textContent = 'The trust list could not be read.';
    });
  });
  if (barcodeDetectorAvailable()) {
    $('image-hint').hidden = false;
    $('cert-file').accept += ',image/png,image/jpeg';
  }
  if (barcodeDetectorAvailable() && navigator.mediaDevices?.getUserMedia && cameraAllowed()) {
    $('camera').hidden = false;
    $('scan-button').addEventListener('click', startCamera);
    $('scan-stop').addEventListener('click', stopCamera);
    window.addEventListener('pagehide', stopCamera);
  }
  entries = readStore();
  const now = V.nowUs();
  for (const entry of entries) await verifyEntry(entry, now);
  renderTrustLists();
  await refreshSiteList();
  renderTrustLists();
  document.body.dataset.trustReady = 'true';
  V.registerServiceWorker();
}

start();
