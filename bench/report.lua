-- Print wrk's figures as one JSON line, for bench/__main__.py to read.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.mean, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
