/* CareCred mentor pages offline: a service worker served at /assess/sw.js, scope /assess/.
 *
 * - Pages under /assess/ (the list of workers, the observation forms) are fetched from the
 *   network first and kept in the cache; with no signal the kept copy is shown.
 * - The CSS and scripts those pages use are kept the same way.
 * - Never kept: anything but GET, /assess/sync-token, evidence files, this file.
 * - The filled observations themselves are queued by observe.js in IndexedDB and sent to
 *   /assess/sync (exactly once per client_key: the server records a key once).
 * - Answers the site-wide offline script (static/offline/app.js), which also runs on these
 *   pages, with an empty learner queue: learners' lessons and quizzes are not kept here.
 */

const CACHE = 'carecred-assess-v1';
const NEVER = [/^\/assess\/sync-token$/, /^\/assess\/evidence\//, /^\/assess\/sw\.js$/, /^\/assess\/sync$/];

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith('carecred-assess-') && k !== CACHE).map((k) => caches.delete(k))),
      )
      .then(() => self.clients.claim()),
  );
});

function keepable(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (NEVER.some((re) => re.test(url.pathname))) return false;
  return url.pathname.startsWith('/assess/') || url.pathname.startsWith('/static/');
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && response.type === 'basic') {
      cache.put(request, response.clone()).catch(() => undefined);
    }
    return response;
  } catch (err) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept) return kept;
    if (request.mode === 'navigate') {
      return new Response(
        '<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
          '<title>Offline</title><h1>No signal</h1><p>This page was not saved on this phone. ' +
          'Open the list of observations while you have a signal, then try again.</p></html>',
        { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } },
      );
    }
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  if (keepable(event.request)) event.respondWith(networkFirst(event.request));
});

// The site-wide script's messages: this worker keeps no learner queue.
self.addEventListener('message', (event) => {
  const port = event.ports && event.ports[0];
  if (!port) return;
  const type = event.data && event.data.type;
  if (type === 'claim') {
    self.clients.claim().then(() => port.postMessage({ ok: true }));
  } else if (type === 'hello' || type === 'state' || type === 'sync') {
    port.postMessage({ count: 0, lessons: [], quizzes: [], prepared: false });
  } else if (type === 'prepare') {
    port.postMessage({ ready: false });
  } else {
    port.postMessage({ error: 'not-here' });
  }
});
