-- A SQL Server login for the worklist plugin that may read the worklist view and nothing else.
--
-- Run it once, as a member of sysadmin (or with ALTER ANY LOGIN and the database's db_owner), with
-- sqlcmd, which fills in the $(...) variables before the server sees the text:
--
--   sqlcmd -S dbhost -U sa -C -i sql/mssql/readonly-login.sql -v Database=ImpromedData \
--     View=dbo.vet_worklist Login=vetmwl_reader Password="a long passphrase"
--
-- In SQL Server Management Studio: Query > SQLCMD Mode, then `:setvar Database ImpromedData` and so
-- on at the top. The password must not contain a single quote, and must satisfy the Windows
-- password policy of the server (CHECK_POLICY = ON).
--
-- The user gets SELECT on the view only: no role membership, no access to the tables behind the
-- view (SQL Server's ownership chaining lets the view read them when view and tables have the same
-- owner, usually dbo). Use it in the plugin's connection string: Uid=vetmwl_reader;Pwd=...
-- For a Windows (Active Directory) account instead, see docs/sqlserver.md.

USE [master];
GO
CREATE LOGIN [$(Login)] WITH PASSWORD = N'$(Password)', CHECK_POLICY = ON, CHECK_EXPIRATION = OFF,
    DEFAULT_DATABASE = [$(Database)];
GO
USE [$(Database)];
GO
CREATE USER [$(Login)] FOR LOGIN [$(Login)];
GO
GRANT SELECT ON $(View) TO [$(Login)];
GO
