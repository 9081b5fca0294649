/* CareCred service worker, served at /sw.js with scope /: lessons that open with no signal,
 * and the queue that sends quiz answers and "I have read this" later, exactly once.
 * The page side is app.js (the conflict rule is written at its top).
 *
 * Caches (versioned names; activate deletes every other cc-* cache):
 *  - SHELL: app.css, app.js, the icons and the manifest. Precached on install, then served
 *    from the cache and refreshed in the background.
 *  - DATA: learner pages and offline bundles. Navigations are network first; after a network
 *    error, or NAV_TIMEOUT_MS without an answer, the saved copy is shown. app.js asks for a
 *    "prepare": /learn/offline.json, every module bundle, and every lesson, module and quiz page
 *    of the learner's modules are saved. DATA is emptied when someone logs in or out on this
 *    phone (shared phones in care homes).
 *  - Never cached: anything but GET, /auth/*, /learn/sync-token, quiz result pages, /manage/*,
 *    /verify/* (it has its own worker), downloads, redirects, errors and no-store answers.
 *
 * A quiz page never saved (the server shows it only once every lesson is read on the server)
 * is built here from the module's saved bundle (questions, never answers), inside the page
 * frame of its saved first lesson, with the translated words lesson.html carries in
 * #offline-quiz-text.
 *
 * The queue: IndexedDB "carecred-offline", store "queue" (items described in app.js), store
 * "meta" (current user, notices for the learner, what was saved). sync() takes a fresh CSRF
 * token from /learn/sync-token, sends lesson-done POSTs first, then quiz submissions, and deletes
 * an item only after the server's 200/204. A network error or a server error keeps everything
 * for later (the answer to a "sync" message carries send()'s result, so that an open page can
 * try again). 400/404/409 drop the item and leave a notice (409 on a quiz: the server's record
 * wins, or the attempt expired and nothing was recorded). A redirect (session expired) keeps
 * everything and asks the learner to log in.
 */

// The shell's version changes with app.js or app.css, so phones fetch the new ones; the data
// cache (saved lessons) keeps its name, so an update does not throw away what a phone saved.
const SHELL = 'cc-shell-v2';
const DATA = 'cc-data-v1';
const SHELL_URLS = [
  '/static/app.css',
  '/static/offline/app.js',
  '/static/offline/icon-192.png',
  '/static/offline/icon-512.png',
  '/manifest.webmanifest',
];
const NAV_TIMEOUT_MS = 6000;
const SYNC_TAG = 'cc-queue';
const ORIGIN = self.location.origin;

const QUIZ_PAGE = /^\/learn\/([^/]+)\/quiz$/;
const QUIZ_SUBMIT = /^\/learn\/[^/]+\/quiz\/\d+$/;
const RESULT_PAGE = /^\/learn\/[^/]+\/quiz\/\d+\/result$/;
const LESSON_DONE = /^\/learn\/([^/]+)\/lessons\/(\d+)\/done$/;
const QR = /^\/certificates\/[^/]+\/qr(\.png)?$/;

// ---- install, activate ------------------------------------------------------------------

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(SHELL_URLS.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('cc-') && name !== SHELL && name !== DATA) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// ---- fetch ------------------------------------------------------------------------------

function handled(path) {
  if (path === '/learn/sync-token' || RESULT_PAGE.test(path)) return false;
  return path === '/' || path === '/certificates/' || QR.test(path) || path.startsWith('/learn/');
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== ORIGIN) return;
  if (request.method === 'POST' && request.mode === 'navigate') {
    if (LESSON_DONE.test(url.pathname)) event.respondWith(lessonDone(request, url));
    else if (url.pathname === '/auth/login' || url.pathname === '/auth/logout') {
      event.respondWith(logInOrOut(request));
    }
    return;
  }
  if (request.method !== 'GET') return;
  if (SHELL_URLS.includes(url.pathname)) event.respondWith(shellFile(event, request, url));
  else if (!handled(url.pathname)) return;
  else if (request.mode === 'navigate') event.respondWith(page(event, request, url));
  else if (url.pathname.endsWith('/offline.json') || QR.test(url.pathname)) {
    event.respondWith(networkFirst(event, request, ORIGIN + url.pathname, 0));
  }
});

async function shellFile(event, request, url) {
  const cache = await caches.open(SHELL);
  const key = ORIGIN + url.pathname;
  const hit = await cache.match(key);
  const fresh = fetch(request).then((response) => {
    if (response.ok && response.type === 'basic') {
      const copy = response.clone();
      return cache.put(key, copy).then(() => response);
    }
    return response;
  });
  if (!hit) return fresh;
  event.waitUntil(fresh.catch(() => undefined));
  return hit;
}

/** Save a good answer under `key`; forget the saved copy when the server now refuses it. */
function store(cache, key, response) {
  const type = response.headers.get('Content-Type') || '';
  const cacheControl = response.headers.get('Cache-Control') || '';
  if (
    response.status === 200 &&
    response.type === 'basic' &&
    !response.redirected &&
    !cacheControl.includes('no-store') &&
    /^(text\/html|application\/json|image\/)/.test(type)
  ) {
    return cache.put(key, response.clone());
  }
  if (response.type === 'basic' && response.status >= 400 && response.status < 500) {
    return cache.delete(key);
  }
  return Promise.resolve();
}

async function networkFirst(event, request, key, timeoutMs) {
  const cache = await caches.open(DATA);
  const network = fetch(request);
  event.waitUntil(network.then((response) => store(cache, key, response)).catch(() => undefined));
  let timer;
  try {
    if (!timeoutMs) return await network;
    const slow = new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const first = await Promise.race([network, slow.then(() => cache.match(key))]);
    return first || (await network);
  } catch (error) {
    const hit = await cache.match(key);
    if (hit) return hit;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** A page's whole body at once: the browser can draw it as soon as it starts the page. */
async function whole(response) {
  const type = response.headers.get('Content-Type') || '';
  if (response.type !== 'basic' || !type.startsWith('text/html')) return response;
  const { status, statusText, headers } = response;
  return new Response(await response.arrayBuffer(), { status, statusText, headers });
}

async function page(event, request, url) {
  const quiz = url.pathname.match(QUIZ_PAGE);
  let response;
  try {
    response = await whole(
      await networkFirst(event, request, ORIGIN + url.pathname, NAV_TIMEOUT_MS),
    );
  } catch (error) {
    const built = quiz && (await offlineQuizPage(quiz[1]));
    if (built) return built;
    // Not saved on this phone: show My learning, which lists what is.
    const home = await caches.match(`${ORIGIN}/`, { cacheName: DATA });
    if (home) return home;
    throw error;
  }
  if (quiz && response.status === 409) {
    // "Read all the lessons first", but they may be read on this phone and still queued.
    const user = await getMeta('user');
    const queued = (await allItems()).some(
      (i) => i.user === user && i.kind === 'lesson' && i.module === quiz[1],
    );
    if (queued) {
      await sync(user);
      return fetch(request);
    }
  }
  return response;
}

/** "I have read this" posted with no signal: queue it and open the next page from the cache. */
async function lessonDone(request, url) {
  try {
    return await fetch(request);
  } catch (error) {
    const [, code, position] = url.pathname.match(LESSON_DONE);
    const user = await getMeta('user');
    if (!user) throw error;
    await enqueue({ kind: 'lesson', user, module: code, url: url.pathname, queued_at: now() });
    registerSync();
    return Response.redirect(ORIGIN + (await nextPage(code, Number(position))), 303);
  }
}

async function nextPage(code, position) {
  const bundle = await savedJson(`/learn/${code}/offline.json`);
  const next = bundle && bundle.lessons.find((l) => l.position === position + 1);
  if (next) return next.url;
  return bundle ? `/learn/${code}/quiz` : `/learn/${code}`;
}

async function logInOrOut(request) {
  const response = await fetch(request);
  // Logged in or out: the saved pages belong to nobody now. The queue stays: each item
  // names its learner and is only sent in that learner's session.
  if (response.type === 'opaqueredirect') await forgetPages();
  return response;
}

async function forgetPages() {
  await caches.delete(DATA);
  await setMeta('modules', {});
  await setMeta('prepared', 0);
  await setMeta('user', null);
  await setMeta('login', false);
}

// ---- the quiz page built offline ----------------------------------------------------------

function esc(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

/** The data-* attributes of the element with this id (values stay HTML-escaped). */
function dataAttributes(html, id) {
  const at = html.indexOf(`id="${id}"`);
  if (at < 0) return null;
  const tag = html.slice(html.lastIndexOf('<', at), html.indexOf('>', at));
  const out = {};
  for (const m of tag.matchAll(/\sdata-([a-z-]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

async function savedJson(path) {
  const hit = await caches.match(ORIGIN + path, { cacheName: DATA });
  return hit ? hit.json() : null;
}

async function offlineQuizPage(code) {
  const bundle = await savedJson(`/learn/${code}/offline.json`);
  if (!bundle || !bundle.lessons.length || !bundle.quiz) return null;
  const first = await caches.match(ORIGIN + bundle.lessons[0].url, { cacheName: DATA });
  if (!first) return null;
  const shell = await first.text();
  const words = dataAttributes(shell, 'offline-quiz-text');
  const start = shell.indexOf('>', shell.indexOf('<main')) + 1;
  const end = shell.lastIndexOf('</main>');
  if (!words || start <= 0 || end < start) return null;
  const title = esc(bundle.title);
  const quizWords = bundle.quiz.words || {};
  const questions = bundle.quiz.questions
    .map((q, i) => {
      const type = q.type === 'multiple' ? 'checkbox' : 'radio';
      const ordering = q.type === 'ordering';
      const options = q.options
        .map((o) => {
          const id = esc(`q${q.id}-${o.id}`);
          if (ordering) {
            // a position select per step, as the server's page has (steps already shuffled)
            const places = q.options.map((_, n) => `<option value="${n + 1}">${n + 1}</option>`);
            return (
              `<div class="order-step"><label for="${id}"><span lang="en">${esc(o.text)}</span>` +
              `<span class="vh"> (${esc(quizWords.position || '')})</span></label>` +
              `<select name="${id}" id="${id}"><option value="">–</option>${places.join('')}` +
              `</select></div>`
            );
          }
          return (
            `<label class="option" for="${id}"><input type="${type}" name="q${q.id}" ` +
            `id="${id}" value="${esc(o.id)}"> <span lang="en">${esc(o.text)}</span></label>`
          );
        })
        .join('');
      let hint = q.type === 'multiple' ? ` <em>(${words.multiple})</em>` : '';
      if (ordering) hint = ` <em>(${esc(quizWords.ordering || '')})</em>`;
      return (
        `<fieldset class="question${ordering ? ' ordering' : ''}" id="q${esc(q.id)}">` +
        `<legend><span class="qnum">` +
        `${fill(words.question, { n: i + 1 })}</span> <span lang="en">${esc(q.prompt)}</span>` +
        `${hint}</legend>${options}</fieldset>`
      );
    })
    .join('');
  const intro = fill(words.intro, { n: bundle.quiz.questions.length, mark: bundle.pass_mark });
  const main =
    `<h1>${words.quiz}: <span lang="en">${title}</span></h1><p>${intro}</p>` +
    `<form method="post" action="${esc(bundle.quiz.submit_url)}" class="stack" data-quiz ` +
    `data-offline-copy data-attempt="${esc(bundle.quiz.attempt_id)}" ` +
    `data-msg-order="${esc(quizWords.order_problem || '')}" ` +
    `data-module="${esc(bundle.code)}">${questions}` +
    `<button type="submit" class="button">${words.send}</button></form>`;
  const head = shell.slice(0, start).replace(/<title>([^<]*)<\/title>/, (whole, text) => {
    const cut = text.lastIndexOf(' – ');
    return `<title>${fill(words.title, { title })}${cut >= 0 ? text.slice(cut) : ''}</title>`;
  });
  const headers = new Headers({ 'Content-Type': 'text/html; charset=utf-8' });
  for (const name of [
    'Content-Security-Policy',
    'X-Content-Type-Options',
    'X-Frame-Options',
    'Referrer-Policy',
    'Permissions-Policy',
  ]) {
    const value = first.headers.get(name);
    if (value) headers.set(name, value);
  }
  return new Response(head + main + shell.slice(end), { headers });
}

// ---- prepare: save the learner's modules ------------------------------------------------

async function save(cache, path, keep) {
  const key = ORIGIN + path;
  if (keep && (await cache.match(key))) return true;
  try {
    const response = await fetch(key, { credentials: 'same-origin' });
    await store(cache, key, response);
    return response.status === 200 && !response.redirected;
  } catch {
    return false;
  }
}

async function fetchJson(cache, path) {
  try {
    const response = await fetch(ORIGIN + path, { headers: { Accept: 'application/json' } });
    if (response.status !== 200 || response.redirected) return null;
    await store(cache, ORIGIN + path, response);
    return await response.json();
  } catch {
    return null;
  }
}

async function prepare(lang) {
  const cache = await caches.open(DATA);
  const index = await fetchJson(cache, '/learn/offline.json');
  if (!index) return { ready: false };
  const before = (await getMeta('modules')) || {};
  const after = {};
  let ready = true;
  for (const m of index.modules) {
    // one module at a time: gentle on a weak signal and on the server
    const bundle = await fetchJson(cache, m.bundle_url);
    if (!bundle) {
      ready = false;
      continue;
    }
    const stamp = `${bundle.version}|${lang}`;
    const keep = before[m.code] === stamp; // lesson pages change with the module or language
    const saved = await Promise.all([
      ...bundle.lessons.map((l) => save(cache, l.url, keep)),
      save(cache, m.module_url, false),
      save(cache, `${m.module_url}/quiz`, false), // refused until every lesson is read
    ]);
    const lessonsSaved = saved.slice(0, bundle.lessons.length).every(Boolean);
    if (lessonsSaved) after[m.code] = stamp;
    ready = ready && lessonsSaved && saved[bundle.lessons.length];
  }
  await save(cache, '/certificates/', false);
  // Forget modules no longer assigned.
  const codes = new Set(index.modules.map((m) => m.code));
  for (const request of await cache.keys()) {
    const m = new URL(request.url).pathname.match(/^\/learn\/([^/]+)(\/|$)/);
    if (m && m[1] !== 'offline.json' && !codes.has(m[1])) await cache.delete(request);
  }
  await setMeta('modules', after);
  if (ready) await setMeta('prepared', Date.now());
  return { ready, modules: index.modules.length };
}

/** After a quiz is recorded: the saved bundle and quiz page name an attempt now closed. */
async function refreshModule(code) {
  const cache = await caches.open(DATA);
  await fetchJson(cache, `/learn/${code}/offline.json`);
  await Promise.all([
    save(cache, `/learn/${code}`, false),
    save(cache, `/learn/${code}/quiz`, false),
    save(cache, '/', false),
  ]);
}

// ---- the queue (IndexedDB) ----------------------------------------------------------------

let database = null;

function openDb() {
  if (!database) {
    database = new Promise((resolve, reject) => {
      const open = indexedDB.open('carecred-offline', 1);
      open.onupgradeneeded = () => {
        open.result.createObjectStore('queue', { keyPath: 'id', autoIncrement: true });
        open.result.createObjectStore('meta');
      };
      open.onsuccess = () => {
        open.result.onversionchange = () => {
          open.result.close();
          database = null;
        };
        resolve(open.result);
      };
      open.onerror = () => {
        database = null;
        reject(open.error);
      };
    });
  }
  return database;
}

async function idb(storeName, mode, action) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const request = action(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

const allItems = () => idb('queue', 'readonly', (s) => s.getAll());
const putItem = (item) => idb('queue', 'readwrite', (s) => s.put(item));
const deleteItem = (id) => idb('queue', 'readwrite', (s) => s.delete(id));
const getMeta = (key) => idb('meta', 'readonly', (s) => s.get(key));
const setMeta = (key, value) => idb('meta', 'readwrite', (s) => s.put(value, key));

let lock = Promise.resolve();
function exclusive(work) {
  const run = lock.then(work);
  lock = run.catch(() => undefined);
  return run;
}

function now() {
  return new Date().toISOString();
}

/** Only well-formed items for this site's own endpoints are queued. */
function checked(item, user) {
  if (!item || !user) return null;
  const queuedAt = typeof item.queued_at === 'string' ? item.queued_at : now();
  if (item.kind === 'lesson') {
    const m = typeof item.url === 'string' && item.url.match(LESSON_DONE);
    return m ? { kind: 'lesson', user, module: m[1], url: item.url, queued_at: queuedAt } : null;
  }
  const key = item.submission_key;
  if (
    item.kind !== 'quiz' ||
    typeof item.submit_url !== 'string' ||
    !QUIZ_SUBMIT.test(item.submit_url) ||
    !Number.isInteger(item.attempt_id) ||
    typeof key !== 'string' ||
    key.length < 8 ||
    key.length > 64 ||
    typeof item.answers !== 'object' ||
    item.answers === null
  ) {
    return null;
  }
  return {
    kind: 'quiz',
    user,
    module: item.submit_url.split('/')[2],
    attempt_id: item.attempt_id,
    submit_url: item.submit_url,
    answers: item.answers,
    submission_key: key,
    queued_at: queuedAt,
  };
}

/** Add an item; one per lesson, and one per quiz attempt (new answers replace the saved ones,
 * keeping the first submission_key, so a reply that was lost cannot become a second result). */
function enqueue(item) {
  return exclusive(async () => {
    const items = (await allItems()).filter((i) => i.user === item.user);
    if (item.kind === 'lesson') {
      if (!items.some((i) => i.kind === 'lesson' && i.url === item.url)) await putItem(item);
      return item;
    }
    const pending = items
      .filter((i) => i.kind === 'lesson' && i.module === item.module)
      .map((i) => i.url);
    const same = items.find((i) => i.kind === 'quiz' && i.attempt_id === item.attempt_id);
    const stored = same
      ? { ...same, answers: item.answers, queued_at: item.queued_at, blocked: false }
      : { ...item };
    stored.lesson_done_urls_pending = [
      ...new Set([...(stored.lesson_done_urls_pending || []), ...pending]),
    ];
    await putItem(stored);
    return stored;
  });
}

async function notify(notice) {
  await exclusive(async () => {
    const notices = (await getMeta('notices')) || [];
    notices.push(notice);
    await setMeta('notices', notices.slice(-20));
  });
}

/** What the page shows; notices are handed over once. */
async function state(user) {
  const items = await allItems();
  const mine = user ? items.filter((i) => i.user === user) : items;
  const notices = user
    ? await exclusive(async () => {
        const all = (await getMeta('notices')) || [];
        await setMeta('notices', all.filter((n) => n.user !== user));
        return all.filter((n) => n.user === user);
      })
    : [];
  return {
    count: mine.length,
    login: Boolean(await getMeta('login')),
    notices,
    quizzes: mine
      .filter((i) => i.kind === 'quiz')
      .map((i) => ({ attempt_id: i.attempt_id, answers: i.answers })),
    prepared: Boolean(await getMeta('prepared')),
  };
}

// ---- sync ---------------------------------------------------------------------------------

let running = null;

function sync(user) {
  if (!running) running = send(user).finally(() => (running = null));
  return running;
}

function registerSync() {
  if (self.registration.sync) self.registration.sync.register(SYNC_TAG).catch(() => undefined);
}

/** Returns "empty", "done", "offline", "login" or "later". */
async function send(user) {
  const queue = (await allItems()).filter((i) => i.user === user);
  if (!user || !queue.length) return 'empty';
  let token;
  try {
    const response = await fetch('/learn/sync-token', {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      redirect: 'manual',
    });
    if (response.type === 'opaqueredirect' || response.status === 401) {
      await setMeta('login', true);
      return 'login';
    }
    if (response.status !== 200) return 'later';
    token = (await response.json()).csrf_token;
  } catch {
    return 'offline';
  }
  await setMeta('login', false);
  const lessons = queue.filter((i) => i.kind === 'lesson');
  const quizzes = queue.filter((i) => i.kind === 'quiz');
  const unsent = new Set(lessons.map((i) => i.url));
  for (const item of [...lessons, ...quizzes]) {
    if (item.kind === 'quiz' && (item.lesson_done_urls_pending || []).some((u) => unsent.has(u))) {
      continue; // its lessons must reach the server first
    }
    let response;
    let body = {};
    try {
      response = await fetch(item.kind === 'lesson' ? item.url : item.submit_url, {
        method: 'POST',
        redirect: 'manual',
        cache: 'no-store',
        headers: {
          Accept: 'application/json',
          'Content-Type': 'application/json',
          'X-CSRFToken': token,
        },
        body: JSON.stringify(
          item.kind === 'lesson'
            ? {}
            : { answers: item.answers, submission_key: item.submission_key },
        ),
      });
      if (response.status !== 204) body = await response.json().catch(() => ({}));
    } catch {
      return 'offline'; // no answer: the item may or may not have arrived; its key makes a resend safe
    }
    if (response.type === 'opaqueredirect') {
      await setMeta('login', true);
      return 'login';
    }
    const base = { user, kind: item.kind, module: item.module, attempt_id: item.attempt_id };
    if (response.ok) {
      await deleteItem(item.id);
      unsent.delete(item.url);
      if (item.kind === 'quiz') {
        await notify({ ...base, kind: 'sent', result_url: body.result_url, passed: body.passed });
        refreshModule(item.module).catch(() => undefined);
      }
    } else if (response.status === 409 && body.error === 'Lessons outstanding') {
      if (!item.blocked) {
        await putItem({ ...item, blocked: true }); // kept until its lessons are read
        await notify({ ...base, kind: 'lessons' });
      }
    } else if (response.status === 409 && body.error === 'Attempt expired') {
      await deleteItem(item.id); // drawn too long ago: nothing was recorded
      await notify({ ...base, kind: 'expired', quiz_url: `/learn/${item.module}/quiz` });
    } else if (response.status === 400 && body.error === 'Form expired') {
      return 'later'; // the token, not the item, was refused
    } else if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      await deleteItem(item.id);
      unsent.delete(item.url); // a quiz waiting for it is tried: the server decides
      const conflict = item.kind === 'quiz' && response.status === 409;
      await notify({
        ...base,
        kind: conflict ? 'conflict' : 'refused',
        result_url: conflict ? `${item.submit_url}/result` : null,
      });
    } else {
      return 'later';
    }
  }
  return 'done';
}

async function tellPages() {
  for (const client of await self.clients.matchAll({ type: 'window' })) {
    client.postMessage({ type: 'queue-changed' });
  }
}

self.addEventListener('sync', (event) => {
  if (event.tag !== SYNC_TAG) return;
  event.waitUntil(
    (async () => {
      const result = await sync(await getMeta('user'));
      await tellPages();
      if (result === 'offline' || result === 'later') throw new Error('try again later');
    })(),
  );
});

// ---- messages from app.js -----------------------------------------------------------------

async function answer(message) {
  const user = typeof message.user === 'string' && message.user ? message.user : null;
  switch (message.type) {
    case 'hello':
      await setMeta('user', user);
      return state(user);
    case 'state':
      return state(user);
    case 'enqueue': {
      const item = checked(message.item, user);
      if (!item) throw new Error('refused item');
      const stored = await enqueue(item);
      registerSync();
      return { ...(await state(user)), submission_key: stored.submission_key };
    }
    case 'sync': {
      const result = await sync(user);
      return { ...(await state(user)), result };
    }
    case 'claim':
      await self.clients.claim();
      return {};
    case 'prepare':
      return prepare(String(message.lang || ''));
    default:
      throw new Error('unknown message');
  }
}

self.addEventListener('message', (event) => {
  const port = event.ports[0];
  const work = answer(event.data || {}).then(
    (reply) => port && port.postMessage(reply),
    (error) => port && port.postMessage({ error: String(error) }),
  );
  event.waitUntil(work);
});
