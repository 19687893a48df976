-- POST Create JWK with a unique name per request (PREFIX env var + thread id + counter).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local body = string.format('{"name":"load-%s%d-%d","sourceType":"COPY_PASTE","jwkStr":"{\\"kty\\":\\"oct\\",\\"k\\":\\"GawgguFyGrWKav7AX4VKUg\\"}"}', os.getenv("PREFIX") or "", tid, counter)
  return wrk.format("POST", "/apiops/projects/MyProject/jwks/", {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end
