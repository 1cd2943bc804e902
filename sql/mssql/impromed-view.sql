-- The worklist view over an ImproMed (Covetrus) database, ready to run: vetmwl.worklist.
--
-- Run it once in the ImproMed database (usually "Impromed"), as its owner (dbo), batch by batch in
-- SQL Server Management Studio or with sqlcmd:
--
--   sqlcmd -S HOST\IMPROMED1 -E -d Impromed -C -i sql/mssql/impromed-view.sql
--
-- It only ADDS objects in a schema of our own, vetmwl; it never changes ImproMed's tables. Running it
-- again replaces the views and keeps the site tables (CREATE OR ALTER, IF NOT EXISTS). docs/impromed.md
-- walks through it; "python -m vetmwl.tools.check" then says whether the result is ready.
--
-- What is certain and what is not (see docs/impromed.md, "Which names to confirm"):
--   * dbo.APPT_M, dbo.HD_SEX and their columns used below are CONFIRMED names: used as they are.
--   * dbo.PATIENTS, dbo.CLIENTS, dbo.SPECIES, dbo.BREEDS, dbo.APPT_STATUS and the columns read from
--     them are NOT confirmed. Each is named exactly ONCE, in the "SITE: CONFIRM" section right below,
--     each column on a line of its own: if your database spells one differently, change that line
--     (the part before AS), nothing else.
--   * Which appointments are imaging, for which modality, and in which unit each species' weight is
--     kept, are decided by three small tables the site fills (vetmwl.impromed_imaging,
--     vetmwl.impromed_weight_unit, vetmwl.impromed_skipped_status), not by code.

CREATE SCHEMA vetmwl AUTHORIZATION dbo;
GO

-- =================================================================================================
-- SITE: CONFIRM. The unconfirmed ImproMed names, one per line. Fix a line (left of AS), not the view.
-- =================================================================================================

CREATE OR ALTER VIEW vetmwl.impromed_patient AS
SELECT
    p.PATIENT_GUID          AS PatientGuid,      -- key; APPT_M.PATIENT_GUID points here
    p.CLIENT_GUID           AS ClientGuid,       -- the owner (CLIENTS)
    p.SPECIES_GUID          AS SpeciesGuid,
    p.BREED_GUID            AS BreedGuid,
    p.PATIENT_ACCOUNT_ID    AS AccountId,        -- the patient number the practice uses
    p.PATIENT_NAME          AS PetName,
    p.SEX                   AS SexCode,          -- matches HD_SEX.SEX
    p.BIRTHDATE             AS BirthDate,
    p.WEIGHT                AS Weight,           -- float, in the species' unit (SPECIES.WEIGHT_UNIT)
    p.AVID_CHIP_NUM         AS Microchip,
    p.MICROCHIP_MANUFACTURER1 AS MicrochipIssuer,
    p.MEDICAL_ALERT         AS MedicalAlert,
    p.ACTIVE                AS Active,           -- bit: 0 = inactive
    p.DELETED               AS Deleted,          -- bit
    p.DECEASED_DATE         AS DeceasedDate,     -- NULL while alive
    p.PRACTICE_VID          AS PracticeVid
FROM dbo.PATIENTS AS p;
GO

CREATE OR ALTER VIEW vetmwl.impromed_client AS
SELECT
    c.CLIENT_GUID           AS ClientGuid,
    c.FIRST_NAME            AS FirstName,
    c.LAST_NAME             AS LastName,         -- the family name in Owner^Pet
    c.DELETED               AS Deleted
FROM dbo.CLIENTS AS c;
GO

CREATE OR ALTER VIEW vetmwl.impromed_species AS
SELECT
    s.SPECIES_GUID          AS SpeciesGuid,
    s.SPECIES_NAME          AS SpeciesName,
    s.WEIGHT_UNIT           AS WeightUnit        -- smallint code, see vetmwl.impromed_weight_unit
FROM dbo.SPECIES AS s;
GO

CREATE OR ALTER VIEW vetmwl.impromed_breed AS
SELECT
    b.BREED_GUID            AS BreedGuid,
    b.BREED_NAME            AS BreedName
FROM dbo.BREEDS AS b;
GO

CREATE OR ALTER VIEW vetmwl.impromed_status AS
SELECT
    st.STATUS_GUID          AS StatusGuid,       -- APPT_M.STATUS_GUID points here
    st.NAME                 AS StatusName
FROM dbo.APPT_STATUS AS st;
GO

-- =================================================================================================
-- SITE: FILL. What is imaging, in which unit weights are kept, which statuses never reach a device.
-- =================================================================================================

-- One row per rule: appointments of this practice (APPT_M.PRACTICE_VID) and of this type
-- (APPT_M.TYPE) and/or on this resource (APPT_M.RESOURCE_GUID, the room or the device) are imaging,
-- for this modality and station. A NULL type or resource means "any". An appointment that no rule
-- matches never reaches the worklist; rules must not overlap: an appointment two rules match would
-- appear twice with one SPS ID (python -m vetmwl.tools.check says so).
-- The practice column is how a database of several practices serves only its own: list only yours.
IF OBJECT_ID(N'vetmwl.impromed_imaging', N'U') IS NULL
CREATE TABLE vetmwl.impromed_imaging (
    RuleId                  INT NOT NULL PRIMARY KEY,
    PracticeVid             SMALLINT NOT NULL,
    ApptType                SMALLINT NULL,
    ResourceGuid            UNIQUEIDENTIFIER NULL,
    Modality                NVARCHAR(16) NOT NULL,   -- DX, CR, US, CT, MR, ...
    ScheduledStationAETitle NVARCHAR(16) NULL,       -- the AE title the device queries with
    ScheduledStationName    NVARCHAR(16) NULL,
    ProcedureDescription    NVARCHAR(64) NULL,       -- what the device shows as the procedure
    CONSTRAINT impromed_imaging_says_what CHECK (ApptType IS NOT NULL OR ResourceGuid IS NOT NULL)
);
GO

-- ImproMed keeps each patient's weight in its species' unit (SPECIES.WEIGHT_UNIT); DICOM wants kg.
-- The codes are not published: the two rows below are a guess TO CONFIRM. "python -m vetmwl.tools.check"
-- lists the weights it sends per species; a cat of 10 kg or more means a code here is wrong. A species
-- whose code is not listed is sent without a weight (never a wrong one).
IF OBJECT_ID(N'vetmwl.impromed_weight_unit', N'U') IS NULL
CREATE TABLE vetmwl.impromed_weight_unit (
    WeightUnit              SMALLINT NOT NULL PRIMARY KEY,
    UnitName                NVARCHAR(16) NOT NULL,
    KgPerUnit               DECIMAL(12, 9) NOT NULL
);
GO

INSERT INTO vetmwl.impromed_weight_unit (WeightUnit, UnitName, KgPerUnit)
SELECT v.WeightUnit, v.UnitName, v.KgPerUnit
FROM (VALUES (0, N'lb', 0.453592370), (1, N'kg', 1.000000000)) AS v (WeightUnit, UnitName, KgPerUnit)
WHERE NOT EXISTS (SELECT 1 FROM vetmwl.impromed_weight_unit);
GO

-- Appointment statuses (APPT_STATUS names) that never reach a device: cancelled, no-show, and so on.
IF OBJECT_ID(N'vetmwl.impromed_skipped_status', N'U') IS NULL
CREATE TABLE vetmwl.impromed_skipped_status (
    StatusName              NVARCHAR(64) NOT NULL PRIMARY KEY
);
GO

-- =================================================================================================
-- The worklist: one row per imaging appointment, in the plugin's column contract (sql/README.md).
-- Nothing below names an unconfirmed ImproMed table or column.
-- =================================================================================================

CREATE OR ALTER VIEW vetmwl.worklist AS
SELECT
    -- SPS ID, Requested Procedure ID and Accession Number (SH, 16 characters at most): the first 16
    -- hex digits of the appointment's GUID. So the rules of vetmwl.impromed_imaging must not overlap.
    UPPER(LEFT(REPLACE(CAST(a.APPT_GUID AS NVARCHAR(36)), N'-', N''), 16))  AS ScheduledProcedureStepID,
    UPPER(LEFT(REPLACE(CAST(a.APPT_GUID AS NVARCHAR(36)), N'-', N''), 16))  AS RequestedProcedureID,
    UPPER(LEFT(REPLACE(CAST(a.APPT_GUID AS NVARCHAR(36)), N'-', N''), 16))  AS AccessionNumber,
    -- Clinic-local start, left as it is so that the plugin's date filter uses APPT_M's index.
    a.START_TIME                                                            AS ScheduledProcedureStepStartDateTime,
    m.Modality                                                              AS Modality,
    m.ScheduledStationAETitle                                               AS ScheduledStationAETitle,
    m.ScheduledStationName                                                  AS ScheduledStationName,
    m.ProcedureDescription                                                  AS ScheduledProcedureStepDescription,
    m.ProcedureDescription                                                  AS RequestedProcedureDescription,
    m.ProcedureDescription                                                  AS StudyDescription,
    CAST(LEFT(a.NOTES, 1024) AS NVARCHAR(1024))                             AS CommentsOnTheScheduledProcedureStep,
    -- The animal: Owner^Pet (PS3.5 6.2.1.1, veterinary use), the owner's family name first.
    CONCAT(LTRIM(RTRIM(c.LastName)), N'^', LTRIM(RTRIM(p.PetName)))         AS PatientName,
    COALESCE(NULLIF(LTRIM(RTRIM(p.AccountId)), N''), CAST(p.PatientGuid AS NVARCHAR(36)))
                                                                            AS PatientID,
    CAST(p.BirthDate AS DATE)                                               AS PatientBirthDate,
    CASE
        WHEN sx.HD_SEX_GUID IS NULL THEN NULL
        WHEN UPPER(LTRIM(RTRIM(sx.SEX))) IN (N'U', N'UNK', N'UNKNOWN') THEN N'O'
        WHEN sx.MALE = 1 THEN N'M'
        ELSE N'F'
    END                                                                     AS PatientSex,
    CASE WHEN sx.NEUTERED = 1 THEN N'ALTERED' WHEN sx.NEUTERED = 0 THEN N'UNALTERED' END
                                                                            AS PatientSexNeutered,
    -- Kilograms from the species' unit; 0 is "not weighed"; an unknown unit gives no weight, and so
    -- does a typo beyond DECIMAL(8, 3) (100 t), which would otherwise fail every C-FIND (Msg 8115).
    CASE WHEN p.Weight > 0 AND p.Weight * u.KgPerUnit < 100000
         THEN CAST(p.Weight * u.KgPerUnit AS DECIMAL(8, 3)) END             AS PatientWeight,
    CAST(LTRIM(RTRIM(s.SpeciesName)) AS NVARCHAR(64))                       AS PatientSpeciesDescription,
    CAST(LTRIM(RTRIM(b.BreedName)) AS NVARCHAR(64))                         AS PatientBreedDescription,
    CONCAT(LTRIM(RTRIM(c.LastName)), N'^', LTRIM(RTRIM(c.FirstName)))       AS ResponsiblePerson,
    N'OWNER'                                                                AS ResponsiblePersonRole,
    CAST(LEFT(LTRIM(RTRIM(p.MedicalAlert)), 64) AS NVARCHAR(64))            AS MedicalAlerts,
    -- The microchip as an Other Patient ID of type RFID (DICOM JSON, one item), its maker as issuer.
    CASE WHEN NULLIF(LTRIM(RTRIM(p.Microchip)), N'') IS NOT NULL THEN CONCAT(
        N'[{"00100020":{"vr":"LO","Value":["',
        REPLACE(REPLACE(LTRIM(RTRIM(p.Microchip)), N'\', N'\\'), N'"', N'\"'),
        N'"]}',
        CASE WHEN NULLIF(LTRIM(RTRIM(p.MicrochipIssuer)), N'') IS NOT NULL THEN CONCAT(
            N',"00100021":{"vr":"LO","Value":["',
            REPLACE(REPLACE(LTRIM(RTRIM(p.MicrochipIssuer)), N'\', N'\\'), N'"', N'\"'),
            N'"]}') END,
        N',"00100022":{"vr":"CS","Value":["RFID"]}}]') END                 AS OtherPatientIDsSequence
FROM dbo.APPT_M AS a
JOIN vetmwl.impromed_imaging AS m
  ON m.PracticeVid = a.PRACTICE_VID
 AND (m.ApptType IS NULL OR m.ApptType = a.TYPE)
 AND (m.ResourceGuid IS NULL OR m.ResourceGuid = a.RESOURCE_GUID)
JOIN vetmwl.impromed_patient AS p ON p.PatientGuid = a.PATIENT_GUID
JOIN vetmwl.impromed_client AS c ON c.ClientGuid = p.ClientGuid
LEFT JOIN vetmwl.impromed_species AS s ON s.SpeciesGuid = p.SpeciesGuid
LEFT JOIN vetmwl.impromed_breed AS b ON b.BreedGuid = p.BreedGuid
LEFT JOIN vetmwl.impromed_weight_unit AS u ON u.WeightUnit = s.WeightUnit
LEFT JOIN dbo.HD_SEX AS sx ON sx.SEX = p.SexCode
LEFT JOIN vetmwl.impromed_status AS st ON st.StatusGuid = a.STATUS_GUID
-- A window of dates keeps every query small: devices ask for today, rarely the past week.
WHERE a.START_TIME >= DATEADD(DAY, -7, CAST(GETDATE() AS DATE))
  AND a.DELETED = 0
  AND p.Deleted = 0
  AND p.Active = 1
  AND p.DeceasedDate IS NULL
  AND c.Deleted = 0
  AND NOT EXISTS (SELECT 1 FROM vetmwl.impromed_skipped_status AS k WHERE k.StatusName = st.StatusName);
GO
