# tests/llm.mk
