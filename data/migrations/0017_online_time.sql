-- Online time: when each user was connected, and their daily goal.

-- One row per stretch of being online (unix ms on the automation clock).
-- The user actor opens one when the user comes online and closes it when
-- they go offline; `ended_at` is NULL while it is open. Rows still open at
-- start-up were left by a crash and are closed at the last heartbeat.
CREATE TABLE online_intervals (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
-- A day's intervals are those that end after it starts (or are open).
CREATE INDEX online_intervals_user_end ON online_intervals(user_id, ended_at);

-- The most minutes a day the user means to be online (NULL: no goal), and
-- the UTC day (days since the epoch) `goal_exceeded` was last sent on, so
-- it goes out at most once a day.
CREATE TABLE online_goals (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    minutes       INTEGER CHECK (minutes BETWEEN 1 AND 1440),
    notified_day  INTEGER
);

-- When the server last said it was running (automation clock, unix ms):
-- one row, rewritten every minute and at shutdown.
CREATE TABLE online_heartbeat (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  INTEGER NOT NULL
);
