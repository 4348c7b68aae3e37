-- wrk script for streamed completions: POST the JSON body in $BODY_FILE
-- (with "stream": true and stream_options.include_usage) and add up the
-- completion_tokens of each answer's usage chunk. Reported by done():
-- tokens and answers completed, wrk's duration and mean latency (us), and
-- non-2xx/3xx answers. An answer still streaming when wrk stops is not
-- counted, so tokens / duration runs low; connections x (tokens / answers)
-- / mean latency does not (each connection sends its next request as soon
-- as an answer ends).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	tokens, answers = 0, 0
end

function response(status, headers, body)
	local n = body:match('"completion_tokens":%s*(%d+)')
	if n then
		tokens = tokens + tonumber(n)
		answers = answers + 1
	end
end

function done(summary, latency, requests)
	local tok, ans = 0, 0
	for _, t in ipairs(threads) do
		tok = tok + t:get("tokens")
		ans = ans + t:get("answers")
	end
	io.write(string.format("tokens %d answers %d duration_us %d mean_latency_us %.1f non200 %d\n",
		tok, ans, summary.duration, latency.mean, summary.errors.status))
end
