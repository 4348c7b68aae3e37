/* JSON output that follows a JSON Schema (OpenAI's response_format
 * json_schema): a schema compiled into a node table, and a byte-at-a-time
 * automaton over it that says whether a text can still grow into a JSON
 * value the schema accepts. The language model's sampler asks it about each
 * token's bytes (llm_sched.c), as it asks mrt_json_feed in json_object mode.
 *
 * What is kept (the rest is refused at compile time with a message):
 * type (one or a list), properties with required and additionalProperties
 * false or absent (only the declared properties, in the schema's order, as
 * llama.cpp's and OpenAI's structured outputs write them), objects without
 * properties (any keys, values per additionalProperties), items, minItems,
 * maxItems, minLength and maxLength (beside "type": "string"; characters
 * counted as code points), minimum, maximum, exclusiveMinimum and
 * exclusiveMaximum (beside "type": "integer"), enum, const, anyOf / oneOf whose alternatives
 * differ in their first byte (a string or null, say), allOf of one schema,
 * $ref to #, #/$defs/... and #/definitions/...; annotations (title, description,
 * default, examples, format, ...) are ignored. Property names and enum and
 * const values are written as their compact JSON text as Python writes it
 * (tojson.h: UTF-8 as it is, reals in their shortest form), integers
 * without fraction or exponent; whitespace, strings
 * and numbers follow mrt_json_feed's rules. The root must be an object. */
#ifndef SRV_JSON_SCHEMA_H
#define SRV_JSON_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mrt_llm.h"
#include "token_trie.h"

typedef struct srv_schema srv_schema;

/* Compile schema (borrowed). New schema, or NULL with a message naming the
 * unsupported keyword and where it is. */
srv_schema *srv_schema_compile(json_t *schema, char *err, size_t errlen);
void srv_schema_free(srv_schema *s);
/* Text the output must spell exactly before the root value and after it
 * (a chat template's tool-call markers); either may be NULL. 0 or -1 (out
 * of memory). */
int srv_schema_set_affixes(srv_schema *s, const char *prefix, const char *suffix);

#define SRV_SCHEMA_MAX_DEPTH 32 /* nested containers, the root's included */

typedef struct srv_schema_frame {
	uint16_t node;  /* the container's schema node (or the root's holder) */
	uint8_t phase;  /* where in the container (json_schema.c) */
	uint8_t any;    /* a container of an unconstrained value */
	uint16_t cur;   /* objects: the property whose value is being read */
	uint16_t count; /* objects: the next property that may come; arrays: items */
} srv_schema_frame;

/* The automaton's state: a plain value, copied to try a token. Only
 * frames [0, depth) are in use; srv_schema_try copies just those. */
typedef struct srv_schema_state {
	const srv_schema *s;             /* borrowed: outlives the state */
	uint8_t depth, mode, key, affix; /* affix: 1 in the prefix, 2 in the suffix */
	mrt_json_space space;            /* the whitespace run between tokens */
	mrt_json_lex lex;                /* the string or number being read */
	uint16_t lit_node; /* literals being matched: a node's, keys, or the built-in ones */
	uint32_t matched;  /* bytes of them matched */
	uint64_t cand;     /* the candidates still matching */
	/* a string value with minLength / maxLength: its node + 1 (0: none), the
	 * characters so far, and where the count stands in an escape (0: none,
	 * 1: after the backslash, 2-5: hex digits of \uXXXX, str_val so far), a UTF-8
	 * sequence (str_cont bytes to come) and surrogates (str_high: the last
	 * character was a high surrogate's \uXXXX) */
	uint16_t str_node, str_val;
	uint8_t str_esc, str_cont, str_high;
	uint32_t str_chars;
	/* an integer value with a range: its node + 1 (0: none), its sign, digits
	 * and their value so far */
	uint16_t num_node;
	uint8_t num_neg, num_digits;
	int64_t num_val;
	srv_schema_frame f[SRV_SCHEMA_MAX_DEPTH];
} srv_schema_state;

void srv_schema_start(srv_schema_state *st, const srv_schema *s);
/* Feed n bytes: 0 when the text can still become a value of the schema
 * (*st advanced), -1 when it cannot (*st then undefined). */
int srv_schema_feed(srv_schema_state *st, const char *p, size_t n);
/* 1 when st would take the n bytes (st unchanged). */
int srv_schema_try(const srv_schema_state *st, const char *p, size_t n);
/* 1 when the root value (and the suffix) is complete. */
int srv_schema_done(const srv_schema_state *st);
/* Inside a string where plain bytes only add to its length: how many more
 * it takes (INT_MAX: no bound); else -1 (token_trie.h's plain_room). */
int srv_schema_plain_room(const srv_schema_state *st);
/* Bytes of *st in use: what a copy must take. */
size_t srv_schema_state_size(const srv_schema_state *st);

/* The JSON-object automaton (mrt_json_state) and this one, for a walk over
 * a token trie (token_trie.h). */
extern const srv_trie_automaton srv_json_walk, srv_schema_walk;

#endif
