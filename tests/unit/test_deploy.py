"""The Docker files, the SQL Server scripts and the SQL in the docs, checked without a container or SQL Server.

The Dockerfile is linted with hadolint, docker-compose.yml is read with PyYAML (and validated by
docker-compose's own schema where that tool is installed), every file and setting they name is
checked against the repository, Orthanc's own list of settings and the plugin's, and the T-SQL is
parsed with sqlglot. The stand-in for the orthancteam image (tests/support/standin) is checked
against the rule the rest of these tests use. tests/integration/test_docker_image.py builds and
runs the image itself, with podman, on that stand-in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from support.deploy import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    PYTHON_PLUGIN_KEYS,
    REPO,
    compose,
    dockerfile_copies,
    dockerfile_env,
    dockerfile_instructions,
    env_file,
    environment,
    image_path_to_repo,
    orthanc_default_settings,
)
from support.deploy import (
    init_demo_db as load_init_demo_db,
)
from support.standin import HERE as STANDIN
from support.standin import generate_configuration as standin_configuration
from support.standin.generate_configuration import from_environment, setting_path
from support.views import reference_columns
from vetmwl.config import _KEYS, SECTION, load_settings, orthanc_warnings

HADOLINT = Path(sys.executable).with_name("hadolint")
OUR_IMAGE = "vetmwl-orthanc:local"
#: Names the plugin reads: the reference table's columns and any other attribute of the model.
CONTRACT = {name for name in reference_columns()}


init_demo_db = load_init_demo_db()


# -- Dockerfile ------------------------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "warning", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""  # not even an "info"


def test_hadolint_fails_on_warnings(tmp_path: Path) -> None:
    """The lint above can fail: an unpinned base image and apt package are warnings."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    done = hadolint(bad)
    assert done.returncode == 1
    assert "DL3006" in done.stdout and "DL3008" in done.stdout


def test_base_images_are_pinned() -> None:
    # The "-full" variant is the one with Microsoft's ODBC Driver 18 (msodbcsql18).
    assert re.fullmatch(r"orthancteam/orthanc:\d+\.\d+\.\d+-full", base_image()), base_image()
    services = compose()["services"]
    assert re.fullmatch(r"mcr\.microsoft\.com/mssql/server:2022-CU\d+-ubuntu-22\.04", services["sqlserver"]["image"])


def base_image() -> str:
    (base,) = [rest for word, rest in dockerfile_instructions() if word == "FROM"]
    return base


def test_the_base_tag_is_named_alike_wherever_it_is_described() -> None:
    """docker/README.md gives the evidence for the tag and the stand-in imitates it: the same tag in each."""
    named: set[str] = set()
    for path in (REPO / "docker" / "README.md", STANDIN / "Containerfile", STANDIN / "__init__.py"):
        named |= set(re.findall(r"orthancteam/orthanc:[\w.-]+", path.read_text(encoding="utf-8")))
    compared = {"orthancteam/orthanc:25.2.0-full", "orthancteam/orthanc:25.4.0-full"}  # in the README's table
    assert named - compared == {base_image()}, named


def test_nothing_in_the_image_names_a_python_version() -> None:
    """The image runs whatever Python its base has: no python3.X path or name in what builds it."""
    files = [p for p in (REPO / "docker").iterdir() if p.is_file()] + [p for p in STANDIN.iterdir() if p.is_file()]
    assert DOCKERFILE in files and STANDIN / "Containerfile" in files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"python3\.\d+|python3\d{2}|site-packages/.*python", text), path


def test_hadolint_finds_nothing_in_the_standin_containerfile() -> None:
    done = hadolint(STANDIN / "Containerfile")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_every_file_the_docker_files_name_exists() -> None:
    services = compose()["services"]
    for name in ("init-db", "orthanc"):
        build = services[name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    for sources, _ in dockerfile_copies():
        for source in sources:
            assert (REPO / source).exists(), source
    env = dockerfile_env()
    image_files = [env["ORTHANC__PYTHON_SCRIPT"], services["init-db"]["entrypoint"][1]]
    for image_path in image_files:
        source = image_path_to_repo(image_path)
        assert source is not None and source.is_file(), image_path
    # What the image's Python finds on PYTHONPATH: the pip target and the copied plugin folder.
    pip = next(rest for word, rest in dockerfile_instructions() if word == "RUN" and "pip install" in rest)
    for entry in env["PYTHONPATH"].split(":"):
        copied = image_path_to_repo(entry.rstrip("/") + "/")
        assert f"--target {entry}" in pip or (copied is not None and copied.is_dir()), entry
    # The init script's own files come from the same copies.
    login_script = "/opt/vetmwl/" + init_demo_db.LOGIN_SCRIPT.relative_to(REPO).as_posix()
    assert image_path_to_repo(login_script) == init_demo_db.LOGIN_SCRIPT


def ignored_by_dockerignore(path: str) -> bool:
    """Whether .dockerignore (ours: exclude everything, then re-include) keeps ``path`` out."""
    ignored = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
        if re.fullmatch(f"{regex}(/.*)?", path.rstrip("/")):
            ignored = not negate
    return ignored


def test_dockerignore_lets_every_copy_source_through() -> None:
    for sources, _ in dockerfile_copies():
        for source in sources:
            assert not ignored_by_dockerignore(source), source
    assert ignored_by_dockerignore(".venv") and ignored_by_dockerignore("var/demo.sqlite")
    assert ignored_by_dockerignore("plugin/vetmwl/__pycache__")


def our_env() -> dict[str, str]:
    """What Orthanc's container sees: the Dockerfile's ENV, then the compose service's environment."""
    return {**dockerfile_env(), **environment(compose()["services"]["orthanc"])}


def test_every_orthanc_variable_is_a_real_setting() -> None:
    known = orthanc_default_settings() | PYTHON_PLUGIN_KEYS | {SECTION}
    assert "DicomAlwaysAllowFindWorklist" in known and "Worklists" not in known  # a real list
    names = [n for n in our_env() if n.startswith("ORTHANC__")]
    assert len(names) >= 10
    for name in names:
        path = setting_path(name)
        assert path[0] in known, f"{name} sets {'.'.join(path)}, which Orthanc and the plugin do not know"
        if path[0] == SECTION:
            assert len(path) == 2 and path[1] in _KEYS, f"{name}: {SECTION} has no setting {path[1:]}"
        else:
            assert len(path) == 1, name


def test_the_variables_become_the_settings_they_name() -> None:
    """What the image's generator makes of our variables (the stand-in follows its rule)."""
    env = {**our_env(), "ORTHANC__SQL_WORKLIST__MODALITIES": '{"CR_ROOM2": {"RestrictToOwnStation": true}}'}
    configuration = from_environment(env)
    assert configuration["SqlWorklist"]["Modalities"] == {"CR_ROOM2": {"RestrictToOwnStation": True}}
    assert configuration["DicomAlwaysAllowFindWorklist"] is False and configuration["DicomAlwaysAllowStore"] is False
    assert configuration["DicomModalities"]["xray"]["AET"] == "DX_ROOM1"
    assert configuration["SqlWorklist"]["ConnectionString"] == env["ORTHANC__SQL_WORKLIST__CONNECTION_STRING"]
    assert configuration["SqlWorklist"]["PasswordFile"] == "/run/secrets/worklist_reader_password"
    assert configuration["SqlWorklist"]["StudyArrival"]["KnownSendersOnly"] is True


def test_the_standin_entrypoint_enables_the_plugins_as_the_image_does(tmp_path: Path) -> None:
    build = standin_configuration.build
    configuration, libraries = build([], our_env())
    assert libraries == ["libOrthancPython.so"]  # ORTHANC__PYTHON_SCRIPT, and no Worklists
    assert configuration["StorageDirectory"] == "/var/lib/orthanc/db"  # the image's defaults
    assert configuration["Plugins"] == ["/run/orthanc/plugins", "/usr/share/orthanc/plugins"]
    assert build([], {**our_env(), "PYTHON_PLUGIN_ENABLED": "false"})[1] == []
    assert build([], {"PYTHON_PLUGIN_ENABLED": "true"})[1] == ["libOrthancPython.so"]
    # A Worklists section, from a variable or a file, switches the stock worklist plugin on.
    assert "libModalityWorklists.so" in build([], {"ORTHANC__WORKLISTS__ENABLE": "true"})[1]
    extra = tmp_path / "extra.json"
    extra.write_text('{\n // a comment\n "Worklists": {"Enable": true}, "Name": "from a file", "HttpPort": 1}\n')
    configuration, libraries = build([str(extra)], {"ORTHANC__NAME": "from the environment"})
    assert libraries == ["libModalityWorklists.so"]
    assert configuration["Name"] == "from the environment" and configuration["HttpPort"] == 1


def test_env_var_rule_matches_the_plugin_keys() -> None:
    assert setting_path("ORTHANC__SQL_WORKLIST__CONNECTION_STRING") == [
        "SqlWorklist",
        "ConnectionString",
    ]
    assert setting_path("ORTHANC__DICOM_ALWAYS_ALLOW_FIND_WORKLIST") == ["DicomAlwaysAllowFindWorklist"]
    assert setting_path("ORTHANC__PYTHON_SCRIPT") == ["PythonScript"]


def test_no_worklists_section_anywhere() -> None:
    """A "Worklists" section would switch on Orthanc's own worklist plugin in this image."""
    services = compose()["services"]
    for name, service in services.items():
        env = environment(service)
        if name != "sqlserver":
            env = {**dockerfile_env(), **env}
        for variable in env:
            assert variable not in ("WORKLISTS_PLUGIN_ENABLED", "WL_ENABLED"), variable
            if variable.startswith("ORTHANC__"):
                assert setting_path(variable)[0] != "Worklists", variable
            assert variable != "ORTHANC_JSON" or "Worklists" not in env[variable]
    for _, dest in dockerfile_copies():
        assert not dest.startswith("/etc/orthanc"), "no configuration file is copied into the image"
    assert "Worklists" not in from_environment(our_env())


def test_dockerfile_installs_exactly_the_pinned_requirements() -> None:
    runs = [rest for word, rest in dockerfile_instructions() if word == "RUN"]
    pip = [run for run in runs if "pip" in run]
    assert len(pip) == 1
    words = pip[0].split()
    assert words[:4] == ["python3", "-m", "pip", "install"]
    requirement_files = [words[n + 1] for n, w in enumerate(words) if w == "-r"]
    assert requirement_files == ["/opt/vetmwl/requirements.txt"]
    assert image_path_to_repo(requirement_files[0]) == REPO / "requirements.txt"
    packages = [w for w in words[4:] if not w.startswith("-") and w not in requirement_files]
    assert packages == ["/opt/vetmwl/site-packages"], "nothing but the requirements file is installed"
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line.strip()), line


def test_the_plugin_accepts_the_docker_configuration(tmp_path: Path) -> None:
    configuration = from_environment(our_env())
    # The secret, where compose mounts it in the container (/run/secrets), here in a scratch folder.
    secret = tmp_path / "worklist_reader_password"
    secret.write_text("Reader-pw-2026!\n")
    configuration["SqlWorklist"]["PasswordFile"] = str(secret)
    settings = load_settings(configuration)
    assert settings.dialect == "mssql"
    assert settings.view == "dbo.vet_worklist"
    assert (settings.query_timeout, settings.connect_timeout, settings.limit_answers) == (5, 5, 500)
    assert "{ODBC Driver 18 for SQL Server}" in settings.connection_string
    assert settings.connection_string.endswith(";PWD={Reader-pw-2026!};")
    # The certificate is validated unless the site says otherwise (the demo's .env does, for its own server).
    assert "TrustServerCertificate=yes" in settings.connection_string
    assert (
        "TrustServerCertificate=no"
        in compose({**env_file(), "MSSQL_TRUST_SERVER_CERTIFICATE": ""})["services"]["orthanc"]["environment"][
            "ORTHANC__SQL_WORKLIST__CONNECTION_STRING"
        ]
    )
    assert settings.progress.known_senders_only
    assert orthanc_warnings(configuration) == []
    assert configuration["RegisteredUsers"] == {"admin": env_file()["ORTHANC_ADMIN_PASSWORD"]}


def test_compose_services_fit_together() -> None:
    services = compose()["services"]
    init, orthanc, sqlserver = services["init-db"], services["orthanc"], services["sqlserver"]
    assert init["image"] == orthanc["image"] == OUR_IMAGE and init["build"] == orthanc["build"]
    assert init["depends_on"] == {"sqlserver": {"condition": "service_healthy"}}
    assert orthanc["depends_on"] == {"init-db": {"condition": "service_completed_successfully"}}
    # The init script creates what Orthanc's connection string uses.
    init_env, orthanc_env = environment(init), environment(orthanc)
    connection = orthanc_env["ORTHANC__SQL_WORKLIST__CONNECTION_STRING"]
    assert (
        "Server=tcp:sqlserver,1433" in connection and "Server=tcp:sqlserver,1433" in init_env["VETMWL_ADMIN_CONNECTION"]
    )
    assert f"Database={init_env['VETMWL_DATABASE']};" in connection
    assert f"Uid={init_env['VETMWL_READER_LOGIN']};" in connection and "Pwd=" not in connection
    # The reader's password is one Docker secret, read by the plugin (PasswordFile) and by init-db.
    secret = "/run/secrets/worklist_reader_password"
    assert orthanc_env["ORTHANC__SQL_WORKLIST__PASSWORD_FILE"] == init_env["VETMWL_READER_PASSWORD_FILE"] == secret
    assert init["secrets"] == orthanc["secrets"] == ["worklist_reader_password"]
    assert compose()["secrets"] == {"worklist_reader_password": {"file": "./secrets/worklist_reader_password"}}
    assert orthanc_env["ORTHANC__SQL_WORKLIST__VIEW"] == init_env["VETMWL_VIEW"]
    # Healthchecks run real commands: sqlcmd of the SQL Server image, curl on Orthanc's REST API;
    # no password on either command line.
    sql_check = " ".join(sqlserver["healthcheck"]["test"])
    assert "/opt/mssql-tools18/bin/sqlcmd -C" in sql_check and 'SQLCMDPASSWORD="$MSSQL_SA_PASSWORD"' in sql_check
    assert " -P " not in sql_check
    check = orthanc["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and "| curl --fail " in check[1]
    assert "--config - http://localhost:8042/system" in check[1]  # HttpPort is left at 8042
    for password in (env_file()["ORTHANC_ADMIN_PASSWORD"], env_file()["MSSQL_SA_PASSWORD"]):
        assert password not in check[1] and password not in sql_check
    # The DICOM ports on the address DICOM_BIND names, this host's loopback by default.
    assert orthanc["ports"][:2] == ["127.0.0.1:4242:4242", "127.0.0.1:4243:4243"]  # DicomPort is left at 4242
    lan = compose({**env_file(), "DICOM_BIND": "192.0.2.5"})["services"]["orthanc"]["ports"]
    assert lan[:2] == ["192.0.2.5:4242:4242", "192.0.2.5:4243:4243"]


def test_every_compose_variable_is_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert used == set(env_file()), "docker/.env.example lists exactly the variables compose needs"
    with pytest.raises(KeyError, match="MSSQL_SA_PASSWORD"):
        compose({})  # a missing password stops compose with a message


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """docker-compose (Debian's package) validates the file against the Compose schema."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh --dev installs Debian's)")
    clean = {k: v for k, v in os.environ.items() if k not in env_file()}  # only the env file counts
    base = [tool, "--project-directory", str(COMPOSE.parent), "-f", str(COMPOSE)]

    def config(env: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, "--env-file", str(env), "config", "--quiet"], capture_output=True, text=True, env=clean
        )

    done = config(ENV_EXAMPLE)
    assert done.returncode == 0, done.stderr
    (tmp_path / "empty.env").write_text("")
    missing = config(tmp_path / "empty.env")
    assert missing.returncode != 0 and "set it in docker/.env" in missing.stderr


# -- T-SQL of the SQL Server scripts and docs --------------------------------------------------------

#: Statements sqlglot cannot parse (it keeps them as an opaque Command): each must match its documented form.
TSQL_COMMANDS = [
    re.compile(
        r"CREATE LOGIN \[[\w\\-]+\] (WITH PASSWORD = N'[^']+'|FROM WINDOWS)"
        r"(,? ?(WITH )?(CHECK_POLICY = (ON|OFF)|CHECK_EXPIRATION = (ON|OFF)|DEFAULT_DATABASE = \[\w+\]))*"
    ),
    re.compile(r"CREATE USER \[[\w\\-]+\] FOR LOGIN \[[\w\\-]+\]"),
    re.compile(r"CREATE SCHEMA \w+ AUTHORIZATION dbo"),
]


def parse_tsql(batch: str) -> list[exp.Expression]:
    """Parse one batch strictly; statements sqlglot only keeps as Command must be known forms."""
    statements = [s for s in sqlglot.parse(batch, read="tsql", error_level=sqlglot.ErrorLevel.RAISE) if s]
    assert statements, batch
    if any(isinstance(statement, exp.Command) for statement in statements):
        assert len(statements) == 1, f"a statement sqlglot cannot parse goes in a batch of its own: {batch}"
        assert any(form.fullmatch(" ".join(batch.split()).rstrip(";")) for form in TSQL_COMMANDS), batch
    return statements


def test_tsql_check_can_fail() -> None:
    with pytest.raises(sqlglot.errors.ParseError):
        parse_tsql("SELECT a FROM WHERE")
    with pytest.raises(AssertionError):
        parse_tsql("ALTER ROLE db_owner ADD MEMBER vetmwl_reader")  # an unknown Command


SAMPLE_LOGIN = {
    "Database": "ImpromedData",
    "View": "vetmwl.worklist",
    "Login": "vetmwl_reader",
    "Password": "p@ss w0rd",
}


def test_readonly_login_script_grants_select_on_the_view_only() -> None:
    text = (REPO / "sql" / "mssql" / "readonly-login.sql").read_text()
    batches = init_demo_db.sqlcmd_batches(text, SAMPLE_LOGIN)
    assert batches == [
        "USE [master];",
        "CREATE LOGIN [vetmwl_reader] WITH PASSWORD = N'p@ss w0rd', CHECK_POLICY = ON, CHECK_EXPIRATION = OFF,\n"
        "    DEFAULT_DATABASE = [ImpromedData];",
        "USE [ImpromedData];",
        "CREATE USER [vetmwl_reader] FOR LOGIN [vetmwl_reader];",
        "GRANT SELECT ON vetmwl.worklist TO [vetmwl_reader];",
    ]
    parsed = [parse_tsql(batch)[0] for batch in batches]
    grants = [s for s in parsed if isinstance(s, exp.Grant)]
    assert len(grants) == 1
    assert [p.sql() for p in grants[0].args["privileges"]] == ["SELECT"]
    assert grants[0].args["securable"].sql() == "vetmwl.worklist"
    sql = "\n".join(batches)
    assert not re.search(r"\b(ALTER ROLE|sp_addrolemember|db_datareader|db_owner|INSERT|UPDATE|DELETE)\b", sql)


def test_sqlcmd_variables_must_all_be_given() -> None:
    with pytest.raises(KeyError, match="Password"):
        init_demo_db.sqlcmd_batches("CREATE LOGIN [$(Login)] WITH PASSWORD = N'$(Password)'\nGO\n", {"Login": "x"})
    assert init_demo_db.sqlcmd_batches("-- $(Unused) in a comment\nSELECT 1\ngo\nSELECT 2", {}) == [
        "SELECT 1",
        "SELECT 2",
    ]


@pytest.mark.parametrize(
    ("database", "view", "login", "password"),
    [
        ("db; DROP", "dbo.v", "r", "p"),
        ("db", "v]; DROP", "r", "p"),
        ("db", "dbo.v", "r]", "p"),
        ("db", "dbo.v", "r", "it's"),
        ("db", "dbo.v", "r", ""),
    ],
)
def test_init_refuses_values_that_would_change_the_sql(database: str, view: str, login: str, password: str) -> None:
    with pytest.raises(ValueError):
        init_demo_db.login_variables(database, view, login, password)


def test_init_statements_parse() -> None:
    (create,) = parse_tsql(init_demo_db.create_database_sql("vetpms"))
    assert isinstance(create, exp.IfBlock)
    (view,) = parse_tsql(init_demo_db.view_sql("dbo.vet_worklist"))
    assert isinstance(view, exp.Create) and view.kind == "VIEW"
    assert [c.alias_or_name for c in view.expression.expressions] == list(reference_columns())


# sql/mssql/impromed-view.sql has tests of its own: tests/unit/test_impromed_view.py.


def sql_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", markdown.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize("doc", ["impromed.md", "sqlserver.md"])
def test_sql_in_the_docs_parses_as_tsql(doc: str) -> None:
    blocks = sql_blocks(REPO / "docs" / doc)
    assert len(blocks) >= 3
    for block in blocks:
        for batch in init_demo_db.sqlcmd_batches(block, {}):
            parse_tsql(batch)


def test_impromed_doc_explores_with_information_schema() -> None:
    blocks = " ".join(sql_blocks(REPO / "docs" / "impromed.md"))
    for view in ("TABLES", "COLUMNS", "VIEWS", "REFERENTIAL_CONSTRAINTS", "KEY_COLUMN_USAGE", "TABLE_CONSTRAINTS"):
        assert f"INFORMATION_SCHEMA.{view}" in blocks, view


# The documented connection strings are tried with FreeTDS in tests/unit/test_sqlserver.py.


def test_init_reads_the_reader_password_from_the_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "worklist_reader_password"
    secret.write_text("Reader-pw-2026!\n")
    both = {"VETMWL_READER_PASSWORD_FILE": str(secret), "VETMWL_READER_PASSWORD": "ignored"}
    assert init_demo_db.reader_password(both) == "Reader-pw-2026!"
    assert init_demo_db.reader_password({"VETMWL_READER_PASSWORD": "from-env"}) == "from-env"
