#!/bin/sh
# Ranking fixture against PyTorch at F32, F16 and Q8_0: user features and a
# history id list (nn.Embedding(padding_idx=0) + masked mean, exported as
# Equal/Not/Cast/Mul/ReduceSum/Clip/Div) sent once and broadcast to 200
# candidate item ids; ragged history lists padded with 0 (one of them empty).
. "${top_srcdir:-.}/tests/recsys/lib.sh"
models_setup
for q in f32 f16 q8_0; do
	convert ranking "$q" --pad hist_ids=0 || continue
	compare "$WORKDIR/ranking.$q.gguf" ranking "$q"
	compare "$WORKDIR/ranking.$q.gguf" ranking_ragged "$q"
done
exit $failed
