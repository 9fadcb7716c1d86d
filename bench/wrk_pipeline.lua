-- wrk's request for bench/seed_table.sh's pipelined row: WRK_PIPELINE
-- (default 8) GET / requests written at once on each connection, so that
-- wrk spends less per request than the servers and they, not it, saturate.
-- wrk counts every response.
local depth = tonumber(os.getenv("WRK_PIPELINE") or "8")
init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format("GET", "/")
    end
    batch = table.concat(r)
end
request = function()
    return batch
end
