-- What each assessment's priority is computed from (JSON: ARR, churn and expansion figures, urgency, why and
-- the play), and the owner of each account's current assessment, so one CSM's worklist is read without
-- scanning the book.
ALTER TABLE assessments ADD COLUMN impact TEXT;
ALTER TABLE current_assessments ADD COLUMN owner TEXT;
UPDATE current_assessments SET owner = (
    SELECT a.owner FROM assessments a
    WHERE a.account_id = current_assessments.account_id AND a.as_of = current_assessments.as_of
);
CREATE INDEX current_assessments_owner ON current_assessments (owner);
