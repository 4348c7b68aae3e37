/* Function calling for the chat API: OpenAI's "tools" and "tool_choice"
 * read into the texts a chat template writes (chat_template.c), the schema
 * that makes the model call a tool when it must (json_schema.c), and the
 * calls read back out of the answer in the family's format: Qwen 2.5's
 * <tool_call>{"name": ..., "arguments": ...}</tool_call> blocks (ChatML), or
 * Llama 3.1's single {"name": ..., "parameters": ...} object. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "json_schema.h"
#include "llm.h"
#include "tojson.h"

#define CHATML_OPEN "<tool_call>"
#define CHATML_CLOSE "</tool_call>"
#define MISTRAL_CALLS "[TOOL_CALLS]" /* the control token, shown when tools are offered */
#define MAX_TOOLS 128

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void srv_llm_tools_free(srv_llm_tools *t)
{
	for (int i = 0; i < t->n; i++) { /* the arrays may be missing (out of memory) */
		free(t->flat ? t->flat[i] : NULL);
		free(t->indented ? t->indented[i] : NULL);
		free(t->mistral ? t->mistral[i] : NULL);
	}
	free(t->flat);
	free(t->indented);
	free(t->mistral);
	json_decref(t->tools);
	memset(t, 0, sizeof(*t));
}

static const char *tool_name(const srv_llm_tools *t, int i)
{
	return json_string_value(json_object_get(
	    json_object_get(json_array_get(t->tools, (size_t)i), "function"), "name"));
}

static int tool_index(const srv_llm_tools *t, const char *name)
{
	for (int i = 0; name && i < t->n; i++)
		if (strcmp(tool_name(t, i), name) == 0)
			return i;
	return -1;
}

/* A tool as Mistral Nemo's template writes it: {"type": "function",
 * "function": {...}} with the function's fields in order but "return",
 * string values between quotes as they are (unescaped), the others as
 * tojson writes them. New string or NULL. */
static char *mistral_tool(json_t *fn)
{
	const char *key;
	json_t *val;
	size_t cap = 64;
	/* the room it takes: every field's text and its separators */
	json_object_foreach(fn, key, val)
	{
		char *v = srv_tojson(val, SRV_TOJSON_FLAT);
		cap += strlen(key) + (v ? strlen(v) : 0) + 8;
		free(v);
	}
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = (size_t)snprintf(out, cap, "{\"type\": \"function\", \"function\": {");
	int first = 1;
	json_object_foreach(fn, key, val)
	{
		if (strcmp(key, "return") == 0)
			continue;
		char *v = json_is_string(val) ? NULL : srv_tojson(val, SRV_TOJSON_FLAT);
		if (!json_is_string(val) && !v) {
			free(out);
			return NULL;
		}
		/* a string goes between quotes as it is, the rest as JSON */
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\": %s%s%s", first ? "" : ", ", key,
		                      v ? "" : "\"", v ? v : json_string_value(val), v ? "" : "\"");
		free(v);
		first = 0;
	}
	snprintf(out + n, cap - n, "}}");
	return out;
}

int srv_llm_tools_read(srv_llm_tools *t, json_t *body, int family, const char *tmpl, char *err,
                       size_t errlen)
{
	json_t *tools = json_object_get(body, "tools"),
	       *choice = json_object_get(body, "tool_choice");
	memset(t, 0, sizeof(*t));
	t->forced = -1;
	if (json_object_get(body, "functions") &&
	    !(json_is_array(json_object_get(body, "functions")) &&
	      json_array_size(json_object_get(body, "functions")) == 0))
		return fail(err, errlen,
		            "\"functions\" (the old form) is not supported; use \"tools\"");
	if (!tools || json_is_null(tools) || (json_is_array(tools) && json_array_size(tools) == 0))
		return 0;
	if (!json_is_array(tools) || json_array_size(tools) > MAX_TOOLS)
		return fail(err, errlen, "\"tools\" must be an array of at most %d tools",
		            MAX_TOOLS);
	/* tool_choice: "auto" (the default), "none", "required" or one function */
	t->mode = SRV_TOOLS_AUTO;
	const char *named = NULL;
	if (json_is_string(choice)) {
		const char *c = json_string_value(choice);
		if (strcmp(c, "none") == 0) {
			t->mode = SRV_TOOLS_OFF; /* the tools are not offered */
			return 0;
		}
		if (strcmp(c, "required") == 0)
			t->mode = SRV_TOOLS_REQUIRED;
		else if (strcmp(c, "auto") != 0)
			return fail(err, errlen,
			            "\"tool_choice\" must be \"auto\", \"none\", "
			            "\"required\" or {\"type\": \"function\", ...}");
	} else if (choice && !json_is_null(choice)) {
		named =
		    json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
		if (!named)
			return fail(err, errlen,
			            "\"tool_choice\" must name {\"function\": {\"name\": ...}}");
		t->mode = SRV_TOOLS_REQUIRED;
	}
	if (!srv_chat_tools_supported(family, tmpl))
		return -1 + fail(err, errlen,
		                 "tool calling is not supported for this model's chat template "
		                 "(%s); it is for ChatML (Qwen 2.5's form), Llama 3.1/3.2 and "
		                 "Mistral Nemo",
		                 srv_chat_family_name(family));
	size_t i;
	json_t *tool;
	json_array_foreach(tools, i, tool)
	{
		json_t *fn = json_object_get(tool, "function"), *params;
		const char *type = json_string_value(json_object_get(tool, "type"));
		if (!type || strcmp(type, "function") != 0 || !json_is_object(fn) ||
		    !json_is_string(json_object_get(fn, "name")))
			return fail(
			    err, errlen,
			    "tools[%zu] must be {\"type\": \"function\", \"function\": {\"name\": "
			    "...}}",
			    i);
		params = json_object_get(fn, "parameters");
		if (params && !json_is_object(params))
			return fail(err, errlen,
			            "tools[%zu]: \"parameters\" must be a JSON Schema object", i);
	}
	t->tools = json_deep_copy(tools);
	t->n = (int)json_array_size(tools);
	t->flat = calloc((size_t)t->n, sizeof(char *));
	t->indented = calloc((size_t)t->n, sizeof(char *));
	t->mistral = calloc((size_t)t->n, sizeof(char *));
	if (!t->tools || !t->flat || !t->indented || !t->mistral)
		return fail(err, errlen, "out of memory");
	/* the templates' tojson, flat and with indent=4 (Python's text: the
	 * keys in their order, reals in their shortest form), and Mistral's own
	 * form */
	for (int k = 0; k < t->n; k++) {
		json_t *v = json_array_get(t->tools, (size_t)k);
		if (!(t->flat[k] = srv_tojson(v, SRV_TOJSON_FLAT)) ||
		    !(t->indented[k] = srv_tojson(v, SRV_TOJSON_INDENT4)) ||
		    !(t->mistral[k] = mistral_tool(json_object_get(v, "function"))))
			return fail(err, errlen, "out of memory");
	}
	if (t->mode == SRV_TOOLS_REQUIRED && family == SRV_CHAT_MISTRAL)
		return -1 +
		       fail(err, errlen,
		            "a required tool call is not supported for Mistral's template (its "
		            "[TOOL_CALLS] is a control token); use \"auto\"");
	for (int k = 0; k < t->n; k++)
		if (tool_index(t, tool_name(t, k)) != k)
			return fail(err, errlen, "tools: two tools are named \"%s\"",
			            tool_name(t, k));
	if (named && (t->forced = tool_index(t, named)) < 0)
		return fail(err, errlen,
		            "\"tool_choice\" names \"%s\", which is not among the tools", named);
	return 0;
}

/* ---- forcing a call ---- */

/* The parameters of tool i as the schema of the call's arguments: an
 * object (of any keys when the tool declares none). New reference. */
static json_t *params_schema(const srv_llm_tools *t, int i)
{
	json_t *p = json_object_get(
	    json_object_get(json_array_get(t->tools, (size_t)i), "function"), "parameters");
	return p ? json_incref(p) : json_pack("{s:s}", "type", "object");
}

srv_schema *srv_llm_tools_schema(const srv_llm_tools *t, int family, char *err, size_t errlen)
{
	json_t *names = json_array(), *args;
	for (int i = 0; i < t->n; i++)
		if (t->forced < 0 || t->forced == i)
			json_array_append_new(names, json_string(tool_name(t, i)));
	/* one tool: its parameters; several: any object (an anyOf of objects
	 * would start alike) */
	args = t->forced >= 0 || t->n == 1 ? params_schema(t, t->forced >= 0 ? t->forced : 0)
	                                   : json_pack("{s:s}", "type", "object");
	int llama = family == SRV_CHAT_LLAMA3;
	json_t *call = json_pack("{s:s, s:{s:{s:o}, s:o}, s:[ss]}", "type", "object", "properties",
	                         "name", "enum", names, llama ? "parameters" : "arguments", args,
	                         "required", "name", llama ? "parameters" : "arguments");
	if (!call) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* the parameters' definitions move to the root, where their
	 * "#/$defs/..." references look */
	static const char *const defs[] = {"$defs", "definitions"};
	for (int k = 0; k < 2; k++) {
		json_t *d = json_object_get(args, defs[k]);
		if (d)
			json_object_set(call, defs[k], d);
	}
	srv_schema *s = srv_schema_compile(call, err, errlen);
	json_decref(call);
	if (s && !llama && srv_schema_set_affixes(s, CHATML_OPEN "\n", "\n" CHATML_CLOSE) < 0) {
		srv_schema_free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return s;
}

/* ---- reading calls back ---- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

/* One JSON object at p (before end), its end in *next. New reference or NULL. */
static json_t *object_at(const char *p, const char *end, const char **next)
{
	json_error_t je;
	json_t *v = json_loadb(p, (size_t)(end - p), JSON_DISABLE_EOF_CHECK, &je);
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	*next = p + je.position;
	return v;
}

/* The OpenAI form of a call to a declared tool from the model's object
 * {"name": ..., key: {...}}, or NULL. */
static json_t *call_from(const srv_llm_tools *t, int family, json_t *obj, const char *key,
                         int index)
{
	const char *name = json_string_value(json_object_get(obj, "name"));
	json_t *args = json_object_get(obj, key);
	if (tool_index(t, name) < 0 || !json_is_object(args))
		return NULL;
	char *a = srv_tojson(args, SRV_TOJSON_COMPACT), id[40];
	if (family == SRV_CHAT_MISTRAL) { /* 9 letters and digits, as its template wants back */
		static const char abc[] =
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
		uint64_t x = uv_hrtime() * 0x9e3779b97f4a7c15ull + (uint64_t)index;
		for (int i = 0; i < 9; i++, x /= 62)
			id[i] = abc[x % 62];
		id[9] = 0;
	} else {
		snprintf(id, sizeof(id), "call_%08llx%04x",
		         (unsigned long long)uv_hrtime() & 0xffffffffull, (unsigned)index);
	}
	json_t *c = a ? json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function",
	                          "function", "name", name, "arguments", a)
	              : NULL;
	free(a);
	return c;
}

json_t *srv_llm_tools_parse(const srv_llm_tools *t, int family, const char *text, size_t len,
                            size_t *content_len)
{
	const char *end = text + len, *p, *next;
	json_t *calls = json_array(), *obj, *c;
	if (!calls || t->mode == SRV_TOOLS_OFF)
		goto none;
	if (family == SRV_CHAT_LLAMA3) { /* the whole answer is one call */
		p = skip_ws(text, end);
		if (!(obj = object_at(p, end, &next)))
			goto none;
		c = call_from(t, family, obj,
		              json_object_get(obj, "parameters") ? "parameters" : "arguments", 0);
		json_decref(obj);
		if (c && skip_ws(next, end) != end) { /* text after the object: not a call */
			json_decref(c);
			c = NULL;
		}
		if (!c || json_array_append_new(calls, c) < 0)
			goto none;
		*content_len = 0;
		return calls;
	}
	if (family == SRV_CHAT_MISTRAL) { /* [TOOL_CALLS] and a JSON list of calls */
		json_error_t je;
		p = skip_ws(text, end);
		if ((size_t)(end - p) < strlen(MISTRAL_CALLS) ||
		    memcmp(p, MISTRAL_CALLS, strlen(MISTRAL_CALLS)) != 0)
			goto none;
		p += strlen(MISTRAL_CALLS);
		json_t *list = json_loadb(p, (size_t)(end - p), 0, &je), *it;
		size_t i;
		if (!json_is_array(list) || json_array_size(list) == 0) {
			json_decref(list);
			goto none;
		}
		json_array_foreach(list, i, it)
		{
			if (!(c = call_from(t, family, it, "arguments", (int)i)) ||
			    json_array_append_new(calls, c) < 0) {
				json_decref(list);
				goto none;
			}
		}
		json_decref(list);
		*content_len = 0;
		return calls;
	}
	/* ChatML: text, then one or more <tool_call> blocks, then nothing */
	const char *open = NULL;
	for (p = text; p + strlen(CHATML_OPEN) <= end; p++)
		if (memcmp(p, CHATML_OPEN, strlen(CHATML_OPEN)) == 0) {
			open = p;
			break;
		}
	if (!open)
		goto none;
	for (p = open; p < end;) {
		if ((size_t)(end - p) < strlen(CHATML_OPEN) ||
		    memcmp(p, CHATML_OPEN, strlen(CHATML_OPEN)) != 0)
			goto none;
		p = skip_ws(p + strlen(CHATML_OPEN), end);
		if (!(obj = object_at(p, end, &next)))
			goto none;
		c = call_from(t, family, obj, "arguments", (int)json_array_size(calls));
		json_decref(obj);
		if (!c || json_array_append_new(calls, c) < 0)
			goto none;
		p = skip_ws(next, end);
		if ((size_t)(end - p) < strlen(CHATML_CLOSE) ||
		    memcmp(p, CHATML_CLOSE, strlen(CHATML_CLOSE)) != 0)
			goto none;
		p = skip_ws(p + strlen(CHATML_CLOSE), end);
	}
	*content_len = (size_t)(open - text);
	return calls;
none:
	json_decref(calls);
	return NULL;
}

size_t srv_llm_tools_streamable(const srv_llm_tools *t, int family, const char *text, size_t len)
{
	if (t->mode == SRV_TOOLS_OFF)
		return len;
	if (family == SRV_CHAT_LLAMA3) { /* an answer that may be a call is held whole */
		const char *p = skip_ws(text, text + len);
		return p == text + len || *p == '{' ? 0 : len;
	}
	if (family == SRV_CHAT_MISTRAL) { /* likewise, one that begins [TOOL_CALLS] */
		const char *p = skip_ws(text, text + len);
		size_t k = (size_t)(text + len - p), n = strlen(MISTRAL_CALLS);
		return memcmp(p, MISTRAL_CALLS, k < n ? k : n) == 0 ? 0 : len;
	}
	/* ChatML: up to a <tool_call>, or to a tail that may begin one */
	size_t n = strlen(CHATML_OPEN);
	for (size_t i = 0; i < len; i++) {
		size_t k = len - i < n ? len - i : n;
		if (memcmp(text + i, CHATML_OPEN, k) == 0)
			return i;
	}
	return len;
}

int srv_llm_tools_msg_calls(json_t *msg, size_t index, srv_chat_call **calls, int *n, char ***texts,
                            char *err, size_t errlen)
{
	json_t *tc = json_object_get(msg, "tool_calls"), *it;
	size_t i, count = json_array_size(tc);
	*calls = NULL, *texts = NULL, *n = 0;
	if (!tc || json_is_null(tc) || count == 0)
		return 0;
	if (!json_is_array(tc) || count > MAX_TOOLS)
		return fail(err, errlen, "messages[%zu]: \"tool_calls\" must be an array", index);
	*calls = calloc(count, sizeof(**calls));
	*texts = calloc(count, sizeof(**texts));
	if (!*calls || !*texts)
		return fail(err, errlen, "out of memory");
	json_array_foreach(tc, i, it)
	{
		json_t *fn = json_object_get(it, "function"), *a = json_object_get(fn, "arguments");
		const char *name = json_string_value(json_object_get(fn, "name"));
		json_t *args = NULL;
		json_error_t je;
		/* arguments: OpenAI sends their JSON text; the templates write
		 * them with tojson, as the object they stand for */
		if (json_is_string(a))
			args = json_loads(json_string_value(a), JSON_DECODE_ANY, &je);
		else if (json_is_object(a))
			args = json_incref(a);
		if (!name || !json_is_object(args)) {
			json_decref(args);
			return fail(err, errlen,
			            "messages[%zu].tool_calls[%zu] needs a function \"name\" and "
			            "\"arguments\" holding a JSON object",
			            index, i);
		}
		(*texts)[i] = srv_tojson(args, SRV_TOJSON_FLAT);
		json_decref(args);
		if (!(*texts)[i])
			return fail(err, errlen, "out of memory");
		(*calls)[i].name = name;
		(*calls)[i].arguments = (*texts)[i];
		(*calls)[i].id = json_string_value(json_object_get(it, "id"));
		(*n)++;
	}
	return 0;
}
