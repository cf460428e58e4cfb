-- Extensions and one schema per domain (ARCHITECTURE.md, "Database").
CREATE EXTENSION IF NOT EXISTS timescaledb;
-- btree_gist: exclusion constraints such as non-overlapping shifts per enterprise.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE SCHEMA IF NOT EXISTS registry;   -- hierarchy, tags, alarm ledger, equipment, devices
CREATE SCHEMA IF NOT EXISTS auth;       -- users, roles, sessions, tokens
CREATE SCHEMA IF NOT EXISTS audit;      -- append-only change log
CREATE SCHEMA IF NOT EXISTS ts;         -- process values and device health
CREATE SCHEMA IF NOT EXISTS alarm;      -- alarm events and records (A*)
CREATE SCHEMA IF NOT EXISTS vib;        -- vibration overall values and waveforms (P*)
CREATE SCHEMA IF NOT EXISTS video;      -- detection events, tasks, snapshots (V*)
CREATE SCHEMA IF NOT EXISTS contractor; -- contractor management (C*)
CREATE SCHEMA IF NOT EXISTS workflow;   -- alert rules, approvals, notifications
CREATE SCHEMA IF NOT EXISTS exchange;   -- upward push outbox and received data (R*)
