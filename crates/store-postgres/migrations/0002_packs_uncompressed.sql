-- Packed facts arrive LZ4-compressed by Bellwether, and packed series are dense binary: TOAST keeps both out of
-- line without compressing them again (pglz, which on the 100k book took 3.0 s of server time to read the packs
-- back). Packs written before this migration keep their old form until rewritten; both read the same.
ALTER TABLE facts_packed ALTER COLUMN packed SET STORAGE EXTERNAL;
ALTER TABLE series ALTER COLUMN packed SET STORAGE EXTERNAL;
