"""Rendered SQL: valid in each dialect, values only as bind parameters, and right when it runs."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import sqlglot
from sqlglot import exp

from support.identifier_files import identifier
from support.sql_cases import FILTER_SETS, FRACTION_CASES, INJECTION, MATCHING_CASES, ROWS
from support.sql_check import SQLGLOT_DIALECT, check_sql
from support.views import reference_columns
from vetmwl import model
from vetmwl.config import sql_dir
from vetmwl.dialects import DIALECTS as FACTS
from vetmwl.kinds import Equals, Filter, InList, Like, Range
from vetmwl.kinds.wildcard import like_pattern, wildcard_matches
from vetmwl.model import START_DATETIME
from vetmwl.query import parse_query
from vetmwl.sqlrender import SqlRenderer
from vetmwl.tools import importer

DIALECTS = ("sqlite", "postgresql", "mssql", "mariadb")
ALL_COLUMNS = reference_columns()


def renderer(dialect: str, template: str = "worklist.sql.j2") -> SqlRenderer:
    view = "dbo.worklist" if dialect == "mssql" else "worklist"
    return SqlRenderer(sql_dir() / "queries", template, dialect, view)


def test_check_sql_fails_on_invalid_tsql() -> None:
    """The validator used below can fail: a broken statement does not slip through."""
    for broken in ("SELECT a FROM w WHERE", "SELECT a FROM w WHERE a = = ?", "SELECT TOP (5 a FROM w"):
        with pytest.raises(sqlglot.errors.ParseError):
            check_sql(broken, "mssql")


def test_mariadb_check_reads_strings_without_backslash_escapes() -> None:
    """With backslash escapes (MariaDB's default) ``ESCAPE '\\'`` never ends; our session turns them off."""
    sql = "SELECT a FROM w WHERE a LIKE ? ESCAPE '\\'"
    check_sql(sql, "mariadb")
    with pytest.raises(sqlglot.errors.TokenError):
        sqlglot.parse(sql, read="mysql", error_level=sqlglot.ErrorLevel.RAISE)


CASE_INSENSITIVE_DIALECTS = {name for name, d in FACTS.items() if d.case_insensitive}


def bound(f: Filter, dialect: str) -> int:
    """How many values a filter binds: twice for a case-sensitive key where collations ignore case."""
    twice = dialect in CASE_INSENSITIVE_DIALECTS and isinstance(f, Equals | Like) and not f.fold_case
    return len(f.bind(FACTS["postgresql"])) * (2 if twice else 1)


@pytest.mark.parametrize("dialect", ["mssql", "mariadb"])
def test_case_sensitive_keys_get_a_binary_comparison_where_collations_ignore_case(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, [Equals("AccessionNumber", "ab1"), Like("PatientID", "p*")], 5)
    collation = "Latin1_General_100_BIN2" if dialect == "mssql" else "utf8mb4_bin"
    assert rendered.sql.count(collation) == 2
    assert rendered.params == ["ab1", "ab1", "p%", "p%"]
    check_sql(rendered.sql, dialect)
    name = renderer(dialect).render(ALL_COLUMNS, [Equals("PatientName", "Smith", fold_case=True)], 5)
    assert collation not in name.sql  # PN ignores case (PS3.4 C.2.2.2.1)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(FILTER_SETS))
def test_worklist_query_is_valid_and_parameterized(dialect: str, name: str) -> None:
    filters = FILTER_SETS[name]
    rendered = renderer(dialect).render(ALL_COLUMNS, filters, 501)
    assert rendered.sql.count("?") == len(rendered.params) == sum(bound(f, dialect) for f in filters)
    (statement,) = check_sql(rendered.sql, dialect)
    assert isinstance(statement, exp.Select)
    assert [c.name for c in statement.expressions] == list(ALL_COLUMNS)
    assert (statement.args.get("where") is not None) == bool(filters)
    for f in filters:
        for value in f.bind(FACTS[dialect]):
            if isinstance(value, str):
                assert value not in rendered.sql
    assert "DROP" not in rendered.sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_injection_travels_only_as_parameters(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, FILTER_SETS["injection"], 10)
    assert "DROP TABLE" not in rendered.sql
    assert INJECTION in rendered.params
    # The PN value: case-folded, or on SQLite a literal LIKE pattern (its LIKE ignores ASCII case).
    assert (INJECTION if dialect == "sqlite" else INJECTION.upper()) in rendered.params
    wildcard = "*" if dialect == "sqlite" else "%"  # SQLite matches other than PN with GLOB
    assert any(isinstance(p, str) and "DROP TABLE" in p and p.endswith(wildcard) for p in rendered.params)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_limit_and_order(dialect: str) -> None:
    sql = renderer(dialect).render(ALL_COLUMNS, FILTER_SETS["modality_and_day"], 501).sql
    assert "ORDER BY ScheduledProcedureStepStartDateTime, ScheduledProcedureStepID" in sql
    if dialect == "mssql":
        assert sql.startswith("SELECT TOP (501) ")
        assert "LIMIT" not in sql.upper()
    else:
        assert sql.rstrip().endswith("LIMIT 501")
        assert "TOP" not in sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_column_is_named_as_the_view_spells_it(dialect: str) -> None:
    """Under a case-sensitive collation SQL Server compares column names as text, so a view whose
    columns are spelled in lower case is queried in lower case throughout, ORDER BY included."""
    names = {k: k.lower() for k in ALL_COLUMNS}
    filters = [Like("PatientName", "smi*", fold_case=True), Range(START_DATETIME, datetime(2026, 1, 5), None)]
    sql = renderer(dialect).render(tuple(names.values()), filters, 5, names=names).sql
    (statement,) = check_sql(sql, dialect)
    assert {c.name for c in statement.find_all(exp.Column)} <= set(names.values())
    assert "ORDER BY scheduledprocedurestepstartdatetime, scheduledprocedurestepid" in sql
    probe = renderer(dialect).render_named("probe.sql.j2")
    assert not set(check_sql(probe, dialect)[0].find_all(exp.Column))  # names no column at all


@pytest.mark.parametrize(
    ("dialect", "column_sql"),
    [("postgresql", "UPPER(PatientName)"), ("mssql", "PatientName"), ("mariadb", "PatientName")],
)
def test_person_names_fold_case_except_on_sql_server_and_mariadb(dialect: str, column_sql: str) -> None:
    """Their case-insensitive collations ignore case, and UPPER() would keep the query off the index."""
    equals = renderer(dialect).render(ALL_COLUMNS, [Equals("PatientName", "Smith^Rex", fold_case=True)], 5)
    like = renderer(dialect).render(ALL_COLUMNS, [Like("PatientName", "smi*", fold_case=True)], 5)
    assert f"WHERE {column_sql} = ?" in equals.sql
    assert f"WHERE {column_sql} LIKE ? ESCAPE '\\'" in like.sql
    assert equals.params == ["SMITH^REX"]
    assert like.params == ["SMI%"]
    if column_sql == "PatientName":
        assert "UPPER" not in equals.sql + like.sql


def test_sqlite_person_names_use_like_with_non_ascii_as_any_character() -> None:
    """SQLite's LIKE ignores ASCII case itself; non-ASCII letters become _ and are re-checked in Python."""
    equals = renderer("sqlite").render(ALL_COLUMNS, [Equals("PatientName", "Müller^Bel_lo", fold_case=True)], 5)
    like = renderer("sqlite").render(ALL_COLUMNS, [Like("PatientName", "straß*", fold_case=True)], 5)
    assert "UPPER" not in equals.sql + like.sql
    assert "WHERE PatientName LIKE ? ESCAPE '\\'" in equals.sql
    assert equals.params == ["M_ller^Bel\\_lo"]
    assert like.params == ["stra_%"]
    assert Equals("PatientName", "Müller", fold_case=True).confirm_in_python(FACTS["sqlite"])
    assert not Equals("PatientName", "Muller", fold_case=True).confirm_in_python(FACTS["sqlite"])
    assert not Equals("PatientName", "Müller", fold_case=True).confirm_in_python(FACTS["postgresql"])


@pytest.mark.parametrize("dialect", ["postgresql", "mssql", "mariadb"])
def test_person_names_bind_capitals_of_one_character(dialect: str) -> None:
    """PostgreSQL's UPPER() and the case-insensitive collations keep ß: bound as STRASSE, 'Straße'
    would never find the stored Straße. SQLite binds the name as is and Python checks it."""
    like = renderer(dialect).render(ALL_COLUMNS, [Like("PatientName", "straße*", fold_case=True)], 5)
    equals = renderer(dialect).render(ALL_COLUMNS, [Equals("PatientName", "Straße^Rex", fold_case=True)], 5)
    assert like.params == ["STRAßE%"]
    assert equals.params == ["STRAßE^REX"]
    assert Like("PatientName", "straße*", fold_case=True).confirm_in_python(FACTS["sqlite"])


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("Müller*", "MÜLLER^BELLO", True),
        ("müller^bello", "Müller^Bello", True),
        ("M?ller^Bello", "Müller^Bello", True),
        ("Müller", "Müller^Bello", False),
        ("山田^*", "山田^ポチ", True),
        ("straße", "STRASSE", False),
        ("STRASSE*", "Straße^Rex", False),
        ("straße*", "STRAßE^REX", True),
        ("a.b", "axb", False),
    ],
)
def test_person_name_matches_in_python(pattern: str, value: str | None, matches: bool) -> None:
    assert wildcard_matches(pattern, value, fold_case=True) is matches


@pytest.mark.parametrize("dialect", DIALECTS)
def test_non_person_names_never_fold_case(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, [Like("AccessionNumber", "ab*")], 5)
    assert "UPPER" not in rendered.sql
    once = ["ab*"] if dialect == "sqlite" else ["ab%"]
    assert rendered.params == once * (2 if dialect in CASE_INSENSITIVE_DIALECTS else 1)


@pytest.mark.parametrize(
    ("pattern", "dialect", "expected"),
    [
        ("SMITH*", "sqlite", "SMITH%"),
        ("SM?TH", "postgresql", "SM_TH"),
        ("100%*", "sqlite", "100\\%%"),
        ("a_b?", "postgresql", "a\\_b_"),
        ("c:\\x*", "sqlite", "c:\\\\x%"),
        ("[AB]*", "mssql", "\\[AB]%"),
        ("[AB]*", "postgresql", "[AB]%"),
        ("[AB]*", "sqlite", "[AB]%"),
        ("50%_[x]\\?*", "mssql", "50\\%\\_\\[x]\\\\_%"),
    ],
)
def test_like_pattern_escapes_sql_wildcards(pattern: str, dialect: str, expected: str) -> None:
    assert like_pattern(pattern, FACTS[dialect]) == expected


@pytest.mark.parametrize("dialect", ["postgresql", "mssql", "mariadb"])
def test_like_parameters_are_escaped(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, [Like("PatientID", "1_0%*")], 5)
    assert rendered.params == ["1\\_0\\%%"] * (2 if dialect in CASE_INSENSITIVE_DIALECTS else 1)


def test_sqlite_wildcards_outside_person_names_use_glob() -> None:
    """SQLite's LIKE would ignore ASCII case; GLOB does not, and takes DICOM's * and ? as they are."""
    rendered = renderer("sqlite").render(ALL_COLUMNS, [Like("PatientID", "1_0%*[x]?")], 5)
    assert "WHERE PatientID GLOB ?" in rendered.sql
    assert rendered.params == ["1_0%*[[]x]?"]


@pytest.mark.parametrize(
    ("value", "dialect", "expected"),
    [
        (datetime(2026, 1, 5, 10, 30, 15), "sqlite", "2026-01-05 10:30:15"),
        (datetime(2026, 1, 5), "sqlite", "2026-01-05 00:00:00"),
        (date(2020, 1, 1), "sqlite", "2020-01-01"),
        (datetime(2026, 1, 5, 10, 30, 15), "postgresql", datetime(2026, 1, 5, 10, 30, 15)),
        (date(2020, 1, 1), "mssql", date(2020, 1, 1)),
        # MariaDB's driver would drop the fraction: whole-second bounds, rounded up like SQLite's.
        (datetime(2026, 1, 5, 10, 0, 0, 500000), "mariadb", datetime(2026, 1, 5, 10, 0, 1)),
        (datetime(2026, 1, 5, 23, 59, 59, 1), "mariadb", datetime(2026, 1, 6)),
        (datetime(2026, 1, 5, 10, 30, 15), "mariadb", datetime(2026, 1, 5, 10, 30, 15)),
        (date(2020, 1, 1), "mariadb", date(2020, 1, 1)),
        ("DX", "sqlite", "DX"),
        (36000, "sqlite", 36000),
    ],
)
def test_bind_value(value: object, dialect: str, expected: object) -> None:
    assert FACTS[dialect].bind_value(value) == expected


def test_sqlite_binds_datetimes_as_iso_text() -> None:
    rendered = renderer("sqlite").render(ALL_COLUMNS, FILTER_SETS["modality_and_day"] + FILTER_SETS["birth_date"], 5)
    assert rendered.params == ["DX", "2026-01-05 00:00:00", "2026-01-06 00:00:00", "2018-01-01", "2019-01-01"]


@pytest.mark.parametrize("dialect", ["postgresql", "mssql", "mariadb"])
def test_other_dialects_bind_datetime_objects(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, FILTER_SETS["modality_and_day"], 5)
    modality = ["DX", "DX"] if dialect in CASE_INSENSITIVE_DIALECTS else ["DX"]
    assert rendered.params == [*modality, datetime(2026, 1, 5), datetime(2026, 1, 6)]


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        (FILTER_SETS["open_start"], f"WHERE {START_DATETIME} < ?"),
        (FILTER_SETS["open_end"], f"WHERE {START_DATETIME} >= ?"),
        (FILTER_SETS["modality_and_day"], f"AND {START_DATETIME} >= ? AND {START_DATETIME} < ?"),
        (FILTER_SETS["three_uids"], "WHERE StudyInstanceUID IN (?, ?, ?)"),
    ],
)
def test_range_and_list_conditions(filters: list[Filter], where: str) -> None:
    assert where in renderer("postgresql").render(ALL_COLUMNS, filters, 5).sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_time_of_day_binds_seconds_after_midnight(dialect: str) -> None:
    rendered = renderer(dialect).render(ALL_COLUMNS, FILTER_SETS["time_window"], 5)
    assert rendered.params == [8 * 3600, 12 * 3600 + 60]
    assert rendered.sql.count(START_DATETIME) >= 4  # both bounds compare the time of day of the column


def test_same_shape_renders_once() -> None:
    """The SQL text depends only on the query's shape, so the hot path renders each shape once."""
    r = renderer("postgresql")
    first = r.render(ALL_COLUMNS, [Equals("Modality", "DX"), Range(START_DATETIME, datetime(2026, 1, 5), None)], 5)
    second = r.render(ALL_COLUMNS, [Equals("Modality", "CR"), Range(START_DATETIME, datetime(2027, 2, 6), None)], 5)
    assert second.sql is first.sql
    assert second.params == ["CR", datetime(2027, 2, 6)]
    closed = r.render(ALL_COLUMNS, [Equals("Modality", "CR"), Range(START_DATETIME, None, datetime(2027, 2, 6))], 5)
    assert closed.sql != first.sql
    two = r.render(ALL_COLUMNS, [InList("StudyInstanceUID", ("1", "2"))], 5)
    three = r.render(ALL_COLUMNS, [InList("StudyInstanceUID", ("1", "2", "3"))], 5)
    assert two.sql != three.sql
    assert three.sql.count("?") == 3


def test_columns_follow_the_select_list() -> None:
    sql = renderer("sqlite").render(("ScheduledProcedureStepID", "PatientName"), [], 5).sql
    assert sql.startswith("SELECT ScheduledProcedureStepID, PatientName\nFROM worklist")


# -- helper templates and the reference schema ------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("template", ["columns.sql.j2", "probe.sql.j2"])
def test_helper_templates_parse(dialect: str, template: str) -> None:
    sql = renderer(dialect).render_named(template)
    (statement,) = check_sql(sql, dialect)
    assert isinstance(statement, exp.Select)
    assert ("TOP" in sql) == (dialect == "mssql")
    assert ("LIMIT" in sql) == (dialect != "mssql")


@pytest.mark.parametrize(
    ("dialect", "count", "timeout"),
    [
        ("sqlite", 0, None),
        ("postgresql", 2, "statement_timeout = 5000"),
        ("mssql", 2, "LOCK_TIMEOUT 5000"),
        # Seconds, 2 s after the plugin's own deadline of QueryTimeout + 1 s (see vetmwl/dialects.py).
        ("mariadb", 3, "max_statement_time = 7"),
    ],
)
def test_session_statements_parse(dialect: str, count: int, timeout: str | None) -> None:
    facts = FACTS[dialect]
    statements = facts.session(facts.worklist_session, 5)
    session = ";".join(statements)
    assert len(statements) == count
    for statement in statements:
        check_sql(statement, dialect)
    if timeout:
        assert timeout in session


@pytest.mark.parametrize("dialect", DIALECTS)
def test_insert_template_parses(dialect: str) -> None:
    sql = renderer(dialect, "insert.sql.j2").render_named("insert.sql.j2", columns=list(ALL_COLUMNS))
    (statement,) = check_sql(sql, dialect)
    assert isinstance(statement, exp.Insert)
    assert sql.count("?") == len(ALL_COLUMNS)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_schema_statements_parse(dialect: str) -> None:
    statements = importer.schema_statements(dialect)
    assert len(statements) == 7  # one table and six indexes
    for text in statements:
        (statement,) = check_sql(text, dialect)
        assert isinstance(statement, exp.Create)
    table = sqlglot.parse_one(statements[0], read=SQLGLOT_DIALECT[dialect])
    defined = [c.name.lower() for c in table.find_all(exp.ColumnDef)]
    assert defined == [c.lower() for c in importer.REFERENCE_COLUMNS]


#: Long text (LT and UT values, DICOM JSON) in each dialect.
LONG_TEXT = {("TEXT", ()), ("LONGTEXT", ()), ("NVARCHAR", ("MAX",))}


def column_kinds(dialect: str) -> list[tuple[str, object]]:
    """(column, kind) of the reference table: text with its size, long text, date, date-time, decimal."""
    table = sqlglot.parse_one(importer.schema_statements(dialect)[0], read=SQLGLOT_DIALECT[dialect])
    kinds = []
    for column in table.find_all(exp.ColumnDef):
        kind = column.args["kind"]
        name, sizes = kind.this.name, tuple(e.sql() for e in kind.expressions)
        if (name, sizes) in LONG_TEXT:
            kinds.append((column.name, "long text"))
        elif name in ("VARCHAR", "NVARCHAR"):
            kinds.append((column.name, int(sizes[0])))
        elif name in ("TIMESTAMP", "DATETIME", "DATETIME2"):
            kinds.append((column.name, "date-time"))
        else:
            kinds.append((column.name, f"{name}{sizes}"))
    return kinds


def test_schemas_agree_on_column_kinds() -> None:
    """Same columns, same order, the same kind and size of each, whatever the dialect's type names."""
    kinds = column_kinds("sqlite")
    for dialect in DIALECTS:
        assert column_kinds(dialect) == kinds, dialect
    by_name = dict(kinds)
    json_columns = ["ScheduledProtocolCodeSequence", "RequestedProcedureCodeSequence", "ReferencedStudySequence"]
    for name in [*json_columns, "ReferencedPatientSequence", model.CATCH_ALL, "PatientComments"]:
        assert by_name[name] == "long text", name
    assert by_name["CommentsOnTheScheduledProcedureStep"] == "long text"
    for name in ("RequestingPhysician", "PatientName", "ResponsiblePerson", "ReferringPhysicianName"):
        assert by_name[name] == 324, name
    assert by_name["MedicalAlerts"] == by_name["Allergies"] == 1024
    assert by_name["ResponsiblePersonRole"] == by_name["Modality"] == 16
    for name in ("IssuerOfPatientID", "AdmissionID", "CurrentPatientLocation", "SpecialNeeds", "PatientState"):
        assert by_name[name] == 64, name
    assert by_name["PreMedication"] == by_name["RequestedContrastAgent"] == 64
    assert by_name["PatientSize"] == by_name["PatientWeight"] == "DECIMAL('8', '3')"
    assert by_name["PatientBirthDate"] == "DATE()" and by_name[model.START_DATETIME] == "date-time"


def test_schemas_have_the_same_indexes() -> None:
    def indexes(dialect: str) -> list[tuple[str, tuple[str, ...]]]:
        found = []
        for statement in importer.schema_statements(dialect)[1:]:
            match = re.match(r"CREATE INDEX (?:IF NOT EXISTS )?(\w+) ON [\w.]+ \((.*)\)$", statement)
            assert match, statement
            columns = tuple(w for w in re.findall(r"\w+", match[2]) if w in importer.REFERENCE_COLUMNS)
            found.append((match[1], columns))
        return found

    assert indexes("sqlite") == indexes("postgresql") == indexes("mssql") == indexes("mariadb")
    assert [name for name, _ in indexes("sqlite")] == [
        "worklist_start",
        "worklist_modality_start",
        "worklist_station_start",
        "worklist_patient_id",
        "worklist_accession",
        "worklist_patient_name",
    ]


def test_mariadb_person_name_columns_ignore_case() -> None:
    """Every PN column of the MariaDB table has the accent-sensitive, case-insensitive collation."""
    (table, *_) = importer.schema_statements("mariadb")
    collated = set(re.findall(r"^\s*(\w+)\s+VARCHAR\(324\) COLLATE utf8mb4_uca1400_as_ci", table, re.MULTILINE))
    attributes = [
        c for c in importer.REFERENCE_COLUMNS if model.source_of(c) in (model.Source.VALUE, model.Source.JSON_SEQUENCE)
    ]
    assert collated == {c for c in attributes if model.vr_of(c) == "PN"}


# -- the SQLite SQL, run against SQLite itself --------------------------------------------------


def reference_sqlite(insert: str, rows: list[tuple]) -> Iterator[sqlite3.Connection]:
    """The reference SQLite schema in memory, with ``rows`` inserted by ``insert``."""
    connection = sqlite3.connect(":memory:")
    for statement in importer.schema_statements("sqlite"):
        connection.execute(statement)
    connection.executemany(insert, rows)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def memory_db() -> Iterator[sqlite3.Connection]:
    """Rows chosen around the matching edges."""
    yield from reference_sqlite(
        "INSERT INTO worklist (ScheduledProcedureStepID, ScheduledProcedureStepStartDateTime, Modality, "
        "PatientName, PatientID) VALUES (?, ?, ?, ?, ?)",
        ROWS,
    )


def run_sqlite(connection: sqlite3.Connection, step: dict[str, str] | None = None, **root: str) -> list[str]:
    query = parse_query(identifier(step, **root))
    rendered = renderer("sqlite").render(("ScheduledProcedureStepID",), query.filters, 100)
    return [row[0] for row in connection.execute(rendered.sql, rendered.params)]


@pytest.mark.parametrize(("step", "root", "expected"), MATCHING_CASES)
def test_sqlite_sql_selects_what_dicom_matching_selects(
    memory_db: sqlite3.Connection, step: dict[str, str] | None, root: dict[str, str], expected: list[str]
) -> None:
    assert run_sqlite(memory_db, step, **root) == expected


@pytest.mark.parametrize("name", ["Müller*", "müller^bello", "MÜLLER^BELLO", "Müller^Bello"])
def test_sqlite_matches_non_ascii_names_ignoring_case(memory_db: sqlite3.Connection, name: str) -> None:
    """PN matching ignores case for every name, not only ASCII ones (the demo has Müller, García)."""
    assert run_sqlite(memory_db, PatientName=name) == ["SPS2"]


@pytest.mark.parametrize(("step", "expected"), FRACTION_CASES)
def test_sqlite_fractional_seconds_bounds(
    memory_db: sqlite3.Connection, step: dict[str, str], expected: list[str]
) -> None:
    assert run_sqlite(memory_db, step) == expected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_or_unknown_widens_a_condition_to_null_and_empty(dialect: str) -> None:
    """Unknown statuses count as SCHEDULED; rows without a stored UID are candidates for a derived one."""
    rendered = renderer(dialect).render(ALL_COLUMNS, FILTER_SETS["offered_statuses"] + FILTER_SETS["one_uid"], 5)
    column = "ScheduledProcedureStepStatus"
    assert f"({column} IN (?, ?, ?) OR {column} IS NULL OR {column} = '')" in rendered.sql
    assert "StudyInstanceUID IN (?)\n" in rendered.sql + "\n"  # without or_unknown: exactly as before
    assert rendered.params == ["SCHEDULED", "ARRIVED", "READY", "1.2.3"]


def test_or_unknown_is_part_of_the_shape() -> None:
    """Two filters differing only in or_unknown render different SQL, never one cached text for both."""
    r = renderer("sqlite")
    plain = r.render(ALL_COLUMNS, [Equals("ScheduledProcedureStepStatus", "ARRIVED")], 5).sql
    wide = r.render(ALL_COLUMNS, [Equals("ScheduledProcedureStepStatus", "SCHEDULED", or_unknown=True)], 5).sql
    assert "IS NULL" in wide and "IS NULL" not in plain


STATUS_ROWS = [
    # (SPS ID, status, stored Study Instance UID, breed)
    ("S1", "SCHEDULED", "1.2.3", "Pachón Navarro"),
    ("S2", None, None, "Pachon Navarro"),
    ("S3", "", "", "Pachóón Navarro"),
    ("S4", "ARRIVED", "2.25.1", "PACHÓN NAVARRO"),
    ("S5", "STARTED", "1.2.4", None),
]


@pytest.fixture(scope="module")
def status_db() -> Iterator[sqlite3.Connection]:
    yield from reference_sqlite(
        "INSERT INTO worklist (ScheduledProcedureStepID, ScheduledProcedureStepStartDateTime, Modality, PatientName, "
        "PatientID, ScheduledProcedureStepStatus, StudyInstanceUID, PatientBreedDescription) "
        "VALUES (?, '2026-01-05 08:00:00', 'DX', 'A^B', '1', ?, ?, ?)",
        STATUS_ROWS,
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (FILTER_SETS["offered_statuses"], ["S1", "S2", "S3", "S4"]),
        ([InList("ScheduledProcedureStepStatus", ("ARRIVED", "STARTED"))], ["S4", "S5"]),
        (FILTER_SETS["status_scheduled"], ["S1", "S2", "S3"]),
        (FILTER_SETS["status_like"], ["S1", "S2", "S3"]),
        ([Equals("ScheduledProcedureStepStatus", "STARTED")], ["S5"]),
        # Candidates for a derived UID: the stored matches and every row without a UID.
        (FILTER_SETS["derived_uid"], ["S1", "S2", "S3", "S4"]),
        ([InList("StudyInstanceUID", ("2.25.1",))], ["S4"]),
        # ? is one character, not one byte (ó is two bytes in UTF-8), and case-sensitive outside PN.
        ([Like("PatientBreedDescription", "Pach?n*")], ["S1", "S2"]),
        ([Like("PatientBreedDescription", "PACH?N*")], ["S4"]),
        ([Like("PatientBreedDescription", "Pach??n*")], ["S3"]),
    ],
)
def test_sqlite_or_unknown_and_character_wildcards(
    status_db: sqlite3.Connection, filters: list[Filter], expected: list[str]
) -> None:
    rendered = renderer("sqlite").render(("ScheduledProcedureStepID",), filters, 100)
    assert [row[0] for row in status_db.execute(rendered.sql, rendered.params)] == expected
