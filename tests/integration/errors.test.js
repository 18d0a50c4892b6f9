'use strict';
/*
 * Upstream failures: the proxy answers them itself (502 refused or not
 * answering within upstream_connect, 504 too slow to respond) with a
 * JSON body and the CORS headers of an allowed origin, a response cut
 * short upstream ends the client's response visibly, and the proxy
 * keeps serving afterwards.
 *
 * Each refused-upstream test starts its own proxy and sends one request
 * first, because a server that failed may be avoided for a while (the
 * next request could then get 503 instead of 502).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');

const h = require('./harness');

const T = { timeout: 20000 };

/* Listens with a backlog of one and never accepts: its event loop is
 * blocked until it gives up, so the kernel alone completes handshakes
 * until the accept queue is full. */
const SILENT_LISTENER = `
const srv = require('node:net').createServer();
srv.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
	process.stdout.write(srv.address().port + '\\n');
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
	process.exit(0);
});
`;

/* Resolves to 'connect', 'error' or 'timeout', whichever comes first. */
function connectOutcome(sock, ms) {
	return new Promise((resolve) => {
		const timer = setTimeout(() => resolve('timeout'), ms);
		sock.once('connect', () => {
			clearTimeout(timer);
			resolve('connect');
		});
		sock.once('error', () => {
			clearTimeout(timer);
			resolve('error');
		});
	});
}

/*
 * A port on 127.0.0.1 where a connect neither succeeds nor fails: the
 * silent listener's accept queue is filled from here, and Linux then
 * drops further SYNs instead of refusing them.  Resolves once a connect
 * has been seen to hang; the listener and the held connections go when
 * t ends.
 */
async function unansweredPort(t) {
	const child = spawn(process.execPath, ['-e', SILENT_LISTENER],
	    { stdio: ['ignore', 'pipe', 'ignore'] });
	const held = [];

	t.after(() => {
		for (const s of held) {
			s.destroy();
		}
		child.kill('SIGKILL');
	});
	const port = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the silent ' +
		    'listener printed no port')), 5000);
		child.stdout.once('data', (d) => {
			clearTimeout(timer);
			resolve(Number(String(d).trim()));
		});
	});
	for (let i = 0; i < 8; i++) {
		const sock = net.connect({ port, host: '127.0.0.1' });
		const outcome = await connectOutcome(sock, 300);

		held.push(sock);
		sock.on('error', () => {});
		if (outcome === 'timeout') {
			return port;
		}
		assert.equal(outcome, 'connect', `filler ${i} was refused`);
	}
	throw new Error('the accept queue never filled: connects to a full ' +
	    'listener do not hang on this system');
}

async function refusedProxy(t) {
	const port = await h.closedPort();

	return h.startProxy(['-u', `http://127.0.0.1:${port}`], { t });
}

/* A config for upstream with one timeout set, allowing the development
 * origins with credentials. */
function timeoutConfig(t, upstream, timeout) {
	return h.writeConfig(h.tempDir(t), `
upstream: ${upstream}
timeouts: { ${timeout} }
policies:
  - name: dev
    origins: ["http://localhost:*"]
    allow_credentials: true
`);
}

function assertJsonError(res, status) {
	assert.equal(res.status, status, res.statusLine);
	assert.match(h.getHeader(res, 'content-type') || '',
	    /^application\/json\b/);
	const body = JSON.parse(res.body.toString('utf8'));
	assert.equal(body.status, status);
	assert.equal(typeof body.error, 'string');
	assert.ok(body.error.length > 0);
	return body;
}

test('answers 502 with a JSON body when the upstream refuses', T,
    async (t) => {
	const proxy = await refusedProxy(t);
	const res = await h.request(proxy.port, { target: '/echo/refused' });

	assertJsonError(res, 502);
	assert.equal(h.getHeaders(res, 'access-control-allow-origin').length, 0);
});

test('a 502 carries the CORS headers of an allowed origin', T, async (t) => {
	const proxy = await refusedProxy(t);
	const res = await h.request(proxy.port, { target: '/echo/refused',
	    headers: [['Origin', h.DEV_ORIGIN]] });

	assertJsonError(res, 502);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [h.DEV_ORIGIN]);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-credentials'),
	    ['true']);
});

test('a 502 carries no CORS headers for a denied origin', T, async (t) => {
	const proxy = await refusedProxy(t);
	const res = await h.request(proxy.port, { target: '/echo/refused',
	    headers: [['Origin', h.EVIL_ORIGIN]] });

	assertJsonError(res, 502);
	assert.equal(h.getHeaders(res, 'access-control-allow-origin').length, 0);
	assert.equal(h.getHeaders(res, 'access-control-allow-credentials')
	    .length, 0);
});

test('keeps answering after an upstream refused', T, async (t) => {
	const proxy = await refusedProxy(t);

	for (let i = 0; i < 3; i++) {
		const res = await h.request(proxy.port,
		    { target: `/echo/refused/${i}` });
		/* 502 while it retries, 503 once the only server is being
		 * avoided: both are answers, and JSON. */
		assert.ok(res.status === 502 || res.status === 503,
		    `request ${i}: ${res.statusLine}`);
		assertJsonError(res, res.status);
	}
	assert.equal(proxy.exitInfo, null);
});

test('answers 504 with JSON and CORS when the upstream is too slow', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const file = timeoutConfig(t, backend.url, 'upstream_read: 300ms');
	const proxy = await h.startProxy(['-c', file], { t });
	const start = Date.now();
	const res = await h.request(proxy.port, { target: '/slow?ms=3000',
	    headers: [['Origin', h.DEV_ORIGIN]] });
	const took = Date.now() - start;

	assertJsonError(res, 504);
	assert.ok(took < 2500, `504 came after ${took} ms`);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [h.DEV_ORIGIN]);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-credentials'),
	    ['true']);

	/* One slow response does not take the server out of service. */
	const next = await h.request(proxy.port, { target: '/echo/after-504' });
	assert.equal(next.status, 200, next.statusLine);
});

test('answers 502 with JSON and CORS when the upstream does not answer ' +
    'within upstream_connect', T, async (t) => {
	const port = await unansweredPort(t);
	const file = timeoutConfig(t, `http://127.0.0.1:${port}`,
	    'upstream_connect: 300ms');
	const proxy = await h.startProxy(['-c', file], { t });
	const start = Date.now();
	const res = await h.request(proxy.port, { target: '/echo/unanswered',
	    headers: [['Origin', h.DEV_ORIGIN]] });
	const took = Date.now() - start;

	/* Unreachable, not slow: 502, and only once the 300 ms ran out. */
	const body = h.assertProxyError(res, 502, { origin: h.DEV_ORIGIN });
	assert.match(body.message, /connect timed out/, body.message);
	assert.ok(took >= 250 && took < 2000, `502 came after ${took} ms`);
	assert.equal(proxy.exitInfo, null);
});

test('a response cut short upstream ends the client connection without ' +
    'a complete body', T, async (t) => {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url], { t });
	const start = Date.now();
	let outcome;

	try {
		const res = await h.request(proxy.port, { target: '/cut',
		    timeoutMs: 5000 });
		outcome = { complete: res };
	} catch (e) {
		outcome = { error: e };
	}
	const took = Date.now() - start;

	assert.ok(took < 5000, `took ${took} ms`);
	if (outcome.error) {
		/* The usual case: headers and the 10 bytes went out, then
		 * the connection ended short of Content-Length or of the
		 * last chunk. */
		assert.equal(outcome.error.code, 'INCOMPLETE',
		    outcome.error.message);
	} else {
		/* Acceptable only if nothing had been sent yet: then a 502
		 * is the honest answer.  A complete 200 is a lie. */
		const res = outcome.complete;
		assert.equal(res.status, 502,
		    `a cut-short response arrived as complete: ` +
		    `${res.statusLine} ${JSON.stringify(res.headers)} ` +
		    `${res.body.length} bytes`);
	}

	const next = await h.request(proxy.port, { target: '/echo/after-cut' });
	assert.equal(next.status, 200, next.statusLine);
});
