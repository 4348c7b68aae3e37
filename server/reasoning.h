/* Reasoning in chat answers. Models trained in DeepSeek-R1's way (its
 * Llama distillations among them) think aloud between <think> and
 * </think> before they answer; llama.cpp's and vLLM's servers return that text
 * apart, as "reasoning_content", and the answer after it as "content".
 *
 * srv_think follows an answer as it grows and says which bytes are
 * reasoning and which are content, and how much of each may be streamed
 * now: a tag cut in two by a token boundary, whitespace that may turn out
 * to end the reasoning, and the first bytes of an answer that may open a
 * <think> are held until the next bytes tell. An answer thinks when its
 * prompt left a <think> open (DeepSeek-R1's template ends with one) or
 * when it begins, after whitespace, with <think>. The reasoning is the
 * text up to the first </think>, its leading and trailing whitespace
 * dropped; the content is what follows, its leading whitespace dropped. An
 * answer that stops before </think> is all reasoning. One that does not
 * think is all content, unchanged. */
#ifndef SRV_REASONING_H
#define SRV_REASONING_H

#include <stddef.h>

enum srv_think_state {
	SRV_THINK_START = 0, /* not known yet whether the answer thinks */
	SRV_THINK_IN,        /* inside the reasoning */
	SRV_THINK_OUT,       /* after </think> */
	SRV_THINK_NONE,      /* the answer does not think: all content */
};

typedef struct srv_think {
	int state;
	size_t open_end;  /* IN, OUT: the reasoning's text starts here (after <think>) */
	size_t close_at;  /* OUT: where </think> starts */
	size_t close_end; /* OUT: where it ends */
	size_t scan;      /* IN: the search for </think> resumes here */
	/* after srv_think_update: */
	size_t r0, r1; /* reasoning that may be sent: [r0, r1) (r0 == r1: none) */
	size_t c0, c1; /* content that may be sent: [c0, c1) */
} srv_think;

/* open: the prompt ends inside a <think> block. */
void srv_think_init(srv_think *t, int open);

/* Follow the answer text[0, len), which only grows between calls (the same
 * bytes, more of them). final: it is complete; then [r0, r1) and [c0, c1)
 * are the whole reasoning and content. Until then they only grow. */
void srv_think_update(srv_think *t, const char *text, size_t len, int final);

/* Whether f names a reasoning_format: "auto", "deepseek" or "none". */
int srv_think_format_known(const char *f);

/* Whether a prompt's text leaves a <think> open for the answer: it ends
 * with <think> and nothing but whitespace after it. */
int srv_think_prompt_open(const char *prompt);

#endif
