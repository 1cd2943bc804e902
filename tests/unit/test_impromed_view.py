"""sql/mssql/impromed-view.sql read with sqlglot's T-SQL parser: it parses, it keeps the column contract,
and each unconfirmed ImproMed name is written once, in the mapping section a site edits.

tests/integration/test_impromed.py runs the same script, transpiled, on PostgreSQL behind Orthanc.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from support import impromed
from vetmwl.model import REQUIRED_COLUMNS, source_of

#: What is confirmed of ImproMed (docs/impromed.md): used by the worklist view itself.
CONFIRMED = {
    "APPT_M": {"APPT_GUID", "START_TIME", "PATIENT_GUID", "RESOURCE_GUID", "STATUS_GUID", "TYPE", "PRACTICE_VID",
               "NOTES", "DELETED"},
    "HD_SEX": {"HD_SEX_GUID", "SEX", "MALE", "NEUTERED"},
}  # fmt: skip
#: The unconfirmed tables, each read by one mapping view only.
MAPPED = {
    "PATIENTS": "impromed_patient",
    "CLIENTS": "impromed_client",
    "SPECIES": "impromed_species",
    "BREEDS": "impromed_breed",
    "APPT_STATUS": "impromed_status",
}


def statements() -> list[exp.Expression]:
    out = []
    for batch in impromed.tsql_batches(impromed.VIEW_SQL):
        parsed = [s for s in sqlglot.parse(batch, read="tsql", error_level=sqlglot.ErrorLevel.RAISE) if s]
        for statement in parsed:
            if isinstance(statement, exp.Command):
                # The one statement sqlglot keeps opaque, alone in its batch, in its documented form.
                assert parsed == [statement] and batch == "CREATE SCHEMA vetmwl AUTHORIZATION dbo;", batch
        out += parsed
    return out


def views() -> dict[str, exp.Select]:
    found = {}
    for s in statements():
        if isinstance(s, exp.Create) and s.kind == "VIEW":
            found[s.this.sql("tsql")] = s.expression
    return found


def test_every_batch_parses_as_tsql() -> None:
    kinds = [type(s).__name__ for s in statements()]
    assert kinds.count("Create") == 6 and kinds.count("IfBlock") == 3 and kinds.count("Insert") == 1


def test_the_strict_parse_can_fail() -> None:
    with pytest.raises(sqlglot.errors.ParseError):
        sqlglot.parse(
            "CREATE OR ALTER VIEW v AS SELECT a FROM WHERE", read="tsql", error_level=sqlglot.ErrorLevel.RAISE
        )


def test_the_worklist_view_follows_the_column_contract() -> None:
    select = views()["vetmwl.worklist"]
    aliases = [e.alias_or_name for e in select.expressions]
    assert set(REQUIRED_COLUMNS) <= set(aliases)
    assert all(source_of(a) is not None for a in aliases), [a for a in aliases if source_of(a) is None]
    assert len(aliases) == len(set(aliases))
    for wanted in ("PatientSexNeutered", "ResponsiblePerson", "ResponsiblePersonRole", "PatientWeight",
                   "PatientSpeciesDescription", "PatientBreedDescription", "OtherPatientIDsSequence",
                   "ScheduledStationAETitle"):  # fmt: skip
        assert wanted in aliases


def test_the_worklist_view_reads_only_confirmed_names_and_our_own() -> None:
    select = views()["vetmwl.worklist"]
    aliases = {t.alias_or_name: t for t in select.find_all(exp.Table)}
    for table in aliases.values():
        assert table.db == "vetmwl" or (table.db == "dbo" and table.name in CONFIRMED), table.sql("tsql")
    for column in select.find_all(exp.Column):
        table = aliases.get(column.table)
        if table is not None and table.db == "dbo":
            assert column.name in CONFIRMED[table.name], column.sql("tsql")


def test_each_unconfirmed_name_is_written_once_in_the_mapping_section() -> None:
    code = re.sub(r"--[^\n]*", "", impromed.VIEW_SQL.read_text(encoding="utf-8"))  # comments may name them
    found = views()
    mapping_end = code.index("CREATE TABLE vetmwl.impromed_imaging")
    for table, view in MAPPED.items():
        select = found[f"vetmwl.{view}"]
        (source,) = list(select.find_all(exp.Table))
        assert (source.db, source.name) == ("dbo", table)
        assert len(re.findall(rf"\bdbo\.{table}\b", code)) == 1 and code.index(f"dbo.{table}") < mapping_end
        for e in select.expressions:
            # One column per line, "alias.COLUMN AS OurName", each ImproMed column once in the file.
            assert isinstance(e, exp.Alias) and isinstance(e.this, exp.Column), e.sql("tsql")
            written = rf"\b{e.this.table}\.{e.this.name}\s+AS\s+{e.alias}\b"
            (line,) = [line for line in code.splitlines() if re.search(written, line)]
            assert code.index(line) < mapping_end
            assert len(re.findall(rf"\b{e.this.table}\.{e.this.name}\b", code)) == 1, e.this.name


def test_the_login_script_grants_the_impromed_view_only() -> None:
    variables = {"Database": "Impromed", "View": impromed.VIEW, "Login": "vetmwl_reader", "Password": "a b"}
    batches = impromed.tsql_batches(impromed.LOGIN_SQL, variables)
    grants = [b for b in batches if b.startswith("GRANT")]
    assert grants == ["GRANT SELECT ON vetmwl.worklist TO [vetmwl_reader];"]
    (grant,) = sqlglot.parse(grants[0], read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(grant, exp.Grant)


def test_every_batch_translates_to_postgresql() -> None:
    """What tests/integration/test_impromed.py runs: each batch has a PostgreSQL form (an IF that
    is not "create when missing" would be refused)."""
    translated = [s for batch in impromed.tsql_batches(impromed.VIEW_SQL) for s in impromed.postgres_statements(batch)]
    assert sum(s.startswith("CREATE OR REPLACE VIEW") for s in translated) == 6
    assert sum(s.startswith("CREATE TABLE") for s in translated) == 3
    with pytest.raises(AssertionError, match="cannot translate"):
        impromed.postgres_statements("IF 1 = 1 CREATE TABLE t (a INT)")
