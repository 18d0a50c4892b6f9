'use strict';
/*
 * Forwarding: what the backend receives is what the client sent (method,
 * target, headers, body) minus the hop-by-hop headers plus the
 * X-Forwarded-* ones, and what the client receives is what the backend
 * answered.  The real binary, a real backend, raw bytes on both sides.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./harness');

const T = { timeout: 20000 };

/* A backend and a proxy in front of it, both stopped when t ends. */
async function setup(t, args = [], opts = {}) {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url, ...args],
	    { t, ...opts });

	return { backend, proxy };
}

async function setupWithConfig(t, yaml) {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, yaml(backend));
	const proxy = await h.startProxy(['-c', file], { t });

	return { backend, proxy };
}

function sha256(buf) {
	return crypto.createHash('sha256').update(buf).digest('hex');
}

function names(e) {
	return e.rawHeaders.map(([n]) => n.toLowerCase());
}

test('forwards method and target byte for byte', T, async (t) => {
	const { proxy } = await setup(t);
	const cases = [
		['GET', '/echo/a%2Fb/c'],
		['GET', '/echo/x;p=1/y;q=2,3'],
		['GET', '/echo?x=1&x=2&x=1'],
		['GET', "/echo?y=a%20b&z=%E2%9C%93&e=&=v&s='!$()*,;:@/?~"],
		['GET', '/echo?plus=a+b&pct=%25&amp=%26&eq=%3D&hash=%23'],
		['GET', '/echo//double//slash/'],
		/* Dot segments are refused (bad-input.test.js). */
		['GET', '/echo/%7Euser/.x/x?%00=%ff&p=/../'],
		['DELETE', '/echo/item;v=2?force=true&force=false'],
		['PUT', '/echo/UPPER/lower?MiXeD=CaSe'],
	];

	for (const [method, target] of cases) {
		const { echo } = await h.echo(proxy.port, { method, target,
		    body: method === 'PUT' ? 'x' : null });
		assert.equal(echo.method, method, target);
		assert.equal(echo.url, target);
	}
});

test('forwards request bodies byte-exact for POST, PUT, PATCH and DELETE',
    T, async (t) => {
	const { proxy } = await setup(t);
	const small = Buffer.alloc(512);

	for (let i = 0; i < small.length; i++) {
		small[i] = (i * 7 + 3) & 0xff;	/* every byte value, incl.
						 * NUL, CR, LF */
	}
	for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
		const { echo } = await h.echo(proxy.port, { method,
		    target: `/echo/body-${method}`, body: small,
		    headers: [['Content-Type', 'application/octet-stream']] });
		assert.equal(echo.method, method);
		assert.equal(echo.bodyLength, small.length, method);
		assert.equal(echo.bodyBase64, small.toString('base64'), method);
	}
});

test('forwards a 1 MiB binary request body byte-exact', T, async (t) => {
	const { proxy } = await setup(t);
	const body = crypto.randomBytes(1024 * 1024);
	const { echo } = await h.echo(proxy.port, { method: 'POST',
	    target: '/echo/mib', body });

	assert.equal(echo.bodyLength, body.length);
	assert.equal(echo.bodySha256, sha256(body));
});

function chunkedBody(parts, ext = '') {
	return Buffer.concat([
	    ...parts.flatMap((p) => [Buffer.from(p.length.toString(16) +
	    ext + '\r\n'), p, Buffer.from('\r\n')]),
	    Buffer.from('0\r\n\r\n')]);
}

const CHUNKS = [Buffer.from('hello, '), Buffer.from([0, 13, 10, 255]),
    Buffer.alloc(3000, 0x61)];

test('re-frames a chunked request body without losing a byte', T,
    async (t) => {
	const { proxy } = await setup(t);
	const full = Buffer.concat(CHUNKS);
	const { echo } = await h.echo(proxy.port, { method: 'POST',
	    target: '/echo/chunked-in',
	    headers: [['Transfer-Encoding', 'chunked']],
	    body: chunkedBody(CHUNKS) });
	const framing = names(echo).filter((n) =>
	    n === 'content-length' || n === 'transfer-encoding');

	assert.equal(echo.bodyLength, full.length);
	assert.equal(echo.bodyBase64, full.toString('base64'));
	assert.equal(framing.length, 1, `framing headers: ${framing}`);
});

test('accepts chunk extensions in a chunked request body', T, async (t) => {
	const { proxy } = await setup(t);
	const full = Buffer.concat(CHUNKS);
	const { echo } = await h.echo(proxy.port, { method: 'POST',
	    target: '/echo/chunk-ext',
	    headers: [['Transfer-Encoding', 'chunked']],
	    body: chunkedBody(CHUNKS, ';ext=1') });

	assert.equal(echo.bodyLength, full.length);
	assert.equal(echo.bodyBase64, full.toString('base64'));
});

test('removes hop-by-hop request headers and keeps the others in order',
    T, async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { headers: [
		['X-Keep-1', 'a'],
		['Connection', 'keep-alive, X-Custom-Hop'],
		['X-Custom-Hop', 'secret'],
		['Keep-Alive', 'timeout=5'],
		['X-Dup', 'one'],
		['Proxy-Connection', 'keep-alive'],
		['TE', 'trailers'],
		['Trailer', 'X-Checksum'],
		['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
		['X-Dup', 'two'],
		['Authorization', 'Bearer end-to-end'],
		['X-Keep-2', 'b'],
	] });
	const seen = names(echo);

	for (const hop of ['connection', 'x-custom-hop', 'keep-alive',
	    'proxy-connection', 'te', 'trailer', 'proxy-authorization']) {
		assert.ok(!seen.includes(hop),
		    `${hop} reached the backend: ${JSON.stringify(echo.rawHeaders)}`);
	}
	const kept = echo.rawHeaders.filter(([n]) =>
	    /^(x-keep-\d|x-dup|authorization)$/i.test(n));
	assert.deepEqual(kept, [
		['X-Keep-1', 'a'],
		['X-Dup', 'one'],
		['X-Dup', 'two'],
		['Authorization', 'Bearer end-to-end'],
		['X-Keep-2', 'b'],
	]);
});

test('removes Connection on two lines, the headers both name in any ' +
    'case, and keeps a header a Connection value only resembles', T,
    async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { headers: [
		['Connection', 'X-First-Hop'],
		['x-first-hop', '1'],
		['X-Second-Hop', '2'],
		['Connection', ' x-second-hop , keep-alive'],
		['X-First-Hop-Not', 'kept'],
	] });
	const seen = names(echo);

	for (const hop of ['connection', 'x-first-hop', 'x-second-hop']) {
		assert.ok(!seen.includes(hop), `${hop} reached the backend: ` +
		    JSON.stringify(echo.rawHeaders));
	}
	assert.deepEqual(h.echoHeaders(echo, 'x-first-hop-not'), ['kept']);
});

test('sends a chunked request body with a Content-Length, not the ' +
    'client\'s Transfer-Encoding', T, async (t) => {
	const { proxy } = await setup(t);
	const full = Buffer.concat(CHUNKS);
	const { echo } = await h.echo(proxy.port, { method: 'PUT',
	    target: '/echo/te-dropped',
	    headers: [['Transfer-Encoding', 'chunked']],
	    body: chunkedBody(CHUNKS) });

	assert.deepEqual(h.echoHeaders(echo, 'transfer-encoding'), [],
	    JSON.stringify(echo.rawHeaders));
	assert.deepEqual(h.echoHeaders(echo, 'content-length'),
	    [String(full.length)]);
	assert.equal(echo.bodySha256, sha256(full));
});

test('removes Upgrade from a request that is not a WebSocket handshake',
    T, async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, {
	    headers: [['Upgrade', 'h2c'], ['X-After', '1']] });

	assert.ok(!names(echo).includes('upgrade'),
	    JSON.stringify(echo.rawHeaders));
	assert.deepEqual(h.echoHeaders(echo, 'x-after'), ['1']);
});

test('removes Expect and still delivers the body', T, async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { method: 'POST',
	    target: '/echo/expect', body: 'expected body',
	    headers: [['Expect', '100-continue']] });

	assert.ok(!names(echo).includes('expect'),
	    JSON.stringify(echo.rawHeaders));
	assert.equal(Buffer.from(echo.bodyBase64, 'base64').toString(),
	    'expected body');
});

test('appends the client address to an existing X-Forwarded-For and sets ' +
    'X-Forwarded-Proto and -Host', T, async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { host: 'front.example:8443',
	    headers: [['X-Forwarded-For', '203.0.113.7']] });

	assert.deepEqual(h.echoHeaders(echo, 'x-forwarded-for'),
	    ['203.0.113.7, 127.0.0.1']);
	assert.deepEqual(h.echoHeaders(echo, 'x-forwarded-proto'), ['http']);
	assert.deepEqual(h.echoHeaders(echo, 'x-forwarded-host'),
	    ['front.example:8443']);
});

test('sets X-Forwarded-For to the client address when absent', T,
    async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port);

	assert.deepEqual(h.echoHeaders(echo, 'x-forwarded-for'), ['127.0.0.1']);
});

test('sends the upstream host:port as Host by default', T, async (t) => {
	const { backend, proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { host: 'front.example' });

	assert.deepEqual(h.echoHeaders(echo, 'host'),
	    [`127.0.0.1:${backend.port}`]);
});

test('sends the client Host upstream with host: client', T, async (t) => {
	const { proxy } = await setupWithConfig(t, (b) => `
upstreams:
  api:
    servers: [${b.url}]
    host: client
routes:
  - path: /
    upstream: api
`);
	const { echo } = await h.echo(proxy.port, { host: 'front.example:81' });

	assert.deepEqual(h.echoHeaders(echo, 'host'), ['front.example:81']);
});

test('sends a configured literal Host upstream', T, async (t) => {
	const { proxy } = await setupWithConfig(t, (b) => `
upstreams:
  api:
    servers: [${b.url}]
    host: api.internal.test
routes:
  - path: /
    upstream: api
`);
	const { echo } = await h.echo(proxy.port, { host: 'front.example' });

	assert.deepEqual(h.echoHeaders(echo, 'host'), ['api.internal.test']);
});

test('routes with the same path and different host: send each host to ' +
    'its own upstream and policy', T, async (t) => {
	const a = await h.backendFor(t, { name: 'a' });
	const b = await h.backendFor(t, { name: 'b' });
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstreams:
  a: { servers: [${a.url}] }
  b: { servers: [${b.url}] }
routes:
  - { path: /echo/, host: a.test, upstream: a, policies: [pa] }
  - { path: /echo/, host: b.test, upstream: b, policies: [pb] }
  - { path: /, upstream: a, policies: [pc] }
policies:
  - { name: pa, origins: [https://a.example] }
  - { name: pb, origins: [https://b.example] }
  - { name: pc, origins: [https://c.example] }
`);
	const proxy = await h.startProxy(['-c', file], { t });
	/* [Host, Origin, the backend, Access-Control-Allow-Origin] */
	const cases = [
		['a.test', 'https://a.example', 'a', 'https://a.example'],
		['a.test', 'https://b.example', 'a', null],
		['b.test', 'https://b.example', 'b', 'https://b.example'],
		['b.test', 'https://a.example', 'b', null],
		/* The host matches without case and without the port. */
		['B.Test:8080', 'https://b.example', 'b', 'https://b.example'],
		/* Neither host: the catch-all and its own policy. */
		['c.test', 'https://a.example', 'a', null],
		['a.test.evil', 'https://a.example', 'a', null],
	];

	for (const [host, origin, backend, acao] of cases) {
		const what = `Host ${host}, Origin ${origin}`;
		const { res, echo } = await h.echo(proxy.port, { host,
		    target: '/echo/routed', headers: [['Origin', origin]] });

		assert.equal(echo.backend, backend, what);
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), acao ? [acao] : [],
		    what);
	}
	assert.equal(a.count('/echo/routed'), 4);
	assert.equal(b.count('/echo/routed'), 3);
});

test('passes status codes and their bodies through', T, async (t) => {
	const { proxy } = await setup(t);

	for (const code of [200, 201, 204, 301, 304, 404, 418, 500, 503]) {
		const target = code === 301 ?
		    '/status/301?location=/moved/here%253F' : `/status/${code}`;
		const res = await h.request(proxy.port, { target });

		assert.equal(res.status, code, res.statusLine);
		if (code === 204 || code === 304) {
			assert.equal(res.body.length, 0);
			assert.equal(h.getHeaders(res, 'transfer-encoding')
			    .length, 0, `${code} with a chunked body`);
		} else {
			assert.equal(res.body.toString(), `status ${code}\n`);
		}
		if (code === 301) {
			assert.deepEqual(h.getHeaders(res, 'location'),
			    ['/moved/here%3F']);
		}
		if (code === 304) {
			assert.deepEqual(h.getHeaders(res, 'etag'), ['"v1"']);
		}
	}
});

test('passes the upstream reason phrase through', T, async (t) => {
	const { proxy } = await setup(t);
	const a = await h.request(proxy.port,
	    { target: '/status/418?reason=Short%20And%20Stout' });
	const b = await h.request(proxy.port,
	    { target: '/status/200?reason=Fine%20Thanks' });

	assert.equal(a.statusLine, 'HTTP/1.1 418 Short And Stout');
	assert.equal(b.statusLine, 'HTTP/1.1 200 Fine Thanks');
});

test('removes every hop-by-hop response header and keeps the others', T,
    async (t) => {
	const { proxy } = await setup(t);
	const res = await h.request(proxy.port, { target: '/hop' });
	const seen = res.headers.map(([n]) => n.toLowerCase());
	const show = JSON.stringify(res.headers);

	assert.equal(res.status, 200);
	/* The names themselves, whatever their values: the proxy adds
	 * none of these of its own. */
	for (const hop of ['keep-alive', 'proxy-connection', 'te', 'trailer',
	    'upgrade', 'proxy-authorization', 'x-hop', 'x-hop-two']) {
		assert.ok(!seen.includes(hop), `${hop} reached the client: ` +
		    show);
	}
	/* The proxy's own Connection, if any, names nothing upstream's
	 * did. */
	for (const v of h.headerTokens(res, 'connection')) {
		assert.match(v, /^(keep-alive|close)$/i, show);
	}
	assert.deepEqual(h.getHeaders(res, 'x-normal'), ['yes']);
	assert.deepEqual(h.getHeaders(res, 'content-type'), ['text/plain']);
	assert.equal(res.body.toString(), 'hop\n');
});

test('passes two Set-Cookie headers as two headers', T, async (t) => {
	const { proxy } = await setup(t);
	const res = await h.request(proxy.port, { target: '/cookies' });

	assert.deepEqual(h.getHeaders(res, 'set-cookie'),
	    ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
});

test('adds no Content-Type to a response that has none', T, async (t) => {
	const { proxy } = await setup(t);
	/* Both framings, and an allowed origin, whose response the proxy
	 * decorates, as well as a request without Origin. */
	const cases = [
		['/untyped', []],
		['/untyped?chunked=1', []],
		['/untyped', [['Origin', h.DEV_ORIGIN]]],
		['/untyped?chunked=1', [['Origin', h.DEV_ORIGIN]]],
	];

	for (const [target, headers] of cases) {
		const res = await h.request(proxy.port, { target, headers });
		const what = `${target} ${JSON.stringify(res.headers)}`;

		assert.equal(res.status, 200, what);
		assert.deepEqual(h.getHeaders(res, 'content-type'), [], what);
		assert.equal(res.body.toString(), target.includes('chunked') ?
		    'no type\nno type\n' : 'no type\n', what);
		if (headers.length) {
			assert.deepEqual(h.getHeaders(res,
			    'access-control-allow-origin'), [h.DEV_ORIGIN],
			    what);
		}
	}
});

test('delivers a chunked upstream response complete', T, async (t) => {
	const { proxy } = await setup(t);
	const res = await h.request(proxy.port, { target: '/chunked' });

	assert.equal(res.status, 200);
	assert.equal(res.body.toString(), 'first chunk\nsecond, longer chunk\n' +
	    'x'.repeat(5000) + '\nlast\n');
});

test('answers HEAD without a body and keeps the connection usable', T,
    async (t) => {
	const { proxy } = await setup(t);
	const conn = await h.RawConnection.connect(proxy.port);

	t.after(() => conn.close());
	await conn.write(h.buildRequest({ method: 'HEAD',
	    target: '/big?bytes=5000' }));
	const head = await conn.readResponse({ method: 'HEAD' });
	assert.equal(head.status, 200);
	assert.equal(head.body.length, 0);
	assert.deepEqual(h.getHeaders(head, 'content-length'), ['5000']);

	/* Any stray body bytes after the HEAD would corrupt this one. */
	await conn.write(h.buildRequest({ target: '/echo/after-head' }));
	const next = await conn.readResponse();
	assert.equal(next.status, 200);
	assert.equal(JSON.parse(next.body).url, '/echo/after-head');
});

const LIMIT_CONFIG = (b) => `
upstream: ${b.url}
limits: { body_bytes: 1KiB }
policies:
  - name: dev
    origins: ["http://localhost:*"]
    allow_credentials: true
`;

test('answers 413 to a body over limits.body_bytes without contacting ' +
    'the backend', T, async (t) => {
	const { backend, proxy } = await setupWithConfig(t, LIMIT_CONFIG);
	const res = await h.request(proxy.port, { method: 'POST',
	    target: '/echo/too-big', body: Buffer.alloc(1025, 0x42) });

	assert.equal(res.status, 413, res.statusLine);
	assert.equal(backend.stats.requests, 0);
});

test('a 413 has a JSON body and the CORS headers of an allowed origin', T,
    async (t) => {
	const { backend, proxy } = await setupWithConfig(t, LIMIT_CONFIG);
	const res = await h.request(proxy.port, { method: 'POST',
	    target: '/echo/too-big', body: Buffer.alloc(1025, 0x42),
	    headers: [['Origin', h.DEV_ORIGIN]] });

	assert.equal(res.status, 413, res.statusLine);
	assert.match(h.getHeader(res, 'content-type') || '',
	    /^application\/json/);
	assert.equal(JSON.parse(res.body).status, 413);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [h.DEV_ORIGIN]);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-credentials'),
	    ['true']);
	assert.equal(backend.stats.requests, 0);
});

test('answers 413 to a chunked body over limits.body_bytes', T, async (t) => {
	const { backend, proxy } = await setupWithConfig(t, LIMIT_CONFIG);
	const chunk = Buffer.alloc(600, 0x43);
	const body = Buffer.concat([Buffer.from('258\r\n'), chunk,
	    Buffer.from('\r\n258\r\n'), chunk, Buffer.from('\r\n0\r\n\r\n')]);
	const res = await h.request(proxy.port, { method: 'POST',
	    target: '/echo/too-big-chunked',
	    headers: [['Transfer-Encoding', 'chunked']], body });

	assert.equal(res.status, 413, res.statusLine);
	assert.equal(backend.stats.requests, 0);
});

test('passes a body exactly at limits.body_bytes byte-exact', T,
    async (t) => {
	const { proxy } = await setupWithConfig(t, LIMIT_CONFIG);
	const body = crypto.randomBytes(1024);
	const { echo } = await h.echo(proxy.port, { method: 'PUT',
	    target: '/echo/at-limit', body });

	assert.equal(echo.bodyLength, 1024);
	assert.equal(echo.bodyBase64, body.toString('base64'));
});

test('forwards OPTIONS without Access-Control-Request-Method', T,
    async (t) => {
	const { backend, proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { method: 'OPTIONS',
	    target: '/echo/options', headers: [['Origin', h.DEV_ORIGIN]] });

	assert.equal(echo.method, 'OPTIONS');
	assert.equal(backend.count('/echo/options'), 1);
});

test('forwards PATCH', T, async (t) => {
	const { proxy } = await setup(t);
	const { echo } = await h.echo(proxy.port, { method: 'PATCH',
	    target: '/echo/patch', body: '{"a":1}' });

	assert.equal(echo.method, 'PATCH');
	assert.equal(Buffer.from(echo.bodyBase64, 'base64').toString(),
	    '{"a":1}');
});

test('reuses upstream connections for sequential requests', T,
    async (t) => {
	const { backend, proxy } = await setup(t);
	const conn = await h.RawConnection.connect(proxy.port);

	t.after(() => conn.close());
	for (let i = 0; i < 20; i++) {
		await conn.write(h.buildRequest({ target: `/echo/ka/${i}` }));
		const res = await conn.readResponse();
		assert.equal(res.status, 200);
		assert.equal(JSON.parse(res.body).url, `/echo/ka/${i}`);
	}
	assert.equal(backend.count('/echo/ka/19'), 1);
	assert.ok(backend.socketsUsed('/echo/ka/') <= 2,
	    `20 requests used ${backend.socketsUsed('/echo/ka/')} ` +
	    'upstream connections');
});
