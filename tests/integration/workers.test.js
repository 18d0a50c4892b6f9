'use strict';
/*
 * Worker processes: -w N forks N workers under a master that owns the
 * listeners.  A worker that dies is replaced, /metrics adds up every
 * worker's counts (and keeps a dead worker's), and SIGTERM to the whole
 * process group lets the requests in flight finish before exit 0.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const h = require('./harness');

const T = { timeout: 30000 };
const ORIGIN = 'https://app.example.com';

async function setup(t, workers) {
	const backend = await h.backendFor(t);
	const dir = h.tempDir(t);
	const config = h.writeConfig(dir, `upstream: http://127.0.0.1:${backend.port}
admin: 127.0.0.1:0
timeouts: { shutdown: 5s }
policies:
  policies:
    - name: app
      origins: [${ORIGIN}]
`);
	const proxy = await h.startProxy(['-c', config, '-w', String(workers)],
	    { t });
	const m = /admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(proxy.startLine);

	assert.ok(m, `no admin address in: ${proxy.startLine}`);
	return { backend, proxy, admin: Number(m[1]) };
}

/* The worker pids: every process of the group but the master. */
function workerPids(proxy) {
	return h.groupPids(proxy.pid).filter((p) => p !== proxy.pid).sort();
}

async function waitWorkers(proxy, n, not = []) {
	let pids = [];

	await h.waitFor(() => {
		pids = workerPids(proxy);
		return pids.length === n && !pids.some((p) => not.includes(p));
	}, 5000, `${n} workers`);
	return pids;
}

async function allowedGets(port, n) {
	for (let i = 0; i < n; i++) {
		const res = await h.request(port, { target: `/echo/${i}`,
		    headers: [['Origin', ORIGIN]] });

		assert.equal(res.status, 200);
		assert.equal(h.getHeader(res, 'access-control-allow-origin'),
		    ORIGIN);
	}
}

async function allowed2xx(admin) {
	const res = await h.request(admin, { target: '/metrics' });
	const name = 'corsproxy_requests_total{decision="allowed",' +
	    'status="2xx"} ';
	const line = res.body.toString().split('\n')
	    .find((l) => l.startsWith(name));

	assert.ok(line, 'no allowed 2xx sample in /metrics');
	return Number(line.slice(name.length));
}

test('-w 2 runs a master and two workers that serve', T, async (t) => {
	const { proxy } = await setup(t, 2);

	assert.match(proxy.startLine, /; 2 workers$/);
	await waitWorkers(proxy, 2);
	await allowedGets(proxy.port, 10);
});

test('a killed worker is replaced and requests go on', T, async (t) => {
	const { proxy } = await setup(t, 2);
	const [victim] = await waitWorkers(proxy, 2);

	process.kill(victim, 'SIGKILL');
	await waitWorkers(proxy, 2, [victim]);
	assert.match(proxy.stderr(), /worker \d was killed by signal 9/);
	await allowedGets(proxy.port, 10);
});

test('/metrics counts every worker, the dead ones too', T, async (t) => {
	const { proxy, admin } = await setup(t, 2);
	let pids = await waitWorkers(proxy, 2);

	await allowedGets(proxy.port, 20);
	assert.equal(await allowed2xx(admin), 20);
	/* Replace both workers that served: only memory the master shared
	 * still holds their counts.  A replacement within a second of
	 * its start waits a second, so space the kills out. */
	for (const victim of pids) {
		process.kill(victim, 'SIGKILL');
		pids = await waitWorkers(proxy, 2, [victim]);
		await h.sleep(1100);
	}
	assert.equal(await allowed2xx(admin), 20);
	await allowedGets(proxy.port, 1);
	assert.equal(await allowed2xx(admin), 21);
});

test('SIGTERM to the group finishes requests in flight, exit 0', T,
    async (t) => {
	const { proxy } = await setup(t, 2);

	await waitWorkers(proxy, 2);
	const slow = h.request(proxy.port, { target: '/slow?ms=800',
	    headers: [['Origin', ORIGIN]] });

	await h.sleep(200);
	process.kill(-proxy.pid, 'SIGTERM');
	const res = await slow;

	assert.equal(res.status, 200);
	assert.equal(res.body.toString(), 'slow\n');
	const exit = await Promise.race([proxy.exited, h.sleep(5000)]);

	assert.deepEqual(exit, { code: 0, signal: null });
	assert.deepEqual(h.groupPids(proxy.pid), []);
	assert.match(proxy.stderr(), /all workers finished; exiting/);
});

test('after SIGTERM new connections are refused', T, async (t) => {
	const { proxy } = await setup(t, 2);

	await waitWorkers(proxy, 2);
	const slow = h.request(proxy.port, { target: '/slow?ms=1000' });

	await h.sleep(200);
	process.kill(proxy.pid, 'SIGTERM');
	await h.sleep(200);
	await assert.rejects(h.request(proxy.port, { target: '/echo/late' }),
	    /ECONNREFUSED/);
	assert.equal((await slow).status, 200);
});
