-- Gas-detector and pump alarms upward (P13, R5, R8, R9). They are alerts of the alerting
-- engine (workflow.alert: rule alerts on gas detectors and process tags, vibration strategies,
-- hardware self-diagnosis), not alarm events, so the alarm_event feed does not carry them.
-- The `alert` feed carries a snapshot of the alert after each change (transition, level,
-- acknowledgement, closing); the enqueue trigger and the category function live in
-- sql/definitions/exchange.sql, the receiving side in workflows/alert_feed.py.

INSERT INTO exchange.feed (kind) VALUES ('alert');

ALTER TABLE workflow.alert
    -- What kind of alarm this is, set when the alert opens (exchange.alert_category) or
    -- brought by a received alert: gas, process, pump, pump_health (these four go upward),
    -- video (own reviewed feed), process_alarm (its events go up as alarm_event),
    -- positioning (personal data: never leaves the enterprise), other.
    ADD COLUMN category text CHECK (category ~ '^[a-z][a-z0-9_]{0,40}$'),
    -- Set only on alerts received from below (source 'exchange'): the origin's identity of
    -- the incident, "<enterprise code>|<source>|<key>|<started_at UTC>", and the origin's
    -- sequence number of the newest snapshot applied, so an older or repeated snapshot
    -- arriving later never moves the alert backwards.
    ADD COLUMN origin_key text,
    ADD COLUMN origin_seq bigint,
    ADD CONSTRAINT alert_origin_check CHECK (
        (origin_key IS NULL AND origin_seq IS NULL)
        OR (origin_key IS NOT NULL AND origin_seq IS NOT NULL AND source = 'exchange'));

-- The receiver upserts by origin key.
CREATE UNIQUE INDEX alert_origin_idx ON workflow.alert (origin_key) WHERE origin_key IS NOT NULL;
-- Regulator lists and statistics select by category and firing time.
CREATE INDEX alert_category_fired_idx ON workflow.alert (category, fired_at DESC)
    WHERE fired_at IS NOT NULL;

-- Orders the snapshots of an alert as they were committed (taken at commit by the deferred
-- enqueue trigger, while the alert row is still locked by the change).
CREATE SEQUENCE exchange.alert_seq;
