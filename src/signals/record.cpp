// ApiRecord <-> RecordView conversions.
#include "signals/record.h"

namespace sira::signals {

ApiRecord::ApiRecord(const RecordView& v)
    : ts_ms(v.ts_ms),
      key_id(v.key_id),
      ip(v.ip),
      method(v.method),
      path(v.path),
      query(v.query),
      status(v.status),
      latency_ms(v.latency_ms),
      bytes(v.bytes),
      user_agent(v.user_agent),
      trace_id(v.trace_id),
      span_id(v.span_id),
      parent_span_id(v.parent_span_id),
      service(v.service) {}

RecordView ApiRecord::view() const {
  RecordView v;
  v.ts_ms = ts_ms;
  v.key_id = key_id;
  v.ip = ip;
  v.method = method;
  v.path = path;
  v.query = query;
  v.status = status;
  v.latency_ms = latency_ms;
  v.bytes = bytes;
  v.user_agent = user_agent;
  v.trace_id = trace_id;
  v.span_id = span_id;
  v.parent_span_id = parent_span_id;
  v.service = service;
  return v;
}

}  // namespace sira::signals
