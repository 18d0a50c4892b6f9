/*
 * A YAML document tree built from libyaml's event parser.
 *
 * libyaml's own document API forgets whether a scalar was quoted and
 * does not reject duplicate keys, and both matter here: a quoted "10"
 * is a string, and a repeated key would silently win over the first.
 * So the events are read by a small recursive descent, one function
 * per kind of node.  The recursion is bounded by YAMLTREE_MAX_DEPTH so
 * a hostile file cannot exhaust the stack, and aliases are refused so
 * it cannot multiply itself into a huge tree either.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "yamltree.h"

#define YAMLTREE_STR_TAG	"tag:yaml.org,2002:str"

struct yamltree_reader {
	yaml_parser_t	 parser;
	const char	*file;
	struct diag	*diag;
};

static int	yamltree_node(struct yamltree_reader *, yaml_event_t *, int,
		    struct yamltree_node **);


static void
yamltree_mark(const struct yamltree_reader *r, const yaml_mark_t *ym,
    struct diag_mark *mark)
{
	/* libyaml counts from 0; people and editors count from 1. */
	mark->file = r->file;
	mark->line = (int)ym->line + 1;
	mark->column = (int)ym->column + 1;
}


static int
yamltree_next(struct yamltree_reader *r, yaml_event_t *ev)
{
	struct diag_mark	 mark;
	const yaml_mark_t	*where;

	if (yaml_parser_parse(&r->parser, ev)) {
		return 0;
	}
	/* A reader error (bad UTF-8) leaves problem_mark unset. */
	where = r->parser.error == YAML_READER_ERROR ?
	    &r->parser.mark : &r->parser.problem_mark;
	yamltree_mark(r, where, &mark);
	if (r->parser.error == YAML_MEMORY_ERROR ||
	    r->parser.problem == NULL) {
		diag_error(r->diag, &mark, "cannot parse YAML: out of memory");
	} else {
		diag_error(r->diag, &mark, "%s", r->parser.problem);
	}
	return -1;
}


static struct yamltree_node *
yamltree_new(const struct yamltree_reader *r, enum yamltree_kind kind,
    const yaml_event_t *ev)
{
	struct yamltree_node	*node;
	struct diag_mark	 mark;

	yamltree_mark(r, &ev->start_mark, &mark);
	node = calloc(1, sizeof(*node));
	if (node == NULL) {
		diag_error(r->diag, &mark, "out of memory");
		return NULL;
	}
	node->kind = kind;
	node->mark = mark;
	return node;
}


void
yamltree_free(struct yamltree_node *node)
{
	size_t	i;

	if (node == NULL) {
		return;
	}
	for (i = 0; i < node->nitems; i++) {
		yamltree_free(node->items[i]);
	}
	for (i = 0; i < node->npairs; i++) {
		yamltree_free(node->pairs[i].key);
		yamltree_free(node->pairs[i].value);
	}
	free(node->items);
	free(node->pairs);
	free(node->text);
	free(node);
}


static int
yamltree_scalar(struct yamltree_reader *r, yaml_event_t *ev,
    struct yamltree_node **out)
{
	struct yamltree_node	*node;
	const char		*tag;
	size_t			 len = ev->data.scalar.length;

	node = yamltree_new(r, YAMLTREE_SCALAR, ev);
	if (node == NULL) {
		return -1;
	}
	/* Every consumer compares with C strings, so an escaped NUL
	 * would silently cut a value short. */
	if (memchr(ev->data.scalar.value, '\0', len) != NULL) {
		diag_error(r->diag, &node->mark,
		    "a string must not contain a NUL character");
		goto fail;
	}
	node->text = strndup((const char *)ev->data.scalar.value, len);
	if (node->text == NULL) {
		diag_error(r->diag, &node->mark, "out of memory");
		goto fail;
	}

	tag = (const char *)ev->data.scalar.tag;
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    (tag != NULL && strcmp(tag, YAMLTREE_STR_TAG) == 0);
	*out = node;
	return 0;

fail:
	yamltree_free(node);
	return -1;
}


static int
yamltree_push_item(struct yamltree_reader *r, struct yamltree_node *seq,
    struct yamltree_node *item)
{
	struct yamltree_node	**items;

	items = reallocarray(seq->items, seq->nitems + 1, sizeof(*items));
	if (items == NULL) {
		diag_error(r->diag, &item->mark, "out of memory");
		yamltree_free(item);
		return -1;
	}
	seq->items = items;
	seq->items[seq->nitems++] = item;
	return 0;
}


static int
yamltree_sequence(struct yamltree_reader *r, yaml_event_t *start,
    int depth, struct yamltree_node **out)
{
	struct yamltree_node	*seq, *item;
	yaml_event_t		 ev;

	seq = yamltree_new(r, YAMLTREE_SEQUENCE, start);
	if (seq == NULL) {
		return -1;
	}
	for (;;) {
		if (yamltree_next(r, &ev) == -1) {
			goto fail;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (yamltree_node(r, &ev, depth + 1, &item) == -1 ||
		    yamltree_push_item(r, seq, item) == -1) {
			goto fail;
		}
	}
	*out = seq;
	return 0;

fail:
	yamltree_free(seq);
	return -1;
}


/*
 * A repeated key is reported and its pair dropped, but reading goes
 * on: the rest of the file may hold more mistakes worth reporting.
 */
static int
yamltree_push_pair(struct yamltree_reader *r, struct yamltree_node *map,
    struct yamltree_node *key, struct yamltree_node *value)
{
	struct yamltree_pair	*pairs;
	size_t			 i;

	for (i = 0; i < map->npairs; i++) {
		if (strcmp(map->pairs[i].key->text, key->text) == 0) {
			diag_error(r->diag, &key->mark,
			    "duplicate key '%s'; the first is at line %d",
			    key->text, map->pairs[i].key->mark.line);
			goto drop;
		}
	}
	pairs = reallocarray(map->pairs, map->npairs + 1, sizeof(*pairs));
	if (pairs == NULL) {
		diag_error(r->diag, &key->mark, "out of memory");
		goto drop;
	}
	map->pairs = pairs;
	map->pairs[map->npairs].key = key;
	map->pairs[map->npairs].value = value;
	map->npairs++;
	return 0;

drop:
	yamltree_free(key);
	yamltree_free(value);
	return 0;
}


static int
yamltree_mapping(struct yamltree_reader *r, yaml_event_t *start,
    int depth, struct yamltree_node **out)
{
	struct yamltree_node	*map, *key = NULL, *value = NULL;
	yaml_event_t		 ev;

	map = yamltree_new(r, YAMLTREE_MAPPING, start);
	if (map == NULL) {
		return -1;
	}
	for (;;) {
		if (yamltree_next(r, &ev) == -1) {
			goto fail;
		}
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (yamltree_node(r, &ev, depth + 1, &key) == -1) {
			goto fail;
		}
		if (yamltree_next(r, &ev) == -1 ||
		    yamltree_node(r, &ev, depth + 1, &value) == -1) {
			goto fail;
		}
		if (key->kind != YAMLTREE_SCALAR) {
			diag_error(r->diag, &key->mark,
			    "a key must be a string, not %s",
			    yamltree_kind_name(key));
			yamltree_free(key);
			yamltree_free(value);
		} else {
			yamltree_push_pair(r, map, key, value);
		}
		key = value = NULL;
	}
	*out = map;
	return 0;

fail:
	yamltree_free(key);
	yamltree_free(map);
	return -1;
}


/* Reads the node that ev starts, taking ownership of ev. */
static int
yamltree_node(struct yamltree_reader *r, yaml_event_t *ev, int depth,
    struct yamltree_node **out)
{
	struct diag_mark	mark;
	int			rc = -1;

	yamltree_mark(r, &ev->start_mark, &mark);
	if (depth > YAMLTREE_MAX_DEPTH) {
		diag_error(r->diag, &mark, "nested deeper than %d levels",
		    YAMLTREE_MAX_DEPTH);
		goto done;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		rc = yamltree_scalar(r, ev, out);
		break;
	case YAML_SEQUENCE_START_EVENT:
		rc = yamltree_sequence(r, ev, depth, out);
		break;
	case YAML_MAPPING_START_EVENT:
		rc = yamltree_mapping(r, ev, depth, out);
		break;
	case YAML_ALIAS_EVENT:
		diag_error(r->diag, &mark, "aliases (*%s) are not supported",
		    (const char *)ev->data.alias.anchor);
		break;
	default:
		diag_error(r->diag, &mark, "unexpected YAML event");
		break;
	}

done:
	yaml_event_delete(ev);
	return rc;
}


/* Expects an event of type want; reports anything else at its mark. */
static int
yamltree_expect(struct yamltree_reader *r, yaml_event_type_t want,
    const char *what)
{
	yaml_event_t		ev;
	struct diag_mark	mark;
	int			rc = 0;

	if (yamltree_next(r, &ev) == -1) {
		return -1;
	}
	if (ev.type != want) {
		yamltree_mark(r, &ev.start_mark, &mark);
		diag_error(r->diag, &mark, "%s", what);
		rc = -1;
	}
	yaml_event_delete(&ev);
	return rc;
}


static int
yamltree_document(struct yamltree_reader *r, struct yamltree_node **root)
{
	yaml_event_t	ev;

	if (yamltree_expect(r, YAML_STREAM_START_EVENT,
	    "expected the start of a YAML stream") == -1 ||
	    yamltree_next(r, &ev) == -1) {
		return -1;
	}
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);
	if (yamltree_next(r, &ev) == -1 ||
	    yamltree_node(r, &ev, 1, root) == -1) {
		return -1;
	}
	if (yamltree_expect(r, YAML_DOCUMENT_END_EVENT,
	    "expected the end of the document") == -1 ||
	    yamltree_expect(r, YAML_STREAM_END_EVENT,
	    "only one YAML document is allowed in a file") == -1) {
		return -1;
	}

	/* A document of nothing but "---" is as empty as an empty file. */
	if ((*root)->kind == YAMLTREE_SCALAR && !(*root)->quoted &&
	    (*root)->text[0] == '\0') {
		yamltree_free(*root);
		*root = NULL;
	}
	return 0;
}


static FILE *
yamltree_open(const char *file, const struct diag_mark *from,
    struct diag *diag)
{
	struct diag_mark	 whole = { file, 0, 0 };
	struct stat		 st;
	FILE			*fp;
	int			 error;

	fp = fopen(file, "rb");
	if (fp != NULL && fstat(fileno(fp), &st) == 0 &&
	    S_ISDIR(st.st_mode)) {
		fclose(fp);
		fp = NULL;
		errno = EISDIR;
	}
	if (fp == NULL) {
		error = errno;
		if (from != NULL) {
			diag_error(diag, from, "cannot read '%s': %s", file,
			    strerror(error));
		} else {
			diag_error(diag, &whole, "cannot read: %s",
			    strerror(error));
		}
	}
	return fp;
}


int
yamltree_load(const char *file, const struct diag_mark *from,
    struct yamltree_node **root, struct diag *diag)
{
	struct yamltree_reader	 r;
	FILE			*fp;
	int			 rc = -1;

	*root = NULL;
	fp = yamltree_open(file, from, diag);
	if (fp == NULL) {
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.file = file;
	r.diag = diag;
	if (!yaml_parser_initialize(&r.parser)) {
		diag_error(diag, from, "out of memory");
		goto done;
	}
	yaml_parser_set_input_file(&r.parser, fp);

	rc = yamltree_document(&r, root);
	if (rc == -1) {
		yamltree_free(*root);
		*root = NULL;
	}
	yaml_parser_delete(&r.parser);

done:
	fclose(fp);
	return rc;
}


const struct yamltree_node *
yamltree_get(const struct yamltree_node *map, const char *key)
{
	size_t	i;

	if (map == NULL || map->kind != YAMLTREE_MAPPING) {
		return NULL;
	}
	for (i = 0; i < map->npairs; i++) {
		if (strcmp(map->pairs[i].key->text, key) == 0) {
			return map->pairs[i].value;
		}
	}
	return NULL;
}


const char *
yamltree_kind_name(const struct yamltree_node *node)
{
	switch (node->kind) {
	case YAMLTREE_SCALAR:
		return "a string";
	case YAMLTREE_SEQUENCE:
		return "a list";
	case YAMLTREE_MAPPING:
		return "a mapping";
	}
	return "a node";
}
