/* CareCred mentor pages: capture an observation with no signal, send it later, exactly once.
 *
 * - Registers /assess/sw.js (scope /assess/), which keeps these pages on the phone.
 * - On the list of workers, saves every "Observe" form page (a[data-offline]) in the cache so
 *   each can be opened and filled in with no signal.
 * - A new observation form (form[data-observe]) is never posted directly while JavaScript
 *   runs: what the mentor filled in is stored in IndexedDB ("carecred-assess", store "queue")
 *   with a random client_key, then sent as JSON to /assess/sync with the X-CSRFToken header
 *   (a fresh token from /assess/sync-token). The server records a client_key once; sending it
 *   again returns the stored observation, so a retry after a lost reply changes nothing.
 * - Sending happens at once when online, on page load and on the "online" event. An item
 *   leaves the queue after the server's 200 (recorded or replayed) or a refusal (4xx, told to
 *   the mentor); a network error or a 5xx keeps it for the next try.
 * - Without JavaScript the form posts as an ordinary form. A saved draft, a testimony and an
 *   upload are sent straight to the server; with no signal they are held on the page, not lost.
 */

const CACHE = 'carecred-assess-v1';
const DB_NAME = 'carecred-assess';
const STORE = 'queue';
const sw = 'serviceWorker' in navigator && window.isSecureContext ? navigator.serviceWorker : null;
const statusBox = document.getElementById('observe-status');
let sending = false;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'client_key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const result = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(result && 'result' in result ? result.result : undefined);
    t.onerror = () => reject(t.error);
  });
}

const put = (item) => tx('readwrite', (s) => s.put(item));
const remove = (key) => tx('readwrite', (s) => s.delete(key));
const all = () => tx('readonly', (s) => s.getAll());

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function say(text, link, linkText) {
  if (!statusBox) return;
  statusBox.textContent = text;
  if (link) {
    const a = document.createElement('a');
    a.href = link;
    a.textContent = linkText || link;
    statusBox.append(' ', a);
  }
  statusBox.hidden = !text;
}

function payload(form, submitter) {
  const data = new FormData(form);
  const results = {};
  for (const [name, value] of data.entries()) {
    if (name.startsWith('c_')) {
      const cid = name.slice(2);
      results[cid] = { result: value, note: data.get(`n_${cid}`) || '' };
    }
  }
  const text = (name) => (data.get(name) || '').toString();
  return {
    client_key: newKey(),
    org: form.dataset.org,
    learner_id: Number(form.dataset.learner),
    module: form.dataset.module,
    submit: Boolean(submitter && submitter.value === 'submit'),
    method: text('method'),
    observed_on: text('observed_on'),
    setting: text('setting'),
    notes: text('notes'),
    assessor_role: text('assessor_role'),
    competence_statement: text('competence_statement'),
    results,
    queued_at: new Date().toISOString(),
  };
}

async function token() {
  const response = await fetch('/assess/sync-token', {
    headers: { Accept: 'application/json' },
    redirect: 'manual',
    credentials: 'same-origin',
  });
  if (response.status !== 200) throw new Error('no-token');
  return (await response.json()).csrf_token;
}

/** Send every queued observation. Returns the server's replies for the ones it accepted. */
async function flush(form) {
  if (sending || !navigator.onLine) return [];
  sending = true;
  const replies = [];
  try {
    const items = await all();
    if (!items.length) return [];
    const csrf = await token();
    for (const item of items) {
      const body = { ...item };
      delete body.queued_at;
      let response;
      try {
        response = await fetch(form ? form.dataset.syncUrl : '/assess/sync', {
          method: 'POST',
          credentials: 'same-origin',
          redirect: 'manual',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrf },
          body: JSON.stringify(body),
        });
      } catch {
        break; // no signal after all: keep the rest for later
      }
      if (response.status === 200) {
        await remove(item.client_key);
        replies.push(await response.json());
      } else if (response.status >= 400 && response.status < 500 && response.status !== 401) {
        await remove(item.client_key);
        let message = '';
        try {
          message = (await response.json()).message || '';
        } catch {
          message = '';
        }
        const words = form ? form.dataset.msgRefused : 'The server refused an observation saved on this phone:';
        say(`${words} ${message}`);
      } else {
        break; // logged out or a server problem: try again later
      }
    }
  } finally {
    sending = false;
  }
  return replies;
}

async function showWaiting(form, first = '') {
  const items = await all();
  const waiting = form ? form.dataset.msgWaiting : '{n} observation(s) saved on this phone, waiting to send.';
  if (items.length) say(`${first} ${waiting.replace('{n}', items.length)}`.trim());
}

function report(form, replies) {
  const last = replies[replies.length - 1];
  if (!last) return;
  if (last.status === 'draft') say(form ? form.dataset.msgDraft : 'Saved as a draft:', last.url, 'open it');
  else location.assign(last.url);
}

function captureForm(form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const item = payload(form, event.submitter);
    try {
      await put(item);
    } catch {
      form.submit(); // no IndexedDB (private mode): post as an ordinary form
      return;
    }
    for (const el of form.querySelectorAll('button')) el.disabled = true;
    say(form.dataset.msgQueued);
    const replies = await flush(form).catch(() => []);
    for (const el of form.querySelectorAll('button')) el.disabled = false;
    if (replies.length) report(form, replies);
    else {
      form.reset();
      await showWaiting(form, form.dataset.msgQueued);
    }
  });
}

async function keepForOffline() {
  const links = Array.from(document.querySelectorAll('a[data-offline]'), (a) => a.getAttribute('href'));
  if (!links.length || !('caches' in window) || !navigator.onLine) return;
  const styles = Array.from(document.querySelectorAll('link[rel=stylesheet], script[src]'), (el) =>
    el.getAttribute('href') || el.getAttribute('src'),
  );
  const cache = await caches.open(CACHE);
  await cache.addAll([location.pathname, ...links, ...styles]);
  const box = document.getElementById('assess-offline');
  if (box) {
    box.textContent = box.dataset.offlineReady;
    box.hidden = false;
  }
  document.documentElement.dataset.assessOffline = 'true';
}

async function start() {
  if (sw) sw.register('/assess/sw.js', { scope: '/assess/' }).catch(() => undefined);
  const form = document.querySelector('form[data-observe]');
  if (form) captureForm(form);
  for (const other of document.querySelectorAll('main form:not([data-observe])')) {
    // A saved draft and uploads go straight to the server: with no signal, keep what is typed.
    other.addEventListener('submit', (event) => {
      if (navigator.onLine) return;
      event.preventDefault();
      say(other.dataset.msgOffline || 'No signal: nothing was sent. What you typed is still here; send it when you are back online.');
    });
  }
  window.addEventListener('online', async () => {
    const replies = await flush(form).catch(() => []);
    if (replies.length) report(form, replies);
    else if (!form) await showWaiting(null);
  });
  const replies = await flush(form).catch(() => []);
  if (replies.length) say(`${replies.length} observation(s) saved on this phone were sent.`);
  else await showWaiting(form);
  await keepForOffline().catch(() => undefined);
}

start().catch(() => undefined);
