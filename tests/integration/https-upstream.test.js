'use strict';
/*
 * HTTPS upstreams: a throw-away CA and server certificates made with
 * the openssl command line, a node:https backend using them, and the
 * real proxy in front.  Requests reach the backend with SNI and the
 * Host the proxy chooses, upstream TLS connections are reused, bodies
 * pass byte-exact both ways, and a certificate the proxy cannot verify
 * (no ca_file, so the system store; or the wrong name) ends in 502
 * without the request being sent.
 */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const h = require('./harness');

const T = { timeout: 15000 };
const ORIGIN = h.DEV_ORIGIN;
const POLICIES = `
policies:
  - name: dev
    origins: ["http://localhost:*", "http://127.0.0.1:*"]
    allow_credentials: true
`;

let pki;		/* { dir, ca, good: {key, cert}, other: {key, cert} } */

function openssl(dir, args) {
	try {
		return execFileSync('openssl', args, { cwd: dir,
		    stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
	} catch (e) {
		throw new Error(`openssl ${args.join(' ')}: ${e.message}\n` +
		    String(e.stderr || ''));
	}
}

/* A server certificate for names, signed by the CA in dir. */
function serverCert(dir, name, cn, san) {
	fs.writeFileSync(path.join(dir, `${name}.ext`),
	    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n` +
	    'keyUsage=critical,digitalSignature\n' +
	    'extendedKeyUsage=serverAuth\n');
	openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt',
	    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout',
	    `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
	openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem',
	    '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
	    '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
	return {
		key: fs.readFileSync(path.join(dir, `${name}.key`)),
		cert: fs.readFileSync(path.join(dir, `${name}.pem`)),
	};
}

before(() => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corsproxy-tls-'));

	pki = { dir };
	openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
	    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key',
	    '-out', 'ca.pem', '-days', '2', '-subj',
	    '/CN=corsproxy throw-away test CA', '-addext',
	    'basicConstraints=critical,CA:TRUE', '-addext',
	    'keyUsage=critical,keyCertSign,cRLSign']);
	pki.ca = path.join(dir, 'ca.pem');
	pki.good = serverCert(dir, 'good', 'localhost',
	    'DNS:localhost,IP:127.0.0.1,IP:::1');
	pki.other = serverCert(dir, 'other', 'other.test', 'DNS:other.test');
});

after(() => {
	if (pki) {
		fs.rmSync(pki.dir, { recursive: true, force: true });
	}
});

/*
 * A node:https backend on a port the OS picks, on 127.0.0.1 and, when
 * the machine has it, on ::1 with the same port, so "localhost"
 * reaches it whichever address it resolves to.  /echo... answers JSON
 * of what it saw (TLS server name, Host, body); /big?bytes=N sends N
 * bytes of a pattern.
 */
async function httpsBackend(t, creds) {
	const st = { tls: 0, tlsErrors: [], requests: [] };
	const servers = [];
	const sockets = new Set();
	const handler = async (req, res) => {
		const chunks = [];

		for await (const c of req) {
			chunks.push(c);
		}
		const body = Buffer.concat(chunks);
		const u = new URL(req.url, 'https://backend.invalid');
		st.requests.push({ url: req.url, method: req.method,
		    servername: req.socket.servername, host: req.headers.host,
		    socket: req.socket.testId });
		if (u.pathname === '/big') {
			const n = Number(u.searchParams.get('bytes'));
			const out = Buffer.alloc(n);
			for (let i = 0; i < n; i++) {
				out[i] = i % 251;
			}
			res.writeHead(200, { 'Content-Length': String(n),
			    'Content-Type': 'application/octet-stream' });
			res.end(out);
			return;
		}
		const out = JSON.stringify({ url: req.url, method: req.method,
		    servername: req.socket.servername,
		    headers: req.rawHeaders, bodyLength: body.length,
		    bodySha256: crypto.createHash('sha256').update(body)
		    .digest('hex'), socket: req.socket.testId });
		res.writeHead(200, { 'Content-Type': 'application/json',
		    'Content-Length': Buffer.byteLength(out) });
		res.end(out);
	};
	const make = () => {
		const srv = https.createServer({ ...creds }, handler);

		srv.keepAliveTimeout = 30000;
		srv.on('secureConnection', (sock) => {
			sock.testId = ++st.tls;
			sockets.add(sock);
			sock.on('close', () => sockets.delete(sock));
		});
		srv.on('tlsClientError', (e) => st.tlsErrors.push(e.message));
		servers.push(srv);
		return srv;
	};
	const listen = (srv, port, host) => new Promise((resolve, reject) => {
		srv.once('error', reject);
		srv.listen(port, host, () => {
			srv.off('error', reject);
			resolve();
		});
	});

	t.after(async () => {
		sockets.forEach((s) => s.destroy());
		await Promise.all(servers.map((s) =>
		    new Promise((r) => s.close(() => r()))));
	});
	const first = make();
	await listen(first, 0, '127.0.0.1');
	const port = first.address().port;
	if (await h.ipv6Loopback()) {
		const v6 = make();
		await listen(v6, port, '::1').catch(() => servers.pop());
	}
	return { port, st };
}

async function proxyFor(t, yaml) {
	const dir = h.tempDir(t);

	return h.startProxy(['-c', h.writeConfig(dir, yaml + POLICIES)],
	    { t });
}

function apiConfig(servers, extra = '') {
	return `
upstreams:
  api:
    servers: [${servers.join(', ')}]
${extra}
routes:
  - { path: /, upstream: api }
`;
}

function echoOf(res) {
	assert.equal(res.status, 200,
	    `${res.statusLine} ${res.body.toString('latin1').slice(0, 300)}`);
	return JSON.parse(res.body.toString('utf8'));
}

function rawHeader(echo, name) {
	const out = [];

	for (let i = 0; i < echo.headers.length; i += 2) {
		if (echo.headers[i].toLowerCase() === name) {
			out.push(echo.headers[i + 1]);
		}
	}
	return out;
}

test('a GET through the proxy reaches an HTTPS backend with SNI and ' +
    'the upstream Host', T, async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`], `    ca_file: ${pki.ca}`));
	const res = await h.request(proxy.port, { target: '/echo/tls?q=1',
	    host: 'front.test', headers: [['Origin', ORIGIN]] });
	const echo = echoOf(res);

	assert.equal(echo.url, '/echo/tls?q=1');
	assert.equal(echo.servername, 'localhost');
	assert.deepEqual(rawHeader(echo, 'host'), [`localhost:${b.port}`]);
	assert.deepEqual(rawHeader(echo, 'x-forwarded-host'), ['front.test']);
	assert.deepEqual(rawHeader(echo, 'x-forwarded-proto'), ['http']);
	assert.deepEqual(h.getHeaders(res, 'access-control-allow-origin'),
	    [ORIGIN]);
	assert.deepEqual(b.st.tlsErrors, []);
});

test('with host: client the HTTPS backend gets the client Host and SNI ' +
    'stays the server name', T, async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`],
	    `    ca_file: ${pki.ca}\n    host: client`));
	const echo = echoOf(await h.request(proxy.port,
	    { target: '/echo/client-host', host: 'front.test' }));

	assert.equal(echo.servername, 'localhost');
	assert.deepEqual(rawHeader(echo, 'host'), ['front.test']);
});

test('several requests reuse one upstream TLS connection', T,
    async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`], `    ca_file: ${pki.ca}`));

	for (let i = 0; i < 6; i++) {
		const echo = echoOf(await h.request(proxy.port,
		    { target: `/echo/reuse-${i}` }));
		assert.equal(echo.url, `/echo/reuse-${i}`);
	}
	/* and on one kept-alive client connection */
	const conn = await h.RawConnection.connect(proxy.port);
	t.after(() => conn.close());
	for (let i = 0; i < 3; i++) {
		await conn.write(h.buildRequest({ target: `/echo/ka-${i}` }));
		echoOf(await conn.readResponse());
	}
	assert.equal(b.st.requests.length, 9);
	assert.equal(b.st.tls, 1, `TLS handshakes: ${b.st.tls}`);
	assert.equal(new Set(b.st.requests.map((r) => r.socket)).size, 1);
});

test('request and response bodies cross TLS byte-exact', T, async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`], `    ca_file: ${pki.ca}`));
	const body = crypto.randomBytes(200 * 1024);
	const echo = echoOf(await h.request(proxy.port, { method: 'POST',
	    target: '/echo/post', body }));

	assert.equal(echo.bodyLength, body.length);
	assert.equal(echo.bodySha256,
	    crypto.createHash('sha256').update(body).digest('hex'));

	const n = 3 * 1024 * 1024 + 7;
	const res = await h.request(proxy.port, { target: `/big?bytes=${n}`,
	    timeoutMs: 10000 });
	assert.equal(res.status, 200, res.statusLine);
	assert.equal(res.body.length, n);
	for (let i = 0; i < n; i += 4099) {
		assert.equal(res.body[i], i % 251, `byte ${i}`);
	}
});

test('an upstream given by IP address is verified against its IP ' +
    'subjectAltName', T, async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://127.0.0.1:${b.port}`], `    ca_file: ${pki.ca}`));
	const echo = echoOf(await h.request(proxy.port,
	    { target: '/echo/by-ip' }));

	assert.equal(echo.url, '/echo/by-ip');
	assert.deepEqual(rawHeader(echo, 'host'), [`127.0.0.1:${b.port}`]);
});

/* The certificate is refused: 502 with JSON and CORS, the request never
 * sent (the proxy ends the handshake with an alert), and the proxy goes
 * on answering. */
async function assertRefusedCertificate(proxy, b) {
	for (let i = 0; i < 2; i++) {
		const res = await h.request(proxy.port, {
		    target: `/echo/untrusted-${i}`,
		    headers: [['Origin', ORIGIN]], timeoutMs: 8000 });
		h.assertProxyError(res, 502, { origin: ORIGIN });
		assert.match(JSON.parse(res.body).message,
		    /TLS failed: certificate not trusted: /);
	}
	assert.deepEqual(b.st.requests, [], 'the request was sent');
	assert.equal(b.st.tls, 0, 'a TLS handshake completed');
	assert.ok(b.st.tlsErrors.length > 0 && b.st.tlsErrors.every((m) =>
	    /alert (unknown ca|bad certificate|certificate unknown)/.test(m)),
	    `the backend saw ${JSON.stringify(b.st.tlsErrors)}`);
	assert.equal(proxy.exitInfo, null);
}

test('without ca_file a certificate from an unknown CA is refused ' +
    'with 502', T, async (t) => {
	const b = await httpsBackend(t, pki.good);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`]));

	await assertRefusedCertificate(proxy, b);
});

test('a certificate for another name is refused with 502', T,
    async (t) => {
	const b = await httpsBackend(t, pki.other);
	const proxy = await proxyFor(t, apiConfig(
	    [`https://localhost:${b.port}`], `    ca_file: ${pki.ca}`));

	await assertRefusedCertificate(proxy, b);
});
