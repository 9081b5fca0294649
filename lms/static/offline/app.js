/* CareCred offline client: an ES module on every page (base.html), no libraries.
 *
 * CONFLICT RULE: the server's record wins. Quiz answers saved on this phone carry a
 * submission_key. The server records an attempt once; sending the same key again only returns
 * the recorded result ("replayed"). If the server already recorded that attempt with other
 * answers (sent from another phone, or online first), the answers saved here are NOT applied:
 * they are removed from the queue and the learner is told that the server already has a newer
 * result for that quiz, with a link to it.
 *
 * - Registers /sw.js (sw.js caches and sends the queue). On My learning, and once per app
 *   session, asks it to save the learner's modules for offline use, then sets
 *   <html data-offline-ready="true">.
 * - Quiz (form[data-quiz]): with JavaScript the answers always go through the queue: saved in
 *   IndexedDB first, then sent at once when online ("Saved on this phone..." when they cannot
 *   be). Without JavaScript the form posts as before. An ordering question (fieldset.ordering,
 *   a position select per step, named q<id>-<option>) must have every step placed once, or none:
 *   otherwise nothing is saved and the question says so (form's data-msg-order).
 * - Lessons (form[data-lesson-done]): offline, "I have read this" is queued and the next page
 *   opens from the cache. Online it posts as before; sw.js queues it if that post fails.
 * - Sync: on page load, on the "online" event, and by Background Sync where the browser has it
 *   (iOS has not). Lessons first, then quizzes; an item leaves the queue only after the server's
 *   200/204; a network error keeps it; 400/409 drop it with a notice. When the phone says it is
 *   online but a send fails (the signal is back but weak, or the server is busy), the open page
 *   tries again after 2 s, then 4 s, 8 s ... up to a minute, until it gets through.
 * - #sync-status shows "N waiting to send", "All sent" or "Offline"; notices appear at the top
 *   of <main>. Every word shown comes from data-msg-* attributes the templates translate.
 *
 * Queue items (IndexedDB "carecred-offline", store "queue", written by sw.js):
 *   {id, kind: "quiz", user, module, attempt_id, submit_url,
 *    answers: {"q12": ["b"], "q13-a": ["2"], "q13-b": ["1"], ...},
 *    submission_key, lesson_done_urls_pending: [...], queued_at}
 *   {id, kind: "lesson", user, module, url, queued_at}
 */

const status = document.getElementById('sync-status');
const words = status ? status.dataset : {};
const user = (status && status.dataset.user) || '';
const sw = 'serviceWorker' in navigator && window.isSecureContext ? navigator.serviceWorker : null;
const ready = sw ? sw.ready : null;
let latest = null;

function worker() {
  return ready.then((registration) => sw.controller || registration.active);
}

function ask(message, ms = 30000) {
  return worker().then(
    (target) =>
      new Promise((resolve, reject) => {
        const channel = new MessageChannel();
        const timer = setTimeout(() => reject(new Error('timeout')), ms);
        channel.port1.onmessage = ({ data }) => {
          clearTimeout(timer);
          if (data && data.error) reject(new Error(data.error));
          else resolve(data);
        };
        target.postMessage({ ...message, user }, [channel.port2]);
      }),
  );
}

function within(promise, ms) {
  return Promise.race([
    promise,
    new Promise((resolve, reject) => setTimeout(() => reject(new Error('timeout')), ms)),
  ]);
}

function now() {
  return new Date().toISOString();
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

// ---- what the learner sees ----------------------------------------------------------------

function notices() {
  let box = document.getElementById('sync-notices');
  if (!box) {
    box = document.createElement('div');
    box.id = 'sync-notices';
    document.getElementById('main').prepend(box);
  }
  return box;
}

function notice(kind, text, link, linkText, role = 'alert') {
  const existing = document.querySelector(`.notice-${kind}`);
  if (existing && (kind === 'login' || kind === 'lessons')) return existing;
  const p = document.createElement('p');
  p.className = `notice notice-${kind}`;
  p.setAttribute('role', role);
  p.tabIndex = -1;
  p.textContent = text;
  if (link) {
    const a = document.createElement('a');
    a.href = link;
    a.textContent = linkText;
    p.append(' ', a);
  }
  notices().append(p);
  return p;
}

function quizOnPage() {
  return document.querySelector('form[data-quiz]');
}

function onQuizPageOf(attemptId) {
  const form = quizOnPage();
  return Boolean(form && Number(form.dataset.attempt) === attemptId);
}

function show(state) {
  if (!state || !status) return;
  latest = state;
  const n = state.count;
  const waiting = n ? words.msgWaiting.replace('{n}', n) : '';
  let text = '';
  if (!navigator.onLine) text = waiting ? `${words.msgOffline} · ${waiting}` : words.msgOffline;
  else if (n) text = waiting;
  else if (user) text = words.msgSent;
  if (status.textContent !== text) status.textContent = text;
  if (n && (state.login || !user)) {
    const here = location.pathname.startsWith('/auth/login');
    notice('login', words.msgLogin, here ? null : '/auth/login', words.msgLoginLink);
  } else {
    const old = document.querySelector('.notice-login');
    if (old) old.remove();
  }
  const queued = document.getElementById('quiz-queued');
  const form = quizOnPage();
  if (queued && form && !state.quizzes.some((q) => q.attempt_id === Number(form.dataset.attempt))) {
    queued.remove(); // sent, or refused: a notice says which
  }
  for (const note of state.notices || []) {
    if (note.kind === 'sent' && note.result_url && onQuizPageOf(note.attempt_id)) {
      location.replace(note.result_url); // the answers from this page were recorded
      return;
    }
    if (note.kind === 'sent') notice('sent', words.msgQuizSent, note.result_url, words.msgResult, 'status');
    else if (note.kind === 'conflict') notice('conflict', words.msgConflict, note.result_url, words.msgResult);
    else if (note.kind === 'expired') notice('expired', words.msgExpired, note.quiz_url, words.msgQuiz);
    else if (note.kind === 'lessons') notice('lessons', words.msgLessons);
    else if (note.kind === 'refused') notice('refused', words.msgRefused);
  }
}

function queuedMessage(form, focus) {
  let p = document.getElementById('quiz-queued');
  if (!p) {
    p = document.createElement('p');
    p.id = 'quiz-queued';
    p.className = 'notice';
    p.tabIndex = -1;
    p.setAttribute('role', 'status');
    form.after(p);
  }
  p.textContent = words.msgQueued;
  if (focus) p.focus();
}

// ---- forms ----------------------------------------------------------------------------------

/** The first ordering question placed part-way or with two steps in one place, or null. */
function unfinishedOrder(form) {
  for (const old of form.querySelectorAll('.order-problem')) old.remove();
  for (const fieldset of form.querySelectorAll('fieldset.ordering')) {
    const values = Array.from(fieldset.querySelectorAll('select'), (s) => s.value);
    const placed = values.filter(Boolean);
    if (placed.length && (placed.length < values.length || new Set(placed).size < placed.length)) {
      return fieldset;
    }
  }
  return null;
}

function showOrderProblem(form, fieldset) {
  const p = document.createElement('p');
  p.className = 'error order-problem';
  p.id = `${fieldset.id || 'order'}-problem`;
  p.setAttribute('role', 'alert');
  p.textContent = form.dataset.msgOrder || '';
  fieldset.querySelector('legend').after(p);
  const first = fieldset.querySelector('select');
  if (first) {
    first.setAttribute('aria-describedby', p.id);
    first.focus();
  }
}

function quizForm(form) {
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    const unfinished = unfinishedOrder(form);
    if (unfinished) {
      showOrderProblem(form, unfinished);
      return;
    }
    busy = true;
    const answers = {};
    for (const input of form.querySelectorAll('input[name^="q"]:checked')) {
      (answers[input.name] = answers[input.name] || []).push(input.value);
    }
    for (const select of form.querySelectorAll('select[name^="q"]')) {
      if (select.value) answers[select.name] = [select.value];
    }
    const item = {
      kind: 'quiz',
      attempt_id: Number(form.dataset.attempt),
      submit_url: form.getAttribute('action'),
      answers,
      submission_key: newKey(),
      queued_at: now(),
    };
    try {
      show(await within(ask({ type: 'enqueue', item }), 5000));
    } catch {
      busy = false;
      if (!('offlineCopy' in form.dataset)) {
        // No worker, or it was too slow: post as usual, with the key of the copy it may still
        // queue, so the server takes that copy (sent later) as this same submission.
        let key = form.querySelector('input[name="submission_key"]');
        if (!key) {
          key = document.createElement('input');
          key.type = 'hidden';
          key.name = 'submission_key';
          form.append(key);
        }
        key.value = item.submission_key;
        form.submit();
      }
      return;
    }
    backgroundSync();
    if (navigator.onLine) {
      try {
        await send();
      } catch {
        // still queued: sent later
      }
    }
    busy = false;
    const stillQueued = latest && latest.quizzes.some((q) => q.attempt_id === item.attempt_id);
    if (stillQueued) queuedMessage(form, true);
    else {
      const last = document.querySelector('#sync-notices .notice:last-child');
      if (last) last.focus();
    }
  });
}

function lessonForm(form) {
  form.addEventListener('submit', (event) => {
    if (navigator.onLine) return; // posts as usual; sw.js queues it if the post fails
    event.preventDefault();
    const item = { kind: 'lesson', url: form.getAttribute('action'), queued_at: now() };
    within(ask({ type: 'enqueue', item }), 5000).then(
      () => {
        backgroundSync();
        location.assign(form.dataset.next);
      },
      () => form.submit(),
    );
  });
}

function prefill(state) {
  const form = quizOnPage();
  if (!form) return;
  const saved = state.quizzes.find((q) => q.attempt_id === Number(form.dataset.attempt));
  if (!saved) return;
  const answered = Array.from(form.querySelectorAll('select[name^="q"]')).some((s) => s.value);
  if (!answered && !form.querySelector('input[name^="q"]:checked')) {
    for (const [name, values] of Object.entries(saved.answers)) {
      const select = document.getElementById(name);
      if (select && select.tagName === 'SELECT') {
        select.value = values[0] || '';
        continue;
      }
      for (const value of values) {
        const input = document.getElementById(`${name}-${value}`);
        if (input) input.checked = true;
      }
    }
  }
  queuedMessage(form, false);
}

// ---- sync and saving for offline -------------------------------------------------------------

/** Send the queue now; if that fails while the phone says it is online, try again later. */
async function send() {
  const state = await ask({ type: 'sync' }, 60000);
  show(state);
  if (state.result === 'offline' || state.result === 'later') retryLater();
  else retryDelay = 0;
  return state;
}

let retryTimer = null;
let retryDelay = 0;

function retryLater() {
  if (retryTimer || !user) return;
  retryDelay = Math.min(retryDelay ? retryDelay * 2 : 2000, 60000);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    if (navigator.onLine) send().catch(() => undefined); // offline: the "online" event sends
  }, retryDelay);
}

function backgroundSync() {
  ready
    .then((registration) => registration.sync && registration.sync.register('cc-queue'))
    .catch(() => undefined);
}

async function syncNow() {
  if (user && navigator.onLine) await send();
  else show(await ask({ type: 'state' }));
}

/** A page opened offline holds an old CSRF token: take a fresh one when the signal is back. */
async function freshTokens() {
  const inputs = document.querySelectorAll('input[name="csrf_token"]');
  if (!user || !inputs.length) return;
  const response = await fetch('/learn/sync-token', {
    headers: { Accept: 'application/json' },
    redirect: 'manual',
  });
  if (response.status !== 200) return;
  const { csrf_token: token } = await response.json();
  for (const input of inputs) input.value = token;
}

/** A page that loaded while the worker was installing may be left out of its first claim. */
function controlled() {
  if (sw.controller) return Promise.resolve();
  const change = new Promise((resolve) => sw.addEventListener('controllerchange', resolve, { once: true }));
  ask({ type: 'claim' }).catch(() => undefined);
  return change;
}

function once(key) {
  try {
    if (sessionStorage.getItem(key)) return false;
    sessionStorage.setItem(key, '1');
  } catch {
    // private mode: prepare every time
  }
  return true;
}

async function saveForOffline(state) {
  const home = document.getElementById('offline-ready');
  let done = state.prepared;
  const appOpen = once('cc-prepared');
  if (user && navigator.onLine && (home || appOpen)) {
    const result = await ask({ type: 'prepare', lang: document.documentElement.lang }, 180000);
    done = result.ready;
  }
  await controlled();
  if (done) {
    if (home) home.hidden = false;
    document.documentElement.dataset.offlineReady = 'true';
  }
}

async function start() {
  const quiz = quizOnPage();
  if (quiz) quizForm(quiz);
  const lesson = document.querySelector('form[data-lesson-done]');
  if (lesson) lessonForm(lesson);
  sw.register('/sw.js', { scope: '/' }).catch(() => undefined); // offline: the old one stays
  sw.addEventListener('message', (event) => {
    if (event.data && event.data.type === 'queue-changed') ask({ type: 'state' }).then(show);
  });
  window.addEventListener('online', () => {
    syncNow().catch(() => undefined);
    freshTokens().catch(() => undefined);
  });
  window.addEventListener('offline', () => show(latest));
  let state = await ask({ type: 'hello' });
  show(state);
  prefill(state);
  if (user && navigator.onLine && state.count) state = await send();
  await saveForOffline(state);
}

// /verify/ and /assess/ have their own workers (static/verify/sw.js, static/assess/sw.js)
// and no learner queue.
const ownWorker = ['/verify/', '/assess/'].some((p) => location.pathname.startsWith(p));
if (sw && status && !ownWorker) start().catch(() => undefined);
