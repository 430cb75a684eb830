"""Declared mappings from source exports to ``schema.ACTIVITY`` (read by :func:`zhihui.intel.ingest.load_mapping`).

One YAML file per source format; the file name (without ``.yaml``) is the mapping's name. Keys::

    name: hotel_gb                      # required
    format: csv                         # csv (default) | parquet
    encoding: gbk                       # utf-8 (default, BOM tolerated) | gbk | gb18030
    delimiter: ","                      # CSV only
    skip_lines: 0                       # title lines above the header
    null_values: ["", "NULL", "\\N"]    # cells read as empty
    source: hotel_checkin               # a key of schema.SOURCES, or {column: kind, values: {cell: source}}
    timestamp:                          # always required
      column: 入住时间                  # or value: <expression> (e.g. a concat of date and time)
      formats: ["%Y%m%d%H%M%S"]         # strptime formats tried before ISO 8601; also epoch_s / epoch_ms
      timezone: Asia/Shanghai           # for naive values only; explicit offsets are honoured
      future_tolerance_minutes: 30
      earliest: "1990-01-01"
    record_id: {column: 旅客编号}       # or {hash: [columns]} (stable: same cells → same id), or {value: expr}
    coords: wgs84                       # wgs84 | gcj02 | bd09 — converted to WGS-84 on the way in
    china_only: true                    # quarantine coordinates outside China's rough rectangle
    fields:                             # canonical field → expression
      name: 旅客姓名                    # a column
      room: {json: detail, path: room}  # a dotted path into a JSON column
      trip: {concat: [{column: 车次, transform: upper}, {column: 发车日期, transform: date}], sep: "_"}
      org_code: {const: "440304000000"}
      venue_code: {coalesce: [{column: 站码, optional: true}, 发站]}   # first non-empty
    required: [id_number, venue_code]   # or per source: {checkpoint_pass: [plate], ...}
    detail:                             # the JSON `detail` column
      rest: true                        # every column not used above (default)
      expand_json: [detail]             # JSON-object columns merged key by key
      rename: {退房时间: checkout}
    drop: [person_id]                   # never stored anywhere, quarantine included

Transforms: upper, lower, date (→ YYYY-MM-DD), digits.
"""
