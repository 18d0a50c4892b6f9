'use strict';
/*
 * What a browser decides about a cross-origin response, written from the
 * Fetch standard (https://fetch.spec.whatwg.org/) so the integration
 * tests can judge the proxy's answers the way a page would see them:
 *
 *   needsPreflight()       main fetch: is a CORS-preflight fetch needed
 *   preflightHeaders()     the headers of the preflight a browser sends
 *   corsCheck()            the CORS check, for any CORS response
 *   preflightCheck()       the checks of a CORS-preflight fetch, plus
 *                          Private Network Access (WICG) when asked
 *   readableHeaders()      what a CORS-filtered response lets the page
 *                          read: safelisted names and the exposed ones
 *
 * Responses are anything with .status and .headers, where headers is a
 * list of [name, value] pairs (the raw client's form, duplicates kept),
 * a plain object, or a Map.  Names compare byte-case-insensitively;
 * values are as received, already stripped of leading and trailing
 * whitespace by the HTTP parser.
 *
 * Each check returns { ok: true } or { ok: false, code, reason }: code
 * is stable for assertions, reason is a sentence for failure messages.
 * The order of the checks is the standard's, so the code of a failure
 * is the first thing a browser would trip over.
 */

/* token = 1*tchar (RFC 9110, section 5.6.2) */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const SAFELISTED_METHODS = ['GET', 'HEAD', 'POST'];

/* Methods fetch() upper-cases ("normalize a method"); any other, such
 * as "patch", is sent exactly as written. */
const NORMALIZED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST',
    'PUT'];

const SAFELISTED_RESPONSE_HEADERS = ['cache-control', 'content-language',
    'content-length', 'content-type', 'expires', 'last-modified',
    'pragma'];

const FORBIDDEN_RESPONSE_HEADERS = ['set-cookie', 'set-cookie2'];

const SAFELISTED_CONTENT_TYPES = ['application/x-www-form-urlencoded',
    'multipart/form-data', 'text/plain'];

/* The CORS non-wildcard request-header name: "*" never covers it. */
const NON_WILDCARD_HEADER = 'authorization';

/* ---- header lists ---------------------------------------------------- */

function pairsOf(headers) {
	if (headers == null) {
		return [];
	}
	if (Array.isArray(headers)) {
		return headers;
	}
	if (headers instanceof Map) {
		return [...headers.entries()];
	}
	const out = [];
	for (const [n, v] of Object.entries(headers)) {
		for (const one of Array.isArray(v) ? v : [v]) {
			out.push([n, String(one)]);
		}
	}
	return out;
}

function headersOf(response) {
	return pairsOf(response && response.headers !== undefined ?
	    response.headers : response);
}

/* "get": every value of name joined with ", ", or null when absent. */
function getHeader(headers, name) {
	const lc = name.toLowerCase();
	const values = pairsOf(headers).filter(([n]) => n.toLowerCase() === lc)
	    .map(([, v]) => v);

	return values.length ? values.join(', ') : null;
}

/*
 * Parses one header value as #token (a #method or #field-name list):
 * elements separated by commas with optional spaces and tabs around
 * them, empty elements ignored.  Returns the list or null on failure.
 */
function parseTokenList(value) {
	const out = [];

	for (const part of value.split(',')) {
		const item = part.replace(/^[ \t]+|[ \t]+$/g, '');
		if (item === '') {
			continue;
		}
		if (!TOKEN_RE.test(item)) {
			return null;
		}
		out.push(item);
	}
	return out;
}

/*
 * "extract header list values" for a #token header: null when absent,
 * 'failure' when any of its lines does not parse, else every element of
 * every line in order.
 */
function extractList(headers, name) {
	const lc = name.toLowerCase();
	const lines = pairsOf(headers).filter(([n]) => n.toLowerCase() === lc);
	const out = [];

	if (lines.length === 0) {
		return null;
	}
	for (const [, v] of lines) {
		const items = parseTokenList(v);
		if (items === null) {
			return 'failure';
		}
		out.push(...items);
	}
	return out;
}

/* ---- requests -------------------------------------------------------- */

function includesCredentials(credentials) {
	return credentials === true || credentials === 'include';
}

function normalizeMethod(method) {
	const up = method.toUpperCase();

	return NORMALIZED_METHODS.includes(up) ? up : method;
}

function isSafelistedMethod(method) {
	return SAFELISTED_METHODS.includes(method);
}

function hasUnsafeByte(value) {
	for (let i = 0; i < value.length; i++) {
		const c = value.charCodeAt(i);
		if ((c < 0x20 && c !== 0x09) || c === 0x7f ||
		    '"():<>?@[\\]{}'.includes(value[i])) {
			return true;
		}
	}
	return false;
}

/* The essence ("type/subtype", lower case) of a MIME type, or null. */
function mimeEssence(value) {
	const v = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
	const slash = v.indexOf('/');

	if (slash <= 0) {
		return null;
	}
	const type = v.slice(0, slash);
	const subtype = v.slice(slash + 1).split(';')[0]
	    .replace(/[\t\n\r ]+$/, '');
	if (!TOKEN_RE.test(type) || !TOKEN_RE.test(subtype)) {
		return null;
	}
	return `${type}/${subtype}`.toLowerCase();
}

/* "parse a single range header value" without whitespace: returns
 * [start, end] (either may be null) or null on failure. */
function parseRange(value) {
	const m = /^bytes=([0-9]*)-([0-9]*)$/.exec(value);

	if (!m || (m[1] === '' && m[2] === '')) {
		return null;
	}
	const start = m[1] === '' ? null : Number(m[1]);
	const end = m[2] === '' ? null : Number(m[2]);
	if (start !== null && end !== null && start > end) {
		return null;
	}
	return [start, end];
}

function isSafelistedRequestHeader(name, value) {
	if (value.length > 128) {
		return false;
	}
	switch (name.toLowerCase()) {
	case 'accept':
		return !hasUnsafeByte(value);
	case 'accept-language':
	case 'content-language':
		return /^[0-9A-Za-z *,\-.;=]*$/.test(value);
	case 'content-type':
		return !hasUnsafeByte(value) &&
		    SAFELISTED_CONTENT_TYPES.includes(mimeEssence(value));
	case 'range': {
		const r = parseRange(value);
		return r !== null && r[0] !== null;
	}
	default:
		return false;
	}
}

/* "CORS-unsafe request-header names": sorted, lower case, unique. */
function unsafeRequestHeaderNames(headers) {
	const unsafe = [];
	const maybe = [];
	let size = 0;

	for (const [n, v] of pairsOf(headers)) {
		if (!isSafelistedRequestHeader(n, v)) {
			unsafe.push(n);
		} else {
			maybe.push(n);
			size += v.length;
		}
	}
	if (size > 1024) {
		unsafe.push(...maybe);
	}
	return [...new Set(unsafe.map((n) => n.toLowerCase()))].sort();
}

/*
 * Whether a fetch() with the unsafe-request flag needs a preflight: a
 * method that is not safelisted or a header that is not.  Private
 * Network Access adds one for every request to a more private address
 * space, and XHR upload listeners set the use-CORS-preflight flag.
 */
function needsPreflight({ method = 'GET', headers = [],
    privateNetwork = false, useCorsPreflight = false } = {}) {
	const m = normalizeMethod(method);

	return useCorsPreflight || privateNetwork ||
	    !isSafelistedMethod(m) ||
	    unsafeRequestHeaderNames(headers).length > 0;
}

/*
 * The headers of the preflight for such a request, as a browser sends
 * them, as [name, value] pairs after Host: Origin, Accept,
 * Access-Control-Request-Method and, when there are unsafe names,
 * Access-Control-Request-Headers joined with "," (no space).
 */
function preflightHeaders({ origin, method = 'GET', headers = [],
    privateNetwork = false } = {}) {
	const names = unsafeRequestHeaderNames(headers);
	const out = [['Origin', origin], ['Accept', '*/*'],
	    ['Access-Control-Request-Method', normalizeMethod(method)]];

	if (names.length) {
		out.push(['Access-Control-Request-Headers', names.join(',')]);
	}
	if (privateNetwork) {
		out.push(['Access-Control-Request-Private-Network', 'true']);
	}
	return out;
}

/* ---- the checks ------------------------------------------------------ */

function fail(code, reason) {
	return { ok: false, code, reason };
}

const OK = Object.freeze({ ok: true });

/*
 * The CORS check.  origin is the request's origin as serialized ("null"
 * for an opaque one); credentials is 'include' (or true) when the
 * request carries credentials.
 */
function corsCheck(response, { origin, credentials = 'same-origin' } = {}) {
	const headers = headersOf(response);
	const allow = getHeader(headers, 'Access-Control-Allow-Origin');
	const creds = includesCredentials(credentials);

	if (allow === null) {
		return fail('allow-origin-missing', 'no ' +
		    'Access-Control-Allow-Origin header is present');
	}
	if (!creds && allow === '*') {
		return OK;
	}
	if (allow !== origin) {
		if (allow === '*') {
			return fail('allow-origin-wildcard-credentials',
			    'Access-Control-Allow-Origin is "*" but the ' +
			    'request includes credentials');
		}
		return fail('allow-origin-mismatch',
		    `Access-Control-Allow-Origin ${JSON.stringify(allow)} ` +
		    `is not the origin ${JSON.stringify(origin)}`);
	}
	if (!creds) {
		return OK;
	}
	const ac = getHeader(headers, 'Access-Control-Allow-Credentials');
	if (ac !== 'true') {
		return fail('allow-credentials', 'credentials are included ' +
		    'but Access-Control-Allow-Credentials is ' +
		    JSON.stringify(ac) + ', not "true"');
	}
	return OK;
}

function isOkStatus(status) {
	return status >= 200 && status <= 299;
}

function checkPrivateNetwork(headers) {
	const v = getHeader(headers, 'Access-Control-Allow-Private-Network');

	if (v !== 'true') {
		return fail('private-network', 'the preflight asked for ' +
		    'private network access and ' +
		    'Access-Control-Allow-Private-Network is ' +
		    JSON.stringify(v) + ', not "true"');
	}
	return OK;
}

function checkMethod(methods, method, creds) {
	if (methods.includes(method) || isSafelistedMethod(method)) {
		return OK;
	}
	if (!creds && methods.includes('*')) {
		return OK;
	}
	return fail('method-not-allowed', `method ${JSON.stringify(method)} ` +
	    'is not in Access-Control-Allow-Methods ' +
	    JSON.stringify(methods) + (creds && methods.includes('*') ?
	    ' ("*" does not apply with credentials)' : ''));
}

function checkHeaders(headerNames, requestHeaders, creds) {
	const allowed = headerNames.map((n) => n.toLowerCase());
	const names = pairsOf(requestHeaders).map(([n]) => n.toLowerCase());

	if (names.includes(NON_WILDCARD_HEADER) &&
	    !allowed.includes(NON_WILDCARD_HEADER)) {
		return fail('authorization-not-allowed', 'Authorization is ' +
		    'not named in Access-Control-Allow-Headers ' +
		    JSON.stringify(headerNames) + ' ("*" does not cover it)');
	}
	for (const name of unsafeRequestHeaderNames(requestHeaders)) {
		if (allowed.includes(name)) {
			continue;
		}
		if (!creds && allowed.includes('*')) {
			continue;
		}
		return fail('header-not-allowed', `header ${name} is not in ` +
		    'Access-Control-Allow-Headers ' +
		    JSON.stringify(headerNames) + (creds &&
		    allowed.includes('*') ? ' ("*" does not apply with ' +
		    'credentials)' : ''));
	}
	return OK;
}

/*
 * The CORS-preflight fetch's verdict on its response, for an actual
 * request { method, headers (the author's request headers),
 * useCorsPreflight } from origin: an ok status, the CORS check,
 * private network access when requested, parseable Allow-Methods and
 * Allow-Headers, the method, then the headers.  On success also
 * returns maxAge (a number or null).
 */
function preflightCheck(response, { origin, credentials = 'same-origin',
    method = 'GET', headers = [], privateNetwork = false,
    useCorsPreflight = false } = {}) {
	const rh = headersOf(response);
	const creds = includesCredentials(credentials);
	const m = normalizeMethod(method);
	let r;

	if (!isOkStatus(response.status)) {
		return fail('status', `the preflight's status ` +
		    `${response.status} is not an ok status (2xx)`);
	}
	if (!(r = corsCheck(response, { origin, credentials })).ok) {
		return r;
	}
	if (privateNetwork && !(r = checkPrivateNetwork(rh)).ok) {
		return r;
	}
	let methods = extractList(rh, 'Access-Control-Allow-Methods');
	const headerNames = extractList(rh, 'Access-Control-Allow-Headers');
	if (methods === 'failure') {
		return fail('allow-methods-invalid', 'Access-Control-Allow-' +
		    'Methods is not a list of tokens: ' + JSON.stringify(
		    getHeader(rh, 'Access-Control-Allow-Methods')));
	}
	if (headerNames === 'failure') {
		return fail('allow-headers-invalid', 'Access-Control-Allow-' +
		    'Headers is not a list of tokens: ' + JSON.stringify(
		    getHeader(rh, 'Access-Control-Allow-Headers')));
	}
	/* A preflight forced by the use-CORS-preflight flag (XHR upload
	 * listeners) covers its own method; otherwise an absent header
	 * allows nothing but the safelisted methods. */
	if (methods === null) {
		methods = useCorsPreflight ? [m] : [];
	}
	if (!(r = checkMethod(methods, m, creds)).ok) {
		return r;
	}
	if (!(r = checkHeaders(headerNames || [], headers, creds)).ok) {
		return r;
	}
	const age = getHeader(rh, 'Access-Control-Max-Age');
	return { ok: true, maxAge: age !== null && /^[0-9]+$/.test(age) ?
	    Number(age) : null };
}

/*
 * The header names (lower case) a page can read from a CORS response:
 * the CORS-safelisted response-header names and those the response's
 * Access-Control-Expose-Headers lists, where "*" means every name only
 * without credentials.  Set-Cookie is never readable.
 */
function readableHeaders(response, { credentials = 'same-origin' } = {}) {
	const rh = headersOf(response);
	const present = [...new Set(rh.map(([n]) => n.toLowerCase()))];
	const listed = extractList(rh, 'Access-Control-Expose-Headers');
	let exposed = [];

	if (Array.isArray(listed)) {
		exposed = listed.map((n) => n.toLowerCase());
		if (!includesCredentials(credentials) &&
		    exposed.includes('*')) {
			exposed = present;
		}
	}
	return present.filter((n) =>
	    !FORBIDDEN_RESPONSE_HEADERS.includes(n) &&
	    (SAFELISTED_RESPONSE_HEADERS.includes(n) || exposed.includes(n)));
}

module.exports = {
	corsCheck,
	extractList,
	getHeader,
	isSafelistedMethod,
	isSafelistedRequestHeader,
	needsPreflight,
	normalizeMethod,
	parseTokenList,
	preflightCheck,
	preflightHeaders,
	readableHeaders,
	unsafeRequestHeaderNames,
};
