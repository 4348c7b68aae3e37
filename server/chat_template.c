/* Chat templates of the common model families, written out in C: each
 * formatter produces the text the family's Jinja template renders for a
 * list of system/user/assistant messages (trim/strip where the template
 * does). Families are recognised by substrings only their templates have. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "strbuf.h"

static const char *const family_names[SRV_CHAT_COUNT] = {
    "chatml", "llama2", "llama3",      "mistral", "zephyr",
    "gemma",  "phi3",   "deepseek-r1", "granite", "smollm3",
};

/* DeepSeek's full-width bar and U+2581 spelled out. */
#define DS_BOS                                                                                     \
	"<\xef\xbd\x9c"                                                                            \
	"begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_EOS                                                                                     \
	"<\xef\xbd\x9c"                                                                            \
	"end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define DS_ASSISTANT                                                                               \
	"<\xef\xbd\x9c"                                                                            \
	"Assistant\xef\xbd\x9c>"

int srv_chat_detect(const char *t)
{
	if (t == NULL)
		return SRV_CHAT_CHATML;
	if (strstr(t, "<|start_header_id|>"))
		return SRV_CHAT_LLAMA3;
	if (strstr(t, DS_USER))
		return SRV_CHAT_DEEPSEEK_R1;
	if (strstr(t, "<|start_of_role|>"))
		return SRV_CHAT_GRANITE;
	if (strstr(t, "<start_of_turn>"))
		return SRV_CHAT_GEMMA;
	if (strstr(t, "<|im_start|>"))
		return strstr(t, "Reasoning Mode") ? SRV_CHAT_SMOLLM3 : SRV_CHAT_CHATML;
	if (strstr(t, "<|assistant|>") && strstr(t, "<|end|>"))
		return SRV_CHAT_PHI3;
	if (strstr(t, "<|user|>"))
		return SRV_CHAT_ZEPHYR;
	if (strstr(t, "<<SYS>>"))
		return SRV_CHAT_LLAMA2;
	if (strstr(t, "[INST]"))
		return SRV_CHAT_MISTRAL;
	return SRV_CHAT_CHATML;
}

int srv_chat_family_from_name(const char *name)
{
	for (int i = 0; name && i < SRV_CHAT_COUNT; i++)
		if (strcmp(name, family_names[i]) == 0)
			return i;
	return -1;
}

const char *srv_chat_family_name(int family)
{
	return family >= 0 && family < SRV_CHAT_COUNT ? family_names[family] : "?";
}

int srv_chat_tools_supported(int family, const char *tmpl)
{
	return family == SRV_CHAT_CHATML ||
	       (family == SRV_CHAT_LLAMA3 && tmpl && strstr(tmpl, "Environment: ipython")) ||
	       (family == SRV_CHAT_MISTRAL && tmpl && strstr(tmpl, "[AVAILABLE_TOOLS]"));
}

int srv_chat_emits_bos(int f)
{
	return f == SRV_CHAT_LLAMA2 || f == SRV_CHAT_LLAMA3 || f == SRV_CHAT_MISTRAL ||
	       f == SRV_CHAT_GEMMA || f == SRV_CHAT_DEEPSEEK_R1;
}

/* ---- output buffer ---- */

typedef srv_strbuf sbuf;

static void put_n(sbuf *b, const char *s, size_t n)
{
	srv_strbuf_put(b, s, n);
}

/* Append NUL-terminated strings; the list ends with NULL. */
static void put(sbuf *b, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, b);
	while ((s = va_arg(ap, const char *)) != NULL)
		put_n(b, s, strlen(s));
	va_end(ap);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Jinja's trim: s without leading and trailing whitespace. */
static void put_trim(sbuf *b, const char *s)
{
	size_t n;

	while (is_ws(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_ws(s[n - 1]))
		n--;
	put_n(b, s, n);
}

/* ---- pieces read from the template text ---- */

/* The string literal (quote q) starting at p, unescaped into b. */
static void put_literal(sbuf *b, const char *p, char q)
{
	for (; *p && *p != q; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			put_n(b, *p == 'n' ? "\n" : p, 1);
		} else {
			put_n(b, p, 1);
		}
	}
}

/* The text of a Qwen-style default system prompt in template t
 * ('<|im_start|>system\nYou are ...<|im_end|>'), put into b; 0 when t has
 * none. */
static int put_chatml_default_text(sbuf *b, const char *t)
{
	const char *key = "<|im_start|>system\\n", *p = t;

	while (p && (p = strstr(p, key)) != NULL) {
		const char *start = p + strlen(key), *end;

		p = start;
		if (*start == '\'' || *start == '"' || *start == '\\')
			continue;
		end = strstr(start, "<|im_end|>");
		if (end == NULL)
			return 0;
		for (const char *c = start; c < end; c++) {
			if (*c == '\\' && c + 1 < end && c[1] == 'n')
				put_n(b, "\n", 1), c++;
			else
				put_n(b, c, 1);
		}
		return 1;
	}
	return 0;
}

static int put_chatml_default_system(sbuf *b, const char *t)
{
	sbuf text = {0};
	int found = put_chatml_default_text(&text, t);

	if (found)
		put(b, "<|im_start|>system\n", text.p ? text.p : "", "<|im_end|>\n", NULL);
	b->failed |= text.failed;
	free(text.p);
	return found;
}

/* s as a JSON string, as Python's json.dumps(ensure_ascii=False) writes it
 * (the templates' tojson of a string). */
static void put_json_string(sbuf *b, const char *s)
{
	put_n(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = c == '"'    ? "\\\""
		                  : c == '\\' ? "\\\\"
		                  : c == '\n' ? "\\n"
		                  : c == '\r' ? "\\r"
		                  : c == '\t' ? "\\t"
		                  : c == '\b' ? "\\b"
		                  : c == '\f' ? "\\f"
		                              : NULL;
		char u[8];

		if (esc) {
			put(b, esc, NULL);
		} else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			put(b, u, NULL);
		} else {
			put_n(b, s, 1);
		}
	}
	put_n(b, "\"", 1);
}

/* ---- formatters ---- */

typedef struct conv {
	const srv_chat_msg *m;
	int n;
	const char *sys; /* content of a leading system message, or NULL */
	int first;       /* index of the first non-system message */
	int gen;
	const srv_chat_opts *o;
	char date[64];
} conv;

/* Qwen 2.5's tools block: the system text (or the template's default),
 * then the tools' signatures and the call format. A template without a
 * default system text starts the block with the tools. */
static void put_chatml_tools(sbuf *b, const conv *c)
{
	size_t before;

	put(b, "<|im_start|>system\n", NULL);
	before = b->n;
	if (c->sys)
		put(b, c->sys, NULL);
	else if (c->o->tmpl)
		put_chatml_default_text(b, c->o->tmpl);
	if (b->n > before)
		put(b, "\n\n", NULL);
	put(b,
	    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
	    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
	    NULL);
	for (int i = 0; i < c->o->n_tools; i++)
		put(b, "\n", c->o->tools[i], NULL);
	put(b,
	    "\n</tools>\n\nFor each function call, return a json object with function name and "
	    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
	    "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
	    NULL);
}

static int is_role(const srv_chat_msg *m, const char *role)
{
	return strcmp(m->role, role) == 0;
}

static void fmt_chatml(sbuf *b, const conv *c)
{
	if (c->o->n_tools > 0)
		put_chatml_tools(b, c);
	else if (c->sys == NULL && c->o->tmpl)
		put_chatml_default_system(b, c->o->tmpl);
	for (int i = c->o->n_tools > 0 ? c->first : 0; i < c->n; i++) {
		const srv_chat_msg *m = &c->m[i];
		if (is_role(m, "tool")) { /* a run of results is one user turn */
			if (i == 0 || !is_role(&c->m[i - 1], "tool"))
				put(b, "<|im_start|>user", NULL);
			put(b, "\n<tool_response>\n", m->content, "\n</tool_response>", NULL);
			if (i + 1 == c->n || !is_role(&c->m[i + 1], "tool"))
				put(b, "<|im_end|>\n", NULL);
		} else if (m->n_calls > 0) {
			put(b, "<|im_start|>assistant", m->content[0] ? "\n" : "", m->content,
			    NULL);
			for (int k = 0; k < m->n_calls; k++)
				put(b, "\n<tool_call>\n{\"name\": \"", m->calls[k].name,
				    "\", \"arguments\": ", m->calls[k].arguments, "}\n</tool_call>",
				    NULL);
			put(b, "<|im_end|>\n", NULL);
		} else {
			put(b, "<|im_start|>", m->role, "\n", m->content, "<|im_end|>\n", NULL);
		}
	}
	if (c->gen)
		put(b, "<|im_start|>assistant\n", NULL);
}

static void fmt_llama2(sbuf *b, const conv *c)
{
	for (int i = c->first; i < c->n; i++) {
		if (strcmp(c->m[i].role, "user") == 0) {
			put(b, "<s>[INST] ", NULL);
			if (i == c->first && c->sys) {
				put(b, "<<SYS>>\n", NULL);
				put_trim(b, c->sys);
				put(b, "\n<</SYS>>\n\n", NULL);
			}
			put_trim(b, c->m[i].content);
			put(b, " [/INST]", NULL);
		} else {
			put(b, " ", NULL);
			put_trim(b, c->m[i].content);
			put(b, " </s>", NULL);
		}
	}
}

/* Llama 3.1 / 3.2: with tools the system block opens with "Environment:
 * ipython" and the tools go into the first user message (the templates'
 * default tools_in_user_message); a call is a JSON object with "name" and
 * "parameters", a result an ipython turn holding its JSON text. */
static void fmt_llama3(sbuf *b, const conv *c)
{
	int dated = c->o->tmpl && strstr(c->o->tmpl, "Cutting Knowledge Date");
	int tools = c->o->n_tools > 0, i = c->first;

	put(b, "<|begin_of_text|>", NULL);
	if (dated || c->sys || tools) {
		put(b, "<|start_header_id|>system<|end_header_id|>\n\n", NULL);
		if (tools)
			put(b, "Environment: ipython\n", NULL);
		if (dated)
			put(b, "Cutting Knowledge Date: December 2023\nToday Date: ", c->date,
			    "\n\n", NULL);
		if (c->sys)
			put_trim(b, c->sys);
		put(b, "<|eot_id|>", NULL);
	}
	if (tools && i < c->n) {
		put(b, "<|start_header_id|>user<|end_header_id|>\n\n",
		    "Given the following functions, please respond with a JSON for a function call "
		    "with its proper arguments that best answers the given prompt.\n\n"
		    "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
		    "argument name and its value}.Do not use variables.\n\n",
		    NULL);
		for (int k = 0; k < c->o->n_tools; k++)
			put(b, c->o->tools_indented[k], "\n\n", NULL);
		put_trim(b, c->m[i++].content);
		put(b, "<|eot_id|>", NULL);
	}
	for (; i < c->n; i++) {
		const srv_chat_msg *m = &c->m[i];
		if (is_role(m, "tool")) {
			put(b, "<|start_header_id|>ipython<|end_header_id|>\n\n", NULL);
			put_json_string(b, m->content);
		} else if (m->n_calls > 0) {
			put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"",
			    m->calls[0].name, "\", \"parameters\": ", m->calls[0].arguments, "}",
			    NULL);
		} else {
			put(b, "<|start_header_id|>", m->role, "<|end_header_id|>\n\n", NULL);
			put_trim(b, m->content);
		}
		put(b, "<|eot_id|>", NULL);
	}
	if (c->gen)
		put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n", NULL);
}

/* Nemo: the system text goes with the last message when that is the
 * user's (else nowhere); the tools before the last user message (before
 * each equal to it, as the template compares them); calls as a JSON list
 * after [TOOL_CALLS], results in [TOOL_RESULTS]. The spaced (v1) style
 * puts the system text before the first user message. */
static void fmt_mistral(sbuf *b, const conv *c)
{
	int spaced = c->o->tmpl && strstr(c->o->tmpl, "[INST] ") != NULL, last_user = -1;

	for (int i = c->first; i < c->n; i++)
		if (is_role(&c->m[i], "user") && (last_user < 0 || !spaced))
			last_user = i;
	put(b, "<s>", NULL);
	for (int i = c->first; i < c->n; i++) {
		const srv_chat_msg *m = &c->m[i];
		if (is_role(m, "user")) {
			if (c->o->n_tools > 0 && last_user >= 0 &&
			    strcmp(m->content, c->m[last_user].content) == 0) {
				put(b, "[AVAILABLE_TOOLS][", NULL);
				for (int k = 0; k < c->o->n_tools; k++)
					put(b, k ? ", " : "", c->o->tools_mistral[k], NULL);
				put(b, "][/AVAILABLE_TOOLS]", NULL);
			}
			put(b, spaced ? "[INST] " : "[INST]", NULL);
			if (c->sys && (spaced ? i == last_user : i == c->n - 1))
				put(b, c->sys, "\n\n", NULL);
			put(b, m->content, spaced ? " [/INST]" : "[/INST]", NULL);
		} else if (m->n_calls > 0) {
			put(b, "[TOOL_CALLS][", NULL);
			for (int k = 0; k < m->n_calls; k++) {
				put(b, k ? ", " : "", "{\"name\": ", NULL);
				put_json_string(b, m->calls[k].name);
				put(b, ", \"arguments\": ", m->calls[k].arguments, ", \"id\": \"",
				    m->calls[k].id, "\"}", NULL);
			}
			put(b, "]</s>", NULL);
		} else if (is_role(m, "tool")) {
			put(b, "[TOOL_RESULTS]{\"content\": ", m->content, ", \"call_id\": \"",
			    m->tool_call_id, "\"}[/TOOL_RESULTS]", NULL);
		} else {
			put(b, m->content, "</s>", NULL);
		}
	}
}

/* Mistral's template: call ids of 9 characters, and user and assistant
 * turns alternating apart from calls and results. NULL or what is wrong. */
static const char *mistral_tools_check(const srv_chat_msg *m, int n, int first)
{
	int turn = 0;
	for (int i = first; i < n; i++) {
		for (int k = 0; k < m[i].n_calls; k++)
			if (!m[i].calls[k].id || strlen(m[i].calls[k].id) != 9)
				return "Mistral's template takes tool call ids of 9 characters";
		if (is_role(&m[i], "tool")) {
			if (!m[i].tool_call_id || strlen(m[i].tool_call_id) != 9)
				return "Mistral's template takes tool call ids of 9 characters";
			continue;
		}
		if (m[i].n_calls > 0)
			continue;
		if (is_role(&m[i], "user") != (turn++ % 2 == 0))
			return "Mistral's template needs user and assistant turns to alternate "
			       "(apart from tool calls and results)";
	}
	return NULL;
}

static void fmt_zephyr(sbuf *b, const conv *c)
{
	for (int i = 0; i < c->n; i++)
		put(b, "<|", c->m[i].role, "|>\n", c->m[i].content, "</s>\n", NULL);
	if (c->gen)
		put(b, "<|assistant|>\n", NULL);
}

/* Gemma has no system role: its text opens the first user turn. */
static void fmt_gemma(sbuf *b, const conv *c)
{
	put(b, "<bos>", NULL);
	for (int i = c->first; i < c->n; i++) {
		int user = strcmp(c->m[i].role, "user") == 0;
		sbuf text = {0};

		put(b, "<start_of_turn>", user ? "user" : "model", "\n", NULL);
		if (i == c->first && c->sys)
			put(&text, c->sys, "\n\n", NULL);
		put(&text, c->m[i].content, NULL);
		put_trim(b, text.p ? text.p : "");
		b->failed |= text.failed;
		free(text.p);
		put(b, "<end_of_turn>\n", NULL);
	}
	if (c->gen)
		put(b, "<start_of_turn>model\n", NULL);
}

static void fmt_phi3(sbuf *b, const conv *c)
{
	for (int i = 0; i < c->n; i++) {
		if (strcmp(c->m[i].role, "system") == 0 && c->m[i].content[0] == 0)
			continue;
		put(b, "<|", c->m[i].role, "|>\n", c->m[i].content, "<|end|>\n", NULL);
	}
	put(b, c->gen ? "<|assistant|>\n" : "<|endoftext|>", NULL);
}

static void fmt_deepseek_r1(sbuf *b, const conv *c)
{
	put(b, DS_BOS, c->sys ? c->sys : "", NULL);
	for (int i = c->first; i < c->n; i++) {
		const char *s = c->m[i].content, *think;

		if (strcmp(c->m[i].role, "user") == 0) {
			put(b, DS_USER, s, NULL);
			continue;
		}
		while ((think = strstr(s, "</think>")) != NULL) /* keep what follows the last */
			s = think + strlen("</think>");
		put(b, DS_ASSISTANT, s, DS_EOS, NULL);
	}
	if (c->gen)
		put(b, DS_ASSISTANT, "<think>\n", NULL);
}

static void fmt_granite(sbuf *b, const conv *c)
{
	put(b, "<|start_of_role|>system<|end_of_role|>", NULL);
	if (c->sys)
		put(b, c->sys, NULL);
	else
		put(b, "Knowledge Cutoff Date: April 2024. Today's Date: ", c->date + 32,
		    ". You are Granite, developed by IBM. You are a helpful AI assistant.", NULL);
	put(b, "<|end_of_text|>\n", NULL);
	for (int i = c->first; i < c->n; i++)
		put(b, "<|start_of_role|>", c->m[i].role, "<|end_of_role|>", c->m[i].content,
		    "<|end_of_text|>\n", NULL);
	if (c->gen)
		put(b, "<|start_of_role|>assistant<|end_of_role|>", NULL);
}

/* Start of the first {{- "..." literal after marker in t, or NULL. */
static const char *literal_after(const char *t, const char *marker)
{
	const char *p = t ? strstr(t, marker) : NULL;

	p = p ? strstr(p, "{{- \"") : NULL;
	return p ? p + 5 : NULL;
}

/* s with every "/no_think" and then every "/think" removed, right-stripped. */
static void put_custom_instructions(sbuf *b, const char *s)
{
	sbuf t = {0}, u = {0};
	const char *p, *q;

	for (p = s; (q = strstr(p, "/no_think")) != NULL; p = q + 9)
		put_n(&t, p, (size_t)(q - p));
	put(&t, p, NULL);
	for (p = t.p ? t.p : ""; (q = strstr(p, "/think")) != NULL; p = q + 6)
		put_n(&u, p, (size_t)(q - p));
	put(&u, p, NULL);
	while (u.n > 0 && is_ws(u.p[u.n - 1]))
		u.p[--u.n] = 0;
	if (u.n > 0)
		put(b, u.p, "\n\n", NULL);
	b->failed |= t.failed | u.failed;
	free(t.p);
	free(u.p);
}

/* SmolLM3: a metadata system block with the reasoning mode, chosen by
 * "/think" or "/no_think" in the system text (default /think). The default
 * instructions are read from the template text when it is given. */
static void fmt_smollm3(sbuf *b, const conv *c)
{
	int think = 1;
	size_t before;
	const char *lit;

	if (c->sys && strstr(c->sys, "/no_think"))
		think = 0;
	put(b, "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\n",
	    "Reasoning Mode: ", think ? "/think" : "/no_think", "\n\n## Custom Instructions\n\n",
	    NULL);
	before = b->n;
	if (c->sys)
		put_custom_instructions(b, c->sys);
	if (b->n == before) {
		lit = literal_after(c->o->tmpl, "reasoning_mode == \"/think\" -%}");
		if (!think && lit)
			lit = literal_after(lit, "{%- else -%}");
		if (lit)
			put_literal(b, lit, '"');
		else
			put(b,
			    "You are a helpful AI assistant named SmolLM, trained by Hugging Face."
			    "\n\n",
			    NULL);
	}
	put(b, "<|im_end|>\n", NULL);
	for (int i = c->first; i < c->n; i++) {
		const char *s = c->m[i].content;

		if (strcmp(c->m[i].role, "user") == 0) {
			put(b, "<|im_start|>user\n", s, "<|im_end|>\n", NULL);
		} else if (strcmp(c->m[i].role, "assistant") == 0) {
			while (*s == '\n')
				s++;
			put(b, "<|im_start|>assistant\n", think ? "" : "<think>\n\n</think>\n", s,
			    "<|im_end|>\n", NULL);
		}
	}
	if (c->gen)
		put(b, "<|im_start|>assistant\n", think ? "" : "<think>\n\n</think>\n", NULL);
}

typedef void (*fmt_fn)(sbuf *b, const conv *c);
static const fmt_fn formatters[SRV_CHAT_COUNT] = {
    fmt_chatml, fmt_llama2, fmt_llama3,      fmt_mistral, fmt_zephyr,
    fmt_gemma,  fmt_phi3,   fmt_deepseek_r1, fmt_granite, fmt_smollm3,
};

char *srv_chat_format(const srv_chat_opts *o, const srv_chat_msg *m, int n,
                      int add_generation_prompt, char *err, size_t errlen)
{
	conv c = {m, n, NULL, 0, add_generation_prompt, o, {0}};
	sbuf b = {0};
	time_t now;
	struct tm tm;

	if (o == NULL || o->family < 0 || o->family >= SRV_CHAT_COUNT || n < 0 ||
	    (n > 0 && m == NULL)) {
		snprintf(err, errlen, "chat template: bad arguments");
		return NULL;
	}
	int tools = srv_chat_tools_supported(o->family, o->tmpl);
	if (o->n_tools > 0 && !tools) {
		snprintf(err, errlen, "the %s chat template does not take tools",
		         srv_chat_family_name(o->family));
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		const char *r = m[i].role;

		if (r == NULL || m[i].content == NULL ||
		    (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant") &&
		     strcmp(r, "tool"))) {
			snprintf(err, errlen,
			         "message %d: role must be system, user, assistant or tool", i);
			return NULL;
		}
		if ((strcmp(r, "tool") == 0 || m[i].n_calls > 0) && !tools) {
			snprintf(
			    err, errlen, "message %d: the %s chat template does not take tool %s",
			    i, srv_chat_family_name(o->family), m[i].n_calls ? "calls" : "results");
			return NULL;
		}
		if (m[i].n_calls > 0 && (strcmp(r, "assistant") != 0 || m[i].calls == NULL)) {
			snprintf(err, errlen, "message %d: only the assistant calls tools", i);
			return NULL;
		}
		if (m[i].n_calls > 1 && o->family == SRV_CHAT_LLAMA3) {
			snprintf(err, errlen, "message %d: Llama 3 takes one tool call a turn", i);
			return NULL;
		}
	}
	int tool_talk = o->n_tools > 0;
	for (int i = 0; i < n; i++)
		tool_talk |= m[i].n_calls > 0 || strcmp(m[i].role, "tool") == 0;
	if (tool_talk && o->family == SRV_CHAT_MISTRAL) {
		const char *why =
		    mistral_tools_check(m, n, n > 0 && strcmp(m[0].role, "system") == 0);
		if (why) {
			snprintf(err, errlen, "%s", why);
			return NULL;
		}
	}
	if (o->n_tools > 0 && o->family == SRV_CHAT_LLAMA3 &&
	    (n == 0 || (n == 1 && strcmp(m[0].role, "system") == 0))) {
		snprintf(err, errlen,
		         "Llama 3 puts the tools in the first user message: there is none");
		return NULL;
	}
	if (n > 0 && strcmp(m[0].role, "system") == 0) {
		c.sys = m[0].content;
		c.first = 1;
	}
	/* Two date spellings: "26 Jul 2024" (Llama 3) at 0, "July 26, 2024"
	 * (Granite) at 32, in the C locale's English names. */
	now = o->now ? o->now : time(NULL);
	if (gmtime_r(&now, &tm) != NULL) {
		static const char *const mon[] = {"January",   "February", "March",    "April",
		                                  "May",       "June",     "July",     "August",
		                                  "September", "October",  "November", "December"};

		snprintf(c.date, 32, "%02d %.3s %d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
		snprintf(c.date + 32, 32, "%s %02d, %d", mon[tm.tm_mon], tm.tm_mday,
		         tm.tm_year + 1900);
	}
	formatters[o->family](&b, &c);
	put_n(&b, "", 0);
	if (b.failed) {
		free(b.p);
		snprintf(err, errlen, "chat template: out of memory");
		return NULL;
	}
	return b.p;
}
