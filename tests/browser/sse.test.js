'use strict';
/*
 * Server-Sent Events through the proxy as a page consumes them: an
 * EventSource with credentials on the allowed origin gets every event,
 * one at a time as the backend sends them (every 100 ms); on a denied
 * origin it gets none and is closed by the browser.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const b = require('./browser');

const T = { timeout: 30000 };
const env = b.suite();
const EVENTS = 5;

test('an EventSource with credentials on the allowed origin receives ' +
    'every event, as they are sent', T, async (t) => {
	const s = await env.stack(t);
	const got = await s.eventSource(`/sse?count=${EVENTS}`,
	    { count: EVENTS });

	assert.equal(got.why, 'complete', s.why(got));
	assert.equal(got.opened, true, s.why(got));
	assert.deepEqual(got.events.map((e) => e.data),
	    ['1', '2', '3', '4', '5'], s.why(got));

	/* The backend spaces them 400 ms from first to last; a proxy that
	 * buffered the stream would deliver them in one burst. */
	const spread = got.events[EVENTS - 1].at - got.events[0].at;
	assert.ok(spread >= 150, `events arrived within ${spread} ms: ` +
	    s.why(got));
	assert.equal(s.backend.count('/sse'), 1, s.why(got));
});

test('an EventSource on a denied origin gets no event and is closed', T,
    async (t) => {
	const s = await env.stack(t, { from: 'denied' });
	const got = await s.eventSource(`/sse?count=${EVENTS}`,
	    { count: EVENTS });

	assert.equal(got.why, 'closed', s.why(got));
	assert.equal(got.opened, false, s.why(got));
	assert.deepEqual(got.events, [], s.why(got));
});
