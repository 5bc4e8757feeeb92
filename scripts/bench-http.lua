-- wrk script of make bench-http (scripts/bench-http.sh): POST /v1/decide
-- bodies naming the whole sample catalog as candidates, for customers
-- cycling over the sample's profile ids (c-0001 .. c-NNNN), so the profile
-- cache is warm after the warm-up run. Environment: BENCH_CUSTOMERS
-- (200), BENCH_CANDIDATES (comma-separated action ids).
--
-- done() prints one line the script parses:
--   RESULT <requests> <seconds> <p50 us> <p99 us> <non-2xx/3xx> <socket errors>

local customers = tonumber(os.getenv("BENCH_CUSTOMERS") or "200")
local candidates = os.getenv("BENCH_CANDIDATES") or ""
local pages = { "cart", "product", "home", "checkout", "category" }
local devices = { "mobile", "desktop", "tablet" }

local quoted = {}
for id in string.gmatch(candidates, "[^,]+") do
	quoted[#quoted + 1] = '"' .. id .. '"'
end
local cands = table.concat(quoted, ",")

local reqs = {}
local n = 0
local headers = { ["Content-Type"] = "application/json" }

local function body(i)
	return string.format(
		'{"customer_id":"c-%04d","channel":"web","limit":3,"candidates":[%s],' ..
			'"context":{"page":"%s","cart_value":%d.5,"device":"%s"}}',
		i, cands, pages[i % #pages + 1], 20 + i % 180, devices[i % #devices + 1])
end

-- up to 10,000 customers the requests are formatted once; past that
-- (make bench-rss) each is formatted when sent
function init(args)
	if customers <= 10000 then
		for i = 1, customers do
			reqs[i] = wrk.format("POST", "/v1/decide", headers, body(i))
		end
	end
end

function request()
	n = n % customers + 1
	if #reqs > 0 then
		return reqs[n]
	end
	return wrk.format("POST", "/v1/decide", headers, body(n))
end

function done(summary, latency, requests)
	local e = summary.errors
	print(string.format("RESULT %d %.3f %d %d %d %d", summary.requests, summary.duration / 1e6,
		latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
