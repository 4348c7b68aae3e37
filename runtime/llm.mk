# runtime/llm.mk
