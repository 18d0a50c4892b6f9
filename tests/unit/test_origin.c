/*
 * Origin patterns: parsing, load errors and matching, from tables of
 * cases.  Each match case names the pattern, the Origin as the browser
 * would send it (with an explicit length where it holds a NUL) and the
 * expected answer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

#define LEN_STRLEN	((size_t)-1)

struct match_case {
	const char	*pattern;
	const char	*origin;
	size_t		 len;
	bool		 expected;
};

static const struct match_case match_cases[] = {
	/* exact */
	{ "https://app.example.com", "https://app.example.com", LEN_STRLEN,
	    true },
	{ "https://app.example.com", "http://app.example.com", LEN_STRLEN,
	    false },
	{ "https://app.example.com", "https://app.example.com:8443",
	    LEN_STRLEN, false },
	{ "https://app.example.com", "https://other.example.com",
	    LEN_STRLEN, false },
	{ "https://app.example.com", "https://x.app.example.com",
	    LEN_STRLEN, false },

	/* default ports, either side */
	{ "https://a.com:443", "https://a.com", LEN_STRLEN, true },
	{ "https://a.com", "https://a.com:443", LEN_STRLEN, true },
	{ "http://a.com:80", "http://a.com", LEN_STRLEN, true },
	{ "http://a.com", "http://a.com:443", LEN_STRLEN, false },
	{ "https://a.com", "https://a.com:80", LEN_STRLEN, false },
	{ "http://a.com:8080", "http://a.com:8080", LEN_STRLEN, true },
	{ "http://a.com:8080", "http://a.com:08080", LEN_STRLEN, false },

	/* case */
	{ "HTTPS://App.Example.COM", "https://app.example.com", LEN_STRLEN,
	    true },
	{ "https://app.example.com", "HTTPS://APP.EXAMPLE.COM", LEN_STRLEN,
	    true },

	/* IPv6 */
	{ "http://[::1]:8080", "http://[::1]:8080", LEN_STRLEN, true },
	{ "http://[::1]:8080", "http://[::1]:8081", LEN_STRLEN, false },
	{ "http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080", LEN_STRLEN,
	    true },
	{ "http://[::1]:*", "http://[::1]", LEN_STRLEN, true },
	{ "http://[::1]:*", "http://[::2]:3000", LEN_STRLEN, false },
	{ "http://[::1]:8080", "http://::1:8080", LEN_STRLEN, false },
	{ "http://[2001:DB8::1]", "http://[2001:db8::1]", LEN_STRLEN, true },

	/* port wildcard */
	{ "http://localhost:*", "http://localhost:3000", LEN_STRLEN, true },
	{ "http://localhost:*", "http://localhost", LEN_STRLEN, true },
	{ "http://localhost:*", "https://localhost:3000", LEN_STRLEN, false },
	{ "http://localhost:*", "http://localhost.evil.net:3000",
	    LEN_STRLEN, false },
	{ "http://localhost:*", "http://localhost:", LEN_STRLEN, false },
	{ "http://localhost:*", "http://localhost:0", LEN_STRLEN, false },
	{ "http://localhost:*", "http://localhost:65536", LEN_STRLEN, false },
	{ "http://localhost:*", "http://localhost:3000/", LEN_STRLEN, false },

	/* subdomains, and the look-alikes they must refuse */
	{ "https://*.example.org", "https://a.example.org", LEN_STRLEN,
	    true },
	{ "https://*.example.org", "https://a.b.c.example.org", LEN_STRLEN,
	    true },
	{ "https://*.example.org", "https://A.EXAMPLE.ORG", LEN_STRLEN, true },
	{ "https://*.example.org", "https://example.org", LEN_STRLEN, false },
	{ "https://*.example.org", "https://.example.org", LEN_STRLEN,
	    false },
	{ "https://*.example.org", "https://a..example.org", LEN_STRLEN,
	    false },
	{ "https://*.example.org", "https://evilexample.org", LEN_STRLEN,
	    false },
	{ "https://*.example.org", "https://example.org.evil.net",
	    LEN_STRLEN, false },
	{ "https://*.example.org", "https://x.example.org.evil.net",
	    LEN_STRLEN, false },
	{ "https://*.example.org", "https://x.example.org.", LEN_STRLEN,
	    false },
	{ "https://*.example.org", "http://a.example.org", LEN_STRLEN,
	    false },
	{ "https://*.example.org", "https://a.example.org:8443", LEN_STRLEN,
	    false },
	{ "https://*.example.org:*", "https://a.example.org:8443",
	    LEN_STRLEN, true },
	{ "https://*.example.org:8443", "https://a.example.org:8443",
	    LEN_STRLEN, true },
	{ "https://*.example.org", "https://a.example.org:443", LEN_STRLEN,
	    true },

	/* garbage and smuggling */
	{ "https://example.org", "https://example.org:443@evil.net",
	    LEN_STRLEN, false },
	{ "https://example.org", "https://user@example.org", LEN_STRLEN,
	    false },
	{ "https://example.org", "https://example.org.", LEN_STRLEN, false },
	{ "https://example.org", "https://example.org/", LEN_STRLEN, false },
	{ "https://example.org", "https://example.org ", LEN_STRLEN, false },
	{ "https://example.org", " https://example.org", LEN_STRLEN, false },
	{ "https://example.org", "https://example.org\0.evil.net", 28,
	    false },
	{ "https://example.org", "https://example.org\0", 20, false },
	{ "https://example.org", "https://example.org", 18, false },
	{ "https://example.org", "example.org", LEN_STRLEN, false },
	{ "https://example.org", "//example.org", LEN_STRLEN, false },
	{ "https://example.org", "", LEN_STRLEN, false },

	/* "*" and "null" */
	{ "*", "https://anything.example", LEN_STRLEN, true },
	{ "*", "http://localhost:3000", LEN_STRLEN, true },
	{ "*", "chrome-extension://abcdefghijklmnop", LEN_STRLEN, true },
	{ "*", "null", LEN_STRLEN, false },
	{ "*", "garbage", LEN_STRLEN, false },
	{ "*", "https://a.com/path", LEN_STRLEN, false },
	{ "*", "https://a.com\0", 14, false },
	{ "null", "null", LEN_STRLEN, true },
	{ "null", "NULL", LEN_STRLEN, false },
	{ "null", "null ", LEN_STRLEN, false },
	{ "null", "https://null", LEN_STRLEN, false },
};

Test(origin, matches_each_table_case)
{
	struct origin_pattern	 p;
	const struct match_case	*c;
	char			 err[256];
	size_t			 i, len;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		c = &match_cases[i];
		memset(&p, 0, sizeof(p));
		cr_assert_eq(origin_pattern_parse(&p, c->pattern, err,
		    sizeof(err)), 0, "pattern %s: %s", c->pattern, err);
		len = c->len == LEN_STRLEN ? strlen(c->origin) : c->len;
		cr_expect_eq(origin_pattern_match(&p, c->origin, len),
		    c->expected, "pattern %s, origin '%s' (%zu bytes): "
		    "expected %s", c->pattern, c->origin, len,
		    c->expected ? "match" : "no match");
		origin_pattern_clear(&p);
	}
}

struct parse_case {
	const char		*text;
	enum origin_kind	 kind;
	const char		*scheme;
	const char		*host;
	int			 port;
};

static const struct parse_case parse_cases[] = {
	{ "*", ORIGIN_ANY, NULL, NULL, 0 },
	{ "null", ORIGIN_NULL, NULL, NULL, 0 },
	{ "https://app.example.com", ORIGIN_EXACT, "https",
	    "app.example.com", 443 },
	{ "http://App.Example.com", ORIGIN_EXACT, "http", "app.example.com",
	    80 },
	{ "HTTP://a.com:8080", ORIGIN_EXACT, "http", "a.com", 8080 },
	{ "https://a.com:65535", ORIGIN_EXACT, "https", "a.com", 65535 },
	{ "http://localhost:*", ORIGIN_EXACT, "http", "localhost",
	    ORIGIN_PORT_ANY },
	{ "https://*.Example.org", ORIGIN_SUBDOMAIN, "https", "example.org",
	    443 },
	{ "https://*.example.org:*", ORIGIN_SUBDOMAIN, "https",
	    "example.org", ORIGIN_PORT_ANY },
	{ "http://[::1]:8080", ORIGIN_EXACT, "http", "[::1]", 8080 },
	{ "http://[0:0::1]", ORIGIN_EXACT, "http", "[::1]", 80 },
	{ "http://127.0.0.1:3000", ORIGIN_EXACT, "http", "127.0.0.1", 3000 },
	{ "http://my_host", ORIGIN_EXACT, "http", "my_host", 80 },
};

Test(origin, parses_each_pattern_form)
{
	struct origin_pattern	 p;
	const struct parse_case	*c;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		memset(&p, 0, sizeof(p));
		cr_assert_eq(origin_pattern_parse(&p, c->text, err,
		    sizeof(err)), 0, "%s: %s", c->text, err);
		cr_expect_eq(p.kind, c->kind, "%s: kind", c->text);
		cr_expect_str_eq(p.text, c->text);
		if (c->scheme != NULL) {
			cr_expect_str_eq(p.scheme, c->scheme);
			cr_expect_str_eq(p.host, c->host);
			cr_expect_eq(p.port, c->port, "%s: port %d", c->text,
			    p.port);
		}
		origin_pattern_clear(&p);
	}
}

struct error_case {
	const char	*text;
	const char	*message;
};

static const struct error_case error_cases[] = {
	{ "https://a.com/app", "origin 'https://a.com/app' has a path; an "
	    "origin is scheme://host[:port] only" },
	{ "https://a.com/", "origin 'https://a.com/' ends with a slash; "
	    "write it without: 'https://a.com'" },
	{ "https://a.com:8080/", "origin 'https://a.com:8080/' ends with a "
	    "slash; write it without: 'https://a.com:8080'" },
	{ "https://a.com?x=1", "origin 'https://a.com?x=1' has a query or "
	    "fragment; an origin is scheme://host[:port] only" },
	{ "https://a.com#top", "origin 'https://a.com#top' has a query or "
	    "fragment; an origin is scheme://host[:port] only" },
	{ "a.com", "origin 'a.com' has no scheme; write it as https://host "
	    "or http://host" },
	{ "localhost:3000", "origin 'localhost:3000' has no scheme; write "
	    "it as https://host or http://host" },
	{ "://a.com", "origin '://a.com' has no scheme; write it as "
	    "https://host or http://host" },
	{ "ftp://a.com", "origin 'ftp://a.com' has scheme 'ftp'; only http "
	    "and https are allowed" },
	{ "ws://a.com", "origin 'ws://a.com' has scheme 'ws'; only http "
	    "and https are allowed" },
	{ "https://a.com:0", "origin 'https://a.com:0' has a bad port '0'; "
	    "a port is a number from 1 to 65535 without leading zeros, or "
	    "'*' for any port" },
	{ "https://a.com:65536", "origin 'https://a.com:65536' has a bad "
	    "port '65536'; a port is a number from 1 to 65535 without "
	    "leading zeros, or '*' for any port" },
	{ "https://a.com:http", "origin 'https://a.com:http' has a bad port "
	    "'http'; a port is a number from 1 to 65535 without leading "
	    "zeros, or '*' for any port" },
	{ "https://a.com:", "origin 'https://a.com:' has a bad port ''; a "
	    "port is a number from 1 to 65535 without leading zeros, or '*' "
	    "for any port" },
	{ "https://a.com:080", "origin 'https://a.com:080' has a bad port "
	    "'080'; a port is a number from 1 to 65535 without leading "
	    "zeros, or '*' for any port" },
	{ "https://", "origin 'https://' has no host" },
	{ "https://:8080", "origin 'https://:8080' has no host" },
	{ "https://user@a.com", "origin 'https://user@a.com' has user "
	    "information; an origin is scheme://host[:port] only" },
	{ "https://a.com:443@evil.net", "origin 'https://a.com:443@evil.net'"
	    " has user information; an origin is scheme://host[:port] only" },
	{ " https://a.com", "origin ' https://a.com' contains whitespace or "
	    "a control character" },
	{ "https://a.com\t", "origin 'https://a.com\t' contains whitespace "
	    "or a control character" },
	{ "", "origin is empty" },
	{ "https://a.*.com", "origin 'https://a.*.com' has '*' in the wrong "
	    "place; '*' may only be a leading '*.' label, as in "
	    "https://*.example.org, or the port, as in http://localhost:*" },
	{ "https://*example.org", "origin 'https://*example.org' has '*' in "
	    "the wrong place; '*' may only be a leading '*.' label, as in "
	    "https://*.example.org, or the port, as in http://localhost:*" },
	{ "https://*", "origin 'https://*' has '*' in the wrong place; '*' "
	    "may only be a leading '*.' label, as in https://*.example.org, "
	    "or the port, as in http://localhost:*" },
	{ "https://*.*.example.org", "origin 'https://*.*.example.org' has "
	    "'*' in the wrong place; '*' may only be a leading '*.' label, "
	    "as in https://*.example.org, or the port, as in "
	    "http://localhost:*" },
	{ "*://a.com", "origin '*://a.com' has '*' in the wrong place; '*' "
	    "may only be a leading '*.' label, as in https://*.example.org, "
	    "or the port, as in http://localhost:*" },
	{ "http://::1", "origin 'http://::1' has more than one ':'; write an "
	    "IPv6 address in brackets, as in http://[::1]:8080" },
	{ "http://[::1", "origin 'http://[::1' has a '[' without its ']'" },
	{ "http://[::g]", "origin 'http://[::g]' has an invalid IPv6 "
	    "address '::g'" },
	{ "http://[::1]x", "origin 'http://[::1]x' has characters after the "
	    "IPv6 address" },
	{ "https://a..com", "origin 'https://a..com' has an invalid host "
	    "'a..com'; a host is letters, digits, '-' and '_' in labels "
	    "separated by single dots" },
	{ "https://a.com.", "origin 'https://a.com.' has an invalid host "
	    "'a.com.'; a host is letters, digits, '-' and '_' in labels "
	    "separated by single dots" },
	{ "https://b\xc3\xbc" "cher.de", "origin 'https://b\xc3\xbc"
	    "cher.de' has a non-ASCII character; write an international "
	    "host name in punycode (xn--...)" },
};

Test(origin, refuses_bad_patterns_with_a_clear_message)
{
	struct origin_pattern	 p;
	const struct error_case	*c;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		c = &error_cases[i];
		memset(&p, 0, sizeof(p));
		err[0] = '\0';
		cr_expect_eq(origin_pattern_parse(&p, c->text, err,
		    sizeof(err)), -1, "'%s' parsed", c->text);
		cr_expect_str_eq(err, c->message);
		cr_expect_null(p.text);
		cr_expect_null(p.scheme);
		cr_expect_null(p.host);
	}
}

Test(origin, parse_keeps_the_mark_set_by_the_caller)
{
	struct origin_pattern	 p;
	char			 err[256];

	memset(&p, 0, sizeof(p));
	p.mark.file = "policies.yaml";
	p.mark.line = 7;
	p.mark.column = 9;
	cr_assert_eq(origin_pattern_parse(&p, "https://a.com", err,
	    sizeof(err)), 0);
	cr_expect_str_eq(p.mark.file, "policies.yaml");
	cr_expect_eq(p.mark.line, 7);
	cr_expect_eq(p.mark.column, 9);
	origin_pattern_clear(&p);
}

struct regex_case {
	const char	*regex;
	const char	*origin;
	size_t		 len;
	bool		 expected;
};

static const struct regex_case regex_cases[] = {
	{ "^https://pr-[0-9]+\\.preview\\.example\\.com$",
	    "https://pr-42.preview.example.com", LEN_STRLEN, true },
	{ "^https://pr-[0-9]+\\.preview\\.example\\.com$",
	    "https://pr-x.preview.example.com", LEN_STRLEN, false },
	/* The author forgot '$', or both anchors: still a full match. */
	{ "^https://a\\.com", "https://a.com", LEN_STRLEN, true },
	{ "^https://a\\.com", "https://a.com.evil.net", LEN_STRLEN, false },
	{ "https://a\\.com", "https://evil.net/https://a.com", LEN_STRLEN,
	    false },
	{ "https://a\\.com", "https://a.com.evil.net", LEN_STRLEN, false },
	{ "https://a\\.com|https://b\\.com", "https://b.com", LEN_STRLEN,
	    true },
	{ "https://a\\.com|https://b\\.com", "https://b.com.evil.net",
	    LEN_STRLEN, false },
	{ "https://a\\.com|https://b\\.com", "xhttps://a.com", LEN_STRLEN,
	    false },
	/* '$' must not accept a trailing newline. */
	{ "^https://a\\.com$", "https://a.com\n", LEN_STRLEN, false },
	/* A regex sees every byte, NUL included. */
	{ "^https://a\\.com$", "https://a.com\0x", 15, false },
	{ "https://a\\.com\\x00x", "https://a.com\0x", 15, true },
	{ "https://[a-z]+\\.com/app", "https://a.com/app", LEN_STRLEN, true },
	/* "null" matches only where listed literally: any site can send
	 * it, so no regex may allow it, however broad. */
	{ "null", "null", LEN_STRLEN, false },
	{ "[a-z]+", "null", LEN_STRLEN, false },
	{ "[a-z]+", "nul", LEN_STRLEN, true },
	{ "(?i)null", "NULL", LEN_STRLEN, false },
	{ ".*", "null", LEN_STRLEN, false },
	/* Scheme and host compare without case in every other pattern,
	 * so a regex sees the origin lower-cased, as a browser sends it;
	 * the regex itself keeps its case. */
	{ "https://a\\.com", "HTTPS://A.COM", LEN_STRLEN, true },
	{ "https://a\\.com", "https://A.com", LEN_STRLEN, true },
	{ "HTTPS://A\\.COM", "HTTPS://A.COM", LEN_STRLEN, false },
	{ "HTTPS://A\\.COM", "https://a.com", LEN_STRLEN, false },
	{ "(?i)HTTPS://A\\.COM", "https://a.com", LEN_STRLEN, true },
	{ "https://[a-z]+\\.com", "https://ABC.com", LEN_STRLEN, true },
	{ "http://\\[2001:db8::1\\]", "http://[2001:DB8::1]", LEN_STRLEN,
	    true },
	{ "https://(pr-\\d+)\\.(x)\\.com", "https://pr-1.x.com", LEN_STRLEN,
	    true },
};

Test(origin, regex_matches_the_whole_origin)
{
	struct origin_pattern	 p;
	const struct regex_case	*c;
	char			 err[256];
	size_t			 i, len;

	for (i = 0; i < sizeof(regex_cases) / sizeof(regex_cases[0]); i++) {
		c = &regex_cases[i];
		memset(&p, 0, sizeof(p));
		cr_assert_eq(origin_pattern_regex(&p, c->regex, err,
		    sizeof(err)), 0, "%s: %s", c->regex, err);
		cr_expect_eq(p.kind, ORIGIN_REGEX);
		cr_expect_str_eq(p.text, c->regex);
		len = c->len == LEN_STRLEN ? strlen(c->origin) : c->len;
		cr_expect_eq(origin_pattern_match(&p, c->origin, len),
		    c->expected, "regex %s, origin '%s': expected %s",
		    c->regex, c->origin, c->expected ? "match" : "no match");
		origin_pattern_clear(&p);
	}
}

Test(origin, regex_error_gives_pcre2_message_and_offset)
{
	struct origin_pattern	 p;
	char			 err[256];

	memset(&p, 0, sizeof(p));
	cr_expect_eq(origin_pattern_regex(&p, "^https://(a\\.com$", err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "regex '^https://(a\\.com$': missing closing "
	    "parenthesis at offset 17");
	cr_expect_null(p.regex);
	cr_expect_null(p.text);

	cr_expect_eq(origin_pattern_regex(&p, "https://[a-", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "at offset 11") != NULL, "%s", err);
}

Test(origin, regex_patterns_share_match_data_safely)
{
	struct origin_pattern	 a, b;
	char			 err[256];

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	cr_assert_eq(origin_pattern_regex(&a, "https://a\\.com", err,
	    sizeof(err)), 0);
	cr_assert_eq(origin_pattern_regex(&b, "https://b\\.com", err,
	    sizeof(err)), 0);
	origin_pattern_clear(&a);
	cr_expect(origin_pattern_match(&b, "https://b.com", 13));
	origin_pattern_clear(&b);

	/* After the last regex is gone a new one must work again. */
	cr_assert_eq(origin_pattern_regex(&a, "https://c\\.com", err,
	    sizeof(err)), 0);
	cr_expect(origin_pattern_match(&a, "https://c.com", 13));
	origin_pattern_clear(&a);
}

Test(origin, regex_backtracking_is_bounded)
{
	struct origin_pattern	 p;
	char			 err[256], origin[64];

	memset(&p, 0, sizeof(p));
	cr_assert_eq(origin_pattern_regex(&p, "(a+)+b", err, sizeof(err)),
	    0);
	memset(origin, 'a', sizeof(origin));
	cr_expect_not(origin_pattern_match(&p, origin, sizeof(origin)));
	origin_pattern_clear(&p);
}

static char *
long_origin(size_t len)
{
	char	*s = malloc(len + 1);

	memcpy(s, "https://", 8);
	memset(s + 8, 'a', len - 12);
	memcpy(s + len - 4, ".com", 4);
	s[len] = '\0';
	return s;
}

Test(origin, over_long_origin_matches_nothing)
{
	struct origin_pattern	 any, re;
	char			 err[256];
	char			*ok = long_origin(2048);
	char			*big = long_origin(2049);

	memset(&any, 0, sizeof(any));
	memset(&re, 0, sizeof(re));
	cr_assert_eq(origin_pattern_parse(&any, "*", err, sizeof(err)), 0);
	cr_assert_eq(origin_pattern_regex(&re, "https://a+\\.com", err,
	    sizeof(err)), 0);
	cr_expect(origin_pattern_match(&any, ok, strlen(ok)));
	cr_expect(origin_pattern_match(&re, ok, strlen(ok)));
	cr_expect_not(origin_pattern_match(&any, big, strlen(big)));
	cr_expect_not(origin_pattern_match(&re, big, strlen(big)));
	origin_pattern_clear(&any);
	origin_pattern_clear(&re);
	free(ok);
	free(big);
}

Test(origin, clear_is_safe_on_zeroed_and_cleared_patterns)
{
	struct origin_pattern	 p;

	memset(&p, 0, sizeof(p));
	origin_pattern_clear(&p);
	origin_pattern_clear(&p);
	origin_pattern_clear(NULL);
	cr_expect_null(p.text);
}
