'use strict';
/*
 * What the integration tests share: starting the real corsproxy binary
 * (CORSPROXY_BIN) and stopping it whatever happens, a raw HTTP/1.1
 * client over node:net that keeps every byte and every header line as
 * sent, temporary config files, and reading a process's memory use.
 *
 * Every proxy is started in its own process group, so stopping it also
 * stops any worker processes it forked.  Stopping is SIGTERM, a short
 * grace, then SIGKILL; a process still alive when the test process
 * exits is killed from an exit hook, so no test leaves one behind.
 */
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const { startBackend } = require('./backend');

const START_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 1000;
const RESPONSE_TIMEOUT_MS = 10000;

/* Dev-default origins a browser on localhost would send. */
const DEV_ORIGIN = 'http://localhost:8000';
const EVIL_ORIGIN = 'https://evil.example';

/* Skip only memory assertions under ASan, which inflates RSS. */
const SANITIZER = Boolean(process.env.CORSPROXY_SANITIZER);

const live = new Set();		/* process group ids still running */

process.on('exit', () => {
	for (const pgid of live) {
		try {
			process.kill(-pgid, 'SIGKILL');
		} catch (e) {
			/* already gone */
		}
	}
});

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/* Polls fn until it returns a truthy value or timeoutMs passes; returns
 * the value, or throws with what it was waiting for. */
async function waitFor(fn, timeoutMs, what = 'condition', intervalMs = 20) {
	const end = Date.now() + timeoutMs;

	for (;;) {
		const v = await fn();
		if (v) {
			return v;
		}
		if (Date.now() > end) {
			throw new Error(`timed out after ${timeoutMs} ms ` +
			    `waiting for ${what}`);
		}
		await sleep(intervalMs);
	}
}

function binPath() {
	const bin = process.env.CORSPROXY_BIN;

	if (!bin) {
		throw new Error('CORSPROXY_BIN is not set: point it at ' +
		    'the built corsproxy binary');
	}
	return bin;
}

function sourceRoot() {
	return process.env.CORSPROXY_SOURCE ||
	    path.resolve(__dirname, '..', '..');
}

function hasFlag(args, short, long) {
	return args.some((a) => a === short || a === long ||
	    a.startsWith(long + '='));
}

/* Parses the "listening on URL, URL; ..." part of the start-up line. */
function parseListening(line) {
	const m = /listening on ([^;\n]*)/.exec(line);
	const out = [];

	if (!m) {
		return null;
	}
	for (const part of m[1].split(/,\s*/)) {
		const u = /^(https?):\/\/(\[[^\]]+\]|[^:\s,;/]+):(\d+)/
		    .exec(part.trim());
		if (u) {
			out.push({ scheme: u[1],
			    host: u[2].replace(/^\[|\]$/g, ''),
			    hostText: u[2], port: Number(u[3]) });
		}
	}
	return out.length ? out : null;
}

/*
 * Spawns corsproxy with args, adding "-l 127.0.0.1:0" unless args has
 * a -l (or opts.noListen), and "-w 1" unless args has a -w (or
 * opts.workers is null), so counts and memory are those of one worker.
 * Resolves once the start-up line names the listening address.  With
 * opts.t the proxy is stopped when that test ends, pass or fail.
 */
async function startProxy(args = [], opts = {}) {
	const extra = [];

	if (!opts.noListen && !hasFlag(args, '-l', '--listen')) {
		extra.push('-l', '127.0.0.1:0');
	}
	if (opts.workers !== null && !hasFlag(args, '-w', '--workers')) {
		extra.push('-w', String(opts.workers || 1));
	}

	const argv = [...extra, ...args];
	const proc = spawn(binPath(), argv, {
		cwd: opts.cwd || sourceRoot(),
		env: { ...process.env, ...(opts.env || {}) },
		stdio: ['ignore', 'pipe', 'pipe'],
		detached: true,
	});
	const errChunks = [];
	const outChunks = [];
	let exitInfo = null;

	live.add(proc.pid);
	const exited = new Promise((resolve) => {
		proc.on('exit', (code, signal) => {
			exitInfo = { code, signal };
			resolve(exitInfo);
		});
		proc.on('error', (err) => {
			exitInfo = { code: null, signal: null, error: err };
			resolve(exitInfo);
		});
	});
	proc.stderr.on('data', (c) => errChunks.push(c));
	proc.stdout.on('data', (c) => outChunks.push(c));

	const proxy = {
		proc,
		pid: proc.pid,
		argv,
		exited,
		get exitInfo() { return exitInfo; },
		/* stderr as latin1, so every byte maps to one char */
		stderr: () => Buffer.concat(errChunks).toString('latin1'),
		stderrBytes: () => Buffer.concat(errChunks),
		stdout: () => Buffer.concat(outChunks).toString('latin1'),
		stop: () => stopProxy(proxy),
	};
	if (opts.t) {
		opts.t.after(async () => {
			await proxy.stop();
			assertNoSanitizerReport(proxy);
		});
	}

	let addrs;
	try {
		addrs = await waitStartup(proxy);
	} catch (err) {
		await proxy.stop();
		throw err;
	}
	proxy.addresses = addrs.addresses;
	proxy.startLine = addrs.line;
	proxy.port = addrs.addresses[0].port;
	proxy.host = addrs.addresses[0].host;
	proxy.url = `http://${addrs.addresses[0].hostText}:${proxy.port}`;
	return proxy;
}

async function waitStartup(proxy) {
	const end = Date.now() + START_TIMEOUT_MS;

	for (;;) {
		const text = proxy.stderr();
		for (const line of text.split('\n')) {
			const a = parseListening(line);
			if (a) {
				return { line, addresses: a };
			}
		}
		if (proxy.exitInfo) {
			throw new Error(`corsproxy ${proxy.argv.join(' ')} ` +
			    `exited (${JSON.stringify(proxy.exitInfo)}) ` +
			    `before listening; stderr:\n${text}`);
		}
		if (Date.now() > end) {
			throw new Error(`corsproxy ${proxy.argv.join(' ')} ` +
			    `printed no "listening on" line within ` +
			    `${START_TIMEOUT_MS} ms; stderr:\n${text}`);
		}
		await sleep(10);
	}
}

/* A sanitizer build reports memory errors, leaks and undefined
 * behaviour on stderr and may carry on: such a report fails the test
 * that started the proxy. */
function assertNoSanitizerReport(proxy) {
	const text = proxy.stderr();
	const m = /(ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:)/
	    .exec(text);

	if (m) {
		throw new Error(`corsproxy reported "${m[1]}":\n` +
		    text.slice(Math.max(0, m.index - 200), m.index + 3000));
	}
}

async function stopProxy(proxy) {
	const pgid = proxy.pid;

	if (!proxy.exitInfo) {
		try {
			process.kill(-pgid, 'SIGTERM');
		} catch (e) {
			/* gone already */
		}
		await Promise.race([proxy.exited, sleep(STOP_GRACE_MS)]);
	}
	/* The group outlives its leader while workers remain: kill them
	 * too.  The kernel keeps the id reserved while the group exists. */
	try {
		process.kill(-pgid, 'SIGKILL');
	} catch (e) {
		/* no process left in the group */
	}
	await Promise.race([proxy.exited, sleep(2000)]);
	live.delete(pgid);
	return proxy.exitInfo;
}

/* Runs corsproxy to completion (--version, --check, bad flags). */
function runCli(args, opts = {}) {
	const timeout = opts.timeout || 10000;

	return new Promise((resolve) => {
		const proc = spawn(binPath(), args, {
			cwd: opts.cwd || sourceRoot(),
			env: { ...process.env, ...(opts.env || {}) },
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
		});
		const out = [];
		const err = [];
		let timedOut = false;

		live.add(proc.pid);
		const timer = setTimeout(() => {
			timedOut = true;
			try {
				process.kill(-proc.pid, 'SIGKILL');
			} catch (e) {
				/* gone */
			}
		}, timeout);
		proc.stdout.on('data', (c) => out.push(c));
		proc.stderr.on('data', (c) => err.push(c));
		proc.on('error', (e) => {
			clearTimeout(timer);
			live.delete(proc.pid);
			resolve({ code: null, signal: null, error: e,
			    stdout: '', stderr: String(e), timedOut });
		});
		proc.on('close', (code, signal) => {
			clearTimeout(timer);
			try {
				process.kill(-proc.pid, 'SIGKILL');
			} catch (e) {
				/* normal: nothing left */
			}
			live.delete(proc.pid);
			resolve({ code, signal, timedOut,
			    stdout: Buffer.concat(out).toString('utf8'),
			    stderr: Buffer.concat(err).toString('utf8') });
		});
	});
}

/* Starts a backend that is closed when test t ends. */
async function backendFor(t, opts) {
	const b = await startBackend(opts);

	t.after(() => b.close());
	return b;
}

/* A temporary directory removed when test t ends. */
function tempDir(t) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-it-'));

	t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
	return dir;
}

/* Writes yamlText to dir/name and returns the path. */
function writeConfig(dir, yamlText, name = 'proxy.yaml') {
	const file = path.join(dir, name);

	fs.writeFileSync(file, yamlText);
	return file;
}

/* A port on 127.0.0.1 that was free a moment ago and now refuses. */
async function closedPort() {
	const srv = net.createServer();

	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const port = srv.address().port;
	await new Promise((r) => srv.close(r));
	return port;
}

/* True when this machine can bind the IPv6 loopback. */
async function ipv6Loopback() {
	const srv = net.createServer();

	try {
		await new Promise((resolve, reject) => {
			srv.once('error', reject);
			srv.listen(0, '::1', resolve);
		});
		await new Promise((r) => srv.close(r));
		return true;
	} catch (e) {
		return false;
	}
}

/* ---- memory ---------------------------------------------------- */

/* VmRSS of pid in bytes, or 0 when it is gone. */
function readRss(pid) {
	try {
		const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
		const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
		return m ? Number(m[1]) * 1024 : 0;
	} catch (e) {
		return 0;
	}
}

/* Every live process whose process group is pgid: the proxy and its
 * workers. */
function groupPids(pgid) {
	const out = [];

	for (const name of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) {
			continue;
		}
		try {
			const st = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
			const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
			/* after the name: state ppid pgrp ... */
			if (Number(f[2]) === pgid) {
				out.push(Number(name));
			}
		} catch (e) {
			/* raced with an exit */
		}
	}
	return out;
}

/* The summed RSS of the proxy's process group. */
function proxyRss(proxy) {
	return groupPids(proxy.pid).reduce((sum, p) => sum + readRss(p), 0);
}

/* Samples proxyRss every intervalMs until stop(), which returns the
 * maximum seen. */
function rssSampler(proxy, intervalMs = 25) {
	const pids = groupPids(proxy.pid);
	let max = 0;
	const sample = () => {
		const v = pids.reduce((sum, p) => sum + readRss(p), 0);
		if (v > max) {
			max = v;
		}
	};
	sample();
	const timer = setInterval(sample, intervalMs);

	return {
		get max() { return max; },
		stop() {
			clearInterval(timer);
			sample();
			return max;
		},
	};
}

/* ---- the raw HTTP/1.1 client ----------------------------------- */

/*
 * Builds a request's bytes.  headers is a list of [name, value] pairs
 * sent in that order; Host comes first unless host is null; a body gets
 * a Content-Length unless the headers already frame it.
 */
function buildRequest({ method = 'GET', target = '/', host = 'proxy.test',
    headers = [], body = null, version = 'HTTP/1.1' } = {}) {
	const lines = [`${method} ${target} ${version}`];
	const framed = headers.some(([n]) =>
	    /^(content-length|transfer-encoding)$/i.test(n));

	if (host !== null) {
		lines.push(`Host: ${host}`);
	}
	for (const [n, v] of headers) {
		lines.push(`${n}: ${v}`);
	}
	if (body !== null && !framed) {
		lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
	}
	const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');

	return body === null ? head :
	    Buffer.concat([head, Buffer.isBuffer(body) ? body :
	    Buffer.from(body, 'latin1')]);
}

function incomplete(msg, partial, code = 'INCOMPLETE') {
	const e = new Error(msg);

	e.code = code;
	e.partial = partial;
	return e;
}

/*
 * One client connection.  readResponse() parses exactly one response
 * (skipping 1xx interim ones) with its framing: no body for HEAD, 1xx,
 * 204 and 304; chunked (chunk sizes and trailers kept); Content-Length;
 * or read until close.  Headers come back as [name, value] pairs in
 * the order received, duplicates kept.  A connection that ends before
 * the response is complete rejects with code INCOMPLETE and .partial.
 */
class RawConnection {
	constructor(sock) {
		this.sock = sock;
		this.buf = Buffer.alloc(0);
		this.ended = false;
		this.error = null;
		this.wake = null;
		sock.on('data', (c) => {
			this.buf = this.buf.length ?
			    Buffer.concat([this.buf, c]) : c;
			this._wake();
		});
		sock.on('end', () => { this.ended = true; this._wake(); });
		sock.on('close', () => { this.ended = true; this._wake(); });
		sock.on('error', (e) => {
			this.error = e;
			this.ended = true;
			this._wake();
		});
	}

	static connect(port, host = '127.0.0.1', timeoutMs = 5000) {
		return new Promise((resolve, reject) => {
			const sock = net.connect({ port, host });
			const timer = setTimeout(() => {
				sock.destroy();
				reject(new Error(`connect ${host}:${port} ` +
				    'timed out'));
			}, timeoutMs);
			sock.once('connect', () => {
				clearTimeout(timer);
				sock.setNoDelay(true);
				resolve(new RawConnection(sock));
			});
			sock.once('error', (e) => {
				clearTimeout(timer);
				reject(e);
			});
		});
	}

	write(bytes) {
		return new Promise((resolve, reject) => {
			this.sock.write(bytes, (e) => e ? reject(e) : resolve());
		});
	}

	close() {
		this.sock.destroy();
	}

	_wake() {
		if (this.wake) {
			const w = this.wake;
			this.wake = null;
			w();
		}
	}

	async _more(deadline, partial) {
		if (this.ended) {
			throw incomplete('connection closed before the ' +
			    'response was complete' +
			    (this.error ? ` (${this.error.code})` : ''),
			    partial);
		}
		const left = deadline - Date.now();
		if (left <= 0) {
			throw incomplete('response timed out', partial,
			    'TIMEOUT');
		}
		await new Promise((resolve) => {
			const timer = setTimeout(resolve, left);
			this.wake = () => { clearTimeout(timer); resolve(); };
		});
	}

	_take(n) {
		const out = this.buf.subarray(0, n);

		this.buf = this.buf.subarray(n);
		return Buffer.from(out);
	}

	async _until(delim, deadline, partial) {
		for (;;) {
			const i = this.buf.indexOf(delim, 0, 'latin1');
			if (i >= 0) {
				const out = this._take(i);
				this._take(delim.length);
				return out;
			}
			await this._more(deadline, partial);
		}
	}

	async _exactly(n, deadline, partial, sink) {
		while (n > 0) {
			if (this.buf.length === 0) {
				await this._more(deadline, partial);
				continue;
			}
			const k = Math.min(n, this.buf.length);
			sink.push(this._take(k));
			n -= k;
		}
	}

	async readResponse({ method = 'GET',
	    timeoutMs = RESPONSE_TIMEOUT_MS } = {}) {
		const deadline = Date.now() + timeoutMs;
		const res = { interim: [], headers: [], body: null,
		    chunked: false, chunkSizes: [], trailers: [] };
		const bodyParts = [];

		for (;;) {
			const head = await this._until('\r\n\r\n', deadline, res);
			parseHead(head.toString('latin1'), res);
			if (res.status >= 100 && res.status < 200 &&
			    res.status !== 101) {
				res.interim.push({ statusLine: res.statusLine,
				    headers: res.headers });
				res.headers = [];
				continue;
			}
			break;
		}
		res.body = Buffer.alloc(0);
		Object.defineProperty(res, 'partialBody', {
			get: () => Buffer.concat(bodyParts),
			enumerable: false,
		});

		const te = getHeaders(res, 'transfer-encoding').join(',');
		const cl = getHeaders(res, 'content-length');

		if (method === 'HEAD' || res.status === 204 ||
		    res.status === 304 || res.status === 101) {
			/* no body */
		} else if (/(^|,)\s*chunked\s*$/i.test(te)) {
			res.chunked = true;
			await this._chunked(res, deadline, bodyParts);
		} else if (cl.length) {
			await this._exactly(Number(cl[0]), deadline, res,
			    bodyParts);
		} else {
			for (;;) {
				if (this.buf.length) {
					bodyParts.push(this._take(
					    this.buf.length));
				}
				if (this.ended) {
					break;
				}
				await this._more(deadline, res).catch((e) => {
					if (e.code !== 'INCOMPLETE') {
						throw e;
					}
				});
			}
		}
		res.body = Buffer.concat(bodyParts);
		return res;
	}

	async _chunked(res, deadline, bodyParts) {
		for (;;) {
			const line = (await this._until('\r\n', deadline, res))
			    .toString('latin1');
			const size = parseInt(line.split(';')[0].trim(), 16);
			if (!Number.isFinite(size)) {
				throw new Error(`bad chunk size line ` +
				    JSON.stringify(line));
			}
			res.chunkSizes.push(size);
			if (size === 0) {
				break;
			}
			await this._exactly(size, deadline, res, bodyParts);
			const crlf = await this._until('\r\n', deadline, res);
			if (crlf.length !== 0) {
				throw new Error('chunk data longer than its ' +
				    'size');
			}
		}
		for (;;) {
			const line = (await this._until('\r\n', deadline, res))
			    .toString('latin1');
			if (line === '') {
				break;
			}
			const i = line.indexOf(':');
			res.trailers.push([line.slice(0, i),
			    line.slice(i + 1).trim()]);
		}
	}
}

function parseHead(text, res) {
	const lines = text.split('\r\n');
	const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);

	if (!m) {
		throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
	}
	res.statusLine = lines[0];
	res.httpVersion = m[1];
	res.status = Number(m[2]);
	res.reason = m[3] || '';
	res.headers = [];
	for (const line of lines.slice(1)) {
		const i = line.indexOf(':');
		if (i <= 0) {
			throw new Error(`bad header line ${JSON.stringify(line)}`);
		}
		res.headers.push([line.slice(0, i),
		    line.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
	}
}

function getHeaders(res, name) {
	const lc = name.toLowerCase();

	return res.headers.filter(([n]) => n.toLowerCase() === lc)
	    .map(([, v]) => v);
}

function getHeader(res, name) {
	return getHeaders(res, name)[0];
}

/* The comma-separated tokens of every header called name, trimmed. */
function headerTokens(res, name) {
	return getHeaders(res, name).join(',').split(',')
	    .map((s) => s.trim()).filter((s) => s.length);
}

/* Sends bytes on a new connection (to opts.connectHost, default
 * 127.0.0.1) and reads one response. */
async function rawRequest(port, bytes, opts = {}) {
	const conn = await RawConnection.connect(port,
	    opts.connectHost || '127.0.0.1');
	const method = opts.method ||
	    Buffer.from(bytes).toString('latin1').split(' ')[0];

	try {
		await conn.write(bytes);
		return await conn.readResponse({ method,
		    timeoutMs: opts.timeoutMs });
	} finally {
		conn.close();
	}
}

/* rawRequest with buildRequest's options. */
function request(port, opts = {}) {
	return rawRequest(port, buildRequest(opts), opts);
}

/* GET /echo... through the proxy; returns { res, echo } with the
 * backend's view of the request parsed. */
async function echo(port, opts = {}) {
	const res = await request(port, { target: '/echo', ...opts });

	if (res.status !== 200) {
		throw new Error(`echo answered ${res.statusLine}: ` +
		    res.body.toString('latin1').slice(0, 300));
	}
	return { res, echo: JSON.parse(res.body.toString('utf8')) };
}

function echoHeaders(e, name) {
	const lc = name.toLowerCase();

	return e.rawHeaders.filter(([n]) => n.toLowerCase() === lc)
	    .map(([, v]) => v);
}

/*
 * A streaming GET with node:http (de-chunked), for long bodies.  Returns
 * the IncomingMessage; the caller consumes it.  The request is
 * destroyed when t ends.
 */
function streamGet(t, port, target, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port,
		    path: target, method: 'GET', headers, agent: false });
		req.on('response', resolve);
		req.on('error', reject);
		req.end();
		t.after(() => req.destroy());
	});
}

/* Waits until the peer has closed conn; returns how long that took in
 * ms, or throws when it is still open after timeoutMs. */
async function waitClosed(conn, timeoutMs = 5000) {
	const start = Date.now();

	await waitFor(() => conn.ended, timeoutMs,
	    'the proxy to close the connection', 5);
	return Date.now() - start;
}

/* The error names the proxy uses in the bodies of its own answers. */
const PROXY_ERROR_NAMES = {
	400: 'bad_request',
	403: 'origin_not_allowed',
	413: 'payload_too_large',
	417: 'expectation_failed',
	431: 'request_header_fields_too_large',
	500: 'internal_error',
	501: 'not_implemented',
	502: 'bad_gateway',
	503: 'service_unavailable',
	504: 'gateway_timeout',
	505: 'http_version_not_supported',
};

/*
 * Checks a response the proxy made itself: the status, a JSON body of
 * exactly {"error","status","message"} with the usual error name, a
 * Content-Length that matches, one Date, and the CORS headers of
 * opts.origin (an allowed origin, credentials on as in the development
 * defaults) or none at all when opts.origin is not given.  Returns the
 * parsed body.
 */
function assertProxyError(res, status, opts = {}) {
	const what = `${res.statusLine} ${JSON.stringify(res.headers)} ` +
	    res.body.toString('latin1').slice(0, 300);
	let body;

	assert.equal(res.status, status, what);
	assert.match(getHeader(res, 'content-type') || '',
	    /^application\/json\b/, what);
	assert.deepEqual(getHeaders(res, 'content-length'),
	    [String(res.body.length)], what);
	assert.equal(getHeaders(res, 'date').length, 1, what);
	try {
		body = JSON.parse(res.body.toString('utf8'));
	} catch (e) {
		assert.fail(`the body is not JSON: ${what}`);
	}
	assert.deepEqual(Object.keys(body).sort(),
	    ['error', 'message', 'status'], what);
	assert.equal(body.status, status, what);
	assert.equal(body.error, opts.error || PROXY_ERROR_NAMES[status],
	    what);
	assert.equal(typeof body.message, 'string', what);
	assert.ok(body.message.length > 0, what);
	if (opts.origin) {
		assert.deepEqual(getHeaders(res, 'access-control-allow-origin'),
		    [opts.origin], what);
		assert.deepEqual(getHeaders(res,
		    'access-control-allow-credentials'), ['true'], what);
		assert.ok(headerTokens(res, 'vary').map((v) => v.toLowerCase())
		    .includes('origin'), what);
	} else {
		assert.deepEqual(getHeaders(res, 'access-control-allow-origin'),
		    [], what);
	}
	return body;
}

module.exports = {
	DEV_ORIGIN,
	EVIL_ORIGIN,
	PROXY_ERROR_NAMES,
	SANITIZER,
	RawConnection,
	assertProxyError,
	backendFor,
	buildRequest,
	closedPort,
	echo,
	echoHeaders,
	getHeader,
	getHeaders,
	groupPids,
	headerTokens,
	ipv6Loopback,
	parseListening,
	proxyRss,
	rawRequest,
	readRss,
	request,
	rssSampler,
	runCli,
	sleep,
	sourceRoot,
	startBackend,
	startProxy,
	streamGet,
	tempDir,
	waitClosed,
	waitFor,
	writeConfig,
};
