/**
 * Service worker for /verify/: the certificate checker keeps working with no signal.
 *
 * - Precaches the page, its scripts and styles (bump VERSION whenever one of them changes:
 *   static files are served cache-first, so a new version is what makes browsers fetch them).
 * - /verify/ (the page): network first; offline, a copy precached without cookies, so the
 *   HTML of a logged-in visit (which base.html personalises) is never stored.
 * - /verify/trust.json (this site's trust list): network first, the cached copy when offline.
 *   The page itself also keeps the last good list in localStorage and verifies it against its
 *   pinned root key every time, so a stale or altered cached copy cannot add an issuer.
 * - Other /static/ files the page uses (whatever base.html adds): network first, cached as
 *   they are fetched, so they are there offline too.
 * - Old caches (other versions) are deleted when this version activates.
 * Nothing else is cached, and nothing is ever sent anywhere by this worker.
 */
'use strict';

const VERSION = 'v2';
const PREFIX = 'carecred-verify-';
const CACHE = `${PREFIX}${VERSION}`;
const PAGE = '/verify/';
const TRUST = '/verify/trust.json';
const STATIC = [
  '/static/app.css',
  '/static/verify/verify.css',
  '/static/verify/page.js',
  '/static/verify/verify.js',
  '/static/verify/pdf.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) =>
        cache.addAll([
          new Request(PAGE, { cache: 'reload', credentials: 'omit' }),
          ...STATIC.map((url) => new Request(url, { cache: 'reload' })),
        ]),
      )
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, key, { store = true } = {}) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (store && response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(key, { ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true, ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === TRUST) {
    event.respondWith(networkFirst(request, TRUST));
  } else if (url.pathname === PAGE) {
    event.respondWith(networkFirst(request, PAGE, { store: false }));
  } else if (STATIC.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.startsWith('/static/')) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
