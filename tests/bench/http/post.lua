-- wrk script: POST the JSON body in $BODY_FILE to the URL given to wrk.
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- report wrk's count of non-2xx/3xx answers so a run that fails is not
-- reported as fast (no response() callback: wrk then parses bodies in Lua,
-- which costs it CPU on the cores it shares with the server)
function done(summary, latency, requests)
	io.write(string.format("non200 %d\n", summary.errors.status))
end
