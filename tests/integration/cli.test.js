'use strict';
/*
 * The command line: --version, --help, usage errors (exit 2), --check
 * (exit 0 valid, 1 invalid, every error as FILE:LINE:COLUMN), load-time
 * warnings, the start-up line, several listeners and upstreams, flags
 * over the file, and a policy file found beside the config that names it.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const h = require('./harness');

const T = { timeout: 20000 };

function projectVersion() {
	const meson = fs.readFileSync(path.join(h.sourceRoot(), 'meson.build'),
	    'utf8');
	const m = /version\s*:\s*'([^']+)'/.exec(meson);

	return m ? m[1] : null;
}

function nonEmptyLines(text) {
	return text.split('\n').filter((l) => l.trim().length);
}

test('--version prints the version and exits 0', T, async () => {
	const r = await h.runCli(['--version']);
	const version = projectVersion();

	assert.equal(r.code, 0, r.stderr);
	assert.ok(version, 'no version in meson.build');
	assert.ok(r.stdout.includes(version),
	    `--version printed ${JSON.stringify(r.stdout)}, not ${version}`);
});

test('--help prints usage naming every option and exits 0', T, async () => {
	const r = await h.runCli(['--help']);

	assert.equal(r.code, 0, r.stderr);
	for (const opt of ['-c', '-p', '-l', '-u', '-o', '-w', '--check']) {
		const re = new RegExp(`(^|[\\s\\[,])${opt}\\b`, 'm');
		assert.match(r.stdout, re, `--help does not name ${opt}`);
	}
	assert.match(r.stdout, /usage/i);
});

test('an unknown flag exits 2 with an error line and a usage hint', T,
    async () => {
	const r = await h.runCli(['--bogus']);
	const lines = nonEmptyLines(r.stderr);

	assert.equal(r.code, 2, r.stderr);
	assert.equal(r.stdout, '');
	assert.ok(lines.length >= 1);
	assert.match(lines[0], /--bogus/, 'first stderr line names the flag');
	assert.match(r.stderr, /--help|usage/i);
});

test('a flag without its value exits 2 with a usage hint', T, async () => {
	const r = await h.runCli(['-l']);

	assert.equal(r.code, 2, r.stderr);
	assert.match(nonEmptyLines(r.stderr)[0] || '', /-l\b/);
	assert.match(r.stderr, /--help|usage/i);
});

test('--check accepts proxy.yaml.example and prints a one-line summary', T,
    async () => {
	const r = await h.runCli(['--check', '-c', 'proxy.yaml.example']);

	assert.equal(r.code, 0, r.stderr);
	assert.equal(nonEmptyLines(r.stdout).length, 1,
	    `--check printed ${JSON.stringify(r.stdout)}`);
	assert.doesNotMatch(r.stderr, /error/i);
});

test('--check reports every error as FILE:LINE:COLUMN and exits 1', T,
    async (t) => {
	const dir = h.tempDir(t);
	/* Two errors: a misspelt key at 2:1 and a bad duration whose value
	 * starts at 5:18. */
	const file = h.writeConfig(dir, [
		'# broken on purpose',
		'lisen: 127.0.0.1:8080',
		'upstream: http://127.0.0.1:3000',
		'timeouts:',
		'  upstream_read: 10 parsecs',
		'',
	].join('\n'));
	const r = await h.runCli(['--check', '-c', file]);
	const errors = nonEmptyLines(r.stderr).filter((l) =>
	    l.startsWith(`${file}:`));

	assert.equal(r.code, 1, r.stderr);
	assert.equal(errors.length, 2, r.stderr);
	const unknown = errors.find((l) => l.startsWith(`${file}:2:1: error: `));
	const duration = errors.find((l) =>
	    l.startsWith(`${file}:5:18: error: `));
	assert.ok(unknown, `no error at 2:1 in:\n${r.stderr}`);
	assert.match(unknown, /lisen/);
	assert.match(unknown, /did you mean 'listen'/);
	assert.ok(duration, `no error at 5:18 in:\n${r.stderr}`);
	assert.match(duration, /upstream_read|parsecs|duration/);
});

/* A valid config with one of each load-time warning, and the lines
 * --check and start-up print for it, FILE:LINE:COLUMN first. */
function warningsConfig(dir, upstream) {
	const file = h.writeConfig(dir, [
		`upstream: ${upstream}`,
		'policies:',
		'  - name: risky',
		'    origins:',
		'      - "null"',
		'      - https://*.example.org',
		'      - http://app.example.org',
		'    allow_credentials: true',
		'    max_age: 7201',
		'  - name: long',
		'    origins: [https://a.example.org]',
		'    max_age: 86401',
		'',
	].join('\n'));
	const lines = [
		`${file}:5:9: warning: origin 'null' is allowed: sandboxed ` +
		    'iframes, local files and redirected requests all send ' +
		    'it, so any site can obtain it',
		`${file}:6:9: warning: 'https://*.example.org' with ` +
		    'credentials trusts every subdomain, present and future: ' +
		    "a hijacked subdomain could read your users' data",
		`${file}:7:9: warning: 'http://app.example.org' is plain ` +
		    'http with credentials: anyone on the network path can ' +
		    "inject script into it and read your users' data; use " +
		    'https',
		`${file}:9:14: warning: max_age 7201 is longer than Chromium ` +
		    'keeps a preflight: it caps it at 7200 seconds',
		`${file}:12:14: warning: max_age 86401 is longer than any ` +
		    'browser keeps a preflight: Firefox caps it at 86400 ' +
		    'seconds and Chromium at 7200',
	];

	return { file, lines };
}

function warningLines(text) {
	return text.split('\n').filter((l) => / warning: /.test(l));
}

test('--check prints each load-time warning at FILE:LINE:COLUMN and ' +
    'exits 0', T, async (t) => {
	const { file, lines } = warningsConfig(h.tempDir(t),
	    'http://127.0.0.1:9');
	const r = await h.runCli(['--check', '-c', file]);

	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(warningLines(r.stderr), lines);
	assert.doesNotMatch(r.stderr, /error/i);
	assert.equal(nonEmptyLines(r.stdout).length, 1, r.stdout);
});

test('start-up prints the same load-time warnings and still serves', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const { file, lines } = warningsConfig(h.tempDir(t), backend.url);
	const proxy = await h.startProxy(['-c', file], { t });
	const { echo } = await h.echo(proxy.port, { target: '/echo/warned' });

	assert.equal(echo.url, '/echo/warned');
	assert.deepEqual(warningLines(proxy.stderr()), lines);
});

for (const env of ['production', 'staging', 'development']) {
	test(`--check accepts policies/${env}.yaml`, T, async () => {
		const r = await h.runCli(['--check', '-p',
		    `policies/${env}.yaml`]);

		assert.equal(r.code, 0, r.stderr);
		assert.doesNotMatch(r.stderr, /error/i);
	});
}

test('the start-up line names the listen address, upstream and origins', T,
    async (t) => {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url], { t });
	const line = proxy.startLine;

	assert.match(line, /^corsproxy \S+: /);
	assert.ok(line.includes(`listening on http://127.0.0.1:${proxy.port}`),
	    line);
	assert.ok(line.includes(`forwarding to ${backend.url}`), line);
	for (const o of ['http://localhost:*', 'http://127.0.0.1:*',
	    'http://[::1]:*']) {
		assert.ok(line.includes(o), `${o} missing: ${line}`);
	}
	assert.notEqual(proxy.port, 0);
	const { echo } = await h.echo(proxy.port);
	assert.equal(echo.url, '/echo');
});

test('with no arguments listens on 127.0.0.1:8080 and forwards to ' +
    '127.0.0.1:3000', T, async (t) => {
	let proxy;

	try {
		proxy = await h.startProxy([], { t, noListen: true,
		    workers: null });
	} catch (e) {
		/* Someone else holds 8080 here: nothing to learn. */
		if (/in use|EADDRINUSE/i.test(e.message)) {
			t.skip('127.0.0.1:8080 is in use on this machine');
			return;
		}
		throw e;
	}
	assert.deepEqual(proxy.addresses.map((a) => `${a.host}:${a.port}`),
	    ['127.0.0.1:8080'], proxy.startLine);
	assert.ok(proxy.startLine.includes(
	    'forwarding to http://127.0.0.1:3000'), proxy.startLine);
	for (const o of ['http://localhost:*', 'http://127.0.0.1:*',
	    'http://[::1]:*']) {
		assert.ok(proxy.startLine.includes(o), proxy.startLine);
	}
	const res = await h.request(8080, { method: 'OPTIONS',
	    target: '/api', headers: [['Origin', h.DEV_ORIGIN],
	    ['Access-Control-Request-Method', 'DELETE']] });
	assert.equal(res.status, 204, res.statusLine);
});

test('-o origins appear in the start-up line', T, async (t) => {
	const backend = await h.backendFor(t);
	const proxy = await h.startProxy(['-u', backend.url,
	    '-o', 'https://app.test'], { t });

	assert.ok(proxy.startLine.includes('https://app.test'),
	    proxy.startLine);
	assert.ok(!proxy.startLine.includes('http://localhost:*'),
	    proxy.startLine);
});

test('-l given twice listens on both addresses', T, async (t) => {
	const backend = await h.backendFor(t);
	const v6 = await h.ipv6Loopback();
	const args = ['-u', backend.url, '-l', '127.0.0.1:0'];

	if (v6) {
		args.push('-l', '[::1]:0');
	} else {
		/* No IPv6 loopback here: a second IPv4 listener still
		 * shows that -l repeats. */
		args.push('-l', '127.0.0.1:0');
	}
	const proxy = await h.startProxy(args, { t });

	assert.equal(proxy.addresses.length, 2, proxy.startLine);
	assert.equal(proxy.addresses[0].host, '127.0.0.1');
	assert.equal(proxy.addresses[1].host, v6 ? '::1' : '127.0.0.1');
	if (v6) {
		assert.match(proxy.startLine, /http:\/\/\[::1\]:\d+/);
	}
	for (const a of proxy.addresses) {
		const { echo } = await h.echo(a.port, { host: a.hostText,
		    connectHost: a.host,
		    target: `/echo/via/${a.port}` });
		assert.equal(echo.url, `/echo/via/${a.port}`);
	}
	assert.notEqual(proxy.addresses[0].port, proxy.addresses[1].port);
});

test('-u given twice spreads requests over both servers', T, async (t) => {
	const a = await h.backendFor(t, { name: 'a' });
	const b = await h.backendFor(t, { name: 'b' });
	const proxy = await h.startProxy(['-u', a.url, '-u', b.url], { t });
	const seen = { a: 0, b: 0 };

	for (let i = 0; i < 10; i++) {
		const { echo } = await h.echo(proxy.port,
		    { target: `/echo/lb/${i}` });
		seen[echo.backend]++;
	}
	assert.equal(seen.a + seen.b, 10);
	assert.ok(seen.a >= 2 && seen.b >= 2,
	    `requests per server: ${JSON.stringify(seen)}`);
});

test('-u overrides the upstream of the config file', T, async (t) => {
	const backend = await h.backendFor(t);
	const dead = await h.closedPort();
	/* The file's listen address is used: no -l given.  The file
	 * refuses port 0, so it names a port that was free a moment ago. */
	const port = await h.closedPort();
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
listen: 127.0.0.1:${port}
upstream: http://127.0.0.1:${dead}
`);
	const proxy = await h.startProxy(['-c', file, '-u', backend.url],
	    { t, noListen: true });

	assert.equal(proxy.port, port, proxy.startLine);

	assert.ok(proxy.startLine.includes(`forwarding to ${backend.url}`),
	    proxy.startLine);
	const { echo } = await h.echo(proxy.port, { target: '/echo/override' });
	assert.equal(echo.url, '/echo/override');
	assert.equal(backend.count('/echo/override'), 1);
});

test('-l overrides the listen address of the config file', T, async (t) => {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	/* 192.0.2.1 (TEST-NET-1) is not on this machine: binding it would
	 * fail, so the proxy only starts if -l replaced it. */
	const file = h.writeConfig(dir, `
listen: 192.0.2.1:9
upstream: ${backend.url}
`);
	const proxy = await h.startProxy(['-c', file, '-l', '127.0.0.1:0'],
	    { t });

	assert.equal(proxy.addresses.length, 1, proxy.startLine);
	assert.equal(proxy.host, '127.0.0.1');
	const { echo } = await h.echo(proxy.port);
	assert.equal(echo.url, '/echo');
});

/* A preflight for PUT with a custom header, which only a policy with
 * the development defaults' methods and headers allows. */
function putPreflight(port, origin, extra = []) {
	return h.request(port, { method: 'OPTIONS', target: '/echo/api',
	    headers: [['Origin', origin],
	    ['Access-Control-Request-Method', 'PUT'],
	    ['Access-Control-Request-Headers', 'x-custom'], ...extra] });
}

function allowOrigin(res) {
	return h.getHeaders(res, 'access-control-allow-origin');
}

test('-o replaces the origins of the config file and keeps the other ' +
    'development defaults', T, async (t) => {
	const backend = await h.backendFor(t);
	const file = h.writeConfig(h.tempDir(t), `
upstream: ${backend.url}
policies:
  - name: only
    origins: [https://old.test]
    allow_methods: [GET]
`);
	const proxy = await h.startProxy(['-c', file, '-o', 'https://new.test'],
	    { t });
	const oldPre = await putPreflight(proxy.port, 'https://old.test');
	const newPre = await putPreflight(proxy.port, 'https://new.test',
	    [['Access-Control-Request-Private-Network', 'true']]);
	const oldGet = await h.request(proxy.port, { target: '/echo/old',
	    headers: [['Origin', 'https://old.test']] });
	const newGet = await h.request(proxy.port, { target: '/echo/new',
	    headers: [['Origin', 'https://new.test']] });

	assert.equal(oldPre.status, 403, oldPre.statusLine);
	assert.deepEqual(allowOrigin(oldPre), []);
	assert.deepEqual(allowOrigin(oldGet), []);

	/* The file's policy allowed GET only: PUT, a custom header,
	 * credentials and private-network access are the development
	 * defaults that -o keeps. */
	assert.equal(newPre.status, 204, newPre.statusLine);
	assert.deepEqual(allowOrigin(newPre), ['https://new.test']);
	assert.ok(h.headerTokens(newPre, 'access-control-allow-methods')
	    .includes('PUT'), JSON.stringify(newPre.headers));
	assert.ok(h.headerTokens(newPre, 'access-control-allow-headers')
	    .map((v) => v.toLowerCase()).includes('x-custom'),
	    JSON.stringify(newPre.headers));
	assert.deepEqual(h.getHeaders(newPre,
	    'access-control-allow-credentials'), ['true']);
	assert.deepEqual(h.getHeaders(newPre,
	    'access-control-allow-private-network'), ['true']);
	assert.deepEqual(allowOrigin(newGet), ['https://new.test']);

	/* The rest of the file still holds: its upstream served both. */
	assert.equal(backend.count('/echo/old'), 1);
	assert.equal(backend.count('/echo/new'), 1);
});

test('-p replaces the policies the config file names', T, async (t) => {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
policies: old.yaml
`);
	h.writeConfig(dir, `
policies:
  - name: old
    origins: [https://old.test]
`, 'old.yaml');
	const swapped = h.writeConfig(dir, `
policies:
  - name: swapped
    origins: [https://new.test]
`, 'new.yaml');
	const proxy = await h.startProxy(['-c', file, '-p', swapped], { t });
	const oldGet = await h.request(proxy.port, { target: '/echo/old',
	    headers: [['Origin', 'https://old.test']] });
	const newGet = await h.request(proxy.port, { target: '/echo/new',
	    headers: [['Origin', 'https://new.test']] });

	assert.equal(oldGet.status, 200, oldGet.statusLine);
	assert.deepEqual(allowOrigin(oldGet), []);
	assert.equal(newGet.status, 200, newGet.statusLine);
	assert.deepEqual(allowOrigin(newGet), ['https://new.test']);
	await h.waitFor(() => /policy=swapped/.test(proxy.stderr()), 2000,
	    'an access-log line naming policy swapped');
	assert.doesNotMatch(proxy.stderr(), /policy=old\b/);
});

test('-w overrides the workers of the config file', T, async (t) => {
	const backend = await h.backendFor(t);
	const file = h.writeConfig(h.tempDir(t), `
upstream: ${backend.url}
workers: 1
`);
	const proxy = await h.startProxy(['-c', file, '-w', '2'], { t });
	let workers = [];

	assert.match(proxy.startLine, /; 2 workers$/);
	/* Every process of the group but the master is a worker. */
	await h.waitFor(() => {
		workers = h.groupPids(proxy.pid)
		    .filter((p) => p !== proxy.pid);
		return workers.length === 2;
	}, 5000, '2 workers');
	const { echo } = await h.echo(proxy.port, { target: '/echo/two' });
	assert.equal(echo.url, '/echo/two');
});

test('a policies file named in the config is found next to the config, ' +
    'not in the working directory', T, async (t) => {
	const backend = await h.backendFor(t);
	const cwd = h.tempDir(t);
	const dir = h.tempDir(t);
	const policy = (name, origin) => `
policies:
  - name: ${name}
    origins: [${origin}]
`;
	const file = h.writeConfig(dir, `
upstream: ${backend.url}
policies: sub/p.yaml
`);

	/* The same relative name in the working directory allows another
	 * origin: reading it instead would show. */
	fs.mkdirSync(path.join(dir, 'sub'));
	fs.mkdirSync(path.join(cwd, 'sub'));
	h.writeConfig(dir, policy('beside', 'https://beside.test'),
	    'sub/p.yaml');
	h.writeConfig(cwd, policy('decoy', 'https://decoy.test'),
	    'sub/p.yaml');

	/* Named absolutely, and relatively to the working directory. */
	for (const config of [file, path.relative(cwd, file)]) {
		const proxy = await h.startProxy(['-c', config], { t, cwd });
		const beside = await h.request(proxy.port, {
		    target: '/echo/beside',
		    headers: [['Origin', 'https://beside.test']] });
		const decoy = await h.request(proxy.port, {
		    target: '/echo/decoy',
		    headers: [['Origin', 'https://decoy.test']] });

		assert.deepEqual(allowOrigin(beside), ['https://beside.test'],
		    config);
		assert.deepEqual(allowOrigin(decoy), [], config);
		await h.waitFor(() => /policy=beside/.test(proxy.stderr()),
		    2000, 'an access-log line naming policy beside');
	}
});

test('a TLS listener is refused at start, and --check warns of it', T,
    async (t) => {
	const dir = h.tempDir(t);
	const file = h.writeConfig(dir, `upstream: http://127.0.0.1:9
listen:
  - address: 127.0.0.1:0
    cert: ${dir}/tls.crt
    key: ${dir}/tls.key
`);
	const check = await h.runCli(['--check', '-c', file]);
	const run = await h.runCli(['-c', file]);

	assert.equal(check.code, 0, check.stderr);
	assert.match(check.stderr, new RegExp(`${file}:3:5: warning: TLS ` +
	    'listeners are not implemented'));
	assert.equal(run.code, 1, run.stderr);
	assert.match(run.stderr, /TLS listeners are not implemented/);
	assert.doesNotMatch(run.stderr, /listening on/);
});

test('each shipped policy file swaps into the example configuration', T,
    async () => {
	for (const env of ['development', 'staging', 'production']) {
		const r = await h.runCli(['--check', '-c', 'proxy.yaml.example',
		    '-p', `policies/${env}.yaml`]);

		assert.equal(r.code, 0, `${env}: ${r.stderr}`);
		assert.match(r.stdout, new RegExp(`from policies/${env}\\.yaml`));
	}
});
