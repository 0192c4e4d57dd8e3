-- wrk script: POST a ~1 KB ConfigMap with a unique name per request.
local counter = 0
local thread_id = 0
local pad = string.rep("x", 850)
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b%s-%d-%d","labels":{"bench":"1"}},"data":{"pad":"%s"}}',
    os.getenv("BENCH_RUN") or "r", tid, counter, pad)
  local headers = {["Content-Type"] = "application/json"}
  if os.getenv("BENCH_TOKEN") then headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end
  return wrk.format("POST", "/api/v1/namespaces/default/configmaps", headers, body)
end
function response(status, headers, body)
  if status ~= 201 then
    print("unexpected status " .. status)
  end
end
