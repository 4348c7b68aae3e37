/* Function calling: tools and tool_choice read from requests, the calls
 * read back from answers in Qwen 2.5's and Llama 3.1's formats (content
 * before them, several calls, anything malformed or undeclared is text),
 * what a stream may send before the end, and the schema that forces a call
 * accepting a call and refusing others. */
#include <jansson.h>

#include "chat_template.h"
#include "json_schema.h"
#include "llm.h"
#include "test.h"

static const char tools_req[] =
    "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
    "\"required\": [\"city\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"add\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, "
    "\"b\": {\"type\": \"integer\"}}, \"required\": [\"a\", \"b\"]}}}]";

static int read_req(srv_llm_tools *t, const char *choice, int family, const char *tmpl, char *err)
{
	char text[2048];
	json_error_t je;
	snprintf(text, sizeof(text), "%s%s%s}", tools_req, choice ? ", \"tool_choice\": " : "",
	         choice ? choice : "");
	json_t *body = json_loads(text, 0, &je);
	CHECK(body != NULL);
	int r = srv_llm_tools_read(t, body, family, tmpl, err, 200);
	json_decref(body);
	return r;
}

/* The name and compact arguments of call i of calls, "name(args)". */
static const char *call_text(json_t *calls, size_t i)
{
	static char buf[512];
	json_t *fn = json_object_get(json_array_get(calls, i), "function");
	snprintf(buf, sizeof(buf), "%s(%s)", json_string_value(json_object_get(fn, "name")),
	         json_string_value(json_object_get(fn, "arguments")));
	return buf;
}

static void test_read(void)
{
	srv_llm_tools t;
	char err[200] = "";
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_CHATML, NULL, err), 0);
	CHECK_EQ_INT(t.mode, SRV_TOOLS_AUTO);
	CHECK_EQ_INT(t.n, 2);
	CHECK_STR_CONTAINS(t.flat[1], "{\"type\": \"function\", \"function\": {\"name\": \"add\"");
	CHECK_STR_CONTAINS(t.indented[0], "{\n    \"type\": \"function\",\n    \"function\": {\n");
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "\"none\"", SRV_CHAT_CHATML, NULL, err), 0);
	CHECK_EQ_INT(t.mode, SRV_TOOLS_OFF);
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "{\"type\": \"function\", \"function\": {\"name\": \"add\"}}",
	                      SRV_CHAT_CHATML, NULL, err),
	             0);
	CHECK(t.mode == SRV_TOOLS_REQUIRED && t.forced == 1);
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "{\"type\": \"function\", \"function\": {\"name\": \"mul\"}}",
	                      SRV_CHAT_CHATML, NULL, err),
	             -1);
	CHECK_STR_CONTAINS(err, "not among the tools");
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "\"sometimes\"", SRV_CHAT_CHATML, NULL, err), -1);
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_GEMMA, NULL, err), -2);
	CHECK_STR_CONTAINS(err, "gemma");
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_LLAMA3, "<|start_header_id|>", err), -2);
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_LLAMA3, "Environment: ipython", err), 0);
	srv_llm_tools_free(&t);
}

static void test_parse(void)
{
	srv_llm_tools t;
	char err[200];
	size_t before = 99;
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_CHATML, NULL, err), 0);
	const char *a =
	    "Let me see.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": "
	    "3}}\n</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": "
	    "{\"city\": \"Paris\"}}</tool_call>\n";
	json_t *c = srv_llm_tools_parse(&t, SRV_CHAT_CHATML, a, strlen(a), &before);
	CHECK(c != NULL && json_array_size(c) == 2);
	CHECK_EQ_INT(before, 12);
	if (c) {
		CHECK(strcmp(call_text(c, 0), "add({\"a\":2,\"b\":3})") == 0);
		CHECK(strcmp(call_text(c, 1), "get_weather({\"city\":\"Paris\"})") == 0);
		CHECK(strncmp(json_string_value(json_object_get(json_array_get(c, 0), "id")),
		              "call_", 5) == 0);
	}
	json_decref(c);
	/* not calls: text after the last block, an undeclared tool, no
	 * closing tag, arguments that are not an object, no block at all */
	static const char *const text[] = {
	    "<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call> and more",
	    "<tool_call>{\"name\": \"mul\", \"arguments\": {}}</tool_call>",
	    "<tool_call>{\"name\": \"add\", \"arguments\": {}}",
	    "<tool_call>{\"name\": \"add\", \"arguments\": 5}</tool_call>",
	    "{\"name\": \"add\", \"arguments\": {}}",
	};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		CHECK(srv_llm_tools_parse(&t, SRV_CHAT_CHATML, text[i], strlen(text[i]), &before) ==
		      NULL);
	/* streaming: up to a block, or to a tail that may start one */
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_CHATML, a, strlen(a)), 12);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_CHATML, "Hi <tool_", 9), 3);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_CHATML, "Hi <b>", 6), 6);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_CHATML, "Hi <", 4), 3);
	/* Llama 3: the whole answer is the call, "parameters" (or "arguments") */
	const char *l = " {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}} ";
	c = srv_llm_tools_parse(&t, SRV_CHAT_LLAMA3, l, strlen(l), &before);
	CHECK(c != NULL && json_array_size(c) == 1 && before == 0);
	if (c)
		CHECK(strcmp(call_text(c, 0), "get_weather({\"city\":\"Rome\"})") == 0);
	json_decref(c);
	CHECK(srv_llm_tools_parse(&t, SRV_CHAT_LLAMA3, "Sure. {\"name\": \"add\"}", 22, &before) ==
	      NULL);
	const char *after = "{\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}} and more";
	CHECK(srv_llm_tools_parse(&t, SRV_CHAT_LLAMA3, after, strlen(after), &before) == NULL);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_LLAMA3, l, strlen(l)), 0);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_LLAMA3, "  ", 2), 0);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_LLAMA3, "Sure", 4), 4);
	srv_llm_tools_free(&t);
}

/* The forcing schema takes a call of the named tool with its arguments,
 * between the family's markers, and nothing else. */
static void test_schema(void)
{
	srv_llm_tools t;
	char err[200];
	srv_schema_state st;
	CHECK_EQ_INT(read_req(&t, "{\"type\": \"function\", \"function\": {\"name\": \"add\"}}",
	                      SRV_CHAT_CHATML, NULL, err),
	             0);
	srv_schema *s = srv_llm_tools_schema(&t, SRV_CHAT_CHATML, err, sizeof(err));
	CHECK(s != NULL);
	if (s) {
		const char *ok =
		    "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": -2}}"
		    "\n</tool_call>";
		srv_schema_start(&st, s);
		CHECK(srv_schema_feed(&st, ok, strlen(ok)) == 0 && srv_schema_done(&st));
		srv_schema_start(&st, s);
		CHECK(!srv_schema_try(&st, "{", 1));
		CHECK(!srv_schema_try(&st, "<tool_call>\n{\"name\": \"get_weather\"", 34));
		CHECK(!srv_schema_try(
		    &st, "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1.5", 50));
		CHECK(srv_schema_feed(&st, ok, strlen(ok) - 1) == 0 && !srv_schema_done(&st));
		srv_schema_free(s);
	}
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "\"required\"", SRV_CHAT_LLAMA3, "Environment: ipython", err), 0);
	s = srv_llm_tools_schema(&t, SRV_CHAT_LLAMA3, err, sizeof(err));
	CHECK(s != NULL);
	if (s) {
		const char *ok = "{\"name\": \"get_weather\", \"parameters\": {\"x\": [1]}}";
		srv_schema_start(&st, s);
		CHECK(srv_schema_feed(&st, ok, strlen(ok)) == 0 && srv_schema_done(&st));
		srv_schema_start(&st, s);
		CHECK(!srv_schema_try(&st, "{\"name\": \"get_weather\", \"arguments\"", 36));
		srv_schema_free(s);
	}
	srv_llm_tools_free(&t);
}

/* Mistral Nemo: its own tool text, calls after [TOOL_CALLS] with ids of 9
 * letters and digits, no forced calls. */
static void test_mistral(void)
{
	srv_llm_tools t;
	char err[200];
	size_t before = 99;
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_MISTRAL, NULL, err), -2);
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, "\"required\"", SRV_CHAT_MISTRAL, "[AVAILABLE_TOOLS]", err), -2);
	CHECK_STR_CONTAINS(err, "control token");
	srv_llm_tools_free(&t);
	CHECK_EQ_INT(read_req(&t, NULL, SRV_CHAT_MISTRAL, "[AVAILABLE_TOOLS]", err), 0);
	CHECK(t.mistral &&
	      strcmp(t.mistral[0],
	             "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
	             "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
	             "{\"type\": \"string\"}}, \"required\": [\"city\"]}}}") == 0);
	const char *a =
	    " [TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}, "
	    "\"id\": \"x\"}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]";
	json_t *c = srv_llm_tools_parse(&t, SRV_CHAT_MISTRAL, a, strlen(a), &before);
	CHECK(c != NULL && json_array_size(c) == 2 && before == 0);
	if (c) {
		CHECK(strcmp(call_text(c, 0), "add({\"a\":1,\"b\":2})") == 0);
		CHECK(strcmp(call_text(c, 1), "get_weather({\"city\":\"Oslo\"})") == 0);
		const char *id = json_string_value(json_object_get(json_array_get(c, 1), "id"));
		int alnum = id && strlen(id) == 9;
		for (int i = 0; alnum && i < 9; i++)
			alnum = (id[i] >= '0' && id[i] <= '9') ||
			        ((id[i] | 0x20) >= 'a' && (id[i] | 0x20) <= 'z');
		CHECK(alnum);
	}
	json_decref(c);
	static const char *const text[] = {"Sure [TOOL_CALLS][]", "[TOOL_CALLS][]",
	                                   "[TOOL_CALLS]{\"name\": \"add\", \"arguments\": {}}",
	                                   "[TOOL_CALLS][{\"name\": \"mul\", \"arguments\": {}}]"};
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		CHECK(srv_llm_tools_parse(&t, SRV_CHAT_MISTRAL, text[i], strlen(text[i]),
		                          &before) == NULL);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_MISTRAL, " [TOOL", 6), 0);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_MISTRAL, a, strlen(a)), 0);
	CHECK_EQ_INT(srv_llm_tools_streamable(&t, SRV_CHAT_MISTRAL, "Hello", 5), 5);
	srv_llm_tools_free(&t);
}

int main(void)
{
	test_mistral();
	test_read();
	test_parse();
	test_schema();
	TEST_END();
}
