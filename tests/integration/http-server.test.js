'use strict';
/*
 * The server side of HTTP/1.1, against the real binary: connections
 * kept alive and pipelined, HTTP/1.0 clients with and without
 * keep-alive, Connection: close, responses without a body (HEAD, 204,
 * 304), Expect: 100-continue, chunked request bodies with extensions
 * and trailers, and the Date header.  Every exchange is read byte by
 * byte with the harness's raw client, so framing mistakes show up as a
 * response that does not parse or a stray byte left on the connection.
 */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./harness');

const T = { timeout: 15000 };
const ORIGIN = h.DEV_ORIGIN;
const BODY_BYTES = 1024;
const CHUNKED_BODY = 'first chunk\n' + 'second, longer chunk\n' +
    'x'.repeat(5000) + '\n' + 'last\n';	/* backend.js /chunked */

let backend;
let dev;		/* development defaults */
let small;		/* limits.body_bytes: 1 KiB */
let dir;

before(async () => {
	backend = await h.startBackend();
	dev = await h.startProxy(['-u', backend.url]);
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-http-'));
	small = await h.startProxy(['-c', h.writeConfig(dir, `
upstream: ${backend.url}
limits: { body_bytes: ${BODY_BYTES} }
policies:
  - name: dev
    origins: ["http://localhost:*", "http://127.0.0.1:*"]
    allow_credentials: true
`)]);
});

after(async () => {
	for (const p of [dev, small]) {
		if (p) {
			await p.stop();
			assert.doesNotMatch(p.stderr(),
			    /ERROR: \w+Sanitizer|runtime error:/);
		}
	}
	if (backend) {
		await backend.close();
	}
	if (dir) {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

function head(lines) {
	return lines.join('\r\n') + '\r\n\r\n';
}

function get(target, extra = [], version = 'HTTP/1.1') {
	return head([`GET ${target} ${version}`, 'Host: proxy.test', ...extra]);
}

/* A connection to the proxy, closed when t ends. */
async function connect(t, proxy = dev) {
	const conn = await h.RawConnection.connect(proxy.port);

	t.after(() => conn.close());
	return conn;
}

function echoOf(res) {
	assert.equal(res.status, 200, res.statusLine);
	return JSON.parse(res.body.toString('utf8'));
}

/* The proxy still forwards a normal request, and the backend has seen
 * `more` requests besides it since `before`. */
async function assertServesAfter(proxy, before, more) {
	const res = await h.request(proxy.port, { target: '/echo/after' });

	assert.equal(res.status, 200, res.statusLine);
	assert.equal(proxy.exitInfo, null, 'the proxy exited');
	assert.equal(backend.stats.requests, before + more + 1,
	    JSON.stringify(backend.stats.log.slice(before).map((e) => e.url)));
}

/* Gives a stray byte the time to arrive, then checks there is none. */
async function assertNothingMore(conn) {
	await h.sleep(50);
	assert.equal(conn.buf.length, 0,
	    `stray bytes: ${JSON.stringify(conn.buf.toString('latin1'))}`);
}

const IMF_FIXDATE = new RegExp('^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d\\d ' +
    '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ' +
    '\\d{4} \\d\\d:\\d\\d:\\d\\d GMT$');

function assertDate(res) {
	const dates = h.getHeaders(res, 'date');

	assert.equal(dates.length, 1, JSON.stringify(res.headers));
	assert.match(dates[0], IMF_FIXDATE);
	assert.ok(Math.abs(Date.parse(dates[0]) - Date.now()) < 5000,
	    `Date ${dates[0]} is not now`);
}

/* ---- connections ----------------------------------------------------- */

test('keeps an HTTP/1.1 connection alive for several requests', T,
    async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	for (let i = 0; i < 4; i++) {
		await conn.write(get(`/echo/keepalive-${i}`,
		    [`Origin: ${ORIGIN}`]));
		const res = await conn.readResponse();
		assert.equal(echoOf(res).url, `/echo/keepalive-${i}`);
		assert.equal(res.httpVersion, 'HTTP/1.1');
		assert.deepEqual(h.getHeaders(res, 'connection'), []);
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), [ORIGIN]);
		assert.ok(!conn.ended);
	}
	await assertNothingMore(conn);
	await assertServesAfter(dev, before, 4);
});

test('answers pipelined requests in order', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);
	const body = 'a body between two GETs';

	await conn.write(get('/echo/pipe-1') +
	    head(['POST /echo/pipe-2 HTTP/1.1', 'Host: proxy.test',
	    `Content-Length: ${body.length}`]) + body +
	    get('/echo/pipe-3'));
	const r1 = await conn.readResponse();
	const r2 = await conn.readResponse();
	const r3 = await conn.readResponse();

	assert.equal(echoOf(r1).url, '/echo/pipe-1');
	assert.equal(echoOf(r2).url, '/echo/pipe-2');
	assert.equal(Buffer.from(echoOf(r2).bodyBase64, 'base64').toString(),
	    body);
	assert.equal(echoOf(r3).url, '/echo/pipe-3');
	await assertNothingMore(conn);
	assert.ok(!conn.ended);
	await assertServesAfter(dev, before, 3);
});

test('closes an HTTP/1.0 connection without keep-alive after the ' +
    'response', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	await conn.write(get('/echo/h10', [], 'HTTP/1.0'));
	const res = await conn.readResponse();
	assert.equal(echoOf(res).url, '/echo/h10');
	assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
	assert.deepEqual(h.getHeaders(res, 'content-length'),
	    [String(res.body.length)]);
	await h.waitClosed(conn, 3000);
	assert.equal(conn.buf.length, 0);
	await assertServesAfter(dev, before, 1);
});

test('keeps an HTTP/1.0 connection with Connection: keep-alive open', T,
    async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	for (let i = 0; i < 3; i++) {
		await conn.write(get(`/echo/h10ka-${i}`,
		    ['Connection: keep-alive'], 'HTTP/1.0'));
		const res = await conn.readResponse();
		assert.equal(echoOf(res).url, `/echo/h10ka-${i}`);
		assert.deepEqual(h.getHeaders(res, 'connection'),
		    ['keep-alive']);
		assert.deepEqual(h.getHeaders(res, 'content-length'),
		    [String(res.body.length)]);
		assert.deepEqual(h.getHeaders(res, 'transfer-encoding'), []);
	}
	await assertNothingMore(conn);
	assert.ok(!conn.ended, 'the HTTP/1.0 keep-alive connection closed');
	await assertServesAfter(dev, before, 3);
});

test('sends a chunked upstream response to an HTTP/1.0 client as a ' +
    'body ended by the close', T, async (t) => {
	const before = backend.stats.requests;

	for (const extra of [[], ['Connection: keep-alive']]) {
		const conn = await connect(t);

		await conn.write(get('/chunked', extra, 'HTTP/1.0'));
		const res = await conn.readResponse();
		assert.equal(res.status, 200, res.statusLine);
		assert.deepEqual(h.getHeaders(res, 'transfer-encoding'), []);
		assert.deepEqual(h.getHeaders(res, 'content-length'), []);
		assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
		assert.equal(res.chunked, false);
		/* read until the close: exactly the data, no framing */
		assert.equal(res.body.toString('latin1'), CHUNKED_BODY);
		assert.ok(conn.ended);
	}
	await assertServesAfter(dev, before, 2);
});

test('a client Connection: close gets Connection: close and the ' +
    'connection ends, a request pipelined after it is not served', T,
    async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	await conn.write(get('/echo/close', ['Connection: close']) +
	    get('/echo/after-close'));
	const res = await conn.readResponse();
	assert.equal(echoOf(res).url, '/echo/close');
	assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
	await h.waitClosed(conn, 3000);
	assert.equal(conn.buf.length, 0);
	/* hop-by-hop: the client's Connection is not forwarded */
	assert.deepEqual(h.echoHeaders(echoOf(res), 'connection')
	    .filter((v) => /close/i.test(v)), []);
	assert.equal(backend.count('/echo/after-close'), 0);
	await assertServesAfter(dev, before, 1);
});

/* ---- responses without a body ---------------------------------------- */

test('HEAD gets the upstream Content-Length and no body', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	await conn.write(head(['HEAD /big?bytes=12345 HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`]));
	const res = await conn.readResponse({ method: 'HEAD' });
	assert.equal(res.status, 200, res.statusLine);
	assert.deepEqual(h.getHeaders(res, 'content-length'), ['12345']);
	assert.deepEqual(h.getHeaders(res, 'transfer-encoding'), []);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	await assertNothingMore(conn);
	assert.equal(backend.stats.log.at(-1).method, 'HEAD');

	/* The connection goes on with the next response, not a body. */
	await conn.write(get('/echo/after-head'));
	assert.equal(echoOf(await conn.readResponse()).url,
	    '/echo/after-head');
	await assertServesAfter(dev, before, 2);
});

test('204 and 304 responses carry no body and no framing', T,
    async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	for (const code of [204, 304]) {
		await conn.write(get(`/status/${code}`,
		    [`Origin: ${ORIGIN}`]));
		const res = await conn.readResponse();
		assert.equal(res.status, code, res.statusLine);
		assert.deepEqual(h.getHeaders(res, 'transfer-encoding'), []);
		assert.deepEqual(h.getHeaders(res, 'content-length')
		    .filter((v) => v !== '0'), []);
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), [ORIGIN]);
		if (code === 304) {
			assert.deepEqual(h.getHeaders(res, 'etag'), ['"v1"']);
		}
		await assertNothingMore(conn);
	}
	await conn.write(get('/echo/after-304'));
	assert.equal(echoOf(await conn.readResponse()).url,
	    '/echo/after-304');
	await assertServesAfter(dev, before, 3);
});

/* ---- Expect: 100-continue --------------------------------------------- */

test('Expect: 100-continue gets 100 Continue before the body is sent, ' +
    'then the response', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);
	const body = 'hello world';

	await conn.write(head(['POST /echo/expect HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`,
	    `Content-Length: ${body.length}`, 'Expect: 100-continue']));
	await h.waitFor(() => conn.buf.includes('\r\n\r\n'), 3000,
	    'the interim response');
	assert.equal(conn.buf.toString('latin1'),
	    'HTTP/1.1 100 Continue\r\n\r\n');
	assert.equal(backend.count('/echo/expect'), 0);

	await conn.write(body);
	const res = await conn.readResponse();
	assert.equal(res.interim.length, 1);
	assert.equal(res.interim[0].statusLine, 'HTTP/1.1 100 Continue');
	const echo = echoOf(res);
	assert.equal(Buffer.from(echo.bodyBase64, 'base64').toString(), body);
	assert.deepEqual(h.echoHeaders(echo, 'expect'), [],
	    'Expect is hop-by-hop');
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	await assertServesAfter(dev, before, 1);
});

test('Expect: 100-continue with a Content-Length over ' +
    'limits.body_bytes gets 413 at once, without 100', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t, small);

	await conn.write(head(['POST /echo/expect-big HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`,
	    `Content-Length: ${BODY_BYTES + 1}`, 'Expect: 100-continue']));
	const res = await conn.readResponse({ timeoutMs: 3000 });
	assert.deepEqual(res.interim, []);
	assert.ok(res.statusLine.startsWith('HTTP/1.1 413 '), res.statusLine);
	h.assertProxyError(res, 413, { origin: ORIGIN });
	assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
	await h.waitClosed(conn, 3000);
	assert.equal(backend.count('/echo/expect-big'), 0);
	await assertServesAfter(small, before, 0);
});

test('an Expect other than 100-continue gets 417', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	await conn.write(head(['POST /echo/expect-other HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`, 'Content-Length: 5',
	    'Expect: 200-ok']) + 'hello');
	const res = await conn.readResponse({ timeoutMs: 3000 });
	h.assertProxyError(res, 417, { origin: ORIGIN });
	assert.equal(backend.count('/echo/expect-other'), 0);
	await assertServesAfter(dev, before, 0);
});

/* ---- reading requests ------------------------------------------------- */

test('tolerates empty lines before a request line', T, async (t) => {
	const before = backend.stats.requests;
	const conn = await connect(t);

	await conn.write('\r\n\r\n' + get('/echo/leading',
	    [`Origin: ${ORIGIN}`]));
	const res = await conn.readResponse();
	assert.equal(echoOf(res).url, '/echo/leading');
	/* and between kept-alive requests */
	await conn.write('\r\n' + get('/echo/leading-2'));
	assert.equal(echoOf(await conn.readResponse()).url,
	    '/echo/leading-2');
	await assertServesAfter(dev, before, 2);
});

test('a chunked request body with extensions and trailers arrives ' +
    'byte-exact, without the trailers', T, async (t) => {
	const before = backend.stats.requests;
	const body = Buffer.alloc(3000);
	const sizes = [1, 255, 1000, 1744];
	const exts = ['', ';name=value', ';a="quoted;string"', ' ;x'];
	const parts = [];
	let off = 0;

	for (let i = 0; i < body.length; i++) {
		body[i] = i % 256;
	}
	sizes.forEach((n, i) => {
		const hex = i % 2 ? n.toString(16).toUpperCase() :
		    n.toString(16);
		parts.push(Buffer.from(`${hex}${exts[i]}\r\n`),
		    body.subarray(off, off + n), Buffer.from('\r\n'));
		off += n;
	});
	parts.push(Buffer.from('0;last=yes\r\nX-Trailer: t\r\n' +
	    'X-Checksum: abc\r\n\r\n'));

	const conn = await connect(t);
	await conn.write(Buffer.concat([Buffer.from(head([
	    'POST /echo/chunked-in HTTP/1.1', 'Host: proxy.test',
	    'Transfer-Encoding: chunked', 'Trailer: X-Trailer, X-Checksum'])),
	    ...parts]));
	const echo = echoOf(await conn.readResponse());

	assert.equal(echo.bodyLength, body.length);
	assert.equal(echo.bodySha256, crypto.createHash('sha256')
	    .update(body).digest('hex'));
	assert.deepEqual(h.echoHeaders(echo, 'content-length'), ['3000']);
	for (const name of ['transfer-encoding', 'trailer', 'x-trailer',
	    'x-checksum']) {
		assert.deepEqual(h.echoHeaders(echo, name), [],
		    `${name} reached the backend`);
	}
	/* The framing was consumed exactly: the connection goes on. */
	await conn.write(get('/echo/after-chunked'));
	assert.equal(echoOf(await conn.readResponse()).url,
	    '/echo/after-chunked');
	await assertServesAfter(dev, before, 2);
});

test('a chunked request body sent a few bytes at a time arrives whole',
    T, async (t) => {
	const conn = await connect(t);
	const bytes = Buffer.from(head(['POST /echo/chunked-slow HTTP/1.1',
	    'Host: proxy.test', 'Transfer-Encoding: chunked']) +
	    '5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n');

	for (let i = 0; i < bytes.length; i += 7) {
		await conn.write(bytes.subarray(i, i + 7));
		await h.sleep(2);
	}
	const echo = echoOf(await conn.readResponse());
	assert.equal(Buffer.from(echo.bodyBase64, 'base64').toString(),
	    'hello world');
});

/* ---- Date ------------------------------------------------------------- */

test('responses the proxy makes carry one Date header', T, async (t) => {
	/* a preflight answered by the proxy */
	const pre = await h.request(dev.port, { method: 'OPTIONS',
	    target: '/echo/pre', headers: [['Origin', ORIGIN],
	    ['Access-Control-Request-Method', 'PUT']] });
	assert.equal(pre.status, 204, pre.statusLine);
	assertDate(pre);

	/* a refused request */
	const bad = await h.rawRequest(dev.port,
	    Buffer.from(get('/echo/x', [`Origin: ${ORIGIN}`, 'X-Bad : 1'])));
	h.assertProxyError(bad, 400, { origin: ORIGIN });
	assertDate(bad);

	/* an upstream that refuses */
	const port = await h.closedPort();
	const proxy = await h.startProxy(['-u', `http://127.0.0.1:${port}`],
	    { t });
	const gw = await h.request(proxy.port, { target: '/x',
	    headers: [['Origin', ORIGIN]] });
	h.assertProxyError(gw, 502, { origin: ORIGIN });
	assertDate(gw);

	/* a forwarded response keeps the backend's one Date */
	const fwd = await h.request(dev.port, { target: '/echo/date' });
	assertDate(fwd);
});
