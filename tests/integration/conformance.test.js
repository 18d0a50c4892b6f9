'use strict';
/*
 * CORS conformance: the running proxy against the contract, case by
 * case, each response judged twice, once by its exact headers and once
 * the way a browser would (fetch-cors.js, written from the Fetch
 * standard).  An allowed case must give a browser verdict of ok; a
 * denied one must fail, and for the right reason.
 *
 * One proxy per policy setup, started in the describe block's before
 * hook and stopped in its after hook:
 *
 *   enforce   exact (with an explicit :443), subdomain, port-wildcard
 *             and regex origins with credentials, a literal null, "*"
 *             allow lists with credentials, private network access
 *   wildcard  origin "*" without credentials
 *   errors    routes (path prefixes selecting policies, preflight:
 *             forward, a dead upstream, a group with no server left),
 *             tight limits and timeouts, an admin address for /metrics
 *   reject    on_denied: reject, also where preflights are forwarded
 *   report    mode: report, from a policy file given with -p
 *   denials   the log line of each denial in enforce mode
 */
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./harness');
const { startBackend } = require('./backend');
const fc = require('./fetch-cors');

const T = { timeout: 15000 };

/* The credentials mode of a request that sends cookies. */
const CRED = 'include';

const APP = 'https://app.example.com';
const PARTNER = 'https://partner.example.net';
const TOOLS = 'https://tools.example.net';

/* ---- setups ---------------------------------------------------------- */

/*
 * Starts a backend and a proxy on the config yaml(backend, extra)
 * returns, and resolves to { backend, proxy, dir }.  files maps more
 * file names to their text; args go on the proxy's command line, with
 * @DIR@ standing for the directory of the files.
 */
async function startSetup({ yaml, files = {}, args = [], extra = {} }) {
	const env = {};

	env.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-conf-'));
	env.backend = await startBackend({ name: 'conformance' });
	for (const [name, text] of Object.entries(files)) {
		h.writeConfig(env.dir, text, name);
	}
	const file = h.writeConfig(env.dir, yaml(env.backend, extra));
	env.proxy = await h.startProxy(['-c', file,
	    ...args.map((a) => a.replace('@DIR@', env.dir))]);
	return env;
}

async function stopSetup(env) {
	if (env.proxy) {
		await env.proxy.stop();
	}
	if (env.backend) {
		await env.backend.close();
	}
	if (env.dir) {
		fs.rmSync(env.dir, { recursive: true, force: true });
	}
}

/* Declares a describe block whose tests share one started setup. */
function withSetup(name, setup, body) {
	describe(name, () => {
		const env = {};

		before(async () => {
			Object.assign(env, await startSetup(setup));
		});
		after(() => stopSetup(env));
		body(env);
	});
}

/* ---- requests -------------------------------------------------------- */

/*
 * Sends the preflight a browser would send for an actual request
 * { method, headers } from origin (or the raw header pairs given), and
 * records how many requests the backend saw meanwhile.
 */
async function sendPreflight(env, { origin, method = 'PUT', headers = [],
    pna = false, target = '/echo/preflight', raw = null }) {
	const pairs = raw || fc.preflightHeaders({ origin, method, headers,
	    privateNetwork: pna });
	const seen = env.backend.stats.requests;
	const res = await h.request(env.proxy.port, { method: 'OPTIONS',
	    target, headers: pairs });

	res.backendHits = env.backend.stats.requests - seen;
	return res;
}

/* An actual request; origin undefined sends no Origin. */
async function sendActual(env, { origin, method = 'GET', target = '/echo',
    headers = [], body = null }) {
	const pairs = origin === undefined ? headers :
	    [['Origin', origin], ...headers];
	const seen = env.backend.stats.requests;
	const res = await h.request(env.proxy.port, { method, target,
	    headers: pairs, body });

	res.backendHits = env.backend.stats.requests - seen;
	return res;
}

/* The one access-log line that includes what, once it has come and a
 * moment has passed for any repeat. */
async function accessLine(env, what) {
	const find = () => env.proxy.stderr().split('\n').filter((l) =>
	    l.includes(what) && / decision=/.test(l));

	await h.waitFor(() => find().length > 0, 3000,
	    `the access-log line with ${what}`);
	await h.sleep(100);
	const lines = find();
	assert.equal(lines.length, 1, lines.join('\n'));
	return lines[0];
}

/* /headers-raw with these response headers ("Name:value" each). */
function rawTarget(headers, status = null) {
	const q = headers.map((x) => 'h=' + encodeURIComponent(x));

	if (status !== null) {
		q.push(`status=${status}`);
	}
	return '/headers-raw?' + q.join('&');
}

/* ---- assertions ------------------------------------------------------ */

function show(res) {
	return `${res.statusLine} ${JSON.stringify(res.headers)} ` +
	    JSON.stringify(res.body.toString('latin1').slice(0, 200));
}

function tokens(value) {
	return value.split(',').map((s) => s.trim()).filter((s) => s.length);
}

function lower(list) {
	return list.map((s) => s.toLowerCase());
}

/* A list header whose elements are exactly these (as a set). */
function exactly(list, { ci = true } = {}) {
	return (value, name) => {
		const got = tokens(value);
		const norm = ci ? lower : (x) => x;

		assert.equal(new Set(norm(got)).size, got.length,
		    `${name} repeats an element: ${value}`);
		assert.deepEqual(norm(got).sort(), norm(list).sort(),
		    `${name}: ${value}`);
	};
}

/*
 * A list header naming at least has, nothing outside within (when
 * given), and never a bare "*" unless star.
 */
function covering(has, { within = null, ci = true, star = false } = {}) {
	return (value, name) => {
		const norm = ci ? lower : (x) => x;
		const got = norm(tokens(value));

		for (const x of norm(has)) {
			assert.ok(got.includes(x),
				    `${name} lacks ${x}: ${value}`);
		}
		if (within) {
			for (const x of got) {
				assert.ok(norm(within).includes(x),
				    `${name} names ${x}, which the policy ` +
				    `does not allow: ${value}`);
			}
		}
		if (!star) {
			assert.ok(!got.includes('*'), `${name} is a bare *: ` +
			    value);
		}
	};
}

const MAYBE = Symbol('may be present');

/*
 * Checks every Access-Control-* header of res against spec, keyed by
 * header name: a string is the exact value, a function checks the
 * value, null means absent, MAYBE allows one or none.  Any other
 * Access-Control-* header is an error, and none may repeat.
 */
function assertCors(res, spec) {
	const got = new Map();
	const want = new Map(Object.entries(spec).map(([k, v]) =>
	    [k.toLowerCase(), [k, v]]));

	for (const [n, v] of res.headers) {
		if (/^access-control-/i.test(n)) {
			const lc = n.toLowerCase();
			got.set(lc, [...(got.get(lc) || []), v]);
		}
	}
	for (const lc of got.keys()) {
		assert.ok(want.has(lc) && want.get(lc)[1] !== null,
		    `unexpected header ${lc}: ${show(res)}`);
	}
	for (const [lc, [name, w]] of want) {
		const values = got.get(lc) || [];

		if (w === null) {
			continue;
		}
		if (w === MAYBE) {
			assert.ok(values.length <= 1, `${name} repeated: ` +
			    show(res));
			continue;
		}
		assert.equal(values.length, 1, `${name} must appear exactly ` +
		    `once: ${show(res)}`);
		if (typeof w === 'function') {
			w(values[0], name);
		} else {
			assert.equal(values[0], w, `${name}: ${show(res)}`);
		}
	}
}

function varyOf(res) {
	const lines = h.getHeaders(res, 'vary');

	return { lines, tokens: lower(tokens(lines.join(','))) };
}

const PREFLIGHT_VARY = ['origin', 'access-control-request-method',
    'access-control-request-headers'];
const PNA_VARY = 'access-control-request-private-network';

/* One Vary naming the three request headers a preflight answer
 * depends on (and -Private-Network when asked for), nothing else. */
function assertPreflightVary(res, pna = false) {
	const { lines, tokens: got } = varyOf(res);
	const want = pna ? [...PREFLIGHT_VARY, PNA_VARY] : PREFLIGHT_VARY;

	assert.equal(lines.length, 1, `one Vary expected: ${show(res)}`);
	assert.equal(new Set(got).size, got.length, `Vary repeats a token: ` +
	    lines[0]);
	for (const w of want) {
		assert.ok(got.includes(w), `Vary lacks ${w}: ${lines[0]}`);
	}
	for (const g of got) {
		assert.ok(want.includes(g) || g === PNA_VARY,
		    `Vary names ${g}: ${lines[0]}`);
	}
}

/* One Vary: the upstream's tokens with Origin merged in, no repeats. */
function assertActualVary(res, upstream = []) {
	const { lines, tokens: got } = varyOf(res);
	const want = [...new Set(lower([...upstream, 'Origin']))].sort();

	assert.equal(lines.length, 1, `one Vary expected: ${show(res)}`);
	assert.equal(new Set(got).size, got.length, `Vary repeats a token: ` +
	    lines[0]);
	assert.deepEqual([...got].sort(), want, `Vary: ${lines[0]}`);
}

function assertVerdict(verdict, code = null) {
	if (code === null) {
		assert.ok(verdict.ok,
		    `a browser would refuse: ${verdict.reason}`);
	} else {
		assert.ok(!verdict.ok, `a browser would accept, expected ` +
		    `failure ${code}`);
		assert.equal(verdict.code, code, verdict.reason);
	}
}

/*
 * A denied preflight: 403, no Access-Control-Allow-* header, the
 * preflight Vary, a short one-line plain-text reason, no backend.  A
 * browser fails it on the status, and would on the missing origin.
 */
function assertDeniedPreflight(res, req, { reason = null, pna = false } = {}) {
	const body = res.body.toString('utf8');

	assert.equal(res.status, 403, show(res));
	assert.deepEqual(res.headers.filter(([n]) =>
	    /^access-control-allow-/i.test(n)), [], show(res));
	assertPreflightVary(res, pna);
	assert.match(h.getHeader(res, 'content-type') || '', /^text\/plain/i,
	    show(res));
	assert.ok(body.length > 0 && body.length <= 512, `body: ${body}`);
	assert.equal(body.trim().split('\n').length, 1, `body: ${body}`);
	if (reason) {
		assert.match(body, reason);
	}
	assert.equal(res.backendHits, 0, 'the backend saw the preflight');
	assertVerdict(fc.preflightCheck(res, req), 'status');
	assertVerdict(fc.corsCheck(res, req), 'allow-origin-missing');
}

/* An allowed preflight: 204, empty body, backend untouched. */
function assertAllowedPreflight(res, req, spec, pna = false) {
	assert.equal(res.status, 204, show(res));
	assert.equal(res.body.length, 0);
	assert.equal(res.backendHits, 0, 'the backend saw the preflight');
	assertCors(res, spec);
	assertPreflightVary(res, pna);
	assertVerdict(fc.preflightCheck(res, req));
}

/* A proxy-made error with the CORS headers of the allowed app origin. */
function assertProxyError(res, status, origin = APP) {
	assert.equal(res.status, status, show(res));
	assertCors(res, {
		'Access-Control-Allow-Origin': origin,
		'Access-Control-Allow-Credentials': 'true',
		'Access-Control-Expose-Headers': MAYBE,
	});
	assertActualVary(res);
	assert.match(h.getHeader(res, 'content-type') || '',
	    /^application\/json/i, show(res));
	const body = JSON.parse(res.body.toString('utf8'));
	assert.equal(typeof body.error, 'string', show(res));
	assertVerdict(fc.corsCheck(res, { origin, credentials: 'include' }));
}

/*
 * A response that is the backend's own answer, passed on as sent: the
 * status, exactly the header lines of sent ("Name:value" each, as given
 * to rawTarget) in any order, the body, and nothing added but Date and
 * the framing; no Origin merged into Vary, no Access-Control-* added or
 * removed.
 */
function assertBackendAnswer(res, status, sent, body = 'headers-raw\n') {
	const got = res.headers.filter(([n]) =>
	    !/^(date|content-length|connection|keep-alive)$/i.test(n))
	    .map(([n, v]) => `${n.toLowerCase()}:${v}`);
	const want = sent.map((x) => {
		const i = x.indexOf(':');

		return `${x.slice(0, i).toLowerCase()}:${x.slice(i + 1)}`;
	});

	assert.equal(res.status, status, show(res));
	assert.deepEqual(got.sort(), want.sort(), show(res));
	assert.equal(res.body.toString('latin1'), body, show(res));
	assert.deepEqual(h.getHeaders(res, 'content-length'),
	    [String(Buffer.byteLength(body))], show(res));
}

/* ====================================================================
 * The browser model itself: a few cases that must be able to fail.
 * ==================================================================== */

describe('fetch-cors model', () => {
	const withAcao = (v, more = []) => ({ status: 200,
	    headers: [['Access-Control-Allow-Origin', v], ...more] });

	test('CORS check accepts the exact origin and refuses a trailing ' +
	    'slash, another case or a second value', () => {
		assertVerdict(fc.corsCheck(withAcao(APP), { origin: APP }));
		assertVerdict(fc.corsCheck(withAcao(APP + '/'),
		    { origin: APP }), 'allow-origin-mismatch');
		assertVerdict(fc.corsCheck(withAcao('https://APP.example.com'),
		    { origin: APP }), 'allow-origin-mismatch');
		assertVerdict(fc.corsCheck({ status: 200, headers: [
		    ['Access-Control-Allow-Origin', APP],
		    ['Access-Control-Allow-Origin', APP]] }, { origin: APP }),
		    'allow-origin-mismatch');
		assertVerdict(fc.corsCheck({ status: 200, headers: [] },
		    { origin: APP }), 'allow-origin-missing');
	});

	test('CORS check: "*" only without credentials, and credentials ' +
	    'need exactly "true"', () => {
		assertVerdict(fc.corsCheck(withAcao('*'), { origin: APP }));
		assertVerdict(fc.corsCheck(withAcao('*'), { origin: APP,
		    credentials: 'include' }),
		    'allow-origin-wildcard-credentials');
		assertVerdict(fc.corsCheck(withAcao(APP), { origin: APP,
		    credentials: 'include' }), 'allow-credentials');
		assertVerdict(fc.corsCheck(withAcao(APP,
		    [['Access-Control-Allow-Credentials', 'True']]),
		    { origin: APP, credentials: 'include' }),
		    'allow-credentials');
		assertVerdict(fc.corsCheck(withAcao(APP,
		    [['Access-Control-Allow-Credentials', 'true']]),
		    { origin: APP, credentials: 'include' }));
		assertVerdict(fc.corsCheck(withAcao('null'),
		    { origin: 'null' }));
	});

	test('preflight check needs an ok status before anything else', () => {
		const ok = withAcao(APP, [['Access-Control-Allow-Methods',
		    'PUT']]);

		assertVerdict(fc.preflightCheck(ok, { origin: APP,
		    method: 'PUT' }));
		assertVerdict(fc.preflightCheck({ ...ok, status: 204 },
		    { origin: APP, method: 'PUT' }));
		for (const status of [302, 403, 404, 500]) {
			assertVerdict(fc.preflightCheck({ ...ok, status },
			    { origin: APP, method: 'PUT' }), 'status');
		}
	});

	test('preflight check compares methods byte for byte; "*" only ' +
	    'without credentials; safelisted methods always pass', () => {
		const r = (m, creds = []) => withAcao(APP, [
		    ['Access-Control-Allow-Methods', m], ...creds]);
		const cred = [['Access-Control-Allow-Credentials', 'true']];

		assertVerdict(fc.preflightCheck(r('GET, PATCH'),
		    { origin: APP, method: 'patch' }), 'method-not-allowed');
		assertVerdict(fc.preflightCheck(r('GET, PATCH'),
		    { origin: APP, method: 'PATCH' }));
		/* fetch() upper-cases put, so "put" is PUT. */
		assertVerdict(fc.preflightCheck(r('PUT'),
		    { origin: APP, method: 'put' }));
		assertVerdict(fc.preflightCheck(r('*'),
		    { origin: APP, method: 'PROPFIND' }));
		assertVerdict(fc.preflightCheck(r('*', cred),
		    { origin: APP, method: 'PROPFIND',
		    credentials: 'include' }), 'method-not-allowed');
		assertVerdict(fc.preflightCheck(r('PUT'),
		    { origin: APP, method: 'POST' }));
		assertVerdict(fc.preflightCheck(withAcao(APP),
		    { origin: APP, method: 'DELETE' }), 'method-not-allowed');
	});

	test('preflight check compares header names case-insensitively; ' +
	    '"*" neither with credentials nor for Authorization', () => {
		const r = (v, creds = []) => withAcao(APP, [
		    ['Access-Control-Allow-Methods', 'PUT'],
		    ['Access-Control-Allow-Headers', v], ...creds]);
		const cred = [['Access-Control-Allow-Credentials', 'true']];
		const req = (headers, credentials) => ({ origin: APP,
		    method: 'PUT', headers, credentials });

		assertVerdict(fc.preflightCheck(r('X-CUSTOM'),
		    req([['x-custom', '1']])));
		assertVerdict(fc.preflightCheck(r('x-other'),
		    req([['x-custom', '1']])), 'header-not-allowed');
		assertVerdict(fc.preflightCheck(r('*'),
		    req([['x-custom', '1']])));
		assertVerdict(fc.preflightCheck(r('*', cred),
		    req([['x-custom', '1']], 'include')),
		    'header-not-allowed');
		assertVerdict(fc.preflightCheck(r('*'),
		    req([['Authorization', 'Bearer x']])),
		    'authorization-not-allowed');
		assertVerdict(fc.preflightCheck(r('*, authorization'),
		    req([['Authorization', 'Bearer x']])));
		/* Safelisted headers need no permission. */
		assertVerdict(fc.preflightCheck(r('x-other'),
		    req([['Content-Type', 'text/plain;charset=UTF-8'],
		    ['Accept', 'application/json']])));
	});

	test('preflight check fails on lists that are not #token', () => {
		const r = (name, v) => withAcao(APP, [[name, v]]);

		const acam = 'Access-Control-Allow-Methods';
		const acah = 'Access-Control-Allow-Headers';

		assertVerdict(fc.preflightCheck(r(acam, 'PUT DELETE'),
		    { origin: APP, method: 'PUT' }), 'allow-methods-invalid');
		assertVerdict(fc.preflightCheck(r(acah, 'x-a, x(b)'),
		    { origin: APP, method: 'GET', headers: [['x-a', '1']] }),
		    'allow-headers-invalid');
		assert.deepEqual(fc.parseTokenList(' a ,, b,\tc '),
		    ['a', 'b', 'c']);
	});

	test('preflight check demands Allow-Private-Network: true when it ' +
	    'was asked for', () => {
		const base = withAcao(APP);

		assertVerdict(fc.preflightCheck(base, { origin: APP,
		    privateNetwork: true }), 'private-network');
		assertVerdict(fc.preflightCheck(withAcao(APP,
		    [['Access-Control-Allow-Private-Network', 'true']]),
		    { origin: APP, privateNetwork: true }));
		assertVerdict(fc.preflightCheck(base, { origin: APP }));
	});

	test('needsPreflight follows the safelists', () => {
		assert.equal(fc.needsPreflight({ method: 'GET' }), false);
		assert.equal(fc.needsPreflight({ method: 'post', headers: [
		    ['Content-Type', 'text/plain;charset=UTF-8'],
		    ['Accept-Language', 'en-GB,en;q=0.9']] }), false);
		assert.equal(fc.needsPreflight({ method: 'POST', headers: [
		    ['Content-Type', 'application/json']] }), true);
		assert.equal(fc.needsPreflight({ method: 'PUT' }), true);
		assert.equal(fc.needsPreflight({ method: 'patch' }), true);
		assert.equal(fc.needsPreflight({ method: 'GET', headers: [
		    ['Accept', 'x'.repeat(129)]] }), true);
		assert.equal(fc.needsPreflight({ method: 'GET', headers: [
		    ['Accept', 'a(b)']] }), true);
		assert.equal(fc.needsPreflight({ method: 'GET', headers: [
		    ['Range', 'bytes=0-99']] }), false);
		assert.equal(fc.needsPreflight({ method: 'GET', headers: [
		    ['Range', 'bytes=-99']] }), true);
		assert.equal(fc.needsPreflight({ method: 'GET',
		    privateNetwork: true }), true);
	});

	test('the preflight lists unsafe header names sorted, lower case, ' +
	    'joined with ","', () => {
		const pairs = fc.preflightHeaders({ origin: APP,
		    method: 'put', headers: [['X-B', '1'],
		    ['Content-Type', 'application/json'], ['x-a', '2'],
		    ['Accept', '*/*']], privateNetwork: true });

		assert.deepEqual(pairs, [['Origin', APP], ['Accept', '*/*'],
		    ['Access-Control-Request-Method', 'PUT'],
		    ['Access-Control-Request-Headers', 'content-type,x-a,x-b'],
		    ['Access-Control-Request-Private-Network', 'true']]);
		/* Safelisted values over 1024 bytes in total turn unsafe. */
		assert.deepEqual(fc.unsafeRequestHeaderNames([
		    ['Accept', 'a'.repeat(128)],
		    ...Array.from({ length: 8 }, () =>
		    ['Accept-Language', 'b'.repeat(128)])]),
		    ['accept', 'accept-language']);
	});

	test('readable headers: safelisted, exposed, "*" only without ' +
	    'credentials, never Set-Cookie', () => {
		const res = (expose) => ({ status: 200, headers: [
		    ['Content-Type', 'text/plain'], ['X-Request-Id', '1'],
		    ['X-Internal', '2'], ['Set-Cookie', 'a=1'],
		    ...(expose === null ? [] :
		    [['Access-Control-Expose-Headers', expose]])] });

		assert.deepEqual(fc.readableHeaders(res(null)),
		    ['content-type']);
		assert.deepEqual(fc.readableHeaders(res('x-request-id')),
		    ['content-type', 'x-request-id']);
		/* "*" exposes every name, Expose-Headers itself included. */
		assert.deepEqual(fc.readableHeaders(res('*')),
		    ['content-type', 'x-request-id', 'x-internal',
		    'access-control-expose-headers']);
		assert.deepEqual(fc.readableHeaders(res('*'),
		    { credentials: 'include' }), ['content-type']);
		assert.deepEqual(fc.readableHeaders(res('set-cookie')),
		    ['content-type']);
	});
});

/* ====================================================================
 * enforce: exact, :443, subdomain, port wildcard, regex, null, "*"
 * lists with credentials, private network.  on_denied: forward.
 * ==================================================================== */

const ENFORCE_YAML = (backend) => `
upstream: ${backend.url}
policies:
  mode: enforce
  policies:
    - name: app
      origins:
        - https://app.example.com
        - https://secure.example.com:443
        - https://*.example.org
        - http://localhost:*
        - regex: '^https://pr-[0-9]+\\.preview\\.example\\.com$'
      allow_methods: [GET, POST, PUT, DELETE, PATCH]
      allow_headers: [Content-Type, Authorization, X-Request-Id]
      expose_headers: [X-Request-Id, X-Total-Count]
      allow_credentials: true
      max_age: 600
      allow_private_network: true
      on_denied: forward
    - name: sandboxed
      origins: ["null"]
      allow_methods: [GET, POST]
      allow_headers: "*"
      allow_credentials: false
    - name: tools
      origins: [${TOOLS}]
      allow_methods: "*"
      allow_headers: "*"
      expose_headers: "*"
      allow_credentials: true
      max_age: 30
    - name: partner
      origins: [${PARTNER}]
      allow_methods: [GET, HEAD, PUT]
      allow_headers: [Authorization, X-Api-Key]
      expose_headers: "*"
      allow_credentials: false
      allow_private_network: false
`;

const APP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const APP_HEADERS = ['Content-Type', 'Authorization', 'X-Request-Id'];

/* The headers of an allowed app-policy preflight for req. */
function appPreflightSpec(req, { pna = false } = {}) {
	const asked = fc.unsafeRequestHeaderNames(req.headers || []);

	return {
		'Access-Control-Allow-Origin': req.origin,
		'Access-Control-Allow-Methods': covering(
		    [fc.normalizeMethod(req.method)],
		    { within: APP_METHODS, ci: false }),
		'Access-Control-Allow-Headers': asked.length ?
		    covering(asked, { within: APP_HEADERS }) : MAYBE,
		'Access-Control-Allow-Credentials': 'true',
		'Access-Control-Max-Age': '600',
		'Access-Control-Allow-Private-Network': pna ? 'true' : null,
	};
}

const APP_ACTUAL_SPEC = (origin) => ({
	'Access-Control-Allow-Origin': origin,
	'Access-Control-Allow-Credentials': 'true',
	'Access-Control-Expose-Headers': exactly(['X-Request-Id',
	    'X-Total-Count']),
});

/* Origins the app policy (or the null one) must allow, echoed byte for
 * byte. */
const ALLOWED_ORIGINS = [
	['an exact origin', APP],
	['the exact origin written with :443 in the policy',
	    'https://secure.example.com'],
	['an exact origin sent with its default port :443',
	    'https://app.example.com:443'],
	['a subdomain of *.example.org', 'https://a.example.org'],
	['a deeper subdomain of *.example.org', 'https://a.b.c.example.org'],
	['localhost on a port matched by :*', 'http://localhost:5173'],
	['localhost on port 1 matched by :*', 'http://localhost:1'],
	['localhost on its default port matched by :*', 'http://localhost'],
	['an origin fully matched by the regex',
	    'https://pr-42.preview.example.com'],
	['an exact origin in upper case (echoed as sent)',
	    'https://APP.EXAMPLE.COM'],
	['a subdomain in mixed case (echoed as sent)',
	    'https://Deep.Example.ORG'],
];

/* Look-alikes and malformed origins no policy may match. */
const LONG_ORIGIN = 'https://' + ('a'.repeat(62) + '.').repeat(79) +
    'example.org';
const DENIED_ORIGINS = [
	['the apex of a subdomain pattern', 'https://example.org'],
	['a suffix look-alike without the dot', 'https://evilexample.org'],
	['the pattern host as a subdomain of another',
	    'https://example.org.evil.net'],
	['a subdomain look-alike under another domain',
	    'https://x.example.org.evil.net'],
	['an exact origin with a suffix', 'https://app.example.com.evil.net'],
	['an exact origin with a prefix', 'https://evilapp.example.com'],
	['an exact origin over http instead of https',
	    'http://app.example.com'],
	['a subdomain over http instead of https', 'http://a.example.org'],
	['an exact origin on another port', 'https://app.example.com:8443'],
	['a subdomain on another port', 'https://a.example.org:444'],
	['the port wildcard over https instead of http',
	    'https://localhost:5173'],
	['the port wildcard host as a subdomain',
	    'http://localhost.evil.net:5173'],
	['an exact origin with a trailing slash', 'https://app.example.com/'],
	['an exact origin with a path', 'https://app.example.com/path'],
	['an exact origin with a trailing dot', 'https://app.example.com.'],
	['two origins in one header',
	    'https://evil.example, https://app.example.com'],
	['a regex origin with a suffix',
	    'https://pr-42.preview.example.com.evil.net'],
	['a regex origin with a prefix', 'https://xpr-1.preview.example.com'],
	['a regex origin with letters for digits',
	    'https://pr-x.preview.example.com'],
	[`an over-long origin (${LONG_ORIGIN.length} bytes) under a ` +
	    'subdomain pattern', LONG_ORIGIN],
];

withSetup('enforce policies', { yaml: ENFORCE_YAML }, (env) => {
	/* -- preflight detection -- */

	test('OPTIONS with Origin and Access-Control-Request-Method is a ' +
	    'preflight answered by the proxy with the full set', T,
	    async () => {
		const req = { origin: APP, method: 'PUT', credentials: CRED,
		    headers: [['Content-Type', 'application/json'],
		    ['X-Request-Id', 'r1']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, appPreflightSpec(req));
	});

	test('OPTIONS with Origin but no Access-Control-Request-Method is ' +
	    'forwarded as an actual request', T, async () => {
		const res = await sendActual(env, { origin: APP,
		    method: 'OPTIONS', target: '/echo/options' });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assert.equal(JSON.parse(res.body).method, 'OPTIONS');
		assertCors(res, APP_ACTUAL_SPEC(APP));
		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	test('OPTIONS with Access-Control-Request-Method but no Origin is ' +
	    'forwarded untouched with Vary: Origin', T, async () => {
		const res = await sendActual(env, { method: 'OPTIONS',
		    target: '/echo/no-origin',
		    headers: [['Access-Control-Request-Method', 'PUT']] });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, {});
		assertActualVary(res);
	});

	test('a GET carrying Access-Control-Request-Method is no preflight',
	    T, async () => {
		const res = await sendActual(env, { origin: APP,
		    target: '/echo/get', headers: [
		    ['Access-Control-Request-Method', 'PUT']] });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, APP_ACTUAL_SPEC(APP));
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	/* -- origins: every pattern form, echoed byte for byte -- */

	for (const [what, origin] of ALLOWED_ORIGINS) {
		test(`preflight allows ${what}: ${origin}`, T, async () => {
			const req = { origin, method: 'DELETE',
			    credentials: 'include',
			    headers: [['X-Request-Id', '1']] };
			const res = await sendPreflight(env, req);

			assertAllowedPreflight(res, req,
			    appPreflightSpec(req));
		});
	}

	test('the literal null origin is allowed by the policy that lists ' +
	    'it, echoed as null', T, async () => {
		const req = { origin: 'null', method: 'POST',
		    headers: [['Content-Type', 'application/json']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': 'null',
			'Access-Control-Allow-Methods': covering(['POST'],
			    { within: ['GET', 'POST'], ci: false }),
			'Access-Control-Allow-Headers': covering(
			    ['content-type'], { star: true }),
		});
		const act = await sendActual(env, { origin: 'null' });
		assertCors(act, { 'Access-Control-Allow-Origin': 'null' });
		assertVerdict(fc.corsCheck(act, { origin: 'null' }));
	});

	for (const [what, origin] of DENIED_ORIGINS) {
		test(`denies ${what}: ${origin.slice(0, 60)}`, T, async () => {
			const req = { origin, method: 'PUT',
			    credentials: 'include' };
			const pre = await sendPreflight(env, req);

			assertDeniedPreflight(pre, req,
			    { reason: /origin/i });
			/* The backend's own "Access-Control-Allow-Origin: *"
			 * must not leak through to a denied origin. */
			const act = await sendActual(env, { origin,
			    target: '/cors-own' });
			assert.equal(act.status, 200, show(act));
			assert.equal(act.backendHits, 1);
			assertCors(act, {});
			assertActualVary(act, ['Accept-Encoding']);
			assertVerdict(fc.corsCheck(act, { origin }),
			    'allow-origin-missing');
		});
	}

	/* -- methods -- */

	test('preflight denies a method the list lacks, naming it', T,
	    async () => {
		const req = { origin: APP, method: 'PROPFIND',
		    credentials: 'include' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /PROPFIND/ });
	});

	test('methods are case-sensitive: "patch" is not "PATCH"', T,
	    async () => {
		const req = { origin: APP, method: 'patch',
		    credentials: 'include' };
		const res = await sendPreflight(env, req);

		assertDeniedPreflight(res, req, { reason: /patch/ });
		const up = { ...req, method: 'PATCH' };
		const ok = await sendPreflight(env, up);
		assertAllowedPreflight(ok, up, appPreflightSpec(up));
		/* And a browser would not take PATCH's answer for "patch". */
		assertVerdict(fc.preflightCheck(ok, req), 'method-not-allowed');
	});

	test('with credentials, allow_methods "*" reflects the method, ' +
	    'never a bare *', T, async () => {
		const req = { origin: TOOLS, method: 'PROPFIND',
		    credentials: 'include' };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': TOOLS,
			'Access-Control-Allow-Methods': covering(['PROPFIND'],
			    { ci: false }),
			'Access-Control-Allow-Headers': MAYBE,
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Max-Age': '30',
		});
	});

	test('preflight denies a method outside the null policy\'s list', T,
	    async () => {
		const req = { origin: 'null', method: 'DELETE' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /DELETE/ });
	});

	/* -- headers -- */

	test('requested header names match the list case-insensitively', T,
	    async () => {
		const req = { origin: APP, method: 'PUT', credentials: CRED,
		    headers: [['CONTENT-TYPE', 'application/json'],
		    ['X-REQUEST-ID', '1']] };
		const res = await sendPreflight(env, { ...req, raw: [
		    ['Origin', APP], ['Access-Control-Request-Method', 'PUT'],
		    ['Access-Control-Request-Headers',
		    'CONTENT-TYPE, X-REQUEST-ID']] });

		assertAllowedPreflight(res, req, appPreflightSpec(req));
	});

	test('preflight denies a header the list lacks, naming it', T,
	    async () => {
		const req = { origin: APP, method: 'PUT', credentials: CRED,
		    headers: [['Content-Type', 'application/json'],
		    ['X-Secret', '1']] };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /x-secret/i });
	});

	test('Authorization is named when asked for and listed', T,
	    async () => {
		const req = { origin: APP, method: 'GET', credentials: CRED,
		    headers: [['Authorization', 'Bearer t']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, appPreflightSpec(req));
	});

	test('with credentials, allow_headers "*" names each requested ' +
	    'header, Authorization included, never a bare *', T,
	    async () => {
		const req = { origin: TOOLS, method: 'POST',
		    credentials: 'include', headers: [
		    ['Authorization', 'Bearer t'], ['X-Anything', '1'],
		    ['Content-Type', 'application/json']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': TOOLS,
			'Access-Control-Allow-Methods': covering(['POST'],
			    { ci: false }),
			'Access-Control-Allow-Headers': covering(
			    ['authorization', 'x-anything', 'content-type']),
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Max-Age': '30',
		});
	});

	test('without credentials, allow_headers "*" still names ' +
	    'Authorization', T, async () => {
		const req = { origin: 'null', method: 'POST', headers: [
		    ['Authorization', 'Bearer t'], ['X-Anything', '1']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': 'null',
			'Access-Control-Allow-Methods': covering(['POST'],
			    { within: ['GET', 'POST'], ci: false }),
			'Access-Control-Allow-Headers': covering(
			    ['authorization'], { star: true }),
		});
	});

	test('a preflight without requested headers is allowed without ' +
	    'Allow-Headers needing to say anything', T, async () => {
		const req = { origin: PARTNER, method: 'PUT' };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': PARTNER,
			'Access-Control-Allow-Methods': covering(['PUT'],
			    { within: ['GET', 'HEAD', 'PUT'], ci: false }),
			'Access-Control-Allow-Headers': MAYBE,
		});
		/* No Max-Age and no credentials in that policy. */
		assertVerdict(fc.preflightCheck(res, { ...req,
		    credentials: 'include' }), 'allow-credentials');
	});

	/* -- private network, Max-Age -- */

	test('private network access is granted when asked for and allowed',
	    T, async () => {
		const req = { origin: APP, method: 'GET', credentials: CRED,
		    privateNetwork: true };
		const res = await sendPreflight(env, { ...req, pna: true });

		assertAllowedPreflight(res, req,
		    appPreflightSpec(req, { pna: true }), true);
	});

	test('private network access is denied by a policy without it', T,
	    async () => {
		const req = { origin: PARTNER, method: 'GET',
		    privateNetwork: true };

		assertDeniedPreflight(await sendPreflight(env,
		    { ...req, pna: true }), req,
		    { reason: /private network/i, pna: true });
	});

	test('private network access is denied where the key is absent', T,
	    async () => {
		const req = { origin: TOOLS, method: 'GET',
		    credentials: 'include', privateNetwork: true };

		assertDeniedPreflight(await sendPreflight(env,
		    { ...req, pna: true }), req,
		    { reason: /private network/i, pna: true });
	});

	test('Allow-Private-Network is absent when not asked for', T,
	    async () => {
		const req = { origin: APP, method: 'PUT', credentials: CRED };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, appPreflightSpec(req));
		assert.equal(fc.preflightCheck(res, req).maxAge, 600);
	});

	/* -- actual requests: credentials, expose, Vary, replacement -- */

	test('an actual request gets the origin, credentials and the ' +
	    'exposed list; the page reads only those', T, async () => {
		const res = await sendActual(env, { origin: APP,
		    target: rawTarget(['X-Request-Id:r1', 'X-Total-Count:7',
		    'X-Internal:secret', 'Content-Type:text/plain']) });
		const readable = fc.readableHeaders(res,
		    { credentials: 'include' });

		assert.equal(res.status, 200, show(res));
		assertCors(res, APP_ACTUAL_SPEC(APP));
		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
		assert.deepEqual(readable.sort(), ['content-length',
		    'content-type', 'x-request-id', 'x-total-count']);
	});

	test('expose "*" with credentials lists the response\'s own header ' +
	    'names instead of a bare *', T, async () => {
		const res = await sendActual(env, { origin: TOOLS,
		    target: rawTarget(['X-Request-Id:r1', 'X-Internal:secret',
		    'Content-Type:text/plain']) });
		const readable = fc.readableHeaders(res,
		    { credentials: 'include' });

		assertCors(res, {
			'Access-Control-Allow-Origin': TOOLS,
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Expose-Headers': covering(
			    ['x-request-id', 'x-internal']),
		});
		assertVerdict(fc.corsCheck(res, { origin: TOOLS,
		    credentials: 'include' }));
		for (const n of ['x-request-id', 'x-internal']) {
			assert.ok(readable.includes(n), readable.join());
		}
	});

	test('expose "*" without credentials is sent as *', T, async () => {
		const res = await sendActual(env, { origin: PARTNER,
		    target: rawTarget(['X-Internal:1', 'Set-Cookie:s=1']) });
		const readable = fc.readableHeaders(res);

		assertCors(res, {
			'Access-Control-Allow-Origin': PARTNER,
			'Access-Control-Expose-Headers': '*',
		});
		assertVerdict(fc.corsCheck(res, { origin: PARTNER }));
		assertVerdict(fc.corsCheck(res, { origin: PARTNER,
		    credentials: 'include' }), 'allow-credentials');
		assert.ok(readable.includes('x-internal'), readable.join());
		assert.ok(!readable.includes('set-cookie'), readable.join());
	});

	test('the backend\'s own Access-Control-* headers are replaced by ' +
	    'the policy\'s', T, async () => {
		const res = await sendActual(env, { origin: APP,
		    target: '/cors-own' });

		assert.equal(res.body.toString(), 'cors-own\n');
		assertCors(res, APP_ACTUAL_SPEC(APP));
		assert.deepEqual(h.getHeaders(res, 'x-backend'), ['yes']);
		assertActualVary(res, ['Accept-Encoding']);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
		assert.ok(!fc.readableHeaders(res, { credentials: 'include' })
		    .includes('x-backend'));
	});

	test('the backend\'s Allow-Credentials is removed for a policy ' +
	    'without credentials', T, async () => {
		const res = await sendActual(env, { origin: PARTNER,
		    target: '/cors-own' });

		assertCors(res, {
			'Access-Control-Allow-Origin': PARTNER,
			'Access-Control-Expose-Headers': '*',
		});
		assertVerdict(fc.corsCheck(res, { origin: PARTNER,
		    credentials: 'include' }), 'allow-credentials');
	});

	test('without Origin the response is untouched and gets Vary: ' +
	    'Origin merged', T, async () => {
		const res = await sendActual(env, { target: '/cors-own' });

		assertCors(res, {
			'Access-Control-Allow-Origin': '*',
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Expose-Headers': 'X-Backend',
		});
		assertActualVary(res, ['Accept-Encoding']);
	});

	test('Vary: Origin alone when the upstream sends no Vary', T,
	    async () => {
		const res = await sendActual(env, { origin: APP });

		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	test('Vary that already names origin gets no duplicate', T,
	    async () => {
		const res = await sendActual(env, { origin: APP,
		    target: rawTarget(['Vary:origin, Accept']) });

		assertActualVary(res, ['Accept', 'Origin']);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	test('two upstream Vary headers become one with Origin merged', T,
	    async () => {
		const res = await sendActual(env, { origin: APP,
		    target: rawTarget(['Vary:Accept',
		    'Vary:Accept-Language, accept']) });

		assertActualVary(res, ['Accept', 'Accept-Language']);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	/* -- status codes preserved -- */

	for (const [status, method] of [[201, 'POST'], [404, 'GET'],
	    [500, 'PUT'], [302, 'GET']]) {
		test(`a backend ${status} to ${method} keeps its status and ` +
		    'carries the CORS headers', T, async () => {
			const res = await sendActual(env, { origin: APP,
			    method, target: `/status/${status}?location=/x`,
			    body: method === 'GET' ? null : '{}' });

			assert.equal(res.status, status, show(res));
			assertCors(res, APP_ACTUAL_SPEC(APP));
			assertActualVary(res);
			assertVerdict(fc.corsCheck(res, { origin: APP,
			    credentials: 'include' }));
		});
	}
});

/* ====================================================================
 * wildcard: origin "*" without credentials.
 * ==================================================================== */

const WILDCARD_YAML = (backend) => `
upstream: ${backend.url}
policies:
  - name: public
    origins: ["*"]
    allow_methods: [GET, POST, PUT]
    allow_headers: [Content-Type, X-Custom]
    expose_headers: [X-Request-Id]
    max_age: 60
`;

withSetup('wildcard policy', { yaml: WILDCARD_YAML }, (env) => {
	const ANY = 'https://anything.example';

	test('"*" answers a preflight from any origin with *', T,
	    async () => {
		const req = { origin: ANY, method: 'PUT', headers: [
		    ['Content-Type', 'application/json'], ['X-Custom', '1']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': '*',
			'Access-Control-Allow-Methods': covering(['PUT'],
			    { within: ['GET', 'POST', 'PUT'], ci: false }),
			'Access-Control-Allow-Headers': covering(
			    ['content-type', 'x-custom'],
			    { within: ['content-type', 'x-custom'] }),
			'Access-Control-Max-Age': '60',
		});
	});

	test('a browser refuses "*" for a credentialed request', T,
	    async () => {
		const req = { origin: ANY, method: 'PUT',
		    credentials: 'include' };
		const res = await sendPreflight(env, req);

		assert.equal(res.status, 204, show(res));
		assertVerdict(fc.preflightCheck(res, req),
		    'allow-origin-wildcard-credentials');
		const act = await sendActual(env, { origin: ANY });
		assertVerdict(fc.corsCheck(act, req),
		    'allow-origin-wildcard-credentials');
	});

	test('"*" answers an actual request with *, no credentials, the ' +
	    'exposed list', T, async () => {
		const res = await sendActual(env, { origin: ANY,
		    target: rawTarget(['X-Request-Id:1', 'X-Other:2']) });

		assertCors(res, {
			'Access-Control-Allow-Origin': '*',
			'Access-Control-Expose-Headers': exactly(
			    ['X-Request-Id']),
		});
		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: ANY }));
		assert.deepEqual(fc.readableHeaders(res).sort(),
		    ['content-length', 'x-request-id']);
	});

	test('"*" does not match the null origin', T, async () => {
		const req = { origin: 'null', method: 'PUT' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /origin/i });
		const act = await sendActual(env, { origin: 'null',
		    target: '/cors-own' });
		assertCors(act, {});
		assertVerdict(fc.corsCheck(act, req), 'allow-origin-missing');
	});

	test('"*" still denies a method outside its list', T, async () => {
		const req = { origin: ANY, method: 'DELETE' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /DELETE/ });
	});

	test('"*" denies private network access it does not allow', T,
	    async () => {
		const req = { origin: ANY, method: 'GET',
		    privateNetwork: true };

		assertDeniedPreflight(await sendPreflight(env,
		    { ...req, pna: true }), req,
		    { reason: /private network/i, pna: true });
	});
});

/* ====================================================================
 * errors and routes: a dead upstream, a slow one, tight limits; routes
 * selecting policies and one forwarding preflights.
 * ==================================================================== */

const ERRORS_YAML = (backend, extra) => `
upstream: ${backend.url}
admin: 127.0.0.1:0
upstreams:
  down:
    servers: [http://127.0.0.1:${extra.closedPort}]
  gone:
    servers:
      - http://127.0.0.1:${extra.closedPort}
      - http://127.0.0.1:${extra.closedPort2}
routes:
  - path: /headers-raw
    preflight: forward
  - path: /echo/partner/
    policies: [partner]
  - path: /echo/nobody/
    policies: []
  - path: /down/
    upstream: down
  - path: /gone/
    upstream: gone
  - path: /
limits:
  body_bytes: 1KiB
  header_count: 20
timeouts:
  upstream_read: 300ms
  upstream_connect: 2s
policies:
  - name: app
    origins: [${APP}]
    allow_methods: [GET, POST, PUT]
    allow_headers: [Content-Type]
    allow_credentials: true
  - name: partner
    origins: [${PARTNER}]
    allow_methods: [GET, PUT]
    allow_credentials: false
`;

describe('errors and routes', () => {
	const env = {};

	before(async () => {
		const closedPort = await h.closedPort();
		const closedPort2 = await h.closedPort();

		Object.assign(env, await startSetup({ yaml: ERRORS_YAML,
		    extra: { closedPort, closedPort2 } }));
	});
	after(() => stopSetup(env));

	/* corsproxy_preflights_total by decision, from the admin address. */
	async function metricsOf() {
		const m = /admin on http:\/\/127\.0\.0\.1:(\d+)/
		    .exec(env.proxy.startLine);
		const res = await h.request(Number(m[1]),
		    { target: '/metrics' });
		const re = new RegExp('^corsproxy_preflights_total' +
		    '\\{decision="([^"]+)"\\} (\\d+)$', 'gm');
		const out = {};

		assert.equal(res.status, 200, show(res));
		for (const [, d, n] of res.body.toString('utf8').matchAll(re)) {
			out[d] = Number(n);
		}
		return out;
	}

	test('502 from a refusing upstream carries the CORS headers', T,
	    async () => {
		const res = await sendActual(env, { origin: APP,
		    target: '/down/x' });

		assertProxyError(res, 502);
	});

	test('502 for a denied origin carries no CORS headers', T,
	    async () => {
		const res = await sendActual(env, { origin: h.EVIL_ORIGIN,
		    target: '/down/x' });

		assert.equal(res.status, 502, show(res));
		assertCors(res, {});
		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: h.EVIL_ORIGIN }),
		    'allow-origin-missing');
	});

	test('503 once every server of the group is resting carries the ' +
	    'CORS headers', T, async () => {
		/* Both servers refuse: the first request tries each in
		 * turn and gets 502, and each server then rests for ten
		 * seconds, so the next requests find none to try. */
		const first = await sendActual(env, { origin: APP,
		    target: '/gone/first' });
		assertProxyError(first, 502);
		assert.equal(first.backendHits, 0);

		const t0 = Date.now();
		const res = await sendActual(env, { origin: APP,
		    target: '/gone/second' });
		assertProxyError(res, 503);
		assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
		const body = JSON.parse(res.body.toString('utf8'));
		assert.equal(body.error, 'service_unavailable', show(res));
		assert.equal(body.status, 503, show(res));

		const denied = await sendActual(env, { origin: h.EVIL_ORIGIN,
		    target: '/gone/third' });
		assert.equal(denied.status, 503, show(denied));
		assertCors(denied, {});
		assertActualVary(denied);
		assertVerdict(fc.corsCheck(denied, { origin: h.EVIL_ORIGIN }),
		    'allow-origin-missing');
	});

	test('504 from an upstream slower than upstream_read carries the ' +
	    'CORS headers', T, async () => {
		const t0 = Date.now();
		const res = await sendActual(env, { origin: APP,
		    target: '/slow?ms=3000' });

		assertProxyError(res, 504);
		assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
	});

	test('413 for a body over limits.body_bytes with Content-Length ' +
	    'carries the CORS headers', T, async () => {
		const res = await sendActual(env, { origin: APP, method: 'POST',
		    target: '/echo/big', body: 'x'.repeat(4096) });

		assertProxyError(res, 413);
		assert.equal(res.backendHits, 0);
	});

	test('413 for a chunked body over limits.body_bytes carries the ' +
	    'CORS headers', T, async () => {
		const chunk = 'y'.repeat(1000);
		const body = [1, 2, 3].map(() => '3e8\r\n' + chunk + '\r\n')
		    .join('') + '0\r\n\r\n';
		const res = await sendActual(env, { origin: APP, method: 'POST',
		    target: '/echo/big', body,
		    headers: [['Transfer-Encoding', 'chunked']] });

		assertProxyError(res, 413);
		assert.equal(res.backendHits, 0);
	});

	test('431 for more headers than limits.header_count carries the ' +
	    'CORS headers', T, async () => {
		const many = Array.from({ length: 25 }, (_, i) =>
		    [`X-Filler-${i}`, String(i)]);
		const res = await sendActual(env, { origin: APP,
		    target: '/echo/many', headers: many });

		assertProxyError(res, 431);
		assert.equal(res.backendHits, 0);
	});

	test('a preflight on a route to a dead upstream is still answered ' +
	    'by the proxy', T, async () => {
		const req = { origin: APP, method: 'PUT',
		    credentials: 'include' };
		const res = await sendPreflight(env, { ...req,
		    target: '/down/x' });

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Methods': covering(['PUT'],
			    { within: ['GET', 'POST', 'PUT'], ci: false }),
			'Access-Control-Allow-Headers': MAYBE,
			'Access-Control-Allow-Credentials': 'true',
		});
	});

	test('preflight: forward sends the preflight to the backend and ' +
	    'passes its answer through untouched', T, async () => {
		const req = { origin: APP, method: 'PUT',
		    credentials: 'include' };
		const target = rawTarget([
		    `Access-Control-Allow-Origin:${APP}`,
		    'Access-Control-Allow-Methods:PUT, PATCH',
		    'Access-Control-Allow-Credentials:true',
		    'Access-Control-Max-Age:5']);
		const res = await sendPreflight(env, { ...req, target });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assert.equal(env.backend.stats.log.at(-1).method, 'OPTIONS');
		assertCors(res, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Methods': 'PUT, PATCH',
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Max-Age': '5',
		});
		assertVerdict(fc.preflightCheck(res, req));
	});

	test('preflight: forward adds no CORS of its own to the backend\'s ' +
	    'answer', T, async () => {
		const req = { origin: APP, method: 'PUT',
		    credentials: 'include' };
		const res = await sendPreflight(env, { ...req,
		    target: rawTarget(['X-Plain:1']) });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, {});
		assertVerdict(fc.preflightCheck(res, req),
		    'allow-origin-missing');
	});

	test('preflight: forward leaves the decision to the backend: no ' +
	    'denial logged, logged and counted as forwarded, the backend\'s ' +
	    'answer passed on as sent', T, async () => {
		const unknown = `https://f${Date.now().toString(36)}.example`;

		for (const [origin, policy] of [[unknown, '-'], [APP, 'app']]) {
			const id = 'fwd' + Math.random().toString(36).slice(2);
			const req = { origin, method: 'PUT',
			    credentials: 'include' };
			const sent = [`Access-Control-Allow-Origin:${origin}`,
			    'Access-Control-Allow-Methods:PUT',
			    'Access-Control-Allow-Credentials:true',
			    'Access-Control-Max-Age:7', 'Vary:Accept-Encoding',
			    'Content-Type:text/plain', 'X-Preflight:backend'];
			const before = await metricsOf();
			const res = await sendPreflight(env, { ...req,
			    target: `${rawTarget(sent, 202)}&id=${id}` });

			assert.equal(res.backendHits, 1);
			assert.equal(env.backend.stats.log.at(-1).method,
			    'OPTIONS');
			assertBackendAnswer(res, 202, sent);
			assertVerdict(fc.preflightCheck(res, req));

			const line = await accessLine(env, id);
			assert.match(line, / 202 /, line);
			assert.ok(line.includes(` policy=${policy} ` +
			    'decision=forwarded '), line);
			await h.waitFor(async () => {
				const after = await metricsOf();
				return after.forwarded === before.forwarded + 1;
			}, 3000, 'preflights_total{decision="forwarded"} ' +
			    'to count it');
			const after = await metricsOf();
			assert.equal(after.denied, before.denied);
			assert.equal(after.allowed, before.allowed);
		}
		assert.deepEqual(env.proxy.stderr().split('\n').filter((l) =>
		    / cors: /.test(l) && l.includes(unknown)), []);
	});

	test('an actual request on a preflight: forward route is still ' +
	    'decided by the policy', T, async () => {
		const res = await sendActual(env, { origin: APP,
		    target: rawTarget(['Access-Control-Allow-Origin:*',
		    'Access-Control-Allow-Methods:DELETE']) });

		assertCors(res, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Credentials': 'true',
		});
		assertActualVary(res);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	test('a route listing only one policy denies origins of the others',
	    T, async () => {
		const req = { origin: APP, method: 'PUT',
		    credentials: 'include' };

		assertDeniedPreflight(await sendPreflight(env, { ...req,
		    target: '/echo/partner/x' }), req, { reason: /origin/i });
		const act = await sendActual(env, { origin: APP,
		    target: '/echo/partner/x' });
		assert.equal(act.status, 200, show(act));
		assertCors(act, {});
		assertVerdict(fc.corsCheck(act, req), 'allow-origin-missing');
	});

	test('a route with an empty policies list allows no origin', T,
	    async () => {
		const req = { origin: APP, method: 'PUT',
		    credentials: 'include' };

		assertDeniedPreflight(await sendPreflight(env, { ...req,
		    target: '/echo/nobody/x' }), req, { reason: /origin/i });
		const act = await sendActual(env, { origin: APP,
		    target: '/echo/nobody/x' });
		assert.equal(act.status, 200, show(act));
		assertCors(act, {});
		assertVerdict(fc.corsCheck(act, req), 'allow-origin-missing');
	});

	test('a route listing one policy allows that policy\'s origin', T,
	    async () => {
		const req = { origin: PARTNER, method: 'PUT' };
		const res = await sendPreflight(env, { ...req,
		    target: '/echo/partner/x' });

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': PARTNER,
			'Access-Control-Allow-Methods': covering(['PUT'],
			    { within: ['GET', 'PUT'], ci: false }),
			'Access-Control-Allow-Headers': MAYBE,
		});
	});

	test('the catch-all route applies every policy', T, async () => {
		for (const [origin, creds] of [[APP, 'include'],
		    [PARTNER, 'omit']]) {
			const res = await sendActual(env, { origin,
			    target: '/echo/other' });

			assert.equal(res.status, 200, show(res));
			assertVerdict(fc.corsCheck(res, { origin,
			    credentials: creds }));
		}
	});
});

/* ====================================================================
 * reject: on_denied: reject answers 403 without the backend.
 * ==================================================================== */

const REJECT_YAML = (backend) => `
upstream: ${backend.url}
routes:
  - path: /headers-raw/forward/
    preflight: forward
  - path: /
policies:
  - name: site
    origins: [${APP}]
    allow_credentials: true
    on_denied: reject
`;

withSetup('on_denied: reject', { yaml: REJECT_YAML }, (env) => {
	for (const origin of [h.EVIL_ORIGIN, 'https://app.example.com.evil.net',
	    'null']) {
		test(`an actual request from ${origin} is answered 403 ` +
		    'without the backend', T, async () => {
			const res = await sendActual(env, { origin,
			    target: '/cors-own' });

			assert.equal(res.status, 403, show(res));
			assert.equal(res.backendHits, 0);
			assertCors(res, {});
			assertActualVary(res);
			assert.match(h.getHeader(res, 'content-type') || '',
			    /^application\/json/i);
			JSON.parse(res.body.toString('utf8'));
			assertVerdict(fc.corsCheck(res, { origin }),
			    'allow-origin-missing');
		});
	}

	test('a preflight from a denied origin is 403 without the backend',
	    T, async () => {
		const req = { origin: h.EVIL_ORIGIN, method: 'PUT' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /origin/i });
	});

	test('on a preflight: forward route a preflight from a denied ' +
	    'origin is still 403 without the backend, logged as a denial',
	    T, async () => {
		const origin = `https://r${Date.now().toString(36)}.example`;
		const req = { origin, method: 'PUT' };
		const res = await sendPreflight(env, { ...req,
		    target: '/headers-raw/forward/x' });

		assert.equal(res.status, 403, show(res));
		assert.equal(res.backendHits, 0);
		assertCors(res, {});
		assertVerdict(fc.preflightCheck(res, req), 'status');
		await h.waitFor(() => env.proxy.stderr().split('\n').some((l) =>
		    / cors: denied preflight for PUT /.test(l) &&
		    l.includes(origin)), 3000, 'the denial log line');
		const line = await accessLine(env, `origin="${origin}"`);
		assert.match(line, / 403 .* decision=denied /, line);
	});

	test('the allowed origin still reaches the backend', T, async () => {
		const res = await sendActual(env, { origin: APP });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Credentials': 'true',
		});
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});

	test('a request without Origin is not rejected', T, async () => {
		const res = await sendActual(env, {});

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, {});
		assertActualVary(res);
	});
});

/* ====================================================================
 * report: mode: report denies nothing and logs every would-be denial.
 * ==================================================================== */

const REPORT_POLICIES = `
mode: report
policies:
  - name: site
    origins: [${APP}]
    allow_methods: [GET, POST]
    allow_headers: [Content-Type]
    allow_credentials: true
    allow_private_network: false
    on_denied: reject
`;

withSetup('mode: report', {
	yaml: (backend) => `upstream: ${backend.url}\n`,
	files: { 'report.yaml': REPORT_POLICIES },
	args: ['-p', '@DIR@/report.yaml'],
}, (env) => {
	/* The log lines of a would-be denial matching what, once a first
	 * one has come and a moment has passed for any repeat. */
	async function wouldDenyLine(what) {
		const find = () => env.proxy.stderr().split('\n').filter((l) =>
		    /would deny/i.test(l) && what.test(l));

		await h.waitFor(() => find().length > 0, 3000,
		    `a would-deny log line matching ${what}`).catch((e) => {
			throw new Error(`${e.message}; stderr:\n` +
			    env.proxy.stderr().slice(-2000));
		});
		await h.sleep(150);
		return find();
	}

	test('a preflight asking for an unlisted method is allowed, and ' +
	    'logged', T, async () => {
		const req = { origin: APP, method: 'DELETE',
		    credentials: 'include' };
		const res = await sendPreflight(env, { ...req,
		    target: '/echo/report-method' });

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Methods': covering(['DELETE'],
			    { ci: false }),
			'Access-Control-Allow-Headers': MAYBE,
			'Access-Control-Allow-Credentials': 'true',
		});
		await wouldDenyLine(/'DELETE'.*'site'/);
	});

	test('a preflight asking for an unlisted header is allowed, and ' +
	    'logged', T, async () => {
		const req = { origin: APP, method: 'POST', credentials: CRED,
		    headers: [['X-Secret', '1']] };
		const res = await sendPreflight(env, req);

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Methods': covering(['POST'],
			    { ci: false }),
			'Access-Control-Allow-Headers': covering(['x-secret']),
			'Access-Control-Allow-Credentials': 'true',
		});
		await wouldDenyLine(/x-secret.*'site'/i);
	});

	test('a would-be denial is logged once with the origin, the ' +
	    'policy, the reason and the YAML that allows it', T,
	    async () => {
		const req = { origin: APP, method: 'PURGE',
		    credentials: 'include' };
		const res = await sendPreflight(env, req);

		assert.equal(res.status, 204, show(res));
		assertVerdict(fc.preflightCheck(res, req));
		const lines = await wouldDenyLine(/'PURGE'/);
		assert.equal(lines.length, 1, lines.join('\n'));
		for (const part of [APP, "'site'", 'allow_methods']) {
			assert.ok(lines[0].includes(part),
			    `the line lacks ${part}: ${lines[0]}`);
		}
	});

	test('a preflight asking for private network access is allowed', T,
	    async () => {
		const req = { origin: APP, method: 'GET', credentials: CRED,
		    privateNetwork: true };
		const res = await sendPreflight(env, { ...req, pna: true });

		assertAllowedPreflight(res, req, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Methods': MAYBE,
			'Access-Control-Allow-Headers': MAYBE,
			'Access-Control-Allow-Credentials': 'true',
			'Access-Control-Allow-Private-Network': 'true',
		}, true);
	});

	test('an actual request from an unknown origin is forwarded, not ' +
	    'rejected, and logged', T, async () => {
		const origin = 'https://report-actual.example';
		const res = await sendActual(env, { origin,
		    target: '/echo/report' });

		assert.equal(res.status, 200, show(res));
		assert.equal(res.backendHits, 1);
		assertCors(res, {});
		assertVerdict(fc.corsCheck(res, { origin }),
		    'allow-origin-missing');
		await wouldDenyLine(new RegExp(origin.replace(/\./g, '\\.')));
	});

	test('a preflight from an unknown origin goes to the backend, whose ' +
	    'answer reaches the client unchanged, and one would-be denial ' +
	    'is logged', T, async () => {
		const origin = 'https://report-preflight.example';
		const req = { origin, method: 'PUT' };
		const sent = [`Access-Control-Allow-Origin:${origin}`,
		    'Access-Control-Allow-Methods:PUT, DELETE',
		    'Access-Control-Max-Age:7', 'Vary:Accept-Encoding',
		    'Content-Type:text/plain', 'X-Preflight:backend'];
		const id = 'rep' + Math.random().toString(36).slice(2);
		const res = await sendPreflight(env, { ...req,
		    target: `${rawTarget(sent, 202)}&id=${id}` });

		assert.equal(res.backendHits, 1);
		assert.equal(env.backend.stats.log.at(-1).method, 'OPTIONS');
		assertBackendAnswer(res, 202, sent);
		assertVerdict(fc.preflightCheck(res, req));
		const line = await accessLine(env, id);
		assert.ok(line.includes(' 202 ') &&
		    line.includes(' policy=- decision=reported '), line);
		const file = path.join(env.dir, 'report.yaml');
		const lines = await wouldDenyLine(new RegExp(
		    origin.replace(/\./g, '\\.')));
		assert.equal(lines.length, 1, lines.join('\n'));
		assert.match(lines[0], /^\S+ info: cors: report only: would /,
		    lines[0]);
		assert.ok(lines[0].includes('would deny preflight for PUT ' +
		    `from 127.0.0.1, origin '${origin}': origin '${origin}' ` +
		    "is not allowed by any policy; to allow it, add to " +
		    `policy 'site' at ${file}:4:5: ` +
		    `origins: - ${origin}`), lines[0]);
	});

	test('an allowed request is answered as in enforce mode', T,
	    async () => {
		const res = await sendActual(env, { origin: APP,
		    target: '/cors-own' });

		assertCors(res, {
			'Access-Control-Allow-Origin': APP,
			'Access-Control-Allow-Credentials': 'true',
		});
		assertActualVary(res, ['Accept-Encoding']);
		assertVerdict(fc.corsCheck(res, { origin: APP,
		    credentials: 'include' }));
	});
});

/* ====================================================================
 * denials: in enforce mode each denial is logged once, at info, with
 * the origin, the policy consulted, the reason and the YAML fix.
 * ==================================================================== */

/* Line numbers matter: the log names each policy's FILE:LINE:COLUMN. */
const DENIAL_YAML = (backend) => `upstream: ${backend.url}
routes:
  - path: /echo/partner/
    policies: [partner]
  - path: /
policies:
  - name: app
    origins: [${APP}, "https://*.app.example.com"]
    allow_methods: [GET, POST]
    allow_headers: [Content-Type]
  - name: partner
    origins: [${PARTNER}]
`;

withSetup('denials logged in enforce mode', { yaml: DENIAL_YAML },
    (env) => {
	const file = () => path.join(env.dir, 'proxy.yaml');

	/* The "cors:" info lines that include what, once a first one has
	 * come and a moment has passed for any repeat. */
	async function denialLines(what) {
		const find = () => env.proxy.stderr().split('\n').filter((l) =>
		    / cors: /.test(l) && l.includes(what));

		await h.waitFor(() => find().length > 0, 3000,
		    `a denial log line with ${what}`).catch((e) => {
			throw new Error(`${e.message}; stderr:\n` +
			    env.proxy.stderr().slice(-2000));
		});
		await h.sleep(150);
		return find();
	}

	/* Exactly one line, at info, reading exactly text after the
	 * time. */
	async function assertOneDenialLine(what, text) {
		const lines = await denialLines(what);

		assert.equal(lines.length, 1, lines.join('\n'));
		const m = /^(\S+) info: (.*)$/.exec(lines[0]);
		assert.ok(m, `not an info line: ${lines[0]}`);
		assert.match(m[1], /^\d{4}-\d\d-\d\dT[\d:.]+Z$/, lines[0]);
		assert.equal(m[2], text);
	}

	test('a preflight denied for its method logs one line naming the ' +
	    'origin, the policy, the reason and the fix', T, async () => {
		const req = { origin: APP, method: 'DELETE' };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: /DELETE/ });
		await assertOneDenialLine("'DELETE'", 'cors: denied ' +
		    `preflight for DELETE from 127.0.0.1, origin '${APP}': ` +
		    "method 'DELETE' is not allowed by policy 'app'; to " +
		    `allow it, set in policy 'app' at ${file()}:7:5: ` +
		    'allow_methods: [GET, POST, DELETE]');
	});

	test('a preflight denied for a header logs one line with the ' +
	    'allow_headers fix', T, async () => {
		const name = 'x-denied-' + Date.now().toString(36);
		const req = { origin: APP, method: 'POST',
		    headers: [[name, '1']] };

		assertDeniedPreflight(await sendPreflight(env, req), req,
		    { reason: new RegExp(name) });
		await assertOneDenialLine(name, 'cors: denied preflight for ' +
		    `POST from 127.0.0.1, origin '${APP}': header '${name}' ` +
		    "is not allowed by policy 'app'; to allow it, set in " +
		    `policy 'app' at ${file()}:7:5: allow_headers: ` +
		    `[Content-Type, ${name}]`);
	});

	test('an actual request from an unknown origin logs one line ' +
	    'suggesting the first policy', T, async () => {
		const origin = `https://u${Date.now().toString(36)}.example`;
		const res = await sendActual(env, { origin,
		    target: '/echo/denied' });

		assert.equal(res.status, 200, show(res));
		assertCors(res, {});
		assertVerdict(fc.corsCheck(res, { origin }),
		    'allow-origin-missing');
		await assertOneDenialLine(origin, 'cors: denied request GET ' +
		    `from 127.0.0.1, origin '${origin}': origin '${origin}' ` +
		    "is not allowed by any policy; to allow it, add to " +
		    `policy 'app' at ${file()}:7:5: origins: - ${origin}`);
	});

	test('a denial on a route limited to one policy names that policy',
	    T, async () => {
		/* Allowed by app, which this route does not consult. */
		const origin = `https://r${Date.now().toString(36)}` +
		    '.app.example.com';
		const res = await sendActual(env, { origin, method: 'POST',
		    target: '/echo/partner/x' });

		assert.equal(res.status, 200, show(res));
		assertCors(res, {});
		assertVerdict(fc.corsCheck(res, { origin }),
		    'allow-origin-missing');
		await assertOneDenialLine(origin, 'cors: denied request POST ' +
		    `from 127.0.0.1, origin '${origin}': origin '${origin}' ` +
		    "is not allowed by any policy; to allow it, add to " +
		    `policy 'partner' at ${file()}:11:5: origins: - ${origin}`);
	});

	test('an allowed request logs no denial', T, async () => {
		const origin = `https://a${Date.now().toString(36)}` +
		    '.app.example.com';
		const res = await sendActual(env, { origin,
		    target: '/echo/allowed' });

		assertCors(res, { 'Access-Control-Allow-Origin': origin });
		assertVerdict(fc.corsCheck(res, { origin }));
		/* Its access-log line shows it was handled. */
		await h.waitFor(() => env.proxy.stderr().includes(origin), 3000,
		    'the access-log line');
		await h.sleep(150);
		assert.deepEqual(env.proxy.stderr().split('\n').filter((l) =>
		    / cors: /.test(l) && l.includes(origin)), []);
	});
});
