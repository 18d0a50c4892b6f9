'use strict';
/*
 * `corsproxy explain`: the route, the policy and where it is defined,
 * the verdict and its reason, the exact CORS headers, and for a denial
 * the YAML change that would allow it; exit 0 allowed, 1 denied.  The
 * suggested change is applied to a copy of the policy file and must
 * then make the same request allowed.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const h = require('./harness');

const T = { timeout: 20000 };

const POLICIES = `mode: enforce
policies:
  - name: app
    origins:
      - https://app.example.com
    allow_methods: [GET, POST, PUT]
    allow_headers: [Content-Type]
    expose_headers: [X-Request-Id]
    allow_credentials: true
    max_age: 600
`;

function writePolicies(t, text = POLICIES) {
	return h.writeConfig(h.tempDir(t), text, 'policies.yaml');
}

test('explain shows an allowed preflight with its exact headers', T,
    async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'PUT', '--header',
	    'Content-Type']);

	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /^route: +\/ -> upstream default/m);
	assert.match(r.stdout, new RegExp(`policy: +app \\(${file}:3:5\\)`));
	assert.match(r.stdout, /^preflight: allowed$/m);
	assert.match(r.stdout, /^response: 204 No Content$/m);
	assert.match(r.stdout,
	    /^ {2}Access-Control-Allow-Origin: https:\/\/app\.example\.com$/m);
	assert.match(r.stdout,
	    /^ {2}Access-Control-Allow-Methods: GET, POST, PUT$/m);
	assert.match(r.stdout, /^ {2}Access-Control-Allow-Headers: Content-Type$/m);
	assert.match(r.stdout, /^ {2}Access-Control-Max-Age: 600$/m);
	assert.match(r.stdout, /^ {2}Access-Control-Expose-Headers: X-Request-Id$/m);
	assert.match(r.stdout, /^verdict: +allowed$/m);
});

test('explain names the refused method and the YAML that allows it', T,
    async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'DELETE']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /^preflight: denied$/m);
	assert.match(r.stdout,
	    /reason: +method 'DELETE' is not allowed by policy 'app'/);
	assert.match(r.stdout, /^response: 403 Forbidden$/m);
	assert.doesNotMatch(r.stdout, /Access-Control-Allow-/);
	assert.match(r.stdout, new RegExp(
	    `to allow it, set in policy 'app' at ${file}:3:5:`));
	assert.match(r.stdout, /^ {4}allow_methods: \[GET, POST, PUT, DELETE\]$/m);
});

test('the change explain suggests for a method makes it allowed', T,
    async (t) => {
	const file = writePolicies(t);
	const denied = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'PATCH']);
	const change = /^ {4}(allow_methods: .*)$/m.exec(denied.stdout);

	assert.equal(denied.code, 1);
	assert.ok(change, denied.stdout);
	fs.writeFileSync(file, POLICIES.replace(
	    'allow_methods: [GET, POST, PUT]', change[1]));
	const allowed = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'PATCH']);
	assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
});

test('the origin explain suggests for null, added as written, allows it',
    T, async (t) => {
	const file = writePolicies(t);
	const denied = await h.runCli(['explain', '-p', file, '--origin',
	    'null']);
	const item = /^ {6}(- .*)$/m.exec(denied.stdout);

	assert.equal(denied.code, 1, denied.stdout + denied.stderr);
	assert.ok(item, denied.stdout);
	assert.equal(item[1], '- "null"');
	fs.writeFileSync(file, POLICIES.replace(
	    '      - https://app.example.com\n',
	    '      - https://app.example.com\n      ' + item[1] + '\n'));
	const allowed = await h.runCli(['explain', '-p', file, '--origin',
	    'null']);
	assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
	assert.match(allowed.stdout, /^ {2}Access-Control-Allow-Origin: null$/m);
});

test('explain suggests no origin for an Origin with a path', T,
    async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://new.example.com/app']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /is not scheme:\/\/host\[:port\] as browsers send/);
	assert.doesNotMatch(r.stdout, /to allow it|origins:/);
});

test('explain suggests adding an unknown origin to the first policy', T,
    async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://new.example.com']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /^request: +denied$/m);
	assert.match(r.stdout,
	    /origin 'https:\/\/new\.example\.com' is not allowed by any policy/);
	assert.match(r.stdout, /forwarded without CORS headers/);
	assert.match(r.stdout, new RegExp(
	    `to allow it, add to policy 'app' at ${file}:3:5:\\n` +
	    ' {4}origins:\\n {6}- https://new\\.example\\.com\\n'));
});

test('explain refuses a header the policy does not list', T, async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'GET', '--header',
	    'X-Debug']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout,
	    /header 'X-Debug' is not allowed by policy 'app'/i);
	assert.match(r.stdout, /allow_headers: \[Content-Type, X-Debug\]/);
});

test('explain asks private-network access of the development defaults',
    T, async () => {
	const r = await h.runCli(['explain', '--origin',
	    'http://localhost:5173', '--method', 'GET', '--private-network']);

	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /^ {2}Access-Control-Allow-Private-Network: true$/m);
	assert.match(r.stdout, /Access-Control-Request-Private-Network/);
});

test('explain without --origin is a usage error', T, async () => {
	const r = await h.runCli(['explain', '--method', 'GET']);

	assert.equal(r.code, 2);
	assert.match(r.stderr, /--origin is required/);
	assert.match(r.stderr, /usage: corsproxy explain/);
});

test('explain follows routes: a path selects its route and policies', T,
    async (t) => {
	const dir = h.tempDir(t);
	const config = h.writeConfig(dir, `upstream: http://127.0.0.1:9
upstreams:
  admin:
    servers: [http://127.0.0.1:10]
routes:
  - path: /admin/
    upstream: admin
    policies: [internal]
policies:
  policies:
    - name: public
      origins: ['https://app.example.com']
    - name: internal
      origins: ['https://admin.example.com']
`);
	const pub = await h.runCli(['explain', '-c', config, '--origin',
	    'https://app.example.com', '--path', '/admin/users']);
	const adm = await h.runCli(['explain', '-c', config, '--origin',
	    'https://admin.example.com', '--path', '/admin/users']);

	assert.equal(pub.code, 1, pub.stdout + pub.stderr);
	assert.match(pub.stdout, /^route: +\/admin\/ -> upstream admin/m);
	assert.match(pub.stdout, /^policies: internal$/m);
	assert.equal(adm.code, 0, adm.stdout + adm.stderr);
	assert.match(adm.stdout, /policy: +internal \(/);
});

test('explain never lets a regex origin allow null', T, async (t) => {
	const file = writePolicies(t, `policies:
  - name: broad
    origins:
      - regex: '[a-z]+(://[a-z0-9.-]+)?'
    allow_credentials: true
`);
	const r = await h.runCli(['explain', '-p', file, '--origin', 'null']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /^request: +denied$/m);
	assert.match(r.stdout,
	    /^reason: +origin 'null' is not allowed by any policy$/m);
	assert.match(r.stdout, /^verdict: +denied$/m);
});

test('explain matches a regex origin whatever the case of scheme and host',
    T, async (t) => {
	const file = writePolicies(t, `policies:
  - name: previews
    origins:
      - regex: '^https://pr-[0-9]+\\.preview\\.example\\.com$'
`);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'HTTPS://PR-7.Preview.Example.COM']);

	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /^policy: +previews \(/m);
	assert.match(r.stdout, /^verdict: +allowed$/m);
});

const REPORT_POLICIES = POLICIES.replace('mode: enforce', 'mode: report');

test('explain in report mode: an unknown origin is left to the backend, ' +
    'with the reason and the fix, exit 0', T, async (t) => {
	const file = writePolicies(t, REPORT_POLICIES);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://new.example.com', '--method', 'PUT']);

	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /^policies: app \(report only\)$/m);
	assert.match(r.stdout, /^preflight: would be denied \(report mode: /m);
	assert.match(r.stdout, /^preflight: .*forwarded to the backend/m);
	assert.match(r.stdout, /^response: the backend's answer to the /m);
	assert.doesNotMatch(r.stdout, /403|Access-Control-Allow-/);
	assert.match(r.stdout,
	    /origin 'https:\/\/new\.example\.com' is not allowed by any policy/);
	assert.match(r.stdout, new RegExp(
	    `to allow it, add to policy 'app' at ${file}:3:5:\\n` +
	    ' {4}origins:\\n {6}- https://new\\.example\\.com\\n'));
	assert.match(r.stdout, /^request: +would be denied \(report mode: /m);
	assert.match(r.stdout,
	    /^verdict: +left to the backend \(report mode: /m);
	assert.doesNotMatch(r.stdout, /^verdict: +(allowed|denied)/m);
});

test('explain in report mode: a would-be denial on a matched policy is ' +
    'answered as allowed, with the reason and the fix, exit 0', T,
    async (t) => {
	const file = writePolicies(t, REPORT_POLICIES);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'DELETE']);

	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout,
	    /^preflight: would be denied \(report mode: answered as allowed\)$/m);
	assert.match(r.stdout,
	    /^reason: +method 'DELETE' is not allowed by policy 'app'$/m);
	assert.match(r.stdout, /^response: 204 No Content$/m);
	assert.match(r.stdout, /^ {2}Access-Control-Allow-Methods: DELETE$/m);
	assert.match(r.stdout, /^ {4}allow_methods: \[GET, POST, PUT, DELETE\]$/m);
	assert.match(r.stdout, /^request: +allowed$/m);
	assert.match(r.stdout,
	    /^verdict: +allowed \(report mode: enforce mode would deny it\)$/m);
});

test('explain --host selects a route by host, as the Host header does', T,
    async (t) => {
	const config = h.writeConfig(h.tempDir(t), `upstream: http://127.0.0.1:9
upstreams:
  api:
    servers: [http://127.0.0.1:10]
routes:
  - host: api.example.com
    path: /
    upstream: api
    policies: [api]
  - path: /
    policies: [site]
policies:
  policies:
    - name: site
      origins: ['https://site.example.com']
    - name: api
      origins: ['https://app.example.com']
`);
	const args = ['explain', '-c', config, '--origin',
	    'https://app.example.com'];
	const api = await h.runCli([...args, '--host', 'API.example.com:8443']);
	const site = await h.runCli([...args, '--host', 'www.example.com']);
	const none = await h.runCli(args);

	assert.equal(api.code, 0, api.stdout + api.stderr);
	assert.match(api.stdout,
	    /^request: .*\(Host: API\.example\.com:8443\)/m);
	assert.match(api.stdout,
	    /^route: +api\.example\.com\/ -> upstream api/m);
	assert.match(api.stdout, /^policies: api$/m);
	for (const r of [site, none]) {
		assert.equal(r.code, 1, r.stdout + r.stderr);
		assert.match(r.stdout, /^route: +\/ -> upstream default/m);
		assert.match(r.stdout, /^policies: site$/m);
	}
	const missing = await h.runCli(['explain', '--origin',
	    'https://app.example.com', '--host']);
	assert.equal(missing.code, 2);
	assert.match(missing.stderr, /missing value for '--host'/);
	assert.match(missing.stderr, /\[--host HOST\]/);
});

test('explain suggests no change for a header name that is not a token', T,
    async (t) => {
	const file = writePolicies(t, POLICIES.replace(
	    'allow_headers: [Content-Type]', 'allow_headers: "*"'));
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--method', 'PUT', '--header', 'x(b']);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /^preflight: denied$/m);
	assert.match(r.stdout, new RegExp("^reason: +'x\\(b' in " +
	    'Access-Control-Request-Headers is not a valid header name$', 'm'));
	assert.match(r.stdout,
	    /^no policy change allows it: 'x\(b' is not a valid header name$/m);
	assert.doesNotMatch(r.stdout, /to allow it|allow_headers/);
});

test('explain suggests no change for an over-long ' +
    'Access-Control-Request-Headers', T, async (t) => {
	const file = writePolicies(t);
	const r = await h.runCli(['explain', '-p', file, '--origin',
	    'https://app.example.com', '--header', 'X-' + 'a'.repeat(9000)]);

	assert.equal(r.code, 1, r.stdout + r.stderr);
	assert.match(r.stdout, /^no policy change allows it: Access-Control-/m);
	assert.match(r.stdout, /longer than 8192 bytes$/m);
	assert.doesNotMatch(r.stdout, /to allow it|allow_headers/);
});
