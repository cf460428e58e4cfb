-- Time-series hypertables. Narrow rows keyed by integer ids, never one table per tag.
--
-- Chunk intervals follow TimescaleDB's guidance that the chunks being written (with their
-- indexes) fit in about a quarter of memory, and from the expected volume of one enterprise:
--
--   ts.sample        5,000 tags at one value per 5 s ~ 86 M rows/day; ~50 B/row heap plus
--                    ~30 B/row for the (tag_id, time) key ~ 7 GB/day. 1 day keeps the hot
--                    chunk near 25 % of a 24 GiB edge server and makes daily retention exact.
--   ts.device_health a few hundred devices every 30-60 s ~ 1 M rows/day: 7 days.
--   alarm.event      hundreds to thousands of events per unit per day; a year for 200 units is
--                    ~10 M records (~40 M events): 7 days, ~1 M rows a chunk.
--   vib.overall      100 pumps x 3 axes each minute ~ 430 k rows/day: 7 days.
--   vib.waveform     100 pumps x 3 axes x 12 captures/day of 64 k float4 samples ~ 0.9 GB/day,
--                    almost all of it TOASTed (lz4); the heap stays small: 7 days.
--   video.detection  alarms are rare (tens per camera per day) and must be kept >= 6 months
--                    (V19): 30 days, so retention drops whole months.
--
-- No foreign keys from hypertables to registers: they would cost a lookup per inserted row
-- and block dropping chunks; collectors resolve ids against the registers instead.

CREATE TABLE ts.sample (
    time    timestamptz NOT NULL,
    tag_id  integer NOT NULL,
    value   double precision,
    -- OPC DA style quality byte: 192 good, 64..127 uncertain, 0..63 bad.
    quality smallint NOT NULL DEFAULT 192 CHECK (quality BETWEEN 0 AND 255),
    -- (tag_id, time) is the writer's idempotency key and the trend-query index at once.
    PRIMARY KEY (tag_id, time)
);
SELECT create_hypertable('ts.sample', by_range('time', INTERVAL '1 day'));

CREATE TABLE ts.device_health (
    time        timestamptz NOT NULL,
    device_kind text NOT NULL CHECK (device_kind IN ('sensor', 'gateway', 'camera', 'collector',
                                                     'analysis_node')),
    device_id   integer NOT NULL,
    online      boolean NOT NULL,
    battery_pct real CHECK (battery_pct BETWEEN 0 AND 100),
    signal_dbm  real,
    detail      jsonb,
    PRIMARY KEY (device_kind, device_id, time)
);
SELECT create_hypertable('ts.device_health', by_range('time', INTERVAL '7 days'));

-- A2, A3: every alarm event as the DCS (or an export of it) reported it. Records (one row per
-- alarm occurrence) are built from these by the alarm-management code.
CREATE TABLE alarm.event (
    time            timestamptz NOT NULL,
    tag_id          integer NOT NULL,
    point_id        integer,
    kind            text NOT NULL CHECK (kind IN ('ALM', 'ACK', 'RTN', 'SHELVE', 'UNSHELVE',
                                                  'SUPPRESS', 'UNSUPPRESS', 'OOS', 'INS')),
    condition       text NOT NULL DEFAULT '',
    priority        text CHECK (priority IN ('emergency', 'high', 'low', 'journal')),
    category        text CHECK (category IN ('process', 'equipment', 'instrument', 'safety')),
    limit_value     double precision,
    value           double precision,
    message         text,
    operator        text,
    source          text NOT NULL,
    source_event_id text,
    attributes      jsonb,
    -- Re-importing the same log or replaying a spool must not double-count (A4-A19).
    PRIMARY KEY (tag_id, time, kind, condition)
);
SELECT create_hypertable('alarm.event', by_range('time', INTERVAL '7 days'));

-- P2: overall values per sensor axis, as the gateways report them.
CREATE TABLE vib.overall (
    time               timestamptz NOT NULL,
    sensor_id          integer NOT NULL,
    axis               char(1) NOT NULL CHECK (axis IN ('X', 'Y', 'Z')),
    velocity_rms_mm_s  real,
    accel_rms_m_s2     real,
    accel_peak_m_s2    real,
    displacement_pp_um real,
    kurtosis           real,
    crest_factor       real,
    PRIMARY KEY (sensor_id, axis, time)
);
SELECT create_hypertable('vib.overall', by_range('time', INTERVAL '7 days'));

-- P8: one row per waveform capture; samples as a float4 array (4 B/sample, lz4-compressed).
CREATE TABLE vib.waveform (
    time           timestamptz NOT NULL,
    sensor_id      integer NOT NULL,
    axis           char(1) NOT NULL CHECK (axis IN ('X', 'Y', 'Z')),
    sample_rate_hz double precision NOT NULL CHECK (sample_rate_hz > 0),
    speed_rpm      real CHECK (speed_rpm >= 0),
    unit           text NOT NULL DEFAULT 'm/s2' CHECK (unit IN ('m/s2', 'g', 'mm/s', 'um')),
    samples        real[] NOT NULL CHECK (cardinality(samples) > 0),
    PRIMARY KEY (sensor_id, axis, time)
);
ALTER TABLE vib.waveform ALTER COLUMN samples SET COMPRESSION lz4;
SELECT create_hypertable('vib.waveform', by_range('time', INTERVAL '7 days'));

-- V5: detection events of the video worker; alarms with snapshots are built on these.
CREATE TABLE video.detection (
    time          timestamptz NOT NULL,
    camera_id     integer NOT NULL,
    task_id       integer,
    recognition   text NOT NULL CHECK (recognition ~ '^[a-z][a-z0-9_]*$'),
    algorithm     text NOT NULL,
    zone          text NOT NULL DEFAULT '',
    score         real CHECK (score BETWEEN 0 AND 1),
    objects       jsonb,
    frame_index   bigint,
    snapshot_path text,
    PRIMARY KEY (camera_id, recognition, zone, time)
);
SELECT create_hypertable('video.detection', by_range('time', INTERVAL '30 days'));
