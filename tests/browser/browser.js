'use strict';
/*
 * What the browser tests share: Debian's Chromium driven by
 * playwright-core, two small pages served from two different loopback
 * origins, and a stack per test (the integration tests' backend, a
 * corsproxy whose policy allows exactly the first page's origin, a fresh
 * browser context with a page on one of the two origins).
 *
 * The page runs fetch() and EventSource itself, so what a test asserts
 * is what a real page can read after Chromium has applied CORS.  A CDP
 * session records every request the browser sent, preflights included,
 * with the status and headers the proxy answered and the CORS error
 * Chromium reported; those records, the page's console and the tail of
 * the proxy's log go into assertion messages as evidence.
 *
 * Nothing is skipped: without Chromium or playwright-core every test
 * fails with a message that says what to install.  Every wait is
 * bounded, and a test's stack is torn down in reverse order of
 * creation whether the test passed or not.
 */
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const h = require('../integration/harness');

const CHROMIUM = process.env.CORSPROXY_CHROMIUM || '/usr/bin/chromium';
/*
 * playwright-core passes its own switches (--headless, --no-sandbox and
 * most of ours among them) before ours; none of them contradicts ours,
 * and ours come last, so ours are in force.  ignoreDefaultArgs cannot
 * drop its copies: it filters the whole list, ours included, so
 * ignoring "--headless" starts a headed Chromium that finds no display.
 */
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

const LAUNCH_TIMEOUT_MS = 60000;
const ACTION_TIMEOUT_MS = 10000;	/* goto, context and browser close */
const FETCH_TIMEOUT_MS = 8000;		/* inside the page */
const EVALUATE_SLACK_MS = 4000;		/* on top of the in-page bound */
const CLEANUP_STEP_MS = 10000;

/* Resolves or rejects like promise, or rejects after ms naming what. */
function withTimeout(promise, ms, what) {
	let timer;
	const late = new Promise((resolve, reject) => {
		timer = setTimeout(() => reject(new Error(
		    `timed out after ${ms} ms: ${what}`)), ms);
	});

	return Promise.race([promise, late]).finally(() =>
	    clearTimeout(timer));
}

function loadPlaywright() {
	try {
		return require('playwright-core');
	} catch (e) {
		throw new Error('playwright-core is not installed in ' +
		    `${__dirname}: run "npm ci" there (scripts/test does ` +
		    `it when node_modules is missing or stale): ${e.message}`);
	}
}

/* Launches headless Chromium; playwright-core gives it a fresh,
 * temporary --user-data-dir and removes it on close. */
async function launchBrowser() {
	const { chromium } = loadPlaywright();

	if (!fs.existsSync(CHROMIUM)) {
		throw new Error(`${CHROMIUM} not found: install Debian's ` +
		    'chromium package (apt-get install chromium; ' +
		    'scripts/test does it), or point CORSPROXY_CHROMIUM ' +
		    'at a Chromium binary');
	}
	return chromium.launch({
		executablePath: CHROMIUM,
		args: CHROMIUM_ARGS,
		timeout: LAUNCH_TIMEOUT_MS,
	});
}

const PAGE_HTML = '<!doctype html>\n<html><head><meta charset="utf-8">' +
    '<title>corsproxy browser test</title>' +
    '<link rel="icon" href="data:,"></head>\n' +
    '<body><p>A page whose scripts call the proxy.</p></body></html>\n';

/*
 * Serves PAGE_HTML at / on 127.0.0.1 (a port the OS picks) and 404
 * elsewhere.  Its origin is http://127.0.0.1:PORT; close() also drops
 * the browser's kept-alive connections.
 */
async function startPageServer() {
	const server = http.createServer((req, res) => {
		const found = req.url === '/';

		res.writeHead(found ? 200 : 404, {
			'Content-Type': found ? 'text/html; charset=utf-8' :
			    'text/plain',
			'Cache-Control': 'no-store',
		});
		res.end(found ? PAGE_HTML : 'not found\n');
	});

	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	const port = server.address().port;

	return {
		port,
		origin: `http://127.0.0.1:${port}`,
		url: `http://127.0.0.1:${port}/`,
		close() {
			server.closeAllConnections();
			return new Promise((r) => server.close(() => r()));
		},
	};
}

/*
 * The proxy's configuration: the backend as the default upstream, a
 * group "dead" on a port that refuses (routed at /dead/), and one policy
 * that allows exactly allowedOrigin with credentials, three methods,
 * two request headers and one exposed header.
 */
function proxyConfig({ backendUrl, deadPort, allowedOrigin }) {
	return `# written by tests/browser/browser.js
upstream: ${backendUrl}
upstreams:
  dead:
    servers: [http://127.0.0.1:${deadPort}]
routes:
  - { path: /dead/, upstream: dead }
  - { path: /, upstream: default }
policies:
  mode: enforce
  policies:
    - name: browser-app
      origins: [${allowedOrigin}]
      allow_methods: [GET, POST, PUT]
      allow_headers: [Content-Type, X-Custom]
      expose_headers: [X-Request-Id]
      allow_credentials: true
      on_denied: forward
`;
}

/*
 * Records what the browser put on the wire through a CDP session:
 * one entry per request id with method, url, whether it was a
 * preflight, the response status and headers, and the failure with
 * Chromium's CORS error.
 */
async function recordNetwork(context, page) {
	const cdp = await context.newCDPSession(page);
	const byId = new Map();
	const entry = (id) => {
		if (!byId.has(id)) {
			byId.set(id, { id, method: null, url: null,
			    preflight: false, status: null, headers: null,
			    failed: null, corsError: null });
		}
		return byId.get(id);
	};

	cdp.on('Network.requestWillBeSent', (e) => {
		const r = entry(e.requestId);

		r.method = e.request.method;
		r.url = e.request.url;
		r.requestHeaders = e.request.headers;
		if (e.type === 'Preflight' ||
		    (e.initiator && e.initiator.type === 'preflight')) {
			r.preflight = true;
		}
	});
	cdp.on('Network.responseReceived', (e) => {
		const r = entry(e.requestId);

		r.status = e.response.status;
		r.headers = r.headers || e.response.headers;
		if (e.type === 'Preflight') {
			r.preflight = true;
		}
	});
	/* The headers exactly as received, before Chromium filters. */
	cdp.on('Network.responseReceivedExtraInfo', (e) => {
		const r = entry(e.requestId);

		r.status = r.status || e.statusCode;
		r.headers = e.headers;
	});
	cdp.on('Network.loadingFailed', (e) => {
		const r = entry(e.requestId);

		r.failed = e.errorText;
		if (e.corsErrorStatus) {
			r.corsError = e.corsErrorStatus.corsError;
		}
	});
	await cdp.send('Network.enable');

	return {
		entries: () => [...byId.values()].filter((r) => r.url),
		/* Requests to urls starting with prefix. */
		to(prefix) {
			return this.entries().filter((r) =>
			    r.url.startsWith(prefix));
		},
		detach: () => cdp.detach().catch(() => {}),
	};
}

function headerValue(headers, name) {
	const lc = name.toLowerCase();

	for (const [n, v] of Object.entries(headers || {})) {
		if (n.toLowerCase() === lc) {
			return v;
		}
	}
	return undefined;
}

/* Runs cleanup steps in reverse order, each bounded, none skipped
 * because an earlier one failed. */
class Teardown {
	constructor(t) {
		this.steps = [];
		t.after(() => this.run());
	}

	add(what, fn) {
		this.steps.push({ what, fn });
	}

	async run() {
		const errors = [];

		while (this.steps.length) {
			const { what, fn } = this.steps.pop();
			try {
				await withTimeout(Promise.resolve().then(fn),
				    CLEANUP_STEP_MS, `closing ${what}`);
			} catch (e) {
				errors.push(e.message);
			}
		}
		if (errors.length) {
			throw new Error(`teardown: ${errors.join('; ')}`);
		}
	}
}

/*
 * The file-level fixture: one browser and the two page servers, allowed
 * (its origin is the one the policy names) and denied (any other).
 * Call from a test file's top level; it registers before and after.
 */
function suite() {
	const shared = { browser: null, allowed: null, denied: null };
	const { before, after } = require('node:test');

	before(async () => {
		shared.allowed = await startPageServer();
		shared.denied = await startPageServer();
		shared.browser = await launchBrowser();
	}, { timeout: LAUNCH_TIMEOUT_MS + 10000 });

	after(async () => {
		if (shared.browser) {
			await withTimeout(shared.browser.close(),
			    ACTION_TIMEOUT_MS, 'closing the browser')
			    .catch(() => {});
		}
		for (const s of [shared.allowed, shared.denied]) {
			if (s) {
				await s.close();
			}
		}
	}, { timeout: ACTION_TIMEOUT_MS + 10000 });

	shared.stack = (t, opts) => startStack(t, shared, opts);
	return shared;
}

/*
 * A test's stack: backend, proxy, and a page loaded from the allowed
 * origin (opts.from 'allowed') or the denied one ('denied').  Returns
 * { backend, proxy, page, net, console, fetch, eventSource, why }.
 */
async function startStack(t, shared, { from = 'allowed' } = {}) {
	const down = new Teardown(t);
	const backend = await h.startBackend();

	down.add('the backend', () => backend.close());

	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-br-'));
	down.add('the temporary directory', () =>
	    fs.rmSync(dir, { recursive: true, force: true }));
	const config = h.writeConfig(dir, proxyConfig({
		backendUrl: backend.url,
		deadPort: await h.closedPort(),
		allowedOrigin: shared.allowed.origin,
	}));

	const proxy = await h.startProxy(['-c', config]);
	down.add('the proxy', () => proxy.stop());

	const context = await shared.browser.newContext();
	down.add('the browser context', () => context.close());
	const page = await context.newPage();
	page.setDefaultTimeout(ACTION_TIMEOUT_MS);
	const consoleLines = [];
	page.on('console', (m) => consoleLines.push(`${m.type()}: ` +
	    m.text()));
	page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e}`));
	const net = await recordNetwork(context, page);
	down.add('the CDP session', () => net.detach());

	const origin = shared[from];
	await page.goto(origin.url, { waitUntil: 'load' });

	const s = { backend, proxy, context, page, net, origin: origin.origin,
	    console: consoleLines };
	s.fetch = (target, init, opts) => pageFetch(s, target, init, opts);
	s.eventSource = (target, opts) => pageEventSource(s, target, opts);
	s.why = (what) => evidence(s, what);
	return s;
}

/* What the page can read of fetch(proxy + target, init), or the error
 * it got: { ok, status, headers: { name: value|null }, body, error }. */
function pageFetch(s, target, init = {}, { read = [],
    timeoutMs = FETCH_TIMEOUT_MS } = {}) {
	const url = s.proxy.url + target;

	return withTimeout(s.page.evaluate(async (a) => {
		try {
			const res = await fetch(a.url, { ...a.init,
			    signal: AbortSignal.timeout(a.timeoutMs) });
			const headers = {};

			for (const n of a.read) {
				headers[n] = res.headers.get(n);
			}
			return { ok: true, status: res.status, headers,
			    names: [...res.headers.keys()],
			    body: await res.text() };
		} catch (e) {
			return { ok: false, error: { name: e.name,
			    message: e.message } };
		}
	}, { url, init, read, timeoutMs }), timeoutMs + EVALUATE_SLACK_MS,
	    `fetch ${url} in the page`);
}

/*
 * Opens an EventSource on proxy + target with withCredentials and
 * collects messages until count arrived, the source closed (what a
 * CORS failure does), or timeoutMs passed.  Each event has its data
 * and its arrival time in ms.
 */
function pageEventSource(s, target, { count, timeoutMs = FETCH_TIMEOUT_MS }) {
	const url = s.proxy.url + target;

	return withTimeout(s.page.evaluate((a) => new Promise((resolve) => {
		const es = new EventSource(a.url, { withCredentials: true });
		const events = [];
		let opened = false;
		let errors = 0;
		let timer = null;
		const done = (why) => {
			clearTimeout(timer);
			es.close();
			resolve({ why, opened, errors, events });
		};

		timer = setTimeout(() => done('timeout'), a.timeoutMs);
		es.onopen = () => { opened = true; };
		es.onmessage = (ev) => {
			events.push({ data: ev.data, at: performance.now() });
			if (events.length >= a.count) {
				done('complete');
			}
		};
		es.onerror = () => {
			errors++;
			if (es.readyState === EventSource.CLOSED) {
				done('closed');
			}
		};
	}), { url, count, timeoutMs }), timeoutMs + EVALUATE_SLACK_MS,
	    `EventSource ${url} in the page`);
}

/* The evidence for an assertion message: what the page got, what the
 * browser saw on the wire to the proxy, the console, the proxy's log. */
function evidence(s, what) {
	const lines = [];

	if (what !== undefined) {
		lines.push(`page saw: ${JSON.stringify(what)}`);
	}
	lines.push('browser <-> proxy:');
	for (const r of s.net.to(s.proxy.url)) {
		lines.push(`  ${r.preflight ? 'preflight ' : ''}${r.method} ` +
		    `${r.url} -> ${r.status ?? '-'} ` +
		    `${JSON.stringify(r.headers || {})}` +
		    (r.failed ? ` failed=${r.failed}` : '') +
		    (r.corsError ? ` corsError=${r.corsError}` : ''));
	}
	lines.push('console:', ...s.console.map((l) => `  ${l}`));
	lines.push('backend saw: ' + JSON.stringify(s.backend.stats.log
	    .map((e) => `${e.method} ${e.url}`)));
	lines.push('proxy log (tail):', ...s.proxy.stderr().trimEnd()
	    .split('\n').slice(-15).map((l) => `  ${l}`));
	return lines.join('\n');
}

module.exports = {
	CHROMIUM,
	FETCH_TIMEOUT_MS,
	headerValue,
	launchBrowser,
	proxyConfig,
	startPageServer,
	suite,
	withTimeout,
};
