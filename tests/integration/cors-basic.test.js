'use strict';
/*
 * CORS as a browser sees it: preflights answered by the proxy without
 * the backend, actual responses decorated, the backend's own CORS
 * headers replaced, Vary merged.  Most tests use the development
 * defaults (only -u and -l given): any http://localhost:PORT,
 * http://127.0.0.1:PORT or http://[::1]:PORT origin, with credentials,
 * any method, any requested header, private-network access.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const h = require('./harness');

const T = { timeout: 20000 };

async function setup(t, args = []) {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url, ...args], { t });

	return { backend, proxy };
}

function preflight(port, origin, extra = []) {
	return h.request(port, { method: 'OPTIONS', target: '/echo/api',
	    headers: [['Origin', origin],
	    ['Access-Control-Request-Method', 'PUT'],
	    ['Access-Control-Request-Headers', 'content-type, x-custom'],
	    ...extra] });
}

function lower(list) {
	return list.map((s) => s.toLowerCase());
}

function allowHeaders(res) {
	return res.headers.filter(([n]) =>
	    /^access-control-allow-/i.test(n));
}

test('answers an allowed preflight itself with 204 and the full set of ' +
    'headers', T, async (t) => {
	const { backend, proxy } = await setup(t);
	const res = await preflight(proxy.port, h.DEV_ORIGIN);

	assert.equal(res.status, 204, res.statusLine);
	assert.equal(res.body.length, 0);
	assert.equal(backend.stats.requests, 0, 'the backend was contacted');
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [h.DEV_ORIGIN]);
	assert.ok(h.headerTokens(res, 'access-control-allow-methods')
	    .includes('PUT'), JSON.stringify(res.headers));
	const allowed = lower(h.headerTokens(res,
	    'access-control-allow-headers'));
	assert.ok(allowed.includes('content-type'), allowed.join());
	assert.ok(allowed.includes('x-custom'), allowed.join());
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-credentials'),
	    ['true']);
	const vary = lower(h.headerTokens(res, 'vary'));
	for (const v of ['origin', 'access-control-request-method',
	    'access-control-request-headers']) {
		assert.ok(vary.includes(v), `Vary lacks ${v}: ${vary}`);
	}
});

test('never answers a credentialed preflight with a bare * in ' +
    'Allow-Headers, and names Authorization when asked', T, async (t) => {
	const { proxy } = await setup(t);
	/* A second header line: the proxy joins them, as the list they are. */
	const res = await preflight(proxy.port, h.DEV_ORIGIN,
	    [['Access-Control-Request-Headers', 'Authorization']]);
	const allowed = lower(h.headerTokens(res,
	    'access-control-allow-headers'));

	assert.equal(res.status, 204);
	assert.ok(!allowed.includes('*'), allowed.join());
	assert.deepEqual(allowed, ['content-type', 'x-custom',
	    'authorization']);
});

test('grants private-network access when a dev preflight asks for it', T,
    async (t) => {
	const { backend, proxy } = await setup(t);
	const res = await preflight(proxy.port, h.DEV_ORIGIN,
	    [['Access-Control-Request-Private-Network', 'true']]);

	assert.equal(res.status, 204, res.statusLine);
	assert.deepEqual(h.getHeaders(res,
	    'access-control-allow-private-network'), ['true']);
	assert.ok(lower(h.headerTokens(res, 'vary'))
	    .includes('access-control-request-private-network'));
	assert.equal(backend.stats.requests, 0);
});

test('allows 127.0.0.1 and [::1] origins on any port by default', T,
    async (t) => {
	const { proxy } = await setup(t);

	for (const origin of ['http://127.0.0.1:5173', 'http://[::1]:3001',
	    'http://localhost:1']) {
		const res = await preflight(proxy.port, origin);
		assert.equal(res.status, 204, `${origin}: ${res.statusLine}`);
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), [origin]);
	}
});

test('denies a preflight from another origin with 403 and no Allow headers',
    T, async (t) => {
	const { backend, proxy } = await setup(t);

	for (const origin of [h.EVIL_ORIGIN, 'https://localhost:8000',
	    'http://localhost.evil.example:8000']) {
		const res = await preflight(proxy.port, origin);
		assert.equal(res.status, 403, `${origin}: ${res.statusLine}`);
		assert.deepEqual(allowHeaders(res), [], origin);
		assert.ok(res.body.length > 0, 'no reason in the body');
		assert.ok(lower(h.headerTokens(res, 'vary')).includes('origin'));
	}
	assert.equal(backend.stats.requests, 0, 'the backend was contacted');
});

test('decorates an actual response from an allowed origin and merges Vary',
    T, async (t) => {
	const { backend, proxy } = await setup(t);
	const res = await h.request(proxy.port, { target: '/cors-own',
	    headers: [['Origin', h.DEV_ORIGIN]] });

	assert.equal(res.status, 200);
	assert.equal(res.body.toString(), 'cors-own\n');
	assert.equal(backend.count('/cors-own'), 1);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [h.DEV_ORIGIN]);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-credentials'),
	    ['true']);
	/* The backend's own answer (*, X-Backend) is gone. */
	assert.deepEqual(h.getHeaders(res, 'access-control-expose-headers'),
	    []);
	assert.deepEqual(h.getHeaders(res, 'x-backend'), ['yes']);
	const vary = h.getHeaders(res, 'vary');
	assert.equal(vary.length, 1, `Vary headers: ${JSON.stringify(vary)}`);
	assert.deepEqual(lower(h.headerTokens(res, 'vary')).sort(),
	    ['accept-encoding', 'origin']);
});

test('merges Origin into a Vary that already names it without a duplicate',
    T, async (t) => {
	const { proxy } = await setup(t);
	const res = await h.request(proxy.port,
	    { target: '/headers-raw?h=Vary:origin,%20Accept&h=X-A:1',
	    headers: [['Origin', h.DEV_ORIGIN]] });
	const tokens = lower(h.headerTokens(res, 'vary'));

	assert.equal(res.status, 200);
	assert.equal(h.getHeaders(res, 'vary').length, 1);
	assert.deepEqual(tokens.sort(), ['accept', 'origin']);
});

test('a Vary too long to merge with Origin becomes *', T, async (t) => {
	const { proxy } = await setup(t);
	const many = Array.from({ length: 120 }, (_, i) => `X-Vary-${i}`);
	const res = await h.request(proxy.port,
	    { target: `/headers-raw?h=Vary:${many.join(',')}`,
	    headers: [['Origin', h.DEV_ORIGIN]] });

	assert.equal(res.status, 200);
	assert.deepEqual(h.getHeaders(res, 'vary'), ['*']);
});

test('removes the backend CORS headers for a denied origin', T,
    async (t) => {
	const { backend, proxy } = await setup(t);
	const res = await h.request(proxy.port, { target: '/cors-own',
	    headers: [['Origin', h.EVIL_ORIGIN]] });

	assert.equal(res.status, 200);
	assert.equal(backend.count('/cors-own'), 1);
	assert.deepEqual(res.headers.filter(([n]) =>
	    /^access-control-/i.test(n)), []);
	assert.ok(lower(h.headerTokens(res, 'vary')).includes('origin'));
});

test('forwards a request without Origin untouched and adds Vary: Origin',
    T, async (t) => {
	const { proxy } = await setup(t);
	const { res, echo } = await h.echo(proxy.port,
	    { target: '/echo/no-origin' });

	assert.equal(echo.url, '/echo/no-origin');
	assert.equal(h.getHeaders(res, 'access-control-allow-origin').length, 0);
	assert.ok(lower(h.headerTokens(res, 'vary')).includes('origin'),
	    JSON.stringify(res.headers));
});

test('-o replaces the development origins and keeps the other defaults', T,
    async (t) => {
	const { backend, proxy } = await setup(t, ['-o', 'https://app.test']);
	const denied = await preflight(proxy.port, h.DEV_ORIGIN);
	const allowed = await preflight(proxy.port, 'https://app.test');

	assert.equal(denied.status, 403, denied.statusLine);
	assert.deepEqual(allowHeaders(denied), []);
	assert.equal(allowed.status, 204, allowed.statusLine);
	assert.deepEqual(h.getHeaders(allowed, 'access-control-allow-origin'),
	    ['https://app.test']);
	assert.deepEqual(h.getHeaders(allowed,
	    'access-control-allow-credentials'), ['true']);
	assert.ok(lower(h.headerTokens(allowed,
	    'access-control-allow-headers')).includes('x-custom'));
	assert.equal(backend.stats.requests, 0);
});

test('an inline policy sends its expose_headers and max_age', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
policies:
  - name: app
    origins: [https://app.test]
    expose_headers: [X-Request-Id]
    max_age: 600
`);
	const proxy = await h.startProxy(['-c', file], { t });
	const actual = await h.request(proxy.port,
	    { target: '/headers-raw?h=X-Request-Id:r-1',
	    headers: [['Origin', 'https://app.test']] });
	const pre = await preflight(proxy.port, 'https://app.test', []);

	assert.equal(actual.status, 200);
	assert.deepEqual(h.getHeaders(actual, 'access-control-allow-origin'),
	    ['https://app.test']);
	assert.deepEqual(h.getHeaders(actual,
	    'access-control-expose-headers'), ['X-Request-Id']);
	assert.deepEqual(h.getHeaders(actual, 'x-request-id'), ['r-1']);
	/* No credentials in this policy. */
	assert.deepEqual(h.getHeaders(actual,
	    'access-control-allow-credentials'), []);

	assert.equal(pre.status, 204, pre.statusLine);
	assert.deepEqual(h.getHeaders(pre, 'access-control-max-age'), ['600']);
	assert.equal(backend.stats.requests, 1);
});
