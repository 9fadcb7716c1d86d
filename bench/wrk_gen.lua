-- wrk's request for bench/seed_table.sh: the XML-RPC call gen(N) that
-- gzmq-rpc-bench --method gen sends (N from WRK_GEN, default 2048). A reply
-- that is not 200 is counted by wrk as "Non-2xx or 3xx responses".
local n = os.getenv("WRK_GEN") or "2048"
wrk.method = "POST"
wrk.path = "/RPC2"
wrk.headers["Content-Type"] = "text/xml"
wrk.body = '<?xml version="1.0"?>\n<methodCall><methodName>gen</methodName><params>' ..
           '<param><value><int>' .. n .. '</int></value></param></params></methodCall>\n'
