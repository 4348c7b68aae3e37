# runtime/tokenizer.mk
