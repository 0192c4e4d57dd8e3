-- wrk script: POST a ~1 KB object with a unique name per request, either
-- a ConfigMap (BENCH_KIND=cm) or a custom resource Bench of
-- bench.example.com/v1 (BENCH_KIND=cr) carrying the same padding.
local counter = 0
local thread_id = 0
local pad = string.rep("x", 850)
local kind = os.getenv("BENCH_KIND") or "cm"
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
function request()
  counter = counter + 1
  local name = string.format("%s%s-%d-%d", kind, os.getenv("BENCH_RUN") or "r", tid, counter)
  if kind == "cr" then
    return wrk.format("POST", "/apis/bench.example.com/v1/namespaces/default/benches",
      {["Content-Type"] = "application/json"}, string.format(
      '{"apiVersion":"bench.example.com/v1","kind":"Bench","metadata":{"name":"%s","labels":{"bench":"1"}},"data":{"pad":"%s"}}',
      name, pad))
  end
  return wrk.format("POST", "/api/v1/namespaces/default/configmaps",
    {["Content-Type"] = "application/json"}, string.format(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":{"bench":"1"}},"data":{"pad":"%s"}}',
    name, pad))
end
function response(status, headers, body)
  if status ~= 201 then
    print("unexpected status " .. status)
  end
end
