'use strict';
/*
 * Streaming: responses pass through as they come, not after they end,
 * and in bounded memory whatever their size or the client's speed.
 *
 * The memory bounds are measured as the summed VmRSS of the proxy's
 * process group (master and workers).  Under a sanitizer
 * (CORSPROXY_SANITIZER set) only those RSS assertions are skipped,
 * because ASan's shadow memory and quarantine inflate RSS by more than
 * the bound; the transfers and the backpressure bound on the backend
 * are still checked.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const h = require('./harness');
const { patternChecker } = require('./backend');

const MiB = 1024 * 1024;
const BIG = 256 * MiB;
const RSS_GROWTH_MAX = 64 * MiB;
const T = { timeout: 30000 };

async function setup(t) {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url], { t });

	return { backend, proxy };
}

/* Warms the worker up (first request, pool, buffers) and returns its
 * RSS afterwards as the baseline for growth. */
async function baselineRss(proxy) {
	const res = await h.request(proxy.port, { target: `/big?bytes=${MiB}` });

	assert.equal(res.body.length, MiB);
	return h.proxyRss(proxy);
}

/* Consumes res, checking every byte against the backend's pattern. */
function drain(res, timeoutMs) {
	const check = patternChecker();

	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			res.destroy();
			reject(new Error(`download stalled at ${check.count} ` +
			    'bytes'));
		}, timeoutMs);
		res.on('data', (c) => check.feed(c));
		res.on('end', () => { clearTimeout(timer); resolve(check); });
		res.on('error', (e) => { clearTimeout(timer); reject(e); });
		res.on('aborted', () => {
			clearTimeout(timer);
			reject(new Error(`download aborted at ${check.count}`));
		});
	});
}

test('delivers Server-Sent Events one by one as they are sent',
    { timeout: 20000 }, async (t) => {
	const { proxy } = await setup(t);
	const start = Date.now();
	const res = await h.streamGet(t, proxy.port, '/sse?count=20',
	    { Origin: h.DEV_ORIGIN });
	const arrivals = [];
	let text = '';

	assert.equal(res.statusCode, 200);
	assert.match(res.headers['content-type'], /^text\/event-stream/);
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
		    `stream incomplete after 10 s: ${JSON.stringify(text)}`)),
		    10000);
		res.setEncoding('utf8');
		res.on('data', (c) => {
			text += c;
			for (;;) {
				const i = text.indexOf('\n\n');
				if (i < 0) {
					break;
				}
				arrivals.push({ ev: text.slice(0, i),
				    at: Date.now() - start });
				text = text.slice(i + 2);
			}
		});
		res.on('end', () => { clearTimeout(timer); resolve(); });
		res.on('error', reject);
	});
	const end = Date.now() - start;

	assert.deepEqual(arrivals.map((a) => a.ev),
	    Array.from({ length: 20 }, (_, i) => `data: ${i + 1}`));
	assert.ok(end >= 1800, `the stream took only ${end} ms`);
	assert.ok(arrivals[0].at < 1000,
	    `first event after ${arrivals[0].at} ms`);
	assert.ok(arrivals[0].at < end - 1000,
	    `first event at ${arrivals[0].at} ms, stream ended at ${end} ms`);
	assert.ok(arrivals[9].at < end - 500,
	    `tenth event at ${arrivals[9].at} ms, stream ended at ${end} ms`);
});

test('downloads 256 MiB complete in bounded memory', { timeout: 90000 },
    async (t) => {
	const { backend, proxy } = await setup(t);
	const base = await baselineRss(proxy);
	const sampler = h.rssSampler(proxy);

	t.after(() => sampler.stop());
	const res = await h.streamGet(t, proxy.port, `/big?bytes=${BIG}`);
	assert.equal(res.statusCode, 200);
	const check = await drain(res, 80000);
	const max = sampler.stop();

	assert.equal(check.count, BIG);
	assert.ok(check.ok, `pattern broken at byte ${check.firstBad}`);
	assert.ok(backend.stats.big.at(-1).done);
	if (!h.SANITIZER) {
		assert.ok(max - base < RSS_GROWTH_MAX,
		    `proxy RSS grew by ${((max - base) / MiB).toFixed(1)} MiB ` +
		    `(from ${(base / MiB).toFixed(1)} MiB)`);
	}
});

test('a client that stops reading stalls the upstream instead of ' +
    'filling memory', { timeout: 90000 }, async (t) => {
	const { backend, proxy } = await setup(t);
	const base = await baselineRss(proxy);
	const sampler = h.rssSampler(proxy);

	t.after(() => sampler.stop());
	/* node:http stops reading the socket once the unconsumed response
	 * fills its small buffer, so the proxy sees a client that reads
	 * nothing. */
	const res = await h.streamGet(t, proxy.port, `/big?bytes=${BIG}`);
	assert.equal(res.statusCode, 200);
	await h.sleep(2000);

	const rec = backend.stats.big.at(-1);
	const stalledAt = rec.written;
	const maxPaused = sampler.max;

	assert.equal(rec.bytes, BIG);
	assert.ok(!rec.done, 'the backend wrote all 256 MiB to a client ' +
	    'that read nothing');
	assert.ok(stalledAt < 64 * MiB, `the backend wrote ` +
	    `${(stalledAt / MiB).toFixed(1)} MiB to a client that read nothing`);
	if (!h.SANITIZER) {
		assert.ok(maxPaused - base < RSS_GROWTH_MAX,
		    `proxy RSS grew by ${((maxPaused - base) / MiB).toFixed(1)}` +
		    ' MiB while the client read nothing');
	}

	/* The stalled stream resumes and completes. */
	const check = await drain(res, 80000);
	const max = sampler.stop();

	assert.equal(check.count, BIG);
	assert.ok(check.ok, `pattern broken at byte ${check.firstBad}`);
	if (!h.SANITIZER) {
		assert.ok(max - base < RSS_GROWTH_MAX,
		    `proxy RSS grew by ${((max - base) / MiB).toFixed(1)} MiB`);
	}
});

/* Clients that hang up in the middle of large downloads: the upstream
 * connection is dropped with them, mid-read, and nothing of theirs is
 * touched afterwards (the sanitizer build turns a slip into a failure
 * here), and the proxy goes on serving. */
test('clients hanging up mid-download leave the proxy serving', T,
    async (t) => {
	const { proxy } = await setup(t);

	for (let i = 0; i < 20; i++) {
		const res = await h.streamGet(t, proxy.port,
		    `/big?bytes=${64 * MiB}`);
		await new Promise((resolve) => {
			let got = 0;

			res.on('data', (c) => {
				got += c.length;
				if (got > (i % 4 + 1) * 256 * 1024) {
					res.destroy();
					resolve();
				}
			});
			res.on('close', resolve);
		});
	}
	const res = await h.request(proxy.port, { target: '/big?bytes=1024' });
	assert.equal(res.status, 200);
	assert.equal(res.body.length, 1024);
	assert.equal(proxy.exitInfo, null, 'the proxy exited');
});
