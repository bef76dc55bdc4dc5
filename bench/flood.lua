-- The sign-in flood: wrong passwords for 1,000 existing and 1,000 unknown \flood\
-- usernames, from FLOOD_IPS client addresses (X-Forwarded-For through the
-- trusted proxy), with one CSRF token. Prints the answers' counts as JSON.
local token = os.getenv("FLOOD_CSRF")
local cookie = os.getenv("FLOOD_COOKIE")
local addresses = tonumber(os.getenv("FLOOD_IPS"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #tostring({}))
end

function request()
  local kind = math.random(2) == 1 and "user" or "ghost"
  local username = "\\\\flood\\\\" .. kind .. math.random(1000)
  local n = math.random(addresses) - 1
  local address = string.format("10.66.%d.%d", math.floor(n / 250), n % 250 + 1)
  return wrk.format("POST", "/api/auth/login", {
    ["Content-Type"] = "application/json",
    ["X-CSRFToken"] = token,
    ["Cookie"] = cookie,
    ["X-Forwarded-For"] = address,
  }, '{"username": "' .. username .. '", "password": "not the password"}')
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 503 and headers["Retry-After"] == nil then
    key = "503 without Retry-After"
  end
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("counts")) do
      total[key] = (total[key] or 0) + value
    end
  end
  local parts = {}
  for key, value in pairs(total) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  local errors = summary.errors
  io.write(string.format(
    '{"duration_us": %d, "socket_errors": %d, "statuses": {%s}}\n',
    summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(parts, ", ")))
end
