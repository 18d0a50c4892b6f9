/*
 * Tests of the config loader, the YAML tree under it and the
 * diagnostics it reports.
 *
 * Each broken fixture in fixtures/config/ holds one kind of mistake
 * (or, for bad-many.yaml, several), and its test compares everything
 * diag_print() writes, so a test pins both the FILE:LINE:COLUMN of each
 * problem and its words.  The tests run in tests/fixtures, so paths
 * start with "config/", and the shipped files are reached as
 * "../../proxy.yaml.example" and "../../policies/".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"
#include "confvalue.h"

#define NO_UPSTREAM	"no upstream: add 'upstream: http://HOST:PORT', " \
			"or 'upstreams' with named groups"

static struct diag	 diag;
static struct config	*conf;

static void
teardown(void)
{
	config_free(conf);
	conf = NULL;
	diag_clear(&diag);
}

TestSuite(config, .fini = teardown);


static struct config *
load(const char *file)
{
	return conf = config_load(file, NULL, &diag);
}


static struct config *
load_with(const char *file, const struct config_overrides *ov)
{
	return conf = config_load(file, ov, &diag);
}


/* Everything diag_print() writes, as one string. */
static char *
printed(void)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&buf, &len);
	cr_assert_not_null(fp);
	diag_print(&diag, fp);
	fclose(fp);
	return buf;
}


static void
expect_diag(const char *expected)
{
	char	*got = printed();

	cr_assert_str_eq(got, expected);
	free(got);
}


/* A broken fixture: the load fails and reports exactly expected. */
static void
expect_failure(const char *file, const char *expected)
{
	cr_assert_null(load(file), "%s loaded", file);
	expect_diag(expected);
}


/* A valid file: it loads with nothing to say. */
static void
expect_clean(const char *file, const struct config_overrides *ov)
{
	load_with(file, ov);
	expect_diag("");
	cr_assert_not_null(conf);
	cr_assert_eq(diag.errors, 0);
}


/*
 * Diagnostics.
 */

Test(config, diag_prints_file_line_column_and_level)
{
	struct diag_mark	 mark = { "proxy.yaml", 3, 7 };

	diag_error(&diag, &mark, "bad %s", "thing");
	diag_warning(&diag, &mark, "odd thing");
	expect_diag("proxy.yaml:3:7: error: bad thing\n"
	    "proxy.yaml:3:7: warning: odd thing\n");
	cr_assert_eq(diag.count, 2);
	cr_assert_eq(diag.errors, 1);
}

Test(config, diag_prints_only_the_name_when_line_is_zero)
{
	struct diag_mark	 mark = { "-o", 0, 0 };

	diag_error(&diag, &mark, "bad origin");
	expect_diag("-o: error: bad origin\n");
}

Test(config, diag_copies_the_file_name)
{
	char			 file[] = "gone.yaml";
	struct diag_mark	 mark = { file, 1, 1 };

	diag_error(&diag, &mark, "x");
	file[0] = 'X';
	expect_diag("gone.yaml:1:1: error: x\n");
}


/*
 * The YAML tree.
 */

Test(config, yaml_syntax_error_reported_at_its_mark)
{
	expect_failure("config/bad-syntax.yaml",
	    "config/bad-syntax.yaml:4:2: error: did not find expected key\n");
}

Test(config, duplicate_keys_are_errors)
{
	expect_failure("config/bad-duplicate-key.yaml",
	    "config/bad-duplicate-key.yaml:5:3: error: duplicate key "
	    "'level'; the first is at line 4\n"
	    "config/bad-duplicate-key.yaml:6:1: error: duplicate key "
	    "'workers'; the first is at line 2\n");
}

Test(config, aliases_are_rejected)
{
	expect_failure("config/bad-alias.yaml",
	    "config/bad-alias.yaml:2:11: error: aliases (*base) are not "
	    "supported\n");
}

Test(config, deep_nesting_is_bounded)
{
	expect_failure("config/bad-deep.yaml",
	    "config/bad-deep.yaml:1:74: error: nested deeper than 64 "
	    "levels\n");
}

Test(config, missing_file_is_reported)
{
	expect_failure("config/no-such-file.yaml",
	    "config/no-such-file.yaml: error: cannot read: No such file or "
	    "directory\n");
}

Test(config, directory_is_not_a_file)
{
	expect_failure("config/policies",
	    "config/policies: error: cannot read: Is a directory\n");
}


/*
 * The schema: keys, types and values.
 */

Test(config, unknown_key_suggests_nearest)
{
	expect_failure("config/bad-unknown-key.yaml",
	    "config/bad-unknown-key.yaml:3:3: error: unknown key "
	    "'hedaer_bytes'; did you mean 'header_bytes'?\n"
	    "config/bad-unknown-key.yaml:4:1: error: unknown key 'lisen'; "
	    "did you mean 'listen'?\n"
	    "config/bad-unknown-key.yaml:5:1: error: unknown key "
	    "'frobnicate'\n");
}

Test(config, wrong_type_names_what_was_expected)
{
	expect_failure("config/bad-wrong-type.yaml",
	    "config/bad-wrong-type.yaml:3:3: error: 'workers' must be a "
	    "number or 'auto', not a mapping\n"
	    "config/bad-wrong-type.yaml:4:9: error: 'limits' must be a "
	    "mapping, not a string\n"
	    "config/bad-wrong-type.yaml:5:9: error: 'routes' must be a list "
	    "of routes, not a string\n");
}

Test(config, key_without_value_is_error)
{
	expect_failure("config/bad-empty-value.yaml",
	    "config/bad-empty-value.yaml:2:7: error: 'admin' has no value; "
	    "it must be \"host:port\"\n");
}

Test(config, bad_duration_says_to_use_units)
{
	expect_failure("config/bad-duration.yaml",
	    "config/bad-duration.yaml:3:16: error: bad duration '10 sec' "
	    "for 'client_idle': use a number with ms, s or m\n"
	    "config/bad-duration.yaml:4:18: error: bad duration '10' for "
	    "'client_header': add a unit, as in 10s or 10ms\n"
	    "config/bad-duration.yaml:5:13: error: 'shutdown' must be more "
	    "than 0\n"
	    "config/bad-duration.yaml:6:18: error: bad duration '1h' for "
	    "'upstream_read': use a number with ms, s or m\n");
}

Test(config, decimal_size_suggests_binary_unit)
{
	expect_failure("config/bad-size.yaml",
	    "config/bad-size.yaml:3:15: error: bad size '10MB' for "
	    "'body_bytes': sizes count in B, KiB, MiB or GiB (powers of "
	    "1024); write 10MiB\n"
	    "config/bad-size.yaml:4:17: error: bad size '32k' for "
	    "'header_bytes': sizes count in B, KiB, MiB or GiB (powers of "
	    "1024); write 32KiB\n"
	    "config/bad-size.yaml:5:17: error: 'header_count' must be a "
	    "number, not the quoted string \"100\": remove the quotes\n"
	    "config/bad-size.yaml:6:16: error: 'connections' must be more "
	    "than 0\n");
}

Test(config, quoted_number_is_a_string)
{
	expect_failure("config/bad-workers.yaml",
	    "config/bad-workers.yaml:2:10: error: 'workers' must be a number "
	    "or 'auto', not the quoted string \"4\": remove the quotes\n");
}

Test(config, zero_workers_is_error)
{
	expect_failure("config/bad-workers-zero.yaml",
	    "config/bad-workers-zero.yaml:2:10: error: 'workers' must be 1 "
	    "to 1024, or 'auto' for one per CPU\n");
}

Test(config, missing_upstream_is_error_at_line_1)
{
	expect_failure("config/bad-no-upstream.yaml",
	    "config/bad-no-upstream.yaml:1:1: error: " NO_UPSTREAM "\n");
}

Test(config, empty_file_needs_upstream)
{
	expect_failure("config/bad-empty.yaml",
	    "config/bad-empty.yaml:1:1: error: " NO_UPSTREAM "\n");
}

Test(config, top_level_must_be_mapping)
{
	expect_failure("config/bad-not-mapping.yaml",
	    "config/bad-not-mapping.yaml:1:1: error: the configuration must "
	    "be a mapping of keys such as 'listen' and 'upstream', not a "
	    "list\n");
}

Test(config, every_error_is_reported)
{
	expect_failure("config/bad-many.yaml",
	    "config/bad-many.yaml:1:9: error: bad address 'localhost' for "
	    "'listen': use HOST:PORT, or [IPv6]:PORT\n"
	    "config/bad-many.yaml:2:10: error: 'workers' must be a number or "
	    "'auto', not 'many'\n"
	    "config/bad-many.yaml:4:15: error: bad size '10MB' for "
	    "'body_bytes': sizes count in B, KiB, MiB or GiB (powers of "
	    "1024); write 10MiB\n"
	    "config/bad-many.yaml:6:16: error: bad duration '10 sec' for "
	    "'client_idle': use a number with ms, s or m\n"
	    "config/bad-many.yaml:8:10: error: bad value 'verbose' for "
	    "'level': use error, warn, info or debug\n"
	    "config/bad-many.yaml:9:11: error: bad value 'xml' for 'format': "
	    "use text or json\n"
	    "config/bad-many.yaml:10:8: error: bad address 'nowhere' for "
	    "'admin': use HOST:PORT, or [IPv6]:PORT\n"
	    "config/bad-many.yaml:11:1: error: unknown key 'extra'\n"
	    "config/bad-many.yaml:1:1: error: " NO_UPSTREAM "\n");
	cr_assert_eq(diag.errors, 9);
}

/* The suggestion search must skip a policy whose name failed to load. */
Test(config, route_to_unknown_policy_beside_unnamed_policy)
{
	expect_failure("config/bad-route-unnamed-policy.yaml",
	    "config/bad-route-unnamed-policy.yaml:7:7: error: a policy needs "
	    "'name'\n"
	    "config/bad-route-unnamed-policy.yaml:4:16: error: unknown policy "
	    "'ap'; did you mean 'app'?\n");
}


Test(config, listen_errors_name_the_item)
{
	expect_failure("config/bad-listen.yaml",
	    "config/bad-listen.yaml:3:5: error: bad address 'localhost' for "
	    "'listen': use HOST:PORT, or [IPv6]:PORT\n"
	    "config/bad-listen.yaml:4:5: error: bad address '127.0.0.1:99999' "
	    "for 'listen': use HOST:PORT, or [IPv6]:PORT\n"
	    "config/bad-listen.yaml:5:5: error: bad address '::1:8080' for "
	    "'listen': use HOST:PORT, or [IPv6]:PORT\n"
	    "config/bad-listen.yaml:6:36: error: 'cert' needs 'key' too: TLS "
	    "takes a certificate and its private key\n"
	    "config/bad-listen.yaml:7:5: error: a 'listen' mapping needs "
	    "'address'\n"
	    "config/bad-listen.yaml:8:5: error: each 'listen' item must be "
	    "\"host:port\" or a mapping with 'address', not a list\n");
}

Test(config, upstream_url_errors_say_what_is_wrong)
{
	expect_failure("config/bad-upstream-url.yaml",
	    "config/bad-upstream-url.yaml:4:9: error: bad upstream URL "
	    "'ftp://10.0.0.5': use http:// or https://\n"
	    "config/bad-upstream-url.yaml:5:9: error: bad upstream URL "
	    "'http://10.0.0.5:3000/v1': a path is not allowed; the client's "
	    "own path is forwarded unchanged\n"
	    "config/bad-upstream-url.yaml:6:9: error: bad upstream URL "
	    "'http://10.0.0.5:3000?x=1': a query is not allowed; the "
	    "client's own query is forwarded\n"
	    "config/bad-upstream-url.yaml:7:9: error: bad upstream URL "
	    "'http://user:pw@10.0.0.5': user information (user@host) is not "
	    "supported\n"
	    "config/bad-upstream-url.yaml:8:9: error: bad upstream URL "
	    "'http://10.0.0.5:99999': bad host or port\n"
	    "config/bad-upstream-url.yaml:9:9: error: bad upstream URL "
	    "'http://[::1': bad host or port\n"
	    "config/bad-upstream-url.yaml:10:3: error: upstream group "
	    "'empty' needs 'servers'\n"
	    "config/bad-upstream-url.yaml:12:8: error: upstream group 'bad' "
	    "must be a mapping with 'servers', not a string\n");
}

Test(config, shorthand_and_default_group_conflict)
{
	expect_failure("config/bad-upstream-twice.yaml",
	    "config/bad-upstream-twice.yaml:3:3: error: upstream group "
	    "'default' is already defined at line 1\n");
}

Test(config, route_errors_suggest_known_names)
{
	expect_failure("config/bad-route.yaml",
	    "config/bad-route.yaml:5:11: error: route path 'api/' must start "
	    "with '/'\n"
	    "config/bad-route.yaml:10:16: error: bad value 'skip' for "
	    "'preflight': use answer or forward\n"
	    "config/bad-route.yaml:11:5: error: a route needs 'path'\n"
	    "config/bad-route.yaml:8:15: error: unknown upstream group "
	    "'apii'; did you mean 'api'?\n"
	    "config/bad-route.yaml:9:16: error: unknown policy 'ap'; did you "
	    "mean 'app'?\n");
}

Test(config, route_without_upstream_needs_default_group)
{
	expect_failure("config/bad-route-no-default.yaml",
	    "config/bad-route-no-default.yaml:5:5: error: this route needs "
	    "'upstream': there is no group named 'default'\n");
}


/*
 * Policies.
 */

Test(config, credentials_with_any_origin_is_error)
{
	expect_failure("config/bad-any-credentials.yaml",
	    "config/bad-any-credentials.yaml:6:9: error: origin '*' cannot "
	    "be used with credentials: browsers refuse "
	    "'Access-Control-Allow-Origin: *' on credentialed requests, and "
	    "reflecting every origin instead would let any site read your "
	    "users' data; list the origins, or use a pattern such as "
	    "https://*.example.com\n");
}

Test(config, policy_errors_reported_at_their_nodes)
{
	expect_failure("config/bad-policy.yaml",
	    "config/bad-policy.yaml:3:5: error: a policy needs 'name'\n"
	    "config/bad-policy.yaml:4:5: error: policy 'nothing' needs "
	    "'origins'\n"
	    "config/bad-policy.yaml:9:9: error: origin "
	    "'https://c.example.com/' ends with a slash; write it without: "
	    "'https://c.example.com'\n"
	    "config/bad-policy.yaml:10:16: error: bad regex "
	    "'^https://(unclosed$': missing closing parenthesis at offset "
	    "19\n"
	    "config/bad-policy.yaml:11:11: error: unknown key 'rgx'\n"
	    "config/bad-policy.yaml:11:9: error: an origin mapping needs "
	    "'regex'\n"
	    "config/bad-policy.yaml:12:26: error: bad method 'PO ST' in "
	    "'allow_methods': write one name per item, as in [GET, POST]\n"
	    "config/bad-policy.yaml:13:20: error: '*' in 'allow_headers' "
	    "means any header name, so it must stand alone: write "
	    "allow_headers: '*'\n"
	    "config/bad-policy.yaml:14:24: error: 'allow_credentials' must "
	    "be true or false, not 'yes'\n"
	    "config/bad-policy.yaml:15:14: error: 'max_age' must be a number "
	    "of seconds, not the quoted string \"600\": remove the quotes\n"
	    "config/bad-policy.yaml:16:16: error: bad value 'drop' for "
	    "'on_denied': use forward or reject\n"
	    "config/bad-policy.yaml:7:11: error: duplicate policy name "
	    "'dup'; the first is at line 5\n"
	    "config/bad-policy.yaml:17:11: error: bad policy name 'my "
	    "policy': use letters, digits, '-', '_' and '.'\n"
	    "config/bad-policy.yaml:18:14: error: 'origins' must not be "
	    "empty\n"
	    "config/bad-policy.yaml:19:5: error: each policy must be a "
	    "mapping with 'name' and 'origins', not a string\n");
}

#define BAD_PORT(origin, port) \
	"origin '" origin "' has a bad port '" port "'; a port is a " \
	"number from 1 to 65535 without leading zeros, or '*' for any port\n"

Test(config, origin_errors_reported_at_each_origin)
{
	expect_failure("config/bad-origins.yaml",
	    "config/bad-origins.yaml:5:9: error: origin "
	    "'https://a.example.com/app' has a path; an origin is "
	    "scheme://host[:port] only\n"
	    "config/bad-origins.yaml:6:9: error: origin 'a.example.com' has "
	    "no scheme; write it as https://host or http://host\n"
	    "config/bad-origins.yaml:7:9: error: origin 'localhost:3000' has "
	    "no scheme; write it as https://host or http://host\n"
	    "config/bad-origins.yaml:8:9: error: "
	    BAD_PORT("https://a.example.com:0", "0")
	    "config/bad-origins.yaml:9:9: error: "
	    BAD_PORT("https://a.example.com:65536", "65536")
	    "config/bad-origins.yaml:10:9: error: "
	    BAD_PORT("https://b.example.com:08080", "08080")
	    "config/bad-origins.yaml:12:39: error: origin "
	    "'ftp://d.example.com' has scheme 'ftp'; only http and https "
	    "are allowed\n"
	    "config/bad-origins.yaml:13:7: error: "
	    BAD_PORT("https://c.example.com:http", "http")
	    "config/bad-origins.yaml:13:37: error: origin "
	    "'https://e.example.com?x=1' has a query or fragment; an origin "
	    "is scheme://host[:port] only\n");
}

Test(config, policy_file_errors_carry_its_name)
{
	expect_failure("config/bad-policy-file-ref.yaml",
	    "config/policies/broken.yaml:1:7: error: bad value 'strict' for "
	    "'mode': use enforce or report\n"
	    "config/policies/broken.yaml:4:5: error: unknown key 'origin'; "
	    "did you mean 'origins'?\n"
	    "config/policies/broken.yaml:3:5: error: policy 'app' needs "
	    "'origins'\n");
}

Test(config, missing_policy_file_reported_where_named)
{
	expect_failure("config/bad-policy-file-missing.yaml",
	    "config/bad-policy-file-missing.yaml:2:11: error: cannot read "
	    "'config/policies/nope.yaml': No such file or directory\n");
}

Test(config, risky_origins_and_long_max_age_warn)
{
	load("config/good-warnings.yaml");
	cr_assert_not_null(conf);
	cr_assert_eq(diag.errors, 0);
	expect_diag("config/good-warnings.yaml:5:9: warning: origin 'null' "
	    "is allowed: sandboxed iframes, local files and redirected "
	    "requests all send it, so any site can obtain it\n"
	    "config/good-warnings.yaml:6:9: warning: 'https://*.example.com' "
	    "with credentials trusts every subdomain, present and future: a "
	    "hijacked subdomain could read your users' data\n"
	    "config/good-warnings.yaml:7:9: warning: 'http://app.example.com' "
	    "is plain http with credentials: anyone on the network path can "
	    "inject script into it and read your users' data; use https\n"
	    "config/good-warnings.yaml:10:14: warning: max_age 10000 is "
	    "longer than Chromium keeps a preflight: it caps it at 7200 "
	    "seconds\n"
	    "config/good-warnings.yaml:14:16: warning: regex "
	    "'^https://App\\.example\\.com$' has upper-case letters, but "
	    "origins are matched lower-cased: write it in lower case or "
	    "start it with (?i)\n"
	    "config/good-warnings.yaml:17:14: warning: max_age 100000 is "
	    "longer than any browser keeps a preflight: Firefox caps it at "
	    "86400 seconds and Chromium at 7200\n"
	    "config/good-warnings.yaml:20:5: warning: route '/api/' is never "
	    "used: the route '/' at line 19 comes first and takes all its "
	    "requests\n");
}

Test(config, policy_file_relative_to_config_directory)
{
	const struct policy	*app, *partner;

	expect_clean("config/good-full.yaml", NULL);
	cr_assert_str_eq(conf->policies.file, "config/policies/app.yaml");
	cr_assert_eq(conf->policies.mode, POLICY_REPORT);
	cr_assert_eq(conf->policies.count, 2);

	app = policy_set_find(&conf->policies, "app");
	cr_assert_eq(app, &conf->policies.policies[0]);
	cr_assert_str_eq(app->mark.file, "config/policies/app.yaml");
	cr_assert_eq(app->mark.line, 4);
	cr_assert_eq(app->mark.column, 5);
	cr_assert_eq(app->norigins, 2);
	cr_assert_eq(app->origins[0].kind, ORIGIN_EXACT);
	cr_assert_str_eq(app->origins[1].text, "http://localhost:*");
	cr_assert_eq(app->origins[1].mark.line, 7);
	cr_assert_str_eq(app->allow_methods.joined, "GET, POST");
	cr_assert_str_eq(app->allow_headers.joined,
	    "Content-Type, Authorization");
	cr_assert_str_eq(app->expose_headers.joined, "X-Request-Id, X-Trace");
	cr_assert_eq(app->expose_headers.count, 2);
	cr_assert(app->allow_credentials);
	cr_assert(app->allow_private_network);
	cr_assert_eq(app->max_age, 600);
	cr_assert_eq(app->on_denied, POLICY_DENIED_REJECT);

	partner = policy_set_find(&conf->policies, "partner");
	cr_assert_eq(partner->origins[0].kind, ORIGIN_ANY);
	cr_assert_not(partner->allow_credentials);
	cr_assert_null(policy_set_find(&conf->policies, "nobody"));
}

Test(config, policy_defaults_when_keys_absent)
{
	const struct policy	*p;

	expect_clean("config/good-inline-list.yaml", NULL);
	cr_assert_null(conf->policies.file);
	cr_assert_eq(conf->policies.mode, POLICY_ENFORCE);
	cr_assert_eq(conf->policies.count, 1);
	p = &conf->policies.policies[0];
	cr_assert_str_eq(p->name, "only");
	cr_assert_not(p->allow_methods.any);
	cr_assert_eq(p->allow_methods.count, 6);
	cr_assert_str_eq(p->allow_methods.joined,
	    "GET, HEAD, POST, PUT, PATCH, DELETE");
	cr_assert(p->allow_headers.any);
	cr_assert_eq(p->expose_headers.count, 0);
	cr_assert_not(p->expose_headers.any);
	cr_assert_str_eq(p->expose_headers.joined, "");
	cr_assert_not(p->allow_credentials);
	cr_assert_eq(p->max_age, -1);
	cr_assert_not(p->allow_private_network);
	cr_assert_eq(p->on_denied, POLICY_DENIED_FORWARD);
}

Test(config, inline_policy_mapping_with_regex_and_any)
{
	const struct policy	*p;

	expect_clean("config/good-inline-policies.yaml", NULL);
	cr_assert_eq(conf->policies.count, 2);
	p = &conf->policies.policies[0];
	cr_assert_eq(p->origins[0].kind, ORIGIN_REGEX);
	cr_assert(origin_pattern_match(&p->origins[0],
	    "https://pr-12.preview.example.com", 33));
	cr_assert_eq(p->origins[1].kind, ORIGIN_SUBDOMAIN);
	cr_assert(p->allow_methods.any);
	cr_assert(p->allow_headers.any);
	cr_assert(p->expose_headers.any);
	cr_assert_str_eq(p->expose_headers.joined, "*");

	p = &conf->policies.policies[1];
	cr_assert_eq(p->allow_methods.count, 1);
	cr_assert_str_eq(p->allow_methods.joined, "GET");
}

Test(config, policy_file_may_be_a_plain_list)
{
	struct config_overrides	 ov = {
		.policies_file = "config/policies/inline-list.yaml"
	};

	expect_clean("config/good-minimal.yaml", &ov);
	cr_assert_eq(conf->policies.count, 1);
	cr_assert_str_eq(conf->policies.policies[0].name, "listed");
}

Test(config, empty_policy_file_is_error)
{
	struct config_overrides	 ov = {
		.policies_file = "config/policies/empty.yaml"
	};

	cr_assert_null(load_with("config/good-minimal.yaml", &ov));
	expect_diag("config/policies/empty.yaml:1:1: error: the policy file "
	    "is empty; it needs a 'policies' list\n");
}


/*
 * Loaded values.
 */

Test(config, listen_items_strings_ipv6_and_tls)
{
	expect_clean("config/good-full.yaml", NULL);
	cr_assert_eq(conf->nlistens, 3);
	cr_assert_str_eq(conf->listens[0].host, "127.0.0.1");
	cr_assert_eq(conf->listens[0].port, 8081);
	cr_assert_null(conf->listens[0].cert);
	cr_assert_str_eq(conf->listens[0].mark.file, "config/good-full.yaml");
	cr_assert_eq(conf->listens[0].mark.line, 3);
	cr_assert_str_eq(conf->listens[1].host, "::1");
	cr_assert_eq(conf->listens[1].port, 8082);
	cr_assert_str_eq(conf->listens[2].host, "0.0.0.0");
	cr_assert_eq(conf->listens[2].port, 8443);
	cr_assert_str_eq(conf->listens[2].cert, "tls/cert.pem");
	cr_assert_str_eq(conf->listens[2].key, "tls/key.pem");
}

Test(config, upstream_groups_and_servers)
{
	const struct config_upstream	*g;

	expect_clean("config/good-full.yaml", NULL);
	cr_assert_eq(conf->nupstreams, 3);
	g = &conf->upstreams[0];
	cr_assert_str_eq(g->name, "default");
	cr_assert_eq(g->nservers, 1);
	cr_assert_eq(g->host_mode, CONFIG_HOST_UPSTREAM);

	g = &conf->upstreams[1];
	cr_assert_str_eq(g->name, "api");
	cr_assert_eq(g->nservers, 2);
	cr_assert_str_eq(g->servers[0].host, "10.0.0.5");
	cr_assert_eq(g->servers[0].port, 3000);
	cr_assert_not(g->servers[0].tls);
	cr_assert_str_eq(g->servers[1].url, "https://[2001:db8::5]:8443/");
	cr_assert_str_eq(g->servers[1].host, "2001:db8::5");
	cr_assert_eq(g->servers[1].port, 8443);
	cr_assert(g->servers[1].tls);
	cr_assert_eq(g->servers[1].mark.line, 10);
	cr_assert_eq(g->host_mode, CONFIG_HOST_CLIENT);
	cr_assert_str_eq(g->ca_file, "ca/internal.pem");

	g = &conf->upstreams[2];
	cr_assert_str_eq(g->name, "static");
	cr_assert_eq(g->servers[0].port, 443);
	cr_assert_eq(g->host_mode, CONFIG_HOST_FIXED);
	cr_assert_str_eq(g->host_name, "static.internal");
	cr_assert_null(g->ca_file);
}

Test(config, routes_resolve_groups_and_policy_indexes)
{
	const struct config_route	*r;

	expect_clean("config/good-full.yaml", NULL);
	cr_assert_eq(conf->nroutes, 3);
	r = &conf->routes[0];
	cr_assert_str_eq(r->path, "/api/");
	cr_assert_str_eq(r->host, "app.example.com");
	cr_assert_eq(r->upstream, 1);
	cr_assert_not(r->all_policies);
	cr_assert_eq(r->npolicies, 2);
	cr_assert_eq(r->policies[0], 1);
	cr_assert_eq(r->policies[1], 0);
	cr_assert_eq(r->preflight, CONFIG_PREFLIGHT_FORWARD);
	cr_assert_eq(r->mark.line, 17);

	r = &conf->routes[1];
	cr_assert_str_eq(r->path, "/assets/");
	cr_assert_null(r->host);
	cr_assert_eq(r->upstream, 2);
	cr_assert(r->all_policies);
	cr_assert_eq(r->preflight, CONFIG_PREFLIGHT_ANSWER);
}

Test(config, catch_all_route_added_last)
{
	const struct config_route	*r;

	expect_clean("config/good-full.yaml", NULL);
	r = &conf->routes[conf->nroutes - 1];
	cr_assert_str_eq(r->path, "/");
	cr_assert_null(r->host);
	cr_assert_eq(r->upstream, 0);
	cr_assert(r->all_policies);
	cr_assert_eq(r->preflight, CONFIG_PREFLIGHT_ANSWER);
}

Test(config, user_root_route_is_not_duplicated)
{
	expect_clean("config/good-root-route.yaml", NULL);
	cr_assert_eq(conf->nroutes, 1);
	cr_assert_str_eq(conf->routes[0].path, "/");
	cr_assert_eq(conf->routes[0].preflight, CONFIG_PREFLIGHT_FORWARD);
	cr_assert_eq(conf->nlistens, 1);
	cr_assert_eq(conf->listens[0].port, 9000);
}

Test(config, catch_all_uses_first_group_without_default)
{
	expect_clean("config/good-catchall-first-group.yaml", NULL);
	cr_assert_eq(conf->nroutes, 2);
	cr_assert_eq(conf->routes[0].upstream, 1);
	cr_assert_eq(conf->routes[1].upstream, 0);
	cr_assert_str_eq(conf->upstreams[0].name, "web");
}

static const struct route_match_case {
	const char	*target;
	const char	*host;		/* the Host header, or NULL */
	size_t		 route;		/* its index in the fixture */
} route_match_cases[] = {
	{ "/api/x", "a.example.com", 0 },
	{ "/api/x", "A.Example.COM", 0 },
	{ "/api/x", "a.example.com:8443", 0 },
	{ "/api/x", "b.example.com", 1 },
	{ "/api/x", "B.EXAMPLE.COM:80", 1 },
	{ "/api/x", "[::1]:8080", 2 },
	{ "/api/x", "[::1]", 2 },
	/* No route names the host: the one without a host. */
	{ "/api/x", "c.example.com", 3 },
	{ "/api/x", NULL, 3 },
	{ "/api/x", "a.example.com.evil", 3 },
	{ "/api/x", "xa.example.com", 3 },
	{ "/api/x", "a.example.co", 3 },
	{ "/api/x", "[::2]:8080", 3 },
	{ "/static/app.js", "a.example.com:80", 4 },
	/* The host matches, the path does not: the catch-all. */
	{ "/static/app.js", "b.example.com", 5 },
	{ "/other", "a.example.com", 5 },
};

Test(config, route_match_chooses_by_host_without_case_or_port)
{
	const struct route_match_case	*c;
	const struct config_route	*r;
	size_t				 i;

	expect_clean("config/good-route-hosts.yaml", NULL);
	cr_assert_eq(conf->nroutes, 6);
	cr_assert_null(conf->routes[5].host);
	for (i = 0; i < sizeof(route_match_cases) /
	    sizeof(route_match_cases[0]); i++) {
		c = &route_match_cases[i];
		r = config_route_match(conf, c->target, c->host);
		cr_expect_eq(r, &conf->routes[c->route], "%s with Host %s: "
		    "route %zu, not %zu", c->target, c->host ? c->host :
		    "(none)", (size_t)(r - conf->routes), c->route);
	}
}

Test(config, limits_timeouts_log_and_admin)
{
	expect_clean("config/good-full.yaml", NULL);
	cr_assert_eq(conf->workers, 4);
	cr_assert_eq(conf->limits.header_bytes, 16 * 1024);
	cr_assert_eq(conf->limits.header_count, 50);
	cr_assert_eq(conf->limits.body_bytes, 1024 * 1024);
	cr_assert_eq(conf->limits.connections, 500);
	cr_assert_eq(conf->timeouts.client_header, 2000);
	cr_assert_eq(conf->timeouts.client_idle, 30000);
	cr_assert_eq(conf->timeouts.upstream_connect, 250);
	cr_assert_eq(conf->timeouts.upstream_read, 120000);
	cr_assert_eq(conf->timeouts.shutdown, 5000);
	cr_assert_eq(conf->log.level, CONFIG_LOG_DEBUG);
	cr_assert_str_eq(conf->log.access, "/var/log/corsproxy/access.log");
	cr_assert_eq(conf->log.format, CONFIG_LOG_JSON);
	cr_assert_str_eq(conf->admin, "[::1]:9901");
}

Test(config, minimal_file_gets_defaults)
{
	expect_clean("config/good-minimal.yaml", NULL);
	cr_assert_str_eq(conf->file, "config/good-minimal.yaml");
	cr_assert_eq(conf->nlistens, 1);
	cr_assert_str_eq(conf->listens[0].host, "127.0.0.1");
	cr_assert_eq(conf->listens[0].port, 8080);
	cr_assert_eq(conf->workers, 0);
	cr_assert_eq(conf->nupstreams, 1);
	cr_assert_str_eq(conf->upstreams[0].name, "default");
	cr_assert_eq(conf->limits.header_bytes, 32 * 1024);
	cr_assert_eq(conf->limits.header_count, 100);
	cr_assert_eq(conf->limits.body_bytes, 10 * 1024 * 1024);
	cr_assert_eq(conf->limits.connections, 10000);
	cr_assert_eq(conf->timeouts.client_header, 10000);
	cr_assert_eq(conf->timeouts.client_idle, 60000);
	cr_assert_eq(conf->timeouts.upstream_connect, 5000);
	cr_assert_eq(conf->timeouts.upstream_read, 60000);
	cr_assert_eq(conf->timeouts.shutdown, 10000);
	cr_assert_eq(conf->log.level, CONFIG_LOG_INFO);
	cr_assert_str_eq(conf->log.access, "stderr");
	cr_assert_eq(conf->log.format, CONFIG_LOG_TEXT);
	cr_assert_null(conf->admin);
	cr_assert_eq(conf->policies.count, 0);
	cr_assert_eq(conf->policies.mode, POLICY_ENFORCE);
	cr_assert_eq(conf->nroutes, 1);
}

Test(config, no_file_gives_development_defaults)
{
	static const char *const hosts[] = {
		"localhost", "127.0.0.1", "[::1]"
	};
	const struct policy	*p;
	size_t			 i;

	expect_clean(NULL, NULL);
	cr_assert_null(conf->file);
	cr_assert_eq(conf->nlistens, 1);
	cr_assert_str_eq(conf->listens[0].host, "127.0.0.1");
	cr_assert_eq(conf->listens[0].port, 8080);
	cr_assert_eq(conf->nupstreams, 1);
	cr_assert_str_eq(conf->upstreams[0].name, "default");
	cr_assert_str_eq(conf->upstreams[0].servers[0].url,
	    "http://127.0.0.1:3000");
	cr_assert_eq(conf->upstreams[0].servers[0].port, 3000);
	cr_assert_eq(conf->nroutes, 1);
	cr_assert_eq(conf->policies.count, 1);

	p = &conf->policies.policies[0];
	cr_assert_str_eq(p->name, "development");
	cr_assert_eq(p->norigins, 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(p->origins[i].kind, ORIGIN_EXACT);
		cr_assert_str_eq(p->origins[i].scheme, "http");
		cr_assert_str_eq(p->origins[i].host, hosts[i]);
		cr_assert_eq(p->origins[i].port, ORIGIN_PORT_ANY);
	}
	cr_assert(p->allow_methods.any);
	cr_assert(p->allow_headers.any);
	cr_assert(p->allow_credentials);
	cr_assert(p->allow_private_network);
	cr_assert_eq(p->max_age, -1);
	cr_assert_eq(p->on_denied, POLICY_DENIED_FORWARD);
}


/*
 * Command-line overrides.
 */

Test(config, listen_override_replaces_and_allows_port_zero)
{
	const char		*listens[] = { "[::1]:0", "127.0.0.1:9999" };
	struct config_overrides	 ov = { .listens = listens, .nlistens = 2 };

	expect_clean("config/good-full.yaml", &ov);
	cr_assert_eq(conf->nlistens, 2);
	cr_assert_str_eq(conf->listens[0].host, "::1");
	cr_assert_eq(conf->listens[0].port, 0);
	cr_assert_str_eq(conf->listens[1].host, "127.0.0.1");
	cr_assert_eq(conf->listens[1].port, 9999);
	cr_assert_null(conf->listens[1].cert);
}

Test(config, bad_listen_override_names_the_flag)
{
	const char		*listens[] = { "localhost" };
	struct config_overrides	 ov = { .listens = listens, .nlistens = 1 };

	cr_assert_null(load_with(NULL, &ov));
	expect_diag("-l: error: bad address 'localhost': use HOST:PORT, or "
	    "[IPv6]:PORT\n");
}

Test(config, upstream_override_replaces_default_servers)
{
	const char		*urls[] = {
		"http://127.0.0.1:4000", "https://api.example.com"
	};
	struct config_overrides	 ov = { .upstreams = urls, .nupstreams = 2 };

	expect_clean("config/good-full.yaml", &ov);
	cr_assert_eq(conf->nupstreams, 3);
	cr_assert_eq(conf->upstreams[0].nservers, 2);
	cr_assert_eq(conf->upstreams[0].servers[0].port, 4000);
	cr_assert_str_eq(conf->upstreams[0].servers[1].host,
	    "api.example.com");
	cr_assert_eq(conf->upstreams[1].nservers, 2);
}

Test(config, upstream_override_creates_default_group)
{
	const char		*urls[] = { "http://127.0.0.1:4000" };
	struct config_overrides	 ov = { .upstreams = urls, .nupstreams = 1 };

	expect_clean("config/good-catchall-first-group.yaml", &ov);
	cr_assert_eq(conf->nupstreams, 3);
	cr_assert_str_eq(conf->upstreams[2].name, "default");
	cr_assert_eq(conf->routes[conf->nroutes - 1].upstream, 2);
}

Test(config, upstream_override_stands_in_for_missing_upstream)
{
	const char		*urls[] = { "http://127.0.0.1:4000" };
	struct config_overrides	 ov = { .upstreams = urls, .nupstreams = 1 };

	expect_clean("config/bad-no-upstream.yaml", &ov);
	cr_assert_eq(conf->nupstreams, 1);
	cr_assert_eq(conf->upstreams[0].servers[0].port, 4000);
}

Test(config, bad_upstream_override_names_the_flag)
{
	const char		*urls[] = { "localhost:3000" };
	struct config_overrides	 ov = { .upstreams = urls, .nupstreams = 1 };

	cr_assert_null(load_with(NULL, &ov));
	expect_diag("-u: error: bad upstream URL 'localhost:3000': use "
	    "http:// or https://\n");
}

Test(config, origins_override_keeps_development_defaults)
{
	const char		*origins[] = {
		"https://app.example.com", "http://localhost:5173"
	};
	struct config_overrides	 ov = { .origins = origins, .norigins = 2 };
	const struct policy	*p;

	expect_clean("config/good-full.yaml", &ov);
	cr_assert_eq(conf->policies.count, 1);
	cr_assert_null(conf->policies.file);
	p = &conf->policies.policies[0];
	cr_assert_str_eq(p->name, "command-line");
	cr_assert_eq(p->norigins, 2);
	cr_assert_str_eq(p->origins[0].host, "app.example.com");
	cr_assert_eq(p->origins[1].port, 5173);
	cr_assert(p->allow_methods.any);
	cr_assert(p->allow_headers.any);
	cr_assert(p->allow_credentials);
	cr_assert(p->allow_private_network);
	/* The file's route named policies that no longer exist. */
	cr_assert(conf->routes[0].all_policies);
}

Test(config, bad_origin_override_names_the_flag)
{
	const char		*origins[] = { "app.example.com", "*" };
	struct config_overrides	 ov = { .origins = origins, .norigins = 2 };

	cr_assert_null(load_with(NULL, &ov));
	expect_diag("-o: error: origin 'app.example.com' has no scheme; "
	    "write it as https://host or http://host\n"
	    "-o: error: origin '*' cannot be used with credentials: "
	    "browsers refuse 'Access-Control-Allow-Origin: *' on "
	    "credentialed requests, and reflecting every origin instead "
	    "would let any site read your users' data; list the origins, or "
	    "use a pattern such as https://*.example.com\n");
}

Test(config, workers_override)
{
	struct config_overrides	 ov = { .workers = 3 };

	expect_clean("config/good-full.yaml", &ov);
	cr_assert_eq(conf->workers, 3);
}

Test(config, policies_override_replaces_config_policies)
{
	struct config_overrides	 ov = {
		.policies_file = "config/policies/app.yaml"
	};

	expect_clean("config/good-inline-list.yaml", &ov);
	cr_assert_str_eq(conf->policies.file, "config/policies/app.yaml");
	cr_assert_eq(conf->policies.count, 2);
	cr_assert_null(policy_set_find(&conf->policies, "only"));
}

Test(config, policies_override_checks_route_names)
{
	struct config_overrides	 ov = {
		.policies_file = "../../policies/development.yaml"
	};

	cr_assert_null(load_with("config/good-full.yaml", &ov));
	expect_diag("config/good-full.yaml:20:16: error: unknown policy "
	    "'partner'\n"
	    "config/good-full.yaml:20:25: error: unknown policy 'app'\n");
}


/*
 * The shipped example and policy files.
 */

Test(config, example_config_loads_cleanly)
{
	expect_clean("../../proxy.yaml.example", NULL);
	cr_assert_str_eq(conf->policies.file,
	    "../../policies/production.yaml");
	cr_assert_eq(conf->nlistens, 2);
	cr_assert_eq(conf->nupstreams, 2);
}

Test(config, shipped_policy_files_load_cleanly)
{
	static const char *const files[] = {
		"../../policies/development.yaml",
		"../../policies/staging.yaml",
		"../../policies/production.yaml",
	};
	struct config_overrides	 ov;
	size_t			 i;

	for (i = 0; i < 3; i++) {
		memset(&ov, 0, sizeof(ov));
		ov.policies_file = files[i];
		expect_clean(NULL, &ov);
		cr_assert_str_eq(conf->policies.file, files[i]);
		cr_assert_gt(conf->policies.count, 0);
		teardown();
	}
}

Test(config, production_policies_are_strict)
{
	struct config_overrides	 ov = {
		.policies_file = "../../policies/production.yaml"
	};
	const struct policy	*p;
	size_t			 i;

	expect_clean("../../proxy.yaml.example", &ov);
	p = policy_set_find(&conf->policies, "web");
	cr_assert_not_null(p);
	cr_assert(p->allow_credentials);
	cr_assert_eq(p->max_age, 600);
	cr_assert_str_eq(p->expose_headers.joined, "X-Request-Id");
	cr_assert_eq(p->on_denied, POLICY_DENIED_REJECT);
	for (i = 0; i < p->norigins; i++) {
		cr_assert_eq(p->origins[i].kind, ORIGIN_EXACT);
		cr_assert_str_eq(p->origins[i].scheme, "https");
	}
}


/*
 * The value parsers, from tables.
 */

Test(config, sizes_parse)
{
	static const struct {
		const char	*text;
		size_t		 bytes;
	} cases[] = {
		{ "0", 0 }, { "512", 512 }, { "512B", 512 },
		{ "32KiB", 32768 }, { "10MiB", 10485760 },
		{ "1GiB", 1073741824 }, { "0KiB", 0 },
	};
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 12345;
		cr_assert_eq(confvalue_parse_size(cases[i].text, &n), 0, "%s",
		    cases[i].text);
		cr_assert_eq(n, cases[i].bytes, "%s", cases[i].text);
	}
}

Test(config, sizes_reject_malformed)
{
	static const char *const cases[] = {
		"", "KiB", "10 KiB", "10KB", "10kb", "10M", "1.5MiB", "-1",
		"10TiB", "99999999999999999999", "18446744073709551615GiB",
		"10MiBs", " 10",
	};
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_size(cases[i], &n), -1, "%s",
		    cases[i]);
	}
}

Test(config, durations_parse)
{
	static const struct {
		const char	*text;
		long		 ms;
	} cases[] = {
		{ "250ms", 250 }, { "10s", 10000 }, { "2m", 120000 },
		{ "0s", 0 }, { "1ms", 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_duration(cases[i].text),
		    cases[i].ms, "%s", cases[i].text);
	}
}

Test(config, durations_reject_malformed)
{
	static const char *const cases[] = {
		"", "10", "s", "10 s", "10sec", "1h", "1.5s", "-1s", "10S",
		"99999999999999999999m", "10ms ",
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_duration(cases[i]), -1, "%s",
		    cases[i]);
	}
}

Test(config, hostports_parse)
{
	static const struct {
		const char	*text;
		const char	*host;
		int		 port;
	} cases[] = {
		{ "127.0.0.1:8080", "127.0.0.1", 8080 },
		{ "[::1]:8080", "::1", 8080 },
		{ "[2001:db8::1]:443", "2001:db8::1", 443 },
		{ "localhost:0", "localhost", 0 },
		{ "api.example.com:65535", "api.example.com", 65535 },
	};
	char	*host;
	int	 port;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_hostport(cases[i].text, &host,
		    &port), 0, "%s", cases[i].text);
		cr_assert_str_eq(host, cases[i].host);
		cr_assert_eq(port, cases[i].port);
		free(host);
	}
}

Test(config, hostports_reject_malformed)
{
	static const char *const cases[] = {
		"", "localhost", ":8080", "host:", "host:65536", "::1:8080",
		"[::1]", "[::1]8080", "[::g]:80", "[::1:80", "a b:80",
		"host:80x", "host:-1",
	};
	char	*host;
	int	 port;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_hostport(cases[i], &host, &port),
		    -1, "%s", cases[i]);
	}
}

Test(config, server_urls_parse)
{
	static const struct {
		const char	*url;
		bool		 tls;
		const char	*host;
		int		 port;
	} cases[] = {
		{ "http://127.0.0.1:3000", false, "127.0.0.1", 3000 },
		{ "http://example.com", false, "example.com", 80 },
		{ "https://example.com/", true, "example.com", 443 },
		{ "HTTPS://Example.com:8443", true, "Example.com", 8443 },
		{ "http://[::1]:3000", false, "::1", 3000 },
		{ "https://[2001:db8::1]", true, "2001:db8::1", 443 },
	};
	struct config_server	 srv;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_server(cases[i].url, &srv, err,
		    sizeof(err)), 0, "%s: %s", cases[i].url, err);
		cr_assert_str_eq(srv.url, cases[i].url);
		cr_assert_eq(srv.tls, cases[i].tls);
		cr_assert_str_eq(srv.host, cases[i].host);
		cr_assert_eq(srv.port, cases[i].port);
		free(srv.url);
		free(srv.host);
	}
}

Test(config, server_urls_reject_malformed)
{
	static const struct {
		const char	*url;
		const char	*reason;
	} cases[] = {
		{ "ftp://x", "use http:// or https://" },
		{ "127.0.0.1:3000", "use http:// or https://" },
		{ "http://", "bad host or port" },
		{ "http://:80", "bad host or port" },
		{ "http://host:0", "the port must be 1 to 65535" },
		{ "http://host:65536", "bad host or port" },
		{ "http://::1:80", "bad host or port" },
		{ "http://a@host", "user information (user@host) is not "
		    "supported" },
		{ "http://host/api", "a path is not allowed; the client's own "
		    "path is forwarded unchanged" },
		{ "http://host//", "a path is not allowed; the client's own "
		    "path is forwarded unchanged" },
		{ "http://host?q", "a query is not allowed; the client's own "
		    "query is forwarded" },
		{ "http://host#f", "a fragment is not allowed" },
	};
	struct config_server	 srv;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(confvalue_parse_server(cases[i].url, &srv, err,
		    sizeof(err)), -1, "%s", cases[i].url);
		cr_assert_str_eq(err, cases[i].reason, "%s", cases[i].url);
	}
}


/*
 * The summary line.
 */

Test(config, summary_counts_everything)
{
	char	 buf[256];

	expect_clean("config/good-full.yaml", NULL);
	config_summary(conf, buf, sizeof(buf));
	cr_assert_str_eq(buf, "config config/good-full.yaml: 3 listeners, "
	    "3 upstream groups (4 servers), 3 routes, 2 policies (report) "
	    "from config/policies/app.yaml");
}

Test(config, summary_of_development_defaults)
{
	char	 buf[256];

	expect_clean(NULL, NULL);
	config_summary(conf, buf, sizeof(buf));
	cr_assert_str_eq(buf, "config (defaults): 1 listener, 1 upstream "
	    "group (1 server), 1 route, 1 policy (enforce)");
}

Test(config, config_free_accepts_null)
{
	config_free(NULL);
}
