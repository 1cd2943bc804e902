-- A login for the worklist plugin that can read the worklist view and nothing else.
-- Run as a database owner in the worklist database, e.g.:
--   psql -d worklist -v password="'choose-a-password'" -f sql/postgresql/readonly-role.sql
-- (psql fills :'password'; the plugin needs only SELECT, see README.md).
CREATE ROLE worklist_reader LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
REVOKE ALL ON SCHEMA public FROM worklist_reader;
GRANT USAGE ON SCHEMA public TO worklist_reader;
GRANT SELECT ON worklist TO worklist_reader;
ALTER ROLE worklist_reader SET default_transaction_read_only = on;
