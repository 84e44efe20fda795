#!/bin/sh
# The role the portal connects as: LOGIN, not a superuser, without BYPASSRLS, so PostgreSQL's
# row-level security holds it to the consortium in force. It may read and write the rows of
# the tables that "portal" (POSTGRES_USER: the owner, who runs the migrations) creates, and
# change nothing in the schema.
#
# Run by the postgres image on its first start (empty volume), from /docker-entrypoint-initdb.d.
# On a database created before, run it once, then `migrate`:
#   docker compose -f infra/compose.yaml --env-file infra/.env exec -T postgres \
#     sh /docker-entrypoint-initdb.d/10-app-role.sh
# Running it again is harmless (the role is created once, its password set to the current one).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE portal_app LOGIN NOSUPERUSER NOBYPASSRLS'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal_app') \gexec
ALTER ROLE portal_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'app_password';
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO portal_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO portal_app;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO portal_app;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO portal_app;
SQL
