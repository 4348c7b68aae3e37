#!/bin/sh
# Recommendation edge cases through `modelctl predict`: ids out of range
# are refused naming the input, an empty history is the zero-vector mean
# (PyTorch's answer for an all-padding row), k above the catalog is refused
# at conversion, a request "k" above the model's is refused and a smaller one
# cuts the rows.
. "${top_srcdir:-.}/tests/recsys/lib.sh"
models_setup
convert ranking f32 --pad hist_ids=0 || exit 1
convert retrieval f32 --exclude-input seen || exit 1
rank="$WORKDIR/ranking.f32.gguf"
retr="$WORKDIR/retrieval.f32.gguf"
user='"user": [[0.5, -1, 0.25, 2, 0, 1, -0.5, 0.1]]'

compare "$rank" ranking_empty f32

printf '{"inputs": {%s, "hist_ids": [[1, 2]], "item_id": [1, 500]}}' "$user" >"$WORKDIR/r.json"
refused "item id past the table" \
	"out_of_range: input 'item_id': id 500 out of range [0, 500) (node '/item/Gather')" \
	"$MODELCTL" predict "$rank" "$WORKDIR/r.json"
printf '{"inputs": {%s, "hist_ids": [[3], [7, 501]], "item_id": [1, 2]}}' "$user" \
	>"$WORKDIR/r.json"
refused "history id past the table" \
	"out_of_range: input 'hist_ids': id 501 out of range [0, 501) (node '/hist/Gather')" \
	"$MODELCTL" predict "$rank" "$WORKDIR/r.json"
printf '{"inputs": {%s, "hist_ids": [[-3]], "item_id": [1]}}' "$user" >"$WORKDIR/r.json"
refused "negative history id" \
	"out_of_range: input 'hist_ids': id -3 out of range [0, 501) (node '/hist/Gather')" \
	"$MODELCTL" predict "$rank" "$WORKDIR/r.json"
printf '{"inputs": {%s, "hist_ids": [[]], "item_id": []}}' "$user" >"$WORKDIR/r.json"
refused "no candidates" \
	"invalid_shape: input 'item_id': empty batch: send at least one instance" \
	"$MODELCTL" predict "$rank" "$WORKDIR/r.json"

refused "k above the catalog" \
	"convert $RECSYS/knn_k100.onnx: node 'topk' (TopK): k (100) exceeds the catalog (50 items)" \
	"$MODELCTL" convert "$RECSYS/knn_k100.onnx" "$WORKDIR/knn.gguf"
[ -e "$WORKDIR/knn.gguf" ] && fail "k above the catalog: a file was written"

sed 's/^{/{"k": 11, /' "$RECSYS/retrieval.request.json" >"$WORKDIR/k.json"
refused "request k above the model's" \
	'out_of_range: "k" (11) must be in [1, 10]: the model returns at most k = 10 items' \
	"$MODELCTL" predict "$retr" "$WORKDIR/k.json"
sed 's/^{/{"k": 0, /' "$RECSYS/retrieval.request.json" >"$WORKDIR/k.json"
refused "request k of 0" \
	'out_of_range: "k" (0) must be in [1, 10]: the model returns at most k = 10 items' \
	"$MODELCTL" predict "$retr" "$WORKDIR/k.json"

# "k": 3 answers the first 3 of each of PyTorch's rows (ids exact).
sed 's/^{/{"k": 3, /' "$RECSYS/retrieval.request.json" >"$WORKDIR/k.json"
if command -v jq >/dev/null 2>&1; then
	jq -c '.outputs |= map_values(map(.[:3]))' "$RECSYS/retrieval.expected.json" \
		>"$WORKDIR/k3.expected.json"
	if "$MODELCTL" predict "$retr" "$WORKDIR/k.json" >"$WORKDIR/k3.json" &&
		"$JSON_COMPARE" "$WORKDIR/k3.json" "$WORKDIR/k3.expected.json" --tol 1e-4 \
			>"$WORKDIR/compare.log" 2>&1; then
		pass "request k = 3: the first 3 of PyTorch's rows"
	else
		fail "request k = 3: $(tail -n 3 "$WORKDIR/compare.log")"
	fi
fi
exit $failed
