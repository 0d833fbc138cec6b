-- A day's predictions of one account in one row: every target's probability, base probability, model version
-- and drivers as one JSON array (LZ4-compressed when long, see rows::pack_json). A daily pass writes one row
-- per account instead of one per account and target (seven times fewer B-tree inserts).
CREATE TABLE account_predictions (
    account_id TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    predictions BLOB NOT NULL,
    PRIMARY KEY (account_id, as_of)
) WITHOUT ROWID;
CREATE INDEX account_predictions_day ON account_predictions (as_of);

INSERT INTO account_predictions (account_id, as_of, predictions)
    SELECT account_id, as_of,
           json_group_array(json_object(
               'target', target,
               'probability', probability,
               'base_probability', base_probability,
               'model_version', model_version,
               'drivers', CASE WHEN json_valid(drivers) THEN json(drivers) ELSE json('[]') END))
    FROM (SELECT * FROM predictions ORDER BY account_id, as_of, target)
    GROUP BY account_id, as_of;

DROP TABLE predictions;
