#!/bin/sh
# Two-tower retrieval fixture (1,000 items x 32, k = 10) converted with
# --exclude-input seen: scores and ids equal PyTorch's (excluded scores set
# to -inf, then topk) at F32; at F16/Q8_0 scores within tolerance. Over 400
# users, the Q8_0 catalog's top-10 ids keep >= 99% of the F32 ids and its
# recall@10 of held-out items is within 1 point of F32's.
. "${top_srcdir:-.}/tests/recsys/lib.sh"
models_setup
for q in f32 f16 q8_0; do
	convert retrieval "$q" --exclude-input seen || continue
	ints=report
	[ "$q" = f32 ] && ints=exact
	compare "$WORKDIR/retrieval.$q.gguf" retrieval "$q" "$ints"
	compare "$WORKDIR/retrieval.$q.gguf" retrieval_many "$q" "$ints"
done
command -v jq >/dev/null 2>&1 || { echo "recall checks skipped: jq not found"; exit 77; }

# recall GOT.json: "OVERLAP HELDOUT" = share of PyTorch's F32 top-10 ids
# returned, and share of the 2 held-out items per user returned.
recall() {
	jq -r -n --slurpfile got "$1" --slurpfile want "$RECSYS/retrieval_many.expected.json" \
		--slurpfile held "$RECSYS/retrieval_many.heldout.json" '
	def hits(a; b): [a[] as $x | select(b | index([$x]))] | length;
	$got[0].outputs.indices as $g | $want[0].outputs.indices as $w | $held[0] as $h |
	"\([range($g | length) as $i | hits($g[$i]; $w[$i])] | add / ($g | length) / 10) " +
	"\([range($h | length) as $i | hits($h[$i]; $g[$i])] | add / ($h | length) / 2)"'
}
set -- $(recall "$WORKDIR/retrieval_many.f32.got.json")
f32_held=$2
set -- $(recall "$WORKDIR/retrieval_many.q8_0.got.json")
line="q8_0 catalog: $1 of the F32 top-10 ids, recall@10 held-out $2 (f32 $f32_held)"
if awk -v o="$1" -v q="$2" -v f="$f32_held" \
	'BEGIN { d = q - f; if (d < 0) d = -d; exit !(o >= 0.99 && d <= 0.01) }'; then
	pass "$line"
else
	fail "$line"
fi
exit $failed
