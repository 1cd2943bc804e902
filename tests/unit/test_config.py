"""Settings: good configurations load with defaults, bad ones fail with a message saying what to fix."""

from __future__ import annotations

import re
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest

from support.tls import make_pki
from vetmwl.config import _KEYS, ConfigError, load_settings, mask_secrets, orthanc_warnings, sql_dir

CONNECTION = "Driver=SQLite3;Database=/tmp/w.sqlite"


def configuration(**section: Any) -> dict[str, Any]:
    return {"SqlWorklist": {"ConnectionString": CONNECTION, "Dialect": "sqlite", **section}}


def test_minimal_section_gets_the_defaults() -> None:
    settings = load_settings(configuration())
    assert settings.connection_string == CONNECTION
    assert settings.dialect == "sqlite"
    assert settings.view == "worklist"
    assert settings.template == "worklist.sql.j2"
    assert settings.template_dir == sql_dir() / "queries"
    assert (settings.template_dir / settings.template).is_file()
    assert (settings.query_timeout, settings.connect_timeout, settings.limit_answers) == (5, 5, 500)


def site_templates(folder: Path) -> Path:
    """A site's own template folder: a copy of the plugin's sql/queries, with its own template."""
    shutil.copytree(sql_dir() / "queries", folder, dirs_exist_ok=True)
    (folder / "mine.sql.j2").write_text("SELECT 1")
    return folder


def test_every_setting_is_read(tmp_path: Path) -> None:
    site_templates(tmp_path)
    settings = load_settings(
        configuration(
            Dialect="mssql",
            View="dbo.worklist",
            Template="mine.sql.j2",
            TemplateDirectory=str(tmp_path),
            QueryTimeout=30,
            ConnectTimeout=2,
            LimitAnswers=100_000,
        )
    )
    assert settings.dialect == "mssql"
    assert settings.view == "dbo.worklist"
    assert settings.template == "mine.sql.j2"
    assert settings.template_dir == tmp_path
    assert (settings.query_timeout, settings.connect_timeout, settings.limit_answers) == (30, 2, 100_000)


@pytest.mark.parametrize("view", ["worklist", "dbo.worklist", "clinic.dbo.v_worklist", "_w1"])
def test_valid_view_names(view: str) -> None:
    assert load_settings(configuration(View=view)).view == view


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, 'no "SqlWorklist" section'),
        ({"SqlWorklist": "Driver=SQLite3"}, 'no "SqlWorklist" section'),
        ({"SqlWorklist": {"Dialect": "sqlite"}}, "ConnectionString"),
        (configuration(ConnectionString="  "), "ConnectionString"),
        (configuration(ConnectionString=42), "ConnectionString"),
        (configuration(Dialect="oracle"), "Dialect"),
        (configuration(Dialect="SQLite"), "Dialect"),
        ({"SqlWorklist": {"ConnectionString": CONNECTION}}, "Dialect"),
        (configuration(View="w; DROP TABLE w"), "View"),
        (configuration(View="a.b.c.d"), "View"),
        (configuration(View="1worklist"), "View"),
        (configuration(View='"worklist"'), "View"),
        (configuration(View=""), "View"),
        (configuration(Veiw="worklist"), 'unknown setting(s) in "SqlWorklist": Veiw'),
        (configuration(QueryTimeout=0), "QueryTimeout"),
        (configuration(QueryTimeout="five"), "QueryTimeout"),
        (configuration(QueryTimeout=True), "QueryTimeout"),
        (configuration(QueryTimeout=5.5), "QueryTimeout"),
        (configuration(QueryTimeout=301), "QueryTimeout"),
        (configuration(ConnectTimeout=-1), "ConnectTimeout"),
        (configuration(LimitAnswers=0), "LimitAnswers"),
        (configuration(LimitAnswers=100_001), "LimitAnswers"),
        (configuration(Template="missing.sql.j2"), "Template"),
        (configuration(TemplateDirectory="/nonexistent"), "Template"),
    ],
)
def test_bad_configurations_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert message in str(error.value)


def test_summary_masks_the_password() -> None:
    settings = load_settings(configuration(ConnectionString="Driver=FreeTDS;Server=db;UID=sa;PWD=s3cret"))
    summary = settings.summary()
    assert "s3cret" not in summary
    assert "PWD=***" in summary
    assert "dialect=sqlite" in summary


@pytest.mark.parametrize(
    ("connection", "secret", "masked"),
    [
        ("Driver=FreeTDS;Server=db;UID=sa;PWD=s3cret;Port=1433", "s3cret", "UID=sa;PWD=***;Port=1433"),
        ("Driver=X;pwd = s3cret", "s3cret", "pwd=***"),
        ("Driver=X;Password={se;cr=et};Port=5432", "cr=et", "Password=***;Port=5432"),
        ("Driver=X;PASSWORD=s3cret", "s3cret", "PASSWORD=***"),
        ("Driver=X;UID=u;Password={a}}b;c}", "b;c", "Password=***"),  # ODBC escapes } in braces as }}
        ("Driver={PostgreSQL Unicode};sslpassword=k3y-pass;sslmode=verify-full", "k3y-pass", "sslpassword=***"),
        ("Driver={ODBC Driver 18 for SQL Server};AccessToken=eyJhbGci;Encrypt=yes", "eyJhbGci", "AccessToken=***"),
        ("Driver=X;Token=t0k3n", "t0k3n", "Token=***"),
        ("Driver=X;ClientSecret=c1i3nt;Uid=u", "c1i3nt", "ClientSecret=***"),
        ("Driver=X;KeyStoreSecret=ks3cr;KeyStoreAuthentication=KeyVaultClientSecret", "ks3cr", "KeyStoreSecret=***"),
        ("Driver=X;sslkey=/etc/k.pem;Credentials=cr3d", "cr3d", "Credentials=***"),
        ("Driver=X;Passwd=pw2", "pw2", "Passwd=***"),
    ],
)
def test_mask_secrets(connection: str, secret: str, masked: str) -> None:
    result = mask_secrets(connection)
    assert secret not in result
    assert masked in result


def test_mask_secrets_leaves_other_strings_alone() -> None:
    assert mask_secrets(CONNECTION) == CONNECTION
    plain = "Driver={PostgreSQL Unicode};Server=db;Database=worklist;Uid=vet;sslmode=require"
    assert mask_secrets(plain) == plain


def test_summary_masks_every_secret_looking_key_of_both_connections() -> None:
    settings = load_settings(
        configuration(
            ConnectionString="Driver=X;Uid=u;sslpassword=w0rk-ssl;AccessToken=w0rk-tok",
            StateStore={"ConnectionString": "Driver=Y;Pwd=st0re-pw;ClientSecret=st0re-sec", "Dialect": "postgresql"},
            StudyArrival={"Event": "NewStudy"},
        )
    )
    summary = settings.summary()
    for secret in ("w0rk-ssl", "w0rk-tok", "st0re-pw", "st0re-sec"):
        assert secret not in summary
    assert "sslpassword=***" in summary and "ClientSecret=***" in summary


def test_a_password_file_still_conflicts_only_with_a_password(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("pw\n")
    settings = load_settings(configuration(ConnectionString="Driver=X;sslkey=/k.pem", PasswordFile=str(secret)))
    assert settings.connection_string.endswith("PWD={pw};")
    with pytest.raises(ConfigError, match="conflict"):
        load_settings(configuration(ConnectionString="Driver=X;Password=a", PasswordFile=str(secret)))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("View", "worklist\n"),
        ("Statuses", ["SCHEDULED\n"]),
        ("Modalities", {"DX_ROOM1\n": {}}),
        ("ModalityAliases", {"DX\n": ["DX\n"]}),
        ("Mpps", {"AET": "MPPS\n"}),
    ],
)
def test_a_trailing_newline_is_not_a_valid_value(key: str, value: Any) -> None:
    """``$`` matches before a final newline; settings are checked whole (``fullmatch``)."""
    with pytest.raises(ConfigError, match=key):
        load_settings(configuration(**{key: value}))


GOOD_ORTHANC = {"DicomAlwaysAllowFindWorklist": True, "DefaultEncoding": "Utf8", **configuration()}


def test_no_warnings_for_a_good_orthanc_configuration() -> None:
    assert orthanc_warnings(GOOD_ORTHANC) == []


def test_modality_permission_is_enough() -> None:
    config = {
        **GOOD_ORTHANC,
        "DicomAlwaysAllowFindWorklist": False,
        "DicomModalities": {"xray": {"AET": "DX", "Host": "h", "Port": 104, "AllowFindWorklist": True}},
    }
    assert orthanc_warnings(config) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"Worklists": {"Enable": True}}, '"Worklists" section'),
        ({"DicomAlwaysAllowFindWorklist": False}, "refuse every worklist query"),
        (
            {"DicomAlwaysAllowFindWorklist": False, "DicomModalities": {"xray": ["DX", "h", 104]}},
            "refuse every worklist query",
        ),
        ({"DefaultEncoding": "Latin1"}, '"DefaultEncoding" is not "Utf8"'),
    ],
)
def test_orthanc_warnings(change: dict[str, Any], words: str) -> None:
    warnings = orthanc_warnings({**GOOD_ORTHANC, **change})
    assert len(warnings) == 1
    assert words in warnings[0]


def test_orthanc_defaults_warn_about_permission_and_encoding() -> None:
    """Orthanc's own defaults (no permission, Latin1) would break the worklist: say both."""
    warnings = orthanc_warnings(configuration())
    assert len(warnings) == 2


def _section(**keys: object) -> dict:
    return {"SqlWorklist": {"Dialect": "postgresql", **keys}}


def test_connection_string_takes_secrets_from_the_environment() -> None:
    settings = load_settings(
        _section(ConnectionString="Driver={PostgreSQL Unicode};Uid=${DB_USER};Pwd=${DB_PASSWORD};"),
        environ={"DB_USER": "worklist", "DB_PASSWORD": "s3cret"},
    )
    assert settings.connection_string == "Driver={PostgreSQL Unicode};Uid=worklist;Pwd=s3cret;"
    assert "s3cret" not in settings.summary()


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"uses \$\{DB_PASSWORD\}, but Orthanc's environment has no DB_PASSWORD"):
        load_settings(_section(ConnectionString="Driver=X;Pwd=${DB_PASSWORD}"), environ={})


def test_password_file_is_read_and_braced(tmp_path) -> None:
    secret = tmp_path / "password"
    secret.write_text("p;a}ss\n")
    settings = load_settings(_section(ConnectionString="Driver=X;Uid=u", PasswordFile=str(secret)), environ={})
    assert settings.connection_string == "Driver=X;Uid=u;PWD={p;a}}ss};"
    assert "p;a" not in settings.summary() and "PWD=***" in settings.summary()


def test_password_file_conflicts_with_a_password_in_the_connection_string(tmp_path) -> None:
    secret = tmp_path / "password"
    secret.write_text("x")
    with pytest.raises(ConfigError, match="conflict"):
        load_settings(_section(ConnectionString="Driver=X;Pwd=y", PasswordFile=str(secret)), environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(_section(ConnectionString="Driver=X", PasswordFile=str(tmp_path / "nope")), environ={})


def test_the_state_store_reads_its_password_file_too(tmp_path) -> None:
    secret = tmp_path / "store-password"
    secret.write_text("s3cret\n")
    store = {"ConnectionString": "Driver={PostgreSQL Unicode};Uid=steps", "Dialect": "postgresql"}
    settings = load_settings(configuration(StateStore={**store, "PasswordFile": str(secret)}))
    assert settings.progress.connection_string == "Driver={PostgreSQL Unicode};Uid=steps;PWD={s3cret};"
    with pytest.raises(ConfigError, match=r'"SqlWorklist\.StateStore\.PasswordFile": cannot read'):
        load_settings(configuration(StateStore={**store, "PasswordFile": str(tmp_path / "nope")}))


# -- per-modality options ------------------------------------------------------------------------


def test_options_default_to_utf8_no_restriction_no_aliases_and_three_statuses() -> None:
    settings = load_settings(configuration())
    for aet in (None, "DX_ROOM1", "ANY"):
        options = settings.options_for(aet)
        assert options.character_set == "ISO_IR 192"
        assert options.restrict_to_own_station is False
        assert options.modality_aliases == ()
        assert options.statuses == ("SCHEDULED", "ARRIVED", "READY")


def test_section_defaults_and_per_ae_entries_inherit_and_override() -> None:
    settings = load_settings(
        configuration(
            Statuses=["SCHEDULED", "ARRIVED", "READY", "STARTED"],
            RestrictToOwnStation=True,
            Modalities={
                "CR_ROOM2": {"CharacterSet": "ISO_IR 100", "ModalityAliases": {"DX": ["DX", "CR"]}},
                " US_ROOM1 ": {"RestrictToOwnStation": False, "Statuses": ["SCHEDULED"]},
            },
        )
    )
    cr = settings.options_for("CR_ROOM2")
    assert cr.character_set == "ISO_IR 100"
    assert cr.aliases_of("DX") == ("DX", "CR") and cr.aliases_of("CR") is None
    assert cr.restrict_to_own_station is True  # inherited from the section
    assert cr.statuses == ("SCHEDULED", "ARRIVED", "READY", "STARTED")
    us = settings.options_for("US_ROOM1  ")  # AE titles compare without surrounding spaces
    assert (us.restrict_to_own_station, us.statuses, us.character_set) == (False, ("SCHEDULED",), "ISO_IR 192")
    other = settings.options_for("CT_SUITE")
    assert other == settings.defaults and other.restrict_to_own_station is True
    assert "CR_ROOM2: charset='ISO_IR 100'" in settings.summary()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"CharacterSet": "ISO_IR 6"}, '"SqlWorklist.CharacterSet" must be "ISO_IR 192"'),
        ({"CharacterSet": "UTF-8"}, "CharacterSet"),
        ({"RestrictToOwnStation": "yes"}, "RestrictToOwnStation"),
        ({"Statuses": []}, "Statuses"),
        ({"Statuses": "SCHEDULED"}, "Statuses"),
        ({"Statuses": ["scheduled"]}, "Statuses"),
        ({"Statuses": ["SCHEDULED", "SCHEDULED"]}, "names a value twice"),
        ({"ModalityAliases": ["DX", "CR"]}, "ModalityAliases"),
        ({"ModalityAliases": {"DX": ["CR"]}}, "must include DX itself"),
        ({"ModalityAliases": {"DX": []}}, "ModalityAliases.DX"),
        ({"ModalityAliases": {"dx": ["dx"]}}, "is not a modality code"),
        ({"Modalities": ["CR_ROOM2"]}, "Modalities"),
        (
            {"Modalities": {"CR_ROOM2": {"Charset": "ISO_IR 100"}}},
            'unknown setting(s) in "SqlWorklist.Modalities.CR_ROOM2"',
        ),
        ({"Modalities": {"CR_ROOM2": "ISO_IR 100"}}, "must be an object"),
        ({"Modalities": {"A" * 17: {}}}, "is not an AE title"),
        ({"Modalities": {"   ": {}}}, "is not an AE title"),
        ({"Modalities": {"A\\B": {}}}, "is not an AE title"),
        ({"Modalities": {"CR_ROOM2": {}, "CR_ROOM2 ": {}}}, "twice"),
        ({"Modalities": {"CR_ROOM2": {"CharacterSet": "ISO_IR 101"}}}, "SqlWorklist.Modalities.CR_ROOM2.CharacterSet"),
        ({"Modalities": {"CR_ROOM2": {"ModalityAliases": {"CR": ["DX"]}}}}, "must include CR itself"),
    ],
)
def test_conflicting_or_bad_options_are_refused(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(configuration(**section))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("encoding", "section", "words"),
    [
        # Orthanc re-encodes answers in its DefaultEncoding (verified: see docs/character-sets.md).
        ("Utf8", {"Modalities": {"OLD_CR": {"CharacterSet": "ISO_IR 100"}}}, "OLD_CR, but"),
        ("Utf8", {"CharacterSet": "ISO_IR 100"}, "all other AEs"),
        ("Latin1", {"CharacterSet": "ISO_IR 100", "Modalities": {"NEW_US": {"CharacterSet": "ISO_IR 192"}}}, "NEW_US"),
        ("Latin1", {}, '"DefaultEncoding" is not "Utf8"'),
    ],
)
def test_character_sets_that_orthanc_would_undo_are_warned_about(
    encoding: str, section: dict[str, Any], words: str
) -> None:
    warnings = orthanc_warnings({**GOOD_ORTHANC, **configuration(**section), "DefaultEncoding": encoding})
    assert len(warnings) == 1
    assert words in warnings[0]


def test_a_latin1_clinic_is_not_warned() -> None:
    """DefaultEncoding Latin1 with Latin-1 answers (transliterated) is the setup for Latin-1 devices."""
    config = {**GOOD_ORTHANC, **configuration(CharacterSet="ISO_IR 100"), "DefaultEncoding": "Latin1"}
    assert orthanc_warnings(config) == []


# -- MPPS, arrived studies and the state store -------------------------------------------------------
def test_mpps_and_study_arrival_are_off_by_default() -> None:
    settings = load_settings(configuration())
    assert not settings.mpps.enable and settings.progress.study_event == "Off"
    assert not settings.tracks_steps
    assert "mpps=off" in settings.summary() and "study_event" not in settings.summary()


def test_mpps_takes_orthancs_aet_and_the_store_lies_in_orthancs_storage() -> None:
    settings = load_settings(
        {
            **configuration(Mpps={"Enable": True, "AllowedAETs": "*"}),
            "DicomAet": "CLINIC",
            "StorageDirectory": "/var/lib/orthanc/db",
        }
    )
    assert (settings.mpps.port, settings.mpps.aet, settings.mpps.allowed_aets) == (4243, "CLINIC", ())
    assert settings.mpps.any_aet and settings.mpps.allows("ANYONE")
    assert settings.progress.sqlite_path == Path("/var/lib/orthanc/db/vetmwl-progress.sqlite")
    assert settings.progress.connection_string == "" and settings.tracks_steps
    assert "mpps=on listen=0.0.0.0:4243 aet='CLINIC' allowed=any (*)" in settings.summary()
    assert "max_associations=32 per_host=8 timeouts(acse/dimse/network)=30/30/30s" in settings.summary()
    assert "max_pdu=16384 max_message=4194304 tls=off" in settings.summary()


@pytest.mark.parametrize("allowed", [None, []], ids=["absent", "empty"])
def test_mpps_on_needs_allowed_aets_said_on_purpose(allowed: list[str] | None) -> None:
    mpps: dict[str, Any] = {"Enable": True}
    if allowed is not None:
        mpps["AllowedAETs"] = allowed
    with pytest.raises(ConfigError, match=r'"SqlWorklist.Mpps.AllowedAETs" must be set when .*"\*"'):
        load_settings(configuration(Mpps=mpps))
    assert not load_settings(configuration(Mpps={"AllowedAETs": allowed or []})).mpps.enable  # off: no need


def test_every_mpps_limit_is_read_and_the_modalities_hosts_are_orthancs() -> None:
    mpps = {
        "Enable": True,
        "AllowedAETs": ["DX_ROOM1", "US_ROOM1"],
        "ListenAddress": "127.0.0.1",
        "NSetFromOtherAETs": True,
        "MaxAssociations": 4,
        "MaxAssociationsPerHost": 2,
        "AcseTimeout": 5,
        "DimseTimeout": 6,
        "NetworkTimeout": 7,
        "MaxPduSize": 32768,
        "MaxMessageSize": 1048576,
    }
    settings = load_settings(
        {
            **configuration(Mpps=mpps),
            "DicomModalities": {
                "xray": ["DX_ROOM1", "192.0.2.10", 104],
                "xray-backup": {"AET": "DX_ROOM1", "Host": "xray.clinic.example", "Port": 104},
                "us": {"AET": "us_room1", "Host": "192.0.2.11", "Port": 104, "AllowFindWorklist": True},
                "broken": {"AET": "X"},
            },
        }
    ).mpps
    assert (settings.listen_address, settings.n_set_from_other_aets) == ("127.0.0.1", True)
    assert (settings.max_associations, settings.max_associations_per_host) == (4, 2)
    assert (settings.acse_timeout, settings.dimse_timeout, settings.network_timeout) == (5, 6, 7)
    assert (settings.max_pdu_size, settings.max_message_size, settings.tls) == (32768, 1048576, None)
    assert settings.hosts_of("DX_ROOM1") == ("192.0.2.10", "xray.clinic.example")
    assert settings.hosts_of("US_ROOM1") == ("192.0.2.11",)  # Orthanc compares AE titles case-blind by default
    assert settings.hosts_of("CT_ROOM") is None and settings.hosts_of("X") is None
    assert not settings.allows("CT_ROOM") and settings.allows("US_ROOM1")
    strict = load_settings({**configuration(Mpps=mpps), "StrictAetComparison": True, "DicomModalities": {
        "us": ["us_room1", "192.0.2.11", 104]}}).mpps  # fmt: skip
    assert strict.hosts_of("US_ROOM1") is None and strict.hosts_of("us_room1") == ("192.0.2.11",)


@pytest.mark.parametrize(
    ("mpps", "message"),
    [
        ({"ListenAddress": "localhost"}, '"SqlWorklist.Mpps.ListenAddress" must be an IP address'),
        ({"ListenAddress": 127}, '"SqlWorklist.Mpps.ListenAddress" must be an IP address'),
        ({"NSetFromOtherAETs": "yes"}, '"SqlWorklist.Mpps.NSetFromOtherAETs" must be true or false'),
        ({"MaxAssociations": 0}, '"SqlWorklist.Mpps.MaxAssociations" must be a whole number from 1 to 1000'),
        ({"MaxAssociations": 4, "MaxAssociationsPerHost": 5}, '"SqlWorklist.Mpps.MaxAssociationsPerHost" must be'),
        ({"AcseTimeout": 0}, '"SqlWorklist.Mpps.AcseTimeout" must be a whole number from 1 to 3600'),
        ({"DimseTimeout": True}, '"SqlWorklist.Mpps.DimseTimeout" must be'),
        ({"NetworkTimeout": "30"}, '"SqlWorklist.Mpps.NetworkTimeout" must be'),
        ({"MaxPduSize": 0}, '"SqlWorklist.Mpps.MaxPduSize" must be a whole number from 4096 to 131072'),
        ({"MaxMessageSize": 2**40}, '"SqlWorklist.Mpps.MaxMessageSize" must be a whole number from 65536'),
    ],
)
def test_bad_mpps_limits_are_refused(mpps: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(configuration(Mpps={"Enable": True, "AllowedAETs": ["DX_ROOM1"], **mpps}))
    assert message in str(error.value)


def test_dicom_tls_of_orthanc_covers_the_mpps_port(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    mpps = {"Enable": True, "AllowedAETs": ["DX_ROOM1"]}
    tls = load_settings({**configuration(Mpps=mpps), **pki.orthanc()}).mpps.tls
    assert tls is not None and (tls.certificate, tls.trusted_certificates) == (str(pki.server_certificate), str(pki.ca))
    assert tls.context().verify_mode == ssl.CERT_REQUIRED
    assert tls.context().minimum_version == ssl.TLSVersion.TLSv1_2
    loose = {**pki.orthanc(required=False), "DicomTlsMinimumProtocolVersion": 5}
    del loose["DicomTlsTrustedCertificates"]
    tls = load_settings({**configuration(Mpps=mpps), **loose}).mpps.tls
    assert tls is not None and tls.context().verify_mode == ssl.CERT_NONE
    assert tls.context().minimum_version == ssl.TLSVersion.TLSv1_3
    assert load_settings({**configuration(Mpps={**mpps, "Enable": False}), **pki.orthanc()}).mpps.tls is None


def test_dicom_tls_mistakes_name_orthancs_keys(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    mpps = configuration(Mpps={"Enable": True, "AllowedAETs": ["DX_ROOM1"]})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"DicomTlsTrustedCertificates": ""}, '"DicomTlsTrustedCertificates" is not set'),
        ({"DicomTlsCertificate": None}, '"DicomTlsCertificate" is not set'),
        ({"DicomTlsPrivateKey": str(tmp_path / "missing.key")}, "missing.key"),
        ({"DicomTlsPrivateKey": str(pki.stranger_key)}, '"DicomTlsPrivateKey"'),  # not the certificate's key
        ({"DicomTlsRemoteCertificateRequired": "yes"}, '"DicomTlsRemoteCertificateRequired" must be true or false'),
        ({"DicomTlsMinimumProtocolVersion": 2}, '"DicomTlsMinimumProtocolVersion" is 2'),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError) as error:
            load_settings({**mpps, **pki.orthanc(), **change})
        assert message in str(error.value), change


def test_every_progress_setting_is_read() -> None:
    settings = load_settings(
        configuration(
            Mpps={"Enable": True, "Port": 11112, "AET": "MPPS_SCP", "AllowedAETs": ["DX_ROOM1", "US_ROOM1 "]},
            StudyArrival={"Event": "StableStudy", "MatchOn": ["AccessionNumber"]},
            StateStore={"ConnectionString": "Driver={PostgreSQL Unicode};Pwd=secret;", "Dialect": "postgresql"},
        )
    )
    assert settings.mpps.allowed_aets == ("DX_ROOM1", "US_ROOM1")
    assert (settings.mpps.port, settings.mpps.aet) == (11112, "MPPS_SCP")
    assert (settings.progress.study_event, settings.progress.match_on) == ("StableStudy", ("AccessionNumber",))
    assert (settings.progress.dialect, settings.progress.connection_string.endswith("Pwd=secret;")) == (
        "postgresql",
        True,
    )
    assert "secret" not in settings.summary() and "study_event=StableStudy" in settings.summary()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"Mpps": True}, '"SqlWorklist.Mpps" must be an object'),
        ({"Mpps": {"Enabled": True}}, 'unknown setting(s) in "SqlWorklist.Mpps"'),
        ({"Mpps": {"Enable": "yes"}}, '"SqlWorklist.Mpps.Enable" must be true or false'),
        ({"Mpps": {"Port": 0}}, '"SqlWorklist.Mpps.Port" must be a TCP port'),
        ({"Mpps": {"Enable": True, "Port": 4242}}, 'which Orthanc\'s "DicomPort" already uses'),
        ({"Mpps": {"Enable": True, "Port": 8042}}, 'which Orthanc\'s "HttpPort" already uses'),
        ({"Mpps": {"AET": "A" * 17}}, '"SqlWorklist.Mpps.AET" must be an AE title'),
        ({"Mpps": {"AllowedAETs": "DX_ROOM1"}}, '"SqlWorklist.Mpps.AllowedAETs" must be "*" (any) or a list'),
        ({"StudyArrival": {"Event": "Stable"}}, '"SqlWorklist.StudyArrival.Event" must be one of Off'),
        ({"StudyArrival": {"Event": ["StableStudy"]}}, '"SqlWorklist.StudyArrival.Event" must be one of Off'),
        ({"StudyArrival": {"MatchOn": ["PatientID"]}}, '"SqlWorklist.StudyArrival.MatchOn" must be'),
        ({"StudyArrival": {"MatchOn": []}}, '"SqlWorklist.StudyArrival.MatchOn" must be'),
        ({"StateStore": {"Dialect": "postgresql"}}, 'is set without a "ConnectionString"'),
        ({"StateStore": {"ConnectionString": "Driver=x"}}, '"SqlWorklist.StateStore.Dialect" must be one of'),
        ({"StateStore": {"ConnectionString": "Pwd=${NOPE}", "Dialect": "mssql"}}, "SqlWorklist.StateStore.Connection"),
    ],
)
def test_bad_progress_settings_are_refused(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(configuration(**section), environ={})
    assert message in str(error.value)


def test_mpps_port_may_equal_orthancs_when_mpps_is_off() -> None:
    assert load_settings(configuration(Mpps={"Port": 4242})).mpps.port == 4242


def test_readme_settings_table_names_every_key() -> None:
    """The README's table of settings is one Markdown table (no row cut off) and lists every key read."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Settings (`SqlWorklist` section of `orthanc.json`)", 1)[1]
    lines = section.strip().splitlines()
    table = lines[: next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    assert table[1].startswith("|---")
    named = {key for row in table[2:] for key in re.findall(r"`([A-Za-z]+)`", row.split("|")[1])}
    assert set(_KEYS) <= named, sorted(set(_KEYS) - named)
    assert not any(line.startswith("| `") for line in lines[len(table) :]), "a settings row outside the table"


#: Values of every JSON type, right or wrong for one setting or another.
ANY_VALUES = [None, 5, -1, 1.5, True, "x", "", "  ", ["x"], [5], [], {}, {"a": 1}, [["x"]]]
#: Every setting, as the path below "SqlWorklist"; a subsection's keys after its name.
SETTING_PATHS = [
    *(key for key in _KEYS if key not in ("Mpps", "StudyArrival", "StateStore")),
    "Mpps",
    "StudyArrival",
    "StateStore",
    *(f"StudyArrival.{key}" for key in ("Event", "MatchOn", "KnownSendersOnly")),
    *(f"StateStore.{key}" for key in ("ConnectionString", "PasswordFile", "Dialect", "RetentionDays")),
    *(f"Modalities.DX_ROOM1.{key}" for key in ("CharacterSet", "RestrictToOwnStation", "ModalityAliases", "Statuses")),
    "ModalityAliases.DX",
]


def with_setting(path: str, value: Any) -> dict[str, Any]:
    """A good configuration with the setting at ``path`` set to ``value`` (its section made if needed)."""
    config = configuration(StudyArrival={"Event": "NewStudy"}) if path.startswith("StateStore") else configuration()
    parent = config["SqlWorklist"]
    *sections, key = path.split(".")
    for name in sections:
        parent = parent.setdefault(name, {})
        if name == "StateStore" and key != "ConnectionString":
            parent.setdefault("ConnectionString", "Driver=X")
            parent.setdefault("Dialect", "postgresql")
    parent[key] = value
    return config


@pytest.mark.parametrize("path", SETTING_PATHS)
def test_every_wrong_value_of_every_setting_is_a_sentence_naming_it(path: str) -> None:
    """Whatever JSON a setting holds, loading either works or raises ConfigError naming the
    setting (a subsection's key: that subsection), never another exception."""
    named = "SqlWorklist." + (path if path.count(".") == 0 or path.startswith("Modalities") else path.split(".")[0])
    named = named.removesuffix(".DX") if path == "ModalityAliases.DX" else named
    refused = 0
    for value in ANY_VALUES:
        try:
            load_settings(with_setting(path, value))
        except ConfigError as error:
            refused += 1
            assert named.split(".DX_ROOM1")[0] in str(error), (value, str(error))
            assert "\n" not in str(error)
    assert refused >= len(ANY_VALUES) // 3  # not everything passes: the values are checked


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (configuration(TemplateDirectory=5), '"SqlWorklist.TemplateDirectory" must be the path of a folder'),
        (configuration(TemplateDirectory=["/tmp"]), '"SqlWorklist.TemplateDirectory" must be the path of a folder'),
        (
            configuration(TemplateDirectory="/nonexistent"),
            '"SqlWorklist.TemplateDirectory" (/nonexistent) is not a folder',
        ),
        (configuration(Template="../queries/worklist.sql.j2"), '"SqlWorklist.Template" must be the file name'),
        (configuration(CharacterSet=["ISO_IR 192"]), '"SqlWorklist.CharacterSet" must be'),
        (configuration(Modalities={"DX": {"CharacterSet": {"a": 1}}}), '"SqlWorklist.Modalities.DX.CharacterSet"'),
        (configuration(ConnectionString=["Driver=X"]), '"SqlWorklist.ConnectionString" must be the ODBC connection'),
        (configuration(PasswordFile=5), '"SqlWorklist.PasswordFile" must be the path of a file'),
        (configuration(PasswordFile="/nonexistent/pw"), '"SqlWorklist.PasswordFile": cannot read'),
        (
            configuration(StateStore={"RetentionDays": 0}),
            '"SqlWorklist.StateStore.RetentionDays" must be a whole number',
        ),
        (
            configuration(StudyArrival={"KnownSendersOnly": "yes"}),
            '"SqlWorklist.StudyArrival.KnownSendersOnly" must be',
        ),
    ],
)
def test_each_mistake_says_what_to_change(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert message in str(error.value)


def test_a_password_file_that_is_not_text(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r'"SqlWorklist\.PasswordFile": .* is not UTF-8 text'):
        load_settings(configuration(PasswordFile=str(secret)))


def test_a_template_folder_without_the_other_templates(tmp_path: Path) -> None:
    (tmp_path / "worklist.sql.j2").write_text("SELECT 1")
    with pytest.raises(ConfigError) as error:
        load_settings(configuration(TemplateDirectory=str(tmp_path)))
    assert "TemplateDirectory" in str(error.value) and "lacks columns.sql.j2, probe.sql.j2, macros.sql.j2" in str(
        error.value
    )


def test_the_state_stores_templates_must_be_there_when_steps_are_tracked(tmp_path: Path) -> None:
    site_templates(tmp_path / "queries")
    (tmp_path / "progress").mkdir()
    settings = load_settings(configuration(), sql_folder=tmp_path)
    assert settings.progress.template_dir == tmp_path / "progress"
    with pytest.raises(ConfigError, match=re.escape("templates schema.sql.j2, statements.sql.j2")):
        load_settings(configuration(StudyArrival={"Event": "NewStudy"}), sql_folder=tmp_path)


def test_retention_and_known_senders_are_read() -> None:
    settings = load_settings(
        {
            "StrictAetComparison": True,
            **configuration(
                StudyArrival={"Event": "NewStudy", "KnownSendersOnly": True}, StateStore={"RetentionDays": 30}
            ),
        }
    )
    p = settings.progress
    assert (p.known_senders_only, p.strict_aet, p.retention_days) == (True, True, 30)
    assert "known_senders_only" in settings.summary() and "retention=30d" in settings.summary()
    default = load_settings(configuration()).progress
    assert (default.known_senders_only, default.strict_aet, default.retention_days) == (False, False, 365)


def test_mpps_titles_usable_from_any_address_are_warned_about() -> None:
    section = {"ConnectionString": "Driver=SQLite3;Database=x", "Dialect": "sqlite"}
    pinned = {"DicomModalities": {"xray": {"AET": "DX_ROOM1", "Host": "192.0.2.10", "Port": 104}}}
    mpps = {"Enable": True, "AllowedAETs": ["DX_ROOM1", "CR_ROOM2"]}
    settings = load_settings({**pinned, "SqlWorklist": {**section, "Mpps": mpps}})
    (warning,) = settings.mpps.from_anywhere()
    assert "CR_ROOM2" in warning and "DicomModalities" in warning
    anyone = load_settings({"SqlWorklist": {**section, "Mpps": {"Enable": True, "AllowedAETs": "*"}}})
    assert "any AE title, from any address" in anyone.mpps.from_anywhere()[0]
