/* Chat templates: recognise a model's tokenizer.chat_template (Jinja text)
 * as one of the common families by distinctive substrings, and format a
 * conversation into prompt text exactly as that template renders it (no
 * general Jinja engine). Plain C; no JSON types. */
#ifndef SRV_CHAT_TEMPLATE_H
#define SRV_CHAT_TEMPLATE_H

#include <stddef.h>
#include <time.h>

enum srv_chat_family {
	SRV_CHAT_CHATML = 0,  /* <|im_start|>role ... <|im_end|> (Qwen2.5 and others) */
	SRV_CHAT_LLAMA2,      /* [INST] <<SYS>> ... */
	SRV_CHAT_LLAMA3,      /* <|start_header_id|> ... <|eot_id|> (3.0, 3.1, 3.2) */
	SRV_CHAT_MISTRAL,     /* [INST] ... [/INST] (Nemo style; "[INST] " spaced v1 style) */
	SRV_CHAT_ZEPHYR,      /* <|user|>\n ... </s> */
	SRV_CHAT_GEMMA,       /* <start_of_turn>user ... <end_of_turn> */
	SRV_CHAT_PHI3,        /* <|user|>\n ... <|end|> */
	SRV_CHAT_DEEPSEEK_R1, /* <｜User｜> ... <｜Assistant｜> */
	SRV_CHAT_GRANITE,     /* <|start_of_role|> ... <|end_of_text|> */
	SRV_CHAT_SMOLLM3,     /* ChatML with SmolLM3's metadata system block */
	SRV_CHAT_COUNT
};

/* A tool the assistant called: its name and its arguments' JSON text as
 * the templates' tojson writes it (", " and ": " separators). */
typedef struct srv_chat_call {
	const char *name;
	const char *arguments;
	const char *id; /* the call's id (Mistral's template writes it; may be NULL) */
} srv_chat_call;

typedef struct srv_chat_msg {
	const char *role;    /* "system", "user", "assistant" or "tool" (a tool's result) */
	const char *content; /* NUL-terminated UTF-8 ("" for an assistant turn that only calls) */
	const srv_chat_call *calls; /* assistant: the tools it called (n_calls), else NULL */
	int n_calls;
	const char *tool_call_id; /* tool: the call it answers (Mistral writes it; may be NULL) */
} srv_chat_msg;

/* Family of a template text; ChatML when tmpl is NULL or nothing matches. */
int srv_chat_detect(const char *tmpl);
/* Family of a config name ("chatml", "llama2", "llama3", "mistral",
 * "zephyr", "gemma", "phi3", "deepseek-r1", "granite", "smollm3"), or -1. */
int srv_chat_family_from_name(const char *name);
const char *srv_chat_family_name(int family); /* static string; "?" when unknown */

/* 1 when the family's text begins with the BOS token's text (llama2,
 * llama3, mistral, gemma, deepseek-r1): tokenize such a prompt with
 * parse_special on and add_bos off. */
int srv_chat_emits_bos(int family);

typedef struct srv_chat_opts {
	int family;       /* enum srv_chat_family */
	const char *tmpl; /* the model's template text or NULL: default system
	                   * prompts are read from it (Qwen, SmolLM3) */
	time_t now;       /* date for templates that print today's date; 0 = now */
	/* tools the model may call (function calling), each as the template's
	 * tojson writes it, flat (", " and ": ") and with indent=4, and as
	 * Mistral Nemo's template writes it (string fields unescaped) */
	const char *const *tools, *const *tools_indented, *const *tools_mistral;
	int n_tools;
} srv_chat_opts;

/* 1 when the family (with the model's template text, which may be NULL)
 * renders tools and tool calls: ChatML in Qwen 2.5's (Hermes) form, Llama
 * 3.1 / 3.2 (a template with "Environment: ipython") and Mistral Nemo's
 * (a template with "[AVAILABLE_TOOLS]": call ids of 9 characters, roles
 * alternating around the calls). */
int srv_chat_tools_supported(int family, const char *tmpl);

/* Format n messages (a system message, if any, first) and, when
 * add_generation_prompt, the opening of the assistant's turn. Tools,
 * tool calls and tool messages only where srv_chat_tools_supported.
 * Returns a new NUL-terminated string (free() it), or NULL with a message
 * in err (unknown role, unknown family, tools the family does not take,
 * out of memory). */
char *srv_chat_format(const srv_chat_opts *opts, const srv_chat_msg *msgs, int n,
                      int add_generation_prompt, char *err, size_t errlen);

#endif
