-- Contractor summaries upward (C20; issue 11 item 2): per host enterprise and local day
-- (Asia/Shanghai) the counts of its contractor management, computed from the contractor tables
-- by the scheduler (workflows/contractors/summary_feed.py), stored here and queued on the
-- contractor_summary feed; an upper level stores what it receives in the same table under the
-- origin enterprise and forwards it unchanged. Counts and company-level facts only: no name,
-- ID number, phone or photo of a contractor worker leaves the enterprise.
--
-- A day is summarised while it runs (final = false, refreshed when a figure changes) and once
-- more after it ended (final = true). Every change raises the revision; a receiver keeps the
-- highest revision of an (enterprise, day), so a re-computed day replaces the stored one.
-- "at_day_end" figures are the state at the end of the day (for a running day: now).

CREATE TABLE contractor.daily_summary (
    day                              date NOT NULL,
    enterprise_id                    integer NOT NULL REFERENCES registry.enterprise (id),
    revision                         integer NOT NULL CHECK (revision >= 1),
    final                            boolean NOT NULL,
    -- companies (C1, C19): on file = registered and not exited
    companies_on_file                integer NOT NULL CHECK (companies_on_file >= 0),
    companies_qualified              integer NOT NULL CHECK (companies_qualified >= 0),
    companies_blacklisted            integer NOT NULL CHECK (companies_blacklisted >= 0),
    companies_qualification_expired  integer NOT NULL
                                     CHECK (companies_qualification_expired >= 0),
    qualifications_expiring_30d      integer NOT NULL CHECK (qualifications_expiring_30d >= 0),
    -- workers (C3, C13, C19)
    workers_on_file                  integer NOT NULL CHECK (workers_on_file >= 0),
    special_workers_on_file          integer NOT NULL CHECK (special_workers_on_file >= 0),
    workers_joined                   integer NOT NULL CHECK (workers_joined >= 0),
    workers_left                     integer NOT NULL CHECK (workers_left >= 0),
    persons_blacklisted              integer NOT NULL CHECK (persons_blacklisted >= 0),
    -- entry, access and positioning (C9, C11, C12)
    entry_applications               integer NOT NULL CHECK (entry_applications >= 0),
    entry_cards_valid                integer NOT NULL CHECK (entry_cards_valid >= 0),
    gate_entries                     integer NOT NULL CHECK (gate_entries >= 0),
    gate_exits                       integer NOT NULL CHECK (gate_exits >= 0),
    on_site_at_day_end               integer NOT NULL CHECK (on_site_at_day_end >= 0),
    positioning_alarms               integer NOT NULL CHECK (positioning_alarms >= 0),
    -- training and exams (C10)
    training_records                 integer NOT NULL CHECK (training_records >= 0),
    training_sessions                integer NOT NULL CHECK (training_sessions >= 0),
    exams_taken                      integer NOT NULL CHECK (exams_taken >= 0),
    exams_passed                     integer NOT NULL CHECK (exams_passed >= 0),
    -- work permits and stop-work orders (C14, C15)
    permits_planned                  integer NOT NULL CHECK (permits_planned >= 0),
    permits_started                  integer NOT NULL CHECK (permits_started >= 0),
    permits_active_at_day_end        integer NOT NULL CHECK (permits_active_at_day_end >= 0),
    stop_orders_issued               integer NOT NULL CHECK (stop_orders_issued >= 0),
    stop_orders_in_force_at_day_end  integer NOT NULL
                                     CHECK (stop_orders_in_force_at_day_end >= 0),
    stop_orders_resumed              integer NOT NULL CHECK (stop_orders_resumed >= 0),
    -- violations, incidents, hazards (C5-C7)
    violations                       integer NOT NULL CHECK (violations >= 0),
    work_violations                  integer NOT NULL CHECK (work_violations >= 0),
    incidents                        integer NOT NULL CHECK (incidents >= 0),
    incident_deaths                  integer NOT NULL CHECK (incident_deaths >= 0),
    incident_injuries                integer NOT NULL CHECK (incident_injuries >= 0),
    hazards_found                    integer NOT NULL CHECK (hazards_found >= 0),
    hazards_open_at_day_end          integer NOT NULL CHECK (hazards_open_at_day_end >= 0),
    -- evaluations (C16-C18)
    evaluations_completed            integer NOT NULL CHECK (evaluations_completed >= 0),
    evaluations_passed               integer NOT NULL CHECK (evaluations_passed >= 0),
    evaluation_avg_score             numeric(5, 1)
                                     CHECK (evaluation_avg_score BETWEEN 0 AND 100),
    -- {"workers_by_type": {"worker": 12, ...}, "permits_by_type": {...},
    --  "stop_orders_by_reason": {...}, "incidents_by_level": {...}}: category codes -> counts
    breakdown                        jsonb NOT NULL DEFAULT '{}'
                                     CHECK (jsonb_typeof(breakdown) = 'object'),
    -- Per company on file: credit code, name, category, status, list flags and a few counts.
    companies                        jsonb NOT NULL DEFAULT '[]'
                                     CHECK (jsonb_typeof(companies) = 'array'),
    computed_at                      timestamptz NOT NULL,  -- at the origin
    stored_at                        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, day),
    CHECK (special_workers_on_file <= workers_on_file),
    CHECK (exams_passed <= exams_taken),
    CHECK (work_violations <= violations),
    CHECK (evaluations_passed <= evaluations_completed),
    CHECK ((evaluations_completed = 0) = (evaluation_avg_score IS NULL))
);
CREATE INDEX daily_summary_day_idx ON contractor.daily_summary (day);

INSERT INTO exchange.feed (kind) VALUES ('contractor_summary');
