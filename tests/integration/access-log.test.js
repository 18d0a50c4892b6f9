'use strict';
/*
 * The access log on stderr: one line per finished request, as text or
 * as JSON, naming the time (ISO 8601, UTC), client, method, target,
 * status, bytes, duration, origin and decision, with every
 * client-controlled value escaped so no request can forge, split or
 * colour a log line.
 *
 * The field order is the text format's business; these tests look for
 * each field, but are strict about line counts and raw bytes.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./harness');

const T = { timeout: 20000 };

async function setup(t) {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url], { t });

	return { backend, proxy };
}

function marker() {
	return 'log' + crypto.randomBytes(6).toString('hex');
}

/* Lines of the access log that mention id: error-log lines ("TIME
 * LEVEL: message") are left out, they may quote the same request. */
function accessLines(proxy, id) {
	return proxy.stderr().split('\n').filter((l) => l.includes(id) &&
	    !/^\S+ (error|warn|info|debug): /.test(l));
}

async function waitLines(proxy, id, n = 1) {
	await h.waitFor(() => accessLines(proxy, id).length >= n, 3000,
	    `${n} access-log line(s) with ${id}`);
	/* A second line for the same request would come at once. */
	await h.sleep(100);
	return accessLines(proxy, id);
}

test('logs one line per request with client, method, target, status, ' +
    'bytes, duration, origin and decision', T, async (t) => {
	const { proxy } = await setup(t);
	const id = marker();
	const target = `/big?bytes=4321&id=${id}`;
	const res = await h.request(proxy.port, { target,
	    headers: [['Origin', h.DEV_ORIGIN]] });

	assert.equal(res.status, 200);
	assert.equal(res.body.length, 4321);
	const lines = await waitLines(proxy, id);
	assert.equal(lines.length, 1, lines.join('\n'));
	const line = lines[0];
	assert.ok(line.includes(target), line);
	/* The rest, without the target (which also says 4321). */
	const rest = line.replace(target, ' ');
	assert.match(rest, /\b127\.0\.0\.1\b/);
	assert.match(rest, /\bGET\b/);
	assert.match(rest, /(^|[\s=])200\b/);
	assert.match(rest, /(^|[\s=])4321\b/, 'body bytes not logged');
	assert.match(rest, /\b\d+(\.\d+)?\s?(ms|us|µs|s)\b|duration/);
	assert.ok(rest.includes(h.DEV_ORIGIN), line);
	assert.match(rest, /\ballowed\b/);
});

test('logs a denied preflight with its decision', T, async (t) => {
	const { proxy } = await setup(t);
	const id = marker();
	const res = await h.request(proxy.port, { method: 'OPTIONS',
	    target: `/echo/${id}`, headers: [['Origin', h.EVIL_ORIGIN],
	    ['Access-Control-Request-Method', 'PUT']] });

	assert.equal(res.status, 403);
	const lines = await waitLines(proxy, id);
	assert.equal(lines.length, 1, lines.join('\n'));
	assert.match(lines[0], /\bOPTIONS\b/);
	assert.match(lines[0], /(^|[\s=])403\b/);
	assert.ok(lines[0].includes(h.EVIL_ORIGIN), lines[0]);
	assert.match(lines[0], /\bdenied\b/);
});

test('writes exactly one line for each of several requests', T,
    async (t) => {
	const { proxy } = await setup(t);
	const conn = await h.RawConnection.connect(proxy.port);
	const ids = [marker(), marker(), marker(), marker(), marker()];

	t.after(() => conn.close());
	for (const id of ids) {
		await conn.write(h.buildRequest({ target: `/echo/${id}` }));
		assert.equal((await conn.readResponse()).status, 200);
	}
	for (const id of ids) {
		const lines = await waitLines(proxy, id);
		assert.equal(lines.length, 1, `${id}: ${lines.join('\n')}`);
	}
});

test('escapes a quote in the logged target', T, async (t) => {
	const { proxy } = await setup(t);
	const id = marker();
	const res = await h.request(proxy.port,
	    { target: `/echo/${id}?q="x"` });

	assert.ok(res.status === 200 || res.status === 400, res.statusLine);
	const lines = await waitLines(proxy, id);
	assert.equal(lines.length, 1, lines.join('\n'));
	assert.ok(!lines[0].includes('q="x"'),
	    `raw quote in the log: ${lines[0]}`);
	assert.match(lines[0], /q=(\\"|%22|\\x22)x(\\"|%22|\\x22)/);
});

test('escapes control and non-ASCII bytes in logged headers so no line ' +
    'is split or coloured', T, async (t) => {
	const { proxy } = await setup(t);
	const id = marker();
	/* ESC [2J clears a terminal; DEL; a UTF-8 NEL (C2 85); a vertical
	 * tab.  Raw bytes on the wire, as an attacker would send them. */
	const hostile = 'http://localhost:8000\x1b[2J\x7f\xc2\x85\x0bend';
	const res = await h.request(proxy.port, { target: `/echo/${id}`,
	    headers: [['Origin', hostile],
	    ['User-Agent', 'ua\x1b]0;title\x07']] });

	assert.ok(res.status === 200 || res.status === 400, res.statusLine);
	const lines = await waitLines(proxy, id);
	assert.equal(lines.length, 1, lines.join('\n'));
	const raw = proxy.stderrBytes();
	for (const b of [0x1b, 0x7f, 0x85, 0x0b, 0x07]) {
		assert.equal(raw.indexOf(b), -1,
		    `raw byte 0x${b.toString(16)} reached stderr`);
	}
	if (res.status === 200) {
		/* The origin was logged, escaped. */
		assert.match(lines[0], /\\x1b|\\u001b|\\e/i, lines[0]);
	}
});

test('logs a request the proxy rejects with 413', T, async (t) => {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
limits: { body_bytes: 1KiB }
`);
	const proxy = await h.startProxy(['-c', file], { t });
	const id = marker();
	const res = await h.request(proxy.port, { method: 'POST',
	    target: `/echo/${id}`, body: Buffer.alloc(2048, 0x41) });

	assert.equal(res.status, 413, res.statusLine);
	const lines = await waitLines(proxy, id);
	assert.equal(lines.length, 1, lines.join('\n'));
	assert.match(lines[0], /\bPOST\b/);
	assert.match(lines[0], /(^|[\s=])413\b/);
	assert.equal(backend.stats.requests, 0);
});

/* An access-log time: ISO 8601 in UTC with milliseconds, between the
 * moments just before the request and just after its line was read.
 * The proxy runs in a zone far from UTC, so local time would show. */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const FAR_ZONE = { TZ: 'Asia/Kathmandu' };

function assertTimeNear(time, t0, t1) {
	assert.match(time, ISO_UTC);
	const ms = Date.parse(time);
	/* The log's clock truncates to the millisecond; allow a second
	 * either way for the two processes' reads of it. */
	assert.ok(ms >= t0 - 1000 && ms <= t1 + 1000,
	    `logged ${time}, the request ran from ` +
	    `${new Date(t0).toISOString()} to ${new Date(t1).toISOString()}`);
}

test('a text access-log line starts with the time in ISO 8601 UTC', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url],
	    { t, env: FAR_ZONE });
	const id = marker();
	const t0 = Date.now();
	const res = await h.request(proxy.port, { target: `/echo/${id}` });

	assert.equal(res.status, 200);
	const lines = await waitLines(proxy, id);
	const t1 = Date.now();
	assert.equal(lines.length, 1, lines.join('\n'));
	assertTimeNear(lines[0].split(' ')[0], t0, t1);
});

test('a JSON access-log line carries the time in ISO 8601 UTC', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
log: { format: json }
`);
	const proxy = await h.startProxy(['-c', file], { t, env: FAR_ZONE });
	const id = marker();
	const t0 = Date.now();
	const res = await h.request(proxy.port, { target: `/echo/${id}` });

	assert.equal(res.status, 200);
	const lines = await waitLines(proxy, id);
	const t1 = Date.now();
	assert.equal(lines.length, 1, lines.join('\n'));
	const entry = JSON.parse(lines[0]);
	assert.equal(entry.target, `/echo/${id}`);
	assert.equal(typeof entry.time, 'string', lines[0]);
	assertTimeNear(entry.time, t0, t1);
});
