'use strict';
/*
 * Hostile and malformed input, against the real binary: every broken
 * request line, header, framing and body gets its exact status and the
 * proxy's JSON error (with the CORS headers of an allowed origin when
 * the Origin could be read), never reaches the backend, and leaves the
 * proxy serving.  Slow clients time out, idle floods and the connection
 * limit do not lock others out, a huge Access-Control-Request-Headers
 * is answered at once, hostile Origin values are escaped in the log,
 * and broken upstreams end in 502 or a visibly cut response.
 *
 * Most cases share one proxy with small limits and short timeouts; the
 * backend's request count, read after a normal request that follows
 * each case, shows whether the bad one was forwarded.
 */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./harness');
const fc = require('./fetch-cors');

const T = { timeout: 15000 };
const ORIGIN = h.DEV_ORIGIN;
const HEADER_BYTES = 4096;
const HEADER_COUNT = 20;
const BODY_BYTES = 1024;
const CLIENT_TIMEOUT_MS = 500;

let backend;
let strict;		/* small limits, 500 ms timeouts */
let dev;		/* development defaults, default limits */
let dir;

before(async () => {
	backend = await h.startBackend();
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-bad-'));
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
limits:
  header_bytes: ${HEADER_BYTES}
  header_count: ${HEADER_COUNT}
  body_bytes: ${BODY_BYTES}
timeouts:
  client_header: ${CLIENT_TIMEOUT_MS}ms
  client_idle: ${CLIENT_TIMEOUT_MS}ms
policies:
  - name: dev
    origins: ["http://localhost:*", "http://127.0.0.1:*"]
    allow_credentials: true
`);
	strict = await h.startProxy(['-c', file]);
	dev = await h.startProxy(['-u', backend.url]);
});

after(async () => {
	for (const p of [strict, dev]) {
		if (p) {
			await p.stop();
			/* what startProxy's t option checks per test */
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

/* Sends bytes on a new connection; returns the response and whether
 * the proxy closed the connection after it. */
async function send(proxy, bytes, opts = {}) {
	const conn = await h.RawConnection.connect(proxy.port);

	try {
		await conn.write(bytes);
		const res = await conn.readResponse({ method: opts.method,
		    timeoutMs: 5000 });
		if (opts.closed !== false) {
			await h.waitClosed(conn, 3000);
		}
		return res;
	} finally {
		conn.close();
	}
}

/*
 * After a bad request: the proxy is alive and forwards a normal request,
 * and the backend has seen exactly `forwarded` requests since `before`
 * besides that one.
 */
async function assertServesAfter(proxy, before, forwarded = 0) {
	const res = await h.request(proxy.port, { target: '/echo/after',
	    headers: [['Origin', ORIGIN]] });

	assert.equal(res.status, 200, res.statusLine);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	assert.equal(proxy.exitInfo, null, 'the proxy exited');
	assert.equal(backend.stats.requests, before + forwarded + 1,
	    'requests the backend saw: ' + JSON.stringify(
	    backend.stats.log.slice(before).map((e) => e.url)));
}

/* One malformed request: its status and error, the connection closed
 * after it, the backend never contacted. */
async function assertRefused(proxy, bytes, status, opts = {}) {
	const before = backend.stats.requests;
	const res = await send(proxy, Buffer.from(bytes, 'latin1'));

	h.assertProxyError(res, status, { origin: opts.origin });
	assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
	await assertServesAfter(proxy, before);
	return res;
}

function head(lines) {
	return lines.join('\r\n') + '\r\n\r\n';
}

/* ---- the request line ------------------------------------------------ */

/* The headers are never read after a broken request line, so no Origin
 * is known and no CORS header can be added. */
/* The whole head is read before it is judged, so even a bad request
 * line gets the CORS headers of an allowed Origin. */
test('a request line without a version is refused with 400', T,
    async () => {
	await assertRefused(strict, head(['GET /echo/noversion',
	    'Host: proxy.test', `Origin: ${ORIGIN}`]), 400,
	    { origin: ORIGIN });
});

test('a request line with extra spaces is refused with 400', T,
    async () => {
	await assertRefused(strict, head(['GET  /echo/twospaces HTTP/1.1',
	    'Host: proxy.test']), 400);
	await assertRefused(strict, head(['GET /echo/trailing HTTP/1.1 ',
	    'Host: proxy.test']), 400);
	await assertRefused(strict, head([' GET /echo/leading HTTP/1.1',
	    'Host: proxy.test']), 400);
});

test('a lowercase http/1.1 version is refused with 400', T, async () => {
	await assertRefused(strict, head(['GET /echo/lower http/1.1',
	    'Host: proxy.test']), 400);
});

test('a malformed version is refused with 400', T, async () => {
	for (const v of ['HTTP/1.10', 'HTTP/10.1', 'HTTP/1', 'HTTP/1.x',
	    'HTTP/a.1', 'HTTPS/1.1', 'HTTP/1.1x', 'HTTP 1.1']) {
		await assertRefused(strict, head([`GET /echo/v ${v}`,
		    'Host: proxy.test']), 400);
	}
});

test('HTTP/2.0 and HTTP/0.9 on the request line get 505', T, async () => {
	for (const v of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/3.1']) {
		await assertRefused(strict, head([`GET /echo/h2 ${v}`,
		    'Host: proxy.test']), 505);
	}
});

/* client.c accepts any HTTP/1.x: a higher minor version is served as
 * HTTP/1.1, as RFC 9110 section 2.5 asks. */
test('HTTP/1.2 is served as HTTP/1.1', T, async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);

	try {
		await conn.write(head(['GET /echo/h12 HTTP/1.2',
		    'Host: proxy.test', `Origin: ${ORIGIN}`]));
		const res = await conn.readResponse();
		assert.equal(res.statusLine, 'HTTP/1.1 200 OK');
		assert.equal(JSON.parse(res.body).url, '/echo/h12');
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), [ORIGIN]);
		assert.deepEqual(h.getHeaders(res, 'connection'), []);
		/* kept alive like HTTP/1.1 */
		await conn.write(head(['GET /echo/h12-again HTTP/1.2',
		    'Host: proxy.test']));
		assert.equal((await conn.readResponse()).status, 200);
	} finally {
		conn.close();
	}
	await assertServesAfter(strict, before, 2);
});

test('a method with characters outside a token is refused with 400', T,
    async () => {
	for (const m of ['GE(T', 'GE/T', 'GE"T', 'G\x01T', 'GÉT', '']) {
		await assertRefused(strict, head([`${m} /echo/m HTTP/1.1`,
		    'Host: proxy.test']), 400);
	}
});

test('a method beyond the common ones (PROPFIND) is forwarded as sent', T,
    async () => {
	const before = backend.stats.requests;
	const res = await send(strict, Buffer.from(head([
	    'PROPFIND /echo/propfind HTTP/1.1', 'Host: proxy.test',
	    `Origin: ${ORIGIN}`])), { closed: false });

	assert.equal(res.status, 200, res.statusLine);
	assert.equal(JSON.parse(res.body).method, 'PROPFIND');
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	await assertServesAfter(strict, before, 1);
});

test('CONNECT is refused with 501: the proxy tunnels nothing', T,
    async () => {
	const before = backend.stats.requests;
	const res = await send(strict, Buffer.from(head([
	    'CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443',
	    `Origin: ${ORIGIN}`])), { closed: false });

	h.assertProxyError(res, 501, { origin: ORIGIN });
	await assertServesAfter(strict, before);
});

/* Routes match paths by prefix: a path a backend would change by
 * resolving dot segments must not reach it. */
test('a target with . or .. segments, plain or %2e, is refused with 400',
    T, async () => {
	for (const target of ['/echo/../admin', '/echo/%2e%2E/admin',
	    '/echo/./x', '/echo/%2F/..', '/echo/.%2e']) {
		await assertRefused(strict, head([`GET ${target} HTTP/1.1`,
		    'Host: proxy.test']), 400);
	}
});

test('dots that are not whole segments, or in the query, pass', T,
    async () => {
	for (const target of ['/echo/.hidden/x', '/echo/a...',
	    '/echo/q?a=/../b']) {
		const res = await send(strict, Buffer.from(head([
		    `GET ${target} HTTP/1.1`, 'Host: proxy.test'])),
		    { closed: false });

		assert.equal(res.status, 200, `${target}: ${res.statusLine}`);
		assert.equal(JSON.parse(res.body).url, target);
	}
});

test('an absolute-form target is forwarded as its path', T, async () => {
	const res = await send(strict, Buffer.from(head([
	    'GET http://proxy.test/echo/abs?q=1 HTTP/1.1',
	    'Host: proxy.test'])), { closed: false });

	assert.equal(res.status, 200, res.statusLine);
	assert.equal(JSON.parse(res.body).url, '/echo/abs?q=1');
});

test('a request target with a control byte is refused with 400', T,
    async () => {
	await assertRefused(strict, head(['GET /echo/a\x01b HTTP/1.1',
	    'Host: proxy.test']), 400);
	await assertRefused(strict, head(['GET /echo/a\x7fb HTTP/1.1',
	    'Host: proxy.test']), 400);
});

/* ---- header lines ---------------------------------------------------- */

test('an HTTP/1.1 request without Host is refused with 400', T,
    async () => {
	await assertRefused(strict, head(['GET /echo/nohost HTTP/1.1',
	    `Origin: ${ORIGIN}`]), 400, { origin: ORIGIN });
});

test('an HTTP/1.0 request without Host is served', T, async () => {
	const before = backend.stats.requests;
	const res = await send(strict, Buffer.from(head([
	    'GET /echo/nohost10 HTTP/1.0'])));

	assert.equal(res.status, 200, res.statusLine);
	assert.equal(JSON.parse(res.body).url, '/echo/nohost10');
	await assertServesAfter(strict, before, 1);
});

test('two Host headers are refused with 400', T, async () => {
	await assertRefused(strict, head(['GET /echo/twohosts HTTP/1.1',
	    'Host: a.test', `Origin: ${ORIGIN}`, 'Host: b.test']), 400,
	    { origin: ORIGIN });
});

test('two Origin headers are refused with 400 and no CORS headers, in ' +
    'either order', T, async () => {
	for (const [a, b] of [[ORIGIN, h.EVIL_ORIGIN],
	    [h.EVIL_ORIGIN, ORIGIN], [ORIGIN, ORIGIN]]) {
		const res = await assertRefused(strict, head([
		    'GET /echo/twoorigins HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${a}`, `Origin: ${b}`]), 400);

		assert.match(res.body.toString(), /more than one Origin/);
	}
	assert.equal(backend.count('/echo/twoorigins'), 0);
});

test('Content-Length with Transfer-Encoding is refused and a request ' +
    'smuggled in the body never reaches the backend', T, async () => {
	const smuggled = head(['GET /echo/smuggled HTTP/1.1',
	    'Host: proxy.test']);
	const body = '0\r\n\r\n' + smuggled;

	for (const order of [
		['Content-Length: ' + body.length,
		    'Transfer-Encoding: chunked'],
		['Transfer-Encoding: chunked',
		    'Content-Length: ' + body.length],
		['Content-Length: 0', 'Transfer-Encoding: chunked'],
	]) {
		const before = backend.stats.requests;
		const res = await send(strict, Buffer.from(head([
		    'POST /echo/smuggle HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${ORIGIN}`, ...order]) + body));

		h.assertProxyError(res, 400, { origin: ORIGIN });
		assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
		await assertServesAfter(strict, before);
	}
	assert.equal(backend.count('/echo/smuggle'), 0);
	assert.equal(backend.count('/echo/smuggled'), 0);
});

test('two Content-Length headers are refused with 400, equal or not', T,
    async () => {
	for (const [a, b] of [['5', '5'], ['5', '6'], ['0', '0']]) {
		await assertRefused(strict, head(['POST /echo/twocl HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`,
		    `Content-Length: ${a}`, `Content-Length: ${b}`]) + 'hello',
		    400, { origin: ORIGIN });
	}
	await assertRefused(strict, head(['POST /echo/twocl HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`, 'Content-Length: 5, 5']) +
	    'hello', 400, { origin: ORIGIN });
});

test('a Content-Length that is not a decimal number is refused with 400',
    T, async () => {
	for (const v of ['abc', '-1', '+5', '5x', '0x10', '1e3', '5 5', '',
	    '1234567890123456789012']) {
		await assertRefused(strict, head(['POST /echo/badcl HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`,
		    `Content-Length: ${v}`]) + 'hello', 400,
		    { origin: ORIGIN });
	}
});

test('a transfer coding other than chunked gets 501', T, async () => {
	for (const te of ['gzip', 'gzip, chunked', 'chunked, chunked',
	    'identity']) {
		await assertRefused(strict, head(['POST /echo/te HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`,
		    `Transfer-Encoding: ${te}`]) + '5\r\nhello\r\n0\r\n\r\n',
		    501, { origin: ORIGIN });
	}
});

test('Transfer-Encoding on an HTTP/1.0 request gets 501', T, async () => {
	await assertRefused(strict, head(['POST /echo/te10 HTTP/1.0',
	    'Host: proxy.test', `Origin: ${ORIGIN}`,
	    'Transfer-Encoding: chunked']) + '5\r\nhello\r\n0\r\n\r\n', 501,
	    { origin: ORIGIN });
});

test('a space before the colon is refused with 400', T, async () => {
	await assertRefused(strict, head(['GET /echo/spacecolon HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`, 'X-Thing : 1']), 400,
	    { origin: ORIGIN });
	await assertRefused(strict, head(['GET /echo/spacecolon HTTP/1.1',
	    `Origin: ${ORIGIN}`, 'Host : proxy.test']), 400,
	    { origin: ORIGIN });
});

test('malformed header names are refused with 400', T, async () => {
	for (const line of [': empty', 'X(a): 1', 'no colon here',
	    'X\x01A: 1', 'X-Ä: 1']) {
		await assertRefused(strict, head(['GET /echo/badname HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`, line]), 400,
		    { origin: ORIGIN });
	}
});

test('an obs-fold continuation line is refused with 400', T, async () => {
	await assertRefused(strict, head(['GET /echo/fold HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`, 'X-Folded: one',
	    ' two']), 400, { origin: ORIGIN });
	await assertRefused(strict, head(['GET /echo/fold HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`, 'X-Folded: one',
	    '\ttwo']), 400, { origin: ORIGIN });
});

test('a control byte in a header value is refused with 400', T,
    async () => {
	for (const bad of ['a\rb', 'a\x00b', 'a\x01b', 'a\x1bb', 'a\x7fb',
	    '\r']) {
		await assertRefused(strict, head(['GET /echo/ctl HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`,
		    `X-Bad: ${bad}`]), 400, { origin: ORIGIN });
	}
});

test('a tab inside a header value is accepted and forwarded', T,
    async () => {
	const { echo } = await h.echo(strict.port, { target: '/echo/tab',
	    headers: [['X-Tab', 'a\tb']] });

	assert.deepEqual(h.echoHeaders(echo, 'x-tab'), ['a\tb']);
});

test('a malformed request pipelined after a good one is refused only ' +
    'after the good one is answered', T, async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);

	try {
		await conn.write(head(['GET /echo/good-first HTTP/1.1',
		    'Host: proxy.test']) +
		    head(['GET /echo/bad-second HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${ORIGIN}`, 'X-Bad : 1']) +
		    head(['GET /echo/never HTTP/1.1', 'Host: proxy.test']));
		const first = await conn.readResponse();
		assert.equal(first.status, 200, first.statusLine);
		assert.equal(JSON.parse(first.body).url, '/echo/good-first');
		const second = await conn.readResponse();
		h.assertProxyError(second, 400, { origin: ORIGIN });
		await h.waitClosed(conn, 3000);
		assert.equal(conn.buf.length, 0);
	} finally {
		conn.close();
	}
	assert.equal(backend.count('/echo/never'), 0);
	await assertServesAfter(strict, before, 1);
});

/* ---- limits ---------------------------------------------------------- */

test('a header section over limits.header_bytes gets 431', T, async () => {
	const filler = 'x'.repeat(400);
	const lines = ['GET /echo/bigheader HTTP/1.1', 'Host: proxy.test',
	    `Origin: ${ORIGIN}`];

	for (let i = 0; lines.join('\r\n').length <= HEADER_BYTES + 100; i++) {
		lines.push(`X-Filler-${i}: ${filler}`);
	}
	assert.ok(lines.length - 1 <= HEADER_COUNT, 'count stays in limit');
	await assertRefused(strict, head(lines), 431, { origin: ORIGIN });
});

test('one header line longer than limits.header_bytes gets 431 before ' +
    'its end arrives', T, async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);

	try {
		/* No CRLF ends the line: the proxy must not wait for one. */
		await conn.write(`GET /echo/longline HTTP/1.1\r\n` +
		    `Host: proxy.test\r\nOrigin: ${ORIGIN}\r\n` +
		    `X-Long: ${'y'.repeat(HEADER_BYTES + 10)}`);
		const res = await conn.readResponse({ timeoutMs: 3000 });
		h.assertProxyError(res, 431, { origin: ORIGIN });
		await h.waitClosed(conn, 3000);
	} finally {
		conn.close();
	}
	await assertServesAfter(strict, before);
});

test('more header lines than limits.header_count get 431', T,
    async () => {
	const lines = ['GET /echo/manyheaders HTTP/1.1', 'Host: proxy.test',
	    `Origin: ${ORIGIN}`];

	for (let i = 0; i < HEADER_COUNT + 5; i++) {
		lines.push(`X-N${i}: ${i}`);
	}
	await assertRefused(strict, head(lines), 431, { origin: ORIGIN });
});

test('exactly limits.header_count header lines are served', T,
    async () => {
	const headers = [['Origin', ORIGIN]];

	/* Host and Origin count too. */
	for (let i = 0; i < HEADER_COUNT - 2; i++) {
		headers.push([`X-N${i}`, String(i)]);
	}
	const { echo } = await h.echo(strict.port, {
	    target: '/echo/countok', headers });
	assert.deepEqual(h.echoHeaders(echo, `x-n${HEADER_COUNT - 3}`),
	    [String(HEADER_COUNT - 3)]);
});

test('a Content-Length over limits.body_bytes gets 413 at once, intact ' +
    'while the client goes on sending the body', T, async () => {
	const before = backend.stats.requests;
	const total = 64 * 1024 * 1024;
	const chunk = Buffer.alloc(64 * 1024, 'b');
	const conn = await h.RawConnection.connect(strict.port);
	let sent = 0;
	let sentAtResponse = -1;
	let writing = true;

	let writer = Promise.resolve();

	try {
		await conn.write(head(['POST /echo/bigbody HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`,
		    `Content-Length: ${total}`]));
		/*
		 * Paced like a fast network rather than loopback speed: node
		 * destroys a socket on a write error (EPIPE once the proxy
		 * has lingered and closed) and drops what it had not read
		 * yet, response included.  A client that writes until the
		 * error and then reads (checked with a C-level socket) gets
		 * the whole 413 even unpaced.
		 */
		writer = (async () => {
			while (writing && sent < total && !conn.ended) {
				sent += chunk.length;
				if (!conn.sock.write(chunk)) {
					await new Promise((resolve) => {
						const s = conn.sock;
						s.once('drain', resolve);
						s.once('close', resolve);
					});
				}
				await h.sleep(5);
			}
		})();
		const res = await conn.readResponse({ timeoutMs: 5000 });
		sentAtResponse = sent;
		h.assertProxyError(res, 413, { origin: ORIGIN });
		assert.deepEqual(h.getHeaders(res, 'connection'), ['close']);
		/* Lingering ends within a bounded time, whatever the
		 * client still sends. */
		await h.waitClosed(conn, 4000);
	} finally {
		writing = false;
		conn.close();
		await writer;
	}
	assert.ok(sentAtResponse < total,
	    `the response came only after the whole body (${sent} bytes)`);
	assert.equal(backend.count('/echo/bigbody'), 0);
	await assertServesAfter(strict, before);
});

test('a body at limits.body_bytes is forwarded byte-exact', T, async () => {
	const body = Buffer.alloc(BODY_BYTES);

	for (let i = 0; i < body.length; i++) {
		body[i] = (i * 7) % 256;
	}
	const { echo } = await h.echo(strict.port, { method: 'POST',
	    target: '/echo/bodyok', body });
	assert.equal(echo.bodyBase64, body.toString('base64'));
});

test('a chunked body over limits.body_bytes gets 413', T, async () => {
	const c = 'c'.repeat(600);

	/* One chunk over the limit, and two that add up to more. */
	await assertRefused(strict, head(['POST /echo/bigchunk HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`,
	    'Transfer-Encoding: chunked']) +
	    (BODY_BYTES + 1).toString(16) + '\r\n' +
	    'c'.repeat(BODY_BYTES + 1) +
	    '\r\n0\r\n\r\n', 413, { origin: ORIGIN });
	await assertRefused(strict, head(['POST /echo/bigchunk HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`,
	    'Transfer-Encoding: chunked']) +
	    `258\r\n${c}\r\n258\r\n${c}\r\n0\r\n\r\n`, 413,
	    { origin: ORIGIN });
	assert.equal(backend.count('/echo/bigchunk'), 0);
});

test('a malformed chunk size is refused with 400', T, async () => {
	for (const body of ['zz\r\nhello\r\n0\r\n\r\n',
	    '\r\nhello\r\n0\r\n\r\n', '-5\r\nhello\r\n0\r\n\r\n',
	    '0x5\r\nhello\r\n0\r\n\r\n', '5 5\r\nhello\r\n0\r\n\r\n',
	    '1000000000000005\r\nhello\r\n0\r\n\r\n',
	    '5\r\nhello world\r\n0\r\n\r\n']) {
		await assertRefused(strict, head([
		    'POST /echo/badchunk HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${ORIGIN}`, 'Transfer-Encoding: chunked']) + body,
		    400,
		    { origin: ORIGIN });
	}
	assert.equal(backend.count('/echo/badchunk'), 0);
});

/* ---- slow and idle clients -------------------------------------------- */

/* Closing without an answer is what client.c does; a 408 would do too. */
function assertNoAnswerOr408(conn) {
	const got = conn.buf.toString('latin1');

	assert.ok(got === '' || got.startsWith('HTTP/1.1 408 '),
	    `after a timeout the proxy sent ${JSON.stringify(got)}`);
}

test('a client that sends half a header is closed after ' +
    'timeouts.client_header, and others are served meanwhile', T,
    async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);

	try {
		await conn.write('GET /echo/halfheader HTTP/1.1\r\n' +
		    'Host: proxy.test\r\nX-Half: ');
		const start = Date.now();
		const other = await h.request(strict.port,
		    { target: '/echo/meanwhile' });
		assert.equal(other.status, 200);
		assert.ok(!conn.ended, 'closed before the timeout');
		await h.waitClosed(conn, 3000);
		const took = Date.now() - start;
		assert.ok(took >= CLIENT_TIMEOUT_MS - 100 && took < 2000,
		    `closed after ${took} ms`);
		assertNoAnswerOr408(conn);
	} finally {
		conn.close();
	}
	assert.equal(backend.count('/echo/halfheader'), 0);
	await assertServesAfter(strict, before, 1);
});

/* The contract: "a client gets timeouts.client_header to send a
 * request's header and body".  A client that sends one byte now and
 * then must not hold a connection longer than that. */
test('a client that drips its header a byte at a time is still closed ' +
    'after about timeouts.client_header', T, async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);
	const start = Date.now();
	const limit = CLIENT_TIMEOUT_MS * 3;

	try {
		await conn.write('GET /echo/drip HTTP/1.1\r\nHost: proxy.test' +
		    '\r\nX-Drip: ');
		while (!conn.ended && Date.now() - start < limit + 1500) {
			await h.sleep(100);
			conn.sock.write('a');
		}
		const took = Date.now() - start;
		assert.ok(conn.ended, `still open after ${took} ms of ` +
		    `one byte per 100 ms (client_header ` +
		    `${CLIENT_TIMEOUT_MS} ms)`);
		assert.ok(took < limit, `closed only after ${took} ms`);
		assertNoAnswerOr408(conn);
	} finally {
		conn.close();
	}
	await assertServesAfter(strict, before);
});

test('a client that stops halfway through its body is closed after ' +
    'timeouts.client_header and nothing is forwarded', T, async () => {
	const before = backend.stats.requests;
	const conn = await h.RawConnection.connect(strict.port);

	try {
		await conn.write(head(['POST /echo/halfbody HTTP/1.1',
		    'Host: proxy.test', 'Content-Length: 100']) +
		    'x'.repeat(50));
		const start = Date.now();
		await h.waitClosed(conn, 3000);
		const took = Date.now() - start;
		assert.ok(took >= CLIENT_TIMEOUT_MS - 100 && took < 2000,
		    `closed after ${took} ms`);
		assertNoAnswerOr408(conn);
	} finally {
		conn.close();
	}
	assert.equal(backend.count('/echo/halfbody'), 0);
	await assertServesAfter(strict, before);
});

test('an idle keep-alive connection is closed after timeouts.client_idle',
    T, async () => {
	const conn = await h.RawConnection.connect(strict.port);

	try {
		await conn.write(head(['GET /echo/idle HTTP/1.1',
		    'Host: proxy.test']));
		const res = await conn.readResponse();
		assert.equal(res.status, 200);
		assert.deepEqual(h.getHeaders(res, 'connection'), []);
		const took = await h.waitClosed(conn, 3000);
		assert.ok(took >= CLIENT_TIMEOUT_MS - 150 && took < 2000,
		    `closed after ${took} ms`);
		assert.equal(conn.buf.length, 0);
	} finally {
		conn.close();
	}
});

test('past limits.connections a new connection waits until one closes',
    T, async (t) => {
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
limits: { connections: 5 }
policies:
  - name: dev
    origins: ["http://localhost:*"]
    allow_credentials: true
`);
	const proxy = await h.startProxy(['-c', file], { t });
	const conns = [];

	t.after(() => conns.forEach((c) => c.close()));
	for (let i = 0; i < 5; i++) {
		const c = await h.RawConnection.connect(proxy.port);
		conns.push(c);
		await c.write(head([`GET /echo/limit-${i} HTTP/1.1`,
		    'Host: proxy.test']));
		assert.equal((await c.readResponse()).status, 200);
	}

	/* The kernel completes the handshake; the proxy does not accept. */
	const sixth = await h.RawConnection.connect(proxy.port);
	conns.push(sixth);
	await sixth.write(head(['GET /echo/limit-6 HTTP/1.1',
	    'Host: proxy.test', `Origin: ${ORIGIN}`]));
	await assert.rejects(sixth.readResponse({ timeoutMs: 700 }),
	    (e) => e.code === 'TIMEOUT');
	assert.equal(backend.count('/echo/limit-6'), 0);
	assert.match(proxy.stderr(), /5 connections: no longer accepting/);

	conns[0].close();
	const res = await sixth.readResponse({ timeoutMs: 3000 });
	assert.equal(res.status, 200, res.statusLine);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	assert.equal(backend.count('/echo/limit-6'), 1);

	/* The others still work on their kept-alive connections. */
	await conns[1].write(head(['GET /echo/limit-1b HTTP/1.1',
	    'Host: proxy.test']));
	assert.equal((await conns[1].readResponse()).status, 200);
});

function openFds(pid) {
	try {
		return fs.readdirSync(`/proc/${pid}/fd`).length;
	} catch (e) {
		return 0;
	}
}

test('a flood of 200 idle connections does not stop a normal request',
    T, async (t) => {
	const pids = h.groupPids(dev.pid);
	const fdsBefore = pids.reduce((n, p) => n + openFds(p), 0);
	const flood = [];

	t.after(() => flood.forEach((c) => c.close()));
	for (let i = 0; i < 200; i += 20) {
		const batch = [];
		for (let j = 0; j < 20; j++) {
			batch.push(h.RawConnection.connect(dev.port));
		}
		flood.push(...await Promise.all(batch));
	}
	/* Half send nothing, half a partial header. */
	for (let i = 0; i < flood.length; i += 2) {
		await flood[i].write('GET /echo/flood HTTP/1.1\r\nHost: x\r\n');
	}
	await h.waitFor(() => pids.reduce((n, p) => n + openFds(p), 0) >=
	    fdsBefore + 200, 5000, 'the proxy to accept the flood');

	const start = Date.now();
	const res = await h.request(dev.port, { target: '/echo/in-flood',
	    headers: [['Origin', ORIGIN]], timeoutMs: 3000 });
	assert.equal(res.status, 200, res.statusLine);
	assert.ok(Date.now() - start < 2000);
	assert.ok(flood.every((c) => !c.ended), 'a flood connection closed');
	assert.equal(backend.count('/echo/flood'), 0);
	assert.equal(dev.exitInfo, null);
});

/* ---- huge Access-Control-Request-Headers ----------------------------- */

/* The longest list the CORS decision walks; a longer one is denied. */
const ACRH_MAX = 8192;

/* Distinct header names joined with "," to exactly bytes bytes. */
function headerNames(bytes, prefix = 'x-h') {
	const names = [];
	let len = -1;

	while (len + 1 + `${prefix}-${names.length}`.length + 12 <= bytes) {
		names.push(`${prefix}-${names.length}`);
		len += 1 + names.at(-1).length;
	}
	names.push(`${prefix}-last-${'z'.repeat(bytes - len - 1 -
	    `${prefix}-last-`.length)}`);
	assert.equal(names.join(',').length, bytes);
	return names;
}

/* A preflight for PUT from ORIGIN asking for the given header lines,
 * and how long its answer took. */
async function hugePreflight(proxy, acrh) {
	const headers = [['Origin', ORIGIN],
	    ['Access-Control-Request-Method', 'PUT'],
	    ...acrh.map((v) => ['Access-Control-Request-Headers', v])];
	const start = Date.now();
	const res = await h.request(proxy.port, { method: 'OPTIONS',
	    target: '/echo/huge-acrh', headers });

	res.took = Date.now() - start;
	return res;
}

function assertAllowsAll(res, names) {
	const req = { origin: ORIGIN, credentials: 'include', method: 'PUT',
	    headers: names.map((n) => [n, '1']) };
	const verdict = fc.preflightCheck(res, req);

	assert.equal(res.status, 204, res.statusLine);
	assert.ok(res.took < 1000, `answered after ${res.took} ms`);
	assert.deepEqual(h.headerTokens(res, 'access-control-allow-headers'),
	    names);
	assert.ok(verdict.ok, verdict.reason);
}

function assertDeniedOverlong(res) {
	assert.equal(res.status, 403, res.statusLine);
	assert.ok(res.took < 1000, `answered after ${res.took} ms`);
	assert.deepEqual(res.headers.filter(([n]) =>
	    /^access-control-allow-/i.test(n)), []);
	assert.equal(res.body.toString('utf8'), 'Access-Control-Request-' +
	    `Headers is longer than ${ACRH_MAX} bytes\n`);
}

test('an Access-Control-Request-Headers of exactly the walked maximum is ' +
    'allowed quickly with every name reflected', T, async () => {
	const before = backend.stats.requests;
	const names = headerNames(ACRH_MAX);

	assertAllowsAll(await hugePreflight(dev, [names.join(',')]), names);
	await assertServesAfter(dev, before);
});

test('an Access-Control-Request-Headers past the walked maximum is ' +
    'denied quickly, up to nearly limits.header_bytes', T, async () => {
	const before = backend.stats.requests;

	for (const bytes of [ACRH_MAX + 1, 30 * 1024]) {
		const res = await hugePreflight(dev,
		    [headerNames(bytes).join(',')]);

		assertDeniedOverlong(res);
	}
	await assertServesAfter(dev, before);
});

test('Access-Control-Request-Headers split over many lines is judged as ' +
    'one list', T, async () => {
	const before = backend.stats.requests;
	/* 20 lines joined are under the maximum, 40 are over it. */
	const lines = (n) => Array.from({ length: n }, (_, i) =>
	    headerNames(300, `x-l${i}`).join(','));
	const under = lines(20);
	const over = lines(40);

	assert.ok(under.join(',').length <= ACRH_MAX);
	assert.ok(over.join(',').length > ACRH_MAX);
	assertAllowsAll(await hugePreflight(dev, under),
	    under.join(',').split(','));
	assertDeniedOverlong(await hugePreflight(dev, over));
	await assertServesAfter(dev, before);
});

test('an Access-Control-Request-Headers over limits.header_bytes gets 431',
    T, async () => {
	for (const [proxy, bytes] of [[strict, HEADER_BYTES + 1],
	    [dev, 32 * 1024 + 1]]) {
		await assertRefused(proxy, head(['OPTIONS /echo/huge-acrh ' +
		    'HTTP/1.1', 'Host: proxy.test', `Origin: ${ORIGIN}`,
		    'Access-Control-Request-Method: PUT',
		    'Access-Control-Request-Headers: ' +
		    headerNames(bytes).join(',')]), 431, { origin: ORIGIN });
	}
});

/* ---- hostile Origin values ------------------------------------------- */

/* Bytes that must never reach the log raw: controls other than the
 * line feed, DEL, and anything outside ASCII. */
const RAW_BYTE = /[\x00-\x09\x0b-\x1f\x7f-\xff]/;

function assertLogClean(proxy) {
	const text = proxy.stderr();
	const m = RAW_BYTE.exec(text);

	assert.equal(m, null, m && `raw byte 0x${m[0].charCodeAt(0)
	    .toString(16)} in stderr: ${JSON.stringify(text.slice(
	    Math.max(0, m.index - 100), m.index + 100))}`);
}

test('a very long Origin is denied, forwarded, and the proxy survives',
    T, async () => {
	/* Long, yet under the test backend's own 16 KiB header limit. */
	const long = 'http://' + 'a'.repeat(12000) + '.example';
	const before = backend.stats.requests;
	const res = await h.request(dev.port, { target: '/echo/longorigin',
	    headers: [['Origin', long]] });

	assert.equal(res.status, 200, res.statusLine);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    []);
	const echo = JSON.parse(res.body);
	assert.deepEqual(h.echoHeaders(echo, 'origin'), [long]);
	assertLogClean(dev);
	await assertServesAfter(dev, before, 1);
});

test('an Origin over limits.header_bytes gets 431', T, async () => {
	const res = await assertRefused(strict, head([
	    'GET /echo/hugeorigin HTTP/1.1', 'Host: proxy.test',
	    `Origin: http://localhost:8000/${'a'.repeat(HEADER_BYTES)}`]),
	    431);

	assert.equal(res.status, 431);
});

test('an Origin with control bytes is refused with 400 and nothing raw ' +
    'reaches the log', T, async () => {
	for (const bad of [`${ORIGIN}\x1b[31m`, `${ORIGIN}\x00`,
	    `${ORIGIN}\rX-Injected: 1`, `${ORIGIN}\x7f`]) {
		await assertRefused(dev, head(['GET /echo/ctlorigin HTTP/1.1',
		    'Host: proxy.test', `Origin: ${bad}`]), 400);
	}
	assertLogClean(dev);
});

test('Origin values with quotes, backslashes and non-ASCII bytes are ' +
    'denied and escaped in the log', T, async () => {
	const values = [
		'http://localhost:8000"',
		'http://evil.example" policy=development decision=allowed',
		'http://evil.example\\',
		'http://ev\xc3\xa9l.example',
		'http://evil.example\xff\x80',
		'null',
	];

	for (const v of values) {
		const before = backend.stats.requests;
		const res = await send(dev, Buffer.from(head([
		    'GET /echo/quoted HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${v}`]), 'latin1'), { closed: false });
		assert.equal(res.status, 200, `${JSON.stringify(v)}: ` +
		    res.statusLine);
		assert.deepEqual(h.getHeaders(res,
		    'access-control-allow-origin'), [], JSON.stringify(v));
		await assertServesAfter(dev, before, 1);
	}
	const log = dev.stderr();
	assertLogClean(dev);
	assert.ok(log.includes('origin="http://evil.example\\" ' +
	    'policy=development decision=allowed"'), 'the forged fields ' +
	    'are not escaped');
	assert.ok(log.includes('origin="http://ev\\xc3\\xa9l.example"'));
	assert.ok(!/origin="http:\/\/evil\.example" policy=development /
	    .test(log), 'a quote in the Origin closed the field');
});

/* ---- broken upstreams ------------------------------------------------- */

/*
 * A TCP server that plays a broken upstream: answer(sock, requestHead)
 * runs once a request head has arrived.  Counts connections and heads.
 */
async function rawUpstream(t, answer) {
	const st = { connections: 0, heads: [] };
	const socks = new Set();
	const srv = net.createServer((sock) => {
		let buf = '';
		let answered = false;

		st.connections++;
		socks.add(sock);
		sock.on('error', () => {});
		sock.on('close', () => socks.delete(sock));
		sock.on('data', (d) => {
			buf += d.toString('latin1');
			if (!answered && buf.includes('\r\n\r\n')) {
				answered = true;
				st.heads.push(buf.slice(0,
				    buf.indexOf('\r\n\r\n')));
				answer(sock, buf);
			}
		});
	});

	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	t.after(async () => {
		socks.forEach((s) => s.destroy());
		await new Promise((r) => srv.close(r));
	});
	return { st, url: `http://127.0.0.1:${srv.address().port}` };
}

test('an upstream that sends garbage instead of HTTP gets 502', T,
    async (t) => {
	const up = await rawUpstream(t, (sock) => {
		/* No close: the parse error alone must end it. */
		sock.write('SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\r\n');
	});
	const proxy = await h.startProxy(['-u', up.url], { t });
	const start = Date.now();
	const res = await h.request(proxy.port, { target: '/garbage',
	    headers: [['Origin', ORIGIN]], timeoutMs: 5000 });

	h.assertProxyError(res, 502, { origin: ORIGIN });
	assert.ok(Date.now() - start < 3000);
	assert.equal(up.st.heads.length, 1);
	assert.match(up.st.heads[0], /^GET \/garbage HTTP\/1\.1\r\n/);

	/* The proxy keeps answering. */
	const res2 = await h.request(proxy.port, { target: '/garbage2',
	    timeoutMs: 5000 });
	h.assertProxyError(res2, 502);
	assert.equal(proxy.exitInfo, null);
});

test('an upstream that closes before responding gets 502', T,
    async (t) => {
	const up = await rawUpstream(t, (sock) => sock.destroy());
	const proxy = await h.startProxy(['-u', up.url], { t });
	const res = await h.request(proxy.port, { target: '/closes',
	    headers: [['Origin', ORIGIN]], timeoutMs: 5000 });

	h.assertProxyError(res, 502, { origin: ORIGIN });
	assert.ok(up.st.heads.length >= 1);
	const res2 = await h.request(proxy.port, { target: '/closes2',
	    timeoutMs: 5000 });
	h.assertProxyError(res2, 502);
	assert.equal(proxy.exitInfo, null);
});

/* The contract retries an idempotent request whose connect failed; a
 * POST that reached a server must not be sent to another. */
test('a POST an upstream closed on without answering is not retried on ' +
    'another server', T, async (t) => {
	const a = await rawUpstream(t, (sock) => sock.destroy());
	const b = await rawUpstream(t, (sock) => sock.destroy());
	const proxy = await h.startProxy(['-u', a.url, '-u', b.url], { t });
	const res = await h.request(proxy.port, { method: 'POST',
	    target: '/post-once', body: 'pay once',
	    headers: [['Origin', ORIGIN]], timeoutMs: 5000 });

	h.assertProxyError(res, 502, { origin: ORIGIN });
	const heads = [...a.st.heads, ...b.st.heads];
	assert.equal(heads.length, 1, `the POST reached the upstreams ` +
	    `${heads.length} times: ${JSON.stringify(heads)}`);
});

test('an upstream that closes mid-body cuts the client response short',
    T, async (t) => {
	const proxy = await h.startProxy(['-u', backend.url], { t });
	const conn = await h.RawConnection.connect(proxy.port);
	let err;

	try {
		await conn.write(head(['GET /cut HTTP/1.1', 'Host: proxy.test',
		    `Origin: ${ORIGIN}`]));
		await conn.readResponse({ timeoutMs: 5000 }).catch((e) => {
			err = e;
		});
	} finally {
		conn.close();
	}
	assert.ok(err, 'a cut-short response arrived as complete');
	assert.equal(err.code, 'INCOMPLETE', err.message);
	assert.equal(err.partial.status, 200);
	assert.deepEqual(h.getHeaders(err.partial, 'content-length'),
	    ['1000']);
	assert.equal(err.partial.partialBody.toString(), '0123456789');
	const before = backend.stats.requests;
	await assertServesAfter(proxy, before);
});

test('an upstream that closes mid-way through a chunked body leaves ' +
    'the client without the last chunk', T, async (t) => {
	const up = await rawUpstream(t, (sock) => {
		sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n' +
		    'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
		setTimeout(() => sock.destroy(), 50);
	});
	const proxy = await h.startProxy(['-u', up.url], { t });
	const conn = await h.RawConnection.connect(proxy.port);
	let err;

	try {
		await conn.write(head(['GET /cutchunked HTTP/1.1',
		    'Host: proxy.test', `Origin: ${ORIGIN}`]));
		await conn.readResponse({ timeoutMs: 5000 }).catch((e) => {
			err = e;
		});
	} finally {
		conn.close();
	}
	assert.ok(err, 'a cut-short chunked response arrived as complete');
	assert.equal(err.code, 'INCOMPLETE', err.message);
	assert.equal(err.partial.status, 200);
	assert.deepEqual(h.getHeaders(err.partial,
	    'access-control-allow-origin'), [ORIGIN]);
	assert.equal(err.partial.partialBody.toString(), 'hello');
	assert.equal(proxy.exitInfo, null);
});

test('a target with non-ASCII bytes is forwarded byte for byte and ' +
    'escaped in the log', T, async (t) => {
	const target = '/t\xe9st\xff"x?q=\x80';
	const up = await rawUpstream(t, (sock) => {
		sock.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
	});
	const proxy = await h.startProxy(['-u', up.url], { t });
	const res = await send(proxy, Buffer.from(head([
	    `GET ${target} HTTP/1.1`, 'Host: proxy.test']), 'latin1'),
	    { closed: false });

	assert.equal(res.status, 200, res.statusLine);
	assert.equal(up.st.heads[0].split('\r\n')[0],
	    `GET ${target} HTTP/1.1`);
	assertLogClean(proxy);
	assert.ok(proxy.stderr().includes('"GET /t\\xe9st\\xff\\"x?q=\\x80"'),
	    proxy.stderr());
});
