-- An example worklist view over an Impromed database: a TEMPLATE to adapt, not a working view.
--
-- No public document describes Impromed's tables, so EVERY identifier that starts with "site_"
-- is a placeholder for a table or column of your own database: find the real names first, as
-- docs/impromed.md explains, replace each placeholder, and delete the lines of optional columns
-- you have no source for. The aliases (AS ScheduledProcedureStepID, ...) are the plugin's column
-- contract (sql/README.md): keep them as they are.
--
-- Our objects live in their own schema, vetmwl, so they are never mistaken for the vendor's.
-- Run the batches one by one in SQL Server Management Studio, or with sqlcmd -i, in the practice
-- database, as its owner (dbo), so that the view may read the vendor's tables (ownership chaining).

CREATE SCHEMA vetmwl AUTHORIZATION dbo;
GO

-- Which kinds of appointment (or invoice item) are imaging, and on which device. Fill it with the
-- practice's own codes; an appointment whose code is not here never reaches the worklist.
CREATE TABLE vetmwl.modality_map (
    SourceCode              NVARCHAR(64) NOT NULL PRIMARY KEY,  -- the code as the practice database stores it
    Modality                NVARCHAR(16) NOT NULL,              -- DX, CR, US, CT, MR, ...
    ScheduledStationAETitle NVARCHAR(16) NULL,                  -- the AE title the device queries with
    ScheduledStationName    NVARCHAR(16) NULL
);
GO

INSERT INTO vetmwl.modality_map (SourceCode, Modality, ScheduledStationAETitle, ScheduledStationName) VALUES
    (N'site_code_for_radiographs', N'DX', N'DX_ROOM1', N'DR Room 1'),
    (N'site_code_for_dental_xray', N'CR', N'CR_ROOM2', N'CR Room 2'),
    (N'site_code_for_ultrasound', N'US', N'US_ROOM1', N'Ultrasound 1');
GO

CREATE OR ALTER VIEW vetmwl.worklist AS
SELECT
    -- One row per procedure to perform (Scheduled Procedure Step). The ID is unique and at most
    -- 16 characters; if one appointment can hold several imaging items, add the item's number.
    CAST(a.site_appointment_id AS NVARCHAR(16))                  AS ScheduledProcedureStepID,
    -- Clinic-local date and time, as the practice software shows it. Leave a DATETIME column as
    -- it is: a CAST would keep the plugin's date filter off the column's index. (Date and time in
    -- two columns: see docs/impromed.md.)
    a.site_start                                                 AS ScheduledProcedureStepStartDateTime,
    m.Modality                                                   AS Modality,
    m.ScheduledStationAETitle                                    AS ScheduledStationAETitle,
    m.ScheduledStationName                                       AS ScheduledStationName,
    CAST(a.site_reason AS NVARCHAR(64))                          AS ScheduledProcedureStepDescription,
    CAST(a.site_reason AS NVARCHAR(64))                          AS RequestedProcedureDescription,
    CAST(a.site_invoice_number AS NVARCHAR(16))                  AS AccessionNumber,
    -- The animal is the patient: Owner^Pet (DICOM PS3.5 6.2.1.1), the owner's family name first.
    CONCAT(c.site_owner_last_name, N'^', p.site_pet_name)        AS PatientName,
    CAST(p.site_patient_id AS NVARCHAR(64))                      AS PatientID,
    CAST(p.site_birth_date AS DATE)                              AS PatientBirthDate,
    CASE p.site_sex WHEN N'M' THEN N'M' WHEN N'F' THEN N'F' ELSE N'O' END AS PatientSex,
    CASE p.site_neutered WHEN 1 THEN N'ALTERED' WHEN 0 THEN N'UNALTERED' END AS PatientSexNeutered,
    -- DICOM wants kilograms; this converts a weight kept in pounds.
    CAST(p.site_weight_lb * 0.45359237 AS DECIMAL(8, 3))        AS PatientWeight,
    CAST(p.site_species AS NVARCHAR(64))                         AS PatientSpeciesDescription,
    CAST(p.site_breed AS NVARCHAR(64))                           AS PatientBreedDescription,
    CONCAT(c.site_owner_last_name, N'^', c.site_owner_first_name) AS ResponsiblePerson,
    CONCAT(d.site_doctor_last_name, N'^', d.site_doctor_first_name) AS ReferringPhysicianName
FROM dbo.site_appointment AS a
JOIN vetmwl.modality_map AS m ON m.SourceCode = a.site_appointment_type
JOIN dbo.site_patient AS p ON p.site_patient_id = a.site_patient_id
JOIN dbo.site_client AS c ON c.site_client_id = p.site_client_id
LEFT JOIN dbo.site_doctor AS d ON d.site_doctor_id = a.site_doctor_id
-- A window of dates keeps every query small; modalities ask for today, rarely the past week.
WHERE a.site_start >= DATEADD(DAY, -7, CAST(SYSDATETIME() AS DATE))
  AND a.site_cancelled = 0;
GO
