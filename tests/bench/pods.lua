-- wrk script: POST pods (~1.5 KB stored after defaults) with unique names.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
local max = tonumber(os.getenv("BENCH_MAX") or "0")
function request()
  counter = counter + 1
  if max > 0 and counter > max then
    return wrk.format("GET", "/healthz")
  end
  local body = string.format(
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p%d-%d","labels":{"app":"bench","tier":"t%d"}},' ..
    '"spec":{"containers":[{"name":"main","image":"registry.local/bench/app:1.0","command":["/bin/app","--serve"],' ..
    '"ports":[{"containerPort":8080,"name":"http"}],"env":[{"name":"MODE","value":"bench"}],' ..
    '"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"128Mi"}}}]}}',
    tid, counter, counter % 10)
  return wrk.format("POST", "/api/v1/namespaces/default/pods",
    {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if max > 0 and counter > max then
    wrk.thread:stop()
  end
end
