'use strict';
/*
 * Error statuses a page on the allowed origin must be able to read
 * through the proxy: the backend's own 404, and the 502 the proxy
 * makes itself when the upstream refuses (the route /dead/ goes to a
 * port nothing listens on), with its JSON body.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const b = require('./browser');

const T = { timeout: 30000 };
const env = b.suite();

test('the page reads the backend\'s 404 and its body', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch('/status/404', { credentials: 'include' });

	assert.equal(got.ok, true, s.why(got));
	assert.equal(got.status, 404, s.why(got));
	assert.equal(got.body, 'status 404\n', s.why(got));
	assert.equal(s.backend.count('/status/404'), 1, s.why(got));
});

test('the page reads the proxy\'s 502 and its JSON body when the upstream ' +
    'refuses', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.fetch('/dead/items', { credentials: 'include' },
	    { read: ['content-type'] });

	assert.equal(got.ok, true, s.why(got));
	assert.equal(got.status, 502, s.why(got));
	assert.match(got.headers['content-type'] || '', /json/, s.why(got));
	let parsed;
	assert.doesNotThrow(() => { parsed = JSON.parse(got.body); },
	    s.why(got));
	assert.equal(typeof parsed, 'object', s.why(got));
	assert.notEqual(parsed, null, s.why(got));
	assert.equal(typeof parsed.error, 'string', s.why(got));
	assert.equal(s.backend.stats.requests, 0, s.why(got));
});
