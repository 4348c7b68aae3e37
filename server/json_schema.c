/* JSON Schema for constrained output: the compiler from a schema to a node
 * table, and the automaton that reads the output a byte at a time against
 * it. See json_schema.h for what is kept. */
#include "json_schema.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrt_llm.h"
#include "tojson.h"

#define MAX_NODES 4096
#define MAX_LITS 64 /* an object's properties, an enum's values */
#define MAX_LIT_LEN 4096
#define MAX_ITEMS 65535
#define NO_NODE (-1)
/* the largest integer the output may write: MRT_JSON_MAX_INT_DIGITS nines */
#define INT_MAX_VALUE 9999999999999999LL

enum kind {
	K_ANY,    /* any JSON value */
	K_OBJECT, /* declared properties, in order (lits: keys) */
	K_MAP,    /* any keys, values of node child (NO_NODE: no keys) */
	K_ARRAY,  /* items of node child, min_items .. max_items of them */
	K_STRING, /* min_items .. max_items characters (minLength, maxLength) */
	K_NUMBER,
	K_INTEGER, /* lo .. hi (minimum, maximum, exclusiveMinimum, exclusiveMaximum) */
	K_LITS,    /* one of the JSON texts lits[first .. first + count) */
	K_UNION,   /* one of alts[first ..]: the one whose values start with the byte */
	K_PENDING, /* being compiled */
};

typedef struct node {
	uint8_t kind;
	int first, count;         /* K_OBJECT / K_LITS: lits; K_UNION: alts */
	int child;                /* K_MAP, K_ARRAY */
	int min_items, max_items; /* K_ARRAY: items; K_STRING: characters */
	int64_t lo, hi;           /* K_INTEGER: its range (minimum .. maximum) */
	uint8_t start[32];        /* bit c: a value may begin with byte c */
	int8_t start_state;       /* 0 not computed, 1 computing, 2 done */
} node;

/* A literal: a JSON text to match exactly. For an object's properties the
 * key's JSON text (quotes included), its value's node and whether it is
 * required. */
typedef struct lit {
	char *text;
	size_t len;
	int node;
	int required;
} lit;

struct srv_schema {
	node *nodes;
	int n_nodes, cap_nodes;
	lit *lits;
	int n_lits, cap_lits;
	int *alts;
	int n_alts, cap_alts;
	int root, any_lits;
	char *prefix, *suffix; /* spelled before and after the root (NULL: none) */
	/* compile time */
	json_t *top;
	struct memo {
		json_t *js;
		int node;
	} * memo;
	int n_memo, cap_memo;
	char *err;
	size_t errlen;
};

/* ---- compiling ---- */

static int fail(srv_schema *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return NO_NODE;
}

/* Room for one more element of size sz in *arr (n used of *cap). */
static int grow(void **arr, int n, int *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	int nc = *cap ? 2 * *cap : 16;
	void *p = realloc(*arr, (size_t)nc * sz);
	if (!p)
		return -1;
	*arr = p;
	*cap = nc;
	return 0;
}

static int new_node(srv_schema *s, int kind)
{
	if (s->n_nodes >= MAX_NODES)
		return fail(s, "the schema is too large (more than %d nodes)", MAX_NODES);
	if (grow((void **)&s->nodes, s->n_nodes, &s->cap_nodes, sizeof(node)) < 0)
		return fail(s, "out of memory");
	node *n = &s->nodes[s->n_nodes];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->child = NO_NODE;
	n->max_items = MAX_ITEMS;
	n->lo = -INT_MAX_VALUE, n->hi = INT_MAX_VALUE;
	return s->n_nodes++;
}

/* Append a literal of text (copied); its index or -1. */
static int add_lit(srv_schema *s, const char *text, size_t len, int nd, int required)
{
	if (len == 0 || len > MAX_LIT_LEN)
		return fail(s, "a value or property name longer than %d bytes", MAX_LIT_LEN);
	if (grow((void **)&s->lits, s->n_lits, &s->cap_lits, sizeof(lit)) < 0)
		return fail(s, "out of memory");
	lit *l = &s->lits[s->n_lits];
	if (!(l->text = malloc(len)))
		return fail(s, "out of memory");
	memcpy(l->text, text, len);
	l->len = len, l->node = nd, l->required = required;
	return s->n_lits++;
}

/* A K_LITS node of the JSON texts of values (an array), or of the value
 * itself when one. */
static int lits_node(srv_schema *s, json_t *values, int one, const char *path)
{
	int list = !one;
	size_t n = list ? json_array_size(values) : 1;
	if (n == 0 || n > MAX_LITS)
		return fail(s, "%s: enum holds %zu values; 1 to %d are supported", path, n,
		            MAX_LITS);
	int id = new_node(s, K_LITS);
	if (id < 0)
		return id;
	s->nodes[id].first = s->n_lits;
	for (size_t i = 0; i < n; i++) {
		json_t *v = list ? json_array_get(values, i) : values;
		char *text = srv_tojson(v, SRV_TOJSON_COMPACT);
		if (!text)
			return fail(s, "out of memory");
		int r = add_lit(s, text, strlen(text), NO_NODE, 0);
		free(text);
		if (r < 0)
			return r;
	}
	s->nodes[id].count = (int)n;
	return id;
}

static int compile(srv_schema *s, json_t *js, const char *path, int depth);

/* The schema at a local reference: "#", "#/$defs/NAME", "#/definitions/NAME". */
static json_t *resolve_ref(srv_schema *s, const char *ref)
{
	if (strcmp(ref, "#") == 0)
		return s->top;
	static const char *const roots[] = {"$defs", "definitions"};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(roots[i]);
		if (strncmp(ref, "#/", 2) == 0 && strncmp(ref + 2, roots[i], n) == 0 &&
		    ref[2 + n] == '/' && !strchr(ref + 3 + n, '/') && !strchr(ref + 3 + n, '~'))
			return json_object_get(json_object_get(s->top, roots[i]), ref + 3 + n);
	}
	return NULL;
}

/* Assertions modeld does not keep: refused, not ignored, since the output
 * would not meet them. Other unknown keywords are annotations. */
static const char *const unsupported[] = {"pattern",
                                          "multipleOf",
                                          "patternProperties",
                                          "propertyNames",
                                          "minProperties",
                                          "maxProperties",
                                          "dependentRequired",
                                          "dependentSchemas",
                                          "dependencies",
                                          "if",
                                          "then",
                                          "else",
                                          "not",
                                          "uniqueItems",
                                          "contains",
                                          "minContains",
                                          "maxContains",
                                          "prefixItems",
                                          "additionalItems",
                                          "unevaluatedProperties",
                                          "unevaluatedItems"};

/* An object type: declared properties (K_OBJECT) or a map (K_MAP). */
static int compile_object(srv_schema *s, json_t *js, const char *path, int depth)
{
	json_t *props = json_object_get(js, "properties");
	json_t *addl = json_object_get(js, "additionalProperties");
	json_t *req = json_object_get(js, "required");
	char sub[512];
	if (props && !json_is_object(props))
		return fail(s, "%s: \"properties\" must be an object", path);
	if (req && !json_is_array(req))
		return fail(s, "%s: \"required\" must be an array of names", path);
	if (!props || json_object_size(props) == 0) {
		if (req && json_array_size(req) > 0)
			return fail(s, "%s: \"required\" names properties that are not declared",
			            path);
		int id = new_node(s, K_MAP);
		if (id < 0)
			return id;
		int child = NO_NODE;
		if (!json_is_false(addl)) {
			snprintf(sub, sizeof(sub), "%s/additionalProperties", path);
			if ((child = addl ? compile(s, addl, sub, depth + 1) : new_node(s, K_ANY)) <
			    0)
				return child;
		}
		s->nodes[id].child = child;
		return id;
	}
	if (addl && !json_is_false(addl))
		return fail(s,
		            "%s: \"additionalProperties\" beside \"properties\" is not supported "
		            "(only the declared properties are written)",
		            path);
	size_t n = json_object_size(props);
	if (n > MAX_LITS)
		return fail(s, "%s: %zu properties; at most %d are supported", path, n, MAX_LITS);
	size_t i;
	json_t *r;
	json_array_foreach(req, i, r)
	{
		if (!json_is_string(r) || !json_object_get(props, json_string_value(r)))
			return fail(s, "%s: \"required\" names a property that is not declared",
			            path);
	}
	int id = new_node(s, K_OBJECT);
	if (id < 0)
		return id;
	/* the keys first, so they are consecutive; then their values */
	int first = s->n_lits;
	const char *name;
	json_t *v;
	json_object_foreach(props, name, v)
	{
		json_t *key = json_string(name);
		char *text = key ? srv_tojson(key, SRV_TOJSON_COMPACT) : NULL;
		json_decref(key);
		if (!text)
			return fail(s, "out of memory");
		int required = 0;
		json_array_foreach(req, i, r) required |= strcmp(json_string_value(r), name) == 0;
		int li = add_lit(s, text, strlen(text), NO_NODE, required);
		free(text);
		if (li < 0)
			return li;
	}
	s->nodes[id].first = first;
	s->nodes[id].count = (int)n;
	int k = 0;
	json_object_foreach(props, name, v)
	{
		snprintf(sub, sizeof(sub), "%s/properties/%.64s", path, name);
		int c = compile(s, v, sub, depth + 1);
		if (c < 0)
			return c;
		s->lits[first + k++].node = c;
	}
	return id;
}

/* The bounds names[0] and names[1] of js (non-negative integers, the
 * upper one capped at cap) into node id's min_items and max_items. 0 or
 * NO_NODE with the message. */
static int read_bounds(srv_schema *s, json_t *js, const char *path, const char *const names[2],
                       int cap, int id)
{
	int b[2] = {0, cap};
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(js, names[i]);
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return fail(s, "%s: \"%s\" must be a non-negative integer", path, names[i]);
		b[i] = json_integer_value(v) > cap ? cap : (int)json_integer_value(v);
	}
	if (b[0] > b[1])
		return fail(s, "%s: \"%s\" is above \"%s\"", path, names[0], names[1]);
	s->nodes[id].min_items = b[0];
	s->nodes[id].max_items = b[1];
	return 0;
}

static int compile_array(srv_schema *s, json_t *js, const char *path, int depth)
{
	json_t *items = json_object_get(js, "items");
	char sub[512];
	if (json_is_array(items))
		return fail(s, "%s: tuple \"items\" (an array) is not supported", path);
	int id = new_node(s, K_ARRAY);
	if (id < 0)
		return id;
	static const char *const names[2] = {"minItems", "maxItems"};
	if (read_bounds(s, js, path, names, MAX_ITEMS, id) < 0)
		return NO_NODE;
	snprintf(sub, sizeof(sub), "%s/items", path);
	int child = items ? compile(s, items, sub, depth + 1) : new_node(s, K_ANY);
	if (child < 0)
		return child;
	s->nodes[id].child = child;
	return id;
}

/* A string type, with minLength / maxLength (in characters: code points). */
static int compile_string(srv_schema *s, json_t *js, const char *path)
{
	static const char *const names[2] = {"minLength", "maxLength"};
	int id = new_node(s, K_STRING);
	return id < 0 || read_bounds(s, js, path, names, INT_MAX, id) < 0 ? NO_NODE : id;
}

/* An integer type, with minimum, maximum and the exclusive ones (any
 * numbers): the range of integers they leave, within what the output
 * writes. */
static int compile_integer(srv_schema *s, json_t *js, const char *path)
{
	static const char *const names[4] = {"minimum", "exclusiveMinimum", "maximum",
	                                     "exclusiveMaximum"};
	/* in int64_t: bounds past what the output writes are clamped a little
	 * beyond it first, so that the exclusive ones' +-1 stays exact */
	const int64_t far = INT_MAX_VALUE + 2;
	int64_t lo = -INT_MAX_VALUE, hi = INT_MAX_VALUE;
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(js, names[i]);
		if (!v)
			continue;
		if (!json_is_number(v))
			return fail(s, "%s: \"%s\" must be a number", path, names[i]);
		int64_t b; /* the integers at or past the bound */
		if (json_is_integer(v)) {
			json_int_t x = json_integer_value(v);
			b = x > far ? far : x < -far ? -far : (int64_t)x;
			b += i == 1 ? 1 : i == 3 ? -1 : 0;
		} else {
			double x = json_real_value(v);
			x = x > (double)far ? (double)far : x < -(double)far ? -(double)far : x;
			b = i == 0   ? (int64_t)ceil(x)
			    : i == 1 ? (int64_t)floor(x) + 1
			    : i == 2 ? (int64_t)floor(x)
			             : (int64_t)ceil(x) - 1;
		}
		if (i < 2 && b > lo)
			lo = b;
		else if (i >= 2 && b < hi)
			hi = b;
	}
	if (lo > hi)
		return fail(s, "%s: no integer the output may write meets the bounds", path);
	int id = new_node(s, K_INTEGER);
	if (id >= 0)
		s->nodes[id].lo = lo, s->nodes[id].hi = hi;
	return id;
}

static int compile_type(srv_schema *s, json_t *js, const char *type, const char *path, int depth)
{
	if (strcmp(type, "object") == 0)
		return compile_object(s, js, path, depth);
	if (strcmp(type, "array") == 0)
		return compile_array(s, js, path, depth);
	if (strcmp(type, "string") == 0)
		return compile_string(s, js, path);
	if (strcmp(type, "number") == 0)
		return new_node(s, K_NUMBER);
	if (strcmp(type, "integer") == 0)
		return compile_integer(s, js, path);
	if (strcmp(type, "boolean") == 0 || strcmp(type, "null") == 0) {
		json_t *v = strcmp(type, "null") == 0 ? json_pack("[n]") : json_pack("[bb]", 1, 0);
		int id = v ? lits_node(s, v, 0, path) : fail(s, "out of memory");
		json_decref(v);
		return id;
	}
	return fail(s, "%s: unknown type \"%.32s\"", path, type);
}

/* A K_UNION of the alternatives in alts (an array of schemas), or of the
 * types in a "type" list (alts NULL). */
static int compile_union(srv_schema *s, json_t *js, json_t *alts, const char *path, int depth)
{
	json_t *list = alts ? alts : json_object_get(js, "type");
	size_t n = json_array_size(list);
	char sub[512];
	if (n == 0)
		return fail(s, "%s: an empty list of alternatives", path);
	if (n == 1 && alts)
		return compile(s, json_array_get(alts, 0), path, depth + 1);
	int id = new_node(s, K_PENDING);
	if (id < 0)
		return id;
	int *tmp = malloc(sizeof(int) * n);
	if (!tmp)
		return fail(s, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(list, i);
		snprintf(sub, sizeof(sub), "%s/%s/%zu", path, alts ? "anyOf" : "type", i);
		if (!alts && !json_is_string(a)) {
			free(tmp);
			return fail(s, "%s: \"type\" must be a string or a list of strings", path);
		}
		tmp[i] = alts ? compile(s, a, sub, depth + 1)
		              : compile_type(s, js, json_string_value(a), sub, depth + 1);
		if (tmp[i] < 0) {
			free(tmp);
			return NO_NODE;
		}
	}
	s->nodes[id].kind = K_UNION;
	s->nodes[id].first = s->n_alts;
	s->nodes[id].count = (int)n;
	for (size_t i = 0; i < n; i++) {
		if (grow((void **)&s->alts, s->n_alts, &s->cap_alts, sizeof(int)) < 0) {
			free(tmp);
			return fail(s, "out of memory");
		}
		s->alts[s->n_alts++] = tmp[i];
	}
	free(tmp);
	return id;
}

static int memo_add(srv_schema *s, json_t *js, int nd)
{
	if (grow((void **)&s->memo, s->n_memo, &s->cap_memo, sizeof(*s->memo)) < 0)
		return fail(s, "out of memory");
	s->memo[s->n_memo].js = js;
	s->memo[s->n_memo++].node = nd;
	return nd;
}

static int compile_inner(srv_schema *s, json_t *js, const char *path, int depth);

/* Node of schema js: each schema object is compiled once (memo), so a
 * $defs entry used twice, or a reference to a schema being compiled
 * (recursion), gets the same node. */
static int compile(srv_schema *s, json_t *js, const char *path, int depth)
{
	if (depth > 64)
		return fail(s, "%s: the schema nests too deeply", path);
	if (json_is_true(js) || (json_is_object(js) && json_object_size(js) == 0))
		return new_node(s, K_ANY);
	if (!json_is_object(js))
		return fail(s, "%s: a schema must be an object or true", path);
	for (int i = 0; i < s->n_memo; i++)
		if (s->memo[i].js == js)
			return s->memo[i].node;
	int id = compile_inner(s, js, path, depth);
	return id < 0 ? id : memo_add(s, js, id);
}

/* Whether "type" (a string or a list) names t. */
static int has_type(json_t *type, const char *t)
{
	size_t i;
	json_t *v;
	if (json_is_string(type))
		return strcmp(json_string_value(type), t) == 0;
	json_array_foreach(type, i,
	                   v) if (json_is_string(v) && !strcmp(json_string_value(v), t)) return 1;
	return 0;
}

static int compile_inner(srv_schema *s, json_t *js, const char *path, int depth)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (json_object_get(js, unsupported[i]))
			return fail(s, "%s: \"%s\" is not supported", path, unsupported[i]);
	json_t *ref = json_object_get(js, "$ref");
	json_t *all = json_object_get(js, "allOf"), *any = json_object_get(js, "anyOf");
	if (!any)
		any = json_object_get(js, "oneOf");
	json_t *en = json_object_get(js, "enum"), *cn = json_object_get(js, "const");
	json_t *type = json_object_get(js, "type");
	/* bounds are kept by the string and integer nodes only: refused, not
	 * ignored, anywhere else */
	static const char *const numeric[4] = {"minimum", "maximum", "exclusiveMinimum",
	                                       "exclusiveMaximum"};
	for (int i = 0; i < 4; i++)
		if (json_object_get(js, numeric[i]) &&
		    (ref || all || any || en || cn || !type || has_type(type, "number")))
			return fail(s,
			            "%s: \"%s\" is kept only beside \"type\": \"integer\" (not "
			            "\"number\"; no $ref, enum, const, anyOf or allOf)",
			            path, numeric[i]);
	if ((json_object_get(js, "minLength") || json_object_get(js, "maxLength")) &&
	    (ref || all || any || en || cn || !type))
		return fail(s,
		            "%s: \"minLength\" / \"maxLength\" are kept only beside \"type\": "
		            "\"string\" (no $ref, enum, const, anyOf or allOf)",
		            path);
	if (ref) {
		json_t *target =
		    json_is_string(ref) ? resolve_ref(s, json_string_value(ref)) : NULL;
		if (!target)
			return fail(s,
			            "%s: \"$ref\" must name \"#\", \"#/$defs/...\" or "
			            "\"#/definitions/...\" of this schema",
			            path);
		/* the target stands in the memo as a K_UNION of one alternative
		 * while it is compiled, for references to it from inside */
		for (int i = 0; i < s->n_memo; i++)
			if (s->memo[i].js == target)
				return s->memo[i].node;
		if (json_is_true(target) ||
		    (json_is_object(target) && json_object_size(target) == 0))
			return new_node(s, K_ANY);
		if (!json_is_object(target))
			return fail(s, "%s: a schema must be an object or true",
			            json_string_value(ref));
		int hold = new_node(s, K_PENDING);
		if (hold < 0 || memo_add(s, target, hold) < 0)
			return NO_NODE;
		int id = compile_inner(s, target, json_string_value(ref), depth + 1);
		if (id < 0)
			return id;
		/* hold becomes a one-way union to id */
		if (grow((void **)&s->alts, s->n_alts, &s->cap_alts, sizeof(int)) < 0)
			return fail(s, "out of memory");
		s->nodes[hold].kind = K_UNION;
		s->nodes[hold].first = s->n_alts;
		s->nodes[hold].count = 1;
		s->alts[s->n_alts++] = id;
		return hold;
	}
	int id;
	if (all) {
		if (!json_is_array(all) || json_array_size(all) != 1)
			return fail(s, "%s: \"allOf\" of more than one schema is not supported",
			            path);
		id = compile(s, json_array_get(all, 0), path, depth + 1);
	} else if (any) {
		if (!json_is_array(any))
			return fail(s, "%s: \"anyOf\" must be an array of schemas", path);
		id = compile_union(s, js, any, path, depth);
	} else if (cn) {
		id = lits_node(s, cn, 1, path);
	} else if (en) {
		if (!json_is_array(en))
			return fail(s, "%s: \"enum\" must be an array", path);
		id = lits_node(s, en, 0, path);
	} else if (json_is_array(type)) {
		id = compile_union(s, js, NULL, path, depth);
	} else if (json_is_string(type)) {
		id = compile_type(s, js, json_string_value(type), path, depth);
	} else if (type) {
		return fail(s, "%s: \"type\" must be a string or a list of strings", path);
	} else if (json_object_get(js, "properties") ||
	           json_object_get(js, "additionalProperties")) {
		id = compile_object(s, js, path, depth);
	} else if (json_object_get(js, "items")) {
		id = compile_array(s, js, path, depth);
	} else {
		id = new_node(s, K_ANY); /* annotations only */
	}
	return id;
}

/* The bytes a value of node nd may start with, into its start set; the
 * alternatives of a union must not share one. 0 or -1 (with the message). */
static int start_set(srv_schema *s, int nd)
{
	node *n = &s->nodes[nd];
	if (n->start_state == 2)
		return 0;
	if (n->start_state == 1)
		return fail(s, "a \"$ref\" or \"anyOf\" that stands for itself"), -1;
	n->start_state = 1;
	uint8_t set[32] = {0};
#define ADD(c) (set[(unsigned char)(c) / 8] |= (uint8_t)(1u << ((unsigned char)(c) % 8)))
	switch (n->kind) {
	case K_ANY:
		ADD('{'), ADD('['), ADD('"'), ADD('t'), ADD('f'), ADD('n');
		/* fall through */
	case K_NUMBER:
	case K_INTEGER:
		ADD('-');
		for (int c = '0'; c <= '9'; c++)
			ADD(c);
		break;
	case K_OBJECT:
	case K_MAP:
		ADD('{');
		break;
	case K_ARRAY:
		ADD('[');
		break;
	case K_STRING:
		ADD('"');
		break;
	case K_LITS:
		for (int i = 0; i < n->count; i++)
			ADD(s->lits[n->first + i].text[0]);
		break;
	case K_UNION:
		for (int i = 0; i < n->count; i++) {
			int a = s->alts[n->first + i];
			if (start_set(s, a) < 0)
				return -1;
			n = &s->nodes[nd];
			for (int b = 0; b < 32; b++) {
				if (set[b] & s->nodes[a].start[b])
					return fail(s,
					            "\"anyOf\" alternatives that can start alike "
					            "(two "
					            "objects, two strings, ...) are not supported"),
					       -1;
				set[b] |= s->nodes[a].start[b];
			}
		}
		break;
	default:
		return fail(s, "internal: a node left pending"), -1;
	}
#undef ADD
	memcpy(n->start, set, sizeof(set));
	n->start_state = 2;
	return 0;
}

void srv_schema_free(srv_schema *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n_lits; i++)
		free(s->lits[i].text);
	free(s->lits);
	free(s->nodes);
	free(s->alts);
	free(s->memo);
	free(s->prefix);
	free(s->suffix);
	free(s);
}

int srv_schema_set_affixes(srv_schema *s, const char *prefix, const char *suffix)
{
	free(s->prefix);
	free(s->suffix);
	s->prefix = prefix && *prefix ? strdup(prefix) : NULL;
	s->suffix = suffix && *suffix ? strdup(suffix) : NULL;
	return (prefix && *prefix && !s->prefix) || (suffix && *suffix && !s->suffix) ? -1 : 0;
}

static int starts(const srv_schema *s, int nd, unsigned c)
{
	return s->nodes[nd].start[c / 8] >> (c % 8) & 1;
}

/* The node a value of nd that starts with c follows: through unions to the
 * alternative that starts so; NO_NODE when none does. */
static int pick(const srv_schema *s, int nd, unsigned c)
{
	while (nd >= 0 && s->nodes[nd].kind == K_UNION) {
		const node *n = &s->nodes[nd];
		int next = NO_NODE;
		for (int i = 0; i < n->count; i++)
			if (starts(s, s->alts[n->first + i], c))
				next = s->alts[n->first + i];
		nd = next;
	}
	return nd >= 0 && starts(s, nd, c) ? nd : NO_NODE;
}

srv_schema *srv_schema_compile(json_t *schema, char *err, size_t errlen)
{
	srv_schema *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->top = schema, s->err = err, s->errlen = errlen;
	json_t *tfn = json_pack("[bbn]", 1, 0);
	s->any_lits = tfn ? lits_node(s, tfn, 0, "#") : fail(s, "out of memory");
	json_decref(tfn);
	if (s->any_lits < 0 || (s->root = compile(s, schema, "#", 0)) < 0)
		goto fail;
	for (int i = 0; i < s->n_nodes; i++)
		if (start_set(s, i) < 0)
			goto fail;
	/* the root: an object, and nothing else ('{' its only first byte) */
	uint8_t brace[32] = {0};
	brace['{' / 8] = (uint8_t)(1u << ('{' % 8));
	int r = pick(s, s->root, '{');
	if (r < 0 || memcmp(s->nodes[s->root].start, brace, sizeof(brace)) != 0 ||
	    (s->nodes[r].kind != K_OBJECT && s->nodes[r].kind != K_MAP)) {
		fail(s, "#: the schema's root must be an object");
		goto fail;
	}
	s->top = NULL, s->err = NULL;
	free(s->memo);
	s->memo = NULL, s->n_memo = s->cap_memo = 0;
	return s;
fail:
	srv_schema_free(s);
	return NULL;
}

/* ---- the automaton ---- */

enum mode {
	M_STRUCT, /* between tokens: the top frame's phase says what may come */
	M_SCALAR, /* in a string (st->key: an object's key) or a number: st->lex */
	M_LIT,    /* matching the literals cand of node lit_node (keys when st->key) */
};

enum phase {
	P_FIRST, /* after the opener */
	P_KEY,   /* after ',' in an object */
	P_COLON,
	P_VALUE, /* a value comes (after ':' or ',' in an array; the root) */
	P_AFTER, /* after a value */
	P_END,   /* the root's holder: the root value is complete */
};

enum { ANY_OBJECT = 1, ANY_ARRAY = 2 };

void srv_schema_start(srv_schema_state *st, const srv_schema *s)
{
	memset(st, 0, offsetof(srv_schema_state, f) + sizeof(st->f[0]));
	st->s = s;
	st->depth = 1;
	st->f[0].node = (uint16_t)s->root;
	st->f[0].phase = P_VALUE;
	st->affix = s->prefix ? 1 : 0;
}

int srv_schema_done(const srv_schema_state *st)
{
	return st->depth == 1 && st->f[0].phase == P_END && st->mode == M_STRUCT &&
	       (!st->s->suffix || (st->affix == 2 && st->s->suffix[st->matched] == 0));
}

int srv_schema_plain_room(const srv_schema_state *st)
{
	if (st->affix || st->mode != M_SCALAR || !mrt_json_lex_in_string(&st->lex))
		return -1;
	if (st->key || !st->str_node)
		return INT_MAX;
	const node *n = &st->s->nodes[st->str_node - 1];
	return st->str_chars >= (uint32_t)n->max_items ? 0 : n->max_items - (int)st->str_chars;
}

size_t srv_schema_state_size(const srv_schema_state *st)
{
	return offsetof(srv_schema_state, f) + sizeof(st->f[0]) * st->depth;
}

/* A byte of the prefix (affix 1) or the suffix (2): the next one spelled. */
static int affix_step(srv_schema_state *st, unsigned c)
{
	const char *a = st->affix == 1 ? st->s->prefix : st->s->suffix;
	if (a[st->matched] == 0 || (unsigned char)a[st->matched] != c)
		return -1;
	if (a[++st->matched] == 0 && st->affix == 1)
		st->affix = 0, st->matched = 0; /* the root comes next */
	return 0;
}

static srv_schema_frame *top(srv_schema_state *st)
{
	return &st->f[st->depth - 1];
}

static int value_done(srv_schema_state *st)
{
	st->mode = M_STRUCT;
	top(st)->phase = st->depth == 1 ? P_END : P_AFTER;
	return 0;
}

static int push(srv_schema_state *st, int nd, int any)
{
	if (st->depth >= SRV_SCHEMA_MAX_DEPTH)
		return -1;
	srv_schema_frame *f = &st->f[st->depth++];
	memset(f, 0, sizeof(*f));
	f->node = (uint16_t)nd;
	f->any = (uint8_t)any;
	f->phase = P_FIRST;
	return 0;
}

static int pop(srv_schema_state *st)
{
	st->depth--;
	return value_done(st);
}

/* Start matching the literals of node nd (keys of an object when key) that
 * begin with c: the candidates are lo .. hi of the node's literals. */
static int lit_start(srv_schema_state *st, int nd, int key, int lo, int hi, unsigned c)
{
	const node *n = &st->s->nodes[nd];
	uint64_t cand = 0;
	for (int i = lo; i <= hi; i++)
		if ((unsigned char)st->s->lits[n->first + i].text[0] == c)
			cand |= (uint64_t)1 << i;
	if (!cand)
		return -1;
	st->mode = M_LIT, st->key = (uint8_t)key, st->lit_node = (uint16_t)nd;
	st->cand = cand, st->matched = 1;
	return 0;
}

/* Whether an integer the output may write (at most MRT_JSON_MAX_INT_DIGITS
 * digits, no leading zero) that starts with what was read (num_neg, and
 * num_digits digits of value num_val) lies in node n's range: the values
 * it may still grow into are, for k more digits, num_val * 10^k and the
 * 10^k - 1 after it (after a lone '-': one digit 0-9, or k digits
 * 10^(k-1) .. 10^k - 1); after a 0 there are no more. */
static int int_viable(const srv_schema_state *st, const node *n)
{
	int64_t p10 = 1;
	for (int k = 0; st->num_digits + k <= MRT_JSON_MAX_INT_DIGITS; k++, p10 *= 10) {
		int64_t a, b;
		if (st->num_digits == 0) {
			if (k == 0)
				continue;
			a = k == 1 ? 0 : p10 / 10, b = p10 - 1;
		} else {
			a = st->num_val * p10, b = a + p10 - 1;
		}
		int64_t lo = st->num_neg ? -b : a, hi = st->num_neg ? -a : b;
		if (lo <= n->hi && hi >= n->lo)
			return 1;
		if (st->num_digits > 0 && st->num_val == 0)
			break; /* "0" or "-0" takes no more digits */
	}
	return 0;
}

/* Byte c of an integer with a range (st->num_node), before the lexer
 * checks it: a digit must leave a value in the range reachable, and the
 * byte that ends the number must find it in the range. */
static int int_count(srv_schema_state *st, unsigned c)
{
	const node *n = &st->s->nodes[st->num_node - 1];
	if (c >= '0' && c <= '9') {
		if (st->num_digits >= MRT_JSON_MAX_INT_DIGITS ||
		    (st->num_digits > 0 && st->num_val == 0))
			return -1; /* the lexer refuses these too */
		st->num_val = st->num_val * 10 + (int64_t)(c - '0');
		st->num_digits++;
		return int_viable(st, n) ? 0 : -1;
	}
	int64_t v = st->num_neg ? -st->num_val : st->num_val;
	if (st->num_digits == 0 || v < n->lo || v > n->hi)
		return -1;
	st->num_node = 0; /* the number ends before c */
	return 0;
}

/* The value of node nd begins with c. */
static int value_start(srv_schema_state *st, int nd, unsigned c)
{
	const srv_schema *s = st->s;
	if ((nd = pick(s, nd, c)) < 0)
		return -1;
	const node *n = &s->nodes[nd];
	st->str_node = st->num_node = 0; /* no bounded string or integer, unless this is one */
	switch (n->kind) {
	case K_ANY:
		if (c == '{' || c == '[')
			return push(st, nd, c == '{' ? ANY_OBJECT : ANY_ARRAY);
		if (c == 't' || c == 'f' || c == 'n')
			return lit_start(st, s->any_lits, 0, 0, s->nodes[s->any_lits].count - 1, c);
		if (c == '"')
			break;
		st->mode = M_SCALAR;
		return mrt_json_lex_number(&st->lex, c, 0);
	case K_OBJECT:
	case K_MAP:
	case K_ARRAY:
		return push(st, nd, 0);
	case K_STRING:
		break;
	case K_LITS:
		return lit_start(st, nd, 0, 0, n->count - 1, c);
	default: /* K_NUMBER, K_INTEGER */
		st->mode = M_SCALAR;
		if (n->kind == K_INTEGER && (n->lo > -INT_MAX_VALUE || n->hi < INT_MAX_VALUE)) {
			st->num_node = (uint16_t)(nd + 1);
			st->num_val = 0, st->num_digits = 0, st->num_neg = c == '-';
			if (c != '-' && int_count(st, c) < 0)
				return -1;
			if (c == '-' && !int_viable(st, n))
				return -1;
		}
		return mrt_json_lex_number(&st->lex, c, n->kind == K_INTEGER);
	}
	mrt_json_lex_string(&st->lex);
	st->mode = M_SCALAR, st->key = 0;
	if (n->kind == K_STRING && (n->min_items > 0 || n->max_items < INT_MAX)) {
		st->str_node = (uint16_t)(nd + 1);
		st->str_chars = 0, st->str_esc = st->str_cont = st->str_high = 0;
	}
	return 0;
}

static int is_object_frame(const srv_schema *s, const srv_schema_frame *f)
{
	return f->any ? f->any == ANY_OBJECT : s->nodes[f->node].kind != K_ARRAY;
}

/* The node of the value the top frame expects next. */
static int expected(const srv_schema_state *st)
{
	const srv_schema *s = st->s;
	const srv_schema_frame *f = &st->f[st->depth - 1];
	if (st->depth == 1)
		return f->node;
	if (f->any)
		return f->node; /* the K_ANY node itself */
	const node *n = &s->nodes[f->node];
	return n->kind == K_OBJECT ? s->lits[n->first + f->cur].node : n->child;
}

/* Whether a declared object may close: no required property is left. */
static int may_close(const srv_schema *s, const srv_schema_frame *f)
{
	const node *n = &s->nodes[f->node];
	if (f->any || n->kind != K_OBJECT)
		return 1;
	for (int i = f->count; i < n->count; i++)
		if (s->lits[n->first + i].required)
			return 0;
	return 1;
}

/* A key begins with c ('"'). */
static int key_start(srv_schema_state *st, unsigned c)
{
	const srv_schema *s = st->s;
	srv_schema_frame *f = top(st);
	const node *n = &s->nodes[f->node];
	if (c != '"')
		return -1;
	if (f->any || n->kind == K_MAP) {
		if (!f->any && n->child == NO_NODE)
			return -1; /* additionalProperties false, no properties */
		mrt_json_lex_string(&st->lex);
		st->mode = M_SCALAR, st->key = 1;
		return 0;
	}
	/* the next properties up to the first required one */
	int hi = f->count;
	while (hi < n->count - 1 && !s->lits[n->first + hi].required)
		hi++;
	return f->count < n->count ? lit_start(st, f->node, 1, f->count, hi, c) : -1;
}

/* A byte between tokens. */
static int structural(srv_schema_state *st, unsigned c)
{
	const srv_schema *s = st->s;
	srv_schema_frame *f = top(st);
	if (st->depth == 1)
		return f->phase == P_VALUE ? value_start(st, f->node, c) : -1;
	int object = is_object_frame(s, f);
	const node *n = &s->nodes[f->node];
	int min = f->any ? 0 : n->min_items, max = f->any ? MAX_ITEMS : n->max_items;
	switch (f->phase) {
	case P_FIRST:
		if (c == (object ? '}' : ']')) {
			if (object ? !may_close(s, f) : min > 0)
				return -1;
			return pop(st);
		}
		if (object)
			return key_start(st, c);
		if (max == 0)
			return -1;
		f->count++;
		f->phase = P_VALUE;
		return value_start(st, expected(st), c);
	case P_KEY:
		return key_start(st, c);
	case P_COLON:
		if (c != ':')
			return -1;
		f->phase = P_VALUE;
		return 0;
	case P_VALUE:
		return value_start(st, expected(st), c);
	case P_AFTER:
		if (c == ',') {
			if (object) {
				if (!f->any && n->kind == K_OBJECT && f->count >= n->count)
					return -1;
				f->phase = P_KEY;
			} else {
				if (f->count >= max)
					return -1;
				f->count++;
				f->phase = P_VALUE;
			}
			return 0;
		}
		if (c == (object ? '}' : ']')) {
			if (object ? !may_close(s, f) : f->count < min)
				return -1;
			return pop(st);
		}
		return -1;
	default:
		return -1;
	}
}

/* A literal (or key) i matched whole. */
static int lit_done(srv_schema_state *st, int i)
{
	if (st->key) {
		srv_schema_frame *f = top(st);
		f->cur = (uint16_t)i;
		f->count = (uint16_t)(i + 1);
		f->phase = P_COLON;
		st->mode = M_STRUCT;
		return 0;
	}
	return value_done(st);
}

static int step(srv_schema_state *st, unsigned c);

static int lit_step(srv_schema_state *st, unsigned c)
{
	const srv_schema *s = st->s;
	const node *n = &s->nodes[st->lit_node];
	uint64_t next = 0;
	int whole = -1, longer = 0;
	for (int i = 0; i < n->count; i++) {
		if (!(st->cand >> i & 1))
			continue;
		const lit *l = &s->lits[n->first + i];
		if (l->len == st->matched)
			whole = i;
		else if ((unsigned char)l->text[st->matched] == c)
			next |= (uint64_t)1 << i;
	}
	if (!next) {
		/* c follows a literal matched whole (a number: "1" of 1 and 12) */
		if (whole < 0 || lit_done(st, whole) < 0)
			return -1;
		return step(st, c);
	}
	st->cand = next;
	st->matched++;
	whole = -1;
	for (int i = 0; i < n->count; i++)
		if (next >> i & 1) {
			if (s->lits[n->first + i].len == st->matched)
				whole = i;
			else
				longer = 1;
		}
	if (!longer && whole >= 0)
		return lit_done(st, whole);
	return 0;
}

static unsigned hex_value(unsigned c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Byte c of a string with a length bound (st->str_node), before the lexer
 * checks it: the characters counted as JSON Schema counts them (code
 * points: a UTF-8 sequence, an escape, a \uXXXX; a low surrogate's
 * \uXXXX right after a high one's adds none). -1 when c would pass maxLength, or
 * close the string short of minLength. */
static int str_count(srv_schema_state *st, unsigned c)
{
	const node *n = &st->s->nodes[st->str_node - 1];
	int add = 1;
	if (st->str_esc == 0) {
		if (st->str_cont > 0) { /* a UTF-8 continuation byte */
			st->str_cont--;
			return 0;
		}
		if (c == '"')
			return st->str_chars >= (uint32_t)n->min_items ? 0 : -1;
		if (c == '\\') {
			/* at the limit only a low surrogate's \uXXXX (no character) may come */
			if (st->str_chars >= (uint32_t)n->max_items && !st->str_high)
				return -1;
			st->str_esc = 1;
			return 0;
		}
		st->str_cont = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
		st->str_high = 0;
	} else if (st->str_esc == 1) { /* after the backslash */
		if (c == 'u') {
			st->str_esc = 2, st->str_val = 0;
			return 0;
		}
		st->str_esc = 0, st->str_high = 0;
	} else { /* hex digit str_esc - 2 of \\uXXXX */
		unsigned h = hex_value(c) & 15;
		/* at the limit (after a high surrogate): DC00-DFFF only */
		if (st->str_chars >= (uint32_t)n->max_items &&
		    ((st->str_esc == 2 && h != 0xd) || (st->str_esc == 3 && h < 0xc)))
			return -1;
		st->str_val = (uint16_t)(st->str_val * 16 + h);
		if (++st->str_esc < 6)
			return 0;
		st->str_esc = 0;
		int low = st->str_val >= 0xdc00 && st->str_val <= 0xdfff;
		add = !(low && st->str_high);
		st->str_high = !low && st->str_val >= 0xd800 && st->str_val <= 0xdbff;
	}
	if (add && st->str_chars >= (uint32_t)n->max_items)
		return -1;
	st->str_chars += (uint32_t)add;
	return 0;
}

static int step(srv_schema_state *st, unsigned c)
{
	if (st->affix)
		return affix_step(st, c);
	switch (st->mode) {
	case M_STRUCT: {
		if (st->s->suffix && st->depth == 1 && st->f[0].phase == P_END) {
			st->affix = 2, st->matched = 0; /* the root is complete */
			return affix_step(st, c);
		}
		int w = mrt_json_space_step(&st->space, c);
		if (w != 0)
			return w > 0 ? 0 : -1;
		return structural(st, c);
	}
	case M_SCALAR:
		if (st->str_node && !st->key && str_count(st, c) < 0)
			return -1;
		if (st->num_node && int_count(st, c) < 0)
			return -1;
		if (mrt_json_lex_plain(&st->lex, c))
			return 0;
		switch (mrt_json_lex_step(&st->lex, c)) {
		case MRT_JSON_LEX_MORE:
			return 0;
		case MRT_JSON_LEX_END: /* a string's closing quote */
			if (st->key) {
				top(st)->phase = P_COLON;
				st->mode = M_STRUCT;
				return 0;
			}
			return value_done(st);
		case MRT_JSON_LEX_AFTER: /* a number ended before c (inside a container) */
			value_done(st);
			return step(st, c);
		default:
			return -1;
		}
	case M_LIT:
		return lit_step(st, c);
	default:
		return -1;
	}
}

int srv_schema_feed(srv_schema_state *st, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (step(st, (unsigned char)p[i]) < 0)
			return -1;
	return 0;
}

int srv_schema_try(const srv_schema_state *st, const char *p, size_t n)
{
	srv_schema_state t;
	memcpy(&t, st, srv_schema_state_size(st));
	return srv_schema_feed(&t, p, n) == 0;
}

/* ---- both automata for a token trie walk ---- */

static int json_walk_step(void *st, unsigned c)
{
	char b = (char)c;
	return mrt_json_feed(st, &b, 1);
}

static size_t json_walk_size(const void *st)
{
	(void)st;
	return sizeof(mrt_json_state);
}

static int json_walk_plain_room(const void *st)
{
	return mrt_json_in_string(st) ? INT_MAX : -1;
}

static int schema_walk_step(void *st, unsigned c)
{
	return step(st, c);
}

static size_t schema_walk_size(const void *st)
{
	return srv_schema_state_size(st);
}

static int schema_walk_plain_room(const void *st)
{
	return srv_schema_plain_room(st);
}

static void schema_walk_skip_plain(void *st, int n)
{
	srv_schema_state *s = st;
	s->str_chars += (uint32_t)n;
	if (n > 0)
		s->str_high = 0; /* as feeding them one by one leaves it */
}

const srv_trie_automaton srv_json_walk = {json_walk_step, json_walk_size, sizeof(mrt_json_state),
                                          json_walk_plain_room, NULL};
const srv_trie_automaton srv_schema_walk = {schema_walk_step, schema_walk_size,
                                            sizeof(srv_schema_state), schema_walk_plain_room,
                                            schema_walk_skip_plain};
