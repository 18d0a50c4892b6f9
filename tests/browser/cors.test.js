'use strict';
/*
 * CORS as Chromium enforces it, through the proxy: what a page on the
 * allowed origin can read, what the browser refuses to send or to show,
 * and what the backend saw meanwhile.  The policy (browser.js) allows
 * exactly the allowed page's origin, with credentials, GET POST PUT,
 * the request headers Content-Type and X-Custom, and exposes
 * X-Request-Id.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const b = require('./browser');

const T = { timeout: 30000 };
const env = b.suite();

/* A backend response with an exposed and an unexposed header. */
const HEADERS_TARGET = '/headers-raw?' + new URLSearchParams([
	['h', 'X-Request-Id:req-42'],
	['h', 'X-Internal:not-for-the-page'],
	['h', 'Content-Type:text/plain'],
	['body', 'hello from the backend\n'],
]).toString();

function backendSaw(s, path) {
	return s.backend.stats.log.filter((e) => e.path === path);
}

function echoHeader(echo, name) {
	const lc = name.toLowerCase();

	return echo.rawHeaders.filter(([n]) => n.toLowerCase() === lc)
	    .map(([, v]) => v);
}

test('a credentialed GET from the allowed origin reads the body and the ' +
    'exposed header, and nothing unexposed', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch(HEADERS_TARGET, { credentials: 'include' },
	    { read: ['x-request-id', 'x-internal', 'content-type'] });

	assert.equal(got.ok, true, s.why(got));
	assert.equal(got.status, 200, s.why(got));
	assert.equal(got.body, 'hello from the backend\n', s.why(got));
	assert.equal(got.headers['x-request-id'], 'req-42', s.why(got));
	assert.equal(got.headers['x-internal'], null, s.why(got));
	assert.equal(got.headers['content-type'], 'text/plain', s.why(got));
	assert.equal(backendSaw(s, '/headers-raw').length, 1, s.why(got));
});

test('a credentialed GET from the allowed origin carries the browser\'s ' +
    'cookie to the backend', T, async (t) => {
	const s = await env.stack(t);

	await s.context.addCookies([{ name: 'session', value: 'browser-42',
	    url: s.proxy.url + '/' }]);
	const got = await s.fetch('/echo/credentialed',
	    { credentials: 'include' });

	assert.equal(got.status, 200, s.why(got));
	const echo = JSON.parse(got.body);
	assert.equal(echo.method, 'GET');
	assert.deepEqual(echoHeader(echo, 'cookie'), ['session=browser-42'],
	    s.why(got));
	assert.deepEqual(echoHeader(echo, 'origin'), [s.origin], s.why(got));
});

test('a cookie the backend sets on a credentialed response is stored by ' +
    'the browser', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch('/cookies', { credentials: 'include' });

	assert.equal(got.status, 200, s.why(got));
	const names = (await s.context.cookies(s.proxy.url))
	    .map((c) => `${c.name}=${c.value}`).sort();
	assert.deepEqual(names, ['a=1', 'b=2'], s.why(got));
});

test('a PUT with a JSON body and X-Custom is preflighted by the browser, ' +
    'answered by the proxy, and reaches the backend intact', T,
    async (t) => {
	const s = await env.stack(t);
	const body = JSON.stringify({ item: 'widget', count: 3, note: 'é' });
	const got = await s.fetch('/echo/items/7', {
		method: 'PUT',
		credentials: 'include',
		headers: { 'Content-Type': 'application/json',
		    'X-Custom': 'custom-value' },
		body,
	});

	assert.equal(got.ok, true, s.why(got));
	assert.equal(got.status, 200, s.why(got));

	/* What the backend saw, from its own echo and from its log. */
	const echo = JSON.parse(got.body);
	assert.equal(echo.method, 'PUT');
	assert.equal(Buffer.from(echo.bodyBase64, 'base64').toString('utf8'),
	    body);
	assert.deepEqual(echoHeader(echo, 'x-custom'), ['custom-value']);
	assert.deepEqual(echoHeader(echo, 'content-type'),
	    ['application/json']);
	assert.deepEqual(backendSaw(s, '/echo/items/7').map((e) => e.method),
	    ['PUT'], s.why(got));
	assert.deepEqual(s.backend.stats.log.filter((e) =>
	    e.method === 'OPTIONS'), [], 'the preflight reached the backend');

	/* The browser did preflight, and the proxy said yes. */
	const pre = s.net.to(s.proxy.url + '/echo/items/7')
	    .filter((r) => r.preflight);
	assert.equal(pre.length, 1, s.why(got));
	assert.equal(pre[0].method, 'OPTIONS', s.why(got));
	assert.equal(pre[0].status, 204, s.why(got));
	assert.equal(b.headerValue(pre[0].headers,
	    'access-control-allow-origin'), s.origin, s.why(got));
});

test('a method the policy does not allow is refused by the browser after ' +
    'the preflight, and never reaches the backend', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch('/echo/delete-me', { method: 'DELETE',
	    credentials: 'include' });

	assert.equal(got.ok, false, s.why(got));
	assert.equal(got.error.name, 'TypeError', s.why(got));
	assert.equal(backendSaw(s, '/echo/delete-me').length, 0, s.why(got));
	assert.equal(s.backend.stats.requests, 0, s.why(got));

	const sent = s.net.to(s.proxy.url + '/echo/delete-me');
	assert.ok(sent.some((r) => r.preflight && r.status === 403),
	    s.why(got));
	assert.ok(!sent.some((r) => !r.preflight && r.status !== null),
	    'the browser sent the DELETE itself:\n' + s.why(got));
});

test('a request header the policy does not allow is refused by the ' +
    'browser after the preflight, and never reaches the backend', T,
    async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch('/echo/forbidden-header', {
		credentials: 'include',
		headers: { 'X-Forbidden': 'yes' },
	});

	assert.equal(got.ok, false, s.why(got));
	assert.equal(got.error.name, 'TypeError', s.why(got));
	assert.equal(backendSaw(s, '/echo/forbidden-header').length, 0,
	    s.why(got));
	assert.equal(s.backend.stats.requests, 0, s.why(got));

	const pre = s.net.to(s.proxy.url + '/echo/forbidden-header')
	    .filter((r) => r.preflight);
	assert.equal(pre.length, 1, s.why(got));
	assert.match(b.headerValue(pre[0].requestHeaders,
	    'access-control-request-headers') || '', /x-forbidden/i,
	    s.why(got));
	assert.equal(pre[0].status, 403, s.why(got));
});

test('the same credentialed GET from a denied origin fails in the page ' +
    'and shows nothing', T, async (t) => {
	const s = await env.stack(t, { from: 'denied' });
	const got = await s.fetch(HEADERS_TARGET, { credentials: 'include' },
	    { read: ['x-request-id'] });

	assert.equal(got.ok, false, s.why(got));
	assert.equal(got.error.name, 'TypeError', s.why(got));
	assert.equal(got.status, undefined);
	assert.equal(got.body, undefined);

	/* on_denied: forward - the backend answered, the browser hid it
	 * because the proxy added no Access-Control-Allow-Origin. */
	assert.equal(backendSaw(s, '/headers-raw').length, 1, s.why(got));
	const sent = s.net.to(s.proxy.url + '/headers-raw');
	assert.equal(sent.length, 1, s.why(got));
	assert.equal(b.headerValue(sent[0].headers,
	    'access-control-allow-origin'), undefined, s.why(got));
});
