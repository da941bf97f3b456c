-- What a message carries beside its text (JSON, NULL when nothing): a bot question's
-- choices, an agent's display name, the conversation event a system message marks.
ALTER TABLE events ADD COLUMN meta TEXT;
