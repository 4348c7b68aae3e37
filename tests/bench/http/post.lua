-- wrk script: POST the JSON body in $BODY_FILE to the URL given to wrk.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- count non-200 answers so a run that fails is not reported as fast
local bad = 0
function response(status, headers, body)
	if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
	io.write(string.format("non200 %d\n", summary.errors.status))
end
