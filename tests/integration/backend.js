'use strict';
/*
 * A real HTTP/1.1 backend for the integration tests, listening on
 * 127.0.0.1 on a port the OS picks.  It runs inside the test process so
 * a test can read what it saw: requests per path, the TCP connections
 * that carried them (upstream keep-alive shows as few sockets), and how
 * far a large download got (backpressure shows as a writer that stalls).
 *
 * Endpoints:
 *   /echo...            JSON of the request as received: method, target
 *                       exactly as on the request line, raw headers in
 *                       order, body (base64), body length
 *   /status/NNN         that status; ?reason= sets the reason phrase,
 *                       ?location= a Location header, ?body= a body
 *   /big?bytes=N        N bytes of PATTERN, Content-Length, written
 *                       with backpressure respected
 *   /chunked            a chunked response in several chunks
 *   /sse?count=N        text/event-stream, "data: n\n\n" every 100 ms
 *   /slow?ms=N          headers only after N ms
 *   /cut                Content-Length: 1000, 10 bytes, then a reset
 *   /cors-own           the backend's own Access-Control-* headers
 *   /cookies            two Set-Cookie headers
 *   /hop                every hop-by-hop response header, chunked
 *   /headers-raw?h=N:V  the given headers, in order, repeats allowed
 *   /untyped            a body and no Content-Type; ?chunked=1 sends it
 *                       chunked instead of with a Content-Length
 */
const http = require('node:http');
const crypto = require('node:crypto');

/*
 * The download pattern: byte i is i mod 251.  A prime period means a
 * lost or repeated block shows up as a mismatch unless it is a multiple
 * of 251 bytes long, and the exact length check catches those.
 */
const PATTERN_PERIOD = 251;
const PATTERN = Buffer.alloc(PATTERN_PERIOD * 261);	/* ~64 KiB */
for (let i = 0; i < PATTERN.length; i++) {
	PATTERN[i] = i % PATTERN_PERIOD;
}

/* Returns a checker that verifies a stream against PATTERN chunk by
 * chunk without keeping it: feed(buf), then .count and .ok. */
function patternChecker() {
	const st = { count: 0, ok: true, firstBad: -1 };

	st.feed = (buf) => {
		let off = 0;

		while (off < buf.length && st.ok) {
			const phase = (st.count + off) % PATTERN_PERIOD;
			const n = Math.min(buf.length - off,
			    PATTERN.length - phase);
			if (buf.compare(PATTERN, phase, phase + n, off,
			    off + n) !== 0) {
				st.ok = false;
				st.firstBad = st.count + off;
			}
			off += n;
		}
		st.count += buf.length;
	};
	return st;
}

function pairs(raw) {
	const out = [];

	for (let i = 0; i < raw.length; i += 2) {
		out.push([raw[i], raw[i + 1]]);
	}
	return out;
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];

		req.on('data', (c) => chunks.push(c));
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

async function startBackend(opts = {}) {
	const stats = {
		requests: 0,			/* every request seen */
		byPath: new Map(),		/* pathname -> count */
		connections: 0,			/* TCP connections accepted */
		log: [],			/* { path, url, method, socketId } */
		big: [],			/* { bytes, written, done, aborted } */
	};
	const sockets = new Set();
	let nextSocketId = 1;
	const server = http.createServer({
		keepAliveTimeout: 30000,
		requestTimeout: 0,
		headersTimeout: 20000,
	});

	server.on('connection', (sock) => {
		sock.testId = nextSocketId++;
		stats.connections++;
		sockets.add(sock);
		sock.on('close', () => sockets.delete(sock));
	});
	server.on('request', (req, res) => {
		handle(req, res, stats, opts).catch((err) => {
			if (!res.headersSent) {
				res.writeHead(599, 'Backend Broke');
				res.end(String(err && err.stack));
			} else {
				res.destroy();
			}
		});
	});
	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});

	const port = server.address().port;
	const backend = {
		port,
		url: `http://127.0.0.1:${port}`,
		stats,
		name: opts.name || 'backend',
		count(path) {
			return stats.byPath.get(path) || 0;
		},
		/* Distinct TCP connections that carried requests whose
		 * path starts with prefix. */
		socketsUsed(prefix = '/') {
			const ids = new Set();

			for (const e of stats.log) {
				if (e.path.startsWith(prefix)) {
					ids.add(e.socketId);
				}
			}
			return ids.size;
		},
		async close() {
			for (const s of sockets) {
				s.destroy();
			}
			await new Promise((r) => server.close(() => r()));
		},
	};
	return backend;
}

async function handle(req, res, stats, opts) {
	const u = new URL(req.url, 'http://backend.invalid');
	const path = u.pathname;
	const q = u.searchParams;

	stats.requests++;
	stats.byPath.set(path, (stats.byPath.get(path) || 0) + 1);
	stats.log.push({ path, url: req.url, method: req.method,
	    socketId: req.socket.testId });

	if (path.startsWith('/echo')) {
		const body = await readBody(req);
		const out = JSON.stringify({
			backend: opts.name || 'backend',
			method: req.method,
			url: req.url,
			httpVersion: req.httpVersion,
			rawHeaders: pairs(req.rawHeaders),
			bodyBase64: body.toString('base64'),
			bodyLength: body.length,
			bodySha256: crypto.createHash('sha256').update(body)
			    .digest('hex'),
			socketId: req.socket.testId,
			remoteAddress: req.socket.remoteAddress,
		});
		res.writeHead(200, {
			'Content-Type': 'application/json',
			'Content-Length': Buffer.byteLength(out),
		});
		res.end(out);
		return;
	}

	await readBody(req);

	if (path.startsWith('/status/')) {
		const code = Number(path.slice('/status/'.length));
		const headers = [];
		const body = (code === 204 || code === 304 ||
		    req.method === 'HEAD') ? '' :
		    (q.get('body') ?? `status ${code}\n`);

		if (q.has('location')) {
			headers.push('Location', q.get('location'));
		}
		if (code === 304) {
			headers.push('ETag', '"v1"');
		}
		if (code !== 204 && code !== 304) {
			headers.push('Content-Type', 'text/plain');
			headers.push('Content-Length',
			    String(Buffer.byteLength(body)));
		}
		if (q.has('reason')) {
			res.writeHead(code, q.get('reason'), headers);
		} else {
			res.writeHead(code, headers);
		}
		res.end(body);
		return;
	}

	if (path === '/big') {
		await sendBig(req, res, stats, Number(q.get('bytes') || 0));
		return;
	}

	if (path === '/chunked') {
		const parts = ['first chunk\n', 'second, longer chunk\n',
		    'x'.repeat(5000) + '\n', 'last\n'];

		res.writeHead(200, { 'Content-Type': 'text/plain' });
		for (const p of parts) {
			res.write(p);
			await sleep(20);
		}
		res.end();
		return;
	}

	if (path === '/sse') {
		const count = Number(q.get('count') || 10);
		let closed = false;

		res.on('close', () => { closed = true; });
		res.writeHead(200, {
			'Content-Type': 'text/event-stream',
			'Cache-Control': 'no-cache',
		});
		res.flushHeaders();
		for (let n = 1; n <= count && !closed; n++) {
			res.write(`data: ${n}\n\n`);
			await sleep(100);
		}
		res.end();
		return;
	}

	if (path === '/slow') {
		const ms = Number(q.get('ms') || 1000);
		let closed = false;

		res.on('close', () => { closed = true; });
		await sleep(ms);
		if (closed) {
			return;
		}
		res.writeHead(200, { 'Content-Type': 'text/plain',
		    'Content-Length': '5' });
		res.end('slow\n');
		return;
	}

	if (path === '/cut') {
		res.writeHead(200, { 'Content-Type': 'text/plain',
		    'Content-Length': '1000' });
		res.write('0123456789');
		await sleep(50);
		res.socket.destroy();
		return;
	}

	if (path === '/cors-own') {
		const body = 'cors-own\n';

		res.writeHead(200, [
			'Content-Type', 'text/plain',
			'Access-Control-Allow-Origin', '*',
			'Access-Control-Allow-Credentials', 'true',
			'Access-Control-Expose-Headers', 'X-Backend',
			'X-Backend', 'yes',
			'Vary', 'Accept-Encoding',
			'Content-Length', String(body.length),
		]);
		res.end(body);
		return;
	}

	if (path === '/cookies') {
		const body = 'cookies\n';

		res.writeHead(200, [
			'Set-Cookie', 'a=1; Path=/',
			'Content-Type', 'text/plain',
			'Set-Cookie', 'b=2; Path=/; HttpOnly',
			'Content-Length', String(body.length),
		]);
		res.end(body);
		return;
	}

	if (path === '/hop') {
		/* Every hop-by-hop response header, two Connection lines
		 * naming two custom ones.  Node refuses Trailer beside a
		 * Content-Length, so the body is chunked, with a trailer. */
		res.writeHead(200, [
			'Connection', 'x-hop',
			'X-Hop', '1',
			'Keep-Alive', 'timeout=5',
			'Proxy-Connection', 'keep-alive',
			'TE', 'trailers',
			'Trailer', 'X-Checksum',
			'Upgrade', 'h2c',
			'Proxy-Authorization', 'Basic dXNlcjpwYXNz',
			'Connection', 'X-Hop-Two',
			'X-Hop-Two', '2',
			'X-Normal', 'yes',
			'Content-Type', 'text/plain',
		]);
		res.addTrailers({ 'X-Checksum': 'hop' });
		res.end('hop\n');
		return;
	}

	if (path === '/headers-raw') {
		const flat = [];
		const body = q.get('body') ?? 'headers-raw\n';

		for (const h of q.getAll('h')) {
			const i = h.indexOf(':');
			flat.push(h.slice(0, i), h.slice(i + 1));
		}
		flat.push('Content-Length', String(Buffer.byteLength(body)));
		res.writeHead(Number(q.get('status') || 200), flat);
		res.end(body);
		return;
	}

	if (path === '/untyped') {
		const body = 'no type\n';

		/* Node adds no Content-Type of its own. */
		if (q.get('chunked') === '1') {
			res.writeHead(200, []);
			res.write(body);
			await sleep(20);
			res.end(body);
		} else {
			res.writeHead(200, ['Content-Length',
			    String(Buffer.byteLength(body))]);
			res.end(body);
		}
		return;
	}

	res.writeHead(404, { 'Content-Type': 'text/plain',
	    'Content-Length': '10' });
	res.end('not found\n');
}

/*
 * Writes n bytes of PATTERN and waits for 'drain' whenever the socket
 * says its buffer is full, so rec.written is what the kernel (and at
 * most one chunk of Node's buffer) accepted: a stalled reader further
 * down stalls it.
 */
async function sendBig(req, res, stats, n) {
	const rec = { bytes: n, written: 0, done: false, aborted: false };
	let closed = false;

	stats.big.push(rec);
	res.on('close', () => {
		closed = true;
		rec.aborted = !rec.done;
	});
	res.writeHead(200, { 'Content-Type': 'application/octet-stream',
	    'Content-Length': String(n) });
	if (req.method === 'HEAD') {
		rec.done = true;
		res.end();
		return;
	}
	while (rec.written < n && !closed) {
		const phase = rec.written % PATTERN_PERIOD;
		const len = Math.min(n - rec.written, PATTERN.length - phase);
		const ok = res.write(PATTERN.subarray(phase, phase + len));

		rec.written += len;
		if (!ok && !closed) {
			await new Promise((resolve) => {
				const done = () => {
					res.off('drain', done);
					res.off('close', done);
					resolve();
				};
				res.on('drain', done);
				res.on('close', done);
			});
		}
	}
	if (!closed) {
		rec.done = true;
		res.end();
	}
}

module.exports = { startBackend, patternChecker, PATTERN, PATTERN_PERIOD };
