-- wrk script for scripts/peers/wrk-agreement.sh: POSTs the same Open Inference Protocol
-- request over and over, the body made beforehand (binary tensor data or JSON).
--   OIP_BODY_FILE       the request body
--   OIP_CONTENT_TYPE    application/octet-stream (binary) or application/json
--   OIP_HEADER_LENGTH   Inference-Header-Content-Length (the JSON part's length; binary only)
local f = assert(io.open(assert(os.getenv("OIP_BODY_FILE"), "OIP_BODY_FILE unset"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("OIP_CONTENT_TYPE") or "application/json"
local header_length = os.getenv("OIP_HEADER_LENGTH")
if header_length and header_length ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = header_length
end

-- No response() hook: it would cost a Lua call per answer in the client. wrk's own
-- summary counts answers that are not 2xx/3xx ("Non-2xx or 3xx responses"), and the
-- script that runs wrk fails the round on that line.
