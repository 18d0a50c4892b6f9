'use strict';
/*
 * The admin address: /healthz, and /metrics in Prometheus text format
 * counting requests by decision and status class, preflights, upstream
 * errors, open connections and request durations.  Report mode counts
 * every would-be denial.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const h = require('./harness');

const T = { timeout: 20000 };

async function setup(t, policies) {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const config = h.writeConfig(dir, `upstream: http://127.0.0.1:${backend.port}
admin: 127.0.0.1:0
policies:
${policies}
`);
	const proxy = await h.startProxy(['-c', config], { t });
	const m = /admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(proxy.startLine);

	assert.ok(m, `no admin address in: ${proxy.startLine}`);
	return { backend, proxy, admin: Number(m[1]) };
}

/* Returns the value of the sample called name{labels} in text. */
function sample(text, name) {
	const line = text.split('\n').find((l) => l.startsWith(name + ' '));

	return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function metrics(port) {
	const res = await h.request(port, { target: '/metrics' });

	assert.equal(res.status, 200);
	assert.match(h.getHeader(res, 'content-type'), /^text\/plain/);
	return res.body.toString('utf8');
}

const ENFORCE = `  policies:
    - name: app
      origins: [https://app.example.com]
      allow_methods: [GET, PUT]`;

test('/healthz answers 200 ok on the admin address', T, async (t) => {
	const { admin } = await setup(t, ENFORCE);
	const res = await h.request(admin, { target: '/healthz' });

	assert.equal(res.status, 200);
	assert.equal(res.body.toString(), 'ok\n');
});

test('/metrics counts requests by decision and status class', T,
    async (t) => {
	const { proxy, admin } = await setup(t, ENFORCE);

	await h.request(proxy.port, { target: '/echo/a',
	    headers: [['Origin', 'https://app.example.com']] });
	await h.request(proxy.port, { target: '/status/404',
	    headers: [['Origin', 'https://app.example.com']] });
	await h.request(proxy.port, { target: '/echo/b',
	    headers: [['Origin', 'https://evil.example']] });
	await h.request(proxy.port, { target: '/echo/c' });
	await h.request(proxy.port, { method: 'OPTIONS', target: '/x',
	    headers: [['Origin', 'https://app.example.com'],
	    ['Access-Control-Request-Method', 'DELETE']] });
	const text = await metrics(admin);

	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="allowed",status="2xx"}'), 1);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="allowed",status="4xx"}'), 1);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="denied",status="2xx"}'), 1);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="denied",status="4xx"}'), 1);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="no-origin",status="2xx"}'), 1);
	assert.equal(sample(text,
	    'corsproxy_preflights_total{decision="denied"}'), 1);
	assert.equal(sample(text, 'corsproxy_request_duration_seconds_count'),
	    5);
	assert.equal(sample(text,
	    'corsproxy_request_duration_seconds_bucket{le="+Inf"}'), 5);
	assert.ok(sample(text, 'corsproxy_open_connections') >= 0);
});

test('/metrics counts upstream errors by kind', T, async (t) => {
	const port = await h.closedPort();
	const dir = h.tempDir(t);
	const config = h.writeConfig(dir, `upstream: http://127.0.0.1:${port}
admin: 127.0.0.1:0
`);
	const proxy = await h.startProxy(['-c', config], { t });
	const admin = Number(/admin on http:\/\/127\.0\.0\.1:(\d+)/
	    .exec(proxy.startLine)[1]);

	assert.equal((await h.request(proxy.port, { target: '/' })).status,
	    502);
	assert.equal((await h.request(proxy.port, { target: '/' })).status,
	    502);
	const text = await metrics(admin);
	assert.equal(sample(text,
	    'corsproxy_upstream_errors_total{kind="connect"}'), 2);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="no-origin",status="5xx"}'), 2);
});

test('report mode counts every would-be denial and denies nothing', T,
    async (t) => {
	const { backend, proxy, admin } = await setup(t, `  mode: report
${ENFORCE}`);
	const before = backend.stats.requests;
	const res = await h.request(proxy.port, { target: '/echo/r',
	    headers: [['Origin', 'https://evil.example']] });
	const pre = await h.request(proxy.port, { method: 'OPTIONS',
	    target: '/x', headers: [['Origin', 'https://app.example.com'],
	    ['Access-Control-Request-Method', 'DELETE']] });

	assert.equal(res.status, 200);
	assert.equal(pre.status, 204);
	assert.ok(backend.stats.requests > before);
	const text = await metrics(admin);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="reported",status="2xx"}'), 2);
	assert.equal(sample(text,
	    'corsproxy_preflights_total{decision="reported"}'), 1);
	assert.equal(sample(text, 'corsproxy_requests_total' +
	    '{decision="denied",status="2xx"}'), 0);
});

test('the admin address answers 404 to other paths and 405 to POST', T,
    async (t) => {
	const { admin } = await setup(t, ENFORCE);
	const nf = await h.request(admin, { target: '/nope' });
	const post = await h.request(admin, { method: 'POST',
	    target: '/metrics', body: Buffer.from('x') });

	assert.equal(nf.status, 404);
	assert.equal(post.status, 405);
	assert.equal(h.getHeader(post, 'allow'), 'GET, HEAD');
});
